/**
 * Issue 13's fan-out table, measured end to end and printed beside node-media-server's from the same run.
 *
 * Each row starts a fresh server process (castgate from `--root` in a child process, fanout-gateway.ts; or
 * node-media-server from `--nms DIR`, a directory with node_modules/node-media-server), publishes the fixture with
 * ffmpeg (`-re -stream_loop -1 -c copy`), opens the players with fanout-load.ts (raw sockets in several worker
 * processes), and reads the server's CPU (utime+stime, % of ONE core), RSS and write syscalls from /proc:
 *
 *   transit  `min_latency on`, 500 HTTP-FLV players: per-frame transit added by the server, p50 and max (the
 *            reference probe /work/shared/bench/latency.mjs publishes and plays one more player that joins last)
 *   min1000  `min_latency on`, 1000 HTTP-FLV players: server CPU, nobody behind
 *   def5000  default mode (mw_latency 100), 5000 HTTP-FLV players: nobody behind, CPU, RSS
 *   join     connect → first keyframe complete, HTTP-FLV and RTMP (join-fanout.bench.ts), p50
 *   ts1000   1000 HTTP-TS players against 1000 HTTP-FLV players (ratio of server CPU; castgate only: NMS has no HTTP-TS)
 *   rtmp1000 `min_latency on`, 1000 RTMP players: server CPU
 *
 * `floor` (write-floor.ts, min1000 only) is a bare Node server writing one shared Buffer per video frame to every
 * player: the syscall floor of writing at once on this machine.
 *
 * node-media-server has no min_latency/mw_latency switch: it writes every message at once, so its figures sit in
 * both modes' rows. `--rounds R` repeats every row R times, servers interleaved (castgate, NMS, castgate, ...), and
 * prints the median; with `--root2 DIR` a second castgate tree (an older commit) is interleaved too (A/B).
 * The machine's load during each window is printed (`sys_busy_pct`, % of all cores): other processes share it.
 *
 * Run: npx tsx test/bench/fanout-table.bench.ts --fixture bench-720p.flv [--rows transit,min1000,...] [--rounds 3]
 *      [--nms /path] [--seconds 20] [--root2 DIR] [--cpu-prof DIR]
 * The fixture defaults to $BENCH_FIXTURE or TMPDIR/castgate-bench-fixtures/bench-720p.flv, made by the harness's
 * make-fixtures.sh when missing. Nothing asserts: it prints figures against the targets.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort, machineTicks, publishLoop, rssMb, serverProcess, startGatewayProcess } from './fanout-gateway.ts';
import { runLoad, type LoadResult } from './fanout-load.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: 'transit,min1000,def5000,join,ts1000,rtmp1000' },
    rounds: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    fixture: { type: 'string', default: process.env.BENCH_FIXTURE ?? join(tmpdir(), 'castgate-bench-fixtures', 'bench-720p.flv') },
    root: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    root2: { type: 'string' },
    nms: { type: 'string', default: process.env.BENCH_NMS ?? '/tmp/castgate-13-nms' },
    harness: { type: 'string', default: '/work/shared/bench' },
    'cpu-prof': { type: 'string' },
    servers: { type: 'string' },
  },
});

if (!existsSync(args.fixture) && existsSync(join(args.harness, 'make-fixtures.sh'))) {
  // the reference fixture: 60 s 720p H.264 + AAC, ~2.15 Mbit/s, keyframe every 2 s (ffmpeg lavfi, about a minute)
  console.log(`# making ${args.fixture} with ${args.harness}/make-fixtures.sh`);
  spawnSync('bash', [join(args.harness, 'make-fixtures.sh'), resolve(args.fixture, '..')], { stdio: 'ignore', timeout: 600_000 });
}
if (!existsSync(args.fixture)) {
  console.log(`fanout-table: fixture ${args.fixture} is missing (make it with /work/shared/bench/make-fixtures.sh DIR, pass --fixture): skipped`);
  process.exit(0);
}
const FIXTURE_KBPS = Number(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=bit_rate', '-of', 'default=nw=1:nk=1', args.fixture])
  .stdout.toString().trim()) / 1000;
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const haveNms = existsSync(join(args.nms, 'node_modules/node-media-server/bin/app.js'));
const haveLatencyProbe = existsSync(join(args.harness, 'latency.mjs'));

// ------------------------------------------------------------------------------------------------ servers

type Mode = 'min' | 'default';
interface Server {
  readonly name: string;
  readonly pid: number;
  readonly rtmpPort: number;
  readonly httpPort: number;
  stop(): Promise<void>;
}
interface ServerKind {
  readonly name: string;
  start(mode: Mode): Promise<Server>;
}

function castgate(name: string, root: string): ServerKind {
  return {
    name,
    async start(mode) {
      const extra = args['cpu-prof'] !== undefined ? ['--cpu-prof', '--cpu-prof-dir', resolve(args['cpu-prof'])] : [];
      const gw = await startGatewayProcess(root, mode === 'min' ? 'min_latency on;' : '', extra);
      return { name, pid: gw.pid, rtmpPort: gw.rtmpPort, httpPort: gw.httpPort, stop: gw.stop };
    },
  };
}

/** node-media-server 4.x from `dir` (bin/app.js with a config on free loopback ports, no admin, no auth). */
const nms: ServerKind = {
  name: 'nms',
  async start() {
    const rtmpPort = await freePort();
    const httpPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'castgate-nms-'));
    const conf = join(dir, 'config.json');
    writeFileSync(conf, JSON.stringify({
      bind: '127.0.0.1', notify: { url: '' }, store: { path: join(dir, 'data'), maxHistory: 100 },
      auth: { play: false, publish: false, secret: 'x' }, rtmp: { port: rtmpPort }, http: { port: httpPort },
      webadmin: { enable: false }, record: { auto: false, path: join(dir, 'record') },
    }));
    const child = spawn(process.execPath, [join(args.nms, 'node_modules/node-media-server/bin/app.js'), '-c', conf, '--no-admin'],
      { cwd: args.nms, stdio: 'ignore' });
    const stop = await serverProcess(child, httpPort, dir, 'node-media-server');
    return { name: 'nms', pid: child.pid as number, rtmpPort, httpPort, stop };
  },
};

/** write-floor.ts: one write per video frame per player of a synthetic stream at the fixture's bitrate (min1000 only). */
const floor: ServerKind = {
  name: 'floor',
  async start() {
    const httpPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'write-floor.ts'), '--port', String(httpPort), '--kbps', String(FIXTURE_KBPS)],
      { cwd: HERE, stdio: 'ignore' });
    const stop = await serverProcess(child, httpPort, undefined, 'write-floor');
    return { name: 'floor', pid: child.pid as number, rtmpPort: 0, httpPort, stop };
  },
};

/** Write syscalls so far (/proc/PID/io syscw), or NaN when unreadable. */
function writeCalls(pid: number): number {
  try {
    return Number(/syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'latin1'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------------------------------------ one measurement

interface Window {
  cpuPct: number;
  rssAvgMb: number;
  rssMaxMb: number;
  busyPct: number;
  writesPerS: number;
}

/** Sample the server over `seconds` (RSS every second). */
async function measure(pid: number, seconds: number): Promise<Window> {
  const c0 = cpuSeconds(pid);
  const s0 = machineTicks();
  const w0 = writeCalls(pid);
  const t0 = performance.now();
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss.push(rssMb(pid));
  }
  const wall = (performance.now() - t0) / 1000;
  const s1 = machineTicks();
  return {
    cpuPct: ((cpuSeconds(pid) - c0) / wall) * 100,
    rssAvgMb: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMaxMb: Math.max(...rss),
    busyPct: ((s1.busy - s0.busy) / (s1.total - s0.total)) * 100,
    writesPerS: (writeCalls(pid) - w0) / wall,
  };
}

async function waitForMedia(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((done) => {
      const req = get(url, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => {
          n += d.length;
          if (n > 50_000) { req.destroy(); done(true); }
        });
        res.on('end', () => done(false));
      });
      req.on('error', () => done(false));
      req.setTimeout(2000, () => { req.destroy(); done(false); });
    });
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`no media at ${url}`);
}

interface FanoutFigures { readonly win: Window; readonly load: LoadResult }

/** Publish, N players of `format` ('flv' | 'ts' | 'rtmp'), measure. */
async function fanout(kind: ServerKind, mode: Mode, format: 'flv' | 'ts' | 'rtmp', n: number, procs?: number): Promise<FanoutFigures> {
  const server = await kind.start(mode);
  const pub = server.rtmpPort === 0 ? undefined : publishLoop(args.fixture, `rtmp://127.0.0.1:${server.rtmpPort}/live/s`);
  try {
    await waitForMedia(`http://127.0.0.1:${server.httpPort}/live/s.flv`);
    const url = format === 'rtmp' ? `rtmp://127.0.0.1:${server.rtmpPort}/live/s` : `http://127.0.0.1:${server.httpPort}/live/s.${format}`;
    const rampMs = Math.min(10_000, 4 * n);
    let win: Window | undefined;
    const loadP = runLoad({ url, clients: n, procs, rampMs, warmupS: WARMUP, seconds: SECONDS, expectKbps: FIXTURE_KBPS });
    // the load's window starts after the ramp + warmup: measure the server over the same window
    const measureP = (async () => {
      await sleep(rampMs + WARMUP * 1000 + 1500);
      win = await measure(server.pid, SECONDS - 2);
    })();
    const load = await loadP;
    await measureP;
    return { win: win as Window, load };
  } finally {
    pub?.kill('SIGTERM');
    await server.stop();
  }
}

interface TransitFigures { readonly p50: number; readonly p95: number; readonly max: number; readonly frames: number; readonly win: Window; readonly load: LoadResult }

/** 500 loading players + the reference latency probe (it publishes the fixture paced in real time and plays last). */
async function transit(kind: ServerKind, n: number): Promise<TransitFigures> {
  const server = await kind.start('min');
  try {
    const probeS = SECONDS;
    const rampMs = Math.min(10_000, 4 * n);
    const joinAfter = 1.5 + rampMs / 1000 + WARMUP + 0.3;
    const probe = spawn(process.execPath, [join(args.harness, 'latency.mjs'), '--publish', `rtmp://127.0.0.1:${server.rtmpPort}/live/lat`,
      '--fixture', args.fixture, '--play', `http://127.0.0.1:${server.httpPort}/live/lat.flv`, '--seconds', String(probeS),
      '--join-after', String(joinAfter)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    probe.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const probeDone = new Promise((ok) => probe.once('exit', ok));
    await sleep(1500);
    let win: Window | undefined;
    const loadP = runLoad({ url: `http://127.0.0.1:${server.httpPort}/live/lat.flv`, clients: n, rampMs, warmupS: WARMUP, seconds: probeS - 2, expectKbps: FIXTURE_KBPS });
    const measureP = (async () => {
      await sleep(rampMs + WARMUP * 1000 + 3000);
      win = await measure(server.pid, probeS - 4);
    })();
    const load = await loadP;
    await measureP;
    await probeDone;
    const f = Object.fromEntries(out.trim().split(/\s+/).map((kv) => kv.split('=') as [string, string]));
    return { p50: Number(f.e2e_p50_ms), p95: Number(f.e2e_p95_ms), max: Number(f.e2e_max_ms), frames: Number(f.frames), win: win as Window, load };
  } finally {
    await server.stop();
  }
}

/** join-fanout.bench.ts against this server: p50 ms per protocol. */
async function joins(kind: ServerKind): Promise<{ flv: number; rtmp: number }> {
  const server = await kind.start('min');
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'join-fanout.bench.ts'), '--joins', '30', '--fixture', args.fixture,
      '--http-url', `http://127.0.0.1:${server.httpPort}/live/j.flv`, '--rtmp-url', `rtmp://127.0.0.1:${server.rtmpPort}/live/j`, '--label', kind.name],
    { encoding: 'utf8', timeout: 120_000 });
    const p50 = (proto: string): number => Number(new RegExp(`join ${proto} .*?p50 ([\\d.]+) ms`).exec(r.stdout)?.[1] ?? NaN);
    return { flv: p50('http-flv'), rtmp: p50('rtmp') };
  } finally {
    await server.stop();
  }
}

// ------------------------------------------------------------------------------------------------ the table

const median = (v: number[]): number => {
  const s = v.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–');
const range = (v: number[], fmt = f1): string => (v.length > 1 ? `${fmt(median(v))} (${v.map(fmt).join('/')})` : fmt(v[0] ?? NaN));
const loadNote = (r: { win: Window; load: LoadResult }[]): string =>
  `busy ${r.map((x) => f0(x.win.busyPct)).join('/')} %, load-gen ${r.map((x) => f0(x.load.clientCpuPct)).join('/')} % (evloop p99 ${r.map((x) => f0(x.load.clientEvloopP99Ms)).join('/')} ms)`;

let kinds: ServerKind[] = [castgate('castgate', args.root)];
if (args.root2 !== undefined) kinds.push(castgate('castgate-b', args.root2));
if (haveNms) kinds.push(nms);
kinds.push(floor);
if (args.servers !== undefined) {
  const want = args.servers.split(',');
  kinds = kinds.filter((k) => want.includes(k.name));
}
const rounds = Number(args.rounds);
const rows = args.rows.split(',');
const lines: string[] = [];
const say = (s: string): void => {
  console.log(s);
  lines.push(s);
};

console.log(`# fan-out table: fixture ${args.fixture} (${f0(FIXTURE_KBPS)} kbit/s), ${SECONDS} s windows, ${rounds} round(s), ` +
  `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}`);
if (!haveNms) console.log(`# node-media-server not found under ${args.nms} (npm i node-media-server@4.4.3 there, or --nms DIR): castgate only`);
console.log('# CPU = server process utime+stime, % of ONE core; behind = players under 90 % of the bitrate or media rate; busy = whole machine, % of all cores');

for (const row of rows) {
  const per = new Map<string, unknown[]>();
  for (let r = 0; r < rounds; r++) {
    for (const k of kinds) {
      let v: unknown;
      if (k.name === 'floor' && row !== 'min1000') continue;
      try {
        if (row === 'transit') {
          if (!haveLatencyProbe) throw new Error(`no ${args.harness}/latency.mjs`);
          v = await transit(k, 500);
        } else if (row === 'min1000') v = await fanout(k, 'min', 'flv', 1000);
        else if (row === 'def5000') v = await fanout(k, 'default', 'flv', 5000);
        else if (row === 'join') v = await joins(k);
        else if (row === 'ts1000') {
          if (k.name === 'nms') continue;
          v = { ts: await fanout(k, 'min', 'ts', 1000), flv: await fanout(k, 'min', 'flv', 1000) };
        } else if (row === 'rtmp1000') v = await fanout(k, 'min', 'rtmp', 1000);
        else throw new Error(`unknown row ${row}`);
      } catch (err) {
        console.log(`# ${row} ${k.name} round ${r + 1}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      (per.get(k.name) ?? per.set(k.name, []).get(k.name) as unknown[]).push(v);
      console.log(`# ${row} ${k.name} round ${r + 1}: ${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' ? Number(x.toFixed(2)) : x))}`);
    }
  }
  for (const [name, vs] of per) {
    if (row === 'transit') {
      const t = vs as TransitFigures[];
      say(`| min_latency, 500 HTTP-FLV: per-frame transit | p50 ≤ 2 ms, max ≤ 20 ms | ${name} | p50 ${range(t.map((x) => x.p50))} ms, p95 ${range(t.map((x) => x.p95))} ms, max ${range(t.map((x) => x.max))} ms; CPU ${range(t.map((x) => x.win.cpuPct))} %; behind ${t.map((x) => x.load.behind).join('/')} | ${loadNote(t)} |`);
    } else if (row === 'min1000' || row === 'def5000' || row === 'rtmp1000') {
      const t = vs as FanoutFigures[];
      const what = row === 'min1000' ? 'min_latency, 1000 HTTP-FLV' : row === 'def5000' ? 'default mode, 5000 HTTP-FLV' : 'min_latency, 1000 RTMP';
      const target = row === 'def5000' ? 'nobody behind, ≤ 80 %, RSS ≤ 300 MB' : row === 'min1000' ? '≤ 25 %, nobody behind' : '≤ 25 %';
      say(`| ${what} | ${target} | ${name} | CPU ${range(t.map((x) => x.win.cpuPct))} %, behind ${t.map((x) => x.load.behind).join('/')}, errors ${t.map((x) => x.load.errors).join('/')}, RSS max ${range(t.map((x) => x.win.rssMaxMb), f0)} MB, ${range(t.map((x) => x.win.writesPerS), f0)} writes/s | ${loadNote(t)} |`);
    } else if (row === 'join') {
      const t = vs as { flv: number; rtmp: number }[];
      say(`| join: connect → first keyframe | ≤ 5 ms p50 | ${name} | HTTP-FLV p50 ${range(t.map((x) => x.flv))} ms, RTMP p50 ${range(t.map((x) => x.rtmp))} ms | sequential joins, no other players |`);
    } else if (row === 'ts1000') {
      const t = vs as { ts: FanoutFigures; flv: FanoutFigures }[];
      say(`| 1000 HTTP-TS vs 1000 HTTP-FLV (min_latency) | ≤ 1.5× | ${name} | ${range(t.map((x) => x.ts.win.cpuPct / x.flv.win.cpuPct), (x) => `${x.toFixed(2)}×`)} (TS ${range(t.map((x) => x.ts.win.cpuPct))} %, FLV ${range(t.map((x) => x.flv.win.cpuPct))} %), behind ${t.map((x) => `${x.ts.load.behind}+${x.flv.load.behind}`).join('/')} | ${loadNote(t.map((x) => x.ts))} |`);
    }
  }
}
console.log('\n| work | target | server | measured (median of rounds; each round in brackets) | load |\n| --- | --- | --- | --- | --- |');
for (const l of lines) console.log(l);
