/**
 * The JSON bodies of SRS's HTTP API as castgate answers them (SRS trunk/src/app/srs_app_statistic.cpp
 * SrsStatisticVhost/SrsStatisticStream/SrsStatisticClient::dumps, srs_app_utility.cpp srs_api_dump_summaries;
 * v5.0.216), field names and JSON types as SRS has them; castgate's additions are marked. Types only.
 */
import type { SrsAudioJson, SrsVideoJson } from './srs-names.ts';

/** `kbps` of SRS streams, clients and vhosts. */
export interface SrsKbpsJson {
  readonly recv_30s: number;
  readonly send_30s: number;
}

/** SRS `/api/v1/streams` entry (SrsStatisticStream::dumps). */
export interface SrsStreamJson {
  readonly id: string;
  readonly name: string;
  /** The vhost's id (not its name), as SRS. */
  readonly vhost: string;
  readonly app: string;
  readonly tcUrl: string;
  readonly url: string;
  /** The current time in ms (SRS writes srs_get_system_time() here, not the stream's age). */
  readonly live_ms: number;
  /** Publisher and players. */
  readonly clients: number;
  /** Video frames since the stream appeared. */
  readonly frames: number;
  readonly send_bytes: number;
  readonly recv_bytes: number;
  readonly kbps: SrsKbpsJson;
  readonly publish: { readonly active: boolean; readonly cid?: string };
  readonly video: SrsVideoJson | null;
  readonly audio: SrsAudioJson | null;
}

/** SRS `/api/v1/clients` entry (SrsStatisticClient::dumps) plus castgate's `protocol`, `remote` and `param`. */
export interface SrsClientJson {
  readonly id: string;
  readonly vhost: string;
  readonly stream: string;
  readonly ip: string;
  readonly pageUrl: string;
  readonly swfUrl: string;
  readonly tcUrl: string;
  readonly url: string;
  readonly name: string;
  readonly type: string;
  readonly publish: boolean;
  /** Seconds since it connected (a float, as SRS). */
  readonly alive: number;
  readonly send_bytes: number;
  readonly recv_bytes: number;
  readonly kbps: SrsKbpsJson;
  /** castgate: SessionInfo.protocol (`rtmp`, `rtsp`, `http-flv`, `mpegts_over_udp`, `ingest`, ...). */
  readonly protocol: string;
  /** castgate: peer `ip:port`, '' when there is none (ingest). */
  readonly remote: string;
  /** castgate: the publish or play request's query without `?`. */
  readonly param: string;
}

/** SRS `/api/v1/vhosts` entry (SrsStatisticVhost::dumps). */
export interface SrsVhostJson {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly clients: number;
  readonly streams: number;
  readonly send_bytes: number;
  readonly recv_bytes: number;
  readonly kbps: SrsKbpsJson;
  readonly hls: { readonly enabled: boolean; readonly fragment?: number };
}

/** SRS `/api/v1/summaries` `data` (srs_api_dump_summaries), the parts Node can measure. */
export interface SrsSummariesJson {
  readonly ok: boolean;
  readonly now_ms: number;
  readonly self: {
    readonly version: string;
    readonly pid: number;
    readonly ppid: number;
    readonly argv: string;
    readonly cwd: string;
    /** Resident set size, KiB (SRS: ru_maxrss, the peak). */
    readonly mem_kbyte: number;
    /** mem_kbyte over the machine's memory, a ratio 0..1 (SRS's name says percent). */
    readonly mem_percent: number;
    /** CPU time over wall time in the last sample period, a ratio (1 = one core busy). */
    readonly cpu_percent: number;
    /** Seconds since the gateway started. */
    readonly srs_uptime: number;
  };
  readonly system: {
    /** Busy over total CPU time of every core in the last sample period, a ratio 0..1. */
    readonly cpu_percent: number;
    readonly mem_ram_kbyte: number;
    /** Used over total memory, a ratio 0..1. */
    readonly mem_ram_percent: number;
    readonly cpus: number;
    readonly cpus_online: number;
    /** Seconds since the machine booted. */
    readonly uptime: number;
    readonly load_1m: number;
    readonly load_5m: number;
    readonly load_15m: number;
  };
}
