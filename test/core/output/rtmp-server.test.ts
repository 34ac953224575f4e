/**
 * RTMP server end to end on 127.0.0.1 port 0 with real peers (ffmpeg, ffprobe, rtmpdump, GStreamer rtmp2sink /
 * rtmp2src) and an in-process socket client (test/helpers/rtmp-test-client.ts), against the fake hub
 * (test/helpers/fake-hub.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { RtmpServer, type RtmpServerOptions } from '../../../core/output/rtmp-server.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { probeStreams, run, startProcess, waitFor } from '../../helpers/peers.ts';
import { RtmpTestClient } from '../../helpers/rtmp-test-client.ts';
import { RtmpTypeId } from '../../../core/protocol/rtmp/chunk-reader.ts';
import { decodeAmf0 } from '../../../core/protocol/amf0.ts';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'x' };

interface LogLine {
  level: number;
  msg: string;
  conn?: string;
}

async function startServer(opts: Partial<RtmpServerOptions> = {}): Promise<{ server: RtmpServer; hub: FakeHub; port: number; logs: LogLine[] }> {
  const hub = fakeHub();
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) });
  const server = new RtmpServer({ hub, listen: [{ host: '127.0.0.1', port: 0 }], maxConnections: 20, log, ...opts });
  await server.start();
  return { server, hub, port: server.ports[0], logs };
}

function ffmpegPublish(port: number, seconds: number, stream = 'x'): ReturnType<typeof startProcess> {
  return startProcess('ffmpeg', [
    '-nostdin', '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-t', String(seconds), '-c:v', 'libx264', '-g', '25', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${stream}`,
  ], { timeoutMs: seconds * 1000 + 20_000 });
}

const published = (hub: FakeHub): RtmpMessage[] => hub.published.get('__defaultVhost__/live/x') ?? [];

/** Resolves when the socket is closed by the server. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

test('ffmpeg publishes; ffmpeg plays cleanly; ffprobe sees h264 320x240 + aac; a second publisher is refused; garbage closes only its connection', { timeout: 40_000 }, async () => {
  const { server, hub, port, logs } = await startServer();
  const publisher = ffmpegPublish(port, 5);
  try {
    await waitFor(() => published(hub).some((m) => m.kind === 'keyframe'), 15_000);
    const kinds = new Set(published(hub).map((m) => m.kind));
    for (const k of ['metadata', 'video-config', 'audio-config', 'keyframe']) assert.ok(kinds.has(k as never), `published ${k}`);
    const meta = published(hub).find((m) => m.kind === 'metadata') as RtmpMessage;
    assert.equal(decodeAmf0(meta.payload)[0], 'onMetaData', '@setDataFrame stripped');

    const garbage = connect(port, '127.0.0.1');
    garbage.on('error', () => {});
    garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

    const [play, streams, second] = await Promise.all([
      run('ffmpeg', ['-nostdin', '-v', 'error', '-i', `rtmp://127.0.0.1:${port}/live/x`, '-t', '2', '-f', 'null', '-'], { timeoutMs: 20_000 }),
      probeStreams(`rtmp://127.0.0.1:${port}/live/x`),
      run('ffmpeg', ['-nostdin', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '3', '-c:v', 'libx264', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/x`], { timeoutMs: 20_000 }),
      closed(garbage),
    ]);
    assert.equal(play.code, 0, play.stderr);
    assert.equal(play.stderr.trim(), '', 'player printed no error line');
    assert.deepEqual(
      streams.map((s) => [s.codec_type, s.codec_name, s.width, s.height]),
      [
        ['video', 'h264', 320, 240],
        ['audio', 'aac', undefined, undefined],
      ],
    );
    assert.notEqual(second.code, 0, 'second publisher refused');
    assert.match(second.stderr, /already being published/);
    assert.ok(logs.some((l) => l.msg.startsWith('RTMP protocol error') && l.conn !== undefined), 'garbage logged with its connection id');

    const countAfterRefusal = published(hub).length;
    const first = await publisher.exited;
    assert.equal(first.code, 0, first.stderr);
    assert.ok(published(hub).length > countAfterRefusal + 25, 'the first publisher kept streaming');
    assert.ok(published(hub).every((m) => m.payload[0] !== undefined));
    await waitFor(() => hub.events.some((e) => e.startsWith('unpublish __defaultVhost__/live/x')), 5_000);
    assert.equal(hub.events.filter((e) => e.startsWith('publish')).length, 1);
  } finally {
    await publisher.stop();
    await server.close();
  }
});

test('rtmpdump (librtmp digest handshake) and GStreamer rtmp2sink/rtmp2src interoperate', { timeout: 40_000 }, async () => {
  const { server, hub, port } = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'castgate-rtmp-'));
  const pipeline =
    'videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=320,height=240,framerate=25/1 ! x264enc tune=zerolatency key-int-max=25' +
    ' ! h264parse ! queue ! m. audiotestsrc is-live=true num-buffers=260 ! audioconvert ! avenc_aac ! aacparse ! queue ! m.' +
    ` flvmux name=m streamable=true ! rtmp2sink location=rtmp://127.0.0.1:${port}/live/x`;
  const gstPush = startProcess('gst-launch-1.0', ['-q', '-e', ...pipeline.split(' ')], { timeoutMs: 30_000 });
  try {
    await waitFor(() => published(hub).some((m) => m.kind === 'keyframe'), 15_000);
    const dumpFile = join(dir, 'rtmpdump.flv');
    const gstFile = join(dir, 'gst.flv');
    const [dump, gstPull] = await Promise.all([
      run('timeout', ['2', 'rtmpdump', '-q', '--live', '-r', `rtmp://127.0.0.1:${port}/live/x`, '-o', dumpFile], { timeoutMs: 10_000 }),
      run('timeout', ['-s', 'INT', '2', 'gst-launch-1.0', '-q', '-e', 'rtmp2src', `location=rtmp://127.0.0.1:${port}/live/x`, '!', 'filesink', `location=${gstFile}`], { timeoutMs: 10_000 }),
    ]);
    assert.equal(dump.code, 124, `rtmpdump ran until the timeout: ${dump.stderr}`);
    assert.notEqual(gstPull.code, 1, gstPull.stderr);
    for (const file of [dumpFile, gstFile]) {
      const codecs = (await probeStreams(file)).map((s) => `${s.codec_name}${s.width === undefined ? '' : ` ${s.width}x${s.height}`}`);
      assert.ok(codecs.includes('h264 320x240') && codecs.includes('aac'), `${file}: ${codecs.join(', ')}`);
    }
    const pushed = await gstPush.exited;
    assert.equal(pushed.code, 0, pushed.stderr);
  } finally {
    await gstPush.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A minimal in-process RTMP client over TCP (simple handshake). */
test('player gets Play.Start, publish/unpublish notifications, and is resumed after socket backpressure', { timeout: 20_000 }, async () => {
  const { server, hub, port } = await startServer();
  const player = new RtmpTestClient(port);
  try {
    await player.connectAndPlay(`rtmp://127.0.0.1:${port}/live`, 'x?token=abc');
    assert.deepEqual(player.statusCodes(), ['NetStream.Play.Reset', 'NetStream.Play.Start']);
    assert.equal(server.stats().players, 1);
    player.socket.pause(); // stop reading: the server's socket fills up
    const pub = hub.publish(KEY, { id: 'test', protocol: 'test' });
    const big = Buffer.alloc(256 * 1024, 0);
    big[0] = 0x17;
    big[1] = 1;
    for (let i = 0; i < 40; i++) pub.write(createMessage(MessageType.Video, i * 40, big) as RtmpMessage);
    pub.close('done');
    player.socket.resume();
    // The fake hub tells the player about the unpublish at once (the real hub's consumer defers it behind queued
    // media), so wait for both: every queued message and the notification.
    await waitFor(
      () => player.statusCodes().includes('NetStream.Play.UnpublishNotify') && player.messages.filter((m) => m.typeId === RtmpTypeId.Video).length >= 40,
      10_000,
    );
    const videos = player.messages.filter((m) => m.typeId === RtmpTypeId.Video);
    assert.equal(videos.length, 40, 'every queued message was delivered after drain');
    assert.deepEqual(videos.map((m) => m.timestampMs).slice(0, 3), [0, 40, 80]);
    assert.ok(player.statusCodes().includes('NetStream.Play.PublishNotify'));
  } finally {
    player.socket.destroy();
    await server.close();
  }
});

test('connect to a vhost that is not allowed is rejected; maxConnections refuses the extra connection', { timeout: 20_000 }, async () => {
  const { server, port } = await startServer({ vhostAllowed: (v) => v !== 'blocked', maxConnections: 1 });
  const a = new RtmpTestClient(port);
  try {
    a.command(['connect', 1, { app: 'live', tcUrl: `rtmp://127.0.0.1:${port}/live` }]);
    await waitFor(() => a.messages.some((m) => m.typeId === RtmpTypeId.CommandAmf0), 5_000);
    const b = connect(port, '127.0.0.1');
    b.on('error', () => {});
    const t0 = Date.now();
    await closed(b);
    assert.ok(Date.now() - t0 < 2_000, 'the connection over maxConnections is closed at once');
    assert.equal(server.stats().connections, 1);
  } finally {
    a.socket.destroy();
    await server.close();
  }
  const second = await startServer({ vhostAllowed: (v) => v !== 'blocked' });
  const c = new RtmpTestClient(second.port);
  try {
    c.command(['connect', 1, { app: 'live', tcUrl: `rtmp://127.0.0.1:${second.port}/live?vhost=blocked` }]);
    await waitFor(() => c.statusCodes().length > 0, 5_000);
    assert.deepEqual(c.statusCodes(), ['NetConnection.Connect.Rejected']);
    await c.closed;
  } finally {
    c.socket.destroy();
    await second.server.close();
  }
});

test('start() on a busy port rejects with GW_ERR_LISTEN; close() unpublishes, ends players and is idempotent', { timeout: 20_000 }, async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const busyPort = (blocker.address() as { port: number }).port;
  const log = pino({ level: 'silent' });
  const busy = new RtmpServer({ hub: fakeHub(), listen: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: busyPort }], maxConnections: 1, log });
  await assert.rejects(busy.start(), (e) => isGatewayError(e, ErrorCode.Listen));
  blocker.close();

  const { server, hub, port } = await startServer();
  const publisher = new RtmpTestClient(port);
  publisher.command(['connect', 1, { app: 'live', tcUrl: `rtmp://127.0.0.1:${port}/live` }]);
  publisher.command(['createStream', 2, null]);
  publisher.command(['publish', 3, null, 'x', 'live'], 1);
  await waitFor(() => publisher.statusCodes().includes('NetStream.Publish.Start'), 5_000);
  assert.deepEqual(server.stats(), { connections: 1, publishers: 1, players: 0 });
  await Promise.all([server.close(), server.close()]);
  await publisher.closed;
  assert.ok(hub.events.some((e) => e.startsWith('unpublish __defaultVhost__/live/x')));
  assert.deepEqual(server.stats(), { connections: 0, publishers: 0, players: 0 });
});

test('handshake deadline: a connection that connects but neither publishes nor plays is closed; a player is not; refusals at maxConnections are one warning with a count', { timeout: 20_000 }, async () => {
  const { server, port, logs } = await startServer({ handshakeTimeoutMs: 600, maxConnections: 3 });
  const idle = connect(port, '127.0.0.1');
  idle.on('error', () => {});
  const connectedOnly = new RtmpTestClient(port);
  const player = new RtmpTestClient(port);
  try {
    connectedOnly.command(['connect', 1, { app: 'live', tcUrl: `rtmp://127.0.0.1:${port}/live` }]);
    await player.connectAndPlay(`rtmp://127.0.0.1:${port}/live`, 'x');
    const refused = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    for (const r of refused) r.on('error', () => {});
    await Promise.all(refused.map((r) => closed(r)));
    const t0 = Date.now();
    await Promise.all([closed(idle), connectedOnly.closed]);
    assert.ok(Date.now() - t0 < 2_000, 'idle and connect-only connections closed by the 600 ms deadline');
    assert.equal(server.stats().connections, 1, 'the player stays');
    assert.equal(server.stats().players, 1);
    const warnings = logs.filter((l) => l.msg.includes('RTMP connections refused: max_connections 3 reached'));
    assert.equal(warnings.length, 1, 'one rate-limited warning for both refusals');
  } finally {
    idle.destroy();
    connectedOnly.socket.destroy();
    player.socket.destroy();
    await server.close();
  }
});
