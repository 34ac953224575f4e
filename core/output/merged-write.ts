/**
 * Merged writes (SRS `mw_latency`, SrsLiveConsumer + writev): a player's media messages are held for up to
 * `mw_latency` ms and then written with ONE writev, instead of one syscall per message. For a 2 Mbit/s stream
 * (~68 messages/s) and mw_latency 100 that is ~10 writes a second per player instead of ~68 — the difference
 * between one core serving ~1000 and ~3000 players. `mw_latency 0` (or `min_latency on`) writes at once,
 * batching only what arrives in the same event-loop tick.
 *
 * One scheduler per latency value: one timer for every player of the gateway, whatever their number.
 * Buffers are queued by reference (they are the messages' cached encodings, shared by all players): no copy.
 *
 * Framed bodies (HTTP/1.1 chunks, WebSocket messages) frame each media buffer on its own: a buffer shared by all
 * players (`writeMedia(bytes, true)`: an FLV tag, a message's TS packets) is framed once, the framed copy cached for
 * every other player (FRAMED_CACHE), so a flush of one message is ONE socket.write of a shared Buffer, with no
 * cork/uncork, no chunk-size string and no per-player header (measured in test/bench/http-live-fanout.bench.ts).
 *
 * Several shared buffers queued together (a merged-write window, or the messages of one tick) are the same list
 * for every player that is in step with the stream: they are joined into one Buffer once per flush (JoinCache) and
 * each player but the first gets ONE write of it instead of a writev of the list (no cork/uncork, no per-player
 * chunk array, write wrap or iovec import).
 */
import type { Writable } from 'node:stream';
import {
  serverCloseFrame, WEBSOCKET_MAX_SERVER_HEADER, WebSocketCloseStatus, WebSocketOpcode, writeServerFrameHeader,
} from '../protocol/websocket/frame.ts';

const CRLF_LENGTH = 2;
const LAST_CHUNK = '0\r\n\r\n';

/** The framed copy of each shared media buffer, per framing (weak: it goes with the message's encoding). */
const FRAMED_CACHE = { 'http-chunked': new WeakMap<Buffer, Buffer>(), websocket: new WeakMap<Buffer, Buffer>() } as const;

/** `bytes` as one HTTP/1.1 chunk (RFC 9112 §7.1: size in hex, CRLF, data, CRLF) or one binary WebSocket message. */
function frame(framing: 'http-chunked' | 'websocket', bytes: Buffer): Buffer {
  if (framing === 'websocket') {
    const out = Buffer.allocUnsafe(WEBSOCKET_MAX_SERVER_HEADER + bytes.length);
    const h = writeServerFrameHeader(out, 0, WebSocketOpcode.Binary, bytes.length);
    bytes.copy(out, h);
    return out.subarray(0, h + bytes.length);
  }
  const size = bytes.length.toString(16);
  const out = Buffer.allocUnsafe(size.length + CRLF_LENGTH + bytes.length + CRLF_LENGTH);
  let o = out.write(size, 0, 'latin1');
  out[o++] = 0x0d;
  out[o++] = 0x0a;
  o += bytes.copy(out, o);
  out[o++] = 0x0d;
  out[o] = 0x0a;
  return out;
}

interface MergedWriteTarget {
  flushMerged(): void;
}

/** Lists kept per flush: players in step share one; a few more cover players with another backlog. */
const JOIN_CACHE_ENTRIES = 4;

/**
 * The joined bytes of lists of shared buffers, by identity of their elements: every in-step player of a stream
 * queues the very same Buffers in a flush, so the list is joined once and the joined Buffer written to all. The
 * first player with a list writes it as it is (a list only one player has is never copied); the second joins it
 * for itself and everyone after. Cleared after each scheduled flush (the joins live one flush, not with the
 * messages).
 */
class JoinCache {
  readonly #parts: Buffer[][] = [];
  readonly #joined: (Buffer | undefined)[] = [];
  #next = 0;

  /**
   * One Buffer with `parts[0..n)` when another writer queued the same buffers in this flush (joined at the second
   * sighting); undefined at the first (the list is remembered: write it as it is).
   */
  join(parts: readonly Buffer[], n: number): Buffer | undefined {
    const cached = this.#parts;
    outer: for (let e = 0; e < cached.length; e++) {
      const c = cached[e] as Buffer[];
      if (c.length !== n) continue;
      for (let i = 0; i < n; i++) if (c[i] !== parts[i]) continue outer;
      let joined = this.#joined[e];
      if (joined === undefined) {
        joined = Buffer.concat(c);
        this.#joined[e] = joined;
      }
      return joined;
    }
    const slot = this.#next;
    this.#next = (slot + 1) % JOIN_CACHE_ENTRIES;
    cached[slot] = parts.slice(0, n);
    this.#joined[slot] = undefined;
    return undefined;
  }

  clear(): void {
    this.#parts.length = 0;
    this.#joined.length = 0;
    this.#next = 0;
  }
}
const JOINED = new JoinCache();

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
    JOINED.clear();
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
 * - `http-chunked`: each media buffer is one HTTP/1.1 chunk (`size CRLF data CRLF`, RFC 9112 §7.1), for a response
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
  /**
   * Called after a flush when `underHighWater` said "full" since the last call and the socket took everything
   * without asking for a 'drain' (a write that completes at once returns true: Node emits no 'drain' then). The
   * owner resumes its queue here as it does on the socket's 'drain'; when the socket does need a 'drain', that
   * event comes instead.
   */
  readonly onWritable?: () => void;
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
  /** Bytes queued on the wire (framing included), and of them body bytes. */
  #pendingBytes = 0;
  #pendingBodyBytes = 0;
  readonly #onWritable: (() => void) | undefined;
  #dirty = false;
  #closed = false;
  /** `underHighWater` returned false: the owner waits for a 'drain' or `onWritable`. */
  #full = false;
  #bytesWritten = 0;
  /** Every queued buffer is a shared one (the same Buffer objects other players queue): they may be joined once. */
  #allShared = true;

  constructor(socket: Writable, opts: MergedSocketWriterOptions) {
    this.#socket = socket;
    this.#scheduler = schedulerFor(Math.max(0, Math.floor(opts.latencyMs)));
    this.#framing = opts.framing ?? 'none';
    this.#onWritable = opts.onWritable;
  }

  /** Bytes queued here (framing included) and not yet handed to the socket. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Body bytes handed to the socket so far (framing excluded). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Is the socket's own buffer plus ours under `highWater` bytes? (The hub's consumer queues when not.) */
  underHighWater(highWater: number): boolean {
    const under = this.#socket.writableLength + this.#pendingBytes < highWater;
    if (!under) this.#full = true;
    return under;
  }

  /**
   * Queue a media buffer (never modified) for the next merged write.
   * @param shared the same Buffer goes to many players (a message's cached encoding): with framing, its framed
   *   copy is made once and cached for all of them. Leave false for a buffer of this player only.
   */
  writeMedia(bytes: Buffer, shared = false): void {
    if (this.#closed || bytes.length === 0) return; // an empty chunk would end a chunked body
    const framing = this.#framing;
    let wire = bytes;
    if (framing !== 'none') {
      const cache = shared ? FRAMED_CACHE[framing] : undefined;
      const cached = cache?.get(bytes);
      if (cached !== undefined) wire = cached;
      else {
        wire = frame(framing, bytes);
        cache?.set(bytes, wire);
      }
    }
    if (!shared) this.#allShared = false;
    this.#pending.push(wire);
    this.#pendingBytes += wire.length;
    this.#pendingBodyBytes += bytes.length;
    if (!this.#dirty) {
      this.#dirty = true;
      this.#scheduler.mark(this);
    }
  }

  /** Write now (control messages, headers), after whatever media is queued, keeping the order. Framed as media. */
  writeNow(bytes: Buffer): void {
    this.writeMedia(bytes);
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

  /**
   * Write everything queued: one buffer with one write; several shared ones that other players queued too joined
   * once for all of them (JoinCache) and written with one write; otherwise one writev (cork/uncork). Called by the scheduler; safe to
   * call any time.
   */
  flushMerged(): void {
    this.#dirty = false;
    const n = this.#pending.length;
    if (n === 0 || this.#closed) return;
    const socket = this.#socket;
    const allShared = this.#allShared;
    this.#allShared = true;
    if (socket.destroyed || socket.writableEnded) {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#pendingBodyBytes = 0;
      return;
    }
    const pending = this.#pending;
    const joined = n > 1 && allShared ? JOINED.join(pending, n) : undefined;
    if (n === 1) socket.write(pending[0]);
    else if (joined !== undefined) socket.write(joined);
    else {
      socket.cork();
      for (let i = 0; i < n; i++) socket.write(pending[i]);
      socket.uncork();
    }
    this.#bytesWritten += this.#pendingBodyBytes;
    pending.length = 0; // the socket holds the buffers now, not this array: reuse it
    this.#pendingBytes = 0;
    this.#pendingBodyBytes = 0;
    if (this.#full) {
      this.#full = false;
      if (!socket.writableNeedDrain) this.#onWritable?.(); // else the socket's 'drain' resumes the owner
    }
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
    if (this.#framing === 'http-chunked') socket.write(LAST_CHUNK);
    else if (this.#framing === 'websocket') socket.write(serverCloseFrame(closeStatus, closeReason));
  }
}
