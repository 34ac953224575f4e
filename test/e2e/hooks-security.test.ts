/**
 * http_hooks and security end to end (issue 11): a local hook server that records SRS 5 bodies and allows or
 * refuses; ffmpeg publishing over RTMP, HTTP-FLV / WebSocket-FLV / HLS players over 127.0.0.1 and ::1.
 * - default vhost: every hook; publish allowed (on_connect, on_publish with ip 127.0.0.1 and ?token=..., players,
 *   then on_unpublish / on_close / on_dvr / on_hls after ffmpeg ends) and refused (on_publish code 1, on_connect
 *   HTTP 500: ffmpeg fails, nothing published, no on_unpublish); HTTP-FLV and WebSocket 403 when on_play refuses;
 *   HLS: one on_play per session (not per playlist reload), 403 when refused, listed in /api/v1/clients (protocol
 *   hls) and ended by DELETE /api/v1/clients/{id} with on_stop (the idle end: test/core/output/hls/hls-sessions.test.ts);
 * - vhost sec.test: `deny play 127.0.0.1; allow play all; allow publish ::1;` over both loopbacks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config/config.ts';
import { createLogger } from '../../core/log.ts';
import { startGateway, type Gateway } from '../../core/main.ts';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { fixture, freeTcpPort, publishRtmp, run, waitFor, type Running } from '../helpers/peers.ts';
import { ALLOW, DENY_500, DENY_CODE, DENY_NEWLINE, startHookServer, type HookServer } from '../helpers/hook-server.ts';

const FLV = fixture('flv/h264-aac-320x240-10s.flv');
const QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];

let hooks: HookServer;
let gw: Gateway;
let dir: string;
let rtmpPort: number;
let httpPort: number;
let apiPort: number;

before(async () => {
  hooks = await startHookServer();
  rtmpPort = await freeTcpPort();
  httpPort = await freeTcpPort();
  apiPort = await freeTcpPort();
  dir = mkdtempSync(join(tmpdir(), 'castgate-hooks-'));
  const h = hooks.base;
  const conf = `listen 127.0.0.1:${rtmpPort} [::1]:${rtmpPort};
max_connections 100;
http_server { enabled on; listen 127.0.0.1:${httpPort} [::1]:${httpPort}; dir ${dir}; }
http_api { enabled on; listen 127.0.0.1:${apiPort}; }
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    hls { enabled on; hls_fragment 1; hls_window 2; hls_path ${dir}/hls; hls_dispose 0; }
    dvr { enabled on; dvr_path ${dir}/dvr/[app]/[stream].[timestamp].flv; }
    http_hooks {
        enabled on;
        on_connect ${h}/conn; on_close ${h}/conn;
        on_publish ${h}/pub; on_unpublish ${h}/pub;
        on_play ${h}/play; on_stop ${h}/play;
        on_dvr ${h}/dvr; on_hls ${h}/hls;
        timeout 3;
    }
}
vhost sec.test {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    security { enabled on; deny play 127.0.0.1; allow play all; allow publish ::1; }
    hls { enabled on; hls_fragment 1; hls_window 4; hls_path ${dir}/hls-sec; hls_dispose 0; }
}
`;
  const file = join(dir, 'hooks.conf');
  writeFileSync(file, conf);
  const { config, warnings } = loadConfig(file);
  assert.deepEqual(warnings, []);
  gw = await startGateway(config, createLogger((process.env.CASTGATE_LOG_LEVEL as 'silent' | undefined) ?? 'silent', true));
});

after(async () => {
  await gw?.stop();
  await hooks?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** GET `url`: its status and body; of a live stream (200 without Content-Length) only the first chunk. */
async function get(url: string): Promise<{ status: number; body: Buffer }> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const live = res.status === 200 && res.headers.get('content-length') === null;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body ?? []) {
      chunks.push(Buffer.from(chunk as Uint8Array));
      if (live) break;
    }
  } finally {
    ac.abort();
  }
  return { status: res.status, body: Buffer.concat(chunks) };
}

/** A WebSocket upgrade of `url`: the HTTP status of the answer (101 allowed). */
function upgradeStatus(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host,
      port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const bodyOf = (action: string, clientId: unknown): Record<string, unknown> | undefined =>
  hooks.bodies(action).find((b) => b.client_id === clientId);

test('RTMP publish with hooks: bodies carry ip and param; players admitted and refused; ends notified', { timeout: 40_000 }, async () => {
  const key = makeStreamKey('__defaultVhost__', 'live', 'cam');
  const pub: Running = publishRtmp(FLV, `rtmp://127.0.0.1:${rtmpPort}/live/cam?token=s3cret`);
  try {
    await waitFor(() => gw.hub.isPublishing(key), 10_000);
    const connect = hooks.bodies('on_connect').at(-1);
    assert.equal(connect?.ip, '127.0.0.1');
    assert.equal(connect?.tcUrl, `rtmp://127.0.0.1:${rtmpPort}/live`);
    assert.equal(connect?.app, 'live');
    const publish = hooks.bodies('on_publish').at(-1);
    assert.ok(publish !== undefined);
    assert.equal(publish.client_id, connect?.client_id, 'one RTMP session: the same client_id');
    assert.deepEqual(
      [publish.ip, publish.vhost, publish.app, publish.stream, publish.param, publish.tcUrl, publish.stream_url],
      ['127.0.0.1', '__defaultVhost__', 'live', 'cam', '?token=s3cret', `rtmp://127.0.0.1:${rtmpPort}/live`, '/live/cam'],
    );
    assert.equal(typeof publish.server_id, 'string');
    assert.match(String(publish.server_id), /^vid-/);

    // HTTP-FLV allowed: on_play with the query as param; on_stop when the player leaves.
    const flv = await get(`http://127.0.0.1:${httpPort}/live/cam.flv?pk=1`);
    assert.equal(flv.status, 200);
    assert.equal(flv.body.subarray(0, 3).toString('latin1'), 'FLV');
    const play = hooks.bodies('on_play').at(-1);
    assert.match(String(play?.client_id), /^http-flv/);
    assert.equal(play?.param, '?pk=1');
    assert.equal(play?.ip, '127.0.0.1');
    await waitFor(() => bodyOf('on_stop', play?.client_id) !== undefined, 5000);

    // on_play refusing: HTTP-FLV 403, WebSocket-FLV 403, and no player reaches the hub.
    for (const answer of [DENY_CODE, DENY_NEWLINE, DENY_500]) {
      hooks.answer('/play', answer);
      const denied = await get(`http://127.0.0.1:${httpPort}/live/cam.flv`);
      assert.equal(denied.status, 403, JSON.stringify(answer));
      assert.match(denied.body.toString(), /on_play/);
    }
    assert.equal(await upgradeStatus('127.0.0.1', httpPort, '/live/cam.flv'), 403);
    assert.equal(gw.hub.clients().filter((c) => c.who.protocol.startsWith('http-') || c.who.protocol.startsWith('ws-')).length, 0);

    // HLS: 403 while refused; then one session (one on_play) over several playlist reloads, listed as a client.
    const m3u8 = `http://127.0.0.1:${httpPort}/live/cam.m3u8?hk=2`;
    await waitFor(() => existsSync(join(dir, 'hls', 'live', 'cam.m3u8')), 10_000);
    assert.equal((await get(m3u8)).status, 403);
    hooks.answer('/play', ALLOW);
    const hlsPlaysBefore = hooks.bodies('on_play').length;
    for (let i = 0; i < 3; i++) {
      const pl = await get(m3u8);
      assert.equal(pl.status, 200);
      assert.match(pl.body.toString(), /^#EXTM3U/);
    }
    const hlsPlays = hooks.bodies('on_play').slice(hlsPlaysBefore);
    assert.equal(hlsPlays.length, 1, 'one on_play per HLS session');
    assert.match(String(hlsPlays[0]?.client_id), /^hls/);
    assert.equal(hlsPlays[0]?.param, '?hk=2');
    const hlsId = String(hlsPlays[0]?.client_id);
    const listed = (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/clients`)).json()) as { clients: { id: string; protocol: string; publish: boolean; ip: string }[] };
    const hlsClient = listed.clients.find((c) => c.id === hlsId);
    assert.deepEqual([hlsClient?.protocol, hlsClient?.publish, hlsClient?.ip], ['hls', false, '127.0.0.1'], JSON.stringify(listed.clients));
    const kicked = (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/clients/${hlsId}`, { method: 'DELETE' })).json()) as { code: number };
    assert.equal(kicked.code, 0);
    await waitFor(() => bodyOf('on_stop', hlsId) !== undefined, 3000);
    assert.equal((await get(m3u8)).status, 200);
    const rejoin = hooks.bodies('on_play').slice(hlsPlaysBefore);
    assert.equal(rejoin.length, 2, 'after a kick the next playlist request is a new session');

    // ffmpeg ends: on_unpublish (same client, ip, param), on_close with bytes, on_dvr, on_hls.
    await pub.stop();
    await waitFor(() => !gw.hub.isPublishing(key), 5000);
    const unpublish = (await hooks.waitFor('on_unpublish')).at(-1)?.body;
    assert.deepEqual(
      [unpublish?.client_id, unpublish?.ip, unpublish?.param, unpublish?.stream],
      [publish.client_id, '127.0.0.1', '?token=s3cret', 'cam'],
    );
    const close = (await hooks.waitFor('on_close')).at(-1)?.body;
    assert.equal(close?.client_id, publish.client_id);
    assert.ok(Number(close?.recv_bytes) > 20_000 && Number(close?.send_bytes) > 3073, `recv_bytes ${String(close?.recv_bytes)} send_bytes ${String(close?.send_bytes)}`); // more than the handshake
    const dvr = (await hooks.waitFor('on_dvr')).at(-1)?.body;
    assert.match(String(dvr?.file), /\/dvr\/live\/cam\.\d+\.flv$/);
    assert.ok(existsSync(String(dvr?.file)), 'on_dvr names the finished file');
    assert.equal(dvr?.param, '?token=s3cret');
    const seg = hooks.bodies('on_hls').at(-1);
    assert.match(String(seg?.url), /^live\/cam-\d+\.ts$/);
    assert.equal(seg?.m3u8_url, 'live/cam.m3u8');
    assert.ok(Number(seg?.duration) > 0 && Number.isInteger(seg?.seq_no));
  } finally {
    await pub.stop();
    hooks.answer('/play', ALLOW);
  }
});

test('RTMP publish refused by on_publish {"code":1} or on_connect HTTP 500: ffmpeg fails, nothing published, no on_unpublish', { timeout: 20_000 }, async () => {
  hooks.answer('/pub', DENY_CODE);
  try {
    const before = hooks.bodies('on_publish').length;
    const r = await run('ffmpeg', [...QUIET, '-re', '-i', FLV, '-t', '3', '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/denied?token=bad`], { timeoutMs: 15_000 });
    assert.notEqual(r.code, 0, 'ffmpeg fails');
    const refused = hooks.bodies('on_publish').slice(before);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.param, '?token=bad');
    assert.equal(gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'denied')), false);
    await new Promise((r2) => setTimeout(r2, 300));
    assert.equal(bodyOf('on_unpublish', refused[0]?.client_id), undefined, 'a refused publish is never unpublished');
    // on_connect answering HTTP 500: the connection is closed before any publish is asked.
    hooks.answer('/pub', ALLOW);
    hooks.answer('/conn', DENY_500);
    const publishes = hooks.bodies('on_publish').length;
    const r2 = await run('ffmpeg', [...QUIET, '-re', '-i', FLV, '-t', '3', '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/denied`], { timeoutMs: 15_000 });
    assert.notEqual(r2.code, 0, 'ffmpeg fails');
    assert.equal(hooks.bodies('on_publish').length, publishes, 'no on_publish after a refused on_connect');
    const refusedConnect = hooks.bodies('on_connect').at(-1);
    await new Promise((r3) => setTimeout(r3, 300));
    assert.equal(bodyOf('on_close', refusedConnect?.client_id), undefined, 'no on_close for a refused connect');
  } finally {
    hooks.answer('/pub', ALLOW);
    hooks.answer('/conn', ALLOW);
  }
});

test('security over 127.0.0.1 and ::1: allow publish ::1 only; deny play 127.0.0.1, allow play all', { timeout: 30_000 }, async () => {
  const key = makeStreamKey('sec.test', 'live', 's2');
  const denied = await run('ffmpeg', [...QUIET, '-re', '-i', FLV, '-t', '3', '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live?vhost=sec.test/s2`], { timeoutMs: 15_000 });
  assert.notEqual(denied.code, 0, 'publish from 127.0.0.1 is refused');
  assert.equal(gw.hub.isPublishing(key), false);
  const pub = publishRtmp(FLV, `rtmp://[::1]:${rtmpPort}/live?vhost=sec.test/s2`);
  try {
    await waitFor(() => gw.hub.isPublishing(key), 10_000);
    const v4 = await get(`http://127.0.0.1:${httpPort}/live/s2.flv?vhost=sec.test`);
    assert.equal(v4.status, 403);
    assert.match(v4.body.toString(), /denied by rule 'deny play 127.0.0.1'/);
    const v6 = await get(`http://[::1]:${httpPort}/live/s2.flv?vhost=sec.test`);
    assert.equal(v6.status, 200);
    assert.equal(v6.body.subarray(0, 3).toString('latin1'), 'FLV');
    assert.equal(await upgradeStatus('127.0.0.1', httpPort, '/live/s2.flv?vhost=sec.test'), 403);
    assert.equal(await upgradeStatus('::1', httpPort, '/live/s2.flv?vhost=sec.test'), 101);
    // HLS: the playlist and (security only, no hook) every segment are refused to 127.0.0.1, served to ::1.
    const playlistFile = join(dir, 'hls-sec', 'live', 's2.m3u8');
    await waitFor(() => existsSync(playlistFile), 10_000);
    const segment = readFileSync(playlistFile, 'utf8').split('\n').find((l) => l.endsWith('.ts'));
    assert.ok(segment !== undefined, 'the playlist names a segment');
    assert.equal((await get(`http://127.0.0.1:${httpPort}/live/s2.m3u8?vhost=sec.test`)).status, 403);
    assert.equal((await get(`http://[::1]:${httpPort}/live/s2.m3u8?vhost=sec.test`)).status, 200);
    const segPath = `/live/${segment.split('/').pop() as string}?vhost=sec.test`;
    assert.equal((await get(`http://127.0.0.1:${httpPort}${segPath}`)).status, 403, 'a denied address gets no segment');
    const seg6 = await get(`http://[::1]:${httpPort}${segPath}`);
    assert.equal(seg6.status, 200);
    assert.equal(seg6.body[0], 0x47, 'an MPEG-TS segment');
  } finally {
    await pub.stop();
  }
});
