/**
 * The in-process hub: one Source per vhost/app/stream, created on demand by the first publisher or player,
 * reaped when it has had neither for `sourceLingerMs` (SRS SrsLiveSourceManager, mediamtx path_manager.go).
 *
 * Synchronous (STYLE habit 14): no await between a check and a mutation; hooks and auth run before
 * `publish()`/`subscribe()` are called. A second publisher of a key is refused with GW_ERR_STREAM_BUSY and the
 * first keeps streaming.
 */
import { ErrorCode, GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { streamKeyString, type StreamKey } from '../media/stream-key.ts';
import { DEFAULT_QUEUE_MAX_BYTES } from './consumer.ts';
import { DEFAULT_GOP_CACHE_MAX_BYTES } from './gop-cache.ts';
import type {
  AttachedClient,
  ClientRegistry,
  ClientSnapshot,
  ConsumerOptions,
  ConsumerTarget,
  HubPort,
  Publisher,
  PublisherEvents,
  SessionEnd,
  SessionEvents,
  SessionInfo,
  SourceEvents,
  Subscriber,
} from './ports.ts';
import { generateStatId, Source, type StreamSnapshot, type VhostHubSettings } from './source.ts';

export type { StreamSnapshot, VhostHubSettings };
export { generateStatId };
export { DEFAULT_GOP_CACHE_MAX_BYTES, DEFAULT_QUEUE_MAX_BYTES };

/**
 * How long a source with no publisher and no consumers is kept (its `full` time_jitter timeline and counters
 * survive a quick publisher reconnect). Caches are cleared at unpublish anyway, so a lingering source holds
 * no media.
 */
export const DEFAULT_SOURCE_LINGER_MS = 10_000;

/** Counters over every source since the hub started (the Prometheus exporter's totals). */
export interface HubTotals {
  /** FLV tag body bytes written by publishers. */
  readonly recvBytes: number;
  /** FLV tag body bytes delivered to consumers. */
  readonly sendBytes: number;
  /** Messages dropped for consumers that were too slow (whole GOPs, STYLE habit 13). */
  readonly droppedMessages: number;
  /** Successful `publish` calls. */
  readonly publishes: number;
  /** `subscribe` calls. */
  readonly plays: number;
}

export interface SourceHubOptions {
  /** Parent logger; each source gets `log.child({ stream: 'vhost/app/stream' })`. */
  readonly log: Logger;
  /** Per-vhost settings (from the config), read at each publish and subscribe. */
  readonly vhost: (vhostName: string) => VhostHubSettings;
  /** Per-consumer queue byte cap (default DEFAULT_QUEUE_MAX_BYTES = 64 MiB). */
  readonly queueMaxBytes?: number;
  /** GOP cache byte cap (default DEFAULT_GOP_CACHE_MAX_BYTES = 32 MiB); above it, cache nothing until the next keyframe. */
  readonly gopCacheMaxBytes?: number;
  /** Idle source lifetime, ms (default DEFAULT_SOURCE_LINGER_MS); 0 = remove at once. */
  readonly sourceLingerMs?: number;
}

/** One attachClient registration. */
interface AttachedEntry {
  readonly client: AttachedClient;
  readonly keyString: string;
  readonly sinceMs: number;
}

export class SourceHub implements HubPort, SourceEvents, SessionEvents, ClientRegistry {
  readonly #log: Logger;
  readonly #vhost: (vhostName: string) => VhostHubSettings;
  readonly #queueMaxBytes: number;
  readonly #gopCacheMaxBytes: number;
  readonly #lingerMs: number;
  readonly #sources = new Map<string, Source>();
  readonly #reapTimers = new Map<Source, NodeJS.Timeout>();
  readonly #onIdle = (source: Source): void => this.#scheduleReap(source);
  /** Publish listeners; a Set of wrapper objects so the same function can be added twice and removed once. */
  readonly #publishListeners = new Set<{ readonly fn: (key: StreamKey, who: SessionInfo) => void }>();
  /** SessionEvents listeners (wrappers, as the publish listeners). */
  readonly #sessionEndListeners = new Set<{ readonly fn: (end: SessionEnd) => void }>();
  readonly #onSessionEnd = (end: SessionEnd): void => {
    for (const listener of this.#sessionEndListeners) {
      try {
        listener.fn(end);
      } catch (err) {
        this.#log.error({ err, client: end.who.id }, 'session end listener failed');
      }
    }
  };
  /** Clients registered with attachClient, by stream key string (a key with any keeps its source). */
  readonly #attached = new Map<string, Set<AttachedEntry>>();
  #closed = false;
  /** Totals of the sources already reaped, and the publish/play counts. */
  readonly #retired = { recvBytes: 0, sendBytes: 0, droppedMessages: 0 };
  #publishes = 0;
  #plays = 0;

  constructor(opts: SourceHubOptions) {
    this.#log = opts.log;
    this.#vhost = opts.vhost;
    this.#queueMaxBytes = opts.queueMaxBytes ?? DEFAULT_QUEUE_MAX_BYTES;
    this.#gopCacheMaxBytes = opts.gopCacheMaxBytes ?? DEFAULT_GOP_CACHE_MAX_BYTES;
    this.#lingerMs = opts.sourceLingerMs ?? DEFAULT_SOURCE_LINGER_MS;
  }

  /**
   * Become the publisher of `key`; `events.onClose` is called when the hub ends the publish (kick, close).
   * @throws GatewayError GW_ERR_STREAM_BUSY when another publisher holds the key (it keeps streaming), or when
   *   the hub is closed.
   */
  publish(key: StreamKey, who: SessionInfo, events?: PublisherEvents): Publisher {
    this.#assertOpen(key);
    const source = this.#source(key);
    const current = source.publisher;
    if (current !== undefined) {
      throw new GatewayError(ErrorCode.StreamBusy, `${source.keyString} is already published by ${current.id}`);
    }
    this.#cancelReap(source);
    const publisher = source.publish(who, this.#vhost(key.vhost), events);
    this.#publishes++;
    for (const listener of [...this.#publishListeners]) {
      try {
        listener.fn(source.key, who);
      } catch (err) {
        this.#log.error({ err, stream: source.keyString }, 'publish listener failed');
      }
    }
    return publisher;
  }

  onSessionEnd(listener: (end: SessionEnd) => void): () => void {
    const entry = { fn: listener };
    this.#sessionEndListeners.add(entry);
    return () => {
      this.#sessionEndListeners.delete(entry);
    };
  }

  /** The stream id (`StreamSnapshot.id`) of `key`'s source, when it exists now (hook bodies' `stream_id`). */
  streamId(key: StreamKey): string | undefined {
    return this.#sources.get(streamKeyString(key))?.id;
  }

  onPublish(listener: (key: StreamKey, who: SessionInfo) => void): () => void {
    const entry = { fn: listener };
    this.#publishListeners.add(entry);
    return () => {
      this.#publishListeners.delete(entry);
    };
  }

  /**
   * Attach a player; creates the source if nobody publishes yet (the player waits).
   * @throws GatewayError GW_ERR_STREAM_BUSY when the hub is closed.
   */
  subscribe(key: StreamKey, who: SessionInfo, target: ConsumerTarget, opts?: ConsumerOptions): Subscriber {
    this.#assertOpen(key);
    const source = this.#source(key);
    this.#cancelReap(source);
    const settings = this.#vhost(key.vhost);
    this.#plays++;
    return source.subscribe(
      who,
      target,
      opts?.queueLengthMs ?? settings.queueLengthMs,
      opts?.queueMaxBytes ?? this.#queueMaxBytes,
      opts?.useGopCache ?? settings.gopCache,
    );
  }

  isPublishing(key: StreamKey): boolean {
    return this.#sources.get(streamKeyString(key))?.publisher !== undefined;
  }

  /** Snapshot for logs and the API: one entry per source. */
  streams(): StreamSnapshot[] {
    const out: StreamSnapshot[] = [];
    for (const source of this.#sources.values()) out.push(source.snapshot());
    return out;
  }

  clients(): ClientSnapshot[] {
    const out: ClientSnapshot[] = [];
    for (const source of this.#sources.values()) {
      source.clients(out);
      const attached = this.#attached.get(source.keyString);
      if (attached === undefined) continue;
      for (const e of attached) {
        out.push({
          who: e.client.who, key: source.key, streamId: source.id, publish: false, sinceMs: e.sinceMs,
          recvBytes: 0, sendBytes: e.client.sendBytes(), droppedMessages: 0, attached: true,
        });
      }
    }
    return out;
  }

  kick(id: string, reason: string): boolean {
    let found = false;
    for (const source of [...this.#sources.values()]) if (source.kick(id, reason)) found = true;
    for (const set of [...this.#attached.values()]) {
      for (const e of [...set]) {
        if (e.client.who.id !== id) continue;
        found = true;
        this.#detach(e);
        this.#kickAttached(e, reason);
      }
    }
    if (found) this.#log.warn({ client: id, reason }, 'client kicked');
    return found;
  }

  /**
   * List a client the hub does not feed (ClientRegistry.attachClient); its source is created if needed and kept
   * until it detaches.
   * @throws GatewayError GW_ERR_STREAM_BUSY when the hub is closed.
   */
  attachClient(client: AttachedClient): () => void {
    this.#assertOpen(client.key);
    const source = this.#source(client.key);
    this.#cancelReap(source);
    const entry: AttachedEntry = { client, keyString: source.keyString, sinceMs: Date.now() };
    let set = this.#attached.get(entry.keyString);
    if (set === undefined) {
      set = new Set();
      this.#attached.set(entry.keyString, set);
    }
    set.add(entry);
    return () => this.#detach(entry);
  }

  /** Totals since the hub started: every source, reaped ones included. */
  totals(): HubTotals {
    let { recvBytes, sendBytes, droppedMessages } = this.#retired;
    for (const source of this.#sources.values()) {
      const s = source.snapshot();
      recvBytes += s.recvBytes;
      sendBytes += s.sendBytes;
      droppedMessages += source.droppedMessages;
    }
    return { recvBytes, sendBytes, droppedMessages, publishes: this.#publishes, plays: this.#plays };
  }

  /** Stop everything: unpublish all, close all consumers (`onClose('gateway stopping')`). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#reapTimers.values()) clearTimeout(timer);
    this.#reapTimers.clear();
    for (const source of this.#sources.values()) source.close('gateway stopping');
    this.#sources.clear();
    const attached = [...this.#attached.values()].flatMap((set) => [...set]);
    this.#attached.clear();
    for (const e of attached) this.#kickAttached(e, 'gateway stopping');
  }

  /** Remove an attached client; the last one of a key lets its idle source be reaped. Idempotent. */
  #detach(entry: AttachedEntry): void {
    const set = this.#attached.get(entry.keyString);
    if (set === undefined || !set.delete(entry) || set.size > 0) return;
    this.#attached.delete(entry.keyString);
    const source = this.#sources.get(entry.keyString);
    if (source?.idle === true) this.#scheduleReap(source);
  }

  #kickAttached(entry: AttachedEntry, reason: string): void {
    try {
      entry.client.kick(reason);
    } catch (err) {
      this.#log.error({ err, client: entry.client.who.id }, 'attached client kick failed');
    }
  }

  #assertOpen(key: StreamKey): void {
    if (this.#closed) {
      // No dedicated code for "stopping"; StreamBusy is the closest: the key cannot be used now.
      throw new GatewayError(ErrorCode.StreamBusy, `${streamKeyString(key)}: gateway stopping`);
    }
  }

  #source(key: StreamKey): Source {
    const keyString = streamKeyString(key);
    let source = this.#sources.get(keyString);
    if (source === undefined) {
      source = new Source({
        key,
        log: this.#log.child({ stream: keyString }),
        gopCacheMaxBytes: this.#gopCacheMaxBytes,
        onIdle: this.#onIdle,
        onSessionEnd: this.#onSessionEnd,
      });
      this.#sources.set(keyString, source);
    }
    return source;
  }

  #scheduleReap(source: Source): void {
    if (this.#closed || this.#sources.get(source.keyString) !== source || this.#attached.has(source.keyString)) return;
    if (this.#lingerMs <= 0) {
      this.#retire(source);
      return;
    }
    this.#cancelReap(source);
    const timer = setTimeout(() => {
      this.#reapTimers.delete(source);
      if (source.idle && this.#sources.get(source.keyString) === source && !this.#attached.has(source.keyString)) this.#retire(source);
    }, this.#lingerMs);
    timer.unref();
    this.#reapTimers.set(source, timer);
  }

  /** Forget an idle source, keeping its counters in the totals. */
  #retire(source: Source): void {
    this.#sources.delete(source.keyString);
    const s = source.snapshot();
    this.#retired.recvBytes += s.recvBytes;
    this.#retired.sendBytes += s.sendBytes;
    this.#retired.droppedMessages += source.droppedMessages;
  }

  #cancelReap(source: Source): void {
    const timer = this.#reapTimers.get(source);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#reapTimers.delete(source);
  }
}
