/**
 * What a config reload changes (SRS SrsConfig::reload_conf compares the old and new directive trees per section;
 * castgate compares the typed, defaulted Config, so a directive written differently but meaning the same — `60`
 * vs `60.0`, a default written out — is no change).
 *
 * A block's identity is its content without where it is written (`line`, `file`): moving a block, or editing
 * lines above it, changes nothing. Pure functions, no I/O; core/main.ts acts on the result.
 */
import type { Config, IngestConfig, ListenAddress, StreamCasterConfig } from './config.ts';

/** Keys that say where a block is written, not what it is. */
const WHERE_KEYS: ReadonlySet<string> = new Set(['line', 'file']);

/**
 * A block's content as canonical JSON: object keys sorted, `line`/`file` left out at every depth, undefined fields
 * dropped, Maps as sorted entry lists. Two blocks with the same identity configure the same thing.
 */
export function blockIdentity(block: unknown): string {
  return JSON.stringify(canonical(block));
}

function canonical(v: unknown): unknown {
  if (v instanceof Map) {
    return [...v.entries()].map(([k, x]) => [String(k), canonical(x)]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  }
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (WHERE_KEYS.has(k) || x === undefined) continue;
    out[k] = canonical(x);
  }
  return out;
}

/** The result of comparing two keyed sets of blocks. */
export interface BlockDiff<T> {
  /** In both, same identity: left running as they are (`before` is the running one, `after` the new one). */
  readonly kept: readonly { readonly before: T; readonly after: T }[];
  /** Removed, or changed (then also in `started`): stop these. */
  readonly stopped: readonly T[];
  /** Added, or changed: start these (after the stopped ones are gone: they may hold the same port or stream). */
  readonly started: readonly T[];
}

/**
 * Compare blocks matched by identity: each block of `after` keeps one running block of `before` with the same
 * identity (first come, first kept, so two identical blocks match two); every other block of `before` stops and
 * every other block of `after` starts. A changed block is one stop and one start.
 */
export function diffBlocks<T>(before: readonly T[], after: readonly T[], identity: (b: T) => string = blockIdentity): BlockDiff<T> {
  const waiting = new Map<string, T[]>();
  for (const b of before) {
    const id = identity(b);
    const list = waiting.get(id);
    if (list === undefined) waiting.set(id, [b]);
    else list.push(b);
  }
  const kept: { before: T; after: T }[] = [];
  const started: T[] = [];
  for (const a of after) {
    const match = waiting.get(identity(a))?.shift();
    if (match === undefined) started.push(a);
    else kept.push({ before: match, after: a });
  }
  const stopped = [...waiting.values()].flat();
  // Keep `before`'s order for the stopped ones (waiting groups them by identity).
  stopped.sort((x, y) => before.indexOf(x) - before.indexOf(y));
  return { kept, stopped, started };
}

/** The `stream_caster` blocks that run: the enabled ones. */
export function runningCasters(config: Config): StreamCasterConfig[] {
  return config.streamCasters.filter((c) => c.enabled);
}

/** One enabled `ingest` block of an enabled vhost, with the vhost it publishes under. */
export interface VhostIngest {
  readonly vhost: string;
  readonly ingest: IngestConfig;
}

/** The ingest blocks that run: the enabled ones of enabled vhosts, in file order. */
export function runningIngests(config: Config): VhostIngest[] {
  const out: VhostIngest[] = [];
  for (const v of config.vhosts.values()) {
    if (!v.enabled) continue;
    for (const ingest of v.ingests) if (ingest.enabled) out.push({ vhost: v.name, ingest });
  }
  return out;
}

/**
 * An ingest block's identity: its vhost and its content (id included), so with `diffBlocks` an ingester restarts
 * only when its own block (or the vhost it is in) changed.
 */
export function ingestIdentity(i: VhostIngest): string {
  return `${i.vhost}\n${blockIdentity(i.ingest)}`;
}

/** A setting read once at start: changing it takes a restart to apply. */
export interface RestartNeeded {
  /** The directive as written in the conf, e.g. `listen`, `http_server.listen`. */
  readonly directive: string;
  readonly before: string;
  readonly after: string;
}

const listens = (l: readonly ListenAddress[]): string => l.map((a) => (a.host === undefined ? String(a.port) : `${a.host}:${a.port}`)).join(' ');

/**
 * The changed settings a reload cannot apply to the running process (listeners bound and servers built at
 * start): RTMP `listen` and `max_connections`, `http_server` enabled/listen/dir, `http_api` enabled/listen, and
 * `exporter` enabled/listen/label/tag. Empty when none changed.
 */
export function restartNeeded(before: Config, after: Config): RestartNeeded[] {
  const pairs: [string, string, string][] = [
    ['listen', listens(before.listen), listens(after.listen)],
    ['max_connections', String(before.maxConnections), String(after.maxConnections)],
    ['http_server.enabled', String(before.httpServer.enabled), String(after.httpServer.enabled)],
    ['http_server.listen', listens(before.httpServer.listen), listens(after.httpServer.listen)],
    ['http_server.dir', before.httpServer.dir, after.httpServer.dir],
    ['http_api.enabled', String(before.httpApi.enabled), String(after.httpApi.enabled)],
    ['http_api.listen', listens(before.httpApi.listen), listens(after.httpApi.listen)],
    ['exporter.enabled', String(before.exporter.enabled), String(after.exporter.enabled)],
    ['exporter.listen', listens(before.exporter.listen), listens(after.exporter.listen)],
    ['exporter.label', String(before.exporter.label), String(after.exporter.label)],
    ['exporter.tag', String(before.exporter.tag), String(after.exporter.tag)],
  ];
  return pairs.filter(([, b, a]) => b !== a).map(([directive, b, a]) => ({ directive, before: b, after: a }));
}

/** The vhosts whose settings changed (added, removed or different), by name, for the reload log. */
export function changedVhosts(before: Config, after: Config): string[] {
  const names = new Set([...before.vhosts.keys(), ...after.vhosts.keys()]);
  return [...names].filter((n) => {
    const b = before.vhosts.get(n);
    const a = after.vhosts.get(n);
    return b === undefined || a === undefined || blockIdentity(b) !== blockIdentity(a);
  });
}
