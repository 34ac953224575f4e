/**
 * The CI slice of `npm run fuzz` (issue 12 §4): 10^4 mutated inputs per parser with a fixed seed, no failure
 * allowed, inputs/s printed as diagnostics. Also proves the harness can fail: planted crashes, undocumented error
 * codes, broken invariants and endless loops are each caught, classified and reproducible from (seed, index).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResults, runFuzz, runOne } from './run.ts';
import { generateInput, loadSeeds } from './corpus.ts';
import { TARGETS } from './targets.ts';

/** The fixed seed of the CI slice (any failure it finds is reproduced with FUZZ_SEED=20250612 FUZZ_ONLY=<index>). */
const CI_SEED = 20250612;
const CI_INPUTS = 10_000;
const PLANTED = new URL('./planted-targets.ts', import.meta.url).href;

test('every parser target has seeds from fixtures/fuzz and yields the same input for the same (seed, index)', () => {
  for (const t of TARGETS) {
    const seeds = loadSeeds(t.name);
    assert.ok(seeds.length > 0, `fixtures/fuzz/${t.name}/ has seeds`);
    for (const index of [0, 1, 9_999]) {
      const a = generateInput(t, seeds, CI_SEED, index).input;
      const b = generateInput(t, seeds, CI_SEED, index).input;
      assert.ok(a.equals(b), `${t.name} input ${index} is reproducible`);
      assert.ok(a.length <= t.maxInputSize, `${t.name} input ${index} within maxInputSize`);
    }
    // The unmutated seeds themselves pass (a seed that fails would make every mutation of it noise).
    for (const [i, s] of seeds.entries()) {
      assert.doesNotThrow(() => t.run(s, generateInput(t, seeds, CI_SEED, i).rng), `${t.name} seed ${i}`);
    }
  }
});

test(`fuzz slice: ${CI_INPUTS} inputs per parser, seed ${CI_SEED}, no failure`, { timeout: 240_000 }, async (t) => {
  // Two workers: a CI machine has two cores; the hang limit is loose because CI machines are shared.
  const results = await runFuzz({ seed: CI_SEED, n: CI_INPUTS, hangMs: 5_000, jobs: 2 });
  t.diagnostic(`\n${formatResults(results)}`);
  assert.equal(results.length, TARGETS.length);
  for (const r of results) {
    assert.equal(r.inputs, CI_INPUTS, `${r.target}: every input ran`);
    assert.deepEqual(r.failures.map((f) => `input ${f.index} [${f.kind}] ${f.message}`), [], `${r.target}: no failure`);
  }
});

test('the harness catches planted crashes, undocumented codes, broken invariants and hangs, and reproduces them', { timeout: 60_000 }, async () => {
  const results = await runFuzz({ seed: 7, n: 400, hangMs: 300, maxHangs: 2, targetsModule: PLANTED });
  const by = new Map(results.map((r) => [r.target, r]));
  const expectKind = (target: string, kind: string): number => {
    const r = by.get(target);
    assert.ok(r !== undefined && r.failureCount > 0, `${target} failed`);
    assert.ok(r.failures.every((f) => f.kind === kind), `${target}: ${r.failures.map((f) => f.kind).join(',')} are all ${kind}`);
    return r.failures[0]!.index;
  };
  const crash = expectKind('planted-crash', 'crash');
  expectKind('planted-undocumented', 'undocumented');
  expectKind('planted-invariant', 'invariant');
  const hang = by.get('planted-hang')!;
  assert.equal(hang.hangs, 2, 'two hangs, then the target is stopped');
  assert.ok(hang.inputs < 400, 'stopped early');
  assert.ok(hang.failures.every((f) => f.kind === 'hang'));
  // The documented code (0x90..0x9f) is not a failure: fewer undocumented failures than inputs starting 0x8_/0x9_.
  const again = await runOne('planted-crash', 7, crash, PLANTED);
  assert.equal(again.failure?.kind, 'crash', 'the reported index reproduces in this thread');
  assert.ok((again.input[0] as number) < 16);
});
