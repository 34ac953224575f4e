/**
 * Test helper: builds spec-conformant MPEG-TS packets by hand (ISO/IEC 13818-1 Tables 2-2, 2-6, 2-21, 2-30,
 * 2-33) and a recording TsDemuxerSink. Not a test file itself.
 */
import { crc32Mpeg2 } from '../../../../core/protocol/mpegts/psi.ts';
import { writePesTimestamp } from '../../../../core/protocol/mpegts/pes.ts';
import type { TsDemuxerSink, TsProgramSelection, TsTrack } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import type { GatewayError } from '../../../../core/errors.ts';

export const PMT_PID = 0x1000;
export const VIDEO_PID = 0x100;
export const AUDIO_PID = 0x101;

export interface PacketOptions {
  pid: number;
  pusi?: boolean;
  cc: number;
  payload?: Uint8Array;
  randomAccess?: boolean;
  discontinuity?: boolean;
  /** PCR base (90 kHz, 33-bit) and extension (0..299). */
  pcr?: { base: number; ext: number };
  transportError?: boolean;
}

/** One 188-byte packet; the payload (≤ 184 bytes minus the adaptation field) is padded with AF stuffing. */
export function tsPacket(o: PacketOptions): Uint8Array {
  const payload = o.payload ?? new Uint8Array(0);
  const pkt = new Uint8Array(188);
  pkt[0] = 0x47;
  pkt[1] = (o.transportError ? 0x80 : 0) | (o.pusi ? 0x40 : 0) | ((o.pid >> 8) & 0x1f); // TEI, PUSI, PID[12:8]
  pkt[2] = o.pid & 0xff; //                                                                PID[7:0]
  const needAf = o.randomAccess || o.discontinuity || o.pcr !== undefined || payload.length < 184;
  const hasPayload = o.payload !== undefined;
  pkt[3] = ((needAf ? 2 : 0) | (hasPayload ? 1 : 0)) << 4 | (o.cc & 0x0f); // adaptation_field_control, continuity_counter
  let i = 4;
  if (needAf) {
    const afLength = 183 - payload.length; // fills the packet exactly
    const flagged = o.randomAccess || o.discontinuity || o.pcr !== undefined;
    if (afLength < (o.pcr ? 7 : flagged ? 1 : 0)) throw new Error('payload too large for the adaptation field');
    pkt[4] = afLength;
    if (afLength > 0) {
      pkt[5] = (o.discontinuity ? 0x80 : 0) | (o.randomAccess ? 0x40 : 0) | (o.pcr ? 0x10 : 0);
      let j = 6;
      if (o.pcr) {
        const b = o.pcr.base;
        pkt[6] = Math.floor(b / 2 ** 25) & 0xff;
        pkt[7] = Math.floor(b / 2 ** 17) & 0xff;
        pkt[8] = Math.floor(b / 2 ** 9) & 0xff;
        pkt[9] = Math.floor(b / 2) & 0xff;
        pkt[10] = ((b % 2) << 7) | 0x7e | ((o.pcr.ext >> 8) & 1);
        pkt[11] = o.pcr.ext & 0xff;
        j = 12;
      }
      pkt.fill(0xff, j, 5 + afLength); // stuffing_byte
    }
    i = 5 + afLength;
  }
  pkt.set(payload, i);
  return pkt;
}

/** Wrap a section (table_id.. without CRC) with section_length and CRC_32. */
function finishSection(body: number[]): Uint8Array {
  const s = new Uint8Array(body.length + 4);
  s.set(body);
  const sectionLength = s.length - 3;
  s[1] = 0xb0 | ((sectionLength >> 8) & 0x0f); // section_syntax_indicator 1, '0', reserved '11'
  s[2] = sectionLength & 0xff;
  const crc = crc32Mpeg2(s, 0, s.length - 4);
  s[s.length - 4] = crc >>> 24; s[s.length - 3] = (crc >>> 16) & 0xff; s[s.length - 2] = (crc >>> 8) & 0xff; s[s.length - 1] = crc & 0xff;
  return s;
}

/** program_association_section: [program_number, program_map_PID][]. */
export function patSection(programs: [number, number][], version = 0): Uint8Array {
  const body = [0x00, 0, 0, 0x00, 0x01, 0xc1 | (version << 1), 0x00, 0x00]; // table_id, len, tsid=1, version/cni, section 0/0
  for (const [pn, pid] of programs) body.push(pn >> 8, pn & 0xff, 0xe0 | (pid >> 8), pid & 0xff);
  return finishSection(body);
}

/** TS_program_map_section: [stream_type, elementary_PID][] (no descriptors). */
export function pmtSection(programNumber: number, pcrPid: number, streams: [number, number][], version = 0): Uint8Array {
  const body = [0x02, 0, 0, programNumber >> 8, programNumber & 0xff, 0xc1 | (version << 1), 0x00, 0x00, 0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0x00];
  for (const [type, pid] of streams) body.push(type, 0xe0 | (pid >> 8), pid & 0xff, 0xf0, 0x00);
  return finishSection(body);
}

/** One packet carrying `section` after pointer_field 0 (the section must fit: ≤ 183 bytes). */
export function psiPacket(pid: number, section: Uint8Array, cc: number): Uint8Array {
  const payload = new Uint8Array(184).fill(0xff);
  payload[0] = 0; // pointer_field
  payload.set(section, 1);
  return tsPacket({ pid, pusi: true, cc, payload });
}

export interface PesOptions {
  streamId?: number;
  pts?: number;
  dts?: number;
  /** PES_packet_length: 'auto' = exact (default), 0 = unbounded, or an explicit (possibly wrong) value. */
  length?: 'auto' | number;
}

/** A complete PES packet (header + payload). */
export function pesBytes(payload: Uint8Array, o: PesOptions = {}): Uint8Array {
  const hdl = o.pts === undefined ? 0 : o.dts === undefined ? 5 : 10;
  const pes = new Uint8Array(9 + hdl + payload.length);
  pes[2] = 0x01; // packet_start_code_prefix 00 00 01
  pes[3] = o.streamId ?? 0xe0;
  const len = o.length === undefined || o.length === 'auto' ? pes.length - 6 : o.length;
  pes[4] = len >> 8; pes[5] = len & 0xff; //                           PES_packet_length
  pes[6] = 0x80; //                                                    '10', no scrambling/priority/alignment
  pes[7] = o.pts === undefined ? 0 : o.dts === undefined ? 0x80 : 0xc0; // PTS_DTS_flags
  pes[8] = hdl; //                                                     PES_header_data_length
  if (o.pts !== undefined) writePesTimestamp(pes, 9, o.dts === undefined ? 0x2 : 0x3, o.pts);
  if (o.dts !== undefined) writePesTimestamp(pes, 14, 0x1, o.dts);
  pes.set(payload, 9 + hdl);
  return pes;
}

/** Split a PES into packets on `pid`, counters from `cc`; returns the packets. */
export function pesPackets(pid: number, pes: Uint8Array, cc: number, randomAccess = false): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0, n = 0; i < pes.length; n++) {
    const first = i === 0;
    const room = first && randomAccess ? 182 : 184;
    const take = Math.min(room, pes.length - i);
    out.push(tsPacket({ pid, pusi: first, cc: (cc + n) & 0x0f, payload: pes.subarray(i, i + take), randomAccess: first && randomAccess }));
    i += take;
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** PAT + PMT (H.264 on VIDEO_PID, AAC on AUDIO_PID unless `streams` given) as two packets. */
export function programPackets(streams: [number, number][] = [[0x1b, VIDEO_PID], [0x0f, AUDIO_PID]], cc = 0): Uint8Array[] {
  return [psiPacket(0, patSection([[1, PMT_PID]]), cc), psiPacket(PMT_PID, pmtSection(1, streams[0]![1], streams), cc)];
}

export interface PesEvent { pid: number; codec: string; data: Buffer; pts: number | undefined; dts: number | undefined; randomAccess: boolean }

/** A sink that records everything. */
export function recorder(): TsDemuxerSink & {
  programs: { programNumber: number; tracks: readonly TsTrack[] }[]; selections: TsProgramSelection[]; pes: PesEvent[]; errors: GatewayError[]; pcrs: number[];
} {
  const r = {
    programs: [] as { programNumber: number; tracks: readonly TsTrack[] }[],
    selections: [] as TsProgramSelection[],
    pes: [] as PesEvent[],
    errors: [] as GatewayError[],
    pcrs: [] as number[],
    onProgram(programNumber: number, tracks: readonly TsTrack[]) { r.programs.push({ programNumber, tracks }); },
    onProgramSelected(selection: TsProgramSelection) { r.selections.push(selection); },
    onPes(track: TsTrack, data: Buffer, pts: number | undefined, dts: number | undefined, randomAccess: boolean) {
      r.pes.push({ pid: track.pid, codec: track.codec, data, pts, dts, randomAccess });
    },
    onDecodeError(err: GatewayError) { r.errors.push(err); },
    onPcr(pcr: number) { r.pcrs.push(pcr); },
  };
  return r;
}
