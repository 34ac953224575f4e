/**
 * The Prometheus registry: SRS's metric names and types, castgate's per-protocol gauges, per-input QoS counters and
 * ffmpeg restarts, values read at scrape time; the text is the exposition format (checked by prom-client's own
 * renderer here and by the Prometheus Python parser in test/e2e/http-api.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import type { CasterJson, IngesterJson } from '../../../core/stats/inputs.ts';
import { createMetricsRegistry } from '../../../core/stats/metrics.ts';
import { Statistics } from '../../../core/stats/statistics.ts';
import { CaptureTarget, keyframe, silentLog } from '../hub/hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

test('SRS-named metrics, publishers/players by protocol, per-input counters, restarts; values follow the hub', async () => {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const statistics = new Statistics({ hub, vhosts: () => [], version: '2.3.4' });
  let casters: CasterJson[] = [];
  const ingesters: IngesterJson[] = [{ id: 'cam', vhost: '__defaultVhost__', type: 'stream', state: 'running', engines: [
    { index: 0, mode: 'ffmpeg-pipe', stream: null, state: 'running', publishing: false, client: null, pid: 1, restarts: 3, uptime: 1, fps: 25, speed: 1, kbps: 1, error: null },
  ] }];
  const registry = createMetricsRegistry({ statistics, version: '2.3.4', label: 'cn-beijing', casters: () => casters, ingesters: () => ingesters });
  const pub = hub.publish(KEY, { id: 'rtsp-1', protocol: 'rtsp' });
  hub.subscribe(KEY, { id: 'http-flv-2', protocol: 'http-flv' }, new CaptureTarget());
  hub.subscribe(KEY, { id: 'rtmp-3', protocol: 'rtmp' }, new CaptureTarget());
  hub.subscribe(KEY, { id: 'hls-4', protocol: 'hls' }, new CaptureTarget());
  pub.write(keyframe(0, 1000));
  casters = [{ index: 0, type: 'rtsp', listen: 8554, state: 'listening', stats: { caster: 'rtsp', listen: 8554 }, sessions: [
    { id: 'rtsp-1', stream: '__defaultVhost__/live/cam', remote: '10.0.0.1', state: 'recording', packets: 900, bytes: 90_000, lost: 7, reordered: 2, cc_errors: null, resyncs: null, kbps: 0 },
  ] }];
  const text = await registry.metrics();
  assert.match(registry.contentType, /^text\/plain; version=0\.0\.4/);
  const kf = keyframe(0, 1000).payload.length;
  for (const want of [
    '# TYPE srs_receive_bytes_total counter', `srs_receive_bytes_total ${kf}`, `srs_send_bytes_total ${3 * kf}`,
    '# TYPE srs_streams gauge', 'srs_streams 1', 'srs_clients 3',
    'castgate_publishers{protocol="rtsp"} 1', 'castgate_players{protocol="http-flv"} 1', 'castgate_players{protocol="rtmp"} 1',
    'castgate_input_packets_total{caster="rtsp",listen="8554",session="rtsp-1",stream="__defaultVhost__/live/cam"} 900',
    'castgate_input_lost_packets_total{caster="rtsp",listen="8554",session="rtsp-1",stream="__defaultVhost__/live/cam"} 7',
    'castgate_input_reordered_packets_total{caster="rtsp",listen="8554",session="rtsp-1",stream="__defaultVhost__/live/cam"} 2',
    'castgate_ffmpeg_restarts_total{vhost="__defaultVhost__",ingest="cam",engine="0"} 3',
    'castgate_hub_dropped_messages_total 0',
  ]) {
    assert.ok(text.split('\n').includes(want), `missing line: ${want}`);
  }
  assert.deepEqual(lines(text, 'castgate_players{protocol="hls"}'), [], 'internal consumers are not players');
  assert.deepEqual(lines(text, 'castgate_input_cc_errors_total{'), [], 'no series for a field that does not apply');
  assert.match(lines(text, 'srs_build_info{')[0] ?? '', /^srs_build_info\{server="vid-[0-9a-z]{7}",service="[0-9a-z]{8}",pid="\d+",major="2",version="2\.3\.4",code="castgate",label="cn-beijing"\} 1$/);
  assert.equal(lines(text, 'srs_memory ').length, 1);
  assert.ok(lines(text, 'nodejs_eventloop_lag_seconds ').length === 1 && lines(text, 'process_resident_memory_bytes ').length === 1, 'default metrics');

  pub.write(keyframe(40, 1000));
  casters = [];
  const after = await registry.metrics();
  assert.ok(after.split('\n').includes(`srs_receive_bytes_total ${2 * kf}`), 'the counter rose');
  assert.deepEqual(lines(after, 'castgate_input_packets_total{'), [], 'a gone session leaves no series');
  hub.close();
});
