/**
 * RFC 7798 7.1 fmtp: sprop-vps/sps/pps (base64, lists), sprop-max-don-diff > 0 refused, bad values refused.
 * The SDP is the one ffmpeg writes for the bframes=3 fixture (ffmpeg -i … -c copy -f rtp prints it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import { parseH265Fmtp } from '../../../../core/codec/h265/h265-fmtp.ts';
import { h265Fixture, tsAccessUnits } from '../../../helpers/rtp-h265-packetizer.ts';

function fmtpOf(line: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of line.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) map.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return map;
}

test('ffmpeg SDP: the parameter sets of the stream', () => {
  const ts = h265Fixture('h265/testsrc2-320x240-bf3-2s.ts');
  const sdp = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', ts, '-t', '0.04', '-c', 'copy', '-f', 'rtp', 'rtp://127.0.0.1:9'], { encoding: 'utf8' });
  const line = /a=fmtp:\d+ (.*)/.exec(sdp)?.[1];
  assert.ok(line, sdp);
  const fmtp = parseH265Fmtp(fmtpOf(line));
  const [, vps, sps, pps] = tsAccessUnits(ts)[0].nalus;
  assert.deepEqual(fmtp, { maxDonDiff: 0, vps: Buffer.from(vps), sps: Buffer.from(sps), pps: Buffer.from(pps) });
});

test('lists keep their first NAL unit; keys are case-insensitive; absent values are undefined', () => {
  const vps = Buffer.from('40010c01ffff01600000030090000003000003003c959409', 'hex');
  const other = Buffer.from('40010c01ffff016000000300900000030000030078959409', 'hex');
  const fmtp = parseH265Fmtp(new Map([['Sprop-VPS', `${vps.toString('base64')},${other.toString('base64')}`], ['sprop-max-don-diff', '0']]));
  assert.deepEqual(fmtp, { maxDonDiff: 0, vps });
  assert.deepEqual(parseH265Fmtp(new Map()), { maxDonDiff: 0 });
});

test('DONL (sprop-max-don-diff > 0) and bad values are refused with typed errors', () => {
  const code = (c: string) => (e: unknown): boolean => e instanceof GatewayError && e.code === c;
  assert.throws(() => parseH265Fmtp(new Map([['sprop-max-don-diff', '2']])), code('GW_ERR_RTP_UNSUPPORTED_CODEC'));
  assert.throws(() => parseH265Fmtp(new Map([['sprop-max-don-diff', '-1']])), code('GW_ERR_SDP_INVALID'));
  assert.throws(() => parseH265Fmtp(new Map([['sprop-max-don-diff', '40000']])), code('GW_ERR_SDP_INVALID'));
  assert.throws(() => parseH265Fmtp(new Map([['sprop-sps', 'not base64!']])), code('GW_ERR_SDP_INVALID'));
  assert.throws(() => parseH265Fmtp(new Map([['sprop-sps', 'QAEMAQ==']])), code('GW_ERR_SDP_INVALID'), 'a VPS in sprop-sps');
  assert.throws(() => parseH265Fmtp(new Map([['sprop-pps', 'RA==']])), code('GW_ERR_SDP_INVALID'), 'too short');
  fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.constantFrom('sprop-vps', 'sprop-sps', 'sprop-pps', 'sprop-max-don-diff'), (v, k) => {
    try {
      parseH265Fmtp(new Map([[k, v]]));
    } catch (e) {
      assert.ok(e instanceof GatewayError, String(e));
    }
  }));
});
