/**
 * Fast cache of the audio-only HTTP live streams (SRS `http_remux { fast_cache N; }`, SrsBufferCache; SRS
 * trunk/conf/full.conf: "the fast cache for audio stream(mp3/aac), to cache more audio and send to client in a
 * time to make android(weixin) happy. @remark the flv/ts stream ignore it").
 *
 * One `AudioFastCache` per published stream (not per player): a hub consumer that keeps the latest AAC sequence
 * header and a sliding window of the last N seconds of audio messages (the same shared message objects the
 * hub fans out: no copy). The window is bounded by media time (newest − oldest timestamp ≤ N s) AND by bytes
 * (MAX_FAST_CACHE_BYTES): the oldest messages leave first. A timestamp that goes backwards or a changed
 * AudioSpecificConfig starts the window again (older frames no longer fit the timeline or the decoder).
 *
 * `AudioFastCacheServer` follows publishes (SourceEvents.onPublish, as the HLS output does): on each publish of
 * a stream whose vhost has a fast cache it attaches one cache; on unpublish the cache is emptied and detached (so
 * the source can be reaped), and the next publish gets a new, empty one. A new .mp3/.aac player gets
 * `snapshot(key)` first (http-stream.ts: `HttpLiveStream.play` writes it, then subscribes), then the hub's live
 * messages.
 *
 * Like every hub consumer (hub/consumer.ts), the cache gets the audio of a stream with video from its first
 * keyframe on; an audio-only stream is cached from its first frame.
 */
import type { Logger } from '../log.ts';
import { nextSessionId } from '../log.ts';
import { MessageType, type RtmpMessage } from '../media/message.ts';
import { streamKeyString, type StreamKey } from '../media/stream-key.ts';
import type { ConsumerTarget, HubPort, SourceEvent, SourceEvents, Subscriber } from '../hub/ports.ts';

/**
 * Byte cap of one stream's fast cache, whatever `fast_cache` says: 60 s of 320 kbit/s MP3 is 2.4 MB, so 4 MiB
 * holds any sane window of compressed audio while bounding a misconfigured one (`fast_cache 3600`).
 */
export const MAX_FAST_CACHE_BYTES = 4 * 1024 * 1024;
/** Compact the ring's array once this many evicted slots sit before the head (and they are half the array). */
const RING_COMPACT_MIN_HEAD = 256;

export interface AudioFastCacheOptions {
  /** Media time kept, ms (`fast_cache` × 1000); must be > 0. */
  readonly windowMs: number;
  /** Payload bytes kept at most (default MAX_FAST_CACHE_BYTES). */
  readonly maxBytes?: number;
  /** Called once when the cache is of no more use: its stream was unpublished, or the hub detached it. */
  readonly onEnd?: () => void;
}

/** The audio window of one stream. A ConsumerTarget: attach it to the hub with `subscribe`. */
export class AudioFastCache implements ConsumerTarget {
  readonly #windowMs: number;
  readonly #maxBytes: number;
  readonly #onEnd: (() => void) | undefined;
  #ring: (RtmpMessage | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #audioConfig: RtmpMessage | undefined;
  #ended = false;

  constructor(opts: AudioFastCacheOptions) {
    this.#windowMs = opts.windowMs;
    this.#maxBytes = opts.maxBytes ?? MAX_FAST_CACHE_BYTES;
    this.#onEnd = opts.onEnd;
  }

  /** Audio messages held (the sequence header not counted). */
  get length(): number {
    return this.#ring.length - this.#head;
  }

  /** Payload bytes of the audio messages held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Newest − oldest timestamp held, ms (0 when fewer than two messages). */
  get spanMs(): number {
    const n = this.#ring.length;
    if (n - this.#head < 2) return 0;
    return (this.#ring[n - 1] as RtmpMessage).timestamp - (this.#ring[this.#head] as RtmpMessage).timestamp;
  }

  /** What a new player gets first: the latest AAC sequence header (when known), then the audio, oldest first. */
  snapshot(): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    if (this.#audioConfig !== undefined) out.push(this.#audioConfig);
    for (let i = this.#head; i < this.#ring.length; i++) out.push(this.#ring[i] as RtmpMessage);
    return out;
  }

  /** ConsumerTarget: keep audio, ignore the rest. Never blocks (always true). */
  send(msg: RtmpMessage): boolean {
    if (this.#ended || msg.type !== MessageType.Audio) return true;
    if (msg.kind === 'audio-config') {
      if (this.#audioConfig === undefined || !this.#audioConfig.payload.equals(msg.payload)) {
        if (this.#audioConfig !== undefined) this.#clearAudio(); // a new ASC: older frames do not fit it
        this.#audioConfig = msg;
      }
      return true;
    }
    const n = this.#ring.length;
    if (n > this.#head && msg.timestamp < (this.#ring[n - 1] as RtmpMessage).timestamp) this.#clearAudio();
    this.#ring.push(msg);
    this.#bytes += msg.payload.length;
    this.#evict(msg.timestamp);
    return true;
  }

  /** A new publish or an unpublish: the old stream's audio is of no use to the next one. Unpublish ends it. */
  onSourceEvent(event: SourceEvent): void {
    this.clear();
    if (event === 'unpublish') this.#end();
  }

  /** The hub detached this cache (gateway stopping). */
  onClose(_reason: string): void {
    this.#end();
  }

  /** Forget everything (sequence header included). */
  clear(): void {
    this.#clearAudio();
    this.#audioConfig = undefined;
  }

  #end(): void {
    this.clear();
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd?.();
  }

  #clearAudio(): void {
    this.#ring.length = 0;
    this.#head = 0;
    this.#bytes = 0;
  }

  /** Drop the oldest messages until the window fits both bounds (the newest one always stays). */
  #evict(newestMs: number): void {
    const ring = this.#ring;
    const last = ring.length - 1;
    while (this.#head < last) {
      const oldest = ring[this.#head] as RtmpMessage;
      if (newestMs - oldest.timestamp <= this.#windowMs && this.#bytes <= this.#maxBytes) break;
      ring[this.#head] = undefined;
      this.#head++;
      this.#bytes -= oldest.payload.length;
    }
    if (this.#head >= RING_COMPACT_MIN_HEAD && this.#head * 2 >= ring.length) {
      ring.copyWithin(0, this.#head);
      ring.length -= this.#head;
      this.#head = 0;
    }
  }
}

export interface AudioFastCacheServerOptions {
  readonly hub: HubPort & SourceEvents;
  readonly log: Logger;
  /**
   * The fast cache of a vhost, ms (`http_remux fast_cache` × 1000); 0 = none. Read at each publish and at each
   * `snapshot`, so a vhost without HTTP live streams should answer 0.
   */
  readonly fastCacheMs: (vhost: string) => number;
  /** Byte cap per stream (default MAX_FAST_CACHE_BYTES). */
  readonly maxBytes?: number;
}

/** Owns the fast caches of the gateway: one per published stream of a vhost with `fast_cache` > 0. */
export class AudioFastCacheServer {
  readonly #opts: AudioFastCacheServerOptions;
  readonly #caches = new Map<string, { readonly cache: AudioFastCache; sub: Subscriber | undefined }>();
  #off: (() => void) | undefined;
  #closed = false;

  constructor(opts: AudioFastCacheServerOptions) {
    this.#opts = opts;
  }

  /** Follow publishes. Idempotent. */
  start(): void {
    if (this.#off !== undefined || this.#closed) return;
    this.#off = this.#opts.hub.onPublish((key) => this.#onPublish(key));
  }

  /**
   * What a new .mp3/.aac player of `key` gets before the live messages: undefined when the vhost has no fast
   * cache; else the cached sequence header + audio, oldest first (empty when the stream is not published).
   */
  snapshot(key: StreamKey): RtmpMessage[] | undefined {
    if (this.#opts.fastCacheMs(key.vhost) <= 0) return undefined;
    return this.#caches.get(streamKeyString(key))?.cache.snapshot() ?? [];
  }

  /** The cache of a stream while it is published (tests, stats). */
  cache(key: StreamKey): AudioFastCache | undefined {
    return this.#caches.get(streamKeyString(key))?.cache;
  }

  /** Stop following publishes and detach every cache. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#off?.();
    this.#off = undefined;
    const entries = [...this.#caches.values()];
    this.#caches.clear();
    for (const e of entries) {
      e.cache.clear();
      e.sub?.close();
    }
  }

  #onPublish(key: StreamKey): void {
    if (this.#closed) return;
    const windowMs = this.#opts.fastCacheMs(key.vhost);
    const k = streamKeyString(key);
    this.#drop(k); // a cache left from an earlier publish (none normally: unpublish detaches it)
    if (windowMs <= 0) return;
    const cache: AudioFastCache = new AudioFastCache({
      windowMs,
      maxBytes: this.#opts.maxBytes ?? MAX_FAST_CACHE_BYTES,
      onEnd: () => this.#drop(k, cache),
    });
    const entry: { readonly cache: AudioFastCache; sub: Subscriber | undefined } = { cache, sub: undefined };
    this.#caches.set(k, entry);
    try {
      entry.sub = this.#opts.hub.subscribe(key, { id: nextSessionId('fast-cache'), protocol: 'fast-cache' }, cache, { useGopCache: false });
    } catch (err) {
      this.#caches.delete(k);
      throw err; // the hub logs a failing publish listener; the publish itself goes on
    }
    this.#opts.log.debug({ stream: k, fastCacheMs: windowMs }, 'audio fast cache attached');
  }

  /** Detach and forget the cache of `k` (only `which` when given). Idempotent. */
  #drop(k: string, which?: AudioFastCache): void {
    const e = this.#caches.get(k);
    if (e === undefined || (which !== undefined && e.cache !== which)) return;
    this.#caches.delete(k);
    e.cache.clear();
    e.sub?.close();
  }
}
