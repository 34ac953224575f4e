/**
 * Owns the HLS muxers of the gateway (SRS SrsHls per SrsLiveSource): on every publish of a stream whose vhost has
 * `hls { enabled on; }` it attaches one HlsMuxer as a hub consumer. A muxer outlives unpublish (it writes the last
 * segment, then waits hls_dispose for a republish) and is forgotten when it ends; the next publish of that stream
 * gets a new one, which starts its file work after the old one's (its dispose) has finished.
 */
import type { HlsConfig } from '../../config/hls-config.ts';
import type { Logger } from '../../log.ts';
import { nextSessionId } from '../../log.ts';
import { streamKeyString, type StreamKey } from '../../media/stream-key.ts';
import type { HubPort, SourceEvents } from '../../hub/ports.ts';
import { HlsMuxer, type HlsMuxerStats } from './hls-muxer.ts';

export interface HlsServerOptions {
  readonly hub: HubPort & SourceEvents;
  readonly log: Logger;
  /** The vhost's hls section; undefined for an unknown vhost. Read at each publish. */
  readonly hls: (vhost: string) => HlsConfig | undefined;
  /** Wall clock for path variables; default Date.now. */
  readonly now?: () => number;
}

export class HlsServer {
  readonly #opts: HlsServerOptions;
  readonly #muxers = new Map<string, HlsMuxer>();
  /** The file work of ended muxers still running, per stream (a new muxer of the stream waits for it). */
  readonly #draining = new Map<string, Promise<void>>();
  #off: (() => void) | undefined;
  #closed = false;

  constructor(opts: HlsServerOptions) {
    this.#opts = opts;
  }

  /** Follow publishes. Idempotent. */
  start(): void {
    if (this.#off !== undefined || this.#closed) return;
    this.#off = this.#opts.hub.onPublish((key) => this.#onPublish(key));
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
    this.#off?.();
    this.#off = undefined;
    const muxers = [...this.#muxers.values()];
    this.#muxers.clear();
    await Promise.allSettled([...muxers.map((m) => m.close()), ...this.#draining.values()]);
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
      });
    } catch (err) {
      log.error({ err }, 'HLS not started for this stream');
      return;
    }
    this.#muxers.set(k, muxer);
    const id = nextSessionId('hls');
    muxer.attach(this.#opts.hub.subscribe(key, { id, protocol: 'hls' }, muxer, { useGopCache: true }));
    log.info({ playlist: muxer.playlistFile }, 'HLS started');
  }

  #ended(k: string, m: HlsMuxer): void {
    if (this.#muxers.get(k) === m) this.#muxers.delete(k);
    const idle = m.idle.then(() => {
      if (this.#draining.get(k) === idle) this.#draining.delete(k);
    });
    this.#draining.set(k, idle);
  }
}
