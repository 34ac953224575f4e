/**
 * The hub as the HTTP API's client registry: clients() lists every publisher and player with its SessionInfo,
 * kick() ends a publish (PublisherEvents.onClose) or a play (ConsumerTarget.onClose), totals() keeps counting
 * after a source is reaped; LazyPublisher follows a publish the hub ended.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LazyPublisher } from '../../../core/hub/lazy-publisher.ts';
import type { PublishTarget } from '../../../core/hub/ports.ts';
import { generateStatId, SourceHub } from '../../../core/hub/source-hub.ts';
import { aac, audioConfig, CaptureTarget, interframe, keyframe, silentLog, videoConfig } from './hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam1' };
const OTHER = { vhost: '__defaultVhost__', app: 'live', stream: 'cam2' };
const PUB = { id: 'rtsp-1', protocol: 'rtsp', remote: '10.0.0.5:5000' };

function makeHub(lingerMs = 0): SourceHub {
  return new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: lingerMs });
}

test('stat ids look like SRS 5 ones (vid- + 7 of [0-9a-z]) and differ', () => {
  const ids = new Set(Array.from({ length: 100 }, () => generateStatId()));
  for (const id of ids) assert.match(id, /^vid-[0-9a-z]{7}$/);
  assert.equal(ids.size, 100);
});

test('clients(): the publisher with its received bytes, each player with its sent bytes, stream ids shared', () => {
  const hub = makeHub();
  const before = Date.now();
  const pub = hub.publish(KEY, PUB);
  const player = new CaptureTarget();
  hub.subscribe(KEY, { id: 'rtmp-2', protocol: 'rtmp' }, player);
  const messages = [videoConfig(0), audioConfig(0), keyframe(0, 100), aac(10, 10), interframe(40, 20)];
  for (const m of messages) pub.write(m);
  const clients = hub.clients();
  const stream = hub.streams()[0];
  assert.ok(stream !== undefined);
  assert.deepEqual(clients.map((c) => [c.who.id, c.publish, c.streamId === stream.id]), [['rtsp-1', true, true], ['rtmp-2', false, true]]);
  const payload = messages.reduce((n, m) => n + m.payload.length, 0);
  assert.equal(clients[0]?.recvBytes, payload);
  assert.equal(clients[1]?.sendBytes, payload);
  for (const c of clients) assert.ok(c.sinceMs >= before && c.sinceMs <= Date.now());
  assert.deepEqual([stream.recvBytes, stream.sendBytes, stream.videoFrames], [payload, payload, 2]);
  assert.equal(stream.videoConfig?.kind, 'video-config');
});

test('kick a publisher: unpublished, onClose(reason) once, players stay and get unpublish; its own close does not call onClose', () => {
  const hub = makeHub();
  const closes: string[] = [];
  const pub = hub.publish(KEY, PUB, { onClose: (r) => closes.push(r) });
  const player = new CaptureTarget();
  hub.subscribe(KEY, { id: 'rtmp-2', protocol: 'rtmp' }, player);
  assert.equal(hub.kick('rtsp-1', 'kicked by the HTTP API'), true);
  assert.deepEqual(closes, ['kicked by the HTTP API']);
  assert.equal(hub.isPublishing(KEY), false);
  assert.deepEqual(player.events, ['unpublish'], 'the player waits for the next publisher');
  assert.deepEqual(player.closes, []);
  pub.write(keyframe(0));
  assert.equal(player.messages.length, 0, 'a kicked publisher writes nowhere');
  pub.close('session ends after the kick');
  assert.deepEqual(closes, ['kicked by the HTTP API'], 'not called again');
  const p2 = hub.publish(KEY, PUB, { onClose: (r) => closes.push(r) });
  p2.close('done');
  assert.equal(closes.length, 1, 'a publisher that closes itself is not told');
});

test('kick a player: the hub detaches it with onClose; a session publishing and playing is ended on both', () => {
  const hub = makeHub();
  const closes: string[] = [];
  hub.publish(KEY, { id: 'rtmp-9', protocol: 'rtmp' }, { onClose: (r) => closes.push(`pub:${r}`) });
  const sameSession = new CaptureTarget();
  hub.subscribe(OTHER, { id: 'rtmp-9', protocol: 'rtmp' }, sameSession);
  const other = new CaptureTarget();
  hub.subscribe(KEY, { id: 'http-flv-3', protocol: 'http-flv' }, other);
  assert.equal(hub.kick('rtmp-9', 'kicked'), true);
  assert.deepEqual(closes, ['pub:kicked']);
  assert.deepEqual(sameSession.closes, ['kicked']);
  assert.deepEqual(other.closes, [], 'other sessions untouched');
  assert.deepEqual(hub.clients().map((c) => c.who.id), ['http-flv-3']);
  assert.equal(hub.kick('rtmp-9', 'again'), false);
  assert.equal(hub.kick('nobody', 'x'), false);
});

test('a throwing onClose is contained: the kick still succeeds and the hub keeps working', () => {
  const hub = makeHub();
  hub.publish(KEY, PUB, {
    onClose: () => {
      throw new Error('session bug');
    },
  });
  assert.equal(hub.kick('rtsp-1', 'kicked'), true);
  assert.doesNotThrow(() => hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' }));
});

test('hub.close(): publishers are told with onClose, as players are', () => {
  const hub = makeHub();
  const closes: string[] = [];
  hub.publish(KEY, PUB, { onClose: (r) => closes.push(r) });
  const player = new CaptureTarget();
  hub.subscribe(KEY, { id: 'rtmp-2', protocol: 'rtmp' }, player);
  hub.close();
  assert.deepEqual(closes, ['gateway stopping']);
  assert.deepEqual(player.closes, ['gateway stopping']);
});

test('totals(): bytes, drops, publishes and plays survive the source being reaped', () => {
  const hub = makeHub(0);
  const pub = hub.publish(KEY, PUB);
  const player = new CaptureTarget();
  const sub = hub.subscribe(KEY, { id: 'rtmp-2', protocol: 'rtmp' }, player);
  pub.write(keyframe(0, 100));
  pub.write(interframe(40, 20));
  sub.close();
  pub.close('done');
  assert.equal(hub.streams().length, 0, 'reaped at once (linger 0)');
  const kf = keyframe(0, 100).payload.length;
  const inter = interframe(40, 20).payload.length;
  assert.deepEqual(hub.totals(), { recvBytes: kf + inter, sendBytes: kf + inter, droppedMessages: 0, publishes: 1, plays: 1 });
  const pub2 = hub.publish(KEY, PUB);
  pub2.write(keyframe(80, 100));
  assert.equal(hub.totals().recvBytes, 2 * kf + inter);
});

test('LazyPublisher: a publish ended by the hub calls its owner back; without one, the next write publishes again', () => {
  const hub = makeHub(10_000);
  const target: PublishTarget = { hub, key: KEY, url: 'rtmp://127.0.0.1/live/cam1', local: true, admit: () => Promise.resolve() };
  const kicked: string[] = [];
  const withOwner = new LazyPublisher(target, { id: 'ingest-a/0', protocol: 'ingest' }, silentLog, (r) => kicked.push(r));
  assert.equal(withOwner.write(keyframe(0)), true);
  assert.equal(hub.kick('ingest-a/0', 'kicked'), true);
  assert.deepEqual(kicked, ['kicked']);
  assert.equal(withOwner.publishing, false);
  withOwner.close('ffmpeg exited');
  const plain = new LazyPublisher(target, { id: 'ingest-b/0', protocol: 'ingest' }, silentLog);
  plain.write(keyframe(0));
  hub.kick('ingest-b/0', 'kicked');
  assert.equal(hub.isPublishing(KEY), false);
  assert.equal(plain.write(keyframe(40)), true);
  assert.equal(hub.isPublishing(KEY), true, 'published again at the next message');
  hub.close();
});
