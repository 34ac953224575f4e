import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { flvSoundRateForMp3, MpegAudioPackager, parseMpegAudioHeader } from '../../../core/codec/mpeg-audio.ts';
import { readAudioTagHeader } from '../../../core/protocol/flv/flv-tag.ts';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import { hex, MP3_VECTORS } from '../../helpers/vectors.ts';

for (const v of MP3_VECTORS) {
  test(`parseMpegAudioHeader: ${v.label}`, () => {
    const h = parseMpegAudioHeader(hex(v.header), 0);
    assert.deepEqual(h, {
      version: v.version, layer: v.layer, bitrateKbps: v.bitrateKbps, sampleRate: v.sampleRate, channels: v.channels,
      frameLength: v.frameLength, samplesPerFrame: v.samplesPerFrame, padding: false,
    });
  });
}

test('padding, Layer I/II sizes, MPEG-2.5', () => {
  // MPEG-1 Layer III 128k 44.1k with padding_bit: 418 bytes (ffprobe's second packet)
  assert.equal(parseMpegAudioHeader(Uint8Array.of(0xff, 0xfb, 0x92, 0x64), 0)?.frameLength, 418);
  // MPEG-1 Layer II (layer bits 10) 192k 48k: 144 · 192000 / 48000 = 576
  const l2 = parseMpegAudioHeader(Uint8Array.of(0xff, 0xfd, 0xa4, 0x00), 0)!;
  assert.deepEqual([l2.layer, l2.bitrateKbps, l2.frameLength, l2.samplesPerFrame], [2, 192, 576, 1152]);
  // MPEG-1 Layer I (layer bits 11) 384k 44.1k with padding: (12 · 384000 / 44100 + 1) · 4 = (104 + 1) · 4
  const l1 = parseMpegAudioHeader(Uint8Array.of(0xff, 0xff, 0xc2, 0x00), 0)!;
  assert.deepEqual([l1.layer, l1.bitrateKbps, l1.frameLength, l1.samplesPerFrame, l1.padding], [1, 384, 420, 384, true]);
  // MPEG-2.5 (version bits 00) Layer III 8k 32 kbit/s mono: 72 · 32000 / 8000 = 288, 576 samples
  const v25 = parseMpegAudioHeader(Uint8Array.of(0xff, 0xe3, 0x48, 0xc0), 0)!;
  assert.deepEqual([v25.version, v25.sampleRate, v25.frameLength, v25.samplesPerFrame, v25.channels], [2.5, 8000, 288, 576, 1]);
});

test('need more → undefined; bad headers → GatewayError(MpegAudioHeader)', () => {
  for (let n = 0; n < 4; n++) assert.equal(parseMpegAudioHeader(hex('fffb9064').subarray(0, n), 0), undefined);
  for (const bad of ['00', 'ff00', 'ffeb9064' /* version 01 reserved */, 'fff19064' /* ADTS: layer 00 */, 'fffb0064' /* free format */, 'fffbf064' /* bitrate 15 */, 'fffb9c64' /* sampling 3 */]) {
    assert.throws(() => parseMpegAudioHeader(hex(bad), 0), (e) => isGatewayError(e, ErrorCode.MpegAudioHeader), bad);
  }
});

test('FLV SoundRate for MP3: 44.1k→3, 22.05k→2, 11.025k→1, 48k/32k→3', () => {
  assert.deepEqual([44100, 22050, 11025, 48000, 32000, 24000, 16000, 8000].map(flvSoundRateForMp3), [3, 2, 1, 3, 3, 2, 1, 0]);
});

/** A frame: the real header + zero bytes up to frameLength. */
function frame(headerHex: string): Buffer {
  const h = parseMpegAudioHeader(hex(headerHex), 0)!;
  const b = Buffer.alloc(h.frameLength, 0x55);
  hex(headerHex).copy(b);
  return b;
}

test('packager: one message per frame, SoundFormat 2 header byte, PTS step 1152/44100 s, split frame carried', () => {
  const p = new MpegAudioPackager();
  const f = frame('fffb9064');
  const stream = Buffer.concat([f, f, f]);
  const before = Buffer.from(stream);
  const a = p.packFrames(stream.subarray(0, 600), 0);
  const b = p.packFrames(stream.subarray(600), 2 * 2351.0204);
  assert.deepEqual(stream, before, 'input integrity');
  const all = [...a, ...b];
  assert.equal(all.length, 3);
  for (const m of all) {
    assert.equal(m.kind, 'audio');
    assert.equal(m.payload[0], 0x2f); // MP3, 44 kHz, 16-bit, stereo
    assert.deepEqual(m.payload.subarray(1), f);
  }
  assert.deepEqual(all.map((m) => m.timestamp), [0, 26, 52]); // ffprobe: 0, 0.026122, 0.052245
  assert.equal(p.header?.sampleRate, 44100);
  assert.equal(p.errors, 0);
});

test('packager: 22.05 kHz mono → header byte 0x2a; 48 kHz stereo → 0x2f; garbage counted', () => {
  const p = new MpegAudioPackager();
  const mono = p.packFrames(Buffer.concat([Buffer.of(1, 2, 3), frame('fff340c4')]), 0);
  assert.equal(mono.length, 1);
  assert.deepEqual(readAudioTagHeader(mono[0].payload), { soundFormat: 2, soundRate: 2, soundSize: 1, soundType: 0, aacPacketType: undefined, headerLength: 1 });
  assert.equal(p.errors, 1);
  assert.equal(p.packFrames(frame('fffb9464'), 0)[0].payload[0], 0x2f);
});

test('fuzz: arbitrary payloads never throw and never mutate their input', () => {
  const chunk = fc.oneof(fc.constantFrom(...MP3_VECTORS.map((v) => frame(v.header))), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)));
  fc.assert(fc.property(fc.array(chunk, { maxLength: 8 }), fc.nat(3000), (chunks, cut) => {
    const stream = Buffer.concat(chunks);
    const c = cut % (stream.length + 1);
    const p = new MpegAudioPackager();
    const before = Buffer.from(stream);
    const out = [...p.packFrames(stream.subarray(0, c), 0), ...p.packFrames(stream.subarray(c), 90_000)];
    for (const m of out) assert.equal(m.payload[0] >> 4, 2);
    assert.deepEqual(stream, before);
  }), { numRuns: 300 });
});
