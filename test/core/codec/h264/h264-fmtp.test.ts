/**
 * parseH264Fmtp (RFC 6184 8.1/8.2.1). The real ffmpeg SDP is checked in rtp-h264-depacketizer-capture.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { MAX_SPROP_PARAMETER_SETS_LENGTH, parseH264Fmtp } from '../../../../core/codec/h264/h264-fmtp.ts';

const SPS = Buffer.from('6742c00dd90141fb011000000300100000030320f142a480', 'hex');
const PPS = Buffer.from('68cb83cb20', 'hex');
const SEI = Buffer.from('06050102', 'hex');

test('sprop-parameter-sets: first SPS and first PPS, in any order, other NAL types skipped', () => {
  const other = Buffer.from('6764001fac', 'hex');
  const f = parseH264Fmtp(new Map([
    ['Packetization-Mode', '1'],
    ['profile-level-id', '42C00D'],
    ['sprop-parameter-sets', ` ${SEI.toString('base64')},${PPS.toString('base64')},${SPS.toString('base64')},${other.toString('base64')}, `],
  ]));
  assert.deepEqual(f, { packetizationMode: 1, sps: SPS, pps: PPS, profileLevelId: '42C00D' });
});

test('defaults: packetization-mode 0, no parameter sets; unpadded base64 accepted; bad profile-level-id ignored', () => {
  assert.deepEqual(parseH264Fmtp(new Map()), { packetizationMode: 0 });
  const unpadded = PPS.toString('base64').replace(/=+$/, '');
  assert.deepEqual(parseH264Fmtp(new Map([['sprop-parameter-sets', unpadded], ['profile-level-id', 'xyz']])), { packetizationMode: 0, pps: PPS });
  assert.equal(parseH264Fmtp(new Map([['packetization-mode', '2']])).packetizationMode, 2);
});

test('errors: bad base64, oversized list, bad packetization-mode → GatewayError(H264Nalu)', () => {
  for (const [k, v] of [
    ['sprop-parameter-sets', 'Z0LADdk!,aMuDyyA='],
    ['sprop-parameter-sets', 'Z'],
    ['sprop-parameter-sets', 'A'.repeat(MAX_SPROP_PARAMETER_SETS_LENGTH + 4)],
    ['packetization-mode', '3'],
    ['packetization-mode', 'one'],
  ] as const) {
    assert.throws(() => parseH264Fmtp(new Map([[k, v]])), (e: unknown) => e instanceof GatewayError && e.code === ErrorCode.H264Nalu, `${k}=${v.slice(0, 20)}`);
  }
});

test('fast-check: arbitrary values never throw anything but GatewayError', () => {
  fc.assert(fc.property(fc.constantFrom('sprop-parameter-sets', 'packetization-mode', 'profile-level-id', 'x'), fc.string({ maxLength: 80 }), (k, v) => {
    try {
      parseH264Fmtp(new Map([[k, v]]));
    } catch (e) {
      assert.ok(e instanceof GatewayError);
    }
  }), { numRuns: 500, seed: 6184 });
});
