/**
 * A small in-memory HubPort for tests of publishers and outputs (STYLE habit 15; mediamtx
 * internal/test/path_manager.go). One publisher per key (GW_ERR_STREAM_BUSY for a second), synchronous fan-out,
 * and what a late joiner needs: last metadata, sequence headers, and the messages since the last keyframe.
 * A consumer whose `send` returns false gets the rest queued (unbounded here) until `resume()`.
 */
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { streamKeyString, type StreamKey } from '../../core/media/stream-key.ts';
import type { ConsumerOptions, ConsumerStats, ConsumerTarget, HubPort, Publisher, SessionInfo, Subscriber } from '../../core/hub/ports.ts';

interface FakeConsumer {
  readonly target: ConsumerTarget;
  readonly queue: RtmpMessage[];
  blocked: boolean;
  sentMessages: number;
  sentBytes: number;
  closed: boolean;
}

interface FakeSource {
  publisher: SessionInfo | undefined;
  meta: RtmpMessage | undefined;
  audioConfig: RtmpMessage | undefined;
  videoConfig: RtmpMessage | undefined;
  gop: RtmpMessage[];
  readonly consumers: Set<FakeConsumer>;
}

export interface FakeHub extends HubPort {
  /** Every message written per stream key string (`vhost/app/stream`), in order. */
  readonly published: Map<string, RtmpMessage[]>;
  /** publish/subscribe/unpublish calls, e.g. `publish __defaultVhost__/live/x rtmp-3`. */
  readonly events: string[];
  /** Options passed to subscribe, per key string. */
  readonly consumerOptions: Map<string, ConsumerOptions | undefined>;
  /** Detach every consumer with onClose (as the hub does when it stops). */
  closeAll(reason: string): void;
}

export function fakeHub(): FakeHub {
  const sources = new Map<string, FakeSource>();
  const published = new Map<string, RtmpMessage[]>();
  const events: string[] = [];
  const consumerOptions = new Map<string, ConsumerOptions | undefined>();

  const source = (k: string): FakeSource => {
    let s = sources.get(k);
    if (s === undefined) {
      s = { publisher: undefined, meta: undefined, audioConfig: undefined, videoConfig: undefined, gop: [], consumers: new Set() };
      sources.set(k, s);
    }
    return s;
  };

  const deliver = (c: FakeConsumer, msg: RtmpMessage): void => {
    if (c.closed) return;
    if (c.blocked) {
      c.queue.push(msg);
      return;
    }
    c.sentMessages++;
    c.sentBytes += msg.payload.length;
    if (!c.target.send(msg)) c.blocked = true;
  };

  return {
    published,
    events,
    consumerOptions,
    publish(key: StreamKey, who: SessionInfo): Publisher {
      const k = streamKeyString(key);
      const s = source(k);
      if (s.publisher !== undefined) {
        throw new GatewayError(ErrorCode.StreamBusy, `${k} is already published by ${s.publisher.id}`);
      }
      s.publisher = who;
      events.push(`publish ${k} ${who.id}`);
      for (const c of s.consumers) c.target.onSourceEvent?.('publish');
      let open = true;
      return {
        key,
        write(msg: RtmpMessage): void {
          if (!open) return;
          let list = published.get(k);
          if (list === undefined) published.set(k, (list = []));
          list.push(msg);
          if (msg.kind === 'metadata') s.meta = msg;
          else if (msg.kind === 'audio-config') s.audioConfig = msg;
          else if (msg.kind === 'video-config') s.videoConfig = msg;
          else if (msg.kind === 'keyframe') s.gop = [msg];
          else if (s.gop.length > 0) s.gop.push(msg);
          for (const c of s.consumers) deliver(c, msg);
        },
        close(reason?: string): void {
          if (!open) return;
          open = false;
          s.publisher = undefined;
          s.meta = s.audioConfig = s.videoConfig = undefined;
          s.gop = [];
          events.push(`unpublish ${k} ${who.id}${reason === undefined ? '' : ` (${reason})`}`);
          for (const c of s.consumers) c.target.onSourceEvent?.('unpublish');
        },
      };
    },
    subscribe(key: StreamKey, who: SessionInfo, target: ConsumerTarget, opts?: ConsumerOptions): Subscriber {
      const k = streamKeyString(key);
      const s = source(k);
      events.push(`subscribe ${k} ${who.id}`);
      consumerOptions.set(k, opts);
      const c: FakeConsumer = { target, queue: [], blocked: false, sentMessages: 0, sentBytes: 0, closed: false };
      s.consumers.add(c);
      // Late joiner: metadata (at timestamp 0, as a jitter-correcting hub delivers it) → sequence headers → GOP.
      for (const m of [s.meta?.withTimestamp(0), s.videoConfig, s.audioConfig, ...s.gop]) if (m !== undefined) deliver(c, m);
      return {
        key,
        resume(): void {
          c.blocked = false;
          while (!c.blocked && c.queue.length > 0) deliver(c, c.queue.shift() as RtmpMessage);
        },
        close(): void {
          if (c.closed) return;
          c.closed = true;
          s.consumers.delete(c);
          events.push(`unsubscribe ${k} ${who.id}`);
        },
        stats(): ConsumerStats {
          const queuedBytes = c.queue.reduce((n, m) => n + m.payload.length, 0);
          return { sentMessages: c.sentMessages, sentBytes: c.sentBytes, droppedMessages: 0, queuedMessages: c.queue.length, queuedBytes };
        },
      };
    },
    isPublishing(key: StreamKey): boolean {
      return sources.get(streamKeyString(key))?.publisher !== undefined;
    },
    closeAll(reason: string): void {
      for (const s of sources.values()) {
        for (const c of [...s.consumers]) {
          c.closed = true;
          s.consumers.delete(c);
          c.target.onClose?.(reason);
        }
      }
    },
  };
}
