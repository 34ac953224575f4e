/**
 * Soak benchmark (issue 12 §4): the whole gateway in this process for SOAK_S seconds (default 3600) with one live
 * stream through each input — RTMP publish, RTSP push (TCP), MPEG-TS over UDP, FLV POST, each an ffmpeg looping a
 * fixture in real time (restarted if it dies) — and SOAK_PLAYERS (default 200) in-process players (3/4 HTTP-FLV,
 * 1/4 RTMP, spread over the four streams) that each leave after a random 10–60 s and come straight back.
 *
 * Every SOAK_S/60 s (at most every minute) it forces a GC and prints RSS, heap, external memory, open descriptors,
 * players and the bytes delivered; at the end it compares the second half: RSS and heap at the end must be within
 * 5 % of their value at half time (median of the samples around each point), else it exits 1.
 *
 * Run: SOAK_S=300 node --import tsx test/bench/soak.bench.ts   (SOAK_SEED picks the players' random schedule)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixture, waitFor } from '../helpers/peers.ts';
import { playHttpFlv, type HttpFlvPlayer } from '../helpers/http-flv-player.ts';
import { RtmpTestClient } from '../helpers/rtmp-test-client.ts';
import { Prng } from '../fuzz/prng.ts';
import { openFds, startRobustGateway } from '../e2e/robustness-harness.ts';

const SOAK_S = Number(process.env.SOAK_S ?? 3600);
const PLAYERS = Number(process.env.SOAK_PLAYERS ?? 200);
const SEED = Number(process.env.SOAK_SEED ?? 1);
const SAMPLE_S = Math.max(1, Math.min(60, SOAK_S / 60));
/** Allowed growth over the second half. */
const MAX_GROWTH = 0.05;
const FLV = fixture('flv/h264-aac-320x240-10s.flv');
const TS = fixture('ts/h264-aac-320x240-25fps-10s.ts');
const STREAMS = ['rtmp', 'rtsp', 'udp', 'post'] as const;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const g = await startRobustGateway({ maxConnections: 2000, logLevel: 'warn' });
const quiet = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1'];
const publisherArgs: Record<(typeof STREAMS)[number], string[]> = {
  rtmp: [...quiet, '-i', FLV, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${g.ports.rtmp}/live/rtmp`],
  rtsp: [...quiet, '-i', FLV, '-c', 'copy', '-rtsp_transport', 'tcp', '-f', 'rtsp', `rtsp://127.0.0.1:${g.ports.rtsp}/live/rtsp`],
  udp: [...quiet, '-i', TS, '-c', 'copy', '-f', 'mpegts', `udp://127.0.0.1:${g.ports.udp}?pkt_size=1316`],
  post: [...quiet, '-i', FLV, '-c', 'copy', '-f', 'flv', '-method', 'POST', '-content_type', 'video/x-flv', `http://127.0.0.1:${g.ports.flv}/live/post.flv`],
};
let stopping = false;
let publisherRestarts = 0;
const publishers = new Map<string, ChildProcess>();
function startPublisher(name: (typeof STREAMS)[number]): void {
  const child = spawn('ffmpeg', publisherArgs[name], { stdio: 'ignore' });
  publishers.set(name, child);
  child.once('exit', () => {
    if (stopping) return;
    publisherRestarts++;
    setTimeout(() => startPublisher(name), 1000);
  });
}
for (const s of STREAMS) startPublisher(s);
await waitFor(() => STREAMS.every((s) => g.gw.hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: s })), 30_000);

// Players: each plays for 10-60 s, then a new one takes its place at once.
const rng = new Prng(SEED, 0x50a4, 0, 0);
let sessions = 0;
let emptySessions = 0;
let deliveredBytes = 0;
const live = new Set<{ bytes(): number; stop(): void }>();
function startPlayer(i: number): void {
  if (stopping) return;
  const stream = STREAMS[i % STREAMS.length] as string;
  let player: { bytes(): number; stop(): void };
  if (i % 4 === 3) {
    const c = RtmpTestClient.player(g.ports.rtmp, 'live', stream);
    player = { bytes: () => c.media.reduce((a, m) => a + m.bytes, 0), stop: () => c.close() };
  } else {
    const h: HttpFlvPlayer = playHttpFlv(g.ports.http, `/live/${stream}.flv`, { demux: false });
    player = { bytes: h.bytes, stop: h.stop };
  }
  sessions++;
  live.add(player);
  setTimeout(() => {
    player.stop();
    live.delete(player);
    const b = player.bytes();
    deliveredBytes += b;
    if (b === 0) emptySessions++;
    startPlayer(i);
  }, rng.range(10_000, 60_000));
}
for (let i = 0; i < PLAYERS; i++) {
  startPlayer(i);
  if (i % 20 === 19) await sleep(100);
}

interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly fds: number;
}
const samples: Sample[] = [];
const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
const t0 = Date.now();
console.log(`soak: ${SOAK_S} s, ${PLAYERS} players (10-60 s each), streams ${STREAMS.join(', ')}, sample every ${SAMPLE_S} s`);
console.log('t_s\trss_MiB\theap_MiB\text_MiB\tfds\tplayers\tsessions\tdelivered_MiB\trestarts');
while (Date.now() - t0 < SOAK_S * 1000 - 100) {
  await sleep(Math.min(SAMPLE_S * 1000, SOAK_S * 1000 - (Date.now() - t0)));
  gc();
  const m = process.memoryUsage();
  const s: Sample = { t: (Date.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed, external: m.external, fds: openFds() };
  samples.push(s);
  let inFlight = 0;
  for (const p of live) inFlight += p.bytes();
  console.log(`${s.t.toFixed(0)}\t${mib(s.rss)}\t${mib(s.heapUsed)}\t${mib(s.external)}\t${s.fds}\t${live.size}\t${sessions}\t${mib(deliveredBytes + inFlight)}\t${publisherRestarts}`);
}

stopping = true;
for (const p of live) {
  p.stop();
  deliveredBytes += p.bytes();
}
for (const c of publishers.values()) c.kill('SIGKILL');
await g.stop();

/** Median of the samples within ±10 % of the run around time `t`. */
function around(t: number, key: 'rss' | 'heapUsed'): number {
  const near = samples.filter((s) => Math.abs(s.t - t) <= SOAK_S * 0.1).map((s) => s[key]).sort((a, b) => a - b);
  return near[Math.floor(near.length / 2)] ?? Number.NaN;
}
let failed = false;
for (const key of ['rss', 'heapUsed'] as const) {
  const mid = around(SOAK_S / 2, key);
  const end = around(SOAK_S, key);
  const growth = end / mid - 1;
  const ok = growth <= MAX_GROWTH;
  failed ||= !ok;
  console.log(`${key}: ${mib(mid)} MiB at half time, ${mib(end)} MiB at the end: ${(100 * growth).toFixed(1)} % (limit ${100 * MAX_GROWTH} %) ${ok ? 'ok' : 'FAIL'}`);
}
console.log(`player sessions ${sessions}, of which ${emptySessions} got no media; ${mib(deliveredBytes)} MiB delivered; publisher restarts ${publisherRestarts}`);
if (emptySessions > sessions * 0.01) {
  console.log('FAIL: more than 1 % of player sessions got no media');
  failed = true;
}
process.exit(failed ? 1 : 0);
