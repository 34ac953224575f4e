/**
 * ClientRegistry.attachClient: players the hub does not feed (HLS viewers) are listed after their source's hub
 * clients, kicked by id (detached first, then told once), keep their source (and its stream id) while attached,
 * and are ended when the hub closes. Through Statistics they are clients even with an internal output's protocol.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import type { AttachedClient } from '../../../core/hub/ports.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { Statistics } from '../../../core/stats/statistics.ts';
import { CaptureTarget, keyframe, silentLog, videoConfig } from './hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam1' };

function makeHub(): SourceHub {
  return new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
}

/** An attached client whose byte count the test moves and whose kicks it records. */
function viewer(id: string, protocol = 'hls'): AttachedClient & { bytes: number; kicks: string[] } {
  const c = {
    who: { id, protocol, remote: '10.0.0.7:4000' },
    key: KEY,
    bytes: 0,
    kicks: [] as string[],
    sendBytes: () => c.bytes,
    kick: (reason: string) => {
      c.kicks.push(reason);
    },
  };
  return c;
}

test('attached clients are listed after the hub clients of their source, with live send bytes; detach is idempotent', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' });
  hub.subscribe(KEY, { id: 'http-flv-2', protocol: 'http-flv' }, new CaptureTarget());
  const v = viewer('hls-3');
  const before = Date.now();
  const detach = hub.attachClient(v);
  pub.write(videoConfig(0));
  pub.write(keyframe(0));
  v.bytes = 1234;
  const clients = hub.clients();
  const stream = hub.streams()[0];
  assert.ok(stream !== undefined);
  assert.deepEqual(clients.map((c) => [c.who.id, c.publish, c.attached === true, c.streamId === stream.id]), [
    ['rtmp-1', true, false, true], ['http-flv-2', false, false, true], ['hls-3', false, true, true],
  ]);
  const a = clients[2];
  assert.ok(a !== undefined);
  assert.deepEqual([a.sendBytes, a.recvBytes, a.droppedMessages], [1234, 0, 0]);
  assert.ok(a.sinceMs >= before && a.sinceMs <= Date.now());
  assert.equal(stream.consumers, 1, 'not a hub consumer');
  detach();
  detach();
  assert.deepEqual(hub.clients().map((c) => c.who.id), ['rtmp-1', 'http-flv-2']);
  assert.deepEqual(v.kicks, [], 'a detach is not a kick');
});

test('kick(id) detaches the attached client, then tells it once; a kick that throws is logged, not thrown', () => {
  const hub = makeHub();
  hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' });
  const v = viewer('hls-3');
  const other = viewer('hls-4');
  const detach = hub.attachClient(v);
  hub.attachClient(other);
  const listedDuringKick: string[][] = [];
  v.kick = (reason) => {
    v.kicks.push(reason);
    listedDuringKick.push(hub.clients().map((c) => c.who.id));
  };
  assert.equal(hub.kick('hls-3', 'kicked by the HTTP API'), true);
  assert.deepEqual(v.kicks, ['kicked by the HTTP API']);
  assert.deepEqual(listedDuringKick, [['rtmp-1', 'hls-4']], 'already detached when told');
  assert.equal(hub.kick('hls-3', 'again'), false);
  detach(); // the session's own cleanup after the kick: harmless
  assert.deepEqual(other.kicks, []);
  other.kick = () => {
    throw new Error('boom');
  };
  assert.equal(hub.kick('hls-4', 'kicked'), true);
  assert.deepEqual(hub.clients().map((c) => c.who.id), ['rtmp-1']);
});

test('an attached client keeps its source (same stream id) across an unpublish; the last detach lets it be reaped', () => {
  const hub = makeHub();
  const pub = hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' });
  const detach = hub.attachClient(viewer('hls-3'));
  const id = hub.streams()[0]?.id;
  pub.close('publisher left');
  assert.deepEqual(hub.streams().map((s) => s.id), [id], 'kept while a viewer is attached (linger 0)');
  const pub2 = hub.publish(KEY, { id: 'rtmp-2', protocol: 'rtmp' });
  assert.equal(hub.streams()[0]?.id, id, 'the republish is the same stream');
  pub2.close('gone');
  detach();
  assert.deepEqual(hub.streams(), [], 'reaped with the last attached client');
  const detach2 = hub.attachClient(viewer('hls-5'));
  assert.equal(hub.streams().length, 1, 'attaching creates the source');
  detach2();
  assert.deepEqual(hub.streams(), []);
});

test('close() ends attached clients with "gateway stopping"; attaching to a closed hub throws StreamBusy', () => {
  const hub = makeHub();
  const v = viewer('hls-3');
  hub.attachClient(v);
  hub.close();
  assert.deepEqual(v.kicks, ['gateway stopping']);
  assert.deepEqual(hub.clients(), []);
  assert.throws(() => hub.attachClient(viewer('hls-4')), (e) => isGatewayError(e) && e.code === ErrorCode.StreamBusy);
});

test('Statistics: an attached `hls` viewer is a client (type hls-play) although the HLS muxer consumer is not; kickable', () => {
  const hub = makeHub();
  const stats = new Statistics({ hub, vhosts: () => [], version: '0' });
  hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp' });
  hub.subscribe(KEY, { id: 'hls-muxer-1', protocol: 'hls' }, new CaptureTarget());
  const v = viewer('hls-7');
  v.bytes = 500;
  hub.attachClient(v);
  const listed = stats.clients().map((c) => [c.id, c.type, c.protocol, c.send_bytes, c.ip]);
  assert.deepEqual(listed, [['rtmp-1', 'fmle-publish', 'rtmp', 0, ''], ['hls-7', 'hls-play', 'hls', 500, '10.0.0.7']]);
  assert.equal(stats.streams()[0]?.clients, 2);
  assert.equal(stats.kick('hls-muxer-1'), false, 'an internal output is not kicked');
  assert.equal(stats.kick('hls-7'), true);
  assert.deepEqual(v.kicks, ['kicked by the HTTP API']);
});
