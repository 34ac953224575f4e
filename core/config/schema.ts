/**
 * The one table of config directives castgate understands: kind, default, range, allowed values and the
 * deprecated locations they moved from (SRS trunk/conf/full.conf; SRS 3 moved gop_cache, queue_length and
 * time_jitter from `vhost` into `vhost { play { } }`, srs_config_transform_vhost). conf/full.conf documents
 * every entry with its default; a test keeps the two in step.
 *
 * Keys are dotted paths of directive names: `vhost.play.gop_cache` is `gop_cache` in `play {}` in `vhost {}`.
 * Defaults are written as they would be in a conf file and parsed by the same value parser as user input.
 */
import {
  parseEnum,
  parseInteger,
  parseListen,
  parseNumber,
  parseOnOff,
  parseRtmpUrl,
  parseSecondsToMs,
  parseString,
  type ListenAddress,
  type ValueResult,
} from './values.ts';

export type DirectiveKind =
  | 'block'
  | 'onoff'
  | 'integer'
  | 'number'
  | 'seconds'
  | 'enum'
  | 'listen'
  | 'string'
  | 'strings'
  | 'rtmp-url'
  | 'params';

export interface DirectiveSpec {
  readonly kind: DirectiveKind;
  /** Default as conf text; absent = no default (required where the owning block needs it). */
  readonly default?: string;
  /** integer: inclusive range; seconds: inclusive range in seconds. */
  readonly min?: number;
  readonly max?: number;
  /** enum: allowed values. */
  readonly values?: readonly string[];
  /** string: the empty string ("") is a valid value (hls_entry_prefix). */
  readonly allowEmpty?: boolean;
  /** listen: max number of addresses (default: any). */
  readonly maxArgs?: number;
  /**
   * block: may appear many times, each a separate section (vhost, stream_caster). A leaf (security allow/deny):
   * every line is kept, in file order, instead of the first one.
   */
  readonly repeat?: boolean;
  /** block: number of arguments it takes (vhost's name). */
  readonly blockArgs?: number;
  /** block: the arguments are optional (0..blockArgs), e.g. SRS `engine [id] { }`. */
  readonly blockArgsOptional?: boolean;
  /** deprecated location: the value is read as if written at this key. */
  readonly movedTo?: string;
  /** one line for conf/full.conf and error messages. */
  readonly doc: string;
}

/**
 * The engine directives SRS shares between `ingest { engine { } }` and `transcode { engine { } }` (SrsFFMPEG), bar
 * `enabled` and `output`, whose meaning differs and which each block states itself.
 */
const ENGINE_DIRECTIVES = {
  perfile: { kind: 'params', doc: 'ffmpeg options before -i, one `name args;` per option' },
  iformat: { kind: 'string', doc: 'input format (-f before -i): flv, lavfi, v4l2, alsa ...' },
  vfilter: { kind: 'params', doc: 'ffmpeg options after -i (filters), one `name args;` per option' },
  vcodec: { kind: 'string', doc: 'video codec: libx264, copy, or vn (no video)' },
  vbitrate: { kind: 'integer', default: '0', min: 0, max: 1_000_000, doc: 'video kbps; 0 = encoder default' },
  vfps: { kind: 'number', default: '0', min: 0, max: 1000, doc: 'video frame rate; 0 = as input' },
  vwidth: { kind: 'integer', default: '0', min: 0, max: 16384, doc: 'video width; 0 = as input' },
  vheight: { kind: 'integer', default: '0', min: 0, max: 16384, doc: 'video height; 0 = as input' },
  vthreads: { kind: 'integer', default: '0', min: 0, max: 256, doc: 'encoder threads; 0 = auto' },
  vprofile: { kind: 'string', doc: 'H.264 profile: baseline, main, high' },
  vpreset: { kind: 'string', doc: 'x264 preset: ultrafast ... veryslow' },
  vparams: { kind: 'params', doc: 'more video encoder options, one `name args;` per option' },
  acodec: { kind: 'string', doc: 'audio codec: aac, libmp3lame, copy, or an (no audio)' },
  abitrate: { kind: 'integer', default: '0', min: 0, max: 10_000, doc: 'audio kbps; 0 = encoder default' },
  asample_rate: { kind: 'integer', default: '0', min: 0, max: 384_000, doc: 'audio Hz; 0 = as input' },
  achannels: { kind: 'integer', default: '0', min: 0, max: 64, doc: 'audio channels; 0 = as input' },
  aparams: { kind: 'params', doc: 'more audio encoder options, one `name args;` per option' },
  oformat: { kind: 'string', default: 'flv', doc: 'output format (-f); flv for RTMP' },
} as const satisfies Readonly<Record<string, DirectiveSpec>>;

type EngineEntries<P extends string, T> = { readonly [K in keyof T & string as `${P}.${K}`]: T[K] };

/** ENGINE_DIRECTIVES plus a block's own `enabled`/`output`, keyed under `prefix` (`vhost.ingest.engine.vcodec`). */
function engineDirectives<P extends string, T extends Readonly<Record<'enabled' | 'output', DirectiveSpec>>>(
  prefix: P,
  own: T,
): EngineEntries<P, typeof ENGINE_DIRECTIVES & T> {
  const out: Record<string, DirectiveSpec> = {};
  for (const [name, spec] of Object.entries({ ...own, ...ENGINE_DIRECTIVES })) out[`${prefix}.${name}`] = spec;
  return out as EngineEntries<P, typeof ENGINE_DIRECTIVES & T>;
}

export const SCHEMA = {
  listen: { kind: 'listen', default: '1935', doc: 'RTMP listen addresses: port, host:port or [ipv6]:port, several allowed' },
  max_connections: { kind: 'integer', default: '1000', min: 1, max: 1_000_000, doc: 'max concurrent connections' },
  srs_log_level: {
    kind: 'enum',
    default: 'trace',
    values: ['verbose', 'info', 'trace', 'warn', 'error'],
    doc: 'log level, SRS names: verbose=trace, info=debug, trace=info, warn, error',
  },

  http_server: { kind: 'block', doc: 'HTTP server for HTTP-FLV (http_remux) and static files' },
  'http_server.enabled': { kind: 'onoff', default: 'off', doc: 'whether the HTTP server runs' },
  'http_server.listen': { kind: 'listen', default: '8080', doc: 'HTTP listen addresses' },
  'http_server.dir': { kind: 'string', default: './objs/nginx/html', doc: 'root folder for static files' },

  http_api: { kind: 'block', doc: 'HTTP API (SRS /api/v1/)' },
  'http_api.enabled': { kind: 'onoff', default: 'off', doc: 'whether the HTTP API runs' },
  'http_api.listen': { kind: 'listen', default: '1985', doc: 'HTTP API listen addresses' },
  'http_api.crossdomain': { kind: 'onoff', default: 'on', doc: 'CORS headers for requests with an Origin, and OPTIONS preflights' },
  'http_api.raw_api': { kind: 'block', doc: 'the RAW API /api/v1/raw (SRS): reload by HTTP' },
  'http_api.raw_api.enabled': { kind: 'onoff', default: 'off', doc: 'whether /api/v1/raw serves rpc=reload' },
  'http_api.raw_api.allow_reload': { kind: 'onoff', default: 'off', doc: 'whether rpc=reload is allowed' },
  'http_api.auth': { kind: 'block', doc: 'HTTP Basic authentication of /api/ requests (SRS 5.0.152+)' },
  'http_api.auth.enabled': { kind: 'onoff', default: 'off', doc: 'whether /api/ requests need the username and password' },
  'http_api.auth.username': { kind: 'string', doc: 'Basic authentication user name; required when enabled' },
  'http_api.auth.password': { kind: 'string', doc: 'Basic authentication password; required when enabled' },

  exporter: { kind: 'block', doc: 'Prometheus exporter (SRS 5): /metrics on its own port' },
  'exporter.enabled': { kind: 'onoff', default: 'off', doc: 'whether the exporter listens (/metrics is on the HTTP API port anyway)' },
  'exporter.listen': { kind: 'listen', default: '9972', doc: 'exporter listen addresses' },
  'exporter.label': { kind: 'string', doc: 'label put on srs_build_info (SRS: the cluster, e.g. cn-beijing)' },
  'exporter.tag': { kind: 'string', doc: 'tag put on srs_build_info (SRS: the server role, e.g. cn-edge)' },

  stream_caster: { kind: 'block', repeat: true, doc: 'a caster turning another protocol into RTMP' },
  'stream_caster.enabled': { kind: 'onoff', default: 'off', doc: 'whether this caster runs' },
  'stream_caster.caster': {
    kind: 'enum',
    values: ['mpegts_over_udp', 'rtsp', 'flv'],
    doc: 'caster type; required when enabled',
  },
  'stream_caster.output': {
    kind: 'rtmp-url',
    doc: 'where streams go: rtmp://host[:port]/app/stream with [app] [stream] [vhost] [port]; required when enabled',
  },
  'stream_caster.listen': { kind: 'listen', maxArgs: 1, doc: 'the one port the caster listens on; required when enabled' },
  'stream_caster.idle_timeout': {
    kind: 'seconds',
    default: '10',
    min: 0.1,
    doc: 'castgate: seconds of silence after which an mpegts_over_udp stream is unpublished',
  },
  'stream_caster.multicast_interface': {
    kind: 'string',
    doc: 'castgate, mpegts_over_udp: when listen is a multicast group, the local interface address to join it on',
  },
  'stream_caster.program': {
    kind: 'integer',
    min: 1,
    max: 65535,
    doc: 'castgate, mpegts_over_udp: the program_number to publish from a multi-program TS; default: the first program with video',
  },
  'stream_caster.pids': {
    kind: 'strings',
    doc: 'castgate, mpegts_over_udp: the elementary PIDs to publish (0x100 or 256), from the program that lists them',
  },
  'stream_caster.rtp_port_min': { kind: 'integer', default: '57200', min: 1024, max: 65535, doc: 'rtsp: lowest RTP port' },
  'stream_caster.rtp_port_max': { kind: 'integer', default: '57300', min: 1024, max: 65535, doc: 'rtsp: highest RTP port' },

  vhost: { kind: 'block', repeat: true, blockArgs: 1, doc: 'a virtual host; __defaultVhost__ serves any other name' },
  'vhost.enabled': { kind: 'onoff', default: 'on', doc: 'whether this vhost serves streams' },
  'vhost.play': { kind: 'block', doc: 'player settings' },
  'vhost.play.gop_cache': { kind: 'onoff', default: 'on', doc: 'keep the last GOP so a new player starts at once' },
  'vhost.play.queue_length': {
    kind: 'seconds',
    default: '10',
    min: 0,
    doc: 'max seconds of media queued per player before whole GOPs are dropped',
  },
  'vhost.play.time_jitter': {
    kind: 'enum',
    default: 'full',
    values: ['full', 'zero', 'off'],
    doc: 'timestamp correction: full (monotonic, starts at 0), zero (starts at 0), off',
  },
  'vhost.play.mw_latency': {
    kind: 'integer',
    default: '100',
    min: 0,
    max: 10_000,
    doc: 'merged-write latency in ms: a player\'s messages are written together at most this often (SRS: 350)',
  },
  'vhost.min_latency': { kind: 'onoff', default: 'off', doc: 'on: no merged-write delay (mw_latency 0) for this vhost' },
  'vhost.gop_cache': { kind: 'onoff', movedTo: 'vhost.play.gop_cache', doc: 'SRS 2 location of play.gop_cache' },
  'vhost.queue_length': { kind: 'seconds', movedTo: 'vhost.play.queue_length', doc: 'SRS 2 location of play.queue_length' },
  'vhost.time_jitter': { kind: 'enum', movedTo: 'vhost.play.time_jitter', doc: 'SRS 2 location of play.time_jitter' },
  'vhost.http_remux': { kind: 'block', doc: 'live HTTP-FLV/TS/MP3/AAC for this vhost' },
  'vhost.http_remux.enabled': { kind: 'onoff', default: 'off', doc: 'whether streams are served as HTTP-FLV' },
  'vhost.http_remux.mount': {
    kind: 'string',
    default: '[vhost]/[app]/[stream].flv',
    doc: 'URL path template of a live stream; [vhost]/ is dropped for the default vhost',
  },
  'vhost.http_remux.fast_cache': {
    kind: 'seconds',
    default: '0',
    min: 0,
    max: 3600,
    doc: 'seconds of audio kept per stream and sent at once to a new .mp3/.aac player (0 = off; .flv/.ts ignore it)',
  },
  'vhost.hls': { kind: 'block', doc: 'HLS: segments and a live playlist written under hls_path (SRS hls)' },
  'vhost.hls.enabled': { kind: 'onoff', default: 'off', doc: 'whether streams of this vhost are written as HLS' },
  'vhost.hls.hls_fragment': {
    kind: 'seconds',
    default: '10',
    min: 0.5,
    doc: 'target segment duration: a segment is cut at the first keyframe once it is this long',
  },
  'vhost.hls.hls_td_ratio': {
    kind: 'number',
    default: '1.0',
    min: 1,
    max: 10,
    doc: 'EXT-X-TARGETDURATION is at least hls_fragment × hls_td_ratio (and covers every segment)',
  },
  'vhost.hls.hls_aof_ratio': {
    kind: 'number',
    default: '2.1',
    min: 1,
    max: 100,
    doc: 'audio forces a cut at hls_fragment × hls_aof_ratio (how audio-only streams are cut)',
  },
  'vhost.hls.hls_window': { kind: 'seconds', default: '60', min: 1, doc: 'seconds of segments listed in the playlist' },
  'vhost.hls.hls_on_error': {
    kind: 'enum',
    default: 'continue',
    values: ['ignore', 'disconnect', 'continue'],
    doc: 'on an HLS write error: ignore (stop HLS for the stream), disconnect (the publisher), continue (retry next segment)',
  },
  'vhost.hls.hls_path': { kind: 'string', default: './objs/nginx/html', doc: 'root folder of HLS files' },
  'vhost.hls.hls_m3u8_file': {
    kind: 'string',
    default: '[app]/[stream].m3u8',
    doc: 'playlist path under hls_path; [vhost] [app] [stream]',
  },
  'vhost.hls.hls_ts_file': {
    kind: 'string',
    default: '[app]/[stream]-[seq].ts',
    doc: 'segment path under hls_path; [vhost] [app] [stream] [seq] [timestamp] [duration] [2006] [01] [02] [15] [04] [05] [999]',
  },
  'vhost.hls.hls_entry_prefix': {
    kind: 'string',
    default: '',
    allowEmpty: true,
    doc: 'base URL put before segment URLs in the playlist; empty = relative URLs',
  },
  'vhost.hls.hls_acodec': { kind: 'enum', default: 'aac', values: ['aac', 'mp3', 'an'], doc: 'audio codec when the stream has none yet; an = no audio' },
  'vhost.hls.hls_vcodec': { kind: 'enum', default: 'h264', values: ['h264', 'vn'], doc: 'video codec when the stream has none yet; vn = no video' },
  'vhost.hls.hls_cleanup': { kind: 'onoff', default: 'on', doc: 'delete segments once they leave the window' },
  'vhost.hls.hls_dispose': {
    kind: 'seconds',
    default: '120',
    min: 0,
    doc: 'seconds after the publisher leaves when the playlist and segments are deleted; 0 = never',
  },
  'vhost.hls.hls_wait_keyframe': {
    kind: 'onoff',
    default: 'on',
    doc: 'on: cut video segments at keyframes only; off: at the first message past hls_fragment',
  },
  'vhost.hls.hls_use_fmp4': { kind: 'onoff', default: 'off', doc: 'on: CMAF segments (init.mp4 + .m4s, SRS 7) instead of MPEG-TS' },
  'vhost.hls.hls_fmp4_file': {
    kind: 'string',
    default: '[app]/[stream]-[seq].m4s',
    doc: 'fMP4 segment path under hls_path; the variables of hls_ts_file',
  },
  'vhost.hls.hls_init_file': { kind: 'string', default: '[app]/[stream]/init.mp4', doc: 'fMP4 init segment path under hls_path; [vhost] [app] [stream]' },
  'vhost.hls.hls_ll': {
    kind: 'onoff',
    default: 'off',
    doc: 'on: Low-Latency HLS (fMP4 parts of hls_part, blocking playlist reload, preload hints), served from memory',
  },
  'vhost.hls.hls_part': { kind: 'seconds', default: '0.2', min: 0.05, max: 5, doc: 'LL-HLS part target duration (EXT-X-PART-INF PART-TARGET)' },
  'vhost.dvr': { kind: 'block', doc: 'DVR: every publish of the vhost recorded to FLV or MP4 files (SRS dvr)' },
  'vhost.dvr.enabled': { kind: 'onoff', default: 'off', doc: 'whether streams of this vhost are recorded' },
  'vhost.dvr.dvr_apply': {
    kind: 'strings',
    default: 'all',
    doc: 'which streams are recorded: all, or one or more app/stream names',
  },
  'vhost.dvr.dvr_plan': {
    kind: 'enum',
    default: 'session',
    values: ['session', 'segment'],
    doc: 'session: one file per publish; segment: a new file every dvr_duration',
  },
  'vhost.dvr.dvr_path': {
    kind: 'string',
    default: './objs/nginx/html/[app]/[stream].[timestamp].flv',
    doc: 'file path template (.flv or .mp4) with [vhost] [app] [stream] [timestamp] [2006] [01] [02] [15] [04] [05] [999]; a folder gets /[stream].[timestamp].flv',
  },
  'vhost.dvr.dvr_duration': {
    kind: 'seconds',
    default: '30',
    min: 1,
    doc: 'segment plan: media seconds after which the next file starts',
  },
  'vhost.dvr.dvr_wait_keyframe': {
    kind: 'onoff',
    default: 'on',
    doc: 'segment plan: on = a new file starts at a keyframe; off = at the first message past dvr_duration',
  },
  'vhost.dvr.time_jitter': {
    kind: 'enum',
    default: 'full',
    values: ['full', 'zero', 'off'],
    doc: 'file timestamps: full (from 0, rising), zero (from 0), off (the stream\'s own)',
  },
  'vhost.security': { kind: 'block', doc: 'security: allow/deny publish and play by client address (SRS security)' },
  'vhost.security.enabled': { kind: 'onoff', default: 'off', doc: 'whether the allow/deny rules apply; off = everyone may publish and play' },
  'vhost.security.allow': {
    kind: 'strings',
    repeat: true,
    doc: 'allow publish|play all|IP|CIDR (IPv4 or IPv6); many lines allowed; see SRS order in core/control/security.ts',
  },
  'vhost.security.deny': {
    kind: 'strings',
    repeat: true,
    doc: 'deny publish|play all|IP|CIDR (IPv4 or IPv6); many lines allowed; a matching deny always wins',
  },
  'vhost.http_hooks': { kind: 'block', doc: 'HTTP callbacks (SRS http_hooks): POST JSON, allowed only on HTTP 200/201 with body 0 or {"code":0}' },
  'vhost.http_hooks.enabled': { kind: 'onoff', default: 'off', doc: 'whether the hooks are called' },
  'vhost.http_hooks.on_connect': { kind: 'strings', doc: 'URLs called when an RTMP client connects; any refusal closes it' },
  'vhost.http_hooks.on_close': { kind: 'strings', doc: 'URLs told when an RTMP client disconnects (send_bytes, recv_bytes); failures logged' },
  'vhost.http_hooks.on_publish': { kind: 'strings', doc: 'URLs asked before a publish (RTMP, casters); any refusal rejects the publisher' },
  'vhost.http_hooks.on_unpublish': { kind: 'strings', doc: 'URLs told when a publish ends; failures logged' },
  'vhost.http_hooks.on_play': { kind: 'strings', doc: 'URLs asked before a play (RTMP, HTTP-FLV/TS/MP3/AAC, WebSocket-FLV, an HLS session); any refusal rejects the player' },
  'vhost.http_hooks.on_stop': { kind: 'strings', doc: 'URLs told when a play ends (an HLS session: after it stops polling); failures logged' },
  'vhost.http_hooks.on_dvr': { kind: 'strings', doc: 'URLs told when a DVR file is closed (cwd, file); failures logged' },
  'vhost.http_hooks.on_hls': { kind: 'strings', doc: 'URLs told when an HLS segment is finished (duration, file, url, m3u8, m3u8_url, seq_no); failures logged' },
  'vhost.http_hooks.timeout': {
    kind: 'seconds',
    default: '30',
    min: 0.1,
    max: 3600,
    doc: 'castgate: seconds a hook call may take before it counts as a refusal (SRS hard-codes 30 s)',
  },
  'vhost.forward': { kind: 'block', doc: 'forward: every stream of the vhost pushed over RTMP to other servers (SRS forward)' },
  'vhost.forward.enabled': { kind: 'onoff', default: 'off', doc: 'whether streams of this vhost are forwarded' },
  'vhost.forward.destination': {
    kind: 'strings',
    doc: 'where to: host[:port][?query] (keeps app/stream) or rtmp://host[:port]/app/stream with [vhost] [app] [stream]; required when enabled',
  },
  'vhost.ingest': {
    kind: 'block',
    repeat: true,
    blockArgs: 1,
    doc: 'an ingester: ffmpeg (or castgate itself for FLV/TS files) pulls a file, stream or device into a stream',
  },
  'vhost.ingest.enabled': { kind: 'onoff', default: 'off', doc: 'whether this ingester runs' },
  'vhost.ingest.input': { kind: 'block', doc: 'what is ingested' },
  'vhost.ingest.input.type': {
    kind: 'enum',
    values: ['file', 'stream', 'device'],
    doc: 'file (virtual live, looped), stream (any URL ffmpeg reads) or device; required',
  },
  'vhost.ingest.input.url': {
    kind: 'strings',
    doc: 'file path(s) played in order, stream URL, or device (lavfi graph with iformat lavfi); required',
  },
  'vhost.ingest.ffmpeg': { kind: 'string', doc: 'ffmpeg binary; default: $FFMPEG_PATH, else ffmpeg on PATH' },
  'vhost.ingest.engine': {
    kind: 'block',
    repeat: true,
    blockArgs: 1,
    blockArgsOptional: true,
    doc: 'one output of the ingester (one ffmpeg each); the optional id is [engine] in output',
  },
  ...engineDirectives('vhost.ingest.engine', {
    enabled: { kind: 'onoff', default: 'off', doc: 'off: copy the codecs (-c copy); on: transcode as below' },
    output: {
      kind: 'rtmp-url',
      doc: 'rtmp://host[:port]/app/stream with [vhost] [port] [app] [stream] [engine]; this gateway = in-process; required',
    },
  }),
  'vhost.transcode': {
    kind: 'block',
    repeat: true,
    blockArgs: 1,
    blockArgsOptional: true,
    doc: 'transcoding by ffmpeg of every stream of the vhost, or of an app or app/stream given as the argument (SRS transcode)',
  },
  'vhost.transcode.enabled': { kind: 'onoff', default: 'off', doc: 'whether this transcode block runs' },
  'vhost.transcode.ffmpeg': { kind: 'string', doc: 'ffmpeg binary; default: $FFMPEG_PATH, else ffmpeg on PATH' },
  'vhost.transcode.engine': {
    kind: 'block',
    repeat: true,
    blockArgs: 1,
    blockArgsOptional: true,
    doc: 'one output of the block (one ffmpeg per source stream); the optional id is [engine] in output',
  },
  ...engineDirectives('vhost.transcode.engine', {
    enabled: { kind: 'onoff', default: 'off', doc: 'whether this engine runs (off: it is skipped)' },
    output: {
      kind: 'rtmp-url',
      doc: 'rtmp://host[:port]/app/stream with [vhost] [port] [app] [stream] [engine] of the source; this gateway = in-process; required when enabled',
    },
  }),
} as const satisfies Readonly<Record<string, DirectiveSpec>>;

export type SchemaKey = keyof typeof SCHEMA;
type Spec<K extends SchemaKey> = (typeof SCHEMA)[K];

/** Keys that hold a value (not blocks, not deprecated locations). */
export type LeafKey = {
  [K in SchemaKey]: Spec<K>['kind'] extends 'block' ? never : Spec<K> extends { movedTo: string } ? never : K;
}[SchemaKey];

/** One `name args...;` line of a param block (SRS perfile, vfilter, vparams, aparams). */
export interface ParamLine {
  readonly name: string;
  readonly args: readonly string[];
}

interface KindValues {
  onoff: boolean;
  integer: number;
  number: number;
  strings: readonly string[];
  params: readonly ParamLine[];
  seconds: number; // milliseconds
  enum: string;
  listen: readonly ListenAddress[];
  string: string;
  'rtmp-url': string;
}

/** The parsed type of a leaf: an enum's union of values, seconds as ms, listen as addresses. */
export type ValueOf<K extends LeafKey> =
  Spec<K> extends { readonly values: readonly (infer V)[] } ? V : KindValues[Spec<K>['kind'] & keyof KindValues];

/** The spec of a dotted key, or undefined for a directive castgate does not know. */
export function specOf(key: string): DirectiveSpec | undefined {
  return Object.hasOwn(SCHEMA, key) ? (SCHEMA as Readonly<Record<string, DirectiveSpec>>)[key] : undefined;
}

/** Parses a leaf directive's arguments by its spec. Leaves take exactly one argument, except listen (1..maxArgs). */
export function parseBySpec(spec: DirectiveSpec, args: readonly string[]): ValueResult<unknown> {
  if (spec.kind === 'listen') {
    const max = spec.maxArgs ?? Number.POSITIVE_INFINITY;
    if (args.length === 0 || args.length > max) {
      return { error: max === 1 ? 'expected one address' : 'expected one or more addresses' };
    }
    return parseListen(args);
  }
  if (spec.kind === 'strings') {
    if (args.length === 0) return { error: 'expected one or more values' };
    for (const a of args) if (a === '') return { error: 'expected non-empty strings' };
    return { value: [...args] };
  }
  if (spec.kind === 'params') return { error: 'is a block of options' };
  if (args.length !== 1) return { error: `expected 1 argument, got ${args.length}` };
  const arg = args[0] as string;
  switch (spec.kind) {
    case 'onoff':
      return parseOnOff(arg);
    case 'integer':
      return parseInteger(arg, spec.min ?? Number.MIN_SAFE_INTEGER, spec.max ?? Number.MAX_SAFE_INTEGER);
    case 'number':
      return parseNumber(arg, spec.min ?? -Number.MAX_VALUE, spec.max ?? Number.MAX_VALUE);
    case 'seconds':
      return parseSecondsToMs(arg, spec.min ?? 0, spec.max);
    case 'enum':
      return parseEnum(arg, spec.values ?? []);
    case 'string':
      return spec.allowEmpty === true ? { value: arg } : parseString(arg);
    case 'rtmp-url':
      return parseRtmpUrl(arg);
    case 'block':
      return { error: 'is a block' };
  }
}
