/**
 * Source (core/hub/source.ts) on its own: publish/unpublish and stale publishers, what a late subscriber gets and
 * in which order, the one-publisher rule as the hub applies it, time_jitter per publish, idle notification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import type { TimeJitterMode } from '../../../core/media/jitter.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { Source, type VhostHubSettings } from '../../../core/hub/source.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { aac, audioConfig, CaptureTarget, interframe, keyframe, metadata, silentLog, videoConfig } from './hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam1' };
const PUB = { id: 'rtmp-1', protocol: 'rtmp', remote: '127.0.0.1:50000' };
const PUB2 = { id: 'udp-2', protocol: 'mpegts_over_udp' };
const player = (n: number) => ({ id: `http-flv-${n}`, protocol: 'http-flv' });
const SETTINGS: VhostHubSettings = { gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' };
const QUEUE_MAX_BYTES = 64 * 1024 * 1024;

function makeSource(onIdle: (s: Source) => void = () => {}): Source {
  return new Source({ key: KEY, log: silentLog, gopCacheMaxBytes: 16 * 1024 * 1024, onIdle });
}

function subscribe(source: Source, n: number, useGopCache = true): CaptureTarget {
  const t = new CaptureTarget();
  source.subscribe(player(n), t, SETTINGS.queueLengthMs, QUEUE_MAX_BYTES, useGopCache);
  return t;
}

test('publish/unpublish: publisher info, events to waiting players, counters, stale handles ignored', () => {
  const idle: Source[] = [];
  const source = makeSource((s) => idle.push(s));
  const t = subscribe(source, 1); // waits for a publisher
  assert.equal(source.publisher, undefined);
  const pub = source.publish(PUB, SETTINGS);
  assert.deepEqual(pub.key, KEY);
  assert.equal(source.publisher, PUB);
  assert.deepEqual(t.events, ['publish']);
  pub.write(videoConfig(0));
  pub.write(keyframe(0, 100));
  const snap = source.snapshot();
  assert.equal(snap.key, '__defaultVhost__/live/cam1');
  assert.equal(snap.messagesIn, 2);
  assert.equal(snap.bytesIn, videoConfig(0).payload.length + keyframe(0, 100).payload.length);
  assert.equal(typeof snap.startedAtMs, 'number');
  assert.deepEqual(snap.video, { codec: 'h264', profile: 100, level: 31 });

  pub.close('eof');
  pub.close('again');
  assert.deepEqual(t.events, ['publish', 'unpublish'], 'one unpublish event');
  assert.equal(source.publisher, undefined);
  assert.equal(source.snapshot().startedAtMs, undefined);
  assert.equal(source.snapshot().video, undefined, 'the meta cache is cleared');
  assert.deepEqual(idle, [], 'a player still waits: not idle');
  pub.write(interframe(40)); // stale handle: ignored
  assert.deepEqual(t.kinds, ['video-config', 'keyframe']);

  const pub2 = source.publish(PUB2, SETTINGS);
  source.unpublish(pub, 'stale handle'); // not the current publisher: no effect
  assert.equal(source.publisher, PUB2);
  pub2.close();
  assert.equal(source.consumerCount, 1);
  assert.equal(source.idle, false);
});

test('a late subscriber gets metadata → video-config → audio-config → GOP from its keyframe → live, in that order', () => {
  const source = makeSource();
  const pub = source.publish(PUB, SETTINGS);
  // Written in an order a publisher may use: audio config first, a first GOP, metadata late.
  for (const m of [audioConfig(0), videoConfig(0), keyframe(0), aac(0), interframe(40), metadata(50), keyframe(80), aac(69), interframe(120)]) {
    pub.write(m);
  }
  const late = subscribe(source, 1);
  pub.write(aac(92));
  pub.write(interframe(160));
  assert.deepEqual(late.trace, [
    'metadata@50', 'video-config@0', 'audio-config@0', // caches first, in the fixed order
    'keyframe@80', 'audio@69', 'interframe@120', // the GOP since the last keyframe
    'audio@92', 'interframe@160', // live
  ]);
  const noGop = subscribe(source, 2, false);
  pub.write(interframe(200));
  pub.write(keyframe(240));
  assert.deepEqual(noGop.kinds, ['metadata', 'video-config', 'audio-config', 'keyframe'], 'without the GOP cache: waits for the next keyframe');
  assert.equal(noGop.messages[3].timestamp, 240);
});

test('the hub refuses a second publisher (GW_ERR_STREAM_BUSY) without touching the source: caches, clock and consumers stay', () => {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ ...SETTINGS, timeJitter: 'full' }), sourceLingerMs: 0 });
  const pub = hub.publish(KEY, PUB);
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t);
  for (const m of [metadata(0), videoConfig(1000), audioConfig(1000), keyframe(1000), interframe(1040)]) pub.write(m);
  assert.throws(
    () => hub.publish(KEY, PUB2),
    (err) => isGatewayError(err, ErrorCode.StreamBusy) && /is already published by rtmp-1/.test(err.message),
  );
  assert.deepEqual(t.events, [], 'no publish/unpublish event for a refused publisher');
  pub.write(interframe(1080));
  assert.equal(t.messages.at(-1)?.timestamp, 80, 'the full time_jitter timeline was not re-based');
  const late = new CaptureTarget();
  hub.subscribe(KEY, player(2), late);
  assert.deepEqual(late.kinds, ['metadata', 'video-config', 'audio-config', 'keyframe', 'interframe', 'interframe'], 'caches kept');
  hub.close();
});

test('time_jitter per publish (case table): off passes through, zero restarts at 0, full keeps rising across a republish', () => {
  // Inputs: first publish from 5000 ms, then a publisher restarting its clock at 100 ms.
  const first = (): RtmpMessage[] => [metadata(777), videoConfig(5000), keyframe(5000), aac(5010), interframe(5040)];
  const second = (): RtmpMessage[] => [keyframe(100), interframe(140)];
  const cases: [TimeJitterMode, number[], number[]][] = [
    ['off', [777, 5000, 5000, 5010, 5040], [100, 140]],
    ['zero', [0, 0, 0, 10, 40], [0, 40]],
    // full: one timeline for the source's life; the republish lands at the last output + DEFAULT_FRAME_TIME_MS (10).
    ['full', [0, 0, 0, 10, 40], [50, 90]],
  ];
  for (const [mode, want1, want2] of cases) {
    const source = makeSource();
    const t = subscribe(source, 1);
    const settings = { ...SETTINGS, timeJitter: mode };
    const pub = source.publish(PUB, settings);
    for (const m of first()) pub.write(m);
    pub.close();
    const pub2 = source.publish(PUB2, settings);
    for (const m of second()) pub2.write(m);
    const ts = t.messages.map((m) => m.timestamp);
    assert.deepEqual(ts, [...want1, ...want2], mode);
  }
  // A mode change takes effect at the next publish (a reloaded vhost).
  const source = makeSource();
  const t = subscribe(source, 1);
  const p1 = source.publish(PUB, { ...SETTINGS, timeJitter: 'off' });
  p1.write(keyframe(3000));
  p1.close();
  const p2 = source.publish(PUB, { ...SETTINGS, timeJitter: 'zero' });
  p2.write(keyframe(7000));
  assert.deepEqual(t.messages.map((m) => m.timestamp), [3000, 0]);
});

test('the corrected message is built once and shared by every consumer; the input message is untouched', () => {
  const source = makeSource();
  const a = subscribe(source, 1);
  const b = subscribe(source, 2);
  const pub = source.publish(PUB, { ...SETTINGS, timeJitter: 'zero' });
  const kf = keyframe(9000);
  pub.write(kf);
  assert.equal(a.messages[0], b.messages[0], 'same object');
  assert.equal(a.messages[0].timestamp, 0);
  assert.equal(a.messages[0].payload, kf.payload, 'payload shared');
  assert.equal(kf.timestamp, 9000);
});

test('idle: told once nobody publishes and no consumer is left; a consumer closing mid fan-out is removed after it', () => {
  const idle: Source[] = [];
  const source = makeSource((s) => idle.push(s));
  const pub = source.publish(PUB, SETTINGS);
  const victim = new CaptureTarget();
  let victimSub: { close(): void } | undefined;
  let closed = false;
  const first = source.subscribe(player(1), {
    send: (m) => {
      if (m.kind === 'interframe' && !closed) {
        closed = true;
        victimSub?.close();
      }
      return true;
    },
  }, SETTINGS.queueLengthMs, QUEUE_MAX_BYTES, true);
  victimSub = source.subscribe(player(2), victim, SETTINGS.queueLengthMs, QUEUE_MAX_BYTES, true);
  pub.write(keyframe(0));
  pub.write(interframe(40));
  pub.write(interframe(80));
  assert.deepEqual(victim.trace, ['keyframe@0'], 'closed during the fan-out: gets nothing after');
  assert.equal(source.consumerCount, 1);
  pub.close();
  assert.deepEqual(idle, [], 'one consumer still attached');
  first.close();
  first.close();
  assert.deepEqual(idle, [source], 'idle once, when the last consumer left');
  assert.equal(source.idle, true);
});
