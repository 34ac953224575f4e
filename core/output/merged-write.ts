/**
 * Merged writes (SRS `mw_latency`, SrsLiveConsumer + writev): a player's media messages are held for up to
 * `mw_latency` ms and then written with ONE writev, instead of one syscall per message. For a 2 Mbit/s stream
 * (~68 messages/s) and mw_latency 100 that is ~10 writes a second per player instead of ~68 — the difference
 * between one core serving ~1000 and ~3000 players. `mw_latency 0` (or `min_latency on`) writes at once,
 * batching only what arrives in the same event-loop tick.
 *
 * One scheduler per latency value: one timer for every player of the gateway, whatever their number.
 * Buffers are queued by reference (they are the messages' cached encodings, shared by all players): no copy.
 */
import type { Writable } from 'node:stream';
import {
  serverCloseFrame, WEBSOCKET_MAX_SERVER_HEADER, WebSocketCloseStatus, WebSocketOpcode, writeServerFrameHeader,
} from '../protocol/websocket/frame.ts';

const CRLF = Buffer.from('\r\n');

interface MergedWriteTarget {
  flushMerged(): void;
}

class MergedWriteScheduler {
  readonly #latencyMs: number;
  #dirty: MergedWriteTarget[] = [];
  /** A flush is scheduled (a timer for mw_latency > 0, else an immediate at the end of this tick). */
  #scheduled = false;
  readonly #flush = (): void => {
    const list = this.#dirty;
    this.#dirty = [];
    this.#scheduled = false;
    for (let i = 0; i < list.length; i++) list[i].flushMerged();
  };

  constructor(latencyMs: number) {
    this.#latencyMs = latencyMs;
  }

  mark(target: MergedWriteTarget): void {
    this.#dirty.push(target);
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#latencyMs > 0) setTimeout(this.#flush, this.#latencyMs);
    else setImmediate(this.#flush);
  }
}

const schedulers = new Map<number, MergedWriteScheduler>();
function schedulerFor(latencyMs: number): MergedWriteScheduler {
  let s = schedulers.get(latencyMs);
  if (s === undefined) {
    s = new MergedWriteScheduler(latencyMs);
    schedulers.set(latencyMs, s);
  }
  return s;
}

/**
 * How media bytes are framed on the connection:
 * - `none`: as they are (RTMP chunks, a close-delimited HTTP/1.0 body);
 * - `http-chunked`: each flushed batch is one HTTP/1.1 chunk (`size CRLF data CRLF`, RFC 9112 §7.1), for a response
 *   whose headers announced `Transfer-Encoding: chunked`; `end` writes the zero chunk;
 * - `websocket`: each media buffer is one unmasked binary WebSocket message (RFC 6455 §5.2, FIN 1, opcode 2), so an
 *   FLV header or tag is one message, as node-media-server sends them; `end` writes a Close frame.
 */
export type BodyFraming = 'none' | 'http-chunked' | 'websocket';

export interface MergedSocketWriterOptions {
  /** Hold media up to this many ms (SRS mw_latency); 0 = flush at the end of the current tick. */
  readonly latencyMs: number;
  /** Default 'none'. */
  readonly framing?: BodyFraming;
}

/**
 * Writes to one socket (any Writable: a net.Socket in the gateway), merging media buffers per `mw_latency`.
 * Not for parsers: it owns a socket.
 */
export class MergedSocketWriter implements MergedWriteTarget {
  readonly #socket: Writable;
  readonly #scheduler: MergedWriteScheduler;
  readonly #framing: BodyFraming;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #dirty = false;
  #closed = false;
  #bytesWritten = 0;

  constructor(socket: Writable, opts: MergedSocketWriterOptions) {
    this.#socket = socket;
    this.#scheduler = schedulerFor(Math.max(0, Math.floor(opts.latencyMs)));
    this.#framing = opts.framing ?? 'none';
  }

  /** Bytes queued here and not yet handed to the socket. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Body bytes handed to the socket so far (framing excluded). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Is the socket's own buffer plus ours under `highWater` bytes? (The hub's consumer queues when not.) */
  underHighWater(highWater: number): boolean {
    return this.#socket.writableLength + this.#pendingBytes < highWater;
  }

  /** Queue a media buffer (shared, never modified) for the next merged write. */
  writeMedia(bytes: Buffer): void {
    if (this.#closed) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!this.#dirty) {
      this.#dirty = true;
      this.#scheduler.mark(this);
    }
  }

  /** Write now (control messages, headers), after whatever media is queued, keeping the order. Framed as media. */
  writeNow(bytes: Buffer): void {
    if (this.#closed) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    this.flushMerged();
  }

  /**
   * Write bytes that carry their own framing (a WebSocket control frame) now, after whatever media is queued,
   * outside the media framing. Not counted in `bytesWritten`.
   */
  writeFramed(bytes: Buffer): void {
    if (this.#closed) return;
    this.flushMerged();
    const socket = this.#socket;
    if (!socket.destroyed && !socket.writableEnded) socket.write(bytes);
  }

  /** Write everything queued with one writev. Called by the scheduler; safe to call any time. */
  flushMerged(): void {
    this.#dirty = false;
    const n = this.#pending.length;
    if (n === 0 || this.#closed) return;
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) {
      this.#pending = [];
      this.#pendingBytes = 0;
      return;
    }
    const pending = this.#pending;
    socket.cork();
    if (this.#framing === 'websocket') {
      // one header buffer for the batch; each media buffer is one binary message
      const headers = Buffer.allocUnsafe(n * WEBSOCKET_MAX_SERVER_HEADER);
      let h = 0;
      for (let i = 0; i < n; i++) {
        const b = pending[i];
        const len = writeServerFrameHeader(headers, h, WebSocketOpcode.Binary, b.length);
        socket.write(headers.subarray(h, h + len));
        socket.write(b);
        h += len;
      }
    } else {
      const chunked = this.#framing === 'http-chunked';
      if (chunked) socket.write(`${this.#pendingBytes.toString(16)}\r\n`);
      for (let i = 0; i < n; i++) socket.write(pending[i]);
      if (chunked) socket.write(CRLF);
    }
    socket.uncork();
    this.#bytesWritten += this.#pendingBytes;
    this.#pending.length = 0; // the socket holds the buffers now, not this array: reuse it
    this.#pendingBytes = 0;
  }

  /**
   * Flush, then write the end of the body: the zero chunk (`http-chunked`) or a Close frame with `closeStatus`
   * and `closeReason` (`websocket`; RFC 6455 §5.5.1, default 1000 Normal Closure). Further writes are ignored.
   * Idempotent. The connection itself is left to the caller.
   */
  end(closeStatus: number = WebSocketCloseStatus.NormalClosure, closeReason = ''): void {
    if (this.#closed) return;
    this.flushMerged();
    this.#closed = true;
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (this.#framing === 'http-chunked') socket.write('0\r\n\r\n');
    else if (this.#framing === 'websocket') socket.write(serverCloseFrame(closeStatus, closeReason));
  }
}
