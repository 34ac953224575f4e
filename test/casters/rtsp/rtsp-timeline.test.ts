/**
 * The RTSP session timeline: tracks with random RTP start values and different clock rates land on one 90 kHz
 * timeline, aligned by RTCP sender reports when both tracks have them, by arrival time otherwise; 32-bit wraps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpWallClock } from '../../../core/protocol/rtp/rtp-clock.ts';
import type { RtcpSenderReport } from '../../../core/protocol/rtp/rtcp.ts';
import { RtspTimeline, SESSION_START_OFFSET_90K } from '../../../casters/rtsp/rtsp-timeline.ts';

const NTP_BASE_MS = 1_790_000_000_000;

function sr(rtpTimestamp: number, ntpUnixMs: number): RtcpSenderReport {
  return { ssrc: 1, ntpSeconds: Math.floor(ntpUnixMs / 1000) + 2_208_988_800, ntpFraction: 0, ntpUnixMs, rtpTimestamp, packetCount: 0, octetCount: 0 };
}

test('sender reports align tracks whose RTP clocks start at random values (video 90 kHz, audio 48 kHz)', () => {
  const timeline = new RtspTimeline();
  const videoWall = new RtpWallClock(90_000);
  const audioWall = new RtpWallClock(48_000);
  const video = timeline.track(90_000, videoWall);
  const audio = timeline.track(48_000, audioWall);
  // Sender wall clock: video RTP 3_000_000_000 ↔ T; audio RTP 123_456 ↔ T.
  videoWall.onSenderReport(sr(3_000_000_000, NTP_BASE_MS));
  audioWall.onSenderReport(sr(123_456, NTP_BASE_MS));
  // The first video packet is 40 ms after T, the first audio packet 15 ms after T; audio arrives 300 ms late.
  const v0 = video.toTicks90k(3_000_000_000 + 3600, 1000);
  const a0 = audio.toTicks90k(123_456 + 720, 1300);
  assert.equal(v0, SESSION_START_OFFSET_90K);
  assert.equal(a0 - v0, -25 * 90, 'audio starts 25 ms before video, whatever the arrival times');
  assert.equal(video.sync, 'anchor');
  assert.equal(audio.sync, 'sender-report');
  // Later packets follow each track's own clock, across the video clock's 32-bit wrap.
  const vWrapped = video.toTicks90k((3_000_000_000 + 3600 + 1_400_000_000) >>> 0, 99_999);
  assert.equal(vWrapped - v0, 1_400_000_000);
  assert.equal(audio.toTicks90k(123_456 + 720 + 48_000, 0) - a0, 90_000);
});

test('without sender reports a track is placed by arrival time relative to the first packet', () => {
  const timeline = new RtspTimeline();
  const video = timeline.track(90_000, new RtpWallClock(90_000));
  const audio = timeline.track(8000, new RtpWallClock(8000));
  const v0 = video.toTicks90k(777, 5000);
  const a0 = audio.toTicks90k(4_000_000_000, 5120);
  assert.equal(a0 - v0, 120 * 90);
  assert.equal(audio.sync, 'arrival');
  assert.equal(audio.toTicks90k((4_000_000_000 + 8000) >>> 0, 0) - a0, 90_000);
});
