/**
 * Test-only H.265 tools: an RFC 7798 packetizer (single NAL unit, AP, FU) that yields parsed RtpPackets, a raw
 * Annex B → access unit splitter (ITU-T H.265 7.4.2.4.4 order of NAL units), the AUs of an MPEG-TS fixture (PES
 * with PTS/DTS, through our TsDemuxer) and a reader of length-prefixed RTP captures (RFC 4571 framing).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { splitAnnexB } from '../../core/codec/h264/nalu.ts';
import { h265NaluType, isVcl } from '../../core/codec/h265/nalu.ts';
import { parseRtpPacket, serializeRtpPacket, type RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';

export const h265Fixture = (path: string): string => fileURLToPath(new URL(`../../fixtures/${path}`, import.meta.url));

export interface PacketizerOptions {
  /** Largest RTP payload (default 1200). */
  maxPayload?: number;
  /** Put consecutive NAL units that fit into one AP (default true). */
  aggregate?: boolean;
  payloadType?: number;
  ssrc?: number;
}

/** RFC 7798 packetizer state: sequence numbers continue across access units. */
export class RtpH265Packetizer {
  #seq: number;
  readonly #opts: Required<PacketizerOptions>;

  constructor(opts: PacketizerOptions = {}, firstSequenceNumber = 1000) {
    this.#seq = firstSequenceNumber;
    this.#opts = { maxPayload: 1200, aggregate: true, payloadType: 96, ssrc: 0x1234abcd, ...opts };
  }

  /** Payloads of one AU (marker on the last), as parsed RtpPackets. */
  packetize(nalus: readonly Uint8Array[], rtpTimestamp: number): RtpPacket[] {
    const payloads = this.payloads(nalus);
    return payloads.map((payload, i) => this.packet(payload, rtpTimestamp, i === payloads.length - 1));
  }

  /** One RtpPacket around a payload (through serialize + parse, as on the wire). */
  packet(payload: Uint8Array, rtpTimestamp: number, marker: boolean): RtpPacket {
    const { payloadType, ssrc } = this.#opts;
    const datagram = serializeRtpPacket({ marker, payloadType, sequenceNumber: this.#seq, timestamp: rtpTimestamp >>> 0, ssrc, payload });
    this.#seq = (this.#seq + 1) & 0xffff;
    return parseRtpPacket(datagram);
  }

  payloads(nalus: readonly Uint8Array[]): Buffer[] {
    const max = this.#opts.maxPayload;
    const out: Buffer[] = [];
    let group: Uint8Array[] = [];
    let groupSize = 2;
    const flush = (): void => {
      if (group.length === 1) out.push(Buffer.from(group[0]));
      else if (group.length > 1) out.push(aggregationPacket(group));
      group = [];
      groupSize = 2;
    };
    for (const nalu of nalus) {
      if (nalu.length > max) {
        flush();
        out.push(...fragmentationUnits(nalu, max));
        continue;
      }
      if (!this.#opts.aggregate || groupSize + 2 + nalu.length > max) flush();
      group.push(nalu);
      groupSize += 2 + nalu.length;
    }
    flush();
    return out;
  }
}

/** RFC 7798 4.4.2 AP: payload header (type 48, lowest layer/TID of the units) + [size16 | NAL unit]*. */
export function aggregationPacket(nalus: readonly Uint8Array[]): Buffer {
  let tid = 7;
  for (const n of nalus) tid = Math.min(tid, n[1] & 0x07);
  const parts: Buffer[] = [Buffer.from([48 << 1, tid])];
  for (const n of nalus) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(n.length);
    parts.push(len, Buffer.from(n));
  }
  return Buffer.concat(parts);
}

/** RFC 7798 4.4.3 FUs of one NAL unit, each at most `max` bytes. */
export function fragmentationUnits(nalu: Uint8Array, max: number): Buffer[] {
  const type = h265NaluType(nalu);
  const body = nalu.subarray(2);
  const chunk = max - 3;
  const out: Buffer[] = [];
  for (let o = 0; o < body.length; o += chunk) {
    const start = o === 0;
    const end = o + chunk >= body.length;
    const fuHeader = (start ? 0x80 : 0) | (end ? 0x40 : 0) | type;
    out.push(Buffer.concat([Buffer.from([(nalu[0] & 0x81) | (49 << 1), nalu[1], fuHeader]), body.subarray(o, o + chunk)]));
  }
  return out;
}

/**
 * Split a raw H.265 Annex B stream into access units (7.4.2.4.4): a new AU starts at an AUD, VPS, SPS, PPS, prefix
 * SEI or reserved 41..44 / unspecified 48..55 NAL unit that follows a VCL NAL unit, or at a VCL NAL unit with
 * first_slice_segment_in_pic_flag = 1 that follows one.
 */
export function splitH265AccessUnits(annexB: Uint8Array): Uint8Array[][] {
  const aus: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let sawVcl = false;
  for (const nalu of splitAnnexB(annexB)) {
    const type = h265NaluType(nalu);
    const startsAu = (type >= 32 && type <= 35) || type === 39 || (type >= 41 && type <= 44) || (type >= 48 && type <= 55)
      || (isVcl(type) && (nalu[2] & 0x80) !== 0);
    if (startsAu && sawVcl) {
      aus.push(current);
      current = [];
      sawVcl = false;
    }
    current.push(nalu);
    if (isVcl(type)) sawVcl = true;
  }
  if (current.length > 0) aus.push(current);
  return aus;
}

export interface TsAccessUnit {
  nalus: Uint8Array[];
  pts90k: number;
  dts90k: number;
}

/** The video PES of a TS file as AUs (NAL units split from Annex B) with their PTS/DTS. */
export function tsAccessUnits(path: string): TsAccessUnit[] {
  const aus: TsAccessUnit[] = [];
  const d = new TsDemuxer({
    onProgram: () => {},
    onPes: (track, data, pts90k, dts90k) => {
      if (track.codec !== 'h265' || pts90k === undefined) return;
      aus.push({ nalus: splitAnnexB(Buffer.from(data)), pts90k, dts90k: dts90k ?? pts90k });
    },
    onDecodeError: (e) => { throw e; },
    onPcr: () => {},
  });
  d.push(readFileSync(path));
  d.flush();
  return aus;
}

/**
 * Encode a short libx265 raw stream into `dir` (test vectors made at run time, like the fixtures: lavfi testsrc2,
 * single-threaded x265). @returns the .hevc path.
 */
export function encodeHevc(dir: string, name: string, opts: { size: string; pixFmt: string; x265Params: string; frames?: number }): string {
  const out = `${dir}/${name}.hevc`;
  execFileSync('ffmpeg', [
    '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${opts.size}:rate=25`, '-frames:v', String(opts.frames ?? 2),
    '-pix_fmt', opts.pixFmt, '-c:v', 'libx265', '-preset', 'ultrafast',
    '-x265-params', `log-level=error:pools=1:frame-threads=1:${opts.x265Params}`, '-f', 'hevc', out,
  ]);
  return out;
}

/** ffprobe's view of the first video stream of a file. */
export function probeVideo(path: string): Record<string, string | number> {
  const json = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_streams', '-of', 'json', path], { encoding: 'utf8' });
  return (JSON.parse(json) as { streams: Record<string, string | number>[] }).streams[0];
}

/** The `hvcC` box body of an MP4 file (found by walking moov/trak/mdia/minf/stbl/stsd/hvc1|hev1). */
export function mp4HvcC(mp4: Buffer): Buffer {
  const containers = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);
  const walk = (b: Buffer): Buffer | undefined => {
    for (let o = 0; o + 8 <= b.length;) {
      const size = b.readUInt32BE(o);
      const type = b.toString('latin1', o + 4, o + 8);
      const body = b.subarray(o + 8, o + size);
      if (type === 'hvcC') return body;
      if (containers.has(type)) { const r = walk(body); if (r) return r; }
      if (type === 'stsd') { const r = walk(body.subarray(8)); if (r) return r; } // version/flags + entry_count
      if (type === 'hvc1' || type === 'hev1') { const r = walk(body.subarray(78)); if (r) return r; } // VisualSampleEntry
      if (size < 8) break;
      o += size;
    }
    return undefined;
  };
  const box = walk(mp4);
  if (!box) throw new Error('no hvcC box');
  return box;
}
