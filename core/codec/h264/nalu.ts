/**
 * H.264 NAL units: type table (ITU-T H.264 Table 7-1, RFC 6184 5.2), Annex B byte-stream split (Annex B.2),
 * AVCC length-prefixed split (ISO/IEC 14496-15 5.3.4.2) and emulation prevention removal (7.4.1).
 *
 * Splitters return subarray views of their input; nothing is copied or mutated.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** ITU-T H.264 Table 7-1 (subset) + RFC 6184 aggregation/fragmentation types. */
export const NaluType = {
  NonIdr: 1,
  Idr: 5,
  Sei: 6,
  Sps: 7,
  Pps: 8,
  Aud: 9,
  EndOfSequence: 10,
  EndOfStream: 11,
  Filler: 12,
  StapA: 24,
  FuA: 28,
} as const;
export type NaluType = (typeof NaluType)[keyof typeof NaluType];

/** True for VCL NAL units (coded slices, types 1..5; Table 7-1 "VCL" column). */
export function isVclNaluType(type: number): boolean {
  return type >= NaluType.NonIdr && type <= NaluType.Idr;
}

/**
 * Split an Annex B byte stream into NAL units (views, without start codes).
 * Accepts 3- and 4-byte start codes (00 00 01 / 00 00 00 01); trailing zero bytes of a NAL unit
 * (trailing_zero_8bits, or the leading zero of a 4-byte start code) are trimmed; empty NAL units are skipped;
 * bytes before the first start code are dropped. A buffer with no start code yields [].
 */
export function splitAnnexB(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = data.length;
  let start = -1; // first byte of the current NAL unit
  let i = 0;
  while (i + 2 < n) {
    const b2 = data[i + 2];
    if (b2 > 1) {
      i += 3;
    } else if (b2 === 1 && data[i + 1] === 0 && data[i] === 0) {
      if (start >= 0) pushTrimmed(out, data, start, i);
      start = i + 3;
      i += 3;
    } else {
      i++;
    }
  }
  if (start >= 0) pushTrimmed(out, data, start, n);
  return out;
}

function pushTrimmed(out: Uint8Array[], data: Uint8Array, start: number, end: number): void {
  let e = end;
  while (e > start && data[e - 1] === 0) e--;
  if (e > start) out.push(data.subarray(start, e));
}

/**
 * Split length-prefixed (AVCC) NAL units: each is preceded by a big-endian length of `lengthSize` bytes
 * (lengthSizeMinusOne + 1 from the AVCDecoderConfigurationRecord). Zero-length entries are skipped.
 * @throws GatewayError(H264Nalu) when a length runs past the end or a partial length field remains.
 */
export function splitAvcc(data: Uint8Array, lengthSize: 1 | 2 | 4): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < data.length) {
    if (o + lengthSize > data.length) {
      throw new GatewayError(ErrorCode.H264Nalu, `AVCC: ${data.length - o} trailing bytes, shorter than a ${lengthSize}-byte length`);
    }
    let len = 0;
    for (let k = 0; k < lengthSize; k++) len = len * 256 + data[o + k];
    o += lengthSize;
    if (len > data.length - o) {
      throw new GatewayError(ErrorCode.H264Nalu, `AVCC: NALU length ${len} past the end (${data.length - o} bytes left)`);
    }
    if (len > 0) out.push(data.subarray(o, o + len));
    o += len;
  }
  return out;
}

/**
 * Join NAL units into an Annex B byte stream with 4-byte start codes (00 00 00 01), e.g. an AVCC frame from
 * RTMP/FLV (`splitAvcc`) going out as MPEG-TS/HLS. One allocation, one copy per NAL unit.
 */
export function joinAnnexB(nalus: readonly Uint8Array[]): Buffer {
  return joinWithPrefix(nalus, true);
}

/**
 * Join NAL units as length-prefixed (AVCC, ISO/IEC 14496-15 5.3.4.2) with 4-byte big-endian lengths — the
 * inverse of `splitAvcc(data, 4)`.
 */
export function joinAvcc(nalus: readonly Uint8Array[]): Buffer {
  return joinWithPrefix(nalus, false);
}

/** Each NAL unit behind a 4-byte prefix: the start code 00 00 00 01, or its length (big-endian). */
function joinWithPrefix(nalus: readonly Uint8Array[], startCode: boolean): Buffer {
  let size = 0;
  for (const n of nalus) size += 4 + n.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const n of nalus) {
    out.writeUInt32BE(startCode ? 1 : n.length, o);
    out.set(n, o + 4);
    o += 4 + n.length;
  }
  return out;
}

/**
 * NAL unit → RBSP: drop each emulation_prevention_three_byte (the 0x03 of 0x000003, 7.4.1).
 * Returns the input itself (a view, not a copy) when no 0x000003 occurs; otherwise one new array.
 */
export function removeEmulationPrevention(nalu: Uint8Array): Uint8Array {
  const first = findEmulationPrevention(nalu, 0);
  if (first < 0) return nalu;
  const out = new Uint8Array(nalu.length - 1);
  let w = 0;
  let zeros = 0;
  for (let r = 0; r < nalu.length; r++) {
    const b = nalu[r];
    if (zeros >= 2 && b === 3) {
      zeros = 0; // skip the emulation prevention byte
      continue;
    }
    out[w++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, w);
}

/** Index of the first 0x03 that follows two zero bytes, or −1. */
function findEmulationPrevention(nalu: Uint8Array, from: number): number {
  let zeros = 0;
  for (let i = from; i < nalu.length; i++) {
    const b = nalu[i];
    if (zeros >= 2 && b === 3) return i;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return -1;
}
