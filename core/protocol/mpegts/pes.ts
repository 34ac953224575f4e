/**
 * PES packet (ISO/IEC 13818-1, 2.4.3.6 / Table 2-21): header parse (packet_start_code_prefix, stream_id,
 * PES_packet_length, PTS_DTS_flags, PES_header_data_length), 33-bit PTS/DTS read/write, and the reassembly of
 * one PES from transport packet payloads (views while collecting, one copy on completion).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** PTS/DTS are 33-bit counters of a 90 kHz clock (2.4.3.7). Never use bitwise operators on them. */
export const PTS_MODULO = 2 ** 33;
/**
 * Largest PES accepted (header + payload). Video PES usually have PES_packet_length 0 (unbounded), so this is
 * the real bound: mediacommon notes a 50 Mbit/s 2160p60 H.264 access unit does not seem to exceed 8 MiB.
 */
export const MAX_PES_SIZE = 8 * 1024 * 1024;
/** packet_start_code_prefix (3) + stream_id (1) + PES_packet_length (2). */
export const PES_FIXED_SIZE = 6;
/** Fixed part + '10' flags byte + PTS_DTS flags byte + PES_header_data_length byte. */
const PES_OPTIONAL_HEADER_OFFSET = 9;
/** Largest PES header: 9 + PES_header_data_length (8 bits). */
const MAX_PES_HEADER_SIZE = PES_OPTIONAL_HEADER_OFFSET + 255;

/** stream_id values whose PES has no optional header (2.4.3.7, Table 2-22). */
function hasOptionalHeader(streamId: number): boolean {
  return !(
    streamId === 0xbc || // program_stream_map
    streamId === 0xbe || // padding_stream
    streamId === 0xbf || // private_stream_2
    streamId === 0xf0 || // ECM
    streamId === 0xf1 || // EMM
    streamId === 0xf2 || // DSMCC_stream
    streamId === 0xf8 || // ITU-T H.222.1 type E
    streamId === 0xff //    program_stream_directory
  );
}

/** Parsed PES header. Timestamps are raw 33-bit 90 kHz values. */
export interface PesHeader {
  readonly streamId: number;
  /** PES_packet_length: bytes after this field; 0 = unbounded (video in TS). */
  readonly pesPacketLength: number;
  readonly pts90k: number | undefined;
  /** DTS, or the PTS when the header carries no DTS (PTS_DTS_flags '10'); undefined without PTS. */
  readonly dts90k: number | undefined;
  /** Offset of the first payload byte (6 or 9 + PES_header_data_length). */
  readonly headerLength: number;
}

/**
 * Read a 33-bit PTS/DTS field (5 bytes: 4-bit prefix, 3 bits, marker, 15 bits, marker, 15 bits, marker).
 * Marker bits are not checked. Arithmetic only: the value exceeds 32 bits.
 */
export function readPesTimestamp(buf: Uint8Array, offset: number): number {
  return (
    (buf[offset] & 0x0e) * 0x20000000 + // bits 32..30 at bit positions 3..1 → × 2^29
    buf[offset + 1] * 0x400000 + //         bits 29..22
    (buf[offset + 2] & 0xfe) * 0x4000 + //  bits 21..15 at positions 7..1 → × 2^14
    buf[offset + 3] * 0x80 + //             bits 14..7
    (buf[offset + 4] >> 1) //               bits 6..0
  );
}

/**
 * Write a 33-bit PTS/DTS field at `out[offset .. offset+5)` with the 4-bit `prefix` ('0010' PTS only, '0011'
 * PTS of a PTS+DTS pair, '0001' DTS) and marker bits set. `ts90k` is taken modulo 2^33.
 */
export function writePesTimestamp(out: Uint8Array, offset: number, prefix: number, ts90k: number): void {
  const ts = ((ts90k % PTS_MODULO) + PTS_MODULO) % PTS_MODULO;
  const high3 = Math.floor(ts / 0x40000000); // bits 32..30
  const low30 = ts % 0x40000000; // fits in 31-bit signed ints from here on
  out[offset] = (prefix << 4) | (high3 << 1) | 0x01;
  out[offset + 1] = (low30 >> 22) & 0xff;
  out[offset + 2] = (((low30 >> 15) & 0x7f) << 1) | 0x01;
  out[offset + 3] = (low30 >> 7) & 0xff;
  out[offset + 4] = ((low30 & 0x7f) << 1) | 0x01;
}

/**
 * Parse the PES header at the start of `data`.
 * @returns undefined when `data` is too short to hold the whole header (need more bytes).
 * @throws GatewayError TsPes on a bad packet_start_code_prefix, forbidden PTS_DTS_flags '01', or a header
 * longer than PES_packet_length allows.
 */
export function parsePesHeader(data: Uint8Array): PesHeader | undefined {
  if (data.length < PES_FIXED_SIZE) return undefined;
  if (data[0] !== 0x00 || data[1] !== 0x00 || data[2] !== 0x01) {
    throw new GatewayError(ErrorCode.TsPes, 'PES: packet_start_code_prefix is not 0x000001');
  }
  const streamId = data[3];
  const pesPacketLength = (data[4] << 8) | data[5];
  if (!hasOptionalHeader(streamId)) {
    return { streamId, pesPacketLength, pts90k: undefined, dts90k: undefined, headerLength: PES_FIXED_SIZE };
  }
  if (data.length < PES_OPTIONAL_HEADER_OFFSET) return undefined;
  const ptsDtsFlags = data[7] >> 6;
  const headerLength = PES_OPTIONAL_HEADER_OFFSET + data[8];
  if (pesPacketLength !== 0 && headerLength > PES_FIXED_SIZE + pesPacketLength) {
    throw new GatewayError(ErrorCode.TsPes, `PES: PES_header_data_length ${data[8]} exceeds PES_packet_length ${pesPacketLength}`);
  }
  if (ptsDtsFlags === 0x01) throw new GatewayError(ErrorCode.TsPes, "PES: forbidden PTS_DTS_flags '01'");
  const timestampsSize = ptsDtsFlags === 0x03 ? 10 : ptsDtsFlags === 0x02 ? 5 : 0;
  if (headerLength < PES_OPTIONAL_HEADER_OFFSET + timestampsSize) {
    throw new GatewayError(ErrorCode.TsPes, `PES: PES_header_data_length ${data[8]} too short for PTS_DTS_flags ${ptsDtsFlags}`);
  }
  if (data.length < headerLength) return undefined;
  let pts90k: number | undefined;
  let dts90k: number | undefined;
  if (ptsDtsFlags >= 0x02) {
    pts90k = readPesTimestamp(data, PES_OPTIONAL_HEADER_OFFSET);
    dts90k = ptsDtsFlags === 0x03 ? readPesTimestamp(data, PES_OPTIONAL_HEADER_OFFSET + 5) : pts90k;
  }
  return { streamId, pesPacketLength, pts90k, dts90k, headerLength };
}

/** Result of `PesAssembler.add`. */
export const PesAddResult = { Collecting: 0, Complete: 1, BadStartCode: 2, TooLarge: 3 } as const;
export type PesAddResult = (typeof PesAddResult)[keyof typeof PesAddResult];

/** A reassembled PES: owned payload bytes (elementary stream) and header values. */
export interface PesPacket {
  readonly header: PesHeader;
  readonly data: Buffer;
}

/** Shared scratch for headers split over packets (used synchronously inside one call only). */
const headerScratch = new Uint8Array(MAX_PES_HEADER_SIZE);

/**
 * Collects the payloads of one PES (one PID) as views: parallel arrays of (buffer, start, end), reused across
 * PES, so collecting allocates nothing per packet. Payloads that live in a transient scratch buffer are copied
 * (`transient`). `finish()` parses the header and copies the payload once into an owned Buffer.
 */
export class PesAssembler {
  readonly #bufs: Uint8Array[] = [];
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  #count = 0;
  #size = 0;
  /** Total PES size: -1 = not known yet (< 6 bytes collected), 0 = unbounded, else 6 + PES_packet_length. */
  #expected = -1;
  #active = false;
  /** random_access_indicator of the PES's first packet. */
  randomAccess = false;

  /** True between `start` and `finish`/`drop`. */
  get active(): boolean {
    return this.#active;
  }
  /** Bytes collected so far. */
  get size(): number {
    return this.#size;
  }
  /** True when the PES_packet_length is known (non-zero) and not yet reached. */
  get lengthPending(): boolean {
    return this.#expected !== 0;
  }

  /** Begin a new PES with its first payload (payload_unit_start_indicator); forgets any previous one. */
  start(buf: Uint8Array, start: number, end: number, randomAccess: boolean, transient: boolean): PesAddResult {
    this.drop();
    this.#active = true;
    this.randomAccess = randomAccess;
    return this.add(buf, start, end, transient);
  }

  /** Append the payload `buf[start, end)` of the next packet. */
  add(buf: Uint8Array, start: number, end: number, transient: boolean): PesAddResult {
    if (end > start) {
      const n = this.#count++;
      if (transient) {
        this.#bufs[n] = buf.slice(start, end);
        this.#starts[n] = 0;
        this.#ends[n] = end - start;
      } else {
        this.#bufs[n] = buf;
        this.#starts[n] = start;
        this.#ends[n] = end;
      }
      this.#size += end - start;
    }
    if (this.#expected < 0 && this.#size >= PES_FIXED_SIZE) {
      const head = this.#gather(PES_FIXED_SIZE);
      if (head[0] !== 0x00 || head[1] !== 0x00 || head[2] !== 0x01) return PesAddResult.BadStartCode;
      const pesPacketLength = (head[4] << 8) | head[5];
      this.#expected = pesPacketLength === 0 ? 0 : PES_FIXED_SIZE + pesPacketLength;
    }
    if (this.#size > MAX_PES_SIZE) return PesAddResult.TooLarge;
    return this.#expected > 0 && this.#size >= this.#expected ? PesAddResult.Complete : PesAddResult.Collecting;
  }

  /**
   * Complete the PES: parse its header and copy the payload (up to PES_packet_length when known) once.
   * The assembler is idle afterwards.
   * @throws GatewayError TsPes when the header is invalid or longer than the bytes collected.
   */
  finish(): PesPacket {
    try {
      const total = this.#expected > 0 ? Math.min(this.#expected, this.#size) : this.#size;
      const first = this.#count > 0 ? this.#bufs[0]!.subarray(this.#starts[0], this.#ends[0]) : headerScratch.subarray(0, 0);
      let header = parsePesHeader(first);
      if (header === undefined) header = parsePesHeader(this.#gather(Math.min(total, MAX_PES_HEADER_SIZE)));
      if (header === undefined || header.headerLength > total) {
        throw new GatewayError(ErrorCode.TsPes, `PES: ${total} bytes do not hold the whole PES header`);
      }
      const data = Buffer.allocUnsafe(total - header.headerLength);
      let skip = header.headerLength;
      let o = 0;
      for (let k = 0; k < this.#count && o < data.length; k++) {
        let s = this.#starts[k]!;
        const e = this.#ends[k]!;
        if (skip >= e - s) {
          skip -= e - s;
          continue;
        }
        s += skip;
        skip = 0;
        const n = Math.min(e - s, data.length - o);
        data.set(this.#bufs[k]!.subarray(s, s + n), o);
        o += n;
      }
      return { header, data };
    } finally {
      this.drop();
    }
  }

  /** Forget the PES being collected (releases the views). */
  drop(): void {
    for (let k = 0; k < this.#count; k++) this.#bufs[k] = EMPTY;
    this.#count = 0;
    this.#size = 0;
    this.#expected = -1;
    this.#active = false;
    this.randomAccess = false;
  }

  /** The first `n` collected bytes (n ≤ MAX_PES_HEADER_SIZE), copied into the shared scratch. */
  #gather(n: number): Uint8Array {
    let o = 0;
    for (let k = 0; k < this.#count && o < n; k++) {
      const len = Math.min(this.#ends[k]! - this.#starts[k]!, n - o);
      headerScratch.set(this.#bufs[k]!.subarray(this.#starts[k], this.#starts[k]! + len), o);
      o += len;
    }
    return headerScratch.subarray(0, o);
  }
}

const EMPTY = new Uint8Array(0);
