/**
 * HTTP live stream encoders (SRS ISrsBufferEncoder / SrsFlvStreamEncoder): one ConsumerTarget per HTTP player
 * that writes the hub's messages to a `ServerResponse`.
 *
 * HTTP-FLV: the FLV file header's TypeFlagsAudio/TypeFlagsVideo must describe the stream, so the header is held
 * back until the first media message: the configs the hub delivers first (metadata → video-config →
 * audio-config) are buffered, then header + configs + media go out together. Every tag is serialized once per
 * message for all players (`flvTag`, cached on the message).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConsumerTarget, SourceEvent } from '../hub/ports.ts';
import { MessageType, type RtmpMessage } from '../media/message.ts';
import { flvFileHeader, flvTag } from '../protocol/flv/flv-muxer.ts';

/** Socket bytes queued in the kernel-side writable buffer before the hub must queue for us instead. */
export const HTTP_STREAM_HIGH_WATER_BYTES = 1024 * 1024;

/** Config messages held back until the first media message (metadata + two sequence headers + slack). */
const MAX_PENDING_CONFIG = 8;

export class HttpFlvStream implements ConsumerTarget {
  readonly #res: ServerResponse;
  readonly #socket: Socket;
  #headerSent = false;
  #pending: RtmpMessage[] = [];
  #closed = false;
  #bytes = 0;
  #onClose: (reason: string) => void;

  /**
   * @param res a response whose status line and headers have been sent (`writeHead` + `flushHeaders`).
   * @param onClose called once when this player must stop (hub detached it, stream unpublished); the owner
   *   closes the subscriber and ends the response.
   */
  constructor(res: ServerResponse, onClose: (reason: string) => void) {
    this.#res = res;
    this.#socket = res.socket as Socket;
    this.#onClose = onClose;
  }

  /** Body bytes written so far. */
  get bytesSent(): number {
    return this.#bytes;
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
    return this.#write(flvTag(msg));
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

  /** The HTTP client went away. */
  markClosed(): void {
    this.#closed = true;
  }

  #writeHeader(first: RtmpMessage): void {
    let hasAudio = first.type === MessageType.Audio;
    let hasVideo = first.type === MessageType.Video;
    for (const m of this.#pending) {
      if (m.kind === 'audio-config') hasAudio = true;
      if (m.kind === 'video-config') hasVideo = true;
    }
    this.#headerSent = true;
    this.#socket.cork();
    this.#write(flvFileHeader(hasAudio, hasVideo));
    for (const m of this.#pending) this.#write(flvTag(m));
    this.#pending = [];
    process.nextTick(uncork, this.#socket);
  }

  #write(bytes: Buffer): boolean {
    this.#bytes += bytes.length;
    this.#res.write(bytes);
    return this.#socket.writableLength < HTTP_STREAM_HIGH_WATER_BYTES;
  }
}

function uncork(socket: Socket): void {
  socket.uncork();
}
