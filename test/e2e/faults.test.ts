/**
 * Faults around one live stream (issue 12 §3), whole gateway in-process on loopback:
 * - a slow HTTP-FLV player (reads 10 kB/s) and a stalled one (never reads) among 200 normal in-process players:
 *   only the two fall behind (the hub skips GOPs for them), every normal player keeps ≥ 95 % of the stream's
 *   bitrate, and the process's RSS does not grow while they lag;
 * - the publisher killed in the middle of a GOP (ffmpeg RTMP publisher SIGKILLed; an FLV POST upload aborted):
 *   HTTP-FLV players end at once, RTMP players get NetStream.Play.UnpublishNotify, and a republish within 1 s
 *   plays again for the same RTMP player, its timestamps still rising.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';
import { flvFileHeader, flvTag } from '../../core/protocol/flv/flv-muxer.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { fixture, run, waitFor } from '../helpers/peers.ts';
import { playHttpFlv, rawHttpPlayer } from '../helpers/http-flv-player.ts';
import { checkKillAndRepublish, exited } from '../helpers/kill-republish.ts';
import { LogLevel, startRobustGateway, type LogLine, type RobustGateway } from './robustness-harness.ts';

const FLV = fixture('flv/h264-aac-320x240-10s.flv');
const KEY = (stream: string): { vhost: string; app: string; stream: string } => ({ vhost: '__defaultVhost__', app: 'live', stream });
const NORMAL_PLAYERS = 200;
/** Players are read this long after the source when measuring their share of the stream. */
const DELIVERY_LAG_MS = 500;

/** ffmpeg publishing an FLV file over RTMP in real time (looped), killable with SIGKILL. */
function ffmpegPublish(port: number, stream: string, seconds: number, file = FLV): ChildProcess {
  const child = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-t', String(seconds), '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${stream}`], { stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  child.once('exit', () => clearTimeout(timer));
  return child;
}

function bytesIn(g: RobustGateway, stream: string): number {
  return g.gw.hub.streams().find((s) => s.key === `__defaultVhost__/live/${stream}`)?.bytesIn ?? 0;
}

/** Connection ids (conn field) of HTTP players by their client port, from the 'player started' info lines. */
function connIdsByPort(logs: readonly LogLine[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of logs) {
    if (typeof l.remote === 'string' && typeof l.conn === 'string' && l.msg.endsWith('player started')) out.set(Number(l.remote.split(':').pop()), l.conn);
  }
  return out;
}

/**
 * A 2 Mbit/s stream (noise on testsrc2, 640x360, keyframe every second). Loopback TCP autotunes a stalled
 * receiver's path to ~4 MiB of kernel buffers, so a laggard only reaches the gateway's queue after that much:
 * ~17 s at this rate, ~2 min at the 290 kbit/s of the fixtures.
 */
async function highBitrateFlv(): Promise<{ file: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-faults-'));
  const file = join(dir, 'noise-2m.flv');
  const r = await run('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=44100',
    '-t', '10', '-vf', 'noise=alls=30:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '2M', '-maxrate', '2M', '-bufsize', '2M', '-g', '25', '-keyint_min', '25',
    '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', file,
  ], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

test(`a slow (10 kB/s) and a stalled HTTP-FLV player next to ${NORMAL_PLAYERS} normal ones: only they skip GOPs, the others keep ≥ 95 % of the bitrate, RSS stays bounded`, { timeout: 180_000 }, async (t) => {
  const media = await highBitrateFlv();
  const g = await startRobustGateway({ maxConnections: 1000, logLevel: 'info', vhost: 'gop_cache on; queue_length 3;' });
  const publisher = ffmpegPublish(g.ports.rtmp, 'x', 90, media.file);
  const players: ReturnType<typeof playHttpFlv>[] = [];
  const slow = rawHttpPlayer(g.ports.http, '/live/x.flv', 10_000);
  const stalled = rawHttpPlayer(g.ports.http, '/live/x.flv', 0);
  try {
    await waitFor(() => g.gw.hub.isPublishing(KEY('x')), 15_000);
    await sleep(1500);
    const rssBefore = process.memoryUsage().rss;
    const startedAt = Date.now();
    for (let i = 0; i < NORMAL_PLAYERS; i++) players.push(playHttpFlv(g.ports.http, '/live/x.flv', { demux: false }));
    await waitFor(() => players.every((p) => p.bytes() > 0), 15_000);
    const rss: number[] = [];
    const rssTimer = setInterval(() => rss.push(process.memoryUsage().rss), 250);
    await sleep(4_000);
    // Window: 14 s of the source, and the same 14 s at the players, read DELIVERY_LAG_MS later (what was in flight
    // at the source's edges has arrived by then; a player that keeps falling further behind still shows it).
    const source0 = bytesIn(g, 'x');
    await sleep(DELIVERY_LAG_MS);
    const player0 = players.map((p) => p.bytes());
    await sleep(14_000 - DELIVERY_LAG_MS);
    const sourceBytes = bytesIn(g, 'x') - source0;
    await sleep(DELIVERY_LAG_MS);
    const received = players.map((p, i) => p.bytes() - (player0[i] as number));
    clearInterval(rssTimer);

    assert.ok(sourceBytes > 14 * 200_000, `the stream flowed: ${sourceBytes} bytes in 14 s`);
    const worst = Math.min(...received);
    assert.ok(worst >= 0.95 * sourceBytes, `every normal player got ≥ 95 % of the ${sourceBytes} stream bytes in the window (worst ${worst}, ${(100 * worst / sourceBytes).toFixed(1)} %)`);
    assert.ok(players.every((p) => p.endedAt() === undefined), 'no normal player was cut');

    // The two laggards: the hub dropped GOPs for them (or cut them), and for nobody else.
    const tooSlowIds = (): Set<string> => new Set(g.logs.filter((l) => l.level >= LogLevel.warn && l.msg.includes('consumer too slow')).map((l) => String(l.consumer)));
    const ids = connIdsByPort(g.logs);
    const slowId = ids.get(slow.socket.localPort as number);
    const stalledId = ids.get(stalled.socket.localPort as number);
    assert.ok(slowId !== undefined && stalledId !== undefined, 'both laggards were served');
    await waitFor(() => [[slowId, slow], [stalledId, stalled]].every(([id, p]) => tooSlowIds().has(id as string) || (p as typeof slow).closedAt() !== undefined), 30_000).catch(() => undefined);
    const tooSlow = tooSlowIds();
    for (const [name, id, player] of [['slow', slowId, slow], ['stalled', stalledId, stalled]] as const) {
      assert.ok(tooSlow.has(id) || player.closedAt() !== undefined, `the ${name} player skipped GOPs or was cut`);
    }
    assert.equal(tooSlow.size - (tooSlow.has(slowId) ? 1 : 0) - (tooSlow.has(stalledId) ? 1 : 0), 0, `only the laggards dropped frames: ${[...tooSlow].join(', ')}`);
    assert.ok(slow.bytes() <= 12_000 * ((Date.now() - startedAt) / 1000), `the slow player read at its own pace (${slow.bytes()} bytes)`);
    assert.ok(players.every((p) => p.endedAt() === undefined), 'still no normal player was cut');

    // RSS: no growth while two players lag (queues are bounded); the first seconds hold the players' setup.
    const half = Math.floor(rss.length / 2);
    const firstPeak = Math.max(...rss.slice(0, half));
    const secondPeak = Math.max(...rss.slice(half));
    const firstDrop = g.logs.find((l) => l.msg.includes('consumer too slow'));
    t.diagnostic(`stream ${(sourceBytes / 14 / 1000).toFixed(0)} kB/s; worst normal player ${(100 * worst / sourceBytes).toFixed(1)} %; `
      + `first GOP skip ${firstDrop === undefined ? '-' : `${((Number(firstDrop.time) - startedAt) / 1000).toFixed(1)} s`} after the players started; `
      + `slow player read ${slow.bytes()} bytes; RSS peak ${(firstPeak / 2 ** 20).toFixed(0)} / ${(secondPeak / 2 ** 20).toFixed(0)} MiB (first / second half)`);
    assert.ok(secondPeak <= firstPeak * 1.25 + 20 * 2 ** 20, `RSS ${(firstPeak / 2 ** 20).toFixed(0)} MiB in the first half of the window, ${(secondPeak / 2 ** 20).toFixed(0)} MiB in the second`);
    assert.ok(secondPeak - rssBefore < 400 * 2 ** 20, `RSS grew ${((secondPeak - rssBefore) / 2 ** 20).toFixed(0)} MiB with ${NORMAL_PLAYERS + 2} players`);
  } finally {
    for (const p of players) p.stop();
    slow.stop();
    stalled.stop();
    publisher.kill('SIGKILL');
    await exited(publisher);
    await g.stop();
    media.remove();
  }
});

test('RTMP publisher SIGKILLed mid-GOP: HTTP-FLV ends and RTMP gets UnpublishNotify at once; a republish within 1 s plays again for the same RTMP player with rising timestamps', { timeout: 90_000 }, async (t) => {
  const g = await startRobustGateway({ maxConnections: 100 });
  let first: ChildProcess | undefined;
  let second: ChildProcess | undefined;
  try {
    first = ffmpegPublish(g.ports.rtmp, 'kill', 30);
    await waitFor(() => g.gw.hub.isPublishing(KEY('kill')), 15_000);
    await checkKillAndRepublish(t, g.ports, 'kill', () => first?.kill('SIGKILL'), () => {
      second = ffmpegPublish(g.ports.rtmp, 'kill', 30);
    });
  } finally {
    first?.kill('SIGKILL');
    second?.kill('SIGKILL');
    await Promise.all([first, second].filter((c): c is ChildProcess => c !== undefined).map(exited));
    await g.stop();
  }
});

/** An FLV POST upload of the fixture at real time (tags written when their timestamp is due), abortable. */
function postFlv(port: number, stream: string): { req: ClientRequest; stop(): void } {
  const msgs: RtmpMessage[] = [];
  const demuxer = new FlvDemuxer({ onMessage: (m) => msgs.push(m), onDecodeError: (e) => { throw e; } });
  demuxer.push(readFileSync(FLV));
  demuxer.end();
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/live/${stream}.flv`, headers: { 'Content-Type': 'video/x-flv' }, agent: false });
  req.on('error', () => undefined);
  req.on('response', (res) => res.resume());
  req.write(flvFileHeader(true, true));
  const t0 = Date.now();
  let i = 0;
  const timer = setInterval(() => {
    while (i < msgs.length && (msgs[i] as RtmpMessage).timestamp <= Date.now() - t0) req.write(flvTag(msgs[i++] as RtmpMessage));
    if (i >= msgs.length) {
      clearInterval(timer);
      req.end();
    }
  }, 10);
  return { req, stop: () => { clearInterval(timer); req.destroy(); } };
}

test('FLV POST upload aborted mid-GOP: HTTP-FLV ends and RTMP gets UnpublishNotify at once; a new POST within 1 s plays again for the same RTMP player with rising timestamps', { timeout: 90_000 }, async (t) => {
  const g = await startRobustGateway({ maxConnections: 100 });
  let first: ReturnType<typeof postFlv> | undefined;
  let second: ReturnType<typeof postFlv> | undefined;
  try {
    first = postFlv(g.ports.flv, 'post');
    await waitFor(() => g.gw.hub.isPublishing(KEY('post')), 15_000);
    await checkKillAndRepublish(t, g.ports, 'post', () => first?.stop(), () => {
      second = postFlv(g.ports.flv, 'post');
    });
  } finally {
    first?.stop();
    second?.stop();
    await g.stop();
  }
});
