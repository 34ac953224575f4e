/**
 * One player's bounded queue (STYLE habit 13; SRS SrsLiveConsumer/SrsMessageQueue, mediamtx stream/reader.go).
 *
 * - Fast path: not blocked and nothing queued → `target.send(msg)` at once. `send` returning false means "taken,
 *   but the transport is full" (socket.write semantics): later messages are queued until `resume()`, which
 *   flushes while `send` keeps returning true.
 * - Bounded by media time (last queued media timestamp − the media timestamp at the head, `queue_length`,
 *   SRS semantics; 0 = no time bound) and by bytes. On overflow every queued media message is dropped, the
 *   latest metadata and sequence headers are queued again, and incoming frames are skipped until the next
 *   keyframe (audio too when the stream has video): a player never gets a P-frame without its reference.
 *   A keyframe that itself overflows the queue starts the new queue.
 * - Every consumer starts waiting for a keyframe unless the GOP cache gave it one (gop_cache off, a player
 *   that waits for a publisher, a republish); audio-only streams flow without waiting.
 * - A target whose `send`/`onSourceEvent` throws is closed (`onClose`), logged, and detached; nobody else sees it.
 * Never awaits, never blocks the publisher; no closure or array copy per message.
 */
import { PithyLog, type Logger } from '../log.ts';
import { MessageType, type RtmpMessage } from '../media/message.ts';
import type { StreamKey } from '../media/stream-key.ts';
import type { ConsumerStats, ConsumerTarget, SessionInfo, SourceEvent, Subscriber } from './ports.ts';

/** Default per-consumer byte cap. Bytes are shared between consumers, so this bounds one slow player's share,
 * not a copy: 30 s (`queue_length`) of ~17 Mbit/s. */
export const DEFAULT_QUEUE_MAX_BYTES = 64 * 1024 * 1024;
/** Compact the queue array once this many consumed slots sit before the head (and they are half the array). */
const QUEUE_COMPACT_MIN_HEAD = 1024;

/** Why frames are being skipped. */
const Wait = { None: 0, Start: 1, Overflow: 2 } as const;
type Wait = (typeof Wait)[keyof typeof Wait];

/** The side that owns consumers (the Source): told when one leaves. */
export interface ConsumerOwner {
  detach(consumer: Consumer): void;
}

export interface ConsumerConfig {
  readonly key: StreamKey;
  readonly who: SessionInfo;
  readonly target: ConsumerTarget;
  readonly owner: ConsumerOwner;
  /** The source's logger; the consumer makes a child only when it has something to say. */
  readonly log: Logger;
  /** Max media span queued, ms; <= 0: no time bound. */
  readonly queueLengthMs: number;
  readonly queueMaxBytes: number;
}

export class Consumer implements Subscriber {
  readonly key: StreamKey;
  readonly who: SessionInfo;
  /** Date.now() when it was attached (the HTTP API's client `alive`). */
  readonly sinceMs = Date.now();
  readonly #target: ConsumerTarget;
  readonly #owner: ConsumerOwner;
  readonly #sourceLog: Logger;
  readonly #queueLengthMs: number;
  readonly #queueMaxBytes: number;

  #queue: (RtmpMessage | undefined)[] = [];
  #head = 0;
  #queuedBytes = 0;
  /** Timestamp of the media message at the queue's head (or the last one sent from it); -1 = none queued. */
  #firstMediaMs = -1;
  #lastMediaMs = -1;
  #blocked = false;
  #closed = false;
  #wait: Wait = Wait.Start;
  #hasVideo = false;
  #metadata: RtmpMessage | undefined;
  #videoConfig: RtmpMessage | undefined;
  #audioConfig: RtmpMessage | undefined;

  /** Source events that happened while media was queued: told to the target once the queue drains, in order. */
  #deferredEvents: SourceEvent[] = [];
  #sentMessages = 0;
  #sentBytes = 0;
  #droppedMessages = 0;
  #log: Logger | undefined;
  #tooSlow: PithyLog | undefined;

  constructor(cfg: ConsumerConfig) {
    this.key = cfg.key;
    this.who = cfg.who;
    this.#target = cfg.target;
    this.#owner = cfg.owner;
    this.#sourceLog = cfg.log;
    this.#queueLengthMs = cfg.queueLengthMs;
    this.#queueMaxBytes = cfg.queueMaxBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hand one message to this player (the source's fan-out). Never throws. */
  enqueue(msg: RtmpMessage): void {
    if (this.#closed) return;
    const kind = msg.kind;
    let isMedia = false;
    if (kind === 'metadata') this.#metadata = msg;
    else if (kind === 'video-config') {
      this.#videoConfig = msg;
      this.#hasVideo = true;
    } else if (kind === 'audio-config') this.#audioConfig = msg;
    else {
      isMedia = true;
      if (msg.type === MessageType.Video) this.#hasVideo = true;
      if (this.#wait !== Wait.None) {
        if (kind === 'keyframe') this.#wait = Wait.None;
        else if (kind === 'interframe' || this.#hasVideo) {
          if (this.#wait === Wait.Overflow) this.#droppedMessages++;
          return;
        }
      }
    }
    if (!this.#blocked && this.#head === this.#queue.length) {
      this.#deliver(msg);
      return;
    }
    this.#push(msg);
    if (!isMedia) return;
    if (
      this.#queuedBytes > this.#queueMaxBytes ||
      (this.#queueLengthMs > 0 && this.#lastMediaMs - this.#firstMediaMs > this.#queueLengthMs)
    ) {
      this.#shrink(msg);
    }
  }

  /** The transport drained: flush while `send` returns true. */
  resume(): void {
    if (this.#closed) return;
    this.#blocked = false;
    const q = this.#queue;
    while (this.#head < q.length) {
      const msg = q[this.#head] as RtmpMessage;
      q[this.#head] = undefined;
      this.#head++;
      this.#queuedBytes -= msg.payload.length;
      if (!msg.isConfig) this.#firstMediaMs = msg.timestamp;
      this.#deliver(msg);
      if (this.#closed) return;
      if (this.#blocked) break;
    }
    if (this.#head === q.length) {
      this.#resetQueue();
      if (this.#deferredEvents.length > 0) this.#fireDeferredEvents();
    } else if (this.#head >= QUEUE_COMPACT_MIN_HEAD && this.#head * 2 >= q.length) {
      q.copyWithin(0, this.#head);
      q.length -= this.#head;
      this.#head = 0;
    }
  }

  /** Detach at the output's request. Idempotent; `onClose` is not called (the output knows). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resetQueue();
    this.#deferredEvents.length = 0;
    this.#owner.detach(this);
  }

  /** Detach at the hub's request (source closed, gateway stopping): the output is told with `onClose`. */
  closeByHub(reason: string): void {
    if (this.#closed) return;
    this.close();
    try {
      this.#target.onClose?.(reason);
    } catch (err) {
      this.#logger().warn({ err }, 'consumer onClose threw');
    }
  }

  /** The source was published or unpublished. On unpublish the next publisher's stream starts afresh. */
  sourceEvent(event: SourceEvent): void {
    if (this.#closed) return;
    if (event === 'unpublish') {
      this.#wait = Wait.Start;
      this.#hasVideo = false;
      this.#metadata = undefined;
      this.#videoConfig = undefined;
      this.#audioConfig = undefined;
    }
    if (this.#target.onSourceEvent === undefined) return;
    if (this.#head < this.#queue.length) {
      // Media of the old publish is still queued for this (slow) player: tell it after that media, not before,
      // or a player that stops at UnpublishNotify would lose the stream's tail.
      this.#deferredEvents.push(event);
      return;
    }
    this.#fireEvent(event);
  }

  #fireDeferredEvents(): void {
    const events = this.#deferredEvents;
    this.#deferredEvents = [];
    for (const e of events) {
      if (this.#closed) return;
      this.#fireEvent(e);
    }
  }

  #fireEvent(event: SourceEvent): void {
    try {
      this.#target.onSourceEvent?.(event);
    } catch (err) {
      this.#fail(err);
    }
  }

  stats(): ConsumerStats {
    return {
      sentMessages: this.#sentMessages,
      sentBytes: this.#sentBytes,
      droppedMessages: this.#droppedMessages,
      queuedMessages: this.#queue.length - this.#head,
      queuedBytes: this.#queuedBytes,
    };
  }

  #deliver(msg: RtmpMessage): void {
    let accepted: boolean;
    try {
      accepted = this.#target.send(msg);
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#sentMessages++;
    this.#sentBytes += msg.payload.length;
    if (!accepted) this.#blocked = true;
  }

  #push(msg: RtmpMessage): void {
    this.#queue.push(msg);
    this.#queuedBytes += msg.payload.length;
    if (!msg.isConfig) {
      if (this.#firstMediaMs < 0) this.#firstMediaMs = msg.timestamp;
      this.#lastMediaMs = msg.timestamp;
    }
  }

  /** Overflow: drop queued media, queue the latest metadata/sequence headers, wait for a keyframe. */
  #shrink(trigger: RtmpMessage): void {
    const q = this.#queue;
    let dropped = 0;
    for (let i = this.#head; i < q.length; i++) {
      if (!(q[i] as RtmpMessage).isConfig) dropped++;
    }
    this.#resetQueue();
    if (this.#metadata !== undefined) this.#push(this.#metadata);
    if (this.#videoConfig !== undefined) this.#push(this.#videoConfig);
    if (this.#audioConfig !== undefined) this.#push(this.#audioConfig);
    if (trigger.kind === 'keyframe') {
      dropped--;
      this.#push(trigger);
      this.#wait = Wait.None;
    } else {
      this.#wait = Wait.Overflow;
    }
    this.#droppedMessages += dropped;
    this.#tooSlow ??= new PithyLog(this.#logger(), 'consumer too slow, dropped queued frames');
    this.#tooSlow.hit(`dropped ${dropped} frames (${this.#droppedMessages} in total), waiting for a keyframe`);
  }

  #resetQueue(): void {
    this.#queue.length = 0;
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#firstMediaMs = -1;
    this.#lastMediaMs = -1;
  }

  #fail(err: unknown): void {
    this.#logger().warn({ err }, 'consumer target threw; closing it');
    this.closeByHub(`consumer failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  #logger(): Logger {
    this.#log ??= this.#sourceLog.child({ consumer: this.who.id, protocol: this.who.protocol });
    return this.#log;
  }
}
