/**
 * Fuzz worker thread: runs tasks (a target and a range of input indexes) sent by run.ts. Before each input it
 * writes the index and the wall-clock start into shared memory, so the runner can see an input that never returns
 * and terminate the thread; an input that returns after more than hangMs is reported as a hang too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeFailure, generateInput, loadSeeds } from './corpus.ts';
import type { Failure } from './corpus.ts';
import type { FuzzTarget } from './targets.ts';

export interface FuzzTask {
  readonly target: string;
  readonly seed: number;
  readonly start: number;
  readonly end: number;
  readonly hangMs: number;
  /** Failures kept in full per task (all are counted). */
  readonly keep: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; target: string; done: number }
  | { type: 'done'; target: string; start: number; end: number; ms: number; failures: Failure[]; failureCount: number };

/** Shared memory: Int32 [0] = input index being run (-1 = idle); Float64 at byte 16 = its start (Date.now()). */
export const SLOT_INDEX = 0;

const { shared, targetsModule } = workerData as { shared: SharedArrayBuffer; targetsModule: string };
const slots = new Int32Array(shared);
const startedAt = new Float64Array(shared, 16, 1);
const { TARGETS } = (await import(targetsModule)) as { TARGETS: readonly FuzzTarget[] };
const seedCache = new Map<string, Buffer[]>();
const port = parentPort;
if (port === null) throw new Error('worker.ts runs as a worker thread');

function runTask(task: FuzzTask): void {
  const target = TARGETS.find((t) => t.name === task.target);
  if (target === undefined) throw new Error(`no fuzz target ${task.target}`);
  let seeds = seedCache.get(target.name);
  if (seeds === undefined) {
    seeds = loadSeeds(target.name);
    seedCache.set(target.name, seeds);
  }
  const failures: Failure[] = [];
  const signatures = new Set<string>();
  let failureCount = 0;
  const t0 = performance.now();
  for (let i = task.start; i < task.end; i++) {
    startedAt[0] = Date.now();
    Atomics.store(slots, SLOT_INDEX, i);
    const { input, rng } = generateInput(target, seeds, task.seed, i);
    const begin = performance.now();
    let failure: Failure | undefined;
    try {
      target.run(input, rng);
    } catch (err) {
      failure = describeFailure(target.name, i, err);
    }
    const took = performance.now() - begin;
    if (failure === undefined && took > task.hangMs) {
      failure = { target: target.name, kind: 'hang', index: i, message: `input took ${Math.round(took)} ms (limit ${task.hangMs} ms)`, stack: '', signature: `hang slow ${target.name}` };
    }
    if (failure !== undefined) {
      failureCount++;
      if (!signatures.has(failure.signature) && failures.length < task.keep) {
        signatures.add(failure.signature);
        failures.push(failure);
      }
    }
    if ((i - task.start) % 65536 === 65535) port!.postMessage({ type: 'progress', target: target.name, done: i - task.start + 1 } satisfies WorkerMessage);
  }
  Atomics.store(slots, SLOT_INDEX, -1);
  port!.postMessage({ type: 'done', target: target.name, start: task.start, end: task.end, ms: performance.now() - t0, failures, failureCount } satisfies WorkerMessage);
}

port.on('message', (task: FuzzTask) => runTask(task));
port.postMessage({ type: 'ready' } satisfies WorkerMessage);
