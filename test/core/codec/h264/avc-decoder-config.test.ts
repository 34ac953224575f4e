import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildAvcDecoderConfigurationRecord, parseAvcDecoderConfigurationRecord } from '../../../../core/codec/h264/avc-decoder-config.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { AVCC_X264_HIGH_1080P, AVCC_X264_MAIN_720P, hex, SPS_VECTORS } from '../../../helpers/vectors.ts';

const byLabel = (s: string) => SPS_VECTORS.find((v) => v.label.includes(s))!;

test('build produces the same bytes as ffmpeg (High 1080p with the chroma/bit-depth extension, Main 720p without)', () => {
  const high = byLabel('High 1920x1080');
  assert.equal(buildAvcDecoderConfigurationRecord([hex(high.sps)], [hex(high.pps)]).toString('hex'), AVCC_X264_HIGH_1080P);
  const main = byLabel('Main 1280x720');
  assert.equal(buildAvcDecoderConfigurationRecord([hex(main.sps)], [hex(main.pps)]).toString('hex'), AVCC_X264_MAIN_720P);
});

test('High 10 record carries bit_depth_luma_minus8 = 2', () => {
  const v = byLabel('High 10');
  const rec = buildAvcDecoderConfigurationRecord([hex(v.sps)], [hex(v.pps)]);
  assert.deepEqual(Array.from(rec.subarray(rec.length - 4)), [0xfd, 0xfa, 0xfa, 0x00]);
});

test('parse reads ffmpeg records; build → parse round trip with several parameter sets', () => {
  const r = parseAvcDecoderConfigurationRecord(hex(AVCC_X264_HIGH_1080P));
  assert.equal(r.profileIdc, 100);
  assert.equal(r.profileCompatibility, 0);
  assert.equal(r.levelIdc, 42);
  assert.equal(r.lengthSizeMinusOne, 3);
  assert.deepEqual(r.spsList.map((s) => Buffer.from(s).toString('hex')), [byLabel('High 1920x1080').sps]);
  assert.deepEqual(r.ppsList.map((s) => Buffer.from(s).toString('hex')), [byLabel('High 1920x1080').pps]);

  const main = byLabel('Main 1280x720');
  const pps2 = hex('68ee3c80');
  const rec = buildAvcDecoderConfigurationRecord([hex(main.sps)], [hex(main.pps), pps2]);
  const back = parseAvcDecoderConfigurationRecord(rec);
  assert.equal(back.profileCompatibility, 0x40);
  assert.deepEqual(back.ppsList.map((p) => Buffer.from(p).toString('hex')), [main.pps, '68ee3c80']);
});

test('build rejects empty or oversized lists with GatewayError(AvcConfig)', () => {
  const v = SPS_VECTORS[0];
  assert.throws(() => buildAvcDecoderConfigurationRecord([], [hex(v.pps)]), (e) => isGatewayError(e, ErrorCode.AvcConfig));
  assert.throws(() => buildAvcDecoderConfigurationRecord([hex(v.sps)], []), (e) => isGatewayError(e, ErrorCode.AvcConfig));
  assert.throws(() => buildAvcDecoderConfigurationRecord([hex(v.sps)], [new Uint8Array(0x10000)]), (e) => isGatewayError(e, ErrorCode.AvcConfig));
  assert.throws(() => buildAvcDecoderConfigurationRecord(Array(32).fill(hex(v.sps)), [hex(v.pps)]), (e) => isGatewayError(e, ErrorCode.AvcConfig));
});

test('parse rejects a wrong version, 3-byte lengths and every truncation', () => {
  const good = hex(AVCC_X264_MAIN_720P);
  const badVersion = Buffer.from(good);
  badVersion[0] = 2;
  assert.throws(() => parseAvcDecoderConfigurationRecord(badVersion), (e) => isGatewayError(e, ErrorCode.AvcConfig));
  const threeByte = Buffer.from(good);
  threeByte[4] = 0xfe;
  assert.throws(() => parseAvcDecoderConfigurationRecord(threeByte), (e) => isGatewayError(e, ErrorCode.AvcConfig));
  for (let len = 0; len < good.length; len++) {
    assert.throws(() => parseAvcDecoderConfigurationRecord(good.subarray(0, len)), (e) => isGatewayError(e, ErrorCode.AvcConfig), `cut at ${len}`);
  }
});

test('fuzz: parse never throws anything but GatewayError(AvcConfig) and never mutates its input', () => {
  const seed = hex(AVCC_X264_HIGH_1080P);
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }).map((edits) => {
      const b = Uint8Array.from(seed);
      for (const [p, v] of edits) b[p % b.length] = v;
      return b;
    })), (b) => {
      const before = Uint8Array.from(b);
      try {
        parseAvcDecoderConfigurationRecord(b);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.AvcConfig), String(e));
      }
      assert.deepEqual(b, before);
    }),
    { numRuns: 500 },
  );
});
