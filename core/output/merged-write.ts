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

export interface MergedSocketWriterOptions {
  /** Hold media up to this many ms (SRS mw_latency); 0 = flush at the end of the current tick. */
  readonly latencyMs: number;
  /**
   * Frame each flushed batch as one HTTP/1.1 chunk (`size CRLF data CRLF`, RFC 9112 §7.1) — for a response whose
   * headers announced `Transfer-Encoding: chunked` and whose body this writer owns.
   */
  readonly httpChunked?: boolean;
}

/**
 * Writes to one socket (any Writable: a net.Socket in the gateway), merging media buffers per `mw_latency`.
 * Not for parsers: it owns a socket.
 */
export class MergedSocketWriter implements MergedWriteTarget {
  readonly #socket: Writable;
  readonly #scheduler: MergedWriteScheduler;
  readonly #chunked: boolean;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #dirty = false;
  #closed = false;
  #bytesWritten = 0;

  constructor(socket: Writable, opts: MergedSocketWriterOptions) {
    this.#socket = socket;
    this.#scheduler = schedulerFor(Math.max(0, Math.floor(opts.latencyMs)));
    this.#chunked = opts.httpChunked === true;
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

  /** Write now (control messages, headers), after whatever media is queued, keeping the order. */
  writeNow(bytes: Buffer): void {
    if (this.#closed) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    this.flushMerged();
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
    socket.cork();
    if (this.#chunked) socket.write(`${this.#pendingBytes.toString(16)}\r\n`);
    for (let i = 0; i < n; i++) socket.write(this.#pending[i]);
    if (this.#chunked) socket.write(CRLF);
    socket.uncork();
    this.#bytesWritten += this.#pendingBytes;
    this.#pending.length = 0; // the socket holds the buffers now, not this array: reuse it
    this.#pendingBytes = 0;
  }

  /** Flush, then (HTTP) write the terminating zero chunk. Further writes are ignored. Idempotent. */
  end(): void {
    if (this.#closed) return;
    this.flushMerged();
    this.#closed = true;
    if (this.#chunked && !this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.write('0\r\n\r\n');
  }
}
