/**
 * HTTP live stream encoders (SRS ISrsBufferEncoder / SrsFlvStreamEncoder): one ConsumerTarget per HTTP player
 * that writes the hub's messages to the response's socket.
 *
 * HTTP-FLV: the FLV file header's TypeFlagsAudio/TypeFlagsVideo must describe the stream, so the header is held
 * back until the first media message: the configs the hub delivers first (metadata → video-config →
 * audio-config) are buffered, then header + configs + media go out together. Every tag is serialized once per
 * message for all players (`flvTag`, cached on the message), and a player's tags are written with merged
 * writes (mw_latency) as HTTP/1.1 chunks — one writev per batch, no copy per player.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConsumerTarget, SourceEvent } from '../hub/ports.ts';
import { MessageType, type RtmpMessage } from '../media/message.ts';
import { flvFileHeader, flvTag } from '../protocol/flv/flv-muxer.ts';
import { MergedSocketWriter } from './merged-write.ts';

/** Bytes queued in the socket (plus our merge buffer) before the hub must queue for us instead. */
export const HTTP_STREAM_HIGH_WATER_BYTES = 1024 * 1024;

/** Config messages held back until the first media message (metadata + two sequence headers + slack). */
const MAX_PENDING_CONFIG = 8;

export class HttpFlvStream implements ConsumerTarget {
  readonly #writer: MergedSocketWriter;
  #headerSent = false;
  #pending: RtmpMessage[] = [];
  #closed = false;
  readonly #onClose: (reason: string) => void;

  /**
   * @param res a response whose status line and headers have been sent (`writeHead` + `flushHeaders`); its body
   *   is written here, straight to the socket (chunked framing when the response is chunked).
   * @param mwLatencyMs merged-write latency (SRS mw_latency), ms.
   * @param onClose called once when this player must stop (hub detached it, stream unpublished); the owner
   *   closes the subscriber and calls `end()`.
   */
  constructor(res: ServerResponse, mwLatencyMs: number, onClose: (reason: string) => void) {
    const chunked = (res as unknown as { chunkedEncoding?: boolean }).chunkedEncoding === true;
    this.#writer = new MergedSocketWriter(res.socket as Socket, { latencyMs: mwLatencyMs, httpChunked: chunked });
    this.#onClose = onClose;
  }

  /** Body bytes written so far. */
  get bytesSent(): number {
    return this.#writer.bytesWritten;
  }

  send(msg: RtmpMessage): boolean {
    if (this.#closed) return true;
    if (!this.#headerSent) {
      if (msg.isConfig && this.#pending.length < MAX_PENDING_CONFIG) {
        this.#pending.push(msg);
        return true;
      }
      this.#writeHeader(msg);
    }
    this.#writer.writeMedia(flvTag(msg));
    return this.#writer.underHighWater(HTTP_STREAM_HIGH_WATER_BYTES);
  }

  /**
   * HTTP-FLV has no in-band signalling, and a new publisher restarts timestamps and sequence headers, so on
   * unpublish the response ends (node-media-server does the same; flv.js/mpegts.js players reconnect).
   * Deferred: the hub is iterating its consumers when it tells us.
   */
  onSourceEvent(event: SourceEvent): void {
    if (event === 'unpublish' && !this.#closed) process.nextTick(() => this.onClose('stream unpublished'));
  }

  onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(reason);
  }

  /** Flush what is queued and write the end of the body (the zero chunk). Idempotent. */
  end(): void {
    this.#closed = true;
    this.#writer.end();
  }

  #writeHeader(first: RtmpMessage): void {
    let hasAudio = first.type === MessageType.Audio;
    let hasVideo = first.type === MessageType.Video;
    for (const m of this.#pending) {
      if (m.kind === 'audio-config') hasAudio = true;
      if (m.kind === 'video-config') hasVideo = true;
    }
    this.#headerSent = true;
    this.#writer.writeMedia(flvFileHeader(hasAudio, hasVideo));
    for (const m of this.#pending) this.#writer.writeMedia(flvTag(m));
    this.#pending = [];
  }
}
