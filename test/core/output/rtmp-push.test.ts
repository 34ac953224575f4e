import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RtmpPushPublisher, remotePublishPort, rtmpPushTarget } from '../../../core/output/rtmp-push.ts';
import { makeStreamKey } from '../../../core/media/stream-key.ts';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import { waitFor } from '../../helpers/peers.ts';
import { audio, audioConfig, inter, key, meta, RecordingServer, videoConfig } from '../../helpers/rtmp-recording-server.ts';

const log = pino({ level: 'silent' });

test('rtmpPushTarget: tcUrl, app, stream name with its query', () => {
  const t = rtmpPushTarget('rtmp://example.com/live/sub/cam1?token=abc');
  assert.deepEqual(
    { host: t.host, port: t.port, tcUrl: t.tcUrl, app: t.app, streamName: t.streamName },
    { host: 'example.com', port: 1935, tcUrl: 'rtmp://example.com:1935/live/sub', app: 'live/sub', streamName: 'cam1?token=abc' },
  );
  assert.throws(() => rtmpPushTarget('http://x/live/s'), (e) => isGatewayError(e, ErrorCode.StreamKeyInvalid));
});

test('buffers until Publish.Start: configs, then the messages since the last keyframe; timestamps as received', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  srv.hold = true;
  const p = new RtmpPushPublisher({ url: srv.url(), log });
  try {
    await waitFor(() => srv.events.includes('publish pushed'), 2_000);
    for (const msg of [meta(0), videoConfig(0), audioConfig(0), audio(5), inter(10), key(40), inter(80), key(120), audio(121), inter(160)]) p.write(msg);
    assert.equal(p.publishing, false);
    srv.release();
    await waitFor(() => p.publishing, 2_000);
    p.write(inter(200));
    p.write(audio(201));
    await waitFor(() => srv.received[0].length >= 8, 2_000);
    assert.deepEqual(srv.received[0], ['meta@0', 'video-config@0', 'audio-config@0', 'keyframe@120', 'audio@121', 'interframe@160', 'interframe@200', 'audio@201']);
  } finally {
    p.close();
    await srv.close();
  }
});

test('a GOP over the byte cap is dropped while waiting; media resumes at the next keyframe', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  srv.hold = true;
  const p = new RtmpPushPublisher({ url: srv.url(), log, maxBufferBytes: 1000 });
  try {
    await waitFor(() => srv.events.includes('publish pushed'), 2_000);
    for (const msg of [videoConfig(0), key(40, 2000), inter(80)]) p.write(msg);
    assert.equal(p.stats().bufferedBytes, 0, 'nothing held beyond the cap');
    srv.release();
    await waitFor(() => p.publishing, 2_000);
    for (const msg of [inter(120), audio(130), key(160), inter(200)]) p.write(msg);
    await waitFor(() => srv.received[0].length >= 3, 2_000);
    assert.deepEqual(srv.received[0], ['video-config@0', 'keyframe@160', 'interframe@200']);
    assert.ok(p.stats().droppedMessages >= 3);
  } finally {
    p.close();
    await srv.close();
  }
});

test('reconnects after the server drops the connection: configs again, then from the next keyframe', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  const p = new RtmpPushPublisher({ url: srv.url(), log, minBackoffMs: 50, maxBackoffMs: 100 });
  try {
    await waitFor(() => p.publishing, 2_000);
    for (const msg of [meta(0), videoConfig(0), audioConfig(0), key(40), inter(80)]) p.write(msg);
    await waitFor(() => srv.received[0].length >= 5, 2_000);
    srv.sockets[0].destroy();
    await waitFor(() => !p.publishing, 2_000);
    p.write(inter(120)); // mid-GOP while disconnected: useless without its keyframe
    await waitFor(() => p.publishing, 2_000);
    for (const msg of [inter(160), audio(170), key(200), inter(240)]) p.write(msg);
    await waitFor(() => (srv.received[1]?.length ?? 0) >= 5, 2_000);
    assert.deepEqual(srv.received[1], ['meta@0', 'video-config@0', 'audio-config@0', 'keyframe@200', 'interframe@240']);
    assert.equal(p.stats().connects, 2);
  } finally {
    p.close();
    await srv.close();
  }
});

test('keeps retrying with backoff while the server is down, and publishes once it is up', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  const port = srv.port;
  await srv.close();
  const p = new RtmpPushPublisher({ url: `rtmp://127.0.0.1:${port}/live/pushed`, log, minBackoffMs: 50, maxBackoffMs: 100 });
  try {
    await waitFor(() => p.stats().connects >= 3, 2_000);
    const again = new RecordingServer();
    await new Promise<void>((ok) => again.server.listen(port, '127.0.0.1', ok));
    try {
      await waitFor(() => p.publishing, 2_000);
    } finally {
      p.close();
      await again.close();
    }
  } finally {
    p.close();
  }
});

test('close(): FCUnpublish + deleteStream, idempotent; remotePublishPort publish/isPublishing/subscribe', async () => {
  const srv = new RecordingServer();
  await srv.listen();
  const port = remotePublishPort(srv.url(), log);
  const k = makeStreamKey('__defaultVhost__', 'live', 'pushed');
  const who = { id: 'udp-1', protocol: 'mpegts_over_udp' };
  assert.equal(port.isPublishing(k), false);
  const p = port.publish(k, who) as RtmpPushPublisher;
  try {
    assert.equal(port.isPublishing(k), true);
    assert.throws(() => port.publish(k, who), (e) => isGatewayError(e, ErrorCode.StreamBusy));
    assert.throws(() => port.subscribe(k, who, { send: () => true }), (e) => isGatewayError(e, ErrorCode.CasterOutput) && /cannot be played/.test(e.message));
    await waitFor(() => p.publishing, 2_000);
    p.close('done');
    p.close('again');
    p.write(key(0)); // ignored, never throws
    assert.equal(port.isPublishing(k), false);
    await waitFor(() => srv.events.includes('deleteStream'), 2_000);
    assert.deepEqual(srv.events, ['publish pushed', 'FCUnpublish', 'deleteStream']);
    const next = port.publish(k, who); // the key is free again
    next.close();
  } finally {
    p.close();
    await srv.close();
  }
});
