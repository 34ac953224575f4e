/**
 * HTTP live fan-out benchmark: server CPU for N HTTP-TS (and, to compare, HTTP-FLV) players of one stream.
 * The harness in /work/shared/bench speaks HTTP-FLV and RTMP only, so this one does the same measurement for .ts:
 *
 *   1. start the gateway from `--root` (default: this checkout) in a child process (runCli, its own conf with free
 *      loopback ports, `srs_log_level error`, min_latency or mw_latency as given);
 *   2. publish `--fixture` over RTMP with `ffmpeg -re -stream_loop -1 -c copy` (bounded by a timeout);
 *   3. open N players (http.get, agent:false, bodies counted and dropped; TS bodies checked for the 0x47 sync byte
 *      every 188 bytes), spread over min(5 s, 5 ms × N), wait `--warmup` s, then sample for `--seconds` s:
 *      the server's utime+stime from /proc/PID/stat (% of ONE core), VmRSS, the players' received kbit/s, and the
 *      machine's busy % from /proc/stat (other tenants load it: read the figures with `sys_busy_pct`).
 *   4. print one key=value line per run; stop players, publisher and gateway.
 *
 * Compare before/after a change by pointing `--root` at an exported copy of the older commit
 * (`git archive REV | tar -x -C DIR; ln -s $PWD/node_modules DIR/`), in the same session.
 * Run: npx tsx test/bench/http-ts-fanout.bench.ts --players 500,1000 --formats ts,flv --fixture bench-720p.flv
 * (fixtures: /work/shared/bench/make-fixtures.sh DIR). Nothing here asserts: it prints figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, type ClientRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    players: { type: 'string', default: '200,500,1000' },
    formats: { type: 'string', default: 'ts,flv' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    root: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    fixture: { type: 'string', default: fileURLToPath(new URL('../../fixtures/flv/h264-aac-320x240-10s.flv', import.meta.url)) },
    /** `min` = min_latency on (write at the end of the tick); a number = mw_latency ms. */
    latency: { type: 'string', default: 'min' },
    label: { type: 'string', default: '' },
  },
});

const CLK_TCK = 100;
/** The fixture's bitrate (ffprobe format=bit_rate), kbit/s: a player under 90 % of it (FLV) is behind. */
const FIXTURE_KBPS = Number(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=bit_rate', '-of', 'default=nw=1:nk=1', args.fixture])
  .stdout.toString().trim()) / 1000;
const TS_PACKET = 188;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

function sysTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n')[0] as string;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

interface Gateway {
  readonly child: ChildProcess;
  readonly rtmpPort: number;
  readonly httpPort: number;
  readonly dir: string;
}

async function startGateway(root: string): Promise<Gateway> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'castgate-fanout-bench-'));
  const latency = args.latency === 'min' ? 'min_latency on;' : `play { mw_latency ${Number(args.latency)}; }`;
  const conf = join(dir, 'bench.conf');
  writeFileSync(conf, `listen 127.0.0.1:${rtmpPort};\nmax_connections 20000;\nsrs_log_level error;\n`
    + `http_server { enabled on; listen 127.0.0.1:${httpPort}; }\n`
    + `vhost __defaultVhost__ { gop_cache on; queue_length 10; ${latency} http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n`);
  const script = `const { runCli } = await import(${JSON.stringify(resolve(root, 'core/main.ts'))}); const c = await runCli(['-c', ${JSON.stringify(conf)}]); if (c !== undefined) process.exit(c);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const ok = await new Promise<boolean>((done) => {
      const req = get({ host: '127.0.0.1', port: httpPort, path: '/', agent: false }, (res) => { res.resume(); done(true); });
      req.on('error', () => done(false));
    });
    if (ok) return { child, rtmpPort, httpPort, dir };
  }
  child.kill('SIGKILL');
  throw new Error('gateway did not start');
}

interface Player {
  bytes: number;
  windowStart: number;
  errors: number;
  req: ClientRequest | undefined;
}

function openPlayer(port: number, path: string, isTs: boolean): Player {
  const p: Player = { bytes: 0, windowStart: 0, errors: 0, req: undefined };
  let offset = 0; // position in the TS body, for the sync byte check
  p.req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
    if (res.statusCode !== 200) p.errors++;
    res.on('data', (d: Buffer) => {
      if (isTs) {
        let i = (TS_PACKET - (offset % TS_PACKET)) % TS_PACKET;
        for (; i < d.length; i += TS_PACKET) if (d[i] !== 0x47) p.errors++;
        offset += d.length;
      }
      p.bytes += d.length;
    });
    res.on('error', () => p.errors++);
  });
  p.req.on('error', () => p.errors++);
  return p;
}

async function runOnce(format: 'ts' | 'flv', n: number): Promise<string> {
  const gw = await startGateway(args.root);
  const pub = spawn('timeout', ['600', 'ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1',
    '-i', args.fixture, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${gw.rtmpPort}/live/s`], { stdio: 'ignore' });
  const players: Player[] = [];
  try {
    const probe = openPlayer(gw.httpPort, `/live/s.${format}`, format === 'ts');
    for (let i = 0; i < 100 && probe.bytes < 10_000; i++) await sleep(100);
    probe.req?.destroy();
    if (probe.bytes < 10_000) throw new Error('no media from the gateway');
    const rampMs = Math.min(5000, 5 * n);
    for (let i = 0; i < n; i++) {
      players.push(openPlayer(gw.httpPort, `/live/s.${format}`, format === 'ts'));
      if (i % 10 === 9) await sleep((rampMs * 10) / n);
    }
    await sleep(Number(args.warmup) * 1000);
    const pid = gw.child.pid as number;
    const c0 = cpuTicks(pid);
    const s0 = sysTicks();
    const me0 = process.cpuUsage();
    const t0 = performance.now();
    for (const p of players) p.windowStart = p.bytes;
    const rss: number[] = [];
    const seconds = Number(args.seconds);
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      rss.push(rssMb(pid));
    }
    const wallS = (performance.now() - t0) / 1000;
    const serverCpu = ((cpuTicks(pid) - c0) / CLK_TCK / wallS) * 100;
    const s1 = sysTicks();
    const me = process.cpuUsage(me0);
    const clientCpu = ((me.user + me.system) / 1e6 / wallS) * 100;
    const kbps = players.map((p) => ((p.bytes - p.windowStart) * 8) / 1000 / wallS).sort((a, b) => a - b);
    const med = kbps[Math.floor(kbps.length / 2)] ?? 0;
    // TS adds ~5-10 % of packet overhead to the FLV payload: behind = under 90 % of the fixture rate either way
    const behind = kbps.filter((k) => k < FIXTURE_KBPS * 0.9).length;
    const errors = players.reduce((a, p) => a + p.errors, 0);
    const fields = {
      label: args.label || undefined, format, players: n, latency: args.latency,
      server_cpu_pct: serverCpu.toFixed(1),
      rss_avg_mb: (rss.reduce((a, b) => a + b, 0) / rss.length).toFixed(0),
      expect_kbps: FIXTURE_KBPS.toFixed(0), kbps_min: (kbps[0] ?? 0).toFixed(0), kbps_med: med.toFixed(0),
      behind, errors,
      client_cpu_pct: clientCpu.toFixed(1),
      sys_busy_pct: (((s1.busy - s0.busy) / (s1.total - s0.total)) * 100).toFixed(1),
    };
    return Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  } finally {
    for (const p of players) p.req?.destroy();
    pub.kill('SIGTERM');
    gw.child.kill('SIGTERM');
    if (gw.child.exitCode === null && gw.child.signalCode === null) await new Promise((ok) => gw.child.once('exit', ok));
    rmSync(gw.dir, { recursive: true, force: true });
  }
}

for (const n of args.players.split(',').map(Number)) {
  for (const format of args.formats.split(',') as ('ts' | 'flv')[]) {
    console.log(await runOnce(format, n));
  }
}
