/**
 * MPEG-TS framed as a byte stream (ISO/IEC 13818-1, 2.4.3.2; files, pipes, TCP): 188-byte packets found by their
 * sync_byte with a partial packet carried from one push to the next.
 *
 * Packets are taken at 188-byte steps while each starts with 0x47. When a packet does not, sync is lost (one resync
 * counted and reported); the stream is scanned for a 0x47 that is confirmed by another 0x47 188 bytes later (the
 * framer waits for that byte when a push ends first, so the output never depends on how the input was chunked).
 * Datagram inputs use ./ts-datagram-framer.ts instead: there a datagram's bytes never reach the next one.
 *
 * Pure: no sockets, no timers. Packets leave through `TsPacketSink.onPacket` synchronously, in stream order.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { TsPacketSink } from './ts-datagram-framer.ts';
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from './ts-packet.ts';

/** Carried bytes (≤ 188) + enough of the next chunk to step past them (a packet + one confirming sync byte). */
const SCRATCH_SIZE = 2 * TS_PACKET_SIZE + 1;

export class TsStreamFramer {
  readonly #sink: TsPacketSink;
  /** Partial packet carried between pushes, at the front; the rest is room to join it with the next chunk. */
  readonly #scratch = new Uint8Array(SCRATCH_SIZE);
  #carryLen = 0;
  #synced = true;
  #resyncs = 0;

  constructor(sink: TsPacketSink) {
    this.#sink = sink;
  }

  /** Times sync was lost since construction. */
  get resyncs(): number {
    return this.#resyncs;
  }

  /**
   * Feed any amount of bytes (a file chunk, a partial packet). A partial trailing packet is kept in a small reusable
   * buffer for the next call. `chunk` is never mutated; views of it are handed to the sink.
   */
  push(chunk: Uint8Array): void {
    let pos = 0;
    if (this.#carryLen > 0) {
      const carry = this.#carryLen;
      const take = Math.min(chunk.length, SCRATCH_SIZE - carry);
      this.#scratch.set(chunk.subarray(0, take), carry);
      const total = carry + take;
      let p = this.#scan(this.#scratch, 0, total, carry, true);
      if (take === chunk.length) {
        // the whole chunk went into the scratch: finish there and keep what is left (≤ 188 bytes)
        p = this.#scan(this.#scratch, p, total, total, true);
        this.#scratch.copyWithin(0, p, total);
        this.#carryLen = total - p;
        return;
      }
      pos = p - carry; // p ≥ carry here: SCRATCH_SIZE leaves room for a packet plus a confirming sync byte
      this.#carryLen = 0;
    }
    const p = this.#scan(chunk, pos, chunk.length, chunk.length, false);
    if (p < chunk.length) {
      this.#scratch.set(chunk.subarray(p), 0);
      this.#carryLen = chunk.length - p;
    }
  }

  /** End of input: a carried complete-but-unconfirmed packet is delivered, a shorter remainder is reported. */
  flush(): void {
    if (this.#carryLen === TS_PACKET_SIZE && this.#scratch[0] === TS_SYNC_BYTE) {
      this.#synced = true;
      this.#sink.onPacket(this.#scratch, 0, true);
    } else if (this.#carryLen > 0) {
      this.#sink.onDecodeError(new GatewayError(ErrorCode.Truncated, `TS: ${this.#carryLen} trailing bytes do not make a packet`));
    }
    this.#carryLen = 0;
  }

  /** Forget carried bytes and sync state (the resync count is kept). */
  reset(): void {
    this.#carryLen = 0;
    this.#synced = true;
  }

  /**
   * Deliver packets in buf[pos, end) while the position is before `stopAt`.
   * @returns where it stopped: ≥ stopAt, or earlier when more bytes are needed from `end` on.
   */
  #scan(buf: Uint8Array, pos: number, end: number, stopAt: number, transient: boolean): number {
    let q = pos;
    while (q < stopAt) {
      if (this.#synced) {
        if (buf[q] !== TS_SYNC_BYTE) {
          this.#synced = false;
          this.#resyncs++;
          this.#sink.onDecodeError(new GatewayError(ErrorCode.TsSync, 'TS: sync byte lost, resynchronising'));
          continue;
        }
        if (q + TS_PACKET_SIZE > end) return q;
        this.#sink.onPacket(buf, q, transient);
        q += TS_PACKET_SIZE;
      } else {
        const next = buf.indexOf(TS_SYNC_BYTE, q);
        if (next < 0 || next >= stopAt) return next < 0 ? end : Math.min(next, end);
        q = next;
        if (q + TS_PACKET_SIZE >= end) return q; // wait for the confirming sync byte
        if (buf[q + TS_PACKET_SIZE] === TS_SYNC_BYTE) this.#synced = true;
        else q++;
      }
    }
    return q;
  }
}
