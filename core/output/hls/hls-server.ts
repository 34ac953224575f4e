/**
 * Owns the HLS muxers of the gateway (SRS SrsHls per SrsLiveSource): on every publish of a stream whose vhost has
 * `hls { enabled on; }` it attaches one HlsMuxer as a hub consumer. A muxer outlives unpublish (it writes the last
 * segment, then waits hls_dispose for a republish) and is forgotten when it ends; the next publish of that stream
 * gets a new one, which starts its file work after the old one's (its dispose) has finished.
 *
 * Low-Latency HLS muxers (hls_ll on) keep their files in memory: `serveLive` answers the HTTP requests for them
 * (playlist with `_HLS_msn`/`_HLS_part` blocking reload and `_HLS_skip` delta updates, init segments, segments,
 * parts, the preload-hinted part), at the same URL paths files under hls_path would have.
 *
 * Config reload (`reload`): `hls { enabled on; }` newly on starts muxers on the streams published now, `enabled off`
 * ends theirs (last segment and playlist written); a new `hls_window` applies to running muxers from their next
 * segment; every other hls setting (`hls_fragment` included: EXT-X-TARGETDURATION must not change within a playlist,
 * RFC 8216 6.2.1) applies from the stream's next publish.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { HlsConfig } from '../../config/hls-config.ts';
import type { Logger } from '../../log.ts';
import { nextSessionId } from '../../log.ts';
import { streamKeyString, type StreamKey } from '../../media/stream-key.ts';
import type { Admission, ClientRegistry, HubPort, RecordingEvents, SessionEndSink, SourceEvents } from '../../hub/ports.ts';
import { HlsSessions } from './hls-sessions.ts';
import { HlsMuxer, type HlsMuxerStats, type HlsWrittenSegment } from './hls-muxer.ts';
import type { HlsLiveAnswer } from './hls-live.ts';
import { HLS_FMP4_SEGMENT_CONTENT_TYPE, HLS_INIT_CONTENT_TYPE, HLS_PLAYLIST_CONTENT_TYPE } from './hls-files.ts';

export interface HlsServerOptions {
  readonly hub: HubPort & SourceEvents;
  readonly log: Logger;
  /** The vhost's hls section; undefined for an unknown vhost. Read at each publish. */
  readonly hls: (vhost: string) => HlsConfig | undefined;
  /** Wall clock for path variables; default Date.now. */
  readonly now?: () => number;
  /** Told about each segment written to disk (http_hooks on_hls). */
  readonly events?: Pick<RecordingEvents, 'onHls'>;
  /**
   * Security and on_play once per HLS viewer session, on_stop when it ends (hls-sessions.ts); with `clients` the
   * sessions are listed and kickable in the HTTP API. Without it, playlists are served to anyone.
   */
  readonly admission?: Admission & Partial<SessionEndSink>;
  readonly clients?: Pick<ClientRegistry, 'attachClient'>;
}

/** Idle time that ends an HLS session when its vhost has no hls settings (SRS's default hls_window is 60 s). */
const DEFAULT_HLS_SESSION_IDLE_MS = 30_000;

export class HlsServer {
  readonly #opts: HlsServerOptions;
  readonly #muxers = new Map<string, HlsMuxer>();
  /** The file work of ended muxers still running, per stream (a new muxer of the stream waits for it). */
  readonly #draining = new Map<string, Promise<void>>();
  /** LL-HLS muxers (files in memory) per vhost. */
  readonly #live = new Map<string, Set<HlsMuxer>>();
  #off: (() => void) | undefined;
  #closed = false;
  readonly #sessions: HlsSessions | undefined;

  constructor(opts: HlsServerOptions) {
    this.#opts = opts;
    const admission = opts.admission;
    if (admission !== undefined) {
      this.#sessions = new HlsSessions({
        log: opts.log,
        admission,
        registry: opts.clients ?? { attachClient: () => () => undefined },
        idleMs: (key) => {
          const cfg = opts.hls(key.vhost);
          // SRS 5 expires an hls_ctx after 2 × hls_window; never less than two segments.
          return cfg === undefined ? DEFAULT_HLS_SESSION_IDLE_MS : Math.max(2 * cfg.windowMs, 2 * cfg.fragmentMs);
        },
      });
    }
  }

  /**
   * A playlist request: undefined when `path` is no live stream's playlist on `vhost` or no admission is set
   * (serve it as it is); else a promise resolved when the viewer's session is admitted, rejected when refused.
   */
  admitPlaylist(req: IncomingMessage, vhost: string, path: string, search: string): Promise<void> | undefined {
    if (this.#sessions === undefined) return undefined;
    const key = this.playlistStream(vhost, path);
    return key === undefined ? undefined : this.#sessions.playlist(req, key, path, search);
  }

  /** An HLS segment was served: keeps its viewer's session alive and counts the bytes. */
  segmentServed(req: IncomingMessage, path: string, bytes: number): void {
    this.#sessions?.segment(req, path, bytes);
  }

  /** Follow publishes. Idempotent. */
  start(): void {
    if (this.#off !== undefined || this.#closed) return;
    this.#off = this.#opts.hub.onPublish((key) => this.#onPublish(key));
  }

  /**
   * The stream whose playlist is at `path` (decoded URL path, `/live/s.m3u8`) on `vhost`, while its muxer lives
   * (the HTTP server's HLS sessions: security and on_play per session).
   */
  playlistStream(vhost: string, path: string): StreamKey | undefined {
    for (const m of this.#muxers.values()) if (m.key.vhost === vhost && `/${m.playlistPath}` === path) return m.key;
    return undefined;
  }

  /** The muxer of a stream, while it lives. */
  muxer(key: StreamKey): HlsMuxer | undefined {
    return this.#muxers.get(streamKeyString(key));
  }

  stats(): Record<string, HlsMuxerStats> {
    const out: Record<string, HlsMuxerStats> = {};
    for (const [k, m] of this.#muxers) out[k] = m.stats();
    return out;
  }

  /** Stop following publishes, close every muxer (last segments and playlists written; files kept). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#sessions?.close();
    this.#off?.();
    this.#off = undefined;
    const muxers = [...this.#muxers.values()];
    this.#muxers.clear();
    this.#live.clear();
    await Promise.allSettled([...muxers.map((m) => m.close()), ...this.#draining.values()]);
  }

  /**
   * Apply a reloaded config (the `hls` option now answers the new settings); see the module doc.
   * @param publishing the streams published now.
   */
  reload(publishing: readonly StreamKey[]): void {
    if (this.#closed) return;
    for (const [k, muxer] of [...this.#muxers]) {
      const vhost = k.slice(0, k.indexOf('/'));
      const cfg = this.#opts.hls(vhost);
      if (cfg?.enabled !== true) {
        this.#opts.log.info({ stream: k, output: 'hls' }, 'HLS disabled by a reload: ended for this stream');
        this.#muxers.delete(k);
        for (const set of this.#live.values()) set.delete(muxer);
        void muxer.close();
        continue;
      }
      if (cfg.windowMs !== muxer.config.windowMs) {
        this.#opts.log.info({ stream: k, output: 'hls', windowMs: cfg.windowMs }, 'HLS window changed by a reload');
        muxer.setWindow(cfg.windowMs);
      }
    }
    for (const key of publishing) this.#onPublish(key);
  }

  #onPublish(key: StreamKey): void {
    if (this.#closed) return;
    const cfg = this.#opts.hls(key.vhost);
    if (cfg?.enabled !== true) return;
    const k = streamKeyString(key);
    if (this.#muxers.has(k)) return; // still alive from the last publish: it follows the source events
    const log = this.#opts.log.child({ stream: k, output: 'hls' });
    let muxer: HlsMuxer;
    try {
      muxer = new HlsMuxer({
        key,
        config: cfg,
        log,
        ...(this.#opts.now !== undefined ? { now: this.#opts.now } : {}),
        ...(this.#draining.has(k) ? { after: this.#draining.get(k) as Promise<void> } : {}),
        onEnd: (m) => this.#ended(k, m),
        ...(this.#opts.events !== undefined ? { onSegment: (seg: HlsWrittenSegment) => this.#segmentWritten(key, muxer, seg) } : {}),
      });
    } catch (err) {
      log.error({ err }, 'HLS not started for this stream');
      return;
    }
    this.#muxers.set(k, muxer);
    if (muxer.live !== undefined) {
      let set = this.#live.get(key.vhost);
      if (set === undefined) this.#live.set(key.vhost, (set = new Set()));
      set.add(muxer);
    }
    const id = nextSessionId('hls');
    muxer.attach(this.#opts.hub.subscribe(key, { id, protocol: 'hls' }, muxer, { useGopCache: true }));
    log.info({ playlist: muxer.playlistFile }, 'HLS started');
  }

  /** on_hls: the segment's file and URL with the playlist's (SRS SrsHlsMuxer::segment_close → on_hls). */
  #segmentWritten(key: StreamKey, muxer: HlsMuxer, seg: HlsWrittenSegment): void {
    try {
      this.#opts.events?.onHls({
        key,
        file: seg.file,
        url: seg.uri,
        m3u8: muxer.playlistFile,
        m3u8Url: muxer.playlistPath,
        seqNo: seg.sequence,
        durationMs: seg.durationMs,
      });
    } catch (err) {
      this.#opts.log.warn({ err, stream: streamKeyString(key) }, 'on_hls notification failed');
    }
  }

  /**
   * Answer a request for an LL-HLS file of `vhost` (`path`: the decoded URL path, `query`: its query), if one of
   * its in-memory streams has it: GET/HEAD, CORS; a blocking request (`_HLS_msn`/`_HLS_part`) is answered when
   * ready (or dropped if the client left), 400 too far ahead, 503 after three target durations; `_HLS_skip=YES`/`v2`
   * gets the Playlist Delta Update (hls-live.ts). Cache-Control: `no-cache` on playlists and errors, `max-age` of
   * one target duration on a blocking request's playlist (that URL names a part it lists), 60 s on media.
   * @returns false, without touching `res`, when no LL-HLS stream of the vhost has that path.
   */
  serveLive(req: IncomingMessage, res: ServerResponse, vhost: string, path: string, query: URLSearchParams): boolean {
    const muxers = this.#live.get(vhost);
    if (muxers === undefined) return false;
    for (const m of muxers) {
      const live = m.live;
      if (live === undefined) continue;
      const dir = posix.dirname(`/${m.playlistPath}`);
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      if (!path.startsWith(prefix)) continue;
      const uri = path.slice(prefix.length).split('/').map(encodeURIComponent).join('/');
      const answer = live.request(uri, posix.basename(m.playlistPath), query);
      if (answer === undefined) continue;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Access-Control-Allow-Origin': '*' }).end();
        return true;
      }
      if (answer instanceof Promise) void answer.then((a) => sendLive(req, res, a));
      else sendLive(req, res, answer);
      return true;
    }
    return false;
  }

  #ended(k: string, m: HlsMuxer): void {
    if (this.#muxers.get(k) === m) this.#muxers.delete(k);
    for (const set of this.#live.values()) set.delete(m);
    const idle = m.idle.then(() => {
      if (this.#draining.get(k) === idle) this.#draining.delete(k);
    });
    this.#draining.set(k, idle);
  }
}

const LIVE_CONTENT_TYPES = { playlist: HLS_PLAYLIST_CONTENT_TYPE, init: HLS_INIT_CONTENT_TYPE, segment: HLS_FMP4_SEGMENT_CONTENT_TYPE } as const;

function sendLive(req: IncomingMessage, res: ServerResponse, a: HlsLiveAnswer): void {
  if (res.destroyed || res.headersSent) return;
  if (a.status !== 200) {
    res.writeHead(a.status, { 'Access-Control-Allow-Origin': '*', 'Content-Length': '0', 'Cache-Control': 'no-cache' }).end();
    return;
  }
  const body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body;
  res.writeHead(200, {
    'Access-Control-Allow-Origin': '*',
    'Content-Type': LIVE_CONTENT_TYPES[a.kind],
    'Content-Length': String(body.length),
    'Cache-Control': a.kind !== 'playlist' ? 'max-age=60' : a.maxAgeS !== undefined ? `max-age=${a.maxAgeS}` : 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
