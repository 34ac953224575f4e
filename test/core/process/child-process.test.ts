import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Backoff, parseProgressLine, SupervisedProcess, type FfmpegProgress } from '../../../core/process/child-process.ts';
import { processAlive } from '../../helpers/peers.ts';

interface LogLine { level: number; msg: string; [k: string]: unknown }
function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } });
  return { log, lines };
}
const ERROR = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
test('Backoff doubles from the minimum up to the cap and resets', () => {
  const b = new Backoff(1000, 30_000);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  b.reset();
  assert.equal(b.next(), 1000);
});

test('parseProgressLine: -progress key=value lines and the classic stats line', () => {
  const p: FfmpegProgress = {};
  for (const l of ['frame=250', 'fps=25.02', 'stream_0_0_q=28.0', 'bitrate= 512.3kbits/s', 'total_size=640000', 'out_time_us=10000000',
    'out_time_ms=10000000', 'out_time=00:00:10.000000', 'dup_frames=0', 'drop_frames=0', 'speed=1.01x', 'progress=continue']) {
    assert.equal(parseProgressLine(l, p), true, l);
  }
  assert.deepEqual(p, { frame: 250, fps: 25.02, bitrateKbps: 512.3, totalSizeBytes: 640000, outTimeMs: 10000, speed: 1.01 });
  const q: FfmpegProgress = {};
  assert.equal(parseProgressLine('frame=  125 fps= 25 q=28.0 size=     512kB time=00:00:05.00 bitrate= 838.9kbits/s speed=   1x', q), true);
  assert.deepEqual(q, { frame: 125, fps: 25, outTimeMs: 5000, bitrateKbps: 838.9, speed: 1 });
  assert.equal(parseProgressLine('bitrate=N/A', q), true);
  assert.equal(q.bitrateKbps, 838.9, 'N/A keeps the last value');
  assert.equal(parseProgressLine('[flv @ 0x55] Failed to update header', q), false);
  assert.equal(parseProgressLine('a.mp4: No such file or directory', q), false);
  assert.equal(parseProgressLine('Input #0, flv, from x:', q), false);
});

test('a child that keeps dying restarts with exponential backoff', async () => {
  const { log } = captureLog();
  const spawnAt: number[] = [];
  const p = new SupervisedProcess({
    command: 'sh', args: ['-c', 'exit 3'], log, minBackoffMs: 40, maxBackoffMs: 160,
    onSpawn: () => spawnAt.push(Date.now()),
  });
  p.start();
  await sleep(40 + 80 + 160 + 160 + 150);
  await p.stop();
  assert.ok(spawnAt.length >= 4 && spawnAt.length <= 6, `spawns ${spawnAt.length}`);
  const gaps = spawnAt.slice(1).map((t, i) => t - (spawnAt[i] as number));
  assert.ok((gaps[0] as number) >= 38, `first gap ${gaps[0]}`);
  assert.ok((gaps[1] as number) >= 78, `second gap ${gaps[1]}`);
  assert.ok((gaps[2] as number) >= 155, `third gap ${gaps[2]}`);
  assert.ok(gaps.every((g) => g < 160 + 120), `capped: ${gaps}`);
  const s = p.stats();
  assert.equal(s.state, 'stopped');
  assert.equal(s.restarts, spawnAt.length - 1);
  assert.deepEqual(s.lastExit, { code: 3, signal: null });
});

test('a child that ran healthy long enough restarts after the minimum backoff again', async () => {
  const { log } = captureLog();
  const spawnAt: number[] = [];
  const p = new SupervisedProcess({
    command: 'sh', args: ['-c', 'sleep 0.12'], log, minBackoffMs: 30, maxBackoffMs: 1000, healthyMs: 100,
    onSpawn: () => spawnAt.push(Date.now()),
  });
  p.start();
  await sleep(1500);
  await p.stop();
  assert.ok(spawnAt.length >= 6, `spawns ${spawnAt.length}`);
  const gaps = spawnAt.slice(1).map((t, i) => t - (spawnAt[i] as number));
  // 120 ms run + 30 ms backoff each time (≈150 ms). Without the reset the waits double (30, 60, 120, 240, 480 ...):
  // the 4th gap would be 120 + 240 = 360 ms and only 5 spawns fit in 1.5 s. 330 ms leaves room for a loaded machine.
  assert.ok(gaps.every((g) => g < 330), `gaps ${gaps}`);
});

test('restartChild kills the running child; the supervisor starts a new one', async () => {
  const { log } = captureLog();
  const pids: number[] = [];
  const p = new SupervisedProcess({ command: 'sh', args: ['-c', 'sleep 10'], log, minBackoffMs: 20, onSpawn: (c) => pids.push(c.pid as number) });
  p.start();
  await sleep(100);
  p.restartChild();
  await sleep(250);
  assert.equal(pids.length, 2);
  assert.equal(processAlive(pids[0] as number), false, 'the first child is gone (and reaped)');
  assert.equal(p.stats().state, 'running');
  assert.deepEqual(p.stats().lastExit, { code: null, signal: 'SIGTERM' });
  await p.stop();
  assert.equal(processAlive(pids[1] as number), false);
});

test('stop: SIGTERM, then SIGKILL to the whole group when SIGTERM is ignored; no restart after', async () => {
  const { log } = captureLog();
  let pid = 0;
  const p = new SupervisedProcess({
    command: 'sh', args: ['-c', "trap '' TERM; while :; do sleep 0.05; done"], log, stopTimeoutMs: 150, minBackoffMs: 10,
    onSpawn: (c) => { pid = c.pid as number; },
  });
  p.start();
  await sleep(100);
  const t0 = Date.now();
  await p.stop();
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 1500, `stop took ${took} ms`);
  assert.equal(processAlive(pid), false);
  assert.deepEqual(p.stats().lastExit, { code: null, signal: 'SIGKILL' });
  await sleep(50);
  assert.equal(p.stats().starts, 1);
  await p.stop(); // idempotent
});

test('a missing binary is one clear error and disables the process (no restart loop)', async () => {
  const { log, lines } = captureLog();
  const fatal: string[] = [];
  const p = new SupervisedProcess({
    command: '/nonexistent/ffmpeg', args: ['-version'], log, minBackoffMs: 10,
    onFatal: (e) => fatal.push(e.message),
  });
  p.start();
  await sleep(200);
  const s = p.stats();
  assert.equal(s.state, 'failed');
  assert.equal(s.starts, 1);
  assert.deepEqual(fatal, ["cannot run '/nonexistent/ffmpeg': not found (ENOENT)"]);
  assert.equal(lines.filter((l) => l.level >= ERROR).length, 1);
  assert.equal(s.error, fatal[0]);
  await p.stop();
});

test('stderr: progress goes to stats, other lines to the log (rate-limited) and the ring buffer', async () => {
  const { log, lines } = captureLog();
  const script = "printf 'frame=25\\nfps=25.0\\nbitrate= 512.3kbits/s\\nout_time_us=1000000\\nspeed=1.01x\\nprogress=continue\\n' >&2;"
    + " i=0; while [ $i -lt 30 ]; do echo \"warning line $i\" >&2; i=$((i+1)); done; sleep 5";
  const p = new SupervisedProcess({ command: 'sh', args: ['-c', script], log });
  p.start();
  await sleep(300);
  const s = p.stats();
  assert.deepEqual(s.progress, { frame: 25, fps: 25, bitrateKbps: 512.3, outTimeMs: 1000, speed: 1.01 });
  assert.equal(s.stderrTail.length, 30);
  assert.equal(s.stderrTail[29], 'warning line 29');
  assert.equal(lines.filter((l) => l.msg === 'child stderr').length, 10, 'at most 10 lines per window');
  assert.equal(s.stderrLinesSuppressed, 20);
  assert.ok(s.uptimeMs > 0 && s.pid !== undefined);
  await p.stop();
});

test("stdin: 'pipe' gives the owner a writable stdin in onSpawn (each run its own); the default is no stdin", async () => {
  const { log } = captureLog();
  const outputs: string[] = [];
  const p = new SupervisedProcess({
    command: 'cat', args: [], log, stdin: 'pipe', minBackoffMs: 10,
    onSpawn: (c) => {
      let text = '';
      c.stdout?.setEncoding('utf8');
      c.stdout?.on('data', (d: string) => { text += d; });
      c.stdout?.on('end', () => outputs.push(text));
      c.stdin?.end(`run ${p.stats().starts}`);
    },
  });
  p.start();
  await sleep(300);
  await p.stop();
  assert.ok(outputs.length >= 2, `runs ${outputs.length}`);
  assert.deepEqual(outputs.slice(0, 2), ['run 1', 'run 2'], 'cat echoed what each run got on stdin, then exited at its end');
  let stdin: unknown = 'unset';
  const q = new SupervisedProcess({ command: 'sh', args: ['-c', 'sleep 5'], log, onSpawn: (c) => { stdin = c.stdin; } });
  q.start();
  await q.stop();
  assert.equal(stdin, null);
});
