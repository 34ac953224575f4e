/**
 * Program Specific Information (ISO/IEC 13818-1, 2.4.4): PAT (2.4.4.3 / Table 2-30), PMT (2.4.4.8 /
 * Table 2-33), stream_type (Table 2-34), CRC-32/MPEG-2 (Annex A), and the reassembly of sections carried in
 * transport packet payloads (pointer_field, 2.4.4.2).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** ISO/IEC 13818-1 Table 2-34 stream_type (subset). */
export const StreamType = { Mpeg1Audio: 0x03, Mpeg2Audio: 0x04, AdtsAac: 0x0f, H264: 0x1b, H265: 0x24 } as const;
export type StreamType = (typeof StreamType)[keyof typeof StreamType];

/** Codec of an elementary stream as the gateway names it. MPEG-1/2 audio (any layer) is labelled 'mp3'. */
export type TsCodec = 'h264' | 'h265' | 'aac' | 'mp3' | 'unknown';

/** Codec for a stream_type; 'unknown' for every type the gateway does not carry. */
export function codecOfStreamType(streamType: number): TsCodec {
  switch (streamType) {
    case StreamType.H264: return 'h264';
    case StreamType.H265: return 'h265';
    case StreamType.AdtsAac: return 'aac';
    case StreamType.Mpeg1Audio:
    case StreamType.Mpeg2Audio: return 'mp3';
    default: return 'unknown';
  }
}

/** table_id (Table 2-31). */
export const TableId = { ProgramAssociation: 0x00, ProgramMap: 0x02 } as const;

/** Largest PAT/PMT section: section_length ≤ 1021 (2.4.4.4, 2.4.4.9) + 3 header bytes. */
export const MAX_SECTION_SIZE = 1024;
const MAX_SECTION_LENGTH = 1021;
/** table_id..last_section_number (8 bytes) + CRC_32 (4). */
const SECTION_MIN_SIZE = 12;
/** PMT fixed part: 8 + PCR_PID (2) + program_info_length (2). */
const PMT_FIXED_SIZE = 12;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32/MPEG-2 (Annex A: polynomial 0x04C11DB7, init 0xFFFFFFFF, MSB first, no final xor) of
 * `buf[start, end)`. Over a whole section including its CRC_32 field the result is 0.
 */
export function crc32Mpeg2(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]) & 0xff];
  return crc >>> 0;
}

/** One program of a PAT. program_number 0 (network_PID) is listed too; callers skip it. */
export interface PatProgram { readonly programNumber: number; readonly pmtPid: number }
export interface PatSection {
  readonly transportStreamId: number;
  readonly versionNumber: number;
  readonly currentNextIndicator: boolean;
  readonly programs: readonly PatProgram[];
}
export interface PmtStream { readonly streamType: number; readonly elementaryPid: number }
export interface PmtSection {
  readonly programNumber: number;
  readonly versionNumber: number;
  readonly currentNextIndicator: boolean;
  readonly pcrPid: number;
  readonly streams: readonly PmtStream[];
}

/** Common section checks: size, section_syntax_indicator, CRC. Returns the index of the CRC_32 field. */
function checkSection(section: Uint8Array, tableId: number, what: string): number {
  if (section.length < SECTION_MIN_SIZE) throw new GatewayError(ErrorCode.TsPsi, `${what}: section of ${section.length} bytes is too short`);
  if (section[0] !== tableId) throw new GatewayError(ErrorCode.TsPsi, `${what}: table_id 0x${section[0].toString(16)}`);
  if ((section[1] & 0x80) === 0) throw new GatewayError(ErrorCode.TsPsi, `${what}: section_syntax_indicator is 0`);
  const sectionLength = ((section[1] & 0x0f) << 8) | section[2];
  if (sectionLength > MAX_SECTION_LENGTH || 3 + sectionLength > section.length || 3 + sectionLength < SECTION_MIN_SIZE) {
    throw new GatewayError(ErrorCode.TsPsi, `${what}: section_length ${sectionLength} does not fit`);
  }
  const end = 3 + sectionLength;
  if (crc32Mpeg2(section, 0, end) !== 0) throw new GatewayError(ErrorCode.TsCrc, `${what}: CRC_32 mismatch`);
  return end - 4;
}

/**
 * Parse a program_association_section (Table 2-30). `section` starts at table_id.
 * @throws GatewayError TsCrc on a CRC mismatch, TsPsi on a malformed section.
 */
export function parsePat(section: Uint8Array): PatSection {
  const crcAt = checkSection(section, TableId.ProgramAssociation, 'PAT');
  const programs: PatProgram[] = [];
  for (let i = 8; i + 4 <= crcAt; i += 4) {
    programs.push({ programNumber: (section[i] << 8) | section[i + 1], pmtPid: ((section[i + 2] & 0x1f) << 8) | section[i + 3] });
  }
  return {
    transportStreamId: (section[3] << 8) | section[4],
    versionNumber: (section[5] >> 1) & 0x1f,
    currentNextIndicator: (section[5] & 0x01) !== 0,
    programs,
  };
}

/**
 * Parse a TS_program_map_section (Table 2-33). `section` starts at table_id. Descriptors are skipped.
 * @throws GatewayError TsCrc on a CRC mismatch, TsPsi on a malformed section (lengths past the end).
 */
export function parsePmt(section: Uint8Array): PmtSection {
  const crcAt = checkSection(section, TableId.ProgramMap, 'PMT');
  if (crcAt < PMT_FIXED_SIZE) throw new GatewayError(ErrorCode.TsPsi, 'PMT: section too short');
  const programInfoLength = ((section[10] & 0x0f) << 8) | section[11];
  let i = PMT_FIXED_SIZE + programInfoLength;
  if (i > crcAt) throw new GatewayError(ErrorCode.TsPsi, `PMT: program_info_length ${programInfoLength} past the end`);
  const streams: PmtStream[] = [];
  while (i + 5 <= crcAt) {
    const esInfoLength = ((section[i + 3] & 0x0f) << 8) | section[i + 4];
    if (i + 5 + esInfoLength > crcAt) throw new GatewayError(ErrorCode.TsPsi, `PMT: ES_info_length ${esInfoLength} past the end`);
    streams.push({ streamType: section[i], elementaryPid: ((section[i + 1] & 0x1f) << 8) | section[i + 2] });
    i += 5 + esInfoLength;
  }
  return {
    programNumber: (section[3] << 8) | section[4],
    versionNumber: (section[5] >> 1) & 0x1f,
    currentNextIndicator: (section[5] & 0x01) !== 0,
    pcrPid: ((section[8] & 0x1f) << 8) | section[9],
    streams,
  };
}

/** Receives the complete sections of one PID (a view valid only during the call) and framing errors. */
export interface PsiSectionSink {
  onSection(section: Uint8Array): void;
  onSectionError(err: GatewayError): void;
}

/**
 * Reassembles PSI sections from the payloads of one PID (2.4.4.2): on payload_unit_start_indicator the
 * pointer_field gives where the new section starts; bytes before it finish the previous one. Several sections
 * may follow each other in one payload until a 0xFF stuffing byte. A section is handed over as a view of the
 * payload when it lies in one packet, else from a fixed MAX_SECTION_SIZE buffer (no allocation per packet).
 */
export class PsiSectionAssembler {
  readonly #sink: PsiSectionSink;
  readonly #buf = new Uint8Array(MAX_SECTION_SIZE);
  #size = 0;
  /** Expected total size of the section being collected; 0 = idle (waiting for a PUSI). */
  #expected = 0;

  constructor(sink: PsiSectionSink) {
    this.#sink = sink;
  }

  /** Feed the payload `buf[start, end)` of one packet of this PID. */
  push(buf: Uint8Array, start: number, end: number, payloadUnitStart: boolean): void {
    let i = start;
    if (payloadUnitStart) {
      if (i >= end) return;
      const pointerField = buf[i];
      i++;
      const sectionStart = i + pointerField;
      if (sectionStart > end) {
        this.#expected = 0;
        this.#sink.onSectionError(new GatewayError(ErrorCode.TsPsi, `pointer_field ${pointerField} past the end of the packet`));
        return;
      }
      if (this.#expected !== 0) this.#append(buf, i, sectionStart);
      this.#expected = 0;
      i = sectionStart;
      while (i < end && buf[i] !== 0xff) {
        i = this.#begin(buf, i, end);
      }
    } else if (this.#expected !== 0) {
      this.#append(buf, i, end);
    }
  }

  /** Drop a partially collected section (continuity gap, reset). */
  reset(): void {
    this.#expected = 0;
    this.#size = 0;
  }

  /** Start a section at buf[i]; returns the index after what was consumed. */
  #begin(buf: Uint8Array, i: number, end: number): number {
    if (end - i < 3) {
      // section header split over packets: collect it and learn the length later
      this.#buf.set(buf.subarray(i, end), 0);
      this.#size = end - i;
      this.#expected = -1;
      return end;
    }
    const total = 3 + (((buf[i + 1] & 0x0f) << 8) | buf[i + 2]);
    if (total > MAX_SECTION_SIZE) {
      this.#sink.onSectionError(new GatewayError(ErrorCode.TsPsi, `section_length ${total - 3} exceeds ${MAX_SECTION_SIZE - 3}`));
      return end;
    }
    if (i + total <= end) {
      this.#sink.onSection(buf.subarray(i, i + total));
      return i + total;
    }
    this.#buf.set(buf.subarray(i, end), 0);
    this.#size = end - i;
    this.#expected = total;
    return end;
  }

  #append(buf: Uint8Array, start: number, end: number): void {
    let i = start;
    if (this.#expected < 0) {
      while (this.#size < 3 && i < end) this.#buf[this.#size++] = buf[i++];
      if (this.#size < 3) return;
      const total = 3 + (((this.#buf[1] & 0x0f) << 8) | this.#buf[2]);
      if (total > MAX_SECTION_SIZE) {
        this.#expected = 0;
        this.#sink.onSectionError(new GatewayError(ErrorCode.TsPsi, `section_length ${total - 3} exceeds ${MAX_SECTION_SIZE - 3}`));
        return;
      }
      this.#expected = total;
    }
    const n = Math.min(end - i, this.#expected - this.#size);
    this.#buf.set(buf.subarray(i, i + n), this.#size);
    this.#size += n;
    if (this.#size === this.#expected) {
      this.#expected = 0;
      this.#sink.onSection(this.#buf.subarray(0, this.#size));
    }
  }
}
