/**
 * MPEG-TS transport packet (ISO/IEC 13818-1, 2.4.3.2 / Table 2-2) and adaptation field (2.4.3.4 / Table 2-6).
 *
 * `parseTsPacket` reads the 4-byte header, the adaptation field flags and the PCR of one 188-byte packet into a
 * caller-owned, reused `TsPacketHeader` (no allocation per packet). `ContinuityCounter` implements the
 * continuity_counter rules of 2.4.3.3 (duplicate packets, gaps, discontinuity_indicator) for one PID.
 */

/** Transport packet size in bytes (2.4.3.2). Only the 188-byte form is supported (no 192/204-byte variants). */
export const TS_PACKET_SIZE = 188;
/** sync_byte (2.4.3.3). */
export const TS_SYNC_BYTE = 0x47;
/** Null packet PID (Table 2-3). */
export const NULL_PID = 0x1fff;
/** PAT PID (Table 2-3). */
export const PAT_PID = 0x0000;
/** Number of PIDs (13-bit field). */
export const PID_COUNT = 0x2000;

/** adaptation_field_control (Table 2-5). 0 is reserved: the packet is discarded. */
export const AdaptationFieldControl = { Reserved: 0, PayloadOnly: 1, AdaptationOnly: 2, AdaptationAndPayload: 3 } as const;
export type AdaptationFieldControl = (typeof AdaptationFieldControl)[keyof typeof AdaptationFieldControl];

/** Header fields of one transport packet. Offsets are absolute indices into the buffer that was parsed. */
export interface TsPacketHeader {
  transportErrorIndicator: boolean;
  payloadUnitStartIndicator: boolean;
  pid: number;
  adaptationFieldControl: number;
  continuityCounter: number;
  /** adaptation_field discontinuity_indicator (false when there is no adaptation field). */
  discontinuityIndicator: boolean;
  /** adaptation_field random_access_indicator (false when there is no adaptation field). */
  randomAccessIndicator: boolean;
  /** PCR in 27 MHz units (program_clock_reference_base × 300 + extension), or -1 when absent. */
  pcr27m: number;
  /** Absolute index of the first payload byte; equals `payloadEnd` when the packet carries no payload. */
  payloadStart: number;
  /** Absolute index one past the packet (offset + 188). */
  payloadEnd: number;
}

/** A fresh header object, to be reused across `parseTsPacket` calls. */
export function createTsPacketHeader(): TsPacketHeader {
  return {
    transportErrorIndicator: false,
    payloadUnitStartIndicator: false,
    pid: 0,
    adaptationFieldControl: 0,
    continuityCounter: 0,
    discontinuityIndicator: false,
    randomAccessIndicator: false,
    pcr27m: -1,
    payloadStart: 0,
    payloadEnd: 0,
  };
}

/** Max adaptation_field_length when a payload follows (2.4.3.5: 0..182) or not (183). */
const MAX_AF_LENGTH_WITH_PAYLOAD = 182;
const MAX_AF_LENGTH_WITHOUT_PAYLOAD = 183;
/** PCR_flag set: 1 flags byte + 6 PCR bytes must fit in adaptation_field_length. */
const AF_PCR_MIN_LENGTH = 7;

/**
 * Parse the transport packet at `buf[offset .. offset+188)` into `out`.
 * The caller has checked the sync byte and that 188 bytes are present. Never mutates `buf`.
 * @returns false when the adaptation_field_length is impossible (the packet must be discarded).
 */
export function parseTsPacket(buf: Uint8Array, offset: number, out: TsPacketHeader): boolean {
  const b1 = buf[offset + 1];
  const b3 = buf[offset + 3];
  const end = offset + TS_PACKET_SIZE;
  out.transportErrorIndicator = (b1 & 0x80) !== 0;
  out.payloadUnitStartIndicator = (b1 & 0x40) !== 0;
  out.pid = ((b1 & 0x1f) << 8) | buf[offset + 2];
  const afc = (b3 >> 4) & 0x03;
  out.adaptationFieldControl = afc;
  out.continuityCounter = b3 & 0x0f;
  out.discontinuityIndicator = false;
  out.randomAccessIndicator = false;
  out.pcr27m = -1;
  out.payloadEnd = end;
  let payloadStart = offset + 4;
  if ((afc & 0x02) !== 0) {
    const afLength = buf[offset + 4];
    const maxLength = (afc & 0x01) !== 0 ? MAX_AF_LENGTH_WITH_PAYLOAD : MAX_AF_LENGTH_WITHOUT_PAYLOAD;
    if (afLength > maxLength) return false;
    if (afLength > 0) {
      const flags = buf[offset + 5];
      out.discontinuityIndicator = (flags & 0x80) !== 0;
      out.randomAccessIndicator = (flags & 0x40) !== 0;
      if ((flags & 0x10) !== 0 && afLength >= AF_PCR_MIN_LENGTH) out.pcr27m = readPcr(buf, offset + 6);
    }
    payloadStart = offset + 5 + afLength;
  }
  out.payloadStart = (afc & 0x01) !== 0 ? payloadStart : end;
  return afc !== AdaptationFieldControl.Reserved;
}

/**
 * program_clock_reference (2.4.3.5): 33-bit base (90 kHz), 6 reserved bits, 9-bit extension (27 MHz).
 * @returns base × 300 + extension, in 27 MHz units (< 2^42, exact in a double). Arithmetic only for the base.
 */
export function readPcr(buf: Uint8Array, offset: number): number {
  const base =
    buf[offset] * 0x2000000 + // bits 32..25
    buf[offset + 1] * 0x20000 + // bits 24..17
    buf[offset + 2] * 0x200 + // bits 16..9
    buf[offset + 3] * 2 + // bits 8..1
    (buf[offset + 4] >> 7); // bit 0
  const extension = ((buf[offset + 4] & 0x01) << 8) | buf[offset + 5];
  return base * 300 + extension;
}

/** Outcome of a continuity_counter check. */
export const ContinuityResult = { Ok: 0, Duplicate: 1, Gap: 2 } as const;
export type ContinuityResult = (typeof ContinuityResult)[keyof typeof ContinuityResult];

/**
 * continuity_counter state of one PID (2.4.3.3). Only packets with a payload are checked (the counter does not
 * increment otherwise). A duplicate (same counter, identical payload bytes) is allowed once; the same counter
 * with different bytes means 16·k packets were lost and counts as a gap. discontinuity_indicator resets the
 * expectation. The previous payload is remembered as a view (or copied into a fixed 184-byte buffer when the
 * caller says the bytes are transient), so duplicates can be compared without allocating per packet.
 */
export class ContinuityCounter {
  #last = -1;
  #duplicateSeen = false;
  #prevBuf: Uint8Array | undefined;
  #prevStart = 0;
  #prevEnd = 0;
  #ownCopy: Uint8Array | undefined;

  /**
   * Check the packet whose payload is `buf[payloadStart, payloadEnd)`.
   * @param transient true when `buf` is a scratch buffer that will be overwritten (the payload is then copied).
   */
  check(counter: number, discontinuity: boolean, buf: Uint8Array, payloadStart: number, payloadEnd: number, transient: boolean): ContinuityResult {
    let result: ContinuityResult = ContinuityResult.Ok;
    if (this.#last >= 0 && !discontinuity) {
      if (counter === this.#last) {
        if (!this.#duplicateSeen && this.#samePayload(buf, payloadStart, payloadEnd)) {
          this.#duplicateSeen = true;
          return ContinuityResult.Duplicate;
        }
        result = ContinuityResult.Gap;
      } else if (counter !== ((this.#last + 1) & 0x0f)) {
        result = ContinuityResult.Gap;
      }
    }
    this.#last = counter;
    this.#duplicateSeen = false;
    if (transient) {
      const copy = (this.#ownCopy ??= new Uint8Array(TS_PACKET_SIZE));
      copy.set(buf.subarray(payloadStart, payloadEnd));
      this.#prevBuf = copy;
      this.#prevStart = 0;
      this.#prevEnd = payloadEnd - payloadStart;
    } else {
      this.#prevBuf = buf;
      this.#prevStart = payloadStart;
      this.#prevEnd = payloadEnd;
    }
    return result;
  }

  /** Forget the expectation (the next packet is accepted with any counter). */
  reset(): void {
    this.#last = -1;
    this.#duplicateSeen = false;
    this.#prevBuf = undefined;
  }

  #samePayload(buf: Uint8Array, start: number, end: number): boolean {
    const prev = this.#prevBuf;
    if (prev === undefined || end - start !== this.#prevEnd - this.#prevStart) return false;
    for (let i = start, j = this.#prevStart; i < end; i++, j++) if (buf[i] !== prev[j]) return false;
    return true;
  }
}
