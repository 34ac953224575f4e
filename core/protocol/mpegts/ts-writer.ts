/**
 * MPEG-TS packet writing (ISO/IEC 13818-1): PAT (2.4.4.3 / Table 2-30) and PMT (2.4.4.8 / Table 2-33) sections
 * with CRC_32 (Annex A), PES headers (2.4.3.6 / Table 2-21) and the packetization of one PES into 188-byte
 * transport packets (2.4.3.2) with an adaptation field (2.4.3.4) carrying the PCR / random_access_indicator on
 * the first packet and stuffing on the last one.
 *
 * Pure: bytes out, no I/O. A PES is written from a list of byte views (start codes, NAL units, ADTS header, raw
 * frame) straight into ONE buffer holding all its packets: the elementary stream is copied once, never joined.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { writePesTimestamp } from './pes.ts';
import { crc32Mpeg2, TableId } from './psi.ts';
import { PAT_PID, TS_PACKET_SIZE, TS_SYNC_BYTE } from './ts-packet.ts';

/** Transport packet header size (2.4.3.2). */
const TS_HEADER_SIZE = 4;
/** Payload bytes of a packet without adaptation field. */
const TS_MAX_PAYLOAD = TS_PACKET_SIZE - TS_HEADER_SIZE;
/** adaptation_field_length + flags + program_clock_reference (6 bytes). */
const AF_PCR_SIZE = 8;
/** adaptation_field_length + flags. */
const AF_FLAGS_SIZE = 2;
/** PES header with PTS only / PTS and DTS: 9 fixed + 5 / 10 (Table 2-21). */
const PES_HEADER_PTS_SIZE = 14;
const PES_HEADER_PTS_DTS_SIZE = 19;
/** PES_packet_length is 16 bits; a longer PES (video) writes 0 = unbounded (2.4.3.7). */
const MAX_PES_PACKET_LENGTH = 0xffff;
/** Largest elementary stream accepted in one PES (same bound as the demuxer's MAX_PES_SIZE). */
export const MAX_PES_PAYLOAD_SIZE = 8 * 1024 * 1024;

/** stream_id (Table 2-22): first video / first audio stream. */
export const PesStreamId = { Video: 0xe0, Audio: 0xc0 } as const;

/** One elementary stream of the PMT. */
export interface PmtEntry {
  readonly streamType: number;
  readonly elementaryPid: number;
}

/** Options of one PES to packetize. Timestamps are 90 kHz, taken modulo 2^33 on the wire. */
export interface PesOptions {
  readonly pid: number;
  readonly streamId: number;
  readonly pts90k: number;
  readonly dts90k: number;
  /** program_clock_reference_base (90 kHz) to write in the first packet; undefined = no PCR. */
  readonly pcr90k: number | undefined;
  /** random_access_indicator on the first packet (IDR, or audio of an audio-only program). */
  readonly randomAccess: boolean;
  /** data_alignment_indicator: the PES starts with an access unit (set for video). */
  readonly dataAlignment: boolean;
}

/** Next continuity_counter of a PID: returns the value to write and advances (mod 16). */
export type ContinuityCounters = Map<number, number>;
function nextCc(ccs: ContinuityCounters, pid: number): number {
  const cc = ccs.get(pid) ?? 0;
  ccs.set(pid, (cc + 1) & 0x0f);
  return cc;
}

function writeTsHeader(out: Uint8Array, o: number, pid: number, pusi: boolean, adaptation: boolean, cc: number): void {
  out[o] = TS_SYNC_BYTE;
  out[o + 1] = (pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f);
  out[o + 2] = pid & 0xff;
  out[o + 3] = (adaptation ? 0x30 : 0x10) | cc;
}

/** One section in one packet: pointer_field 0, the section, 0xFF fill (2.4.4.2). */
function sectionPacket(section: Uint8Array, pid: number, ccs: ContinuityCounters): Buffer {
  const out = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  writeTsHeader(out, 0, pid, true, false, nextCc(ccs, pid));
  out[4] = 0; // pointer_field
  out.set(section, 5);
  return out;
}

/** Fill section_length, then CRC_32 over the section; `s` has room for the CRC at its end. */
function finishSection(s: Buffer): Buffer {
  const sectionLength = s.length - 3;
  s[1] = 0xb0 | (sectionLength >> 8); // section_syntax_indicator 1, '0', reserved '11'
  s[2] = sectionLength & 0xff;
  s.writeUInt32BE(crc32Mpeg2(s, 0, s.length - 4), s.length - 4);
  return s;
}

/**
 * A PAT with one program (Table 2-30), in one transport packet on PID 0.
 * @param ccs continuity counters by PID (advanced here).
 */
export function writePatPacket(programNumber: number, pmtPid: number, ccs: ContinuityCounters, transportStreamId = 1): Buffer {
  const s = Buffer.alloc(8 + 4 + 4);
  s[0] = TableId.ProgramAssociation;
  s.writeUInt16BE(transportStreamId, 3);
  s[5] = 0xc1; // reserved '11', version_number 0, current_next_indicator 1
  s[6] = 0; // section_number
  s[7] = 0; // last_section_number
  s.writeUInt16BE(programNumber, 8);
  s.writeUInt16BE(0xe000 | pmtPid, 10);
  return sectionPacket(finishSection(s), PAT_PID, ccs);
}

/**
 * A PMT (Table 2-33) without descriptors, in one transport packet on `pmtPid`.
 * @param versionNumber 5 bits; bump it when the streams change.
 */
export function writePmtPacket(
  programNumber: number, pmtPid: number, pcrPid: number, streams: readonly PmtEntry[], versionNumber: number, ccs: ContinuityCounters,
): Buffer {
  const s = Buffer.alloc(12 + 5 * streams.length + 4);
  s[0] = TableId.ProgramMap;
  s.writeUInt16BE(programNumber, 3);
  s[5] = 0xc1 | ((versionNumber & 0x1f) << 1);
  s[6] = 0;
  s[7] = 0;
  s.writeUInt16BE(0xe000 | pcrPid, 8);
  s.writeUInt16BE(0xf000, 10); // program_info_length 0
  let o = 12;
  for (const e of streams) {
    s[o] = e.streamType;
    s.writeUInt16BE(0xe000 | e.elementaryPid, o + 1);
    s.writeUInt16BE(0xf000, o + 3); // ES_info_length 0
    o += 5;
  }
  return sectionPacket(finishSection(s), pmtPid, ccs);
}

/** Write the PES header at out[o..]; returns its size. */
function writePesHeader(out: Uint8Array, o: number, p: PesOptions, esLength: number): number {
  const withDts = p.dts90k !== p.pts90k;
  const headerSize = withDts ? PES_HEADER_PTS_DTS_SIZE : PES_HEADER_PTS_SIZE;
  const pesPacketLength = headerSize - 6 + esLength;
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = 1;
  out[o + 3] = p.streamId;
  const len = pesPacketLength > MAX_PES_PACKET_LENGTH ? 0 : pesPacketLength;
  out[o + 4] = len >> 8;
  out[o + 5] = len & 0xff;
  out[o + 6] = 0x80 | (p.dataAlignment ? 0x04 : 0); // '10', data_alignment_indicator
  out[o + 7] = withDts ? 0xc0 : 0x80; // PTS_DTS_flags
  out[o + 8] = headerSize - 9; // PES_header_data_length
  writePesTimestamp(out, o + 9, withDts ? 0x3 : 0x2, p.pts90k);
  if (withDts) writePesTimestamp(out, o + 14, 0x1, p.dts90k);
  return headerSize;
}

/** program_clock_reference (2.4.3.5): 33-bit base, 6 reserved bits, 9-bit extension 0. */
function writePcr(out: Uint8Array, o: number, pcr90k: number): void {
  const base = ((pcr90k % 2 ** 33) + 2 ** 33) % 2 ** 33;
  const high = Math.floor(base / 2); // bits 32..1 (fits in 32 bits)
  out[o] = (high >>> 24) & 0xff;
  out[o + 1] = (high >>> 16) & 0xff;
  out[o + 2] = (high >>> 8) & 0xff;
  out[o + 3] = high & 0xff;
  out[o + 4] = ((base % 2) << 7) | 0x7e; // bit 0, reserved '111111', extension bit 8 = 0
  out[o + 5] = 0;
}

/**
 * Packetize one PES whose elementary stream is the concatenation of `es` (views, copied once).
 * @returns one buffer holding all the packets (length a multiple of 188).
 * @throws GatewayError(TooLarge) when the elementary stream exceeds MAX_PES_PAYLOAD_SIZE.
 */
export function writePesPackets(p: PesOptions, es: readonly Uint8Array[], ccs: ContinuityCounters): Buffer {
  let esLength = 0;
  for (let i = 0; i < es.length; i++) esLength += es[i].length;
  if (esLength > MAX_PES_PAYLOAD_SIZE) throw new GatewayError(ErrorCode.TooLarge, `TS mux: PES of ${esLength} bytes exceeds ${MAX_PES_PAYLOAD_SIZE}`);
  const headerScratch = pesHeaderScratch;
  const headerSize = writePesHeader(headerScratch, 0, p, esLength);
  const total = headerSize + esLength;
  const firstAf = p.pcr90k !== undefined ? AF_PCR_SIZE : p.randomAccess ? AF_FLAGS_SIZE : 0;
  const packets = Math.max(1, Math.ceil((total + firstAf) / TS_MAX_PAYLOAD));
  const out = Buffer.allocUnsafe(packets * TS_PACKET_SIZE);
  // Source cursor over [PES header, ...es].
  let src: Uint8Array = headerScratch.subarray(0, headerSize);
  let srcIndex = -1;
  let srcPos = 0;
  let left = total;
  for (let k = 0; k < packets; k++) {
    const o = k * TS_PACKET_SIZE;
    const first = k === 0;
    let afSize = first ? firstAf : 0;
    const room = TS_MAX_PAYLOAD - afSize;
    const payload = Math.min(room, left);
    const stuffing = room - payload;
    afSize += stuffing; // the last packet: an adaptation field of stuffing_bytes (length byte alone for 1 byte)
    writeTsHeader(out, o, p.pid, first, afSize > 0, nextCc(ccs, p.pid));
    let w = o + TS_HEADER_SIZE;
    if (afSize > 0) {
      out[w] = afSize - 1; // adaptation_field_length
      if (afSize > 1) {
        let flags = 0;
        if (first && p.randomAccess) flags |= 0x40;
        if (first && p.pcr90k !== undefined) flags |= 0x10;
        out[w + 1] = flags;
        let f = w + 2;
        if (first && p.pcr90k !== undefined) {
          writePcr(out, f, p.pcr90k);
          f += 6;
        }
        out.fill(0xff, f, w + afSize); // stuffing_byte
      }
      w += afSize;
    }
    // copy `payload` bytes from the source cursor
    let need = payload;
    while (need > 0) {
      if (srcPos === src.length) {
        srcIndex++;
        src = es[srcIndex];
        srcPos = 0;
        continue;
      }
      const n = Math.min(need, src.length - srcPos);
      out.set(src.subarray(srcPos, srcPos + n), w);
      w += n;
      srcPos += n;
      need -= n;
    }
    left -= payload;
  }
  return out;
}

const pesHeaderScratch = new Uint8Array(PES_HEADER_PTS_DTS_SIZE);
