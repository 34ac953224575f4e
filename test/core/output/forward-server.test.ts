/**
 * ForwardServer + Forwarder on a real SourceHub and the gateway's real PublishTargetResolver: GOP drops for a slow
 * destination while the publisher and the other destination lose nothing; reconnect with backoff to a real RTMP
 * server stack (metadata + sequence headers + the next keyframe); congestion through a stalled TCP path; loops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { buildForwardConfig, type ForwardConfig } from '../../../core/config/forward-config.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import type { ConsumerTarget } from '../../../core/hub/ports.ts';
import { MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { makeStreamKey, streamKeyString, type StreamKey } from '../../../core/media/stream-key.ts';
import { FORWARD_MAX_BACKOFF_MS, FORWARD_MIN_BACKOFF_MS, ForwardServer, type ForwardServerOptions } from '../../../core/output/forward-server.ts';
import type { ForwardSink, ForwardSinkStats, ForwardStats } from '../../../core/output/forwarder.ts';
import { createPublishTargetResolver } from '../../../core/output/publish-target.ts';
import type { RtmpPushOptions } from '../../../core/output/rtmp-push.ts';
import { Backoff } from '../../../core/process/child-process.ts';
import { waitFor } from '../../helpers/peers.ts';
import { audio, audioConfig, inter, key, meta, RecordingServer, videoConfig } from '../../helpers/rtmp-recording-server.ts';

const log = pino({ level: 'silent' });
const PUB = { id: 'rtmp-1', protocol: 'rtmp' };
const CAM = makeStreamKey('__defaultVhost__', 'live', 'cam');

function forwardConfig(destinations: readonly string[]): ForwardConfig {
  const r = buildForwardConfig(true, destinations);
  assert.ok('value' in r, JSON.stringify(r));
  return r.value;
}

/** A hub whose timestamps pass unchanged (time_jitter off) and a started ForwardServer. */
function setup(
  vhosts: Record<string, readonly string[]>,
  opts: Partial<ForwardServerOptions> & { rtmpPorts?: readonly number[] } = {},
): { hub: SourceHub; server: ForwardServer } {
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const configs = new Map(Object.entries(vhosts).map(([v, d]) => [v, forwardConfig(d)]));
  const server = new ForwardServer({ hub, log, forward: (v) => configs.get(v), ...opts });
  const rtmpPorts = opts.rtmpPorts ?? [];
  server.start(createPublishTargetResolver({ hub, log, rtmpPorts }), rtmpPorts);
  return { hub, server };
}

function statsOf(server: ForwardServer, k: StreamKey = CAM): ForwardStats[] {
  return server.stats()[streamKeyString(k)] ?? [];
}

/** A destination that takes what it is given, or says it is full (`congested`) until told otherwise. */
class FakeSink implements ForwardSink {
  readonly received: RtmpMessage[] = [];
  readonly onWritable: () => void;
  congested = false;
  closedWith: string | undefined;

  constructor(onWritable: () => void) {
    this.onWritable = onWritable;
  }

  write(msg: RtmpMessage): void {
    this.received.push(msg);
  }

  close(reason?: string): void {
    this.closedWith ??= reason ?? 'closed';
  }

  stats(): ForwardSinkStats {
    const sentBytes = this.received.reduce((n, m) => n + m.payload.length, 0);
    return { state: 'publishing', connects: 1, publishStarts: 1, sentMessages: this.received.length, sentBytes, droppedMessages: 0, lastError: undefined };
  }
}

/** Every interframe a destination got follows the video frame it was encoded after (no P-frame without its reference). */
function assertDecodable(got: readonly RtmpMessage[], sent: readonly RtmpMessage[], what: string): void {
  const video = sent.filter((m) => m.type === MessageType.Video && !m.isConfig);
  const previous = new Map<RtmpMessage, RtmpMessage | undefined>(video.map((m, i) => [m, video[i - 1]]));
  let last: RtmpMessage | undefined;
  for (const m of got) {
    if (m.type !== MessageType.Video || m.isConfig) continue;
    if (m.kind === 'interframe') assert.equal(previous.get(m), last, `${what}: interframe @${m.timestamp} without its reference`);
    last = m;
  }
}

test('a slow destination drops whole GOPs; the publisher, a player and the other destination lose nothing', () => {
  const sinks = new Map<string, FakeSink>();
  const openPush = (o: RtmpPushOptions): ForwardSink => {
    const s = new FakeSink(o.onWritable ?? (() => {}));
    sinks.set(o.url, s);
    return s;
  };
  const { hub, server } = setup({ __defaultVhost__: ['rtmp://slow.example/live/[stream]', 'rtmp://fast.example/live/[stream]'] }, { openPush, queueLengthMs: 2_000 });
  const played: RtmpMessage[] = [];
  const player: ConsumerTarget = { send: (m) => (played.push(m), true) };
  hub.subscribe(CAM, { id: 'rtmp-2', protocol: 'rtmp' }, player);
  const publisher = hub.publish(CAM, PUB);
  const slow = sinks.get('rtmp://slow.example/live/cam');
  const fast = sinks.get('rtmp://fast.example/live/cam');
  assert.ok(slow !== undefined && fast !== undefined);
  const sent: RtmpMessage[] = [meta(0), videoConfig(0), audioConfig(0)];
  // 12 GOPs of 1 s: a keyframe then 24 interframes at 25 fps, AAC frames between them.
  for (let gop = 0; gop < 12; gop++) {
    for (let i = 0; i < 25; i++) {
      const ts = gop * 1000 + i * 40;
      sent.push(i === 0 ? key(ts, 2000) : inter(ts, 300), audio(ts + 20));
    }
  }
  for (const [i, m] of sent.entries()) {
    if (i === 60) slow.congested = true; // from GOP 1 on, the slow destination takes nothing more
    publisher.write(m);
  }
  assert.deepEqual(fast.received, sent, 'the fast destination got every message, in order');
  assert.deepEqual(played, sent, 'a player got every message');
  assert.equal(hub.streams().find((s) => s.key === streamKeyString(CAM))?.messagesIn, sent.length);
  const [slowStats, fastStats] = statsOf(server);
  assert.ok(slowStats !== undefined && fastStats !== undefined);
  assert.equal(fastStats.dropped, 0);
  assert.equal(fastStats.messages, sent.length);
  assert.ok(slowStats.dropped > 400, `whole GOPs dropped: ${slowStats.dropped}`);
  assert.ok(slowStats.queued > 0 && slowStats.queued < 160, `the queue stays bounded by queue_length: ${slowStats.queued}`);
  assert.equal(slow.received.length, 61);

  // The slow destination catches up: the queue restarts with the sequence headers and a keyframe.
  slow.congested = false;
  slow.onWritable();
  assert.equal(statsOf(server)[0]?.queued, 0);
  const after = slow.received.slice(61);
  assert.deepEqual(after.slice(0, 4).map((m) => m.kind), ['metadata', 'video-config', 'audio-config', 'keyframe']);
  assertDecodable(slow.received, sent, 'slow destination');
  assert.equal(slow.received.at(-1), sent.at(-1), 'the newest GOP arrives whole');
  publisher.close();
  assert.deepEqual([slow.closedWith, fast.closedWith], ['unpublished', 'unpublished']);
  assert.deepEqual(server.stats(), {});
});

test('reconnect: the destination drops or goes down, retries back off, each connection gets metadata + sequence headers + the next keyframe', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  const { hub, server } = setup({ __defaultVhost__: [`127.0.0.1:${srv.port}`] }, { minBackoffMs: 50, maxBackoffMs: 200 });
  const publisher = hub.publish(CAM, { ...PUB, query: 'token=abc' });
  try {
    await waitFor(() => statsOf(server)[0]?.state === 'publishing', 2_000);
    assert.equal(statsOf(server)[0]?.url, `rtmp://127.0.0.1:${srv.port}/live/cam?token=abc`);
    assert.deepEqual(srv.events, ['publish cam?token=abc']);
    for (const m of [meta(0), videoConfig(0), audioConfig(0), key(40), inter(80), audio(90)]) publisher.write(m);
    await waitFor(() => srv.received[0]?.length === 6, 2_000);

    // The destination drops the connection: reconnect after 50 ms.
    srv.sockets[0]?.destroy();
    await waitFor(() => statsOf(server)[0]?.state !== 'publishing', 2_000);
    publisher.write(inter(120)); // mid-GOP while disconnected: useless without its keyframe
    await waitFor(() => statsOf(server)[0]?.state === 'publishing', 2_000);
    for (const m of [inter(160), audio(170), key(200), inter(240)]) publisher.write(m);
    await waitFor(() => (srv.received[1]?.length ?? 0) >= 5, 2_000);
    assert.deepEqual(srv.received[1], ['meta@0', 'video-config@0', 'audio-config@0', 'keyframe@200', 'interframe@240']);
    let s = statsOf(server)[0];
    assert.deepEqual([s?.connects, s?.attempts, s?.lastError], [2, 2, 'connection closed by the server']);
    assert.ok((s?.dropped ?? 0) >= 3, 'the frames before the keyframe were dropped');

    // The destination goes down: attempts back off 50, 100, 200, 200 ms ... then it comes back on the same port.
    const port = srv.port;
    await srv.close();
    const downAt = Date.now();
    await waitFor(() => (statsOf(server)[0]?.attempts ?? 0) >= 6, 3_000);
    const elapsed = Date.now() - downAt;
    assert.ok(elapsed >= 50 + 100 + 200 + 200 - 50, `4 retries took ${elapsed} ms: they back off`);
    s = statsOf(server)[0];
    assert.match(s?.lastError ?? '', /ECONNREFUSED/);
    assert.notEqual(s?.state, 'publishing');
    const again = new RecordingServer();
    await again.listen(port);
    try {
      const upAt = Date.now();
      await waitFor(() => statsOf(server)[0]?.state === 'publishing', 2_000);
      assert.ok(Date.now() - upAt <= 200 + 150, 'published again within one capped backoff');
      for (const m of [inter(280), key(320), audio(330)]) publisher.write(m);
      await waitFor(() => (again.received[0]?.length ?? 0) >= 5, 2_000);
      assert.deepEqual(again.received[0], ['meta@0', 'video-config@0', 'audio-config@0', 'keyframe@320', 'audio@330']);
      assert.equal(statsOf(server)[0]?.connects, 3);

      // Unpublish ends the push (FCUnpublish + deleteStream) and forgets the stream.
      publisher.close();
      await waitFor(() => again.events.includes('deleteStream'), 2_000);
      assert.deepEqual(server.stats(), {});
    } finally {
      await again.close();
    }
  } finally {
    publisher.close();
    server.close();
  }
});

test('forward backoff defaults to 1 s → 30 s (core/process Backoff)', () => {
  const seen: RtmpPushOptions[] = [];
  const { hub, server } = setup({ __defaultVhost__: ['192.0.2.1:1935'] }, {
    openPush: (o) => {
      seen.push(o);
      return new FakeSink(() => {});
    },
  });
  hub.publish(CAM, PUB).close();
  server.close();
  assert.deepEqual([seen[0]?.minBackoffMs, seen[0]?.maxBackoffMs], [FORWARD_MIN_BACKOFF_MS, FORWARD_MAX_BACKOFF_MS]);
  const b = new Backoff(FORWARD_MIN_BACKOFF_MS, FORWARD_MAX_BACKOFF_MS);
  assert.deepEqual(Array.from({ length: 8 }, () => b.next()), [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
});

/** A TCP relay to a server whose client → server direction can be stalled (a destination that stops reading). */
class StallingProxy {
  readonly server: Server;
  readonly clients: Socket[] = [];
  port = 0;

  constructor(targetPort: number) {
    this.server = createServer((client) => {
      const up = connect({ host: '127.0.0.1', port: targetPort });
      this.clients.push(client);
      client.on('data', (d: Buffer) => up.write(d));
      up.on('data', (d: Buffer) => client.write(d));
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
      client.on('error', () => {});
      up.on('error', () => {});
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    const a = this.server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
  }

  stall(): void {
    for (const c of this.clients) c.pause();
  }

  resume(): void {
    for (const c of this.clients) c.resume();
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

test('a destination that stops reading: its socket fills, the hub queue holds then drops GOPs, and drains once it reads again', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  const proxy = new StallingProxy(srv.port);
  await proxy.listen();
  const { hub, server } = setup({ __defaultVhost__: [`127.0.0.1:${proxy.port}`] }, { highWaterBytes: 256 * 1024, queueLengthMs: 1_000 });
  const publisher = hub.publish(CAM, PUB);
  const stats = (): ForwardStats => statsOf(server)[0] as ForwardStats;
  try {
    await waitFor(() => stats().state === 'publishing', 2_000);
    for (const m of [meta(0), videoConfig(0), audioConfig(0)]) publisher.write(m);
    await waitFor(() => srv.received[0]?.length === 3, 2_000);
    proxy.stall();
    // 200 KB frames, a keyframe every 5, until the socket is past its mark and the hub queue holds messages.
    let ts = 0;
    const frame = (): RtmpMessage => {
      ts += 40;
      return ts % 200 === 40 ? key(ts, 200_000) : inter(ts, 200_000);
    };
    for (let i = 0; i < 1000 && stats().queued === 0; i++) {
      publisher.write(frame());
      await new Promise((ok) => setImmediate(ok));
    }
    assert.ok(stats().queued > 0, 'congested: the hub queue holds what the socket cannot take');
    for (let i = 0; i < 60; i++) publisher.write(frame()); // 2.4 s of media more than the 1 s queue_length
    assert.ok(stats().dropped >= 25, `whole GOPs dropped: ${stats().dropped}`);
    assert.ok(stats().queued <= 35, `queue bounded: ${stats().queued}`);
    const sentBefore = stats().messages;

    proxy.resume();
    await waitFor(() => stats().queued === 0 && stats().messages > sentBefore, 5_000);
    const last = frame();
    publisher.write(last);
    await waitFor(() => srv.received[0]?.at(-1) === `interframe@${last.timestamp}` || srv.received[0]?.at(-1) === `keyframe@${last.timestamp}`, 5_000);
    const afterStall = srv.received[0]?.slice(3) ?? [];
    assert.equal(afterStall[0]?.startsWith('keyframe@'), true);
    assert.ok(afterStall.includes('meta@0'), 'the queue restarted with the metadata and sequence headers');
    assert.equal(stats().state, 'publishing');
  } finally {
    publisher.close();
    server.close();
    await proxy.close();
    await srv.close();
  }
});

test('loops: this gateway with the same stream is refused; another vhost is published in-process once; errors stay per destination', () => {
  const { hub, server } = setup(
    {
      __defaultVhost__: ['127.0.0.1:1935', '127.0.0.1?vhost=backup', '192.0.2.7:1935', 'rtmp://h:99999/live/x'],
      backup: ['localhost:1935?vhost=__defaultVhost__', '127.0.0.1:1935?vhost=third'],
    },
    { rtmpPorts: [1935], ownAddresses: ['192.0.2.7'], openPush: () => new FakeSink(() => {}) },
  );
  const publisher = hub.publish(CAM, PUB);
  const backup = makeStreamKey('backup', 'live', 'cam');
  try {
    const main = statsOf(server);
    assert.deepEqual(main.map((s) => [s.state, s.local]), [['loop', true], ['publishing', true], ['loop', true], ['error', false]]);
    assert.match(main[0]?.lastError ?? '', /same stream __defaultVhost__\/live\/cam: a forward loop/);
    assert.equal(main[1]?.url, 'rtmp://127.0.0.1:1935/live/cam?vhost=backup');
    assert.match(main[3]?.lastError ?? '', /not a URL/);
    assert.equal(hub.isPublishing(backup), true, 'published in-process under the other vhost');
    // The backup stream came in through a forward of this gateway: not forwarded into it again (not even elsewhere in it).
    assert.deepEqual(statsOf(server, backup).map((s) => s.state), ['loop', 'loop']);
    assert.equal(hub.isPublishing(makeStreamKey('third', 'live', 'cam')), false);

    const got: RtmpMessage[] = [];
    hub.subscribe(backup, { id: 'rtmp-3', protocol: 'rtmp' }, { send: (m) => (got.push(m), true) });
    const k = key(40);
    publisher.write(k);
    assert.deepEqual(got.map((m) => m.timestamp), [40], 'the forwarded stream plays on the backup vhost');
    assert.equal(statsOf(server)[1]?.messages, 1);
  } finally {
    publisher.close();
  }
  assert.equal(hub.isPublishing(backup), false, 'unpublished with its source');
  assert.deepEqual(server.stats(), {});

  // A stream published on backup by a user goes to the default vhost in-process, and stops there.
  const user = hub.publish(backup, { id: 'rtmp-9', protocol: 'rtmp' });
  assert.deepEqual(statsOf(server, backup).map((s) => s.state), ['publishing', 'publishing']);
  assert.deepEqual(statsOf(server).map((s) => s.state), ['loop', 'loop', 'loop', 'error']);
  assert.match(statsOf(server)[1]?.lastError ?? '', /itself forwarded in by this gateway/);
  user.close();
  assert.deepEqual([hub.isPublishing(CAM), hub.isPublishing(makeStreamKey('third', 'live', 'cam'))], [false, false]);
  assert.deepEqual(server.stats(), {});
  server.close();
});

test('an in-process destination whose key is already published fails alone; the other destinations go on', () => {
  const sinks: FakeSink[] = [];
  const { hub, server } = setup({ __defaultVhost__: ['127.0.0.1?vhost=third', 'rtmp://cdn.example/live/[stream]'] }, {
    rtmpPorts: [1935],
    openPush: (o) => {
      const sink = new FakeSink(o.onWritable ?? (() => {}));
      sinks.push(sink);
      return sink;
    },
  });
  const other = hub.publish(makeStreamKey('third', 'live', 'cam'), { id: 'rtmp-9', protocol: 'rtmp' });
  const publisher = hub.publish(CAM, PUB);
  assert.deepEqual(statsOf(server).map((s) => s.state), ['error', 'publishing']);
  assert.match(statsOf(server)[0]?.lastError ?? '', /already published by rtmp-9/);
  publisher.write(key(0));
  assert.equal(sinks[0]?.received.length, 1);
  publisher.close();
  other.close();
  server.close();
  assert.equal(sinks[0]?.closedWith, 'unpublished');
});
