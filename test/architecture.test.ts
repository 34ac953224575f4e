/** STYLE habit 1: code depends in one direction — core/ never imports casters/ or ingest/ (except core/main.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('core/ imports neither casters/ nor ingest/ (composition root excepted)', () => {
  const offenders: string[] = [];
  for (const f of files(join(ROOT, 'core'))) {
    const rel = relative(ROOT, f);
    if (rel === 'core/main.ts') continue;
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/from\s+'([^']+)'/g)) {
      if (/(^|\/)(casters|ingest)\//.test(m[1])) offenders.push(`${rel} imports ${m[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('no source file uses enum, namespace or constructor parameter properties (erasable syntax only)', () => {
  const offenders: string[] = [];
  for (const dir of ['core', 'casters']) {
    for (const f of files(join(ROOT, dir))) {
      const src = readFileSync(f, 'utf8');
      if (/^\s*(export\s+)?(const\s+)?enum\s/m.test(src) || /^\s*(export\s+)?namespace\s/m.test(src)) offenders.push(relative(ROOT, f));
      if (/constructor\([^)]*\b(private|public|protected|readonly)\s+\w+/.test(src)) offenders.push(relative(ROOT, f));
    }
  }
  assert.deepEqual(offenders, []);
});
