/**
 * The gateway as a separate process for the fan-out benchmarks (its CPU is read from /proc, apart from the load
 * generator's): runCli from a source tree (`root`, default this checkout; an exported older commit compares
 * before/after), its own conf on free loopback ports, an ffmpeg publisher of a fixture, and /proc readers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CLK_TCK = 100;

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Seconds of CPU (utime + stime) the process used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

/** Whole-machine busy and total jiffies (/proc/stat): busy % over a window = Δbusy / Δtotal. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n')[0] as string;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly rtmpPort: number;
  readonly httpPort: number;
  stop(): Promise<void>;
}

/**
 * Start castgate from `root` with `vhost` directives (e.g. `min_latency on;`) in the default vhost, HTTP-FLV/TS
 * mounted; resolves once its HTTP server answers. `nodeArgs` go to node (e.g. `--cpu-prof`).
 */
export async function startGatewayProcess(root: string, vhost: string, nodeArgs: readonly string[] = []): Promise<GatewayProcess> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'castgate-fanout-bench-'));
  const conf = join(dir, 'bench.conf');
  writeFileSync(conf, `listen 127.0.0.1:${rtmpPort};\nmax_connections 20000;\nsrs_log_level error;\n`
    + `http_server { enabled on; listen 127.0.0.1:${httpPort}; }\n`
    + `vhost __defaultVhost__ { gop_cache on; queue_length 10; ${vhost} http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n`);
  const script = `const { runCli } = await import(${JSON.stringify(resolve(root, 'core/main.ts'))}); const c = await runCli(['-c', ${JSON.stringify(conf)}]); if (c !== undefined) process.exit(c);`;
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = await serverProcess(child, httpPort, dir, 'gateway');
  return { child, pid: child.pid as number, rtmpPort, httpPort, stop };
}

/** Does an HTTP server answer on 127.0.0.1:port (any status)? */
export function httpAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => { res.resume(); done(true); });
    req.on('error', () => done(false));
    req.on('timeout', () => { req.destroy(); done(false); });
  });
}

/**
 * Wait (up to 10 s) until the server process `child` answers HTTP on `httpPort`; returns its stop function
 * (SIGTERM, wait for the exit, remove `dir`). Throws (after stopping it) when it never answers.
 */
export async function serverProcess(child: ChildProcess, httpPort: number, dir: string | undefined, what: string): Promise<() => Promise<void>> {
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((ok) => child.once('exit', ok));
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    if (await httpAnswers(httpPort)) return stop;
  }
  await stop();
  throw new Error(`${what} did not start`);
}

/** `ffmpeg -re -stream_loop -1 -i FIXTURE -c copy -f flv URL`, bounded by `timeout`; kill() stops it. */
export function publishLoop(fixture: string, url: string, maxSeconds = 600): ChildProcess {
  return spawn('timeout', [String(maxSeconds), 'ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1',
    '-i', fixture, '-c', 'copy', '-f', 'flv', url], { stdio: 'ignore' });
}
