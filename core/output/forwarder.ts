/**
 * Forward (SRS SrsForwarder, srs_app_forward.cpp): one published stream pushed to one `forward destination`.
 *
 * A Forwarder is a hub consumer (core/hub/consumer.ts: bounded by the vhost's `queue_length` and bytes, drops whole
 * GOPs). Each message it gets goes to its sink at once:
 * - a foreign server: the RTMP push (core/output/rtmp-push.ts RtmpPushPublisher over the one RTMP client), which
 *   reconnects with backoff (1 s → 30 s) and starts every connection with metadata + sequence headers + the next
 *   keyframe. While it reconnects it keeps only the latest GOP, so the hub queue never grows;
 * - this gateway under another key (`?vhost=` or a full URL): the hub itself, in-process (no socket).
 * `send` returns false while the push's socket holds its high-water mark unsent (a slow destination): the hub
 * consumer then queues, and drops whole GOPs past its bounds, until the socket drains (`onWritable` → `resume`).
 * The publisher and the other destinations never wait: each destination has its own consumer.
 *
 * The destination's URL (SRS srs_generate_rtmp_url, srs_generate_stream_with_query): `host[:port][?query]` →
 * `rtmp://host:port/app/stream?<the publisher's query>&<the destination's query>`, plus `vhost=<vhost>` when the
 * stream is not on the default vhost and no `vhost=` is there yet; a full `rtmp://` URL is used as given after
 * [vhost] [app] [stream] are substituted.
 */
import type { ForwardDestination } from '../config/forward-config.ts';
import type { Logger } from '../log.ts';
import type { RtmpMessage } from '../media/message.ts';
import { DEFAULT_VHOST, resolveTemplate, streamKeyString, type StreamKey } from '../media/stream-key.ts';
import type { ConsumerTarget, Publisher, SourceEvent, Subscriber } from '../hub/ports.ts';
import type { RtmpPushState, RtmpPushStats } from './rtmp-push.ts';

/** `SessionInfo.protocol` of a forwarder's hub consumer and of its in-process publishes. */
export const FORWARD_PROTOCOL = 'forward';

/**
 * Where a forwarder writes: RtmpPushPublisher for a foreign server, HubForwardSink for this gateway. A test may
 * supply its own.
 */
export interface ForwardSink {
  write(msg: RtmpMessage): void;
  /** True while the destination takes nothing more now; the sink then calls its `onWritable` once it does. */
  readonly congested: boolean;
  /** Idempotent. */
  close(reason?: string): void;
  stats(): ForwardSinkStats;
}

export type ForwardSinkStats = Pick<
  RtmpPushStats,
  'state' | 'connects' | 'publishStarts' | 'sentMessages' | 'sentBytes' | 'droppedMessages' | 'lastError'
>;

/** loop: refused, the destination is this gateway and the stream would come back to itself; error: cannot start. */
export type ForwardState = RtmpPushState | 'loop' | 'error';

export interface ForwardStats {
  /** The `destination` as configured. */
  readonly destination: string;
  /** The URL this stream goes to ('' when it could not be made). */
  readonly url: string;
  /** True when the destination is this gateway (in-process publish). */
  readonly local: boolean;
  readonly state: ForwardState;
  /** Connections that reached publishing (NetStream.Publish.Start; 1 for an in-process publish). */
  readonly connects: number;
  /** Connection attempts. */
  readonly attempts: number;
  /** Payload bytes (FLV tag bodies) and messages handed to the destination. */
  readonly bytes: number;
  readonly messages: number;
  /** Messages dropped: whole GOPs by the hub queue (slow destination), and by the push while it reconnects. */
  readonly dropped: number;
  /** Messages waiting in the hub queue for a slow destination. */
  readonly queued: number;
  readonly lastError: string | undefined;
}

/**
 * The URL one stream goes to for one destination (see the module header).
 * @param publishQuery the publisher's query without `?` ('' when none).
 */
export function forwardUrl(dest: ForwardDestination, key: StreamKey, publishQuery: string): string {
  if (dest.kind === 'url') return resolveTemplate(dest.template, key);
  const params = new URLSearchParams(publishQuery);
  for (const [name, v] of new URLSearchParams(dest.query)) params.set(name, v);
  if (!params.has('vhost') && key.vhost !== DEFAULT_VHOST) params.set('vhost', key.vhost);
  const query = params.toString();
  const host = dest.host.includes(':') ? `[${dest.host}]` : dest.host;
  return `rtmp://${host}:${dest.port}/${key.app}/${key.stream}${query === '' ? '' : `?${query}`}`;
}

/** This gateway's hub as a forward sink: an in-process publisher of another key; never congested. */
export class HubForwardSink implements ForwardSink {
  readonly congested = false;
  readonly #publisher: Publisher;
  #closed = false;
  #sent = 0;
  #sentBytes = 0;

  constructor(publisher: Publisher) {
    this.#publisher = publisher;
  }

  write(msg: RtmpMessage): void {
    if (this.#closed) return;
    this.#publisher.write(msg);
    this.#sent++;
    this.#sentBytes += msg.payload.length;
  }

  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#publisher.close(reason);
  }

  stats(): ForwardSinkStats {
    return {
      state: this.#closed ? 'closed' : 'publishing',
      connects: 1,
      publishStarts: 1,
      sentMessages: this.#sent,
      sentBytes: this.#sentBytes,
      droppedMessages: 0,
      lastError: undefined,
    };
  }
}

export interface ForwarderOptions {
  readonly key: StreamKey;
  readonly destination: ForwardDestination;
  /** The resolved URL ('' when it could not be made). */
  readonly url: string;
  readonly local: boolean;
  /** Logger bound to the stream and the destination. */
  readonly log: Logger;
  /** Called once when the forwarder ended (unpublish, hub closed, close()). */
  readonly onEnd?: (f: Forwarder) => void;
}

/** One stream → one destination; see the module header. */
export class Forwarder implements ConsumerTarget {
  readonly key: StreamKey;
  readonly destination: ForwardDestination;
  readonly url: string;
  readonly local: boolean;
  readonly #log: Logger;
  readonly #onEnd: ((f: Forwarder) => void) | undefined;
  #sink: ForwardSink | undefined;
  #sub: Subscriber | undefined;
  /** Set when the forward was refused or could not start. */
  #refused: { readonly state: 'loop' | 'error'; readonly reason: string } | undefined;
  #droppedByHub = 0;
  #ended = false;

  constructor(opts: ForwarderOptions) {
    this.key = opts.key;
    this.destination = opts.destination;
    this.url = opts.url;
    this.local = opts.local;
    this.#log = opts.log;
    this.#onEnd = opts.onEnd;
  }

  /** True once ended, or when refused. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Start writing to `sink` (the hub subscription follows with `attach`). */
  open(sink: ForwardSink): void {
    this.#sink = sink;
    this.#log.info({ url: this.url, local: this.local }, 'forward started');
  }

  /** The hub consumer feeding this forwarder. */
  attach(sub: Subscriber): void {
    if (this.#ended) {
      sub.close();
      return;
    }
    this.#sub = sub;
  }

  /** Refused (a loop) or failed to start: kept for stats, never attached. Logged once. */
  refuse(state: 'loop' | 'error', reason: string): void {
    this.#refused = { state, reason };
    this.#ended = true;
    if (state === 'loop') this.#log.warn({ url: this.url }, `forward refused: ${reason}`);
    else this.#log.error({ url: this.url }, `forward not started: ${reason}`);
  }

  /** The sink's socket drained (or its connection dropped): flush the hub queue. */
  readonly onWritable = (): void => {
    this.#sub?.resume();
  };

  send(msg: RtmpMessage): boolean {
    const sink = this.#sink;
    if (sink === undefined) return true;
    sink.write(msg);
    return !sink.congested;
  }

  onSourceEvent(event: SourceEvent): void {
    if (event === 'unpublish') this.close('unpublished');
  }

  onClose(reason: string): void {
    this.close(reason);
  }

  /** Detach from the hub and close the sink (FCUnpublish + deleteStream for a push). Idempotent. */
  close(reason = 'closed'): void {
    if (this.#ended) return;
    this.#ended = true;
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub !== undefined) {
      this.#droppedByHub = sub.stats().droppedMessages;
      sub.close();
    }
    this.#sink?.close(reason);
    const s = this.stats();
    this.#log.info(
      { reason, stream: streamKeyString(this.key), messages: s.messages, bytes: s.bytes, dropped: s.dropped, connects: s.connects },
      'forward ended',
    );
    this.#onEnd?.(this);
  }

  stats(): ForwardStats {
    const sub = this.#sub?.stats();
    const sink = this.#sink?.stats();
    return {
      destination: this.destination.text,
      url: this.url,
      local: this.local,
      state: this.#refused?.state ?? sink?.state ?? 'closed',
      connects: sink?.publishStarts ?? 0,
      attempts: sink?.connects ?? 0,
      bytes: sink?.sentBytes ?? 0,
      messages: sink?.sentMessages ?? 0,
      dropped: (sub?.droppedMessages ?? this.#droppedByHub) + (sink?.droppedMessages ?? 0),
      queued: sub?.queuedMessages ?? 0,
      lastError: this.#refused?.reason ?? sink?.lastError,
    };
  }
}
