/**
 * The source tree's import graph and the layering rules of ../shared/DESIGN.md ("One idea", "Amendments"),
 * for test/architecture.test.ts. Pure functions over file texts, so a planted import can be checked without
 * touching the tree.
 *
 * A module is a path relative to the project root (`core/hub/source.ts`). An edge is one `import … from`,
 * `export … from`, side-effect `import '…'` or dynamic `import('…')` of a relative specifier; package and
 * `node:` imports are not edges. Type-only imports count: a layer that names another layer's types depends on it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/** from → every module it imports (relative specifiers resolved against the importer's folder). */
export type ImportGraph = Map<string, Set<string>>;

/** Static `import`/`export … from`, side-effect imports and dynamic `import('…')`, on one line or several. */
const IMPORT_SPECIFIER = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

/** The relative specifiers a source text imports, in order (packages and `node:` left out). */
export function importSpecifiers(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of withoutComments.matchAll(IMPORT_SPECIFIER)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined && spec.startsWith('.')) out.push(spec);
  }
  return out;
}

/** Every `.ts` file under `dirs` (relative to `root`), as root-relative paths. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, p));
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out.sort();
}

/** Build the graph from `{ path: source text }`. */
export function buildImportGraph(files: ReadonlyMap<string, string>): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const [from, source] of files) {
    const deps = new Set<string>();
    for (const spec of importSpecifiers(source)) deps.add(normalize(join(dirname(from), spec)));
    graph.set(from, deps);
  }
  return graph;
}

/** Read the tree under `dirs` and build its graph. */
export function readImportGraph(root: string, dirs: readonly string[]): ImportGraph {
  const files = new Map<string, string>();
  for (const f of sourceFiles(root, dirs)) files.set(f, readFileSync(join(root, f), 'utf8'));
  return buildImportGraph(files);
}

/** One forbidden arrow of the design: `from` modules must not import `to` modules. */
export interface LayerRule {
  readonly name: string;
  readonly from: (path: string) => boolean;
  readonly to: (target: string, from: string) => boolean;
}

const under = (dir: string) => (p: string): boolean => p.startsWith(`${dir}/`);
/** `casters/<name>/…` → `<name>`; the shared files `casters/caster.ts` and `casters/index.ts` → undefined. */
const casterOf = (p: string): string | undefined => /^casters\/([^/]+)\//.exec(p)?.[1];

/** The forbidden arrows (DESIGN.md, issue 9 §5). */
export const LAYER_RULES: readonly LayerRule[] = [
  { name: 'casters ↛ core/output', from: under('casters'), to: under('core/output') },
  {
    name: 'casters ↛ other casters',
    from: (p) => casterOf(p) !== undefined,
    to: (t, f) => under('casters')(t) && casterOf(t) !== casterOf(f) && t !== 'casters/caster.ts',
  },
  { name: 'ingest ↛ casters', from: under('ingest'), to: under('casters') },
  { name: 'ingest ↛ core/output', from: under('ingest'), to: under('core/output') },
  {
    name: 'core ↛ casters/ingest (core/main.ts excepted)',
    from: (p) => under('core')(p) && p !== 'core/main.ts',
    to: (t) => under('casters')(t) || under('ingest')(t),
  },
  {
    name: 'protocol ↛ codec/hub/output/remux (wire formats only)',
    from: under('core/protocol'),
    to: (t) => ['core/codec', 'core/hub', 'core/output', 'core/remux'].some((d) => under(d)(t)),
  },
  {
    name: 'codec ↛ hub/output/remux',
    from: under('core/codec'),
    to: (t) => ['core/hub', 'core/output', 'core/remux'].some((d) => under(d)(t)),
  },
  { name: 'remux ↛ hub/output', from: under('core/remux'), to: (t) => under('core/hub')(t) || under('core/output')(t) },
  {
    name: 'hub ↛ output/protocol/remux',
    from: under('core/hub'),
    to: (t) => ['core/output', 'core/protocol', 'core/remux'].some((d) => under(d)(t)),
  },
  {
    name: 'control ↛ outputs, wire formats, hub internals (hub ports, config, media, log, errors only)',
    from: under('core/control'),
    to: (t) =>
      ['core/output', 'core/protocol', 'core/codec', 'core/remux', 'core/stats', 'core/http'].some((d) => under(d)(t)) ||
      (under('core/hub')(t) && t !== 'core/hub/ports.ts'),
  },
  {
    name: 'protocol/codec/remux/hub/media ↛ control',
    from: (p) => ['core/protocol', 'core/codec', 'core/remux', 'core/hub', 'core/media'].some((d) => under(d)(p)),
    to: under('core/control'),
  },
  {
    name: 'media ↛ the layers built on it',
    from: under('core/media'),
    to: (t) => ['core/codec', 'core/protocol', 'core/remux', 'core/hub', 'core/output', 'core/config'].some((d) => under(d)(t)),
  },
];

/** Every edge that breaks a rule, as `rule: from → to`. */
export function layerViolations(graph: ImportGraph, rules: readonly LayerRule[] = LAYER_RULES): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) {
    for (const rule of rules) {
      if (!rule.from(from)) continue;
      for (const to of deps) if (rule.to(to, from)) out.push(`${rule.name}: ${from} → ${to}`);
    }
  }
  return out.sort();
}

/** Imports of files that do not exist in the graph (a typo, or a file outside the scanned folders). */
export function danglingImports(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) for (const to of deps) if (!graph.has(to)) out.push(`${from} → ${to}`);
  return out.sort();
}

/**
 * Import cycles (Tarjan's strongly connected components over the graph): each cycle as its modules, sorted.
 * A self-import counts.
 */
export function importCycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v) === true) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}
