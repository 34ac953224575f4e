/**
 * `npm run fuzz`: mutation fuzzing of every network parser (issue 12 §4; targets in targets.ts, seeds in
 * fixtures/fuzz/). Prints inputs/s and failures per target and exits 1 when anything failed.
 *
 * Environment:
 * - FUZZ_SEED     run seed (uint32; default: random, printed so the run can be repeated)
 * - FUZZ_N        inputs per target (default 1,000,000)
 * - FUZZ_TARGETS  comma-separated target names (default: all)
 * - FUZZ_JOBS     worker threads (default 1: the machine is shared)
 * - FUZZ_HANG_MS  one input running longer than this is a hang (default 1000)
 * - FUZZ_ONLY     an input index: run just that input of FUZZ_TARGETS in this thread and print what it throws
 * - FUZZ_OUT      folder for the failing inputs (default $TMPDIR/castgate-fuzz)
 *
 * Each target runs in a worker thread; the worker announces every input in shared memory, so an input that never
 * returns is seen by this thread's watchdog, the worker is terminated and a new one carries on after that input.
 * Workers have a heap limit, so an input that makes a parser allocate without bound fails instead of the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describeFailure, generateInput, loadSeeds } from './corpus.ts';
import type { Failure } from './corpus.ts';
import type { FuzzTarget } from './targets.ts';
import type { FuzzTask, WorkerMessage } from './worker.ts';

export interface FuzzOptions {
  readonly seed: number;
  /** Inputs per target. */
  readonly n: number;
  /** Target names (default: all of the targets module). */
  readonly targets?: readonly string[] | undefined;
  readonly jobs?: number | undefined;
  readonly hangMs?: number | undefined;
  /** Module exporting TARGETS (default ./targets.ts); the harness's own test plants faulty targets this way. */
  readonly targetsModule?: string | undefined;
  /** Stop a target after this many hangs (each costs hangMs and a new worker). Default 3. */
  readonly maxHangs?: number | undefined;
  /** Progress lines. */
  readonly log?: ((line: string) => void) | undefined;
  /** Where failing inputs are written (undefined: not written). */
  readonly saveDir?: string | undefined;
}

export interface TargetResult {
  readonly target: string;
  readonly what: string;
  readonly seeds: number;
  /** Inputs run (n, or fewer when the target was stopped after maxHangs hangs). */
  inputs: number;
  /** Worker time spent running inputs (hang waits excluded). */
  ms: number;
  failureCount: number;
  /** The first failure of each signature. */
  readonly failures: Failure[];
  /** Files the failing inputs were written to. */
  readonly saved: string[];
  hangs: number;
}

/** Worker heap limit: far above what any target needs for a 64 KiB input. */
const WORKER_HEAP_MB = 512;
const WATCHDOG_INTERVAL_MS = 50;
/** Failures kept in full per task (all are counted). */
const KEEP_FAILURES = 20;

const DEFAULT_TARGETS_MODULE = new URL('./targets.ts', import.meta.url).href;
const WORKER_ENTRY = new URL('./worker.ts', import.meta.url).href;

interface Slot {
  worker: Worker;
  readonly slots: Int32Array;
  readonly startedAt: Float64Array;
  task: FuzzTask | undefined;
  /** Date.now() when the current task was sent (for the time of a task cut short by a hang). */
  taskSentAt: number;
  dead: boolean;
}

/** Run the targets; resolves when every input ran (or its target was stopped). */
export async function runFuzz(opts: FuzzOptions): Promise<TargetResult[]> {
  const targetsModule = opts.targetsModule ?? DEFAULT_TARGETS_MODULE;
  const hangMs = opts.hangMs ?? 1000;
  const maxHangs = opts.maxHangs ?? 3;
  const log = opts.log ?? ((): void => undefined);
  const { TARGETS } = (await import(targetsModule)) as { TARGETS: readonly FuzzTarget[] };
  const chosen = opts.targets === undefined ? TARGETS : opts.targets.map((name) => {
    const t = TARGETS.find((x) => x.name === name);
    if (t === undefined) throw new Error(`unknown fuzz target '${name}' (known: ${TARGETS.map((x) => x.name).join(', ')})`);
    return t;
  });
  const results = new Map<string, TargetResult>();
  const queue: FuzzTask[] = [];
  for (const t of chosen) {
    results.set(t.name, { target: t.name, what: t.what, seeds: loadSeeds(t.name).length, inputs: 0, ms: 0, failureCount: 0, failures: [], saved: [], hangs: 0 });
    queue.push({ target: t.name, seed: opts.seed, start: 0, end: opts.n, hangMs, keep: KEEP_FAILURES });
  }
  const record = (f: Failure): void => {
    const r = results.get(f.target) as TargetResult;
    if (!r.failures.some((x) => x.signature === f.signature) && r.failures.length < KEEP_FAILURES) r.failures.push(f);
  };

  await new Promise<void>((resolve, reject) => {
    const pool: Slot[] = [];
    const finishIfIdle = (): void => {
      if (queue.length === 0 && pool.every((s) => s.task === undefined)) {
        clearInterval(watchdog);
        for (const s of pool) {
          s.dead = true;
          void s.worker.terminate();
        }
        resolve();
      }
    };
    const next = (slot: Slot): void => {
      const task = queue.shift();
      slot.task = task;
      if (task === undefined) return finishIfIdle();
      slot.taskSentAt = Date.now();
      slot.worker.postMessage(task);
    };
    const spawn = (): Slot => {
      const shared = new SharedArrayBuffer(24);
      const slots = new Int32Array(shared, 0, 4);
      slots[0] = -1;
      const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_ENTRY)}); })`;
      const worker = new Worker(bootstrap, {
        eval: true,
        workerData: { shared, targetsModule },
        resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      });
      const slot: Slot = { worker, slots, startedAt: new Float64Array(shared, 16, 1), task: undefined, taskSentAt: 0, dead: false };
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') return next(slot);
        if (m.type === 'progress') return log(`${m.target}: ${m.done} inputs`);
        const r = results.get(m.target) as TargetResult;
        r.inputs += m.end - m.start;
        r.ms += m.ms;
        r.failureCount += m.failureCount;
        for (const f of m.failures) record(f);
        log(`${m.target}: ${m.end - m.start} inputs in ${(m.ms / 1000).toFixed(1)} s, ${m.failureCount} failures`);
        next(slot);
      });
      // A worker that dies (heap limit, native crash) or throws outside a target: the input it was on failed.
      const onDeath = (why: string): void => {
        if (slot.dead) return;
        slot.dead = true;
        const task = slot.task;
        const index = Atomics.load(slot.slots, 0);
        if (task === undefined || index < 0) {
          clearInterval(watchdog);
          reject(new Error(`fuzz worker died outside an input: ${why}`));
          return;
        }
        settle(slot, task, index, { target: task.target, kind: 'crash', index, message: `worker died: ${why}`, stack: '', signature: `crash worker ${why.split(':')[0] ?? ''}` });
      };
      worker.on('error', (err) => onDeath(err instanceof Error ? `${err.name}: ${err.message}` : String(err)));
      worker.on('exit', (code) => onDeath(`exit code ${code}`));
      pool.push(slot);
      return slot;
    };
    /** The slot's worker stopped at input `index` of `task` (hang or death): count it, then carry on after it. */
    const settle = (slot: Slot, task: FuzzTask, index: number, failure: Failure): void => {
      const r = results.get(task.target) as TargetResult;
      r.inputs += index - task.start + 1;
      r.ms += Math.max(0, Date.now() - slot.taskSentAt - (failure.kind === 'hang' ? hangMs : 0));
      r.failureCount++;
      record(failure);
      if (failure.kind === 'hang') r.hangs++;
      log(`${task.target}: ${failure.kind} at input ${index}: ${failure.message}`);
      if (index + 1 < task.end && r.hangs < maxHangs) queue.unshift({ ...task, start: index + 1 });
      pool.splice(pool.indexOf(slot), 1);
      spawn();
    };
    const watchdog = setInterval(() => {
      const now = Date.now();
      for (const slot of [...pool]) {
        if (slot.dead || slot.task === undefined) continue;
        const index = Atomics.load(slot.slots, 0);
        const since = slot.startedAt[0] as number;
        if (index >= 0 && since > 0 && now - since > hangMs) {
          slot.dead = true;
          void slot.worker.terminate();
          settle(slot, slot.task, index, { target: slot.task.target, kind: 'hang', index, message: `no result after ${now - since} ms`, stack: '', signature: `hang ${slot.task.target}` });
        }
      }
    }, WATCHDOG_INTERVAL_MS);
    const jobs = Math.max(1, Math.min(opts.jobs ?? 1, chosen.length));
    for (let i = 0; i < jobs; i++) spawn();
  });

  if (opts.saveDir !== undefined) {
    mkdirSync(opts.saveDir, { recursive: true });
    for (const r of results.values()) {
      const target = chosen.find((t) => t.name === r.target) as FuzzTarget;
      const seeds = loadSeeds(target.name);
      for (const f of r.failures) {
        const { input } = generateInput(target, seeds, opts.seed, f.index);
        const file = join(opts.saveDir, `${r.target}-seed${opts.seed}-input${f.index}.bin`);
        writeFileSync(file, input);
        r.saved.push(file);
      }
    }
  }
  return [...results.values()];
}

/** Run input `index` of `targetName` in this thread: what it throws (undefined = it passed). */
export async function runOne(targetName: string, seed: number, index: number, targetsModule = DEFAULT_TARGETS_MODULE): Promise<{ input: Buffer; failure: Failure | undefined; error: unknown }> {
  const { TARGETS } = (await import(targetsModule)) as { TARGETS: readonly FuzzTarget[] };
  const target = TARGETS.find((t) => t.name === targetName);
  if (target === undefined) throw new Error(`unknown fuzz target '${targetName}'`);
  const { input, rng } = generateInput(target, loadSeeds(target.name), seed, index);
  try {
    target.run(input, rng);
    return { input, failure: undefined, error: undefined };
  } catch (err) {
    return { input, failure: describeFailure(target.name, index, err), error: err };
  }
}

/** The summary table. */
export function formatResults(results: readonly TargetResult[]): string {
  const lines = [`${'target'.padEnd(18)} ${'seeds'.padStart(5)} ${'inputs'.padStart(9)} ${'inputs/s'.padStart(9)} ${'failures'.padStart(8)}  parser`];
  for (const r of results) {
    const rate = r.ms > 0 ? Math.round((r.inputs / r.ms) * 1000) : 0;
    lines.push(`${r.target.padEnd(18)} ${String(r.seeds).padStart(5)} ${String(r.inputs).padStart(9)} ${String(rate).padStart(9)} ${String(r.failureCount).padStart(8)}  ${r.what}`);
  }
  for (const r of results) {
    for (const f of r.failures) {
      lines.push('', `FAIL ${r.target} input ${f.index} [${f.kind}] ${f.message}`);
      if (f.stack !== '') lines.push(f.stack.split('\n').map((l) => `    ${l}`).join('\n'));
    }
    for (const file of r.saved) lines.push(`  input saved: ${file}`);
  }
  return lines.join('\n');
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const seed = envInt('FUZZ_SEED', Math.floor(Math.random() * 2 ** 32)) >>> 0;
  const n = envInt('FUZZ_N', 1_000_000);
  const jobs = envInt('FUZZ_JOBS', 1);
  const hangMs = envInt('FUZZ_HANG_MS', 1000);
  const targets = process.env.FUZZ_TARGETS?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const only = process.env.FUZZ_ONLY;
  if (only !== undefined && only !== '') {
    if (targets === undefined || targets.length !== 1) throw new Error('FUZZ_ONLY needs exactly one FUZZ_TARGETS name');
    const { input, failure, error } = await runOne(targets[0] as string, seed, envInt('FUZZ_ONLY', 0));
    console.log(`${targets[0]} seed ${seed} input ${only}: ${input.length} bytes\n${input.subarray(0, 256).toString('hex')}${input.length > 256 ? '…' : ''}`);
    if (failure === undefined) {
      console.log('passed');
      return;
    }
    console.log(`[${failure.kind}]`, error);
    process.exitCode = 1;
    return;
  }
  const saveDir = process.env.FUZZ_OUT ?? join(tmpdir(), 'castgate-fuzz');
  console.log(`castgate fuzz: FUZZ_SEED=${seed} FUZZ_N=${n} FUZZ_JOBS=${jobs} FUZZ_HANG_MS=${hangMs}${targets ? ` FUZZ_TARGETS=${targets.join(',')}` : ''}`);
  const t0 = Date.now();
  const results = await runFuzz({ seed, n, targets, jobs, hangMs, saveDir, log: (l) => console.log(l) });
  console.log(`\n${formatResults(results)}\n\n${results.reduce((a, r) => a + r.inputs, 0)} inputs in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const failed = results.reduce((a, r) => a + r.failureCount, 0);
  if (failed > 0) {
    console.log(`${failed} failing inputs. Reproduce one: FUZZ_SEED=${seed} FUZZ_TARGETS=<target> FUZZ_ONLY=<input> npm run fuzz`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
