/**
 * One live stream (vhost/app/stream): publisher → time correction → meta cache → GOP cache → consumers
 * (SRS SrsLiveSource::on_video_imp/on_audio_imp, mediamtx internal/stream/stream.go; STYLE habit 14).
 *
 * `write` corrects the timestamp once (core/media/jitter.ts), builds the corrected message once, and hands that
 * same object to every consumer synchronously: no await, no copy, no closure per message. The GOP cache is
 * updated BEFORE the fan-out so a consumer that subscribes re-entrantly from inside a `send` (it gets the
 * caches, not the fan-out of the current message, whose length is fixed when the loop starts) misses nothing.
 * Consumers that close during the fan-out are marked and removed after it (no index shifting mid-loop).
 *
 * Publish/unpublish: one publisher at a time. On unpublish the caches are cleared, consumers stay attached and
 * get `onSourceEvent('unpublish')`; a new publish sends `onSourceEvent('publish')`. The owner (SourceHub) is
 * told when the source becomes idle (no publisher, no consumers) and reaps it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { RtmpMessage } from '../media/message.ts';
import { TimestampCorrector, type TimeJitterMode } from '../media/jitter.ts';
import { streamKeyString, type StreamKey } from '../media/stream-key.ts';
import { Consumer, type ConsumerOwner } from './consumer.ts';
import { GopCache } from './gop-cache.ts';
import { MetaCache, type AudioTrackInfo, type VideoTrackInfo } from './meta-cache.ts';
import type { ClientSnapshot, ConsumerTarget, Publisher, PublisherEvents, SessionEnd, SessionInfo } from './ports.ts';

/** Alphabet of SRS's srs_random_str (srs_kernel_utility.cpp). */
const STAT_ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A random statistics id as SRS 5 makes them for streams, vhosts and servers: `vid-` and 7 characters of [0-9a-z]
 * (srs_app_statistic.cpp srs_generate_stat_vid). Random, so an id never names another stream after a restart.
 */
export function generateStatId(): string {
  const bytes = randomBytes(7);
  let id = 'vid-';
  for (const b of bytes) id += STAT_ID_ALPHABET[b % STAT_ID_ALPHABET.length];
  return id;
}

/** The per-vhost settings the hub applies (from the config's vhost `play { }` block). */
export interface VhostHubSettings {
  /** `gop_cache on|off`. */
  readonly gopCache: boolean;
  /** `queue_length`, in ms (seconds × 1000); <= 0 = no time bound. */
  readonly queueLengthMs: number;
  /** `time_jitter full|zero|off`. */
  readonly timeJitter: TimeJitterMode;
}

/** One entry of `SourceHub.streams()`. */
export interface StreamSnapshot {
  /** Process-unique id of this source (SRS stream id `vid-xxxxxxx`): kept while it has a publisher or players. */
  readonly id: string;
  readonly key: string;
  readonly publisher: SessionInfo | undefined;
  readonly consumers: number;
  readonly video?: VideoTrackInfo;
  readonly audio?: AudioTrackInfo;
  /** Messages/bytes written by the current (or last) publisher. */
  readonly messagesIn: number;
  readonly bytesIn: number;
  /** Date.now() when the current publisher started; undefined when nobody publishes. */
  readonly startedAtMs: number | undefined;
  /** Date.now() when the source was created (first publisher or player). */
  readonly createdAtMs: number;
  /** FLV tag body bytes written by every publisher since the source was created. */
  readonly recvBytes: number;
  /** FLV tag body bytes delivered to every consumer (gone ones included) since the source was created. */
  readonly sendBytes: number;
  /** Video frames (not sequence headers) written since the source was created (SRS stream `frames`). */
  readonly videoFrames: number;
  /** The current video sequence header (width/height are read from it by core/stats), if any. */
  readonly videoConfig: RtmpMessage | undefined;
}

export interface SourceConfig {
  /** StreamSnapshot.id; default a new generateStatId(). */
  readonly id?: string;
  readonly key: StreamKey;
  /** Child logger bound to this stream. */
  readonly log: Logger;
  readonly gopCacheMaxBytes: number;
  /** Called when the source has neither publisher nor consumers. */
  readonly onIdle: (source: Source) => void;
  /** Called when a publish ends or a consumer detaches (SessionEvents); never on the message path. */
  readonly onSessionEnd?: (end: SessionEnd) => void;
}

/** The Publisher handed out by `Source.publish`; stale once closed (writes are ignored). */
class SourcePublisher implements Publisher {
  readonly key: StreamKey;
  readonly who: SessionInfo;
  readonly events: PublisherEvents | undefined;
  readonly sinceMs = Date.now();
  readonly #source: Source;
  closed = false;

  constructor(source: Source, who: SessionInfo, events: PublisherEvents | undefined) {
    this.#source = source;
    this.key = source.key;
    this.who = who;
    this.events = events;
  }

  write(msg: RtmpMessage): void {
    if (this.closed) return;
    this.#source.write(msg);
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.#source.unpublish(this, reason ?? 'publisher closed');
  }
}

export class Source implements ConsumerOwner {
  readonly id: string;
  readonly key: StreamKey;
  readonly keyString: string;
  readonly createdAtMs = Date.now();
  readonly #log: Logger;
  readonly #onIdle: (source: Source) => void;
  readonly #onSessionEnd: ((end: SessionEnd) => void) | undefined;
  readonly #meta = new MetaCache();
  readonly #gop: GopCache;
  readonly #consumers: Consumer[] = [];
  #corrector = new TimestampCorrector('full');
  #publisher: SourcePublisher | undefined;
  #fanoutDepth = 0;
  #removalPending = false;
  #messagesIn = 0;
  #bytesIn = 0;
  #startedAtMs: number | undefined;
  /** Since creation: bytes written by publishers, video frames, and what consumers that left were sent. */
  #recvBytes = 0;
  #videoFrames = 0;
  #goneSentBytes = 0;
  #goneDroppedMessages = 0;

  constructor(cfg: SourceConfig) {
    this.id = cfg.id ?? generateStatId();
    this.key = cfg.key;
    this.keyString = streamKeyString(cfg.key);
    this.#log = cfg.log;
    this.#onIdle = cfg.onIdle;
    this.#onSessionEnd = cfg.onSessionEnd;
    this.#gop = new GopCache(true, cfg.gopCacheMaxBytes);
  }

  get publisher(): SessionInfo | undefined {
    return this.#publisher?.who;
  }

  get consumerCount(): number {
    let n = 0;
    for (const c of this.#consumers) if (!c.closed) n++;
    return n;
  }

  get idle(): boolean {
    return this.#publisher === undefined && this.consumerCount === 0;
  }

  /**
   * Become the publisher. The caller (SourceHub) has checked that nobody publishes.
   * `settings` are read per publish, so a reloaded vhost applies from the next publish.
   */
  publish(who: SessionInfo, settings: VhostHubSettings, events?: PublisherEvents): Publisher {
    const handle = new SourcePublisher(this, who, events);
    this.#publisher = handle;
    if (this.#corrector.mode !== settings.timeJitter) this.#corrector = new TimestampCorrector(settings.timeJitter);
    else this.#corrector.reset();
    this.#gop.enabled = settings.gopCache;
    this.#meta.clear();
    this.#gop.clear();
    this.#messagesIn = 0;
    this.#bytesIn = 0;
    this.#startedAtMs = Date.now();
    this.#log.info({ publisher: who.id, protocol: who.protocol, remote: who.remote }, 'publish');
    this.#notify('publish');
    return handle;
  }

  /** Unpublish (from Publisher.close or the hub). Consumers stay and wait for the next publisher. */
  unpublish(handle: Publisher, reason: string): void {
    const p = this.#publisher;
    if (p === undefined || p !== handle) return;
    this.#endPublish(p, reason);
    this.#notify('unpublish');
    if (this.idle) this.#onIdle(this);
  }

  /** The hot path: correct once, cache, fan out the same message to every consumer. */
  write(msg: RtmpMessage): void {
    const corrected = msg.withTimestamp(this.#corrector.correct(msg));
    this.#messagesIn++;
    this.#bytesIn += corrected.payload.length;
    this.#recvBytes += corrected.payload.length;
    if (corrected.kind === 'keyframe' || corrected.kind === 'interframe') this.#videoFrames++;
    this.#meta.update(corrected);
    if (!corrected.isConfig) this.#gop.push(corrected);
    const consumers = this.#consumers;
    const n = consumers.length;
    this.#fanoutDepth++;
    try {
      for (let i = 0; i < n; i++) consumers[i].enqueue(corrected);
    } finally {
      this.#fanoutDepth--;
      if (this.#fanoutDepth === 0 && this.#removalPending) this.#compact();
    }
  }

  /**
   * Attach a player: it gets metadata → video sequence header → audio sequence header → GOP cache (when
   * `useGopCache`), then live messages.
   */
  subscribe(
    who: SessionInfo,
    target: ConsumerTarget,
    queueLengthMs: number,
    queueMaxBytes: number,
    useGopCache: boolean,
  ): Consumer {
    const consumer = new Consumer({ key: this.key, who, target, owner: this, log: this.#log, queueLengthMs, queueMaxBytes });
    this.#consumers.push(consumer);
    this.#log.debug({ consumer: who.id, protocol: who.protocol, remote: who.remote }, 'play');
    const meta = this.#meta;
    if (meta.metadata !== undefined) consumer.enqueue(meta.metadata);
    if (meta.videoConfig !== undefined) consumer.enqueue(meta.videoConfig);
    if (meta.audioConfig !== undefined) consumer.enqueue(meta.audioConfig);
    if (useGopCache) {
      const gop = this.#gop.messages;
      const n = gop.length;
      for (let i = 0; i < n && i < gop.length; i++) consumer.enqueue(gop[i]);
    }
    return consumer;
  }

  /** ConsumerOwner: a consumer left (closed by its output, failed, or closed by the hub). */
  detach(consumer: Consumer): void {
    const gone = consumer.stats();
    this.#goneSentBytes += gone.sentBytes;
    this.#goneDroppedMessages += gone.droppedMessages;
    if (this.#fanoutDepth > 0) {
      this.#removalPending = true;
    } else {
      const i = this.#consumers.indexOf(consumer);
      if (i >= 0) this.#consumers.splice(i, 1);
    }
    this.#log.debug({ consumer: consumer.who.id }, 'stop play');
    this.#onSessionEnd?.({ action: 'play', key: this.key, who: consumer.who, streamId: this.id });
    if (this.idle) this.#onIdle(this);
  }

  /** Close everything: unpublish (the publisher is told with `onClose`), then detach every consumer with `onClose(reason)`. */
  close(reason: string): void {
    // No 'unpublish' events: the consumers are closed right after.
    const p = this.#publisher;
    if (p !== undefined) {
      this.#endPublish(p, reason);
      this.#tellPublisher(p, reason);
    }
    const consumers = this.#consumers.slice();
    for (const c of consumers) c.closeByHub(reason);
    this.#consumers.length = 0;
  }

  /**
   * End the publish and every play of session `id` (the HTTP API's kick): the publisher is unpublished (players
   * stay and wait, SRS) and told with `PublisherEvents.onClose`; its players are detached with `onClose`.
   * @returns whether the session was found here.
   */
  kick(id: string, reason: string): boolean {
    let found = false;
    const p = this.#publisher;
    if (p !== undefined && p.who.id === id) {
      found = true;
      this.unpublish(p, reason);
      this.#tellPublisher(p, reason);
    }
    for (const c of this.#consumers.slice()) {
      if (c.closed || c.who.id !== id) continue;
      found = true;
      c.closeByHub(reason);
    }
    return found;
  }

  /** Append this source's publisher and players to `out` (ClientRegistry.clients). */
  clients(out: ClientSnapshot[]): void {
    const p = this.#publisher;
    if (p !== undefined) {
      out.push({ who: p.who, key: this.key, streamId: this.id, publish: true, sinceMs: p.sinceMs, recvBytes: this.#bytesIn, sendBytes: 0, droppedMessages: 0 });
    }
    for (const c of this.#consumers) {
      if (c.closed) continue;
      const st = c.stats();
      out.push({ who: c.who, key: this.key, streamId: this.id, publish: false, sinceMs: c.sinceMs, recvBytes: 0, sendBytes: st.sentBytes, droppedMessages: st.droppedMessages });
    }
  }

  /** Messages dropped for slow consumers since the source was created (gone consumers included). */
  get droppedMessages(): number {
    let n = this.#goneDroppedMessages;
    for (const c of this.#consumers) if (!c.closed) n += c.stats().droppedMessages;
    return n;
  }

  snapshot(): StreamSnapshot {
    let sendBytes = this.#goneSentBytes;
    for (const c of this.#consumers) if (!c.closed) sendBytes += c.stats().sentBytes;
    const s: {
      id: string;
      key: string;
      publisher: SessionInfo | undefined;
      consumers: number;
      video?: VideoTrackInfo;
      audio?: AudioTrackInfo;
      messagesIn: number;
      bytesIn: number;
      startedAtMs: number | undefined;
      createdAtMs: number;
      recvBytes: number;
      sendBytes: number;
      videoFrames: number;
      videoConfig: RtmpMessage | undefined;
    } = {
      id: this.id,
      key: this.keyString,
      publisher: this.publisher,
      consumers: this.consumerCount,
      messagesIn: this.#messagesIn,
      bytesIn: this.#bytesIn,
      startedAtMs: this.#startedAtMs,
      createdAtMs: this.createdAtMs,
      recvBytes: this.#recvBytes,
      sendBytes,
      videoFrames: this.#videoFrames,
      videoConfig: this.#meta.videoConfig,
    };
    if (this.#meta.video !== undefined) s.video = this.#meta.video;
    if (this.#meta.audio !== undefined) s.audio = this.#meta.audio;
    return s;
  }

  #endPublish(p: SourcePublisher, reason: string): void {
    p.closed = true;
    this.#publisher = undefined;
    this.#startedAtMs = undefined;
    this.#meta.clear();
    this.#gop.clear();
    this.#log.info({ publisher: p.who.id, reason, messagesIn: this.#messagesIn, bytesIn: this.#bytesIn }, 'unpublish');
    this.#onSessionEnd?.({ action: 'publish', key: this.key, who: p.who, streamId: this.id });
  }

  /** The hub ended `p`'s publish: tell its session (a throwing callback is logged, never propagated). */
  #tellPublisher(p: SourcePublisher, reason: string): void {
    try {
      p.events?.onClose?.(reason);
    } catch (err) {
      this.#log.warn({ err, publisher: p.who.id }, 'publisher onClose threw');
    }
  }

  #notify(event: 'publish' | 'unpublish'): void {
    const consumers = this.#consumers;
    const n = consumers.length;
    this.#fanoutDepth++;
    try {
      for (let i = 0; i < n; i++) consumers[i].sourceEvent(event);
    } finally {
      this.#fanoutDepth--;
      if (this.#fanoutDepth === 0 && this.#removalPending) this.#compact();
    }
  }

  #compact(): void {
    this.#removalPending = false;
    const consumers = this.#consumers;
    let j = 0;
    for (let i = 0; i < consumers.length; i++) {
      const c = consumers[i];
      if (!c.closed) consumers[j++] = c;
    }
    consumers.length = j;
  }
}
