import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRtcpCompound } from '../../../../core/protocol/rtp/rtcp.ts';
import type { RtcpSenderReport } from '../../../../core/protocol/rtp/rtcp.ts';
import { parseRtpPacket, serializeRtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { RtpReceiverStats } from '../../../../core/protocol/rtp/rtp-receiver-stats.ts';
import { loadCapture } from './datagrams.ts';

const SSRC = 0xcafe;
function pkt(seq: number, timestamp: number, ssrc = SSRC): RtpPacket {
  return parseRtpPacket(serializeRtpPacket({ payloadType: 0, sequenceNumber: seq, timestamp: timestamp % 2 ** 32, ssrc, payload: new Uint8Array(160) }));
}
function sr(ntpSeconds: number, ntpFraction: number, ssrc = SSRC): RtcpSenderReport {
  return { ssrc, ntpSeconds, ntpFraction, ntpUnixMs: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 };
}

test('undefined before any packet', () => {
  assert.equal(new RtpReceiverStats(8000).reportBlock(0), undefined);
});

/**
 * 8 kHz audio, 20 ms packets (160 ticks). Packet 2 arrives 10 ms late (80 ticks). Hand computation (A.8):
 *   p1: D = 0 → J = 0;  p2: transit 80, D = 80 → J = 80/16 = 5;  p3: transit 0, D = 80 → J = 5 + 75/16 = 9.6875
 *   p4: D = 0 → J = 9.6875 · 15/16 = 9.08203125 → reported 9.
 */
function jitterRun(tsBase: number): number[] {
  const stats = new RtpReceiverStats(8000);
  const arrivals = [0, 20, 50, 60, 80];
  const jitters: number[] = [];
  for (const [i, at] of arrivals.entries()) {
    stats.onPacket(pkt(100 + i, tsBase + 160 * i), 1000 + at);
    jitters.push(stats.reportBlock(1000 + at)!.jitter);
  }
  return jitters;
}

test('A.8 interarrival jitter against hand-computed values', () => {
  assert.deepEqual(jitterRun(0), [0, 0, 5, 9, 9]);
});

test('A.8 jitter is unaffected by the RTP timestamp wrapping', () => {
  assert.deepEqual(jitterRun(2 ** 32 - 320), [0, 0, 5, 9, 9]);
});

test('A.3 lost and fraction lost per interval; the interval counters reset on each report', () => {
  const stats = new RtpReceiverStats(8000);
  for (let s = 0; s < 10; s++) if (s !== 3 && s !== 4) stats.onPacket(pkt(s, s * 160), s * 20);
  // expected 10, received 8: lost 2, fraction = floor(2·256/10) = 51
  assert.deepEqual(stats.reportBlock(200), {
    ssrc: SSRC, fractionLost: 51, cumulativeLost: 2, extendedHighestSeq: 9, jitter: 0, lastSr: 0, delaySinceLastSr: 0,
  });
  for (let s = 10; s < 20; s++) stats.onPacket(pkt(s, s * 160), s * 20);
  const b2 = stats.reportBlock(400)!;
  assert.equal(b2.fractionLost, 0);
  assert.equal(b2.cumulativeLost, 2);
  assert.equal(b2.extendedHighestSeq, 19);
  // 21 missing: 1 lost out of 4 expected (20..23): floor(256/4) = 64
  for (const s of [20, 22, 23]) stats.onPacket(pkt(s, s * 160), s * 20);
  assert.equal(stats.reportBlock(500)!.fractionLost, 64);
  // 25 missing: 1 lost out of 5 expected (24..28): floor(256/5) = 51
  for (const s of [24, 26, 27, 28]) stats.onPacket(pkt(s, s * 160), s * 20);
  const b4 = stats.reportBlock(600)!;
  assert.equal(b4.fractionLost, 51);
  assert.equal(b4.cumulativeLost, 4);
  // duplicates count as received (A.3): cumulative lost can fall, fraction is clamped at 0
  for (let i = 0; i < 6; i++) stats.onPacket(pkt(28, 28 * 160), 600);
  const b5 = stats.reportBlock(700)!;
  assert.equal(b5.cumulativeLost, -2);
  assert.equal(b5.fractionLost, 0);
});

test('A.1 extended highest sequence number across the 16-bit wrap', () => {
  const stats = new RtpReceiverStats(90000);
  for (let i = 0; i < 12; i++) stats.onPacket(pkt((65530 + i) & 0xffff, i * 3000), i * 33);
  const b = stats.reportBlock(500)!;
  assert.equal(b.extendedHighestSeq, 65536 + 5);
  assert.equal(b.cumulativeLost, 0);
  // reordered packet from before the wrap does not add a cycle
  stats.onPacket(pkt(65535, 5 * 3000), 600);
  assert.equal(stats.reportBlock(600)!.extendedHighestSeq, 65536 + 5);
});

test('A.1 big jump: ignored once, a second sequential packet restarts the source', () => {
  const stats = new RtpReceiverStats(90000);
  for (let s = 1000; s < 1005; s++) stats.onPacket(pkt(s, s), s);
  stats.onPacket(pkt(40000, 0), 2000);
  assert.deepEqual([stats.reportBlock(2000)!.extendedHighestSeq, stats.reportBlock(2000)!.cumulativeLost], [1004, 0]);
  stats.onPacket(pkt(40001, 3000), 2040);
  const b = stats.reportBlock(2040)!;
  assert.equal(b.extendedHighestSeq, 40001);
  assert.equal(b.cumulativeLost, 0); // base = 40001, received 1
});

test('a new SSRC restarts the statistics', () => {
  const stats = new RtpReceiverStats(90000);
  stats.onPacket(pkt(1, 0), 0);
  stats.onPacket(pkt(5, 0), 0);
  assert.equal(stats.reportBlock(0)!.cumulativeLost, 3);
  stats.onPacket(pkt(900, 0, 0xbeef), 10);
  assert.deepEqual(stats.reportBlock(10), { ssrc: 0xbeef, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 900, jitter: 0, lastSr: 0, delaySinceLastSr: 0 });
});

test('LSR = middle 32 bits of the SR NTP timestamp; DLSR in 1/65536 s; only for the same SSRC', () => {
  const stats = new RtpReceiverStats(90000);
  stats.onPacket(pkt(1, 0), 0);
  stats.onSenderReport(sr(0xeeac6c4f, 0x5ae147ae), 1000);
  const b = stats.reportBlock(2500)!;
  assert.equal(b.lastSr, 0x6c4f5ae1);
  assert.equal(b.delaySinceLastSr, 1.5 * 65536);
  stats.onSenderReport(sr(0x11112222, 0x33334444, 0x999), 2600);
  const other = stats.reportBlock(2700)!;
  assert.deepEqual([other.lastSr, other.delaySinceLastSr], [0, 0]);
});

test('real ffmpeg stream: SR then the first packets give a clean report', () => {
  const cap = loadCapture('ffmpeg-h264');
  const stats = new RtpReceiverStats(90000);
  const [info] = parseRtcpCompound(cap.rtcp[0]!);
  assert.ok(info?.type === 'sr');
  stats.onSenderReport(info.report, 0);
  const pkts = cap.rtp.map((d) => parseRtpPacket(d));
  for (const [i, p] of pkts.entries()) stats.onPacket(p, cap.rtpAtMs[i]!);
  const b = stats.reportBlock(1000)!;
  assert.equal(b.ssrc, 0x11223344);
  assert.equal(b.cumulativeLost, 0);
  assert.equal(b.extendedHighestSeq, pkts.at(-1)!.sequenceNumber);
  assert.equal(b.lastSr, ((info.report.ntpSeconds & 0xffff) * 65536 + (info.report.ntpFraction >>> 16)));
  assert.equal(b.delaySinceLastSr, 65536);
  assert.ok(b.jitter < 90000, `jitter ${b.jitter} below 1 s (-re pacing on loopback)`);
});
