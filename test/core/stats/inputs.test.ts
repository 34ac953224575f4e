/**
 * castgate's /api/v1/casters and /api/v1/ingesters views, from stats objects shaped as the casters' and the
 * ingesters' stats() return them (RTSP sessions with tracks, the UDP sender with its TS demux and RTP counters,
 * ffmpeg and native ingest engines).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { casterViews, ingesterViews, sampleCasterRates, type CasterStatsView } from '../../../core/stats/inputs.ts';
import { RateBook } from '../../../core/stats/rate-window.ts';

const track = (bytes: number, lost: number, reordered: number) => ({
  control: 'streamid=0', codec: 'h264', packets: bytes / 1000, bytes, rtcpPackets: 1, lost, reordered, duplicates: 0,
  outOfOrderDropped: 0, wrongPayloadType: 0, frames: 10, droppedFrames: 0, decodeErrors: 0, sync: 'sender-report',
});

const RTSP: CasterStatsView = {
  caster: 'rtsp', listen: 8554, connections: 2, sessions: 2, packets: 9, bytes: 9,
  active: [{ id: 'rtsp-4', stream: '__defaultVhost__/live/cam', state: 'recording', remote: '10.0.0.9', tracks: [track(10_000, 2, 1), track(5_000, 1, 0)] }],
};
const UDP: CasterStatsView = {
  caster: 'mpegts_over_udp', listen: 8935, stream: '__defaultVhost__/live/tv', publishing: true, sender: '10.0.0.7:4000',
  session: 'udp-3', datagrams: 100, bytes: 131_600,
  demux: { packets: 700, ccErrors: 3, crcErrors: 0, pesDropped: 1, pesEmitted: 50, resyncs: 1, datagrams: 100 },
  rtp: { datagrams: 100, rtpPackets: 0, rtpLost: 0, rtpReordered: 0 },
};

test('RTSP sessions: packets, bytes, loss and reordering summed over tracks; no CC errors in RTP (null)', () => {
  const [c] = casterViews([RTSP], new RateBook(), 0);
  assert.deepEqual({ ...c, stats: undefined, sessions: undefined }, { index: 0, type: 'rtsp', listen: 8554, state: 'listening', stats: undefined, sessions: undefined });
  assert.deepEqual(c?.sessions.map((s) => ({ ...s, tracks: s.tracks?.length })), [{
    id: 'rtsp-4', stream: '__defaultVhost__/live/cam', remote: '10.0.0.9', state: 'recording',
    packets: 15, bytes: 15_000, lost: 3, reordered: 1, cc_errors: null, resyncs: null, kbps: 0, tracks: 2,
  }]);
  assert.equal(c?.stats, RTSP, 'the raw stats are passed on');
});

test('the UDP sender: TS packets, CC errors and resyncs; loss and reordering only for RTP-wrapped TS', () => {
  const [plain] = casterViews([UDP], new RateBook(), 0);
  assert.deepEqual(plain?.sessions, [{
    id: 'udp-3', stream: '__defaultVhost__/live/tv', remote: '10.0.0.7:4000', state: 'publishing',
    packets: 700, bytes: 131_600, lost: null, reordered: null, cc_errors: 3, resyncs: 1, kbps: 0,
  }]);
  const [rtp] = casterViews([{ ...UDP, rtp: { datagrams: 100, rtpPackets: 100, rtpLost: 4, rtpReordered: 2 } }], new RateBook(), 0);
  assert.deepEqual([rtp?.sessions[0]?.lost, rtp?.sessions[0]?.reordered], [4, 2]);
  const [idle] = casterViews([{ ...UDP, sender: undefined, publishing: false }], new RateBook(), 0);
  assert.deepEqual(idle?.sessions, [], 'no sender: no session');
  const [flv] = casterViews([{ caster: 'flv', listen: 8936, connections: 1 }], new RateBook(), 0);
  assert.deepEqual(flv?.sessions, [], 'FLV POST reports aggregates only');
});

test('session kbps from the sampled input bytes (10 s of 125 000 B/s: 1000 kbit/s)', () => {
  const rates = new RateBook();
  sampleCasterRates([UDP], rates, 0);
  rates.sweep();
  const later = { ...UDP, bytes: (UDP.bytes as number) + 1_250_000 };
  sampleCasterRates([later], rates, 10_000);
  rates.sweep();
  assert.equal(casterViews([later], rates, 10_000)[0]?.sessions[0]?.kbps, 1000);
});

test('a session\'s kbps window survives a reload that removes an earlier caster (keyed by caster and port, not position)', () => {
  const rates = new RateBook();
  sampleCasterRates([RTSP, UDP], rates, 0);
  rates.sweep();
  const later = { ...UDP, bytes: (UDP.bytes as number) + 1_250_000 };
  // The RTSP caster was removed by a reload: the UDP caster is now first in the list.
  sampleCasterRates([later], rates, 10_000);
  rates.sweep();
  assert.equal(casterViews([later], rates, 10_000)[0]?.sessions[0]?.kbps, 1000);
});

test('ingesters: ffmpeg engine state, pid, restarts, uptime, fps, speed; native loops; the publishing client', () => {
  const ffmpeg = {
    mode: 'ffmpeg-pipe', stream: '__defaultVhost__/live/cam', publishing: true, messages: 10, decodeErrors: 0,
    process: { state: 'running', pid: 4242, starts: 3, restarts: 2, uptimeMs: 12_500, lastExit: undefined, nextRestartMs: undefined,
      progress: { fps: 25, speed: 1.01, bitrateKbps: 512.5 }, error: undefined, stderrTail: [], stderrLinesSuppressed: 0 },
  };
  const native = { mode: 'native', stream: '__defaultVhost__/live/file', publishing: false, messages: 0, decodeErrors: 0, starts: 2,
    error: 'no such file', nextRetryMs: 2000, looper: undefined };
  const waiting = { ...ffmpeg, publishing: false, process: { ...ffmpeg.process, state: 'waiting', pid: undefined, uptimeMs: 0, progress: {} } };
  const views = ingesterViews(
    [{ id: 'cam', vhost: '__defaultVhost__', type: 'stream', engines: [ffmpeg] }, { id: 'files', vhost: 'v', type: 'file', engines: [native, waiting] }],
    (stream) => (stream === '__defaultVhost__/live/cam' ? 'ingest-cam/0' : undefined),
  );
  assert.deepEqual(views[0], { id: 'cam', vhost: '__defaultVhost__', type: 'stream', state: 'running', engines: [{
    index: 0, mode: 'ffmpeg-pipe', stream: '__defaultVhost__/live/cam', state: 'running', publishing: true, client: 'ingest-cam/0',
    pid: 4242, restarts: 2, uptime: 12.5, fps: 25, speed: 1.01, kbps: 512.5, error: null,
  }] });
  assert.deepEqual(views[1]?.engines.map((e) => [e.mode, e.state, e.pid, e.restarts, e.uptime, e.fps, e.client, e.error]), [
    ['native', 'waiting', null, 1, null, null, null, 'no such file'],
    ['ffmpeg-pipe', 'waiting', null, 2, null, null, null, null],
  ]);
  assert.equal(views[1]?.state, 'waiting');
});
