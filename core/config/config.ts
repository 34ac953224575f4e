/**
 * Config loading: conf file → Directive tree (directive-parser.ts) → checked against the one SCHEMA table →
 * typed, defaulted, deep-frozen Config (SRS SrsConfig; fastify deepFreezeObject; mediamtx conf Validate).
 *
 * Unknown directives are warnings (`unknown directive 'x'`, once per unknown subtree, located), never errors,
 * so SRS's own confs load. Invalid values throw GatewayError(ConfInvalid) `file:line:col: message`.
 * A repeated leaf keeps its first value (SRS SrsConfDirective::get), with a warning for the others.
 */
import { dirname } from 'node:path';
import { ErrorCode, GatewayError } from '../errors.ts';
import { DEFAULT_VHOST } from '../media/stream-key.ts';
import { parseConfigFile, parseConfigText, resolveIncludes, type Directive } from './directive-parser.ts';
import { parseBySpec, specOf, SCHEMA, type LeafKey, type ParamLine, type ValueOf } from './schema.ts';
import { parseOnOff, type ListenAddress } from './values.ts';
import { buildHlsConfig, type HlsConfig } from './hls-config.ts';
import { buildForwardConfig, type ForwardConfig } from './forward-config.ts';
import { buildDvrConfig, type DvrConfig } from './dvr-config.ts';
import { buildSecurityConfig, type SecurityConfig } from './security-config.ts';
import { buildHttpHooksConfig, type HttpHooksConfig } from './hooks-config.ts';

export type { ListenAddress } from './values.ts';
export type { Directive } from './directive-parser.ts';
export type { ParamLine } from './schema.ts';
export type { HlsAudioCodec, HlsConfig, HlsOnError, HlsVideoCodec } from './hls-config.ts';
export type { ForwardConfig, ForwardDestination } from './forward-config.ts';
export type { DvrConfig, DvrPlan, DvrTimeJitter } from './dvr-config.ts';
export type { AddressMatch, SecurityAction, SecurityConfig, SecurityRule } from './security-config.ts';
export type { HookEvent, HttpHooksConfig } from './hooks-config.ts';

export type CasterType = 'mpegts_over_udp' | 'rtsp' | 'flv';
export interface StreamCasterConfig {
  /** default false (SRS). */
  readonly enabled: boolean;
  readonly caster: CasterType;
  /** e.g. 'rtmp://127.0.0.1/live/livestream' or 'rtmp://127.0.0.1/[app]/[stream]'. */
  readonly output: string;
  readonly listen: ListenAddress;
  /** `idle_timeout` seconds → ms; default 10 s. */
  readonly idleTimeoutMs: number;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  /** castgate `multicast_interface`: local interface address for a multicast `listen` group; undefined = OS choice. */
  readonly multicastInterface: string | undefined;
  /** castgate `program` (mpegts_over_udp): program_number to publish from an MPTS; undefined = first with video. */
  readonly program?: number | undefined;
  /** castgate `pids` (mpegts_over_udp): elementary PIDs to publish; undefined = every stream of the program. */
  readonly pids?: readonly number[] | undefined;
  /** Where the block is, for logs. */
  readonly line: number;
  readonly file: string;
}
export interface HttpRemuxConfig {
  readonly enabled: boolean;
  readonly mount: string;
  /** `fast_cache` seconds → ms (default 0 = off): audio kept per stream for new .mp3/.aac players (SRS SrsBufferCache). */
  readonly fastCacheMs: number;
}
export type IngestInputType = 'file' | 'stream' | 'device';
/** One `engine [id] { }` of an ingest or a transcode block (SRS SrsFFMPEG engine directives); numbers 0 = not set. */
export interface EngineConfig {
  /** The optional engine id: `[engine]` in output. */
  readonly id: string | undefined;
  /** default false: copy the codecs (SRS initialize_copy). */
  readonly enabled: boolean;
  /** rtmp:// template with [vhost] [port] [app] [stream] [engine]. */
  readonly output: string;
  readonly perfile: readonly ParamLine[];
  readonly iformat: string | undefined;
  readonly vfilter: readonly ParamLine[];
  readonly vcodec: string | undefined;
  /** kbps. */
  readonly vbitrate: number;
  readonly vfps: number;
  readonly vwidth: number;
  readonly vheight: number;
  readonly vthreads: number;
  readonly vprofile: string | undefined;
  readonly vpreset: string | undefined;
  readonly vparams: readonly ParamLine[];
  readonly acodec: string | undefined;
  /** kbps. */
  readonly abitrate: number;
  /** Hz. */
  readonly asampleRate: number;
  readonly achannels: number;
  readonly aparams: readonly ParamLine[];
  /** default 'flv'. */
  readonly oformat: string;
  readonly line: number;
  readonly file: string;
}
/** An ingest block's engine: `enabled off` copies the codecs (SRS initialize_copy). */
export type IngestEngineConfig = EngineConfig;
/** One `ingest id { }` block of a vhost (SRS SrsIngester). */
export interface IngestConfig {
  readonly id: string;
  /** default false (SRS). */
  readonly enabled: boolean;
  readonly input: { readonly type: IngestInputType; readonly urls: readonly string[] };
  /** The `ffmpeg` directive; undefined = $FFMPEG_PATH, else `ffmpeg` on PATH. */
  readonly ffmpeg: string | undefined;
  /** At least one when enabled. */
  readonly engines: readonly IngestEngineConfig[];
  readonly line: number;
  readonly file: string;
}
/**
 * One `transcode [scope] { }` block of a vhost (SRS SrsEncoder): each engine runs one ffmpeg per published stream
 * the scope matches — '' every stream of the vhost, `app` the app's streams, `app/stream` that stream.
 */
export interface TranscodeConfig {
  readonly scope: string;
  /** default false (SRS). */
  readonly enabled: boolean;
  /** The `ffmpeg` directive; undefined = $FFMPEG_PATH, else `ffmpeg` on PATH. */
  readonly ffmpeg: string | undefined;
  /** The enabled engines, in file order (a disabled engine never runs; SRS skips it too). */
  readonly engines: readonly EngineConfig[];
  readonly line: number;
  readonly file: string;
}
export type TimeJitter = 'full' | 'zero' | 'off';
export interface VhostConfig {
  readonly name: string;
  readonly enabled: boolean;
  readonly gopCache: boolean;
  /** `queue_length` seconds → ms. */
  readonly queueLengthMs: number;
  readonly timeJitter: TimeJitter;
  /** Effective merged-write latency, ms: `play { mw_latency }`, or 0 when `min_latency on` (SRS). */
  readonly mwLatencyMs: number;
  readonly httpRemux: HttpRemuxConfig;
  /** `hls { }`: defaults (disabled) when absent. */
  readonly hls: HlsConfig;
  /** `dvr { }`: defaults (disabled) when absent. */
  readonly dvr: DvrConfig;
  /** `forward { }`: defaults (disabled, no destination) when absent. */
  readonly forward: ForwardConfig;
  /** `security { }`: disabled, no rules when absent. */
  readonly security: SecurityConfig;
  /** `http_hooks { }`: disabled, no URLs when absent. */
  readonly httpHooks: HttpHooksConfig;
  /** `ingest` blocks in file order (disabled ones included when complete). */
  readonly ingests: readonly IngestConfig[];
  /** `transcode` blocks in file order (disabled ones included). */
  readonly transcodes: readonly TranscodeConfig[];
}
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** `http_api { }` (SRS srs_app_http_api.cpp): the API listeners, CORS, the RAW API, Basic authentication. */
export interface HttpApiConfig {
  readonly enabled: boolean;
  readonly listen: readonly ListenAddress[];
  /** `crossdomain`, default true (SRS). */
  readonly crossdomain: boolean;
  readonly rawApi: { readonly enabled: boolean; readonly allowReload: boolean };
  /** username and password are set when enabled. */
  readonly auth: { readonly enabled: boolean; readonly username: string | undefined; readonly password: string | undefined };
}
/** `exporter { }` (SRS 5 Prometheus exporter). */
export interface ExporterConfig {
  readonly enabled: boolean;
  readonly listen: readonly ListenAddress[];
  readonly label: string | undefined;
  readonly tag: string | undefined;
}
export interface Config {
  readonly file: string;
  /** RTMP listen addresses. */
  readonly listen: readonly ListenAddress[];
  readonly maxConnections: number;
  readonly logLevel: LogLevel;
  readonly httpServer: { readonly enabled: boolean; readonly listen: readonly ListenAddress[]; readonly dir: string };
  readonly httpApi: HttpApiConfig;
  readonly exporter: ExporterConfig;
  /** Every stream_caster block, enabled or not, in file order (disabled incomplete ones are left out). */
  readonly streamCasters: readonly StreamCasterConfig[];
  /** Always contains '__defaultVhost__'. Immutable: set/delete/clear throw. */
  readonly vhosts: ReadonlyMap<string, VhostConfig>;
}
export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}
export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigWarning[];
}

/** SRS srs_log_level names → castgate (pino) level names. */
const SRS_LOG_LEVELS = { verbose: 'trace', info: 'debug', trace: 'info', warn: 'warn', error: 'error' } as const;

/** A Map whose mutators throw once built; Object.freeze alone does not stop Map.prototype.set. */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) super.set(k, v);
    Object.freeze(this);
  }
  override set(): this {
    throw new TypeError('config is immutable');
  }
  override delete(): boolean {
    throw new TypeError('config is immutable');
  }
  override clear(): void {
    throw new TypeError('config is immutable');
  }
}

/** Freezes `value` and everything reachable from it; Maps become FrozenMaps. Returns the frozen value. */
export function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    const frozen = value instanceof FrozenMap ? value : new FrozenMap(value);
    for (const v of frozen.values()) deepFreeze(v);
    return frozen as T;
  }
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) obj[key] = deepFreeze(obj[key]);
  return Object.freeze(value);
}

interface Entry {
  readonly directive: Directive;
  readonly moved: boolean;
}
/** One block's values (nested non-repeating blocks such as play {} flattened in) and its repeated sub-blocks. */
interface Section {
  readonly where: Directive | undefined;
  readonly values: Map<string, Entry>;
  readonly blocks: Map<string, Directive[]>;
}

const at = (d: Directive): string => `${d.file}:${d.line}:${d.col}`;

function invalid(d: Directive, message: string): GatewayError {
  return new GatewayError(ErrorCode.ConfInvalid, `${at(d)}: ${message}`);
}

class Builder {
  readonly #warnings = new Map<string, ConfigWarning>();

  warn(d: Directive, message: string): void {
    const key = `${at(d)}: ${message}`;
    if (!this.#warnings.has(key)) this.#warnings.set(key, { file: d.file, line: d.line, col: d.col, message });
  }

  /** Warnings in file order (files in order of their first warning). */
  get warnings(): ConfigWarning[] {
    const list = [...this.#warnings.values()];
    const fileOrder = new Map<string, number>();
    for (const w of list) if (!fileOrder.has(w.file)) fileOrder.set(w.file, fileOrder.size);
    const rank = (w: ConfigWarning): number => fileOrder.get(w.file) as number;
    return list.sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.col - b.col);
  }

  section(where: Directive | undefined, children: readonly Directive[], prefix: string): Section {
    const s: Section = { where, values: new Map(), blocks: new Map() };
    this.#collect(s, children, prefix);
    return s;
  }

  #collect(s: Section, children: readonly Directive[], prefix: string): void {
    for (const d of children) {
      const written = prefix === '' ? d.name : `${prefix}.${d.name}`;
      const found = specOf(written);
      if (found === undefined) {
        this.warn(d, `unknown directive '${d.name}'`);
        continue;
      }
      const key = found.movedTo ?? written;
      const spec = specOf(key) ?? found;
      if (spec.kind === 'block') {
        const want = spec.blockArgs ?? 0;
        if (d.args.length !== want && !(spec.blockArgsOptional === true && d.args.length < want)) {
          throw invalid(d, `'${d.name}' takes ${want === 0 ? 'no arguments' : `${want} argument`} before '{'`);
        }
        if (spec.repeat === true) {
          const list = s.blocks.get(key) ?? [];
          list.push(d);
          s.blocks.set(key, list);
        } else {
          this.#collect(s, d.children, key);
        }
        continue;
      }
      if (spec.kind === 'params') {
        if (d.args.length > 0) throw invalid(d, `'${d.name}' takes no arguments before '{'`);
        for (const c of d.children) {
          if (c.children.length > 0) throw invalid(c, `option '${c.name}' in '${d.name}' cannot be a block`);
        }
        if (s.values.has(key)) this.warn(d, `duplicate '${d.name}' ignored`);
        else s.values.set(key, { directive: d, moved: false });
        continue;
      }
      if (d.children.length > 0) throw invalid(d, `'${d.name}' is not a block`);
      const r = parseBySpec(spec, d.args);
      if ('error' in r) throw invalid(d, `invalid value '${d.args.join(' ')}' for '${d.name}': ${r.error}`);
      if (spec.repeat === true) {
        // A repeatable leaf (security allow/deny): every line counts, in file order.
        const list = s.blocks.get(key) ?? [];
        list.push(d);
        s.blocks.set(key, list);
        continue;
      }
      const moved = found.movedTo !== undefined;
      const prev = s.values.get(key);
      if (prev === undefined) {
        s.values.set(key, { directive: d, moved });
      } else if (prev.moved && !moved) {
        s.values.set(key, { directive: d, moved });
        this.warn(prev.directive, `'${d.name}' is overridden by the one at ${at(d)}`);
      } else {
        this.warn(d, `duplicate '${d.name}' ignored, the first at ${at(prev.directive)} wins`);
      }
    }
  }
}

/** The parsed value of `key` in `s`, or its default. Throws ConfInvalid naming the block when required and absent. */
function value<K extends LeafKey>(s: Section, key: K): ValueOf<K> {
  const spec = SCHEMA[key] as { readonly default?: string };
  const entry = s.values.get(key);
  const args = entry !== undefined ? entry.directive.args : spec.default !== undefined ? [spec.default] : undefined;
  const name = key.slice(key.lastIndexOf('.') + 1);
  if (args === undefined) {
    const where = s.where;
    const parent = key.slice(0, key.lastIndexOf('.'));
    const block = parent.slice(parent.lastIndexOf('.') + 1);
    throw new GatewayError(
      ErrorCode.ConfInvalid,
      `${where === undefined ? 'config' : at(where)}: '${block}' requires '${name}'`,
    );
  }
  const r = parseBySpec(SCHEMA[key], args);
  if ('error' in r) throw new GatewayError(ErrorCode.ConfInvalid, `schema default of '${key}': ${r.error}`);
  return r.value as ValueOf<K>;
}

/** A param block's lines (`name args...;` each), empty when the block is absent. */
function params(s: Section, key: LeafKey): readonly ParamLine[] {
  const entry = s.values.get(key);
  return (entry?.directive.children ?? []).map((c) => ({ name: c.name, args: c.args }));
}

/** The value of a directive without a default, or undefined when absent. */
function optional<K extends LeafKey>(s: Section, key: K): ValueOf<K> | undefined {
  return s.values.has(key) ? value(s, key) : undefined;
}

type EnginePrefix = 'vhost.ingest.engine' | 'vhost.transcode.engine';

/** One `engine [id] { }` under `prefix`. `vcodec vn` with `acodec an` is an error: ffmpeg would have no output. */
function buildEngine(b: Builder, d: Directive, p: EnginePrefix): EngineConfig {
  const s = b.section(d, d.children, p);
  const vcodec = optional(s, `${p}.vcodec` as const);
  const acodec = optional(s, `${p}.acodec` as const);
  if (vcodec === 'vn' && acodec === 'an') {
    throw invalid(s.values.get(`${p}.acodec`)?.directive ?? d, "'vcodec vn' with 'acodec an' leaves the engine no stream to output");
  }
  return {
    id: d.args[0],
    enabled: value(s, `${p}.enabled` as const),
    output: value(s, `${p}.output` as const),
    perfile: params(s, `${p}.perfile` as const),
    iformat: optional(s, `${p}.iformat` as const),
    vfilter: params(s, `${p}.vfilter` as const),
    vcodec,
    vbitrate: value(s, `${p}.vbitrate` as const),
    vfps: value(s, `${p}.vfps` as const),
    vwidth: value(s, `${p}.vwidth` as const),
    vheight: value(s, `${p}.vheight` as const),
    vthreads: value(s, `${p}.vthreads` as const),
    vprofile: optional(s, `${p}.vprofile` as const),
    vpreset: optional(s, `${p}.vpreset` as const),
    vparams: params(s, `${p}.vparams` as const),
    acodec,
    abitrate: value(s, `${p}.abitrate` as const),
    asampleRate: value(s, `${p}.asample_rate` as const),
    achannels: value(s, `${p}.achannels` as const),
    aparams: params(s, `${p}.aparams` as const),
    oformat: value(s, `${p}.oformat` as const),
    line: d.line,
    file: d.file,
  };
}

function buildIngest(b: Builder, d: Directive): IngestConfig | undefined {
  const s = b.section(d, d.children, 'vhost.ingest');
  const enabled = value(s, 'vhost.ingest.enabled');
  const engineDirectives = s.blocks.get('vhost.ingest.engine') ?? [];
  if (!enabled && (!s.values.has('vhost.ingest.input.type') || !s.values.has('vhost.ingest.input.url'))) {
    b.warn(d, `disabled ingest '${d.args[0] as string}' without input type or url is ignored`);
    return undefined;
  }
  if (enabled && engineDirectives.length === 0) {
    throw invalid(d, `ingest '${d.args[0] as string}' needs an 'engine { output ...; }' (where the stream goes)`);
  }
  return {
    id: d.args[0] as string,
    enabled,
    input: { type: value(s, 'vhost.ingest.input.type'), urls: value(s, 'vhost.ingest.input.url') },
    ffmpeg: optional(s, 'vhost.ingest.ffmpeg'),
    engines: engineDirectives.map((e) => buildEngine(b, e, 'vhost.ingest.engine')),
    line: d.line,
    file: d.file,
  };
}

/** A transcode scope: empty (the whole vhost), `app` or `app/stream` (SRS SrsEncoder::parse_scope_engines). */
const TRANSCODE_SCOPE = /^(?:[^/\s]+(?:\/[^/\s]+)?)?$/;

/**
 * One `transcode [scope] { }` block. Only enabled engines are kept: a disabled one never runs and needs no output
 * (SRS's own confs have `engine { enabled off; }`). The input of a transcode is always FLV from the hub, so an
 * iformat other than flv/off is reported and ignored.
 */
function buildTranscode(b: Builder, d: Directive): TranscodeConfig {
  const scope = d.args[0] ?? '';
  if (!TRANSCODE_SCOPE.test(scope)) throw invalid(d, `transcode scope '${scope}': expected app or app/stream`);
  const s = b.section(d, d.children, 'vhost.transcode');
  const engines: EngineConfig[] = [];
  for (const e of s.blocks.get('vhost.transcode.engine') ?? []) {
    // A disabled engine is skipped, its directives still checked (section() throws on a bad value).
    if (!value(b.section(e, e.children, 'vhost.transcode.engine'), 'vhost.transcode.engine.enabled')) continue;
    const engine = buildEngine(b, e, 'vhost.transcode.engine');
    if (engine.iformat !== undefined && engine.iformat !== 'flv' && engine.iformat !== 'off') {
      const where = e.children.find((c) => c.name === 'iformat') ?? e;
      b.warn(where, `iformat '${engine.iformat}' ignored: a transcode reads the stream as FLV from the hub`);
    }
    engines.push(engine);
  }
  return {
    scope,
    enabled: value(s, 'vhost.transcode.enabled'),
    ffmpeg: optional(s, 'vhost.transcode.ffmpeg'),
    engines,
    line: d.line,
    file: d.file,
  };
}

const CASTER_TYPES: readonly string[] = SCHEMA['stream_caster.caster'].values;

function buildCaster(b: Builder, d: Directive): StreamCasterConfig | undefined {
  // SRS also has caster types castgate lacks (gb28181): a disabled block of such a type is skipped, not an error.
  const enabledArg = d.children.find((c) => c.name === 'enabled')?.args[0] ?? 'off';
  const on = parseOnOff(enabledArg);
  const type = d.children.find((c) => c.name === 'caster');
  if ('value' in on && !on.value) {
    if (type !== undefined && type.args.length === 1 && !CASTER_TYPES.includes(type.args[0] as string)) {
      b.warn(type, `disabled stream_caster of unsupported type '${type.args[0] as string}' is ignored`);
      return undefined;
    }
  }
  const s = b.section(d, d.children, 'stream_caster');
  const enabled = value(s, 'stream_caster.enabled');
  if (!enabled) {
    const missing = (['stream_caster.caster', 'stream_caster.output', 'stream_caster.listen'] as const).filter(
      (k) => !s.values.has(k),
    );
    if (missing.length > 0) {
      b.warn(d, 'disabled stream_caster without caster, output or listen is ignored');
      return undefined;
    }
  }
  const rtpPortMin = value(s, 'stream_caster.rtp_port_min');
  const rtpPortMax = value(s, 'stream_caster.rtp_port_max');
  if (rtpPortMin > rtpPortMax) {
    const e = s.values.get('stream_caster.rtp_port_max') ?? s.values.get('stream_caster.rtp_port_min');
    throw invalid(e?.directive ?? d, `rtp_port_min ${rtpPortMin} is above rtp_port_max ${rtpPortMax}`);
  }
  return {
    enabled,
    caster: value(s, 'stream_caster.caster'),
    output: value(s, 'stream_caster.output'),
    listen: value(s, 'stream_caster.listen')[0] as ListenAddress,
    idleTimeoutMs: value(s, 'stream_caster.idle_timeout'),
    multicastInterface: s.values.has('stream_caster.multicast_interface') ? value(s, 'stream_caster.multicast_interface') : undefined,
    program: optional(s, 'stream_caster.program'),
    pids: casterPids(s),
    rtpPortMin,
    rtpPortMax,
    line: d.line,
    file: d.file,
  };
}

/** `pids 0x100 257;`: elementary PIDs (ISO/IEC 13818-1 Table 2-3: 0x0010..0x1FFE), hex or decimal. */
function casterPids(s: Section): readonly number[] | undefined {
  const entry = s.values.get('stream_caster.pids');
  if (entry === undefined) return undefined;
  return entry.directive.args.map((arg) => {
    const pid = /^(0x[0-9a-f]{1,4}|\d{1,5})$/i.test(arg) ? Number(arg) : Number.NaN;
    if (!(pid >= 0x10 && pid <= 0x1ffe)) throw invalid(entry.directive, `invalid PID '${arg}' for 'pids': expected 0x10..0x1ffe (16..8190)`);
    return pid;
  });
}

/** `http_api { }`; `auth { enabled on; }` requires username and password (the error points at its `enabled`). */
function buildHttpApi(root: Section): HttpApiConfig {
  const authEnabled = value(root, 'http_api.auth.enabled');
  if (authEnabled) {
    const on = (root.values.get('http_api.auth.enabled') as Entry).directive;
    for (const name of ['username', 'password'] as const) {
      if (!root.values.has(`http_api.auth.${name}`)) throw invalid(on, `'auth' is enabled and requires '${name}'`);
    }
  }
  return {
    enabled: value(root, 'http_api.enabled'),
    listen: value(root, 'http_api.listen'),
    crossdomain: value(root, 'http_api.crossdomain'),
    rawApi: { enabled: value(root, 'http_api.raw_api.enabled'), allowReload: value(root, 'http_api.raw_api.allow_reload') },
    auth: {
      enabled: authEnabled,
      username: authEnabled ? value(root, 'http_api.auth.username') : optional(root, 'http_api.auth.username'),
      password: authEnabled ? value(root, 'http_api.auth.password') : optional(root, 'http_api.auth.password'),
    },
  };
}

/** `forward { }`: `destination` is required when enabled; each argument must be a destination form. */
function buildForward(s: Section): ForwardConfig {
  const enabled = value(s, 'vhost.forward.enabled');
  const entry = s.values.get('vhost.forward.destination');
  const r = buildForwardConfig(enabled, enabled ? value(s, 'vhost.forward.destination') : optional(s, 'vhost.forward.destination'));
  if ('error' in r) throw invalid((entry as Entry).directive, r.error);
  return r.value;
}

/** `security { }`: the allow/deny lines in file order; a bad one is an error at its line. */
function buildSecurity(s: Section): SecurityConfig {
  const lines = [...(s.blocks.get('vhost.security.allow') ?? []), ...(s.blocks.get('vhost.security.deny') ?? [])];
  lines.sort((a, b) => (a.file === b.file ? a.line - b.line || a.col - b.col : 0));
  const r = buildSecurityConfig(value(s, 'vhost.security.enabled'), lines);
  if ('error' in r) throw invalid(r.at, r.error);
  return r.value;
}

/** `http_hooks { }`: every URL must be http(s); a bad one is an error at its directive. */
function buildHooks(s: Section): HttpHooksConfig {
  const r = buildHttpHooksConfig((key) => (s.values.has(key) || (SCHEMA[key] as { readonly default?: string }).default !== undefined ? value(s, key) : undefined) as never);
  if ('error' in r) throw invalid((s.values.get(`vhost.http_hooks.${r.event}`) as Entry).directive, r.error);
  return r.value;
}

function buildVhost(b: Builder, name: string, d: Directive | undefined): VhostConfig {
  const s = b.section(d, d?.children ?? [], 'vhost');
  return {
    name,
    enabled: value(s, 'vhost.enabled'),
    gopCache: value(s, 'vhost.play.gop_cache'),
    queueLengthMs: value(s, 'vhost.play.queue_length'),
    timeJitter: value(s, 'vhost.play.time_jitter'),
    mwLatencyMs: value(s, 'vhost.min_latency') ? 0 : value(s, 'vhost.play.mw_latency'),
    httpRemux: {
      enabled: value(s, 'vhost.http_remux.enabled'),
      mount: value(s, 'vhost.http_remux.mount'),
      fastCacheMs: value(s, 'vhost.http_remux.fast_cache'),
    },
    hls: buildHlsConfig((key) => value(s, key)),
    dvr: buildDvrConfig((key) => value(s, key)),
    forward: buildForward(s),
    security: buildSecurity(s),
    httpHooks: buildHooks(s),
    ingests: (s.blocks.get('vhost.ingest') ?? []).map((i) => buildIngest(b, i)).filter((i) => i !== undefined),
    transcodes: (s.blocks.get('vhost.transcode') ?? []).map((t) => buildTranscode(b, t)),
  };
}

function build(file: string, directives: readonly Directive[]): LoadedConfig {
  const b = new Builder();
  const root = b.section(undefined, directives, '');
  const streamCasters: StreamCasterConfig[] = [];
  for (const d of root.blocks.get('stream_caster') ?? []) {
    const c = buildCaster(b, d);
    if (c !== undefined) streamCasters.push(c);
  }
  const vhosts = new Map<string, VhostConfig>();
  const seen = new Map<string, Directive>();
  for (const d of root.blocks.get('vhost') ?? []) {
    const name = d.args[0] as string;
    const first = seen.get(name);
    if (first !== undefined) throw invalid(d, `duplicate vhost '${name}', first at ${at(first)}`);
    seen.set(name, d);
    vhosts.set(name, buildVhost(b, name, d));
  }
  if (!vhosts.has(DEFAULT_VHOST)) vhosts.set(DEFAULT_VHOST, buildVhost(b, DEFAULT_VHOST, undefined));
  const config: Config = {
    file,
    listen: value(root, 'listen'),
    maxConnections: value(root, 'max_connections'),
    logLevel: SRS_LOG_LEVELS[value(root, 'srs_log_level')],
    httpServer: {
      enabled: value(root, 'http_server.enabled'),
      listen: value(root, 'http_server.listen'),
      dir: value(root, 'http_server.dir'),
    },
    httpApi: buildHttpApi(root),
    exporter: {
      enabled: value(root, 'exporter.enabled'),
      listen: value(root, 'exporter.listen'),
      label: optional(root, 'exporter.label'),
      tag: optional(root, 'exporter.tag'),
    },
    streamCasters,
    vhosts,
  };
  return deepFreeze({ config, warnings: b.warnings });
}

/**
 * Loads a conf file (with includes).
 * @throws GatewayError ConfInclude (unreadable file or include), ConfSyntax, ConfInvalid — `file:line:col: message`.
 */
export function loadConfig(file: string): LoadedConfig {
  return build(file, parseConfigFile(file));
}

/**
 * Loads conf text as if it were `file`; includes resolve against `baseDir` (default: the folder of `file`).
 * @throws as loadConfig.
 */
export function loadConfigText(text: string, file: string, baseDir: string = dirname(file)): LoadedConfig {
  return build(file, resolveIncludes(parseConfigText(text, file), baseDir, file));
}

/** The vhost config for a name; falls back to __defaultVhost__ (SRS). Undefined when that vhost is disabled. */
export function vhostConfig(config: Config, vhost: string): VhostConfig | undefined {
  const v = config.vhosts.get(vhost) ?? config.vhosts.get(DEFAULT_VHOST);
  return v !== undefined && v.enabled ? v : undefined;
}
