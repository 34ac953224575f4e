/**
 * The layering of ../shared/DESIGN.md, held by a test (STYLE habit 1, issue 9 §5): every import of the source tree
 * is read, and each arrow the design forbids fails the test by name. The checker itself is tested on planted
 * imports, so a rule that can never fire is caught too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildImportGraph,
  danglingImports,
  importCycles,
  importSpecifiers,
  LAYER_RULES,
  layerViolations,
  readImportGraph,
  sourceFiles,
  type ImportGraph,
} from './helpers/import-graph.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SOURCE_DIRS = ['core', 'casters', 'ingest'] as const;
const graph = readImportGraph(ROOT, SOURCE_DIRS);

/** The real graph plus one planted edge. */
function planted(from: string, to: string): ImportGraph {
  const g: ImportGraph = new Map([...graph].map(([k, v]) => [k, new Set(v)]));
  if (!g.has(from)) g.set(from, new Set());
  if (!g.has(to)) g.set(to, new Set());
  g.get(from)?.add(to);
  return g;
}

test('the source tree is read: every layer has files and imports', () => {
  for (const dir of ['core/hub', 'core/protocol', 'core/codec', 'core/output', 'core/media', 'core/control', 'casters', 'ingest']) {
    const files = [...graph.keys()].filter((f) => f.startsWith(`${dir}/`));
    assert.ok(files.length > 0, `${dir} has source files`);
  }
  const edges = [...graph.values()].reduce((n, s) => n + s.size, 0);
  assert.ok(edges > 200, `import edges read: ${edges}`);
});

test('no import breaks the layering of DESIGN.md', () => {
  assert.deepEqual(layerViolations(graph), []);
});

test('no import cycles', () => {
  assert.deepEqual(importCycles(graph), []);
});

test('every relative import names a file of the tree', () => {
  assert.deepEqual(danglingImports(graph), []);
});

test('a planted forbidden import fails its rule (each rule can fire)', () => {
  const cases: readonly (readonly [from: string, to: string, rule: string])[] = [
    ['casters/rtsp/rtsp-caster.ts', 'core/output/rtmp-push.ts', 'casters ↛ core/output'],
    ['casters/rtsp/rtsp-caster.ts', 'casters/flv-post/flv-post-caster.ts', 'casters ↛ other casters'],
    ['ingest/index.ts', 'casters/index.ts', 'ingest ↛ casters'],
    ['ingest/index.ts', 'core/output/rtmp-push.ts', 'ingest ↛ core/output'],
    ['core/hub/source.ts', 'casters/rtsp/rtsp-caster.ts', 'core ↛ casters/ingest (core/main.ts excepted)'],
    ['core/output/http-server.ts', 'ingest/index.ts', 'core ↛ casters/ingest (core/main.ts excepted)'],
    ['core/protocol/amf0.ts', 'core/hub/source.ts', 'protocol ↛ codec/hub/output/remux (wire formats only)'],
    ['core/protocol/flv/flv-tag.ts', 'core/codec/h264/sps.ts', 'protocol ↛ codec/hub/output/remux (wire formats only)'],
    ['core/codec/h264/sps.ts', 'core/output/http-stream.ts', 'codec ↛ hub/output/remux'],
    ['core/remux/ts-to-rtmp.ts', 'core/hub/source.ts', 'remux ↛ hub/output'],
    ['core/hub/source.ts', 'core/output/http-stream.ts', 'hub ↛ output/protocol/remux'],
    ['core/hub/source.ts', 'core/protocol/amf0.ts', 'hub ↛ output/protocol/remux'],
    ['core/media/message.ts', 'core/codec/h264/sps.ts', 'media ↛ the layers built on it'],
    ['core/control/admission.ts', 'core/output/rtmp-server.ts', 'control ↛ outputs, wire formats, hub internals (hub ports, config, media, log, errors only)'],
    ['core/control/security.ts', 'core/hub/source-hub.ts', 'control ↛ outputs, wire formats, hub internals (hub ports, config, media, log, errors only)'],
    ['core/hub/source.ts', 'core/control/admission.ts', 'protocol/codec/remux/hub/media ↛ control'],
    ['core/protocol/amf0.ts', 'core/control/security.ts', 'protocol/codec/remux/hub/media ↛ control'],
  ];
  const fired = new Set<string>();
  for (const [from, to, rule] of cases) {
    const found = layerViolations(planted(from, to));
    assert.deepEqual(found, [`${rule}: ${from} → ${to}`], `planted ${from} → ${to}`);
    fired.add(rule);
  }
  assert.deepEqual([...fired].sort(), LAYER_RULES.map((r) => r.name).sort(), 'every rule is exercised by a planted import');
});

test('allowed arrows stay allowed', () => {
  for (const [from, to] of [
    ['core/main.ts', 'casters/index.ts'],
    ['casters/rtsp/rtsp-caster.ts', 'casters/caster.ts'],
    ['casters/index.ts', 'casters/rtsp/rtsp-caster.ts'],
    ['casters/rtsp/rtsp-session.ts', 'core/hub/ports.ts'],
    ['core/codec/h264/avc-packager.ts', 'core/protocol/flv/flv-tag.ts'],
  ] as const) {
    assert.deepEqual(layerViolations(planted(from, to)), [], `${from} → ${to}`);
  }
});

test('a planted cycle is found', () => {
  const g = buildImportGraph(new Map([
    ['core/a.ts', "import { b } from './b.ts';"],
    ['core/b.ts', "import type { C } from './c.ts';"],
    ['core/c.ts', "export { a } from './a.ts';"],
    ['core/d.ts', "import { a } from './a.ts';"],
  ]));
  assert.deepEqual(importCycles(g), [['core/a.ts', 'core/b.ts', 'core/c.ts']]);
});

test('import specifiers: every form, comments ignored, packages left out', () => {
  const src = [
    "import { x } from './x.ts';",
    "import type { Y } from '../y.ts';",
    'import {',
    '  a,',
    '  type B,',
    "} from './multi.ts';",
    "import './side-effect.ts';",
    "export { z } from './z.ts';",
    "export * from './star.ts';",
    "const m = await import('./dyn.ts');",
    "import pino from 'pino';",
    "import { readFileSync } from 'node:fs';",
    "// import { no } from './commented.ts';",
    "/* import { no } from './block.ts'; */",
  ].join('\n');
  assert.deepEqual(importSpecifiers(src), ['./x.ts', '../y.ts', './multi.ts', './side-effect.ts', './z.ts', './star.ts', './dyn.ts']);
});

test('no source file uses enum, namespace or constructor parameter properties (erasable syntax only)', () => {
  const offenders: string[] = [];
  for (const f of sourceFiles(ROOT, SOURCE_DIRS)) {
    const src = readFileSync(join(ROOT, f), 'utf8');
    if (/^\s*(export\s+)?(const\s+)?enum\s/m.test(src) || /^\s*(export\s+)?namespace\s/m.test(src)) offenders.push(f);
    if (/constructor\(([^)]*,)?\s*(private|public|protected|readonly)\s+\w+/.test(src)) offenders.push(f); // a modifier starting a parameter, not `x: readonly T[]`
  }
  assert.deepEqual(offenders, []);
});
