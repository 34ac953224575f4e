import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ntpToUnixMs, parseRtcpCompound } from '../../../../core/protocol/rtp/rtcp.ts';
import type { RtcpSenderReport } from '../../../../core/protocol/rtp/rtcp.ts';
import { RtpTimestampUnwrapper, RtpWallClock, rtpTimestampDiff } from '../../../../core/protocol/rtp/rtp-clock.ts';
import { loadCapture } from './datagrams.ts';

const M = 2 ** 32;

test('unwrapper: first value unchanged, forward across the wrap, small steps back are not wraps', () => {
  const u = new RtpTimestampUnwrapper();
  const inputs = [M - 3000, M - 1000, 500, M - 200, 1000, 2 ** 31, 3 * 2 ** 30, 10];
  const expected = [M - 3000, M - 1000, M + 500, M - 200, M + 1000, M + 2 ** 31, M + 3 * 2 ** 30, 2 * M + 10];
  assert.deepEqual(inputs.map((t) => u.unwrap(t)), expected);
});

test('unwrapper: a step back right after the first value goes negative', () => {
  const u = new RtpTimestampUnwrapper();
  assert.deepEqual([10, M - 10, 20].map((t) => u.unwrap(t)), [10, -10, 20]);
});

test('property: unwrap(x) ≡ x mod 2^32, and steps below 2^31 are kept exactly', () => {
  fc.assert(fc.property(fc.nat({ max: M - 1 }), fc.array(fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), { maxLength: 200 }), (start, steps) => {
    const u = new RtpTimestampUnwrapper();
    let raw = start;
    let prev = u.unwrap(raw);
    assert.equal(prev, start);
    for (const s of steps) {
      raw = (((raw + s) % M) + M) % M;
      const x = u.unwrap(raw);
      assert.equal(x - prev, s);
      assert.equal(((x % M) + M) % M, raw);
      prev = x;
    }
  }), { numRuns: 300 });
});

test('rtpTimestampDiff is the signed 32-bit difference', () => {
  assert.equal(rtpTimestampDiff(5, M - 5), 10);
  assert.equal(rtpTimestampDiff(M - 5, 5), -10);
  assert.equal(rtpTimestampDiff(M + 5, 5), 0);
  assert.equal(rtpTimestampDiff(2 ** 31, 0), -(2 ** 31));
});

function sr(rtpTimestamp: number, ntpSeconds: number, ntpFraction: number): RtcpSenderReport {
  return { ssrc: 1, ntpSeconds, ntpFraction, ntpUnixMs: ntpToUnixMs(ntpSeconds, ntpFraction), rtpTimestamp, packetCount: 0, octetCount: 0 };
}

test('wall clock: undefined before the first SR; mapping across an RTP wrap, raw or unwrapped', () => {
  const wall = new RtpWallClock(90000);
  assert.equal(wall.synced, false);
  assert.equal(wall.toUnixMs(0), undefined);
  const base = sr(M - 9000, 3_900_000_000, 2 ** 31); // SR 0.1 s before the RTP timestamp wraps
  wall.onSenderReport(base);
  assert.equal(wall.synced, true);
  const at = base.ntpUnixMs;
  assert.equal(wall.toUnixMs(M - 9000), at);
  assert.equal(wall.toUnixMs(81000), at + 1000, 'raw, after the wrap');
  assert.equal(wall.toUnixMs(M + 81000), at + 1000, 'unwrapped');
  assert.equal(wall.toUnixMs(M - 18000), at - 100, 'before the SR');
  assert.equal(wall.toUnixMs(-9000), at, 'negative unwrapped value');
  // a later SR replaces the mapping (sender clock drift)
  wall.onSenderReport(sr(81000, 3_900_000_001, 2 ** 31 + 2 ** 22));
  assert.ok(Math.abs(wall.toUnixMs(81000)! - (at + 1000 + (2 ** 22 / M) * 1000)) < 1e-6);
});

test('wall clock: an SR with NTP 0 ("no wallclock", RFC 3550 6.4.1) is ignored', () => {
  const wall = new RtpWallClock(8000);
  wall.onSenderReport(sr(1234, 0, 0));
  assert.equal(wall.synced, false);
});

test('wall clock on ffmpeg\'s two SRs: the first maps the second one\'s RTP time to its NTP time', () => {
  const [a, b] = loadCapture('ffmpeg-h264').rtcp.map((d) => parseRtcpCompound(d)[0]!);
  assert.ok(a?.type === 'sr' && b?.type === 'sr');
  const wall = new RtpWallClock(90000);
  wall.onSenderReport(a.report);
  assert.ok(Math.abs(wall.toUnixMs(b.report.rtpTimestamp)! - b.report.ntpUnixMs) < 0.1);
});
