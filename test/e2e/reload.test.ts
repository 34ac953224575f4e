/**
 * Hot reload end to end (issue 11 "Reload"): a gateway started from a conf file, an RTMP publisher (ffmpeg -re lavfi
 * testsrc2, 1 s GOP) with an HTTP-FLV player counting its video tags, a UDP TS sender on a caster that stays. The conf
 * file is rewritten and reloaded through `GET /api/v1/raw?rpc=reload`: a UDP caster is added (ffmpeg's TS on it shows
 * up in /api/v1/streams), another removed (its port can be bound again), one whose port is held fails alone (and
 * starts on the next reload once the port is free), the HLS window shrunk (the running playlist gets shorter), one of
 * two file ingesters changed (only it restarts), then a broken file is refused with its file:line:col and the old
 * config keeps running.
 * Through all of it the player's frames keep coming (no gap over 1 s) and the kept caster's UDP session is the same
 * client. A second test reloads a `castgate -c` process with SIGHUP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { playHttpFlv } from '../helpers/http-flv-player.ts';
import { fixture, freeTcpPort, freeUdpPort, sendTsOverUdp, startProcess, waitFor } from '../helpers/peers.ts';
import { startTestGateway } from './harness.ts';

type Json = Record<string, unknown>;
const QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
const TS = fixture('ts/h264-aac-320x240-25fps-10s.ts');

const udpCaster = (port: number, stream: string): string =>
  `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/${stream}; listen 127.0.0.1:${port}; idle_timeout 30; }\n`;

/** Can this process bind the UDP port (nobody holds it)? */
function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Segments listed in an HLS playlist. */
function segments(playlist: string): number {
  if (!existsSync(playlist)) return 0;
  return readFileSync(playlist, 'utf8').split('\n').filter((l) => l.startsWith('#EXTINF:')).length;
}

/** The largest gap between consecutive video tags that arrived in [fromMs, toMs], ms. */
function maxGap(video: readonly { atMs: number }[], fromMs: number, toMs: number): number {
  let gap = 0;
  for (let i = 1; i < video.length; i++) {
    const a = video[i - 1]?.atMs as number;
    const b = video[i]?.atMs as number;
    if (b >= fromMs && a <= toMs) gap = Math.max(gap, b - a);
  }
  return gap;
}

test('reload: add and remove UDP casters, shrink the HLS window, refuse a broken file, while HTTP-FLV plays on', { timeout: 60_000 }, async (t2) => {
  const api = await freeTcpPort();
  const [kept, removed, added, busy] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  // Two native file-loop ingesters: `keep` never changes, `chg` gets another file in step 1.
  const ingest = (id: string, flv: string): string =>
    `ingest ${id} { enabled on; input { type file; url ${fixture(flv)}; } engine { enabled off; output rtmp://127.0.0.1/live/${id}; } }`;
  const vhost = (window: number, chg = 'flv/h264-aac-320x240-10s.flv'): string =>
    `vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } hls { enabled on; hls_fragment 1; hls_window ${window}; hls_path {DIR}; }\n`
    + `${ingest('keep', 'flv/h264-aac-320x240-10s.flv')}\n${ingest('chg', chg)}\n}\n`;
  const head = `http_api { enabled on; listen 127.0.0.1:${api}; raw_api { enabled on; allow_reload on; } }\n`;
  const dir = mkdtempSync(join(tmpdir(), 'castgate-reload-hls-'));
  const t = await startTestGateway(head + udpCaster(kept, 'kept') + udpCaster(removed, 'removed') + vhost(5).replace('{DIR}', dir));
  const file = t.gw.config.file;
  // The harness's first lines (listen, http_server), then our body: rewritten below as a user edits the file.
  const base = readFileSync(file, 'utf8').split(head)[0] as string;
  const write = (body: string): void => writeFileSync(file, base + head + body.replaceAll('{DIR}', dir));
  const getJson = async (path: string): Promise<Json> => (await fetch(`http://127.0.0.1:${api}${path}`)).json() as Promise<Json>;
  const streamNames = async (): Promise<string[]> => ((await getJson('/api/v1/streams')).streams as Json[]).map((s) => s.name as string);
  const keptPublisher = async (): Promise<string | undefined> =>
    ((await getJson('/api/v1/clients')).clients as Json[]).find((c) => c.publish === true && (c.url as string).endsWith('/live/kept'))?.id as string | undefined;

  assert.equal((await getJson('/api/v1/raw?rpc=reload')).code, 0, 'a reload of the same file changes nothing');
  const publisher = startProcess('ffmpeg', [...QUIET, '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=40',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25', '-f', 'flv', t.rtmpUrl('live/s')], { timeoutMs: 50_000 });
  const keptSender = sendTsOverUdp(TS, kept, { loops: 3, timeoutMs: 50_000 });
  const player = playHttpFlv(t.httpPort, '/live/s.flv');
  let addedSender: ReturnType<typeof sendTsOverUdp> | undefined;
  try {
    await waitFor(() => player.video.length >= 25, 15_000);
    const keptId = await waitFor(keptPublisher, 10_000);
    const playlist = join(dir, 'live', 's.m3u8');
    const [keepIngester, chgIngester] = t.gw.ingesters;
    assert.deepEqual(t.gw.ingesters.map((i) => i.id), ['keep', 'chg']);
    await waitFor(() => segments(playlist) >= 6, 15_000);
    const from = Date.now();

    // 1. Add a UDP caster, remove another, shrink the HLS window 5 s → 2 s, change one ingester; a caster on a port
    // someone else holds fails alone.
    const holder = createSocket('udp4');
    await new Promise<void>((ok) => holder.bind(busy, '127.0.0.1', () => ok()));
    write(udpCaster(kept, 'kept') + udpCaster(added, 'added') + udpCaster(busy, 'busy') + vhost(2, 'flv/demo.flv'));
    assert.equal((await getJson('/api/v1/raw?rpc=reload')).code, 0, 'a caster that cannot bind does not refuse the reload');
    assert.equal(t.gw.ingesters[0], keepIngester, 'the unchanged ingester runs on');
    assert.ok(t.gw.ingesters[1] !== undefined && t.gw.ingesters[1] !== chgIngester && t.gw.ingesters[1].id === 'chg', 'the changed one restarted');
    await waitFor(() => t.gw.hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'chg' }), 5_000);
    assert.ok(await udpPortFree(removed), 'the removed caster freed its port');
    addedSender = sendTsOverUdp(TS, added, { loops: 0, timeoutMs: 30_000 });
    await waitFor(async () => (await streamNames()).includes('added'), 10_000);
    assert.equal(await udpPortFree(added), false, 'the added caster holds its port');
    await waitFor(() => segments(playlist) <= 3, 5_000);
    assert.deepEqual(((await getJson('/api/v1/casters')).casters as Json[]).map((c) => c.listen).sort(), [kept, added].sort());
    // Its port freed, the next reload (same file) starts it; the others run on.
    await new Promise<void>((ok) => holder.close(() => ok()));
    assert.equal((await getJson('/api/v1/raw?rpc=reload')).code, 0);
    assert.deepEqual(((await getJson('/api/v1/casters')).casters as Json[]).map((c) => c.listen).sort(), [kept, added, busy].sort());

    // 2. A broken file: refused with file:line:col, the running config stays (the casters, the HLS window, ingesters).
    write(`${udpCaster(kept, 'kept')}vhost __defaultVhost__ {\n  gop_cache maybe;\n}\n`);
    const refused = await getJson('/api/v1/raw?rpc=reload');
    assert.equal(refused.code, 1023);
    const line = base.split('\n').length + 3; // base's lines, http_api, the caster, `vhost {`, then gop_cache
    assert.match(refused.error as string, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}:3: `), String(refused.error));
    assert.equal(await udpPortFree(added), false, 'the added caster still runs');
    assert.equal(await udpPortFree(busy), false);
    assert.equal(t.gw.config.vhosts.get('__defaultVhost__')?.hls.windowMs, 2000, 'the old config is still the running one');
    assert.deepEqual(t.gw.ingesters.map((i) => i.id), ['keep', 'chg']);
    await sleep(1500);
    const to = Date.now();

    // Through it all: the player got frames without a gap over 1 s, the kept caster's session is the same one.
    const during = player.video.filter((v) => v.atMs >= from && v.atMs <= to).length;
    assert.ok(during >= ((to - from) / 1000) * 25 * 0.8, `${during} frames in ${to - from} ms`);
    const gap = maxGap(player.video, from, to);
    t2.diagnostic(`HTTP-FLV player across 2 reloads and a refused one: ${during} video frames in ${to - from} ms, largest gap ${gap} ms`);
    assert.ok(gap < 1000, `largest gap ${gap} ms`);
    assert.equal(player.endedAt(), undefined, 'the HTTP-FLV player was never cut');
    assert.equal(await keptPublisher(), keptId, 'the unchanged caster kept its UDP session');
  } finally {
    player.stop();
    await Promise.all([publisher.stop(), keptSender.stop(), addedSender?.stop()]);
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', '-e', `import('${ROOT}core/main.ts').then(async (m) => { const c = await m.runCli(process.argv.slice(1)); if (c !== undefined) process.exitCode = c; })`];

test('castgate -c reloads on SIGHUP: a new caster binds; a broken file is logged with file:line:col and ignored', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-sighup-'));
  const [rtmp, a, b] = [await freeTcpPort(), await freeUdpPort(), await freeUdpPort()];
  const file = join(dir, 'run.conf');
  const head = `listen 127.0.0.1:${rtmp};\nhttp_server { enabled off; }\n`;
  writeFileSync(file, head + udpCaster(a, 'a'));
  const p = startProcess(process.execPath, [...CLI, '--', '-c', file], { timeoutMs: 25_000 });
  let out = '';
  p.child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    await waitFor(() => out.includes('castgate started'), 15_000);
    assert.equal(await udpPortFree(b), true);
    writeFileSync(file, head + udpCaster(a, 'a') + udpCaster(b, 'b'));
    p.child.kill('SIGHUP');
    await waitFor(() => out.includes('config reloaded'), 5_000);
    assert.equal(await udpPortFree(b), false, 'the added caster is listening');
    writeFileSync(file, `${head}vhost __defaultVhost__ {\n  gop_cache maybe;\n}\n`);
    p.child.kill('SIGHUP');
    await waitFor(() => out.includes('reload refused'), 5_000);
    assert.match(out, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:3: `));
    assert.equal(await udpPortFree(a), false, 'the old casters still run');
    assert.equal(await udpPortFree(b), false);
    p.child.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
