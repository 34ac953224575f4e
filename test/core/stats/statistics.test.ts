/**
 * Statistics in SRS's shapes over a real SourceHub: stream, client and vhost JSON with their values, internal
 * consumers left out, kick, SRS's stream_url and the remote's ip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { remoteIp, srsStreamUrl, Statistics, type VhostView } from '../../../core/stats/statistics.ts';
import { aac, audioConfig, CaptureTarget, interframe, keyframe, silentLog } from '../hub/hub-vectors.ts';
import { AVCC_X264_MAIN_720P, hex } from '../../helpers/vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };
const VHOSTS: VhostView[] = [
  { name: '__defaultVhost__', enabled: true, hls: { enabled: false, fragmentMs: 10_000 } },
  { name: 'hls.example', enabled: true, hls: { enabled: true, fragmentMs: 2_500 } },
];

function avc720p(): RtmpMessage {
  const m = createMessage(MessageType.Video, 0, Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), hex(AVCC_X264_MAIN_720P)]));
  if (m === undefined) throw new Error('no message');
  return m;
}

function setup(): { hub: SourceHub; stats: Statistics } {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  return { hub, stats: new Statistics({ hub, vhosts: () => VHOSTS, version: '1.2.3' }) };
}

test('a published stream in SRS shape: names, ids, codec facts, frames, bytes, publish.cid', () => {
  const { hub, stats } = setup();
  const pub = hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp', remote: '10.1.2.3:50000', query: 'token=x' });
  const player = new CaptureTarget();
  hub.subscribe(KEY, { id: 'http-flv-2', protocol: 'http-flv', remote: '[::1]:40000' }, player);
  hub.subscribe(KEY, { id: 'hls-3', protocol: 'hls' }, new CaptureTarget());
  const msgs = [avc720p(), audioConfig(0), keyframe(0), aac(20), interframe(40), interframe(80)];
  for (const m of msgs) pub.write(m);
  const bytes = msgs.reduce((n, m) => n + m.payload.length, 0);
  const [s] = stats.streams();
  assert.ok(s !== undefined);
  assert.match(s.id, /^vid-[0-9a-z]{7}$/);
  assert.deepEqual({ ...s, id: '', vhost: '', live_ms: 0, kbps: { recv_30s: 0, send_30s: 0 } }, {
    id: '', name: 'cam', vhost: '', app: 'live', tcUrl: 'rtmp://__defaultVhost__/live', url: '/live/cam', live_ms: 0,
    clients: 2, frames: 3, send_bytes: 2 * bytes, recv_bytes: bytes, kbps: { recv_30s: 0, send_30s: 0 },
    publish: { active: true, cid: 'rtmp-1' },
    video: { codec: 'H264', profile: 'Main', level: '3.1', width: 1280, height: 720 },
    audio: { codec: 'AAC', sample_rate: 44100, channel: 2, profile: 'LC' },
  });
  assert.equal(s.vhost, stats.vhostId('__defaultVhost__'));
  assert.ok(Math.abs(s.live_ms - Date.now()) < 1000, 'live_ms is the current time, as SRS writes it');
  // send_bytes: the player's and the HLS muxer's (castgate counts every consumer of the stream).
  assert.deepEqual(stats.stream(s.id)?.name, 'cam');
  assert.equal(stats.stream('vid-nothere'), undefined);

  const clients = stats.clients();
  assert.deepEqual(clients.map((c) => [c.id, c.type, c.publish, c.ip, c.param, c.stream === s.id]), [
    ['rtmp-1', 'fmle-publish', true, '10.1.2.3', 'token=x', true],
    ['http-flv-2', 'flv-play', false, '::1', '', true],
  ], 'the HLS muxer is not a client');
  const c = stats.client('http-flv-2');
  assert.deepEqual([c?.send_bytes, c?.recv_bytes, c?.name, c?.url, c?.pageUrl, c?.swfUrl, c?.remote], [bytes, 0, 'cam', '/live/cam', '', '', '[::1]:40000']);
  assert.ok(c !== undefined && c.alive >= 0 && c.alive < 5);
});

test('vhosts: ids, counts, bytes, hls fragment in seconds; a vhost only a stream names is listed too', () => {
  const { hub, stats } = setup();
  const pub = hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' });
  pub.write(keyframe(0));
  hub.publish({ vhost: 'other.example', app: 'live', stream: 'x' }, { id: 'rtsp-2', protocol: 'rtsp' });
  const v = stats.vhosts();
  assert.deepEqual(v.map((x) => [x.name, x.enabled, x.clients, x.streams, x.recv_bytes, x.hls]), [
    ['__defaultVhost__', true, 1, 1, keyframe(0).payload.length, { enabled: false }],
    ['hls.example', true, 0, 0, 0, { enabled: true, fragment: 2.5 }],
    ['other.example', true, 1, 1, 0, { enabled: false }],
  ]);
  assert.equal(stats.vhost(stats.vhostId('hls.example'))?.name, 'hls.example');
  assert.equal(stats.vhostId('hls.example'), stats.vhostId('hls.example'), 'stable');
});

test('a vhost keeps the bytes of a stream that is gone (sampled), streams without publisher or client are hidden', () => {
  const { hub, stats } = setup();
  const pub = hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' });
  pub.write(keyframe(0));
  stats.sample();
  hub.subscribe(KEY, { id: 'dvr-9', protocol: 'dvr' }, new CaptureTarget());
  pub.close('done');
  assert.deepEqual(stats.streams(), [], 'only an internal consumer left: hidden');
  stats.sample();
  assert.equal(stats.vhosts()[0]?.recv_bytes, keyframe(0).payload.length);
  const waiting = new CaptureTarget();
  hub.subscribe({ ...KEY, stream: 'later' }, { id: 'rtmp-5', protocol: 'rtmp' }, waiting);
  assert.deepEqual(stats.streams().map((s) => [s.name, s.publish, s.clients, s.video, s.audio]), [['later', { active: false }, 1, null, null]], 'a waiting player keeps its stream listed');
});

test('kick: clients only (an internal consumer is not kickable); the hub ends the session', () => {
  const { hub, stats } = setup();
  const closes: string[] = [];
  hub.publish(KEY, { id: 'rtsp-1', protocol: 'rtsp' }, { onClose: (r) => closes.push(r) });
  const hls = new CaptureTarget();
  hub.subscribe(KEY, { id: 'hls-2', protocol: 'hls' }, hls);
  assert.equal(stats.kick('hls-2'), false);
  assert.deepEqual(hls.closes, []);
  assert.equal(stats.kick('rtsp-1'), true);
  assert.deepEqual(closes, ['kicked by the HTTP API']);
  assert.equal(stats.kick('rtsp-1'), false);
});

test('summaries: this process and the machine, SRS field names and types', () => {
  const { stats } = setup();
  stats.sample(Date.now());
  const s = stats.summaries();
  assert.equal(s.ok, true);
  assert.deepEqual([s.self.version, s.self.pid, s.self.ppid], ['1.2.3', process.pid, process.ppid]);
  assert.ok(Number.isInteger(s.self.mem_kbyte) && s.self.mem_kbyte > 1000);
  assert.ok(s.self.mem_percent > 0 && s.self.mem_percent < 1);
  assert.ok(s.self.cpu_percent >= 0);
  assert.ok(Number.isInteger(s.self.srs_uptime) && s.self.srs_uptime >= 0);
  assert.ok(s.system.cpus >= 1 && s.system.mem_ram_kbyte > s.self.mem_kbyte);
  assert.deepEqual([typeof stats.serverId, stats.serviceId.length, stats.pid], ['string', 8, String(process.pid)]);
  assert.match(stats.serviceId, /^[0-9a-z]{8}$/);
});

test('srs_generate_stream_url and the ip of a remote', () => {
  assert.equal(srsStreamUrl(KEY), '/live/cam');
  assert.equal(srsStreamUrl({ vhost: 'v.example', app: 'a/b', stream: 's' }), 'v.example/a/b/s');
  for (const [remote, ip] of [['1.2.3.4:5', '1.2.3.4'], ['::1:40000', '::1'], ['[::1]:40000', '::1'],  ['fe80::1:5000', 'fe80::1'], [undefined, '']] as const) {
    assert.equal(remoteIp(remote), ip, String(remote));
  }
});
