/**
 * Test encoder: H.264 access units → RTP packets (RFC 6184 packetization-mode 1), the inverse of
 * RtpH264Depacketizer. NAL units that fit `mtu` bytes of RTP payload go out as single NAL unit packets (5.6), or
 * are aggregated into STAP-A packets (5.7.1) when `aggregate` is on; larger ones are split into FU-A fragments (5.8).
 * The marker bit is set on the last packet of each AU (unless `marker: false`, to mimic senders that omit it).
 */
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';

export interface RtpH264PacketizerOptions {
  /** Largest RTP payload in bytes (≥ 3: FU indicator + FU header + 1 byte). */
  readonly mtu: number;
  /** Aggregate consecutive small NAL units into STAP-A packets (default true). */
  readonly aggregate?: boolean;
  /** Set the marker bit on the last packet of each AU (default true). */
  readonly marker?: boolean;
  readonly payloadType?: number;
  readonly ssrc?: number;
  readonly firstSequenceNumber?: number;
}

const STAP_A = 24;
const FU_A = 28;
const STAP_A_OVERHEAD = 1;
const STAP_A_SIZE_FIELD = 2;
const FU_A_OVERHEAD = 2;

export class RtpH264Packetizer {
  readonly #mtu: number;
  readonly #aggregate: boolean;
  readonly #marker: boolean;
  readonly #payloadType: number;
  readonly #ssrc: number;
  #sequenceNumber: number;

  constructor(options: RtpH264PacketizerOptions) {
    if (options.mtu < FU_A_OVERHEAD + 1) throw new RangeError(`mtu ${options.mtu} too small`);
    this.#mtu = options.mtu;
    this.#aggregate = options.aggregate ?? true;
    this.#marker = options.marker ?? true;
    this.#payloadType = options.payloadType ?? 96;
    this.#ssrc = options.ssrc ?? 0x12345678;
    this.#sequenceNumber = options.firstSequenceNumber ?? 1000;
  }

  /** One AU (NAL units with their 1-byte header, no start codes) at `rtpTimestamp` (uint32) → packets. */
  packetize(nalus: readonly Uint8Array[], rtpTimestamp: number): RtpPacket[] {
    const payloads: Buffer[] = [];
    let i = 0;
    while (i < nalus.length) {
      const nalu = nalus[i]!;
      if (nalu.length > this.#mtu) {
        this.#fragment(nalu, payloads);
        i++;
        continue;
      }
      // Gather as many following NAL units as fit one STAP-A.
      let size = STAP_A_OVERHEAD + STAP_A_SIZE_FIELD + nalu.length;
      let j = i + 1;
      while (this.#aggregate && j < nalus.length && size + STAP_A_SIZE_FIELD + nalus[j]!.length <= this.#mtu) {
        size += STAP_A_SIZE_FIELD + nalus[j]!.length;
        j++;
      }
      if (j - i < 2) {
        payloads.push(Buffer.from(nalu));
        i++;
        continue;
      }
      const stap = Buffer.alloc(size);
      let nri = 0;
      let o = STAP_A_OVERHEAD;
      for (let k = i; k < j; k++) {
        const n = nalus[k]!;
        nri = Math.max(nri, n[0]! & 0x60);
        stap.writeUInt16BE(n.length, o);
        stap.set(n, o + STAP_A_SIZE_FIELD);
        o += STAP_A_SIZE_FIELD + n.length;
      }
      stap[0] = nri | STAP_A;
      payloads.push(stap);
      i = j;
    }
    return payloads.map((payload, k) => ({
      marker: this.#marker && k === payloads.length - 1,
      payloadType: this.#payloadType,
      sequenceNumber: this.#nextSequenceNumber(),
      timestamp: rtpTimestamp >>> 0,
      ssrc: this.#ssrc,
      csrcs: [],
      payload,
    }));
  }

  #fragment(nalu: Uint8Array, out: Buffer[]): void {
    const indicator = (nalu[0]! & 0xe0) | FU_A;
    const type = nalu[0]! & 0x1f;
    const chunk = this.#mtu - FU_A_OVERHEAD;
    for (let o = 1; o < nalu.length; o += chunk) {
      const end = Math.min(o + chunk, nalu.length);
      const fu = Buffer.alloc(FU_A_OVERHEAD + end - o);
      fu[0] = indicator;
      fu[1] = (o === 1 ? 0x80 : 0) | (end === nalu.length ? 0x40 : 0) | type;
      fu.set(nalu.subarray(o, end), FU_A_OVERHEAD);
      out.push(fu);
    }
  }

  #nextSequenceNumber(): number {
    const s = this.#sequenceNumber;
    this.#sequenceNumber = (s + 1) & 0xffff;
    return s;
  }
}
