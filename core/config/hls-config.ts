/**
 * The typed `vhost { hls { } }` section (SRS SrsConfig get_hls_*; directives and defaults of SRS trunk/conf/full.conf).
 * Built from the schema by config.ts; kept here so the vhost builder stays small.
 */
import type { LeafKey, ValueOf } from './schema.ts';

export type HlsOnError = 'ignore' | 'disconnect' | 'continue';
export type HlsAudioCodec = 'aac' | 'mp3' | 'an';
export type HlsVideoCodec = 'h264' | 'vn';

export interface HlsConfig {
  /** default false. */
  readonly enabled: boolean;
  /** `hls_fragment` seconds → ms (default 10 s): a segment is cut at the first keyframe past it. */
  readonly fragmentMs: number;
  /** `hls_td_ratio` (default 1.0): EXT-X-TARGETDURATION ≥ fragment × ratio. */
  readonly tdRatio: number;
  /** `hls_aof_ratio` (default 2.1): audio forces a cut at fragment × ratio (audio-only streams). */
  readonly aofRatio: number;
  /** `hls_window` seconds → ms (default 60 s). */
  readonly windowMs: number;
  /** default 'continue'. */
  readonly onError: HlsOnError;
  /** `hls_path`: root folder (default ./objs/nginx/html). */
  readonly path: string;
  /** `hls_m3u8_file` template (default [app]/[stream].m3u8). */
  readonly m3u8File: string;
  /** `hls_ts_file` template (default [app]/[stream]-[seq].ts). */
  readonly tsFile: string;
  /** `hls_entry_prefix` (default ''): '' = relative segment URLs. */
  readonly entryPrefix: string;
  readonly acodec: HlsAudioCodec;
  readonly vcodec: HlsVideoCodec;
  /** default true. */
  readonly cleanup: boolean;
  /** `hls_dispose` seconds → ms (default 120 s); 0 = never. */
  readonly disposeMs: number;
  /** default true. */
  readonly waitKeyframe: boolean;
  /** `hls_use_fmp4` (SRS 7, default false): CMAF segments (init segment + .m4s) instead of MPEG-TS. */
  readonly useFmp4: boolean;
  /** `hls_fmp4_file` template (default [app]/[stream]-[seq].m4s). */
  readonly fmp4File: string;
  /** `hls_init_file` template (default [app]/[stream]/init.mp4). */
  readonly initFile: string;
  /** `hls_ll` (default false): Low-Latency HLS, fMP4 parts served from memory (implies fMP4). */
  readonly ll: boolean;
  /** `hls_part` seconds → ms (default 0.2 s): the LL-HLS part target. */
  readonly partMs: number;
}

type HlsKey = Extract<LeafKey, `vhost.hls.${string}`>;
/** Reads one `vhost.hls.*` value (parsed, or its default) of the section being built. */
export type HlsValueReader = <K extends HlsKey>(key: K) => ValueOf<K>;

/** The HlsConfig of one vhost from its values. */
export function buildHlsConfig(read: HlsValueReader): HlsConfig {
  return {
    enabled: read('vhost.hls.enabled'),
    fragmentMs: read('vhost.hls.hls_fragment'),
    tdRatio: read('vhost.hls.hls_td_ratio'),
    aofRatio: read('vhost.hls.hls_aof_ratio'),
    windowMs: read('vhost.hls.hls_window'),
    onError: read('vhost.hls.hls_on_error'),
    path: read('vhost.hls.hls_path'),
    m3u8File: read('vhost.hls.hls_m3u8_file'),
    tsFile: read('vhost.hls.hls_ts_file'),
    entryPrefix: read('vhost.hls.hls_entry_prefix'),
    acodec: read('vhost.hls.hls_acodec'),
    vcodec: read('vhost.hls.hls_vcodec'),
    cleanup: read('vhost.hls.hls_cleanup'),
    disposeMs: read('vhost.hls.hls_dispose'),
    waitKeyframe: read('vhost.hls.hls_wait_keyframe'),
    useFmp4: read('vhost.hls.hls_use_fmp4'),
    fmp4File: read('vhost.hls.hls_fmp4_file'),
    initFile: read('vhost.hls.hls_init_file'),
    ll: read('vhost.hls.hls_ll'),
    partMs: read('vhost.hls.hls_part'),
  };
}
