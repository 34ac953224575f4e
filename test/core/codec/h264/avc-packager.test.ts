import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AvcPackager, MAX_NALUS_PER_AU } from '../../../../core/codec/h264/avc-packager.ts';
import { parseAvcDecoderConfigurationRecord } from '../../../../core/codec/h264/avc-decoder-config.ts';
import { splitAvcc } from '../../../../core/codec/h264/nalu.ts';
import { readVideoTagHeader } from '../../../../core/protocol/flv/flv-tag.ts';
import { isGatewayError } from '../../../../core/errors.ts';
import { MessageType } from '../../../../core/media/message.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { hex, SPS_VECTORS } from '../../../helpers/vectors.ts';

const V720 = SPS_VECTORS.find((v) => v.label.includes('Main 1280x720'))!;
const V1080 = SPS_VECTORS.find((v) => v.label.includes('High 1920x1080'))!;
const SPS = hex(V720.sps);
const PPS = hex(V720.pps);
const AUD = Uint8Array.of(0x09, 0xf0); // access_unit_delimiter, primary_pic_type 7
const SEI = Uint8Array.of(0x06, 0x05, 0x01, 0xaa, 0x80); // user_data_unregistered stub
const IDR = Uint8Array.of(0x65, 0x88, 0x84, 0x00, 0x33); // coded slice of an IDR picture
const SLICE = Uint8Array.of(0x41, 0x9a, 0x02, 0x04); // coded slice of a non-IDR picture
const FILLER = Uint8Array.of(0x0c, 0xff, 0xff, 0x80);

/** Hex snapshot of a NALU list (compares Buffers and Uint8Arrays alike). */
const snap = (au: readonly Uint8Array[]) => au.map((n) => Buffer.from(n).toString('hex'));
const naluHex = (m: RtmpMessage) => splitAvcc(m.payload.subarray(5), 4).map((n) => Buffer.from(n).toString('hex'));

test('first IDR AU with in-band SPS/PPS → video-config then keyframe; AUD dropped, SEI kept', () => {
  const p = new AvcPackager();
  const au = [AUD, SPS, PPS, SEI, IDR];
  const snapshot = snap(au);
  const out = p.packAccessUnit(au, 900_000 + 6006, 900_000);
  assert.deepEqual(snap(au), snapshot, 'input integrity');
  assert.equal(out.length, 2);
  const [config, frame] = out;
  assert.equal(config.kind, 'video-config');
  assert.equal(config.type, MessageType.Video);
  assert.equal(config.timestamp, 10_000);
  assert.deepEqual(Array.from(config.payload.subarray(0, 5)), [0x17, 0x00, 0, 0, 0]);
  const rec = parseAvcDecoderConfigurationRecord(config.payload.subarray(5));
  assert.equal(rec.profileIdc, 77);
  assert.equal(rec.lengthSizeMinusOne, 3);
  assert.deepEqual(Buffer.from(rec.spsList[0]), SPS);
  assert.deepEqual(Buffer.from(rec.ppsList[0]), PPS);

  assert.equal(frame.kind, 'keyframe');
  assert.equal(frame.timestamp, 10_000, 'timestamp = DTS in ms');
  assert.deepEqual(readVideoTagHeader(frame.payload), { isExHeader: false, frameType: 1, codecId: 7, avcPacketType: 1, compositionTime: 67, headerLength: 5 });
  assert.deepEqual(naluHex(frame), [Buffer.from(SEI).toString('hex'), Buffer.from(IDR).toString('hex')]);
  assert.equal(frame.payload.length, 5 + 4 + SEI.length + 4 + IDR.length, 'payload exactly filled');
  assert.equal(p.sps?.width, 1280);
  assert.equal(p.sps?.height, 720);
  assert.equal(p.sps?.fps, 30);
});

test('repeated identical SPS/PPS do not repeat the config; non-IDR AU → FrameType 2', () => {
  const p = new AvcPackager();
  p.packAccessUnit([SPS, PPS, IDR], 0, 0);
  const again = p.packAccessUnit([AUD, SPS, PPS, IDR], 3003 * 2, 3003 * 2);
  assert.deepEqual(again.map((m) => m.kind), ['keyframe']);
  const inter = p.packAccessUnit([AUD, SLICE], 3003 * 3, 3003 * 3);
  assert.deepEqual(inter.map((m) => m.kind), ['interframe']);
  assert.equal(inter[0].payload[0], 0x27);
});

test('SPS change mid-stream → a second video-config before the frame', () => {
  const p = new AvcPackager();
  p.packAccessUnit([SPS, PPS, IDR], 0, 0);
  const out = p.packAccessUnit([hex(V1080.sps), hex(V1080.pps), IDR], 90_000, 90_000);
  assert.deepEqual(out.map((m) => m.kind), ['video-config', 'keyframe']);
  const rec = parseAvcDecoderConfigurationRecord(out[0].payload.subarray(5));
  assert.equal(rec.profileIdc, 100);
  assert.deepEqual(Buffer.from(rec.spsList[0]).toString('hex'), V1080.sps);
  assert.deepEqual(Buffer.from(rec.ppsList[0]).toString('hex'), V1080.pps);
  assert.equal(p.sps?.width, 1920);
  assert.equal(p.sps?.height, 1080);
});

test('a PPS-only change also yields a new config; two PPS ids are both kept', () => {
  const p = new AvcPackager();
  p.packAccessUnit([SPS, PPS, IDR], 0, 0);
  const pps1 = Uint8Array.of(0x68, 0x5e, 0x3c, 0x80); // pic_parameter_set_id 1 ('010'), sps id 0
  const out = p.packAccessUnit([pps1, SLICE], 3003, 3003);
  assert.deepEqual(out.map((m) => m.kind), ['video-config', 'interframe']);
  const rec = parseAvcDecoderConfigurationRecord(out[0].payload.subarray(5));
  assert.deepEqual(rec.ppsList.map((x) => Buffer.from(x).toString('hex')), [V720.pps, '685e3c80']);
});

test('B-frame: PTS > DTS → positive CTS; PTS < DTS (bad source) → negative SI24; negative DTS clamped to 0', () => {
  const p = new AvcPackager();
  p.packAccessUnit([SPS, PPS, IDR], 0, 0);
  const b = p.packAccessUnit([SLICE], 9009, 3003)[0];
  assert.equal(b.timestamp, 33);
  assert.equal(readVideoTagHeader(b.payload).compositionTime, 67); // 100 − 33 ms
  const neg = p.packAccessUnit([SLICE], 3003, 9009)[0];
  assert.deepEqual(Array.from(neg.payload.subarray(2, 5)), [0xff, 0xff, 0xbd]); // −67 as SI24
  assert.equal(readVideoTagHeader(neg.payload).compositionTime, -67);
  const early = p.packAccessUnit([SLICE], 0, -9000)[0];
  assert.equal(early.timestamp, 0);
});

test('no frame before SPS+PPS: [] and counted; an AU with only parameter sets returns only the config', () => {
  const p = new AvcPackager();
  assert.deepEqual(p.packAccessUnit([SLICE], 0, 0), []);
  assert.deepEqual(p.packAccessUnit([SPS, IDR], 0, 0), [], 'SPS without PPS');
  assert.equal(p.droppedBeforeConfig, 2);
  const cfg = p.packAccessUnit([AUD, PPS], 3003, 3003);
  assert.deepEqual(cfg.map((m) => m.kind), ['video-config']);
  assert.deepEqual(p.packAccessUnit([AUD, FILLER], 6006, 6006), [], 'no VCL: nothing');
  assert.deepEqual(p.packAccessUnit([IDR, FILLER, Uint8Array.of()], 9009, 9009).map((m) => m.kind), ['keyframe']);
});

test('setParameterSets primes the config (SDP sprop-parameter-sets)', () => {
  const p = new AvcPackager();
  p.setParameterSets(SPS, PPS);
  assert.equal(p.sps?.profileIdc, 77);
  const out = p.packAccessUnit([IDR], 0, 0);
  assert.deepEqual(out.map((m) => m.kind), ['video-config', 'keyframe']);
  assert.throws(() => new AvcPackager().setParameterSets(hex('6764'), PPS), (e) => isGatewayError(e));
  assert.throws(() => new AvcPackager().setParameterSets(SPS, Uint8Array.of(0x68)), (e) => isGatewayError(e));
});

test('a corrupt SPS is counted and ignored (the last good config stays)', () => {
  const p = new AvcPackager();
  p.packAccessUnit([SPS, PPS, IDR], 0, 0);
  const out = p.packAccessUnit([Uint8Array.of(0x67, 0x4d), SLICE], 3003, 3003);
  assert.deepEqual(out.map((m) => m.kind), ['interframe']);
  assert.equal(p.errors, 1);
  assert.equal(p.sps?.width, 1280);
});

test('an AU with more than MAX_NALUS_PER_AU NALUs is dropped and counted', () => {
  const p = new AvcPackager();
  p.packAccessUnit([SPS, PPS, IDR], 0, 0);
  assert.deepEqual(p.packAccessUnit(Array(MAX_NALUS_PER_AU + 1).fill(SLICE), 3003, 3003), []);
  assert.equal(p.errors, 1);
});

test('the payload owns its bytes: later changes to the input do not leak into the message', () => {
  const p = new AvcPackager();
  const chunk = Uint8Array.from([...SPS, ...PPS, ...IDR]);
  const views = [chunk.subarray(0, SPS.length), chunk.subarray(SPS.length, SPS.length + PPS.length), chunk.subarray(SPS.length + PPS.length)];
  const [config, frame] = p.packAccessUnit(views, 0, 0);
  const frameCopy = Buffer.from(frame.payload);
  const configCopy = Buffer.from(config.payload);
  chunk.fill(0);
  assert.deepEqual(frame.payload, frameCopy);
  assert.deepEqual(config.payload, configCopy);
  assert.notEqual(frame.payload.buffer, chunk.buffer);
});

test('fuzz: arbitrary NALU lists never throw and never mutate the input', () => {
  const nalu = fc.oneof(
    fc.uint8Array({ maxLength: 30 }),
    fc.constantFrom(SPS, PPS, IDR, SLICE, AUD, SEI, hex(V1080.sps)),
    fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => Uint8Array.of(0x67, ...b)),
    fc.uint8Array({ minLength: 0, maxLength: 6 }).map((b) => Uint8Array.of(0x68, ...b)),
  );
  fc.assert(
    fc.property(fc.array(fc.array(nalu, { maxLength: 6 }), { maxLength: 6 }), fc.integer({ min: -90_000, max: 2 ** 34 }), (aus, pts) => {
      const p = new AvcPackager();
      for (const au of aus) {
        const snapshot = snap(au);
        for (const m of p.packAccessUnit(au, pts + 3003, pts)) {
          assert.ok(m.timestamp >= 0);
          assert.ok(m.kind === 'video-config' || m.kind === 'keyframe' || m.kind === 'interframe');
          if (m.kind !== 'video-config') splitAvcc(m.payload.subarray(5), 4);
        }
        assert.deepEqual(snap(au), snapshot);
      }
    }),
    { numRuns: 300 },
  );
});
