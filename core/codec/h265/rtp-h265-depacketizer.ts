/**
 * RTP payload format for H.265 (RFC 7798 4.4): single NAL unit packets (4.4.1), aggregation packets (AP, 4.4.2)
 * and fragmentation units (FU, 4.4.3) → access units. PACI packets (4.4.4) and DONL fields (sprop-max-don-diff > 0,
 * refused by parseH265Fmtp) are not supported.
 *
 * Packets arrive in order (a reorder buffer sits before this class). An access unit ends at the RTP marker bit
 * or, when a sender leaves the marker out, at a timestamp change. A malformed packet is reported through
 * `onError` (GatewayError RtpPayload) and dropped with the access unit it belonged to; after such a drop or a
 * packet loss (`onPacketLoss`) access units are dropped until one carries an IRAP picture, since the pictures in
 * between would reference what is missing. `push` never throws. NAL units of a single packet are views into the
 * packet payload; a fragmented NAL unit is reassembled with one copy. Inputs are never written.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { RtpPacket } from '../../protocol/rtp/rtp-packet.ts';
import { H265_NALU_HEADER_SIZE, H265NaluType, isIrap, MAX_H265_ACCESS_UNIT_SIZE, MAX_H265_NALUS_PER_AU } from './nalu.ts';

/** Payload header (2 bytes) + FU header (1 byte), RFC 7798 4.4.3. */
const FU_HEADER_SIZE = 3;
/** AP NALU size field (RFC 7798 4.4.2). */
const AP_NALU_SIZE_FIELD = 2;
const FU_START = 0x80;
const FU_END = 0x40;

export interface H265AccessUnit {
  /** NAL units without start codes, in decode order. */
  readonly nalus: readonly Uint8Array[];
  /** RTP timestamp of the access unit (uint32, 90 kHz). */
  readonly rtpTimestamp: number;
}

export interface RtpH265DepacketizerStats {
  accessUnits: number;
  droppedAccessUnits: number;
  errors: number;
}

export class RtpH265Depacketizer {
  readonly #onError: (err: GatewayError) => void;
  #nalus: Uint8Array[] = [];
  #size = 0;
  #rtpTimestamp = 0;
  /** FU in progress: the rebuilt 2-byte NAL header + fragment views; undefined when none. */
  #fragments: Uint8Array[] | undefined;
  #fragmentsSize = 0;
  #waitIrap = false;
  readonly #stats: RtpH265DepacketizerStats = { accessUnits: 0, droppedAccessUnits: 0, errors: 0 };

  /** @param onError receives every non-fatal payload error (code RtpPayload). */
  constructor(onError: (err: GatewayError) => void) {
    this.#onError = onError;
  }

  /** Counters since construction (a live object; read it, do not keep it). */
  get stats(): Readonly<RtpH265DepacketizerStats> {
    return this.#stats;
  }

  /**
   * Feed one packet. @returns a complete access unit (at the marker bit, or the previous one when the timestamp
   * changed without a marker), or undefined when more packets are needed or the unit was dropped.
   */
  push(pkt: RtpPacket): H265AccessUnit | undefined {
    let out: H265AccessUnit | undefined;
    if (this.#inProgress && pkt.timestamp !== this.#rtpTimestamp) {
      if (this.#fragments !== undefined) this.#drop(payloadError('timestamp changed inside a fragmented NAL unit'));
      else out = this.#finish();
    }
    this.#rtpTimestamp = pkt.timestamp;
    if (!this.#readPayload(pkt.payload)) return out;
    if (pkt.marker) {
      if (this.#fragments !== undefined) {
        this.#drop(payloadError('marker bit set inside a fragmented NAL unit'));
      } else if (out === undefined) {
        out = this.#finish();
      }
      // else: the previous AU is returned now; this one stays open and ends at the next timestamp change.
    }
    return out;
  }

  /** A sequence gap was detected before the next packet: drop the current AU and wait for the next IRAP. */
  onPacketLoss(): void {
    if (this.#inProgress) this.#stats.droppedAccessUnits++;
    this.#reset();
    this.#waitIrap = true;
  }

  get #inProgress(): boolean {
    return this.#nalus.length > 0 || this.#fragments !== undefined;
  }

  /** @returns false when the packet was malformed (already reported and the AU dropped). */
  #readPayload(p: Buffer): boolean {
    if (p.length < H265_NALU_HEADER_SIZE) return this.#drop(payloadError(`payload of ${p.length} bytes`));
    if ((p[0] & 0x80) !== 0) return this.#drop(payloadError('payload header with the F bit set'));
    const type = (p[0] >> 1) & 0x3f;
    if (type < H265NaluType.Ap) {
      if (this.#fragments !== undefined) return this.#drop(payloadError('single NAL unit inside a fragmented NAL unit'));
      return this.#add(p);
    }
    if (type === H265NaluType.Ap) return this.#readAggregation(p);
    if (type === H265NaluType.Fu) return this.#readFragment(p);
    if (type === H265NaluType.Paci) return this.#drop(payloadError('PACI packets (type 50) are not supported'));
    return this.#drop(payloadError(`payload type ${type} is not defined`));
  }

  /** RFC 7798 4.4.2: [NALU size (16) | NAL unit]*, without DONL/DOND. Every size is checked before any unit is added. */
  #readAggregation(p: Buffer): boolean {
    if (this.#fragments !== undefined) return this.#drop(payloadError('aggregation packet inside a fragmented NAL unit'));
    let o = H265_NALU_HEADER_SIZE;
    let count = 0;
    while (o < p.length) {
      if (o + AP_NALU_SIZE_FIELD > p.length) return this.#drop(payloadError('AP: truncated NALU size field'));
      const size = p.readUInt16BE(o);
      o += AP_NALU_SIZE_FIELD;
      if (size < H265_NALU_HEADER_SIZE || o + size > p.length) {
        return this.#drop(payloadError(`AP: NALU size ${size} with ${p.length - o} bytes left`));
      }
      o += size;
      count++;
    }
    if (count === 0) return this.#drop(payloadError('AP without aggregation units'));
    o = H265_NALU_HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      const size = p.readUInt16BE(o);
      o += AP_NALU_SIZE_FIELD;
      if (!this.#add(p.subarray(o, o + size))) return false;
      o += size;
    }
    return true;
  }

  /** RFC 7798 4.4.3: payload header, FU header (S, E, FuType), fragment. */
  #readFragment(p: Buffer): boolean {
    if (p.length <= FU_HEADER_SIZE) return this.#drop(payloadError(`FU of ${p.length} bytes`));
    const fuHeader = p[2];
    const start = (fuHeader & FU_START) !== 0;
    const end = (fuHeader & FU_END) !== 0;
    const fuType = fuHeader & 0x3f;
    if (start && end) return this.#drop(payloadError('FU with both S and E bits set'));
    if (fuType >= H265NaluType.Ap) return this.#drop(payloadError(`FU carrying payload type ${fuType}`));
    const fragment = p.subarray(FU_HEADER_SIZE);
    if (start) {
      if (this.#fragments !== undefined) return this.#drop(payloadError('FU start before the previous FU ended'));
      // Rebuild the NAL header: F and LayerId/TID from the payload header, Type from the FU header.
      const header = new Uint8Array([(p[0] & 0x81) | (fuType << 1), p[1]]);
      this.#fragments = [header, fragment];
      this.#fragmentsSize = header.length + fragment.length;
      return true;
    }
    if (this.#fragments === undefined) {
      // After a loss (or a dropped unit) the rest of a cut FU is expected: skip it quietly while waiting for an IRAP.
      return this.#waitIrap ? false : this.#drop(payloadError('FU without a start fragment'));
    }
    this.#fragmentsSize += fragment.length;
    if (this.#size + this.#fragmentsSize > MAX_H265_ACCESS_UNIT_SIZE) {
      return this.#drop(payloadError(`access unit over ${MAX_H265_ACCESS_UNIT_SIZE} bytes`));
    }
    this.#fragments.push(fragment);
    if (!end) return true;
    const nalu = Buffer.allocUnsafe(this.#fragmentsSize);
    let o = 0;
    for (const f of this.#fragments) {
      nalu.set(f, o);
      o += f.length;
    }
    this.#fragments = undefined;
    this.#fragmentsSize = 0;
    return this.#add(nalu);
  }

  #add(nalu: Uint8Array): boolean {
    if (this.#nalus.length >= MAX_H265_NALUS_PER_AU) return this.#drop(payloadError(`more than ${MAX_H265_NALUS_PER_AU} NAL units in an access unit`));
    if (this.#size + nalu.length > MAX_H265_ACCESS_UNIT_SIZE) return this.#drop(payloadError(`access unit over ${MAX_H265_ACCESS_UNIT_SIZE} bytes`));
    this.#nalus.push(nalu);
    this.#size += nalu.length;
    return true;
  }

  #finish(): H265AccessUnit | undefined {
    const nalus = this.#nalus;
    this.#reset();
    if (nalus.length === 0) return undefined;
    if (this.#waitIrap) {
      if (!nalus.some((n) => isIrap((n[0] >> 1) & 0x3f))) {
        this.#stats.droppedAccessUnits++;
        return undefined;
      }
      this.#waitIrap = false;
    }
    this.#stats.accessUnits++;
    return { nalus, rtpTimestamp: this.#rtpTimestamp };
  }

  /** Report, drop the AU under construction, wait for an IRAP. @returns false (for `return this.#drop(...)`). */
  #drop(err: GatewayError): false {
    this.#stats.errors++;
    if (this.#inProgress) this.#stats.droppedAccessUnits++;
    this.#reset();
    this.#waitIrap = true;
    this.#onError(err);
    return false;
  }

  #reset(): void {
    this.#nalus = [];
    this.#size = 0;
    this.#fragments = undefined;
    this.#fragmentsSize = 0;
  }
}

function payloadError(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtpPayload, `RTP H.265: ${message}`);
}
