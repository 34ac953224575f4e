import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import { SourceHub, type SourceHubOptions, type VhostHubSettings } from '../../../core/hub/source-hub.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { aac, audioConfig, CaptureTarget, interframe, keyframe, metadata, silentLog, videoConfig } from './hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam1' };
const PUB = { id: 'udp-1', protocol: 'mpegts_over_udp', remote: '127.0.0.1:5000' };
const PUB2 = { id: 'rtmp-2', protocol: 'rtmp' };
const player = (n: number) => ({ id: `rtmp-${100 + n}`, protocol: 'rtmp' });

function makeHub(settings: Partial<VhostHubSettings> = {}, opts: Partial<SourceHubOptions> = {}): SourceHub {
  const s: VhostHubSettings = { gopCache: true, queueLengthMs: 10_000, timeJitter: 'off', ...settings };
  return new SourceHub({ log: silentLog, vhost: () => s, sourceLingerMs: 0, ...opts });
}

/** metadata, configs, GOP 1 (kf@0, inter@40, aac@23), GOP 2 (kf@80, aac@46, inter@120). */
function writeTwoGops(write: (m: RtmpMessage) => void): void {
  for (const m of [metadata(0), videoConfig(0), audioConfig(0), keyframe(0), interframe(40), aac(23), keyframe(80), aac(46), interframe(120)]) {
    write(m);
  }
}

test('late joiner: metadata → video-config → audio-config → GOP from its keyframe → live', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  writeTwoGops((m) => pub.write(m));
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t);
  pub.write(aac(69));
  pub.write(interframe(160));
  assert.deepEqual(t.trace, [
    'metadata@0', 'video-config@0', 'audio-config@0',
    'keyframe@80', 'audio@46', 'interframe@120',
    'audio@69', 'interframe@160',
  ]);
});

test('every consumer gets the SAME corrected message object; payloads are not mutated', () => {
  const hub = makeHub({ timeJitter: 'zero' });
  const targets = [new CaptureTarget(), new CaptureTarget(), new CaptureTarget()];
  for (let i = 0; i < targets.length; i++) hub.subscribe(KEY, player(i), targets[i]);
  const pub = hub.publish(KEY, PUB);
  const kf = keyframe(5000);
  const before = Buffer.from(kf.payload);
  pub.write(videoConfig(5000));
  pub.write(kf);
  assert.equal(targets[0].messages[1].timestamp, 0, 'corrected');
  assert.equal(targets[0].messages[1].payload, kf.payload, 'payload shared, not copied');
  for (const t of targets.slice(1)) assert.equal(t.messages[1], targets[0].messages[1]);
  assert.deepEqual(kf.payload, before, 'input integrity');
});

test('a second publisher is refused with StreamBusy; the first keeps streaming', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t);
  assert.throws(
    () => hub.publish(KEY, PUB2),
    (err) => isGatewayError(err, ErrorCode.StreamBusy) && err.message === '__defaultVhost__/live/cam1 is already published by udp-1',
  );
  pub.write(keyframe(0));
  assert.deepEqual(t.kinds, ['keyframe']);
  assert.ok(hub.isPublishing(KEY));
  assert.equal(hub.streams()[0].publisher?.id, 'udp-1');
});

test('a throwing target is closed and does not disturb the others', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  const before = new CaptureTarget();
  const after = new CaptureTarget();
  let closeReason = '';
  hub.subscribe(KEY, player(1), before);
  hub.subscribe(KEY, player(2), {
    send(m: RtmpMessage): boolean {
      if (m.kind === 'interframe') throw new TypeError('write after end');
      return true;
    },
    onClose(reason: string): void {
      closeReason = reason;
    },
  });
  hub.subscribe(KEY, player(3), after);
  pub.write(keyframe(0));
  pub.write(interframe(40));
  pub.write(interframe(80));
  assert.match(closeReason, /write after end/);
  assert.deepEqual(before.trace, ['keyframe@0', 'interframe@40', 'interframe@80']);
  assert.deepEqual(after.trace, before.trace);
  assert.equal(hub.streams()[0].consumers, 2);
});

test('gop_cache off: a late joiner gets metadata and configs, then starts at the next keyframe', () => {
  const hub = makeHub({ gopCache: false });
  const pub = hub.publish(KEY, PUB);
  writeTwoGops((m) => pub.write(m));
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t);
  pub.write(aac(69));
  pub.write(interframe(160));
  pub.write(keyframe(200));
  pub.write(aac(92));
  assert.deepEqual(t.trace, ['metadata@0', 'video-config@0', 'audio-config@0', 'keyframe@200', 'audio@92']);
});

test('useGopCache false on a gop_cache vhost: the player starts at the next keyframe', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  writeTwoGops((m) => pub.write(m));
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t, { useGopCache: false });
  pub.write(interframe(160));
  pub.write(keyframe(200));
  assert.deepEqual(t.kinds, ['metadata', 'video-config', 'audio-config', 'keyframe']);
});

test('audio-only stream: the late joiner gets the AAC config then live audio', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  pub.write(audioConfig(0));
  pub.write(aac(0));
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t);
  pub.write(aac(23));
  assert.deepEqual(t.trace, ['audio-config@0', 'audio@23']);
  assert.deepEqual(hub.streams()[0].video, undefined);
  assert.deepEqual(hub.streams()[0].audio, { codec: 'aac', objectType: 2, sampleRateHz: 44100, channels: 2 });
});

test('slow player through the hub drops whole GOPs; after resume: configs, then a keyframe', () => {
  const hub = makeHub({ queueLengthMs: 2000 });
  const pub = hub.publish(KEY, PUB);
  pub.write(metadata(0));
  pub.write(videoConfig(0));
  pub.write(audioConfig(0));
  const slow = new CaptureTarget();
  const fast = new CaptureTarget();
  const sub = hub.subscribe(KEY, player(1), slow);
  hub.subscribe(KEY, player(2), fast);
  slow.accept = false;
  let fed = 0;
  for (let t = 0; t < 10_000; t += 40) {
    pub.write(t % 2000 === 0 ? keyframe(t) : interframe(t));
    pub.write(aac(t));
    fed += 2;
  }
  assert.ok(sub.stats().droppedMessages > 0);
  assert.equal(fast.messages.length, 3 + fed, 'the fast player lost nothing');
  slow.accept = true;
  const seen = slow.messages.length;
  sub.resume();
  const next = slow.messages.slice(seen);
  assert.deepEqual(next.slice(0, 4).map((m) => m.kind), ['metadata', 'video-config', 'audio-config', 'keyframe']);
  assert.equal(next[3].timestamp % 2000, 0, 'a GOP boundary');
  sub.close();
  sub.close();
  assert.equal(hub.streams()[0].consumers, 1);
});

test('unpublish/republish: players stay, get events, caches are cleared, stale publishers are ignored', () => {
  const hub = makeHub({ timeJitter: 'full' });
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t); // waits: nobody publishes yet
  assert.equal(hub.isPublishing(KEY), false);
  const pub1 = hub.publish(KEY, PUB);
  assert.deepEqual(t.events, ['publish']);
  writeTwoGops((m) => pub1.write(m));
  pub1.close('eof');
  pub1.close();
  assert.deepEqual(t.events, ['publish', 'unpublish']);
  assert.equal(hub.isPublishing(KEY), false);
  pub1.write(keyframe(999)); // stale: ignored
  const late = new CaptureTarget();
  hub.subscribe(KEY, player(2), late);
  assert.deepEqual(late.messages, [], 'nothing cached after unpublish');
  const lastTs = t.messages.at(-1)?.timestamp ?? -1;
  const pub2 = hub.publish(KEY, PUB2);
  assert.deepEqual(t.events, ['publish', 'unpublish', 'publish']);
  assert.deepEqual(late.events, ['publish']);
  pub2.write(interframe(0)); // no reference yet: skipped
  pub2.write(videoConfig(0));
  pub2.write(keyframe(0));
  pub2.write(interframe(40));
  const tail = t.messages.slice(-3);
  assert.deepEqual(tail.map((m) => m.kind), ['video-config', 'keyframe', 'interframe']);
  assert.ok(tail[1].timestamp > lastTs, 'full time_jitter keeps timestamps rising across republish');
  assert.deepEqual(late.kinds, ['video-config', 'keyframe', 'interframe']);
});

test('source cleanup: removed when it has neither publisher nor players (sourceLingerMs 0)', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  const sub = hub.subscribe(KEY, player(1), new CaptureTarget());
  pub.close();
  assert.equal(hub.streams().length, 1, 'a player still waits');
  sub.close();
  assert.equal(hub.streams().length, 0);
  const sub2 = hub.subscribe(KEY, player(2), new CaptureTarget());
  sub2.close();
  assert.equal(hub.streams().length, 0);
});

test('source cleanup: an idle source lingers sourceLingerMs, and is kept if reused meanwhile', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const hub = makeHub({}, { sourceLingerMs: 5000 });
  const pub = hub.publish(KEY, PUB);
  pub.close();
  t.mock.timers.tick(4999);
  assert.equal(hub.streams().length, 1);
  const pub2 = hub.publish(KEY, PUB2); // reuse cancels the reap
  t.mock.timers.tick(10_000);
  assert.equal(hub.streams().length, 1);
  pub2.close();
  t.mock.timers.tick(5000);
  assert.equal(hub.streams().length, 0);
  hub.close();
});

test('streams() snapshot and close(): every player gets onClose, publishers go stale, idempotent', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  writeTwoGops((m) => pub.write(m));
  const t1 = new CaptureTarget();
  const t2 = new CaptureTarget();
  hub.subscribe(KEY, player(1), t1);
  hub.subscribe({ ...KEY, stream: 'other' }, player(2), t2);
  const [a, b] = hub.streams();
  assert.equal(a.key, '__defaultVhost__/live/cam1');
  assert.equal(a.consumers, 1);
  assert.equal(a.messagesIn, 9);
  assert.ok(a.bytesIn > 0);
  assert.equal(typeof a.startedAtMs, 'number');
  assert.deepEqual(a.video, { codec: 'h264', profile: 100, level: 31 });
  assert.equal(b.publisher, undefined);
  assert.equal(b.startedAtMs, undefined);
  hub.close();
  hub.close();
  assert.deepEqual(t1.closes, ['gateway stopping']);
  assert.deepEqual(t2.closes, ['gateway stopping']);
  assert.deepEqual(t1.events, [], 'no unpublish event on shutdown, just onClose');
  assert.equal(hub.isPublishing(KEY), false);
  assert.equal(hub.streams().length, 0);
  const n = t1.messages.length;
  pub.write(keyframe(1000));
  pub.close();
  assert.equal(t1.messages.length, n);
  assert.throws(() => hub.publish(KEY, PUB), (err) => isGatewayError(err, ErrorCode.StreamBusy));
});

test('GOP cache byte cap: a GOP over gopCacheMaxBytes is not cached; late joiners wait for a keyframe', () => {
  const hub = makeHub({}, { gopCacheMaxBytes: 1000 });
  const pub = hub.publish(KEY, PUB);
  pub.write(videoConfig(0));
  pub.write(keyframe(0, 600));
  pub.write(interframe(40, 600));
  const t = new CaptureTarget();
  hub.subscribe(KEY, player(1), t);
  pub.write(interframe(80));
  pub.write(keyframe(120, 100));
  assert.deepEqual(t.trace, ['video-config@0', 'keyframe@120']);
});

test('re-entrancy: a player that closes another and subscribes a third from inside send', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, PUB);
  const victim = new CaptureTarget();
  const joined = new CaptureTarget();
  let victimSub: { close(): void } | undefined;
  let done = false;
  hub.subscribe(KEY, player(1), {
    send(m: RtmpMessage): boolean {
      if (m.kind === 'interframe' && !done) {
        done = true;
        victimSub?.close();
        hub.subscribe(KEY, player(3), joined);
      }
      return true;
    },
  });
  victimSub = hub.subscribe(KEY, player(2), victim);
  pub.write(keyframe(0));
  pub.write(interframe(40));
  pub.write(interframe(80));
  assert.deepEqual(victim.trace, ['keyframe@0']);
  assert.deepEqual(joined.trace, ['keyframe@0', 'interframe@40', 'interframe@80'], 'got the current message from the GOP cache, once');
  assert.equal(hub.streams()[0].consumers, 2);
});

test('onPublish: listeners run synchronously after a successful publish and may subscribe at once', () => {
  const hub = makeHub();
  const seen: string[] = [];
  const targets: CaptureTarget[] = [];
  const off = hub.onPublish((key, who) => {
    seen.push(`${key.app}/${key.stream} by ${who.id} publishing=${hub.isPublishing(key)}`);
    const t = new CaptureTarget();
    targets.push(t);
    hub.subscribe(key, player(1), t);
  });
  const pub = hub.publish(KEY, PUB);
  assert.deepEqual(seen, ['live/cam1 by udp-1 publishing=true']);
  pub.write(videoConfig(0));
  pub.write(keyframe(0));
  assert.deepEqual(targets[0]?.trace, ['video-config@0', 'keyframe@0']);
  off();
  off();
  pub.close();
  hub.publish(KEY, PUB2);
  assert.equal(seen.length, 1, 'removed listener is not called');
});

test('onPublish: a refused publish calls no listener; a throwing listener never breaks the publish', () => {
  const hub = makeHub();
  const calls: string[] = [];
  hub.onPublish(() => {
    calls.push('first');
    throw new Error('boom');
  });
  hub.onPublish((_key, who) => calls.push(`second ${who.id}`));
  const pub = hub.publish(KEY, PUB);
  assert.equal(hub.isPublishing(KEY), true);
  assert.deepEqual(calls, ['first', 'second udp-1']);
  assert.throws(() => hub.publish(KEY, PUB2), (e) => isGatewayError(e) && e.code === ErrorCode.StreamBusy);
  assert.equal(calls.length, 2, 'no listener for a refused publish');
  pub.write(keyframe(0));
  pub.close();
});
