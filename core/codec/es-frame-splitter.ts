/**
 * Self-framed audio elementary streams (ADTS, ISO/IEC 14496-3 1.A.2; MPEG audio, ISO/IEC 11172-3 2.4.1):
 * split a PES payload into frames, carrying a partial trailing frame into the next payload, and resyncing on
 * the next syncword after garbage. Shared by the AAC and MPEG-audio packagers.
 *
 * Timing follows ISO/IEC 13818-1 2.4.3.7: the PES PTS belongs to the first frame that *starts* in that PES;
 * a frame completed from the carry keeps the PTS computed when it started.
 */
import { GatewayError } from '../errors.ts';

export interface EsFrameHeader {
  /** Whole frame size in bytes, header included. */
  readonly frameLength: number;
}

export interface EsFrame<H extends EsFrameHeader> {
  readonly header: H;
  /** The whole frame, header included: a view into the payload, or an owned copy for a carried frame. */
  readonly bytes: Uint8Array;
  readonly pts90k: number;
}

export interface EsFrameFormat<H extends EsFrameHeader> {
  /** Parse a header at `offset`: undefined = need more bytes; throws GatewayError when it is not a valid header. */
  parseHeader(buf: Uint8Array, offset: number): H | undefined;
  /** Cheap syncword test at `offset` (false when fewer than 2 bytes remain), used to resync. */
  isSyncAt(buf: Uint8Array, offset: number): boolean;
  /** Frame duration in 90 kHz ticks (fractional allowed). */
  duration90k(header: H): number;
  /** Largest valid frame length: the size of the carry buffer. */
  readonly maxFrameLength: number;
}

export class EsFrameSplitter<H extends EsFrameHeader> {
  readonly #format: EsFrameFormat<H>;
  /** Bytes of a frame that started in an earlier payload (allocated once). */
  readonly #carry: Uint8Array;
  #carryLength = 0;
  #carryPts90k = 0;
  #errors = 0;

  constructor(format: EsFrameFormat<H>) {
    this.#format = format;
    this.#carry = new Uint8Array(format.maxFrameLength);
  }

  /** Garbage runs skipped and carried frames abandoned so far. */
  get errors(): number {
    return this.#errors;
  }

  /** Bytes currently carried (a partial frame waiting for the next payload). */
  get carriedBytes(): number {
    return this.#carryLength;
  }

  /** Drop the carried partial frame (discontinuity). */
  reset(): void {
    this.#carryLength = 0;
  }

  /**
   * Split one payload (never written). Returned frames are views into the payload (a carried frame is an owned
   * copy): copy them to keep them beyond the payload's life.
   * @param pts90k PTS of the first frame that starts in this payload.
   */
  split(payload: Uint8Array, pts90k: number): EsFrame<H>[] {
    const frames: EsFrame<H>[] = [];
    let offset = this.#carryLength > 0 ? this.#finishCarry(payload, frames) : 0;
    let pts = pts90k;
    const format = this.#format;
    while (offset < payload.length) {
      let header: H | undefined;
      try {
        header = format.parseHeader(payload, offset);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        this.#errors++;
        offset = this.#nextSync(payload, offset + 1);
        continue;
      }
      if (header === undefined || offset + header.frameLength > payload.length) {
        this.#startCarry(payload.subarray(offset), pts);
        break;
      }
      frames.push({ header, bytes: payload.subarray(offset, offset + header.frameLength), pts90k: pts });
      pts += format.duration90k(header);
      offset += header.frameLength;
    }
    return frames;
  }

  #startCarry(rest: Uint8Array, pts90k: number): void {
    if (rest.length > this.#carry.length) {
      this.#errors++;
      return;
    }
    this.#carry.set(rest, 0);
    this.#carryLength = rest.length;
    this.#carryPts90k = pts90k;
  }

  /** Complete the carried frame from the payload head; returns the payload bytes consumed. */
  #finishCarry(payload: Uint8Array, frames: EsFrame<H>[]): number {
    const format = this.#format;
    let used = 0;
    let header: H | undefined;
    for (;;) {
      try {
        header = format.parseHeader(this.#carry.subarray(0, this.#carryLength), 0);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        return this.#abandonCarry();
      }
      if (header !== undefined) break;
      if (used >= payload.length) return used; // header still incomplete: keep carrying
      if (this.#carryLength >= this.#carry.length) return this.#abandonCarry();
      this.#carry[this.#carryLength++] = payload[used++];
    }
    const frameLength = header.frameLength;
    if (frameLength > this.#carry.length || frameLength < this.#carryLength) return this.#abandonCarry();
    // Bytes may have been lost between payloads. Keep the carry when a frame (or the payload's end) follows the
    // carried frame's end; otherwise, when the payload itself starts a chain of frames, drop the carry rather
    // than swallow those frames into it.
    const next = used + frameLength - this.#carryLength;
    const continues = next <= payload.length && (next + 1 >= payload.length || format.isSyncAt(payload, next));
    if (!continues && this.#startsFrameChain(payload)) return this.#abandonCarry();
    const take = Math.min(frameLength - this.#carryLength, payload.length - used);
    this.#carry.set(payload.subarray(used, used + take), this.#carryLength);
    this.#carryLength += take;
    used += take;
    if (this.#carryLength < frameLength) return used;
    frames.push({ header, bytes: this.#carry.slice(0, frameLength), pts90k: this.#carryPts90k });
    this.#carryLength = 0;
    return used;
  }

  /** True when the payload opens with a valid header whose frame is followed by another syncword (or the end). */
  #startsFrameChain(payload: Uint8Array): boolean {
    if (!this.#format.isSyncAt(payload, 0)) return false;
    let header: H | undefined;
    try {
      header = this.#format.parseHeader(payload, 0);
    } catch (err) {
      if (err instanceof GatewayError) return false;
      throw err;
    }
    if (header === undefined) return false;
    const end = header.frameLength;
    return end + 1 >= payload.length || this.#format.isSyncAt(payload, end);
  }

  #abandonCarry(): number {
    this.#errors++;
    this.#carryLength = 0;
    return 0;
  }

  /** Index of the next candidate syncword at or after `from`, or payload.length. */
  #nextSync(payload: Uint8Array, from: number): number {
    for (let i = from; i < payload.length; i++) {
      if (payload[i] === 0xff && (i + 1 >= payload.length || this.#format.isSyncAt(payload, i))) return i;
    }
    return payload.length;
  }
}
