#!/usr/bin/env node
// Test runner for Node 20: `node --test` cannot glob .ts files there (LIBRARIES.md), so list them explicitly.
// Usage: node test/run.mjs [unit|e2e] [extra node --test args]
// A run that finds no test file is a failure.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const which = process.argv[2] === 'unit' || process.argv[2] === 'e2e' ? process.argv[2] : 'all';
const extra = process.argv.slice(which === 'all' ? 2 : 3);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'bench' && name !== 'node_modules') walk(p, out);
    } else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
let files = walk(join(root, 'test'), []).sort();
if (which === 'unit') files = files.filter((f) => !f.startsWith('test/e2e/'));
if (which === 'e2e') files = files.filter((f) => f.startsWith('test/e2e/'));
if (files.length === 0) {
  console.error(`test/run.mjs: no *.test.ts files found for '${which}'`);
  process.exit(1);
}
// Two test files at a time (TEST_CONCURRENCY to change): most e2e time is real-time media (ffmpeg -re), so two
// files share 2 cores without starving each other, and the suite stays under 10 minutes. Every file binds its own
// free loopback ports. TEST_CONCURRENCY=1 runs one file at a time.
const concurrency = Math.max(1, Number(process.env.TEST_CONCURRENCY ?? 2) || 1);
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...extra, ...files];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, CASTGATE_LOG_LEVEL: process.env.CASTGATE_LOG_LEVEL ?? 'silent' } });
process.exit(r.status ?? 1);
