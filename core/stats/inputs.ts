/**
 * castgate's own API views of its inputs: `/api/v1/casters` (each `stream_caster` block and its sessions with
 * per-input QoS) and `/api/v1/ingesters` (each `ingest` block's engines: ffmpeg state, pid, restarts, uptime, fps,
 * speed). They are read from the casters' and ingesters' own `stats()` (core/ never imports casters/ or ingest/,
 * so the shapes are declared here structurally and core/main.ts passes the objects through).
 *
 * Per-session QoS fields: `packets`, `bytes`, `lost`, `reordered`, `cc_errors`, `resyncs` and `kbps`; a field
 * that does not apply to the protocol is null (RTP has no continuity counter, TCP FLV has no loss).
 */
import type { RateBook } from './rate-window.ts';

/** What every caster's stats() returns (casters/caster.ts CasterStats). */
export interface CasterStatsView {
  readonly caster: string;
  readonly listen: number;
  readonly [field: string]: unknown;
}

/** What every ingester's stats() returns (ingest/index.ts IngesterStats); engines are ffmpeg or native loops. */
export interface IngesterStatsView {
  readonly id: string;
  readonly vhost: string;
  readonly type: string;
  readonly engines: readonly object[];
}

/** One input session of a caster with its QoS. */
export interface CasterSessionJson {
  /** The session's client id (DELETE /api/v1/clients/{id} kicks it); null when the caster does not tell. */
  readonly id: string | null;
  /** `vhost/app/stream`, or null before the stream is known. */
  readonly stream: string | null;
  readonly remote: string | null;
  readonly state: string;
  readonly packets: number | null;
  readonly bytes: number | null;
  readonly lost: number | null;
  readonly reordered: number | null;
  readonly cc_errors: number | null;
  readonly resyncs: number | null;
  /** kbit/s over the last 30 s (input bytes). */
  readonly kbps: number;
  /** Per-track counters when the protocol has tracks (RTSP), as the caster reports them. */
  readonly tracks?: readonly unknown[];
}

export interface CasterJson {
  /** Position of the block among the enabled `stream_caster` blocks. */
  readonly index: number;
  readonly type: string;
  readonly listen: number;
  readonly state: 'listening';
  readonly sessions: readonly CasterSessionJson[];
  /** The caster's stats() as it returns them. */
  readonly stats: CasterStatsView;
}

export interface IngestEngineJson {
  readonly index: number;
  /** `ffmpeg-pipe` (ffmpeg into this gateway), `ffmpeg-push` (ffmpeg to another server), `native` (castgate reads the files). */
  readonly mode: string;
  readonly stream: string | null;
  /** ffmpeg: idle, running, waiting (restart backoff), stopped, failed; native: running or waiting. */
  readonly state: string;
  readonly publishing: boolean;
  /** The hub client publishing the stream (kick it to restart the engine), null when not publishing here. */
  readonly client: string | null;
  readonly pid: number | null;
  /** Restarts after the first start. */
  readonly restarts: number;
  /** Seconds the current ffmpeg (or loop) has run; null when none runs. */
  readonly uptime: number | null;
  /** From ffmpeg's progress line; null before the first one or for native loops. */
  readonly fps: number | null;
  readonly speed: number | null;
  readonly kbps: number | null;
  readonly error: string | null;
}

export interface IngesterJson {
  readonly id: string;
  readonly vhost: string;
  readonly type: string;
  /** running when every engine runs, failed when one failed, else the first engine's state. */
  readonly state: string;
  readonly engines: readonly IngestEngineJson[];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function obj(v: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}
function sum(items: readonly Readonly<Record<string, unknown>>[], field: string): number | null {
  let total = 0;
  let seen = false;
  for (const it of items) {
    const n = num(it[field]);
    if (n !== null) {
      total += n;
      seen = true;
    }
  }
  return seen ? total : null;
}

/** `/api/v1/casters` entries from the casters' stats; `rates` gives (and `sampleCasterRates` feeds) the kbps. */
export function casterViews(stats: readonly CasterStatsView[], rates: RateBook, nowMs: number): CasterJson[] {
  return stats.map((s, index) => ({
    index,
    type: s.caster,
    listen: s.listen,
    state: 'listening',
    sessions: casterSessions(s, index).map((q) => {
      const k = rates.kbps(casterRateKey(s, q.key), nowMs, q.rateBytes, 0, undefined);
      const { key: _key, rateBytes: _bytes, ...json } = q;
      return { ...json, kbps: k.recv };
    }),
    stats: s,
  }));
}

/** Sample each caster session's input bytes (for kbps); called at each statistics round. */
export function sampleCasterRates(stats: readonly CasterStatsView[], rates: RateBook, nowMs: number): void {
  stats.forEach((s, index) => {
    for (const q of casterSessions(s, index)) rates.sample(casterRateKey(s, q.key), nowMs, q.rateBytes, 0, undefined);
  });
}

/**
 * A caster session's key in the rate book: by the caster's type and port, not its position in the list, so a
 * reload that removes an earlier caster does not restart the 30 s windows of the ones after it.
 */
function casterRateKey(s: CasterStatsView, sessionKey: string): string {
  return `x:${s.caster}:${s.listen}:${sessionKey}`;
}

type SessionQos = Omit<CasterSessionJson, 'kbps'> & { readonly key: string; readonly rateBytes: number };

/** The sessions a caster's stats describe, by caster type (rtsp: `active[]`; mpegts_over_udp: its one sender). */
function casterSessions(s: CasterStatsView, index: number): SessionQos[] {
  if (s.caster === 'rtsp' && Array.isArray(s.active)) {
    return (s.active as unknown[]).flatMap((a) => {
      const session = obj(a);
      if (session === undefined) return [];
      const tracks = (Array.isArray(session.tracks) ? (session.tracks as unknown[]) : []).map(obj).filter((t) => t !== undefined);
      const id = str(session.id);
      return [{
        key: id ?? `${index}`,
        rateBytes: sum(tracks, 'bytes') ?? 0,
        id,
        stream: str(session.stream),
        remote: str(session.remote),
        state: str(session.state) ?? 'unknown',
        packets: sum(tracks, 'packets'),
        bytes: sum(tracks, 'bytes'),
        lost: sum(tracks, 'lost'),
        reordered: sum(tracks, 'reordered'),
        cc_errors: null,
        resyncs: null,
        tracks,
      }];
    });
  }
  if (s.caster === 'mpegts_over_udp' && typeof s.sender === 'string') {
    const demux = obj(s.demux) ?? {};
    const rtp = obj(s.rtp) ?? {};
    const rtpPackets = num(rtp.rtpPackets) ?? 0;
    return [{
      key: s.sender,
      rateBytes: num(s.bytes) ?? 0,
      id: str(s.session),
      stream: str(s.stream),
      remote: s.sender,
      state: s.publishing === true ? 'publishing' : 'waiting',
      packets: num(demux.packets),
      bytes: num(s.bytes),
      // RTP-wrapped TS has sequence numbers: loss and reordering are counted; plain TS shows loss as CC errors.
      lost: rtpPackets > 0 ? num(rtp.rtpLost) : null,
      reordered: rtpPackets > 0 ? num(rtp.rtpReordered) : null,
      cc_errors: num(demux.ccErrors),
      resyncs: num(demux.resyncs),
    }];
  }
  return [];
}

/**
 * `/api/v1/ingesters` entries. `publisherOf(stream)` is the hub client id publishing that `vhost/app/stream`.
 */
export function ingesterViews(stats: readonly IngesterStatsView[], publisherOf: (stream: string) => string | undefined): IngesterJson[] {
  return stats.map((ing) => {
    const engines = ing.engines.map((e, index) => engineView(obj(e) ?? {}, index, publisherOf));
    let state = engines[0]?.state ?? 'idle';
    if (engines.length > 0 && engines.every((e) => e.state === 'running')) state = 'running';
    else if (engines.some((e) => e.state === 'failed')) state = 'failed';
    return { id: ing.id, vhost: ing.vhost, type: ing.type, state, engines };
  });
}

function engineView(e: Readonly<Record<string, unknown>>, index: number, publisherOf: (stream: string) => string | undefined): IngestEngineJson {
  const stream = str(e.stream);
  const publishing = e.publishing === true;
  const client = stream !== null && publishing ? (publisherOf(stream) ?? null) : null;
  const process = obj(e.process);
  if (process !== undefined) {
    const progress = obj(process.progress) ?? {};
    const uptimeMs = num(process.uptimeMs);
    return {
      index,
      mode: str(e.mode) ?? 'ffmpeg',
      stream,
      state: str(process.state) ?? 'unknown',
      publishing,
      client,
      pid: num(process.pid),
      restarts: num(process.restarts) ?? 0,
      uptime: uptimeMs === null || uptimeMs === 0 ? null : uptimeMs / 1000,
      fps: num(progress.fps),
      speed: num(progress.speed),
      kbps: num(progress.bitrateKbps),
      error: str(process.error),
    };
  }
  const starts = num(e.starts) ?? 0;
  return {
    index,
    mode: str(e.mode) ?? 'native',
    stream,
    state: e.nextRetryMs === undefined || e.nextRetryMs === null ? 'running' : 'waiting',
    publishing,
    client,
    pid: null,
    restarts: Math.max(0, starts - 1),
    uptime: null,
    fps: null,
    speed: null,
    kbps: null,
    error: str(e.error),
  };
}
