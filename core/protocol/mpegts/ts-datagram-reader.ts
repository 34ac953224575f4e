/**
 * MPEG-TS datagrams as UDP senders send them: plain (one datagram = whole transport packets, framed by
 * TsDemuxer.pushDatagram) or wrapped in RTP (RFC 2250 §2: "Encapsulation of MPEG System and Transport Streams";
 * RFC 3551 Table 5: payload type 33 = MP2T, 90 kHz), as IPTV multicast and many encoders send it.
 *
 * Each datagram is classified on its own: RTP version 2, payload type 33, a header (12 bytes + 4 × CSRC count +
 * the header extension) that fits, and sync_byte 0x47 where the payload starts. RTP packets go through the RTP
 * reorder buffer (core/protocol/rtp/rtp-reorder-buffer.ts: back in sequence-number order, loss counted), then
 * their payloads are framed per datagram like plain ones. The RTP timestamp is not used: the TS carries its own
 * PCR/PTS. One SSRC is followed; packets of another SSRC are dropped until SSRC_SWITCH_PACKETS of them arrive
 * with none of the followed one in between (a sender restart), so a stray RTP-looking datagram cannot reset the
 * sequence.
 *
 * Pure: the caller passes the arrival time (`nowMs`) and calls `flushExpired` from its timer.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { DEFAULT_UDP_REORDER, RtpReorderBuffer } from '../rtp/rtp-reorder-buffer.ts';
import type { RtpReorderOptions, RtpReorderSink } from '../rtp/rtp-reorder-buffer.ts';
import { parseRtpPacket, RTP_EXTENSION_HEADER_SIZE, RTP_HEADER_SIZE, RTP_VERSION } from '../rtp/rtp-packet.ts';
import type { RtpPacket } from '../rtp/rtp-packet.ts';
import { TS_SYNC_BYTE } from './ts-packet.ts';

/** RFC 3551 Table 5: MP2T, clock rate 90000. */
export const MP2T_PAYLOAD_TYPE = 33;
/**
 * Packets of a new SSRC, with none of the followed SSRC in between, after which the new one is followed. A
 * restarted sender reaches it within a few milliseconds; interleaved junk never does.
 */
export const SSRC_SWITCH_PACKETS = 8;

/** Where the framed TS goes: TsDemuxer implements it. */
export interface TsDatagramTarget {
  /** One unit of whole transport packets (a plain datagram, or an RTP payload). */
  pushDatagram(datagram: Uint8Array): void;
  /** Non-fatal: a malformed RTP-wrapped datagram, a sequence gap. */
  onDecodeError(err: GatewayError): void;
}

export interface TsDatagramReaderStats {
  /** Datagrams pushed. */
  datagrams: number;
  /** RTP-wrapped TS datagrams (RFC 2250) accepted. */
  rtpPackets: number;
  /** RTP-looking datagrams dropped: padding that does not fit, or another SSRC than the one followed. */
  rtpDropped: number;
  /** From the reorder buffer: sequence numbers given up (lost), reordered, duplicate and late packets. */
  rtpLost: number;
  rtpReordered: number;
  rtpDuplicates: number;
  rtpLate: number;
  /** Times the followed SSRC changed (sender restarts). */
  rtpSsrcChanges: number;
}

/**
 * Where the TS payload of an RTP-wrapped datagram starts (RFC 3550 5.1: 12 + 4 × CC, plus 4 + 4 × length of the
 * header extension when X is set), or -1 when the datagram is not RTP version 2 with payload type 33 and a 0x47
 * there. Never reads past the datagram.
 */
export function rtpMpegtsPayloadOffset(d: Uint8Array): number {
  const length = d.length;
  if (length <= RTP_HEADER_SIZE) return -1;
  const b0 = d[0]!;
  if (b0 >> 6 !== RTP_VERSION || (d[1]! & 0x7f) !== MP2T_PAYLOAD_TYPE) return -1;
  let offset = RTP_HEADER_SIZE + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) {
    if (offset + RTP_EXTENSION_HEADER_SIZE > length) return -1;
    offset += RTP_EXTENSION_HEADER_SIZE + ((d[offset + 2]! << 8) | d[offset + 3]!) * 4;
  }
  return offset < length && d[offset] === TS_SYNC_BYTE ? offset : -1;
}

export class TsDatagramReader implements RtpReorderSink {
  readonly #target: TsDatagramTarget;
  readonly #reorderOptions: RtpReorderOptions;
  #reorder: RtpReorderBuffer | undefined;
  #ssrc = -1;
  #otherSsrc = -1;
  #otherCount = 0;
  readonly #stats = { datagrams: 0, rtpPackets: 0, rtpDropped: 0, rtpSsrcChanges: 0 };

  /**
   * @param reorder RTP reorder window (default DEFAULT_UDP_REORDER: 64 packets, 100 ms).
   * @throws GatewayError(ConfInvalid) on reorder options the buffer refuses.
   */
  constructor(target: TsDatagramTarget, reorder: RtpReorderOptions = DEFAULT_UDP_REORDER) {
    this.#target = target;
    this.#reorderOptions = reorder;
    new RtpReorderBuffer(reorder, this); // validates the options now, not at the first RTP datagram
  }

  /** Counters since construction. A snapshot. */
  get stats(): TsDatagramReaderStats {
    const r = this.#reorder?.stats;
    return { ...this.#stats, rtpLost: r?.lost ?? 0, rtpReordered: r?.reordered ?? 0, rtpDuplicates: r?.duplicates ?? 0, rtpLate: r?.late ?? 0 };
  }

  /** True once an RTP-wrapped datagram was accepted. */
  get rtp(): boolean {
    return this.#ssrc >= 0;
  }

  /**
   * One UDP datagram. `datagram` is never mutated; views of it are kept downstream (see TsDemuxer.push).
   * @param nowMs arrival time on a monotonic ms clock (the same one given to `flushExpired`).
   */
  push(datagram: Buffer, nowMs: number): void {
    this.#stats.datagrams++;
    if (rtpMpegtsPayloadOffset(datagram) < 0) {
      this.#target.pushDatagram(datagram);
      return;
    }
    let packet: RtpPacket;
    try {
      packet = parseRtpPacket(datagram);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#stats.rtpDropped++;
      this.#target.onDecodeError(err);
      return;
    }
    if (!this.#follows(packet.ssrc)) {
      this.#stats.rtpDropped++;
      return;
    }
    this.#stats.rtpPackets++;
    this.#reorder ??= new RtpReorderBuffer(this.#reorderOptions, this);
    this.#reorder.push(packet, nowMs);
  }

  /** Give up gaps older than the reorder delay; call it from a timer (packets then flow on). */
  flushExpired(nowMs: number): void {
    this.#reorder?.flushExpired(nowMs);
  }

  /** End of input: every buffered RTP packet is delivered, gaps given up. */
  flush(): void {
    this.#reorder?.flushExpired(Number.POSITIVE_INFINITY);
  }

  /** RtpReorderSink: packets in sequence order. */
  onOrderedPacket(packet: RtpPacket, lostBefore: number): void {
    if (lostBefore > 0) {
      this.#target.onDecodeError(new GatewayError(ErrorCode.RtpMissingPacket, `RTP/MP2T: ${lostBefore} packet(s) lost before sequence number ${packet.sequenceNumber}`));
    }
    this.#target.pushDatagram(packet.payload);
  }

  /** SSRC rule of the module comment: true when the packet's SSRC is (now) the followed one. */
  #follows(ssrc: number): boolean {
    if (ssrc === this.#ssrc) {
      this.#otherCount = 0;
      return true;
    }
    if (this.#ssrc >= 0) {
      if (ssrc !== this.#otherSsrc) {
        this.#otherSsrc = ssrc;
        this.#otherCount = 0;
      }
      if (++this.#otherCount < SSRC_SWITCH_PACKETS) return false;
      this.#stats.rtpSsrcChanges++;
    }
    this.#ssrc = ssrc;
    this.#otherSsrc = -1;
    this.#otherCount = 0;
    return true;
  }
}
