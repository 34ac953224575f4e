/**
 * RTCP compound packets (RFC 3550, 6.4.1 SR, 6.4.2 RR, 6.5 SDES, 6.6 BYE, A.2 header validity).
 *
 * `parseRtcpCompound` walks one compound datagram (bounded by its length fields) and returns the sender reports
 * and BYEs a receiver needs; every other packet type is reported as `other`. `buildReceiverReport` writes the
 * compound a receiver sends back: RR + SDES CNAME (6.1: "each compound RTCP packet MUST include ... CNAME").
 * Pure functions on bytes; the input is never mutated.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** RTCP packet types (RFC 3550 12.1). */
export const RtcpPacketType = { Sr: 200, Rr: 201, Sdes: 202, Bye: 203, App: 204 } as const;
export type RtcpPacketType = (typeof RtcpPacketType)[keyof typeof RtcpPacketType];
/** SDES item types (RFC 3550 12.2, subset). */
export const SdesItemType = { End: 0, Cname: 1 } as const;

/** RTCP version (RFC 3550 6.4.1). */
export const RTCP_VERSION = 2;
/** Common header: V/P/count, PT, length (RFC 3550 6.4.1). */
export const RTCP_HEADER_SIZE = 4;
/** SR: header + SSRC of sender + 20-byte sender info (RFC 3550 6.4.1). */
export const RTCP_SR_MIN_SIZE = 28;
/** One reception report block (RFC 3550 6.4.1). */
export const RTCP_REPORT_BLOCK_SIZE = 24;
/** RC/SC are 5-bit fields (RFC 3550 6.4.1, 6.6). */
export const RTCP_MAX_COUNT = 31;
/**
 * Most packets walked in one compound. A real compound holds 2-4 (SR/RR, SDES, maybe BYE/APP/feedback); the
 * datagram length already bounds the walk (4 bytes minimum each), this stops pathological inputs early.
 */
export const RTCP_MAX_PACKETS_PER_COMPOUND = 64;
/** SDES item text is at most 255 octets (RFC 3550 6.5: 8-bit length). */
export const SDES_MAX_TEXT_LENGTH = 255;
/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_S = 2208988800;
/** First/last byte value RFC 5761 4 reserves for RTCP when RTP and RTCP share one port (PT 64-95 with M). */
const RTCP_DEMUX_MIN = 192;
const RTCP_DEMUX_MAX = 223;

/** The sender info of one SR (RFC 3550 6.4.1). */
export interface RtcpSenderReport {
  readonly ssrc: number;
  /** NTP timestamp, most significant word: seconds since 1900. */
  readonly ntpSeconds: number;
  /** NTP timestamp, least significant word: 1/2^32 s. */
  readonly ntpFraction: number;
  /** NTP time as Unix ms (float). */
  readonly ntpUnixMs: number;
  /** RTP timestamp corresponding to the NTP time, in the track's clock. */
  readonly rtpTimestamp: number;
  readonly packetCount: number;
  readonly octetCount: number;
}

export type RtcpPacketInfo =
  | { readonly type: 'sr'; readonly report: RtcpSenderReport }
  | { readonly type: 'bye'; readonly ssrcs: readonly number[] }
  | { readonly type: 'other'; readonly packetType: number };

/** One reception report block (RFC 3550 6.4.1). */
export interface RtcpReportBlock {
  /** SSRC of the source this block is about. */
  ssrc: number;
  /** Fraction lost since the previous report, fixed point /256 (0..255). */
  fractionLost: number;
  /** Cumulative number of packets lost (signed 24-bit on the wire; clamped when written). */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | max seq), uint32. */
  extendedHighestSeq: number;
  /** Interarrival jitter in RTP timestamp units (A.8), uint32. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received from the source (0 = none). */
  lastSr: number;
  /** Delay since receiving that SR, in 1/65536 s (0 = none). */
  delaySinceLastSr: number;
}

function fail(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtcpPacket, `RTCP: ${message}`);
}

/** NTP 64-bit timestamp (seconds since 1900 + 1/2^32 fraction) → Unix ms. */
export function ntpToUnixMs(ntpSeconds: number, ntpFraction: number): number {
  return (ntpSeconds - NTP_UNIX_OFFSET_S) * 1000 + (ntpFraction / 2 ** 32) * 1000;
}

/**
 * Parses one compound RTCP datagram (or one interleaved RTCP frame) into the packets a receiver uses.
 * Lenient where RFC 3550 A.2 is strict but harmless: the first packet need not be SR/RR and padding is accepted
 * on any packet (its length field covers it).
 * @throws GatewayError(RtcpPacket) when a header has version ≠ 2, a length runs past the datagram, an SR/BYE is
 *   shorter than its counts need, the datagram is empty or holds more than RTCP_MAX_PACKETS_PER_COMPOUND packets.
 */
export function parseRtcpCompound(datagram: Buffer): RtcpPacketInfo[] {
  if (datagram.length < RTCP_HEADER_SIZE) throw fail(`${datagram.length} bytes, shorter than one header`);
  const out: RtcpPacketInfo[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    if (out.length === RTCP_MAX_PACKETS_PER_COMPOUND) throw fail(`more than ${RTCP_MAX_PACKETS_PER_COMPOUND} packets`);
    if (datagram.length - offset < RTCP_HEADER_SIZE) {
      throw fail(`${datagram.length - offset} trailing bytes at offset ${offset}, shorter than a header`);
    }
    const b0 = datagram[offset]!;
    const version = b0 >> 6;
    if (version !== RTCP_VERSION) throw fail(`version ${version} at offset ${offset}, expected ${RTCP_VERSION}`);
    const count = b0 & 0x1f;
    const packetType = datagram[offset + 1]!;
    const size = (datagram.readUInt16BE(offset + 2) + 1) * 4;
    if (offset + size > datagram.length) {
      throw fail(`packet type ${packetType} at offset ${offset} is ${size} bytes, only ${datagram.length - offset} left`);
    }
    const packet = datagram.subarray(offset, offset + size);
    if (packetType === RtcpPacketType.Sr) out.push({ type: 'sr', report: parseSenderInfo(packet, count) });
    else if (packetType === RtcpPacketType.Bye) out.push({ type: 'bye', ssrcs: parseByeSsrcs(packet, count) });
    else out.push({ type: 'other', packetType });
    offset += size;
  }
  return out;
}

function parseSenderInfo(packet: Buffer, reportCount: number): RtcpSenderReport {
  const needed = RTCP_SR_MIN_SIZE + reportCount * RTCP_REPORT_BLOCK_SIZE;
  if (packet.length < needed) throw fail(`SR with RC=${reportCount} is ${packet.length} bytes, needs ${needed}`);
  const ntpSeconds = packet.readUInt32BE(8);
  const ntpFraction = packet.readUInt32BE(12);
  return {
    ssrc: packet.readUInt32BE(4),
    ntpSeconds,
    ntpFraction,
    ntpUnixMs: ntpToUnixMs(ntpSeconds, ntpFraction),
    rtpTimestamp: packet.readUInt32BE(16),
    packetCount: packet.readUInt32BE(20),
    octetCount: packet.readUInt32BE(24),
  };
}

function parseByeSsrcs(packet: Buffer, sourceCount: number): number[] {
  const needed = RTCP_HEADER_SIZE + sourceCount * 4;
  if (packet.length < needed) throw fail(`BYE with SC=${sourceCount} is ${packet.length} bytes, needs ${needed}`);
  const ssrcs: number[] = new Array<number>(sourceCount);
  for (let i = 0; i < sourceCount; i++) ssrcs[i] = packet.readUInt32BE(RTCP_HEADER_SIZE + i * 4);
  return ssrcs;
}

/** A receiver report packet read back by `parseRtcpReceiverReport`. */
export interface RtcpReceiverReport {
  readonly reporterSsrc: number;
  readonly blocks: readonly RtcpReportBlock[];
}

/**
 * Reads the RR packet (PT 201) at the start of `packet` (a compound is fine: only the first packet is read).
 * For tests and diagnostics; a push receiver does not need the RRs of others.
 * @throws GatewayError(RtcpPacket) when it is not a version-2 RR or shorter than RC blocks need.
 */
export function parseRtcpReceiverReport(packet: Buffer): RtcpReceiverReport {
  if (packet.length < 8) throw fail(`${packet.length} bytes, shorter than an RR`);
  const b0 = packet[0]!;
  if (b0 >> 6 !== RTCP_VERSION || packet[1] !== RtcpPacketType.Rr) throw fail('not a version-2 RR');
  const size = (packet.readUInt16BE(2) + 1) * 4;
  const count = b0 & 0x1f;
  if (size > packet.length || size < 8 + count * RTCP_REPORT_BLOCK_SIZE) throw fail(`RR with RC=${count}: bad length`);
  const blocks: RtcpReportBlock[] = [];
  for (let i = 0; i < count; i++) {
    const o = 8 + i * RTCP_REPORT_BLOCK_SIZE;
    blocks.push({
      ssrc: packet.readUInt32BE(o),
      fractionLost: packet[o + 4]!,
      cumulativeLost: packet.readIntBE(o + 5, 3),
      extendedHighestSeq: packet.readUInt32BE(o + 8),
      jitter: packet.readUInt32BE(o + 12),
      lastSr: packet.readUInt32BE(o + 16),
      delaySinceLastSr: packet.readUInt32BE(o + 20),
    });
  }
  return { reporterSsrc: packet.readUInt32BE(4), blocks };
}

/** Default CNAME when the caller gives none (RFC 3550 6.5.1 only asks that it be unique and stable per session). */
export const DEFAULT_CNAME = 'castgate';

/**
 * Builds a compound RTCP packet: RR (PT 201) with `blocks`, then SDES with one chunk (reporterSsrc, CNAME).
 * fractionLost, cumulativeLost (signed 24 bits, 6.4.1), jitter and delaySinceLastSr are clamped to their
 * field ranges; ssrc, extendedHighestSeq and lastSr are taken modulo 2^32.
 * @param cname UTF-8, at most 255 bytes (DEFAULT_CNAME when omitted).
 * @throws GatewayError(RtcpPacket) with more than 31 blocks or a CNAME longer than 255 bytes.
 */
export function buildReceiverReport(reporterSsrc: number, blocks: readonly RtcpReportBlock[], cname: string = DEFAULT_CNAME): Buffer {
  if (blocks.length > RTCP_MAX_COUNT) throw fail(`${blocks.length} report blocks, at most ${RTCP_MAX_COUNT}`);
  const cnameBytes = Buffer.from(cname, 'utf8');
  if (cnameBytes.length > SDES_MAX_TEXT_LENGTH) throw fail(`CNAME of ${cnameBytes.length} bytes, at most ${SDES_MAX_TEXT_LENGTH}`);
  const rrSize = 8 + blocks.length * RTCP_REPORT_BLOCK_SIZE;
  // SDES chunk: SSRC, CNAME item (type, length, text), END item (a null octet), padded to a 32-bit boundary (6.5)
  const chunkSize = Math.ceil((4 + 2 + cnameBytes.length + 1) / 4) * 4;
  const sdesSize = RTCP_HEADER_SIZE + chunkSize;
  const out = Buffer.alloc(rrSize + sdesSize); // zero-filled: the SDES padding must be null octets

  out[0] = (RTCP_VERSION << 6) | blocks.length;
  out[1] = RtcpPacketType.Rr;
  out.writeUInt16BE(rrSize / 4 - 1, 2);
  out.writeUInt32BE(reporterSsrc >>> 0, 4);
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    const o = 8 + i * RTCP_REPORT_BLOCK_SIZE;
    out.writeUInt32BE(b.ssrc >>> 0, o);
    out[o + 4] = clamp(Math.floor(b.fractionLost), 0, 255);
    out.writeIntBE(clamp(Math.trunc(b.cumulativeLost), -0x800000, 0x7fffff), o + 5, 3);
    out.writeUInt32BE(mod32(b.extendedHighestSeq), o + 8);
    out.writeUInt32BE(uint32(b.jitter), o + 12);
    out.writeUInt32BE(mod32(b.lastSr), o + 16);
    out.writeUInt32BE(uint32(b.delaySinceLastSr), o + 20);
  }

  const s = rrSize;
  out[s] = (RTCP_VERSION << 6) | 1; // SC = 1 chunk
  out[s + 1] = RtcpPacketType.Sdes;
  out.writeUInt16BE(sdesSize / 4 - 1, s + 2);
  out.writeUInt32BE(reporterSsrc >>> 0, s + 4);
  out[s + 8] = SdesItemType.Cname;
  out[s + 9] = cnameBytes.length;
  out.set(cnameBytes, s + 10);
  return out;
}

/**
 * True when the second byte of a packet (RTP: M + PT; RTCP: PT) marks RTCP, for RTP/RTCP on one port or channel.
 * RFC 5761 4: RTCP packet types 192..223 (SR 200..APP 204, RTPFB 205, PSFB 206, XR 207 included); RTP payload
 * types 64..95 must not be used when multiplexing, so the ranges do not overlap.
 */
export function isRtcpPacketType(byte1: number): boolean {
  return byte1 >= RTCP_DEMUX_MIN && byte1 <= RTCP_DEMUX_MAX;
}

function clamp(v: number, min: number, max: number): number {
  return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : 0;
}

function uint32(v: number): number {
  return Number.isFinite(v) ? clamp(Math.floor(v), 0, 0xffffffff) : 0;
}

function mod32(v: number): number {
  return Number.isFinite(v) ? ((Math.floor(v) % 2 ** 32) + 2 ** 32) % 2 ** 32 : 0;
}
