import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSps } from '../../../../core/codec/h264/sps.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { hex, SPS_VECTORS } from '../../../helpers/vectors.ts';

for (const v of SPS_VECTORS) {
  test(`parseSps: ${v.label}`, () => {
    const nalu = hex(v.sps);
    const before = Buffer.from(nalu);
    const info = parseSps(nalu);
    assert.equal(info.profileIdc, v.profileIdc, 'profile_idc');
    assert.equal(info.levelIdc, v.levelIdc, 'level_idc');
    assert.equal(info.width, v.width, 'width');
    assert.equal(info.height, v.height, 'height');
    assert.equal(info.chromaFormatIdc, v.chromaFormatIdc, 'chroma_format_idc');
    assert.equal(info.bitDepthLuma, v.bitDepthLuma, 'bit depth');
    assert.equal(info.frameMbsOnly, v.frameMbsOnly, 'frame_mbs_only_flag');
    assert.equal(info.fps, v.fps, 'fps');
    assert.equal(info.maxNumReorderFrames, v.maxNumReorderFrames, 'max_num_reorder_frames');
    assert.equal(info.spsId, 0);
    assert.deepEqual(nalu, before, 'input integrity');
  });
}

test('parseSps reports POC fields as trace_headers shows them', () => {
  const openh264 = parseSps(hex(SPS_VECTORS.find((v) => v.label.includes('openh264'))!.sps));
  assert.equal(openh264.pocType, 0);
  assert.equal(openh264.log2MaxFrameNum, 15); // log2_max_frame_num_minus4 = 11
  assert.equal(openh264.log2MaxPocLsb, 16); // log2_max_pic_order_cnt_lsb_minus4 = 12
  assert.equal(openh264.constraintSetFlags, 0xc0); // constraint_set0/1 → Constrained Baseline
  const baseline = parseSps(hex(SPS_VECTORS[0].sps));
  assert.equal(baseline.pocType, 2);
  assert.equal(baseline.log2MaxPocLsb, 0);
  assert.equal(baseline.log2MaxFrameNum, 4);
});

test('parseSps rejects a non-SPS NAL unit and short input with GatewayError(H264Sps)', () => {
  assert.throws(() => parseSps(hex('68ebe3cb20')), (e) => isGatewayError(e, ErrorCode.H264Sps));
  assert.throws(() => parseSps(hex('6764')), (e) => isGatewayError(e, ErrorCode.H264Sps));
  assert.throws(() => parseSps(new Uint8Array(0)), (e) => isGatewayError(e, ErrorCode.H264Sps));
});

test('parseSps: every truncation before the VUI throws GatewayError(H264Sps); inside the VUI it degrades', () => {
  for (const v of SPS_VECTORS) {
    const full = hex(v.sps);
    for (let len = 0; len < full.length; len++) {
      try {
        const info = parseSps(full.subarray(0, len));
        // Accepted only once the picture size is complete: the size must then be right.
        assert.equal(info.width, v.width, `${v.label} cut at ${len}`);
        assert.equal(info.height, v.height);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.H264Sps), `${v.label} cut at ${len}: ${String(e)}`);
      }
    }
  }
});

test('parseSps rejects out-of-range fields', () => {
  // profile 66, level 30, seq_parameter_set_id = 32 (ue '000001 00001' → 32 + 1 - 1): out of range
  assert.throws(() => parseSps(Uint8Array.of(0x67, 66, 0, 30, 0b0000_0100, 0b0001_0000, 0xff)), (e) => isGatewayError(e, ErrorCode.H264Sps));
  // pic_order_cnt_type 3 after sps_id 0 and log2_max_frame_num_minus4 0: bits 1 1 00100 → 0xE4
  assert.throws(() => parseSps(Uint8Array.of(0x67, 66, 0, 30, 0b1100_1000, 0xff, 0xff)), (e) => isGatewayError(e, ErrorCode.H264Sps));
});

test('fuzz: mutated real SPS never throws anything but GatewayError', () => {
  const seeds = SPS_VECTORS.map((v) => hex(v.sps));
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (seed, edits) => {
      const b = Uint8Array.from(seed);
      for (const [pos, val] of edits) b[1 + (pos % (b.length - 1))] = val; // keep the NAL header an SPS
      try {
        const info = parseSps(b);
        assert.ok(info.width > 0 && info.height > 0);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.H264Sps), String(e));
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (tail) => {
      try {
        parseSps(Uint8Array.of(0x67, ...tail));
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.H264Sps), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
