/**
 * RtmpServer with an Admission and a ConnectionAdmission: publish and play wait for them; a refused publish gets
 * NetStream.Publish.BadName and a refused play NetStream.Play.StreamNotFound, then the connection closes and the
 * hub never sees the session; messages sent while the publish is being admitted are kept; a refused on_connect
 * closes the connection before any publish is asked; on_close gets the socket's byte counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ErrorCode, GatewayError } from '../../../core/errors.ts';
import type { Admission, AdmissionRequest, ConnectionAdmission, ConnectionInfo } from '../../../core/hub/ports.ts';
import { RtmpServer } from '../../../core/output/rtmp-server.ts';
import { RtmpTypeId } from '../../../core/protocol/rtmp/chunk-reader.ts';
import { encodeChunks } from '../../../core/protocol/rtmp/chunk-writer.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { waitFor } from '../../helpers/peers.ts';
import { RtmpTestClient } from '../../helpers/rtmp-test-client.ts';
import { videoConfig } from '../hub/hub-vectors.ts';

type Verdict = 'allow' | 'security' | 'hook';

interface Gate extends Admission, ConnectionAdmission {
  readonly asked: AdmissionRequest[];
  readonly connects: ConnectionInfo[];
  readonly closes: { info: ConnectionInfo; sendBytes: number; recvBytes: number }[];
  verdict: Verdict;
  connectVerdict: Verdict;
  delayMs: number;
}

function gate(): Gate {
  const refusal = (v: Verdict): Error | undefined =>
    v === 'security' ? new GatewayError(ErrorCode.SecurityDenied, 'denied by rule (test)') : v === 'hook' ? new GatewayError(ErrorCode.HookRejected, 'on_x code 1 (test)') : undefined;
  const g: Gate = {
    asked: [],
    connects: [],
    closes: [],
    verdict: 'allow',
    connectVerdict: 'allow',
    delayMs: 0,
    async admit(req) {
      g.asked.push(req);
      await new Promise((ok) => setTimeout(ok, g.delayMs));
      const err = refusal(g.verdict);
      if (err !== undefined) throw err;
    },
    async connect(info) {
      g.connects.push(info);
      const err = refusal(g.connectVerdict);
      if (err !== undefined) throw err;
    },
    disconnect(info, sendBytes, recvBytes) {
      g.closes.push({ info, sendBytes, recvBytes });
    },
  };
  return g;
}

async function start(g: Gate): Promise<{ server: RtmpServer; hub: FakeHub; port: number }> {
  const hub = fakeHub();
  const server = new RtmpServer({ hub, listen: [{ host: '127.0.0.1', port: 0 }], maxConnections: 10, log: pino({ level: 'silent' }), admission: g, connections: g });
  await server.start();
  return { server, hub, port: server.ports[0] as number };
}

function publishCommands(c: RtmpTestClient, port: number, name: string): void {
  c.command(['connect', 1, { app: 'live', tcUrl: `rtmp://127.0.0.1:${port}/live?vhost=v1`, pageUrl: 'http://page.example/' }]);
  c.command(['createStream', 2, null]);
  c.command(['publish', 3, null, name, 'live'], 1);
}

test('a refused publish gets NetStream.Publish.BadName and the connection closes; the hub never sees it', async () => {
  const g = gate();
  const { server, hub, port } = await start(g);
  try {
    for (const v of ['security', 'hook'] as const) {
      g.verdict = v;
      const c = new RtmpTestClient(port);
      publishCommands(c, port, 'cam?token=bad');
      await c.closed;
      assert.deepEqual(c.statusCodes(), ['NetStream.Publish.BadName'], v);
    }
    assert.deepEqual(hub.events, []);
    const req = g.asked.at(-1);
    assert.deepEqual([req?.action, req?.key.stream, req?.key.vhost, req?.who.query, req?.tcUrl, req?.pageUrl], ['publish', 'cam', 'v1', 'token=bad', `rtmp://127.0.0.1:${port}/live?vhost=v1`, 'http://page.example/']);
  } finally {
    await server.close();
  }
});

test('a refused play gets NetStream.Play.StreamNotFound and the connection closes', async () => {
  const g = gate();
  g.verdict = 'hook';
  const { server, hub, port } = await start(g);
  try {
    const c = RtmpTestClient.player(port, 'live', 'cam?k=1');
    await c.closed;
    assert.deepEqual(c.statusCodes(), ['NetStream.Play.StreamNotFound']);
    assert.deepEqual(hub.events, []);
    assert.equal(g.asked[0]?.who.query, 'k=1');
  } finally {
    await server.close();
  }
});

test('messages sent while the publish is being admitted are published once it is admitted', async () => {
  const g = gate();
  g.delayMs = 300;
  const { server, hub, port } = await start(g);
  const c = new RtmpTestClient(port);
  try {
    publishCommands(c, port, 'cam');
    await waitFor(() => c.messages.length > 0 && g.asked.length === 1, 3000); // handshake over, publish being admitted
    const config = videoConfig(0);
    c.socket.write(encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: RtmpTypeId.Video, timestampMs: 0 }, Buffer.from(config.payload), 128));
    assert.deepEqual(c.statusCodes(), [], 'not started before the admission answers');
    await waitFor(() => c.statusCodes().includes('NetStream.Publish.Start'), 3000);
    await waitFor(() => (hub.published.get('v1/live/cam')?.length ?? 0) === 1, 3000);
    assert.equal(hub.published.get('v1/live/cam')?.[0]?.kind, 'video-config');
  } finally {
    c.close();
    await server.close();
  }
});

test('on_connect refused: closed before any publish is asked, no on_close; allowed: on_close with byte counts', async () => {
  const g = gate();
  g.connectVerdict = 'hook';
  const { server, hub, port } = await start(g);
  try {
    const refused = new RtmpTestClient(port);
    publishCommands(refused, port, 'cam');
    await refused.closed;
    assert.equal(g.connects.length, 1);
    assert.equal(g.asked.length, 0);
    assert.deepEqual(hub.events, []);
    assert.equal(g.closes.length, 0);
    g.connectVerdict = 'allow';
    const ok = new RtmpTestClient(port);
    publishCommands(ok, port, 'cam');
    await waitFor(() => ok.statusCodes().includes('NetStream.Publish.Start'), 3000);
    const info = g.connects.at(-1);
    assert.deepEqual([info?.vhost, info?.app, info?.pageUrl, info?.who.query], ['v1', 'live', 'http://page.example/', 'vhost=v1']);
    ok.close();
    await waitFor(() => g.closes.length === 1, 3000);
    assert.ok((g.closes[0]?.recvBytes ?? 0) > 1536 * 2 && (g.closes[0]?.sendBytes ?? 0) > 1536 * 2, JSON.stringify(g.closes[0]));
  } finally {
    await server.close();
  }
});
