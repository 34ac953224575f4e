/**
 * Seed corpus and input generation shared by the fuzz runner and its workers. Seeds are the files of
 * fixtures/fuzz/<target>/ (every file but README*; see fixtures/README.md "Fuzz seeds"). Input #i of a target is a
 * pure function of (run seed, target name, i, the seed files): `generateInput` rebuilds it anywhere.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutateInput } from './mutate.ts';
import { Prng } from './prng.ts';
import type { FuzzTarget } from './targets.ts';

/** fixtures/fuzz/ of this checkout. */
export const SEED_ROOT = fileURLToPath(new URL('../../fixtures/fuzz/', import.meta.url));

/** The seed files of a target, sorted by name (so the corpus order, and every input, is stable). */
export function loadSeeds(target: string, root = SEED_ROOT): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(join(root, target));
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('README'))
    .sort()
    .map((n) => readFileSync(join(root, target, n)));
}

/** Input #index of `target` in the run seeded `seed`, and the generator the target run continues with. */
export function generateInput(target: FuzzTarget, seeds: readonly Buffer[], seed: number, index: number): { input: Buffer; rng: Prng } {
  const rng = Prng.forInput(seed, target.name, index);
  const input = mutateInput(rng, seeds, target.maxInputSize);
  return { input, rng };
}

/** One kind of failure: 'crash' (a non-GatewayError throw), 'undocumented' (a GatewayError code the call does not
 * document), 'invariant' (FuzzInvariantError), 'hang' (> hangMs for one input). */
export type FailureKind = 'crash' | 'undocumented' | 'invariant' | 'hang';

export interface Failure {
  readonly target: string;
  readonly kind: FailureKind;
  readonly index: number;
  /** First line of the error (or "no result after N ms"). */
  readonly message: string;
  /** The top of the stack (a few frames), for the report. */
  readonly stack: string;
  /** Groups failures with the same cause: kind + error name + the first stack frame in the project. */
  readonly signature: string;
}

/** Classify what a target run threw. */
export function describeFailure(target: string, index: number, err: unknown): Failure {
  const e = err instanceof Error ? err : new Error(String(err));
  const kind: FailureKind = e.name === 'FuzzInvariantError' ? 'invariant' : e.name === 'UndocumentedError' ? 'undocumented' : 'crash';
  const cause = kind === 'undocumented' && e.cause instanceof Error ? e.cause : e;
  const frames = (cause.stack ?? '').split('\n').slice(1).map((l) => l.trim());
  const own = frames.find((l) => /\/(core|casters|ingest)\//.test(l)) ?? frames[0] ?? '';
  const where = own.replace(/^at /, '').replace(/\(?file:\/\/[^)]*\/(core|casters|ingest|test)\//, '$1/').replace(/\)$/, '');
  const message = (e.message.split('\n')[0] ?? '').slice(0, 300);
  const signature = `${kind} ${cause.name} ${kind === 'invariant' ? message.replace(/\d+/g, 'N') : where.replace(/:\d+$/, '')}`;
  return { target, kind, index, message, stack: frames.slice(0, 6).join('\n'), signature };
}
