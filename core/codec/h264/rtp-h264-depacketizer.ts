/**
 * H.264 over RTP → access units (RFC 6184): single NAL unit packets (5.6, types 1–23), STAP-A (5.7.1, type 24)
 * and FU-A (5.8, type 28), i.e. packetization-mode 0 and 1. Mode 2 (interleaved: STAP-B 25, MTAP16/24 26/27,
 * FU-B 29) is not supported: those packets are rejected with an error.
 *
 * An access unit ends at the packet with the marker bit (5.1 "set for the very last packet of the access unit")
 * or, for senders that omit the marker, when a packet with another timestamp arrives. Packets arrive in order
 * (a reorder buffer sits before this class); the caller reports sequence gaps with `onPacketLoss()`.
 *
 * Damage (loss, malformed packet, unfinished FU-A, oversize AU) drops the access unit it hit and every following
 * AU until one holding an IDR slice, so no decoder ever gets a picture whose references are gone.
 *
 * NAL units that fit one packet are returned as views into the packet payload; FU-A reassembly copies once.
 * Inputs are never mutated; `push()` never throws.
 */
import type { RtpPacket } from '../../protocol/rtp/rtp-packet.ts';
import { ErrorCode, GatewayError } from '../../errors.ts';
import { MAX_ACCESS_UNIT_SIZE, MAX_NALUS_PER_AU } from './avc-packager.ts';
import { isVclNaluType, NaluType } from './nalu.ts';

export interface H264AccessUnit {
  /** NAL units in decoding order (1-byte NAL header included, no start code). */
  readonly nalus: readonly Uint8Array[];
  /** RTP timestamp of the AU (uint32, 90 kHz for H.264, RFC 6184 5.1). */
  readonly rtpTimestamp: number;
}

export interface H264DepacketizerStats {
  /** Access units returned. */
  accessUnits: number;
  /** Access units dropped: damaged, or skipped while waiting for an IDR after damage. */
  droppedAccessUnits: number;
  /** Errors reported through onError (one per malformed packet / gap / oversize AU). */
  errors: number;
}

/** Largest NAL unit reassembled from FU-A fragments: a NAL unit cannot be larger than its access unit. */
export const MAX_FU_A_SIZE = MAX_ACCESS_UNIT_SIZE;
/**
 * Most FU-A fragments held for one NAL unit. MAX_FU_A_SIZE at a 1,200-byte payload is ~7,000 packets; the cap
 * stops a sender from pinning memory with endless near-empty fragments.
 */
export const MAX_FU_A_FRAGMENTS = 16384;

/** RFC 6184 Table 1/3 payload types this depacketizer does not handle (packetization-mode 2 and FU-B). */
const StapB = 25;
const Mtap16 = 26;
const Mtap24 = 27;
const FuB = 29;
/** STAP-A: 1-byte STAP header, then 16-bit NALU size + NAL unit, repeated (5.7.1). */
const STAP_A_HEADER_SIZE = 1;
const STAP_A_NALU_SIZE_FIELD = 2;
/** FU indicator + FU header (5.8). */
const FU_A_HEADER_SIZE = 2;

export class RtpH264Depacketizer {
  readonly #onError: (err: GatewayError) => void;
  // access unit in progress
  #auNalus: Uint8Array[] = [];
  #auSize = 0;
  #auTimestamp = 0;
  #auOpen = false;
  /** The AU in progress is damaged: it is dropped when it ends. */
  #auDamaged = false;
  /** After damage: drop AUs until one holds an IDR slice. */
  #waitIdr = false;
  /** After a gap with no AU in progress: the next packet decides whether its AU starts cleanly. */
  #gapBeforeNext = false;
  // FU-A in progress
  #fuFragments: Uint8Array[] = [];
  #fuSize = 0;
  #fuHeader = 0;
  #fuOpen = false;
  /** After a gap: the rest of a broken FU-A is expected and dropped without further errors. */
  #fuSkipRest = false;
  /** An AU completed by a marker while push() was returning the AU before it (marker-less sender turned to markers). */
  #ready: H264AccessUnit | undefined;
  readonly #stats: H264DepacketizerStats = { accessUnits: 0, droppedAccessUnits: 0, errors: 0 };

  /** @param onError receives each non-fatal problem (RtpPayload, RtpMissingPacket, TooLarge). */
  constructor(onError: (err: GatewayError) => void) {
    this.#onError = onError;
  }

  get stats(): { accessUnits: number; droppedAccessUnits: number; errors: number } {
    return { ...this.#stats };
  }

  /**
   * Next in-order packet. Returns a complete access unit when this packet ends one (marker bit set), or when a
   * packet with a new timestamp arrives while an AU is pending; else undefined. When one packet completes two AUs
   * (the pending marker-less one, then itself by its marker) the second is returned by the next push() or flush().
   * Never throws; problems go to onError.
   */
  push(pkt: RtpPacket): H264AccessUnit | undefined {
    let out = this.#ready;
    this.#ready = undefined;
    if (this.#auOpen && pkt.timestamp !== this.#auTimestamp) {
      const prev = this.#finishAu();
      if (out === undefined) out = prev;
      else if (prev !== undefined) this.#ready = prev;
    }
    const payload = pkt.payload;
    if (!this.#auOpen) {
      this.#auOpen = true;
      this.#auTimestamp = pkt.timestamp;
      if (this.#gapBeforeNext) {
        this.#gapBeforeNext = false;
        // Lost packets may have been the start of this AU: keep it only if it visibly starts at its beginning.
        if (!startsAccessUnit(payload)) this.#auDamaged = true;
      }
    } else if (this.#gapBeforeNext) {
      this.#gapBeforeNext = false;
      this.#auDamaged = true;
    }
    this.#depacketize(payload);
    if (pkt.marker) {
      const done = this.#finishAu();
      if (out === undefined) out = done;
      else if (done !== undefined) this.#ready = done;
    }
    return out;
  }

  /**
   * A sequence gap happened before the next packet: the AU in progress is dropped, and every AU until the next one
   * holding an IDR (type 5). Reports RtpMissingPacket once per call.
   */
  onPacketLoss(): void {
    this.#report(ErrorCode.RtpMissingPacket, 'RTP/H.264: packets lost, dropping access units until the next IDR');
    this.#resetFu();
    this.#fuSkipRest = true;
    if (this.#auOpen) this.#auDamaged = true;
    this.#gapBeforeNext = true;
    this.#waitIdr = true;
  }

  /** End of stream: the AU in progress (or one held back), if complete and clean; an unfinished FU-A is dropped. */
  flush(): H264AccessUnit | undefined {
    const held = this.#ready;
    this.#ready = undefined;
    if (held !== undefined) return held;
    return this.#auOpen ? this.#finishAu() : undefined;
  }

  #depacketize(payload: Buffer): void {
    if (payload.length === 0) {
      this.#malformed('empty payload');
      return;
    }
    const type = payload[0]! & 0x1f;
    if (type !== NaluType.FuA) this.#fuSkipRest = false;
    if (type !== NaluType.FuA && this.#fuOpen) {
      this.#malformed(`FU-A of NAL type ${this.#fuHeader & 0x1f} not finished before a type ${type} packet`);
      this.#resetFu();
    }
    if (type >= 1 && type <= 23) {
      this.#addNalu(payload);
    } else if (type === NaluType.StapA) {
      this.#stapA(payload);
    } else if (type === NaluType.FuA) {
      this.#fuA(payload);
    } else if (type === StapB || type === Mtap16 || type === Mtap24 || type === FuB) {
      this.#malformed(`payload type ${type} (STAP-B/MTAP/FU-B) needs packetization-mode 2, which is not supported`);
    }
    // 0, 30, 31: unspecified / reserved NAL types (RFC 6184 Table 1): ignored.
  }

  /** STAP-A (5.7.1): validate every size first, so a bogus packet adds nothing. */
  #stapA(payload: Buffer): void {
    let o = STAP_A_HEADER_SIZE;
    let count = 0;
    while (o < payload.length) {
      if (o + STAP_A_NALU_SIZE_FIELD > payload.length) return this.#malformed('STAP-A: 1 trailing byte, shorter than a NALU size');
      const size = (payload[o]! << 8) | payload[o + 1]!;
      o += STAP_A_NALU_SIZE_FIELD;
      if (size === 0) break; // zero padding after the last NAL unit (seen from some cameras)
      if (size > payload.length - o) return this.#malformed(`STAP-A: NALU size ${size} past the end (${payload.length - o} bytes left)`);
      const inner = payload[o]! & 0x1f;
      if (inner >= NaluType.StapA) return this.#malformed(`STAP-A: aggregated NAL type ${inner}`);
      o += size;
      count++;
    }
    if (count === 0) return this.#malformed('STAP-A without NAL units');
    o = STAP_A_HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      const size = (payload[o]! << 8) | payload[o + 1]!;
      o += STAP_A_NALU_SIZE_FIELD;
      const type = payload[o]! & 0x1f;
      if (type !== 0) this.#addNalu(payload.subarray(o, o + size));
      o += size;
    }
  }

  /** FU-A (5.8): reassembled NAL header = F|NRI of the FU indicator + type of the FU header. */
  #fuA(payload: Buffer): void {
    if (payload.length < FU_A_HEADER_SIZE) return this.#malformed('FU-A shorter than its 2-byte header');
    const indicator = payload[0]!;
    const fuHeader = payload[1]!;
    const start = (fuHeader & 0x80) !== 0;
    const end = (fuHeader & 0x40) !== 0;
    const header = (indicator & 0xe0) | (fuHeader & 0x1f);
    const fragment = payload.subarray(FU_A_HEADER_SIZE);
    if (start) {
      this.#fuSkipRest = false;
      if (this.#fuOpen) {
        this.#malformed(`FU-A: new start before the end of the previous NAL type ${this.#fuHeader & 0x1f}`);
        this.#resetFu();
      }
      if ((header & 0x1f) === 0 || (header & 0x1f) >= NaluType.StapA) {
        return this.#malformed(`FU-A: fragmented NAL type ${header & 0x1f}`);
      }
      this.#fuOpen = true;
      this.#fuHeader = header;
    } else {
      if (this.#fuSkipRest) return; // rest of an FU-A broken by the reported gap
      if (!this.#fuOpen) return this.#malformed('FU-A: fragment without a start fragment');
      if (header !== this.#fuHeader) {
        this.#malformed(`FU-A: fragment header 0x${header.toString(16)} differs from 0x${this.#fuHeader.toString(16)}`);
        return this.#resetFu();
      }
    }
    if (this.#fuSize + fragment.length + 1 > MAX_FU_A_SIZE || this.#fuFragments.length >= MAX_FU_A_FRAGMENTS) {
      this.#damage(ErrorCode.TooLarge, `FU-A: NAL unit larger than ${MAX_FU_A_SIZE} bytes or ${MAX_FU_A_FRAGMENTS} fragments`);
      return this.#resetFu();
    }
    this.#fuFragments.push(fragment);
    this.#fuSize += fragment.length;
    // Start and end in one FU is forbidden (5.8) but harmless: accepted as a whole NAL unit.
    if (end) {
      const nalu = Buffer.allocUnsafe(1 + this.#fuSize);
      nalu[0] = this.#fuHeader;
      let o = 1;
      for (const f of this.#fuFragments) {
        nalu.set(f, o);
        o += f.length;
      }
      this.#resetFu();
      this.#addNalu(nalu);
    }
  }

  #addNalu(nalu: Uint8Array): void {
    if (this.#auDamaged) return;
    if (this.#auNalus.length >= MAX_NALUS_PER_AU || this.#auSize + nalu.length > MAX_ACCESS_UNIT_SIZE) {
      this.#damage(ErrorCode.TooLarge, `access unit over ${MAX_NALUS_PER_AU} NAL units or ${MAX_ACCESS_UNIT_SIZE} bytes`);
      return;
    }
    this.#auNalus.push(nalu);
    this.#auSize += nalu.length;
  }

  /** End the AU in progress: returns it, or undefined when damaged, empty, or skipped while waiting for an IDR. */
  #finishAu(): H264AccessUnit | undefined {
    if (this.#fuOpen) {
      this.#malformed(`FU-A of NAL type ${this.#fuHeader & 0x1f} unfinished at the end of the access unit`);
      this.#resetFu();
    }
    const nalus = this.#auNalus;
    const damaged = this.#auDamaged;
    const rtpTimestamp = this.#auTimestamp;
    this.#auNalus = [];
    this.#auSize = 0;
    this.#auOpen = false;
    this.#auDamaged = false;
    if (damaged) {
      this.#stats.droppedAccessUnits++;
      return undefined;
    }
    if (nalus.length === 0) return undefined;
    if (this.#waitIdr) {
      if (!nalus.some((n) => (n[0]! & 0x1f) === NaluType.Idr)) {
        this.#stats.droppedAccessUnits++;
        return undefined;
      }
      this.#waitIdr = false;
    }
    this.#stats.accessUnits++;
    return { nalus, rtpTimestamp };
  }

  /** A malformed packet: reported, and the AU it belonged to is dropped (then wait for an IDR). */
  #malformed(why: string): void {
    this.#damage(ErrorCode.RtpPayload, `RTP/H.264: ${why}`);
  }

  #damage(code: ErrorCode, message: string): void {
    this.#report(code, message);
    this.#auDamaged = true;
    this.#waitIdr = true;
  }

  #report(code: ErrorCode, message: string): void {
    this.#stats.errors++;
    this.#onError(new GatewayError(code, message));
  }

  #resetFu(): void {
    this.#fuFragments = [];
    this.#fuSize = 0;
    this.#fuOpen = false;
  }
}

/**
 * True when a payload visibly begins an access unit: a non-VCL NAL unit that may only precede the first slice
 * (types 6–9 and 13–18, 7.4.1.2.3), or the start of a slice with first_mb_in_slice = 0 (its ue(v) is the single bit 1).
 */
function startsAccessUnit(payload: Buffer): boolean {
  if (payload.length < 2) return false;
  let type = payload[0]! & 0x1f;
  let body = 1;
  if (type === NaluType.StapA) {
    if (payload.length < STAP_A_HEADER_SIZE + STAP_A_NALU_SIZE_FIELD + 2) return false;
    type = payload[3]! & 0x1f;
    body = 4;
  } else if (type === NaluType.FuA) {
    if ((payload[1]! & 0x80) === 0 || payload.length < 3) return false;
    type = payload[1]! & 0x1f;
    body = 2;
  }
  if (!isVclNaluType(type)) return (type >= NaluType.Sei && type <= NaluType.Aud) || (type >= 13 && type <= 18);
  return (payload[body]! & 0x80) !== 0;
}
