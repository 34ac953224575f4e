/**
 * RTP fixed header (RFC 3550, 5.1), CSRC list, header extension (5.3.1) and padding.
 *
 * `parseRtpPacket` reads one RTP packet (a UDP datagram or one RTSP interleaved frame, RFC 2326 10.12) into an
 * `RtpPacket` whose `payload` is a view into the input: padding removed, extension skipped. The input is never
 * mutated. `serializeRtpPacket` writes the plain form (no extension, no padding), for tests and benches.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** RTP version field value (RFC 3550 5.1: "the version defined by this specification is two"). */
export const RTP_VERSION = 2;
/** Fixed header size in bytes (RFC 3550 5.1). */
export const RTP_HEADER_SIZE = 12;
/** Size of the header extension's own header: 16-bit profile + 16-bit length in 32-bit words (RFC 3550 5.3.1). */
export const RTP_EXTENSION_HEADER_SIZE = 4;
/** The CC field is 4 bits (RFC 3550 5.1). */
export const RTP_MAX_CSRC_COUNT = 15;
/**
 * Largest RTP packet accepted: a UDP datagram (IPv4) or an RTSP interleaved frame (16-bit length, RFC 2326 10.12)
 * cannot carry more.
 */
export const RTP_MAX_PACKET_SIZE = 0xffff;

/** One parsed RTP packet. Numbers are unsigned; `payload` is a view into the parsed buffer. */
export interface RtpPacket {
  readonly marker: boolean;
  /** PT, 7 bits. */
  readonly payloadType: number;
  /** 16 bits. */
  readonly sequenceNumber: number;
  /** uint32 RTP ticks (track clock rate). */
  readonly timestamp: number;
  /** uint32. */
  readonly ssrc: number;
  readonly csrcs: readonly number[];
  /** Profile-defined 16 bits of the header extension (RFC 3550 5.3.1), present only when X = 1. */
  readonly extensionProfile?: number;
  /** View into the datagram/frame: padding removed, extension skipped. */
  readonly payload: Buffer;
}

/** Fields for `serializeRtpPacket`. */
export interface RtpPacketInit {
  marker?: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
  csrcs?: readonly number[];
}

const NO_CSRCS: readonly number[] = Object.freeze([]);

function fail(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtpPacket, `RTP packet: ${message}`);
}

/**
 * Parses one RTP packet (RFC 3550 5.1).
 * @param datagram the whole packet (not mutated; `payload` is a view into it).
 * @throws GatewayError(RtpPacket) when shorter than 12 bytes, longer than RTP_MAX_PACKET_SIZE, version ≠ 2,
 *   CSRC list or extension past the end, or a padding count of 0 or larger than what follows the header.
 */
export function parseRtpPacket(datagram: Buffer): RtpPacket {
  const length = datagram.length;
  if (length < RTP_HEADER_SIZE) throw fail(`${length} bytes, shorter than the ${RTP_HEADER_SIZE}-byte header`);
  if (length > RTP_MAX_PACKET_SIZE) throw fail(`${length} bytes, larger than ${RTP_MAX_PACKET_SIZE}`);
  const b0 = datagram[0]!;
  const version = b0 >> 6;
  if (version !== RTP_VERSION) throw fail(`version ${version}, expected ${RTP_VERSION}`);
  const hasPadding = (b0 & 0x20) !== 0;
  const hasExtension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  const b1 = datagram[1]!;

  let offset = RTP_HEADER_SIZE + csrcCount * 4;
  if (offset > length) throw fail(`CC=${csrcCount} CSRC list runs past the end (${length} bytes)`);
  let csrcs = NO_CSRCS;
  if (csrcCount > 0) {
    const list: number[] = new Array<number>(csrcCount);
    for (let i = 0; i < csrcCount; i++) list[i] = datagram.readUInt32BE(RTP_HEADER_SIZE + i * 4);
    csrcs = list;
  }

  let extensionProfile: number | undefined;
  if (hasExtension) {
    if (offset + RTP_EXTENSION_HEADER_SIZE > length) throw fail('header extension header runs past the end');
    extensionProfile = datagram.readUInt16BE(offset);
    const words = datagram.readUInt16BE(offset + 2);
    offset += RTP_EXTENSION_HEADER_SIZE + words * 4;
    if (offset > length) throw fail(`header extension of ${words} words runs past the end (${length} bytes)`);
  }

  let end = length;
  if (hasPadding) {
    const paddingCount = datagram[length - 1]!;
    // RFC 3550 5.1: the last octet counts the padding octets, itself included, so 0 is invalid.
    if (paddingCount === 0) throw fail('padding bit set with a padding count of 0');
    if (paddingCount > length - offset) {
      throw fail(`padding count ${paddingCount} larger than the ${length - offset} bytes after the header`);
    }
    end = length - paddingCount;
  }

  const base = {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: datagram.readUInt16BE(2),
    timestamp: datagram.readUInt32BE(4),
    ssrc: datagram.readUInt32BE(8),
    csrcs,
    payload: datagram.subarray(offset, end),
  };
  return extensionProfile === undefined ? base : { ...base, extensionProfile };
}

/**
 * Writes an RTP packet (V=2, no padding, no extension) into a new Buffer. For tests, benches and peers we drive.
 * Numbers are truncated to their field widths (payloadType 7 bits, sequenceNumber 16, timestamp/ssrc 32).
 * @throws GatewayError(RtpPacket) when more than 15 CSRCs are given.
 */
export function serializeRtpPacket(p: RtpPacketInit): Buffer {
  const csrcs = p.csrcs ?? NO_CSRCS;
  if (csrcs.length > RTP_MAX_CSRC_COUNT) throw fail(`${csrcs.length} CSRCs, at most ${RTP_MAX_CSRC_COUNT}`);
  const headerSize = RTP_HEADER_SIZE + csrcs.length * 4;
  const out = Buffer.allocUnsafe(headerSize + p.payload.length);
  out[0] = (RTP_VERSION << 6) | csrcs.length;
  out[1] = (p.marker === true ? 0x80 : 0) | (p.payloadType & 0x7f);
  out.writeUInt16BE(p.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(p.timestamp >>> 0, 4);
  out.writeUInt32BE(p.ssrc >>> 0, 8);
  for (let i = 0; i < csrcs.length; i++) out.writeUInt32BE(csrcs[i]! >>> 0, RTP_HEADER_SIZE + i * 4);
  out.set(p.payload, headerSize);
  return out;
}
