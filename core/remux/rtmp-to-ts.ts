/**
 * MPEG-TS muxer (ISO/IEC 13818-1): RtmpMessages of one stream → 188-byte transport packets, for HLS segments and
 * HTTP live TS (SRS SrsTsMuxer / SrsTsContext). This is the codec-aware mapping from the internal currency to TS
 * (FLV tag bodies → elementary streams); the wire format itself (PAT/PMT sections, PES headers, packetization,
 * PCR, continuity counters) is core/protocol/mpegts/ts-writer.ts.
 *
 * - One program: PAT on PID 0, PMT on `pmtPid`, video (H.264, stream_type 0x1B, or H.265, 0x24) and audio (ADTS AAC
 *   0x0F or MPEG audio 0x03) elementary streams. The PCR is carried in the first packet of every PES on the video PID (audio
 *   PID for an audio-only program), PCR base = DTS.
 * - Timestamps: DTS = RTMP timestamp (ms) × 90; PTS = (timestamp + CompositionTime) × 90; written modulo 2^33.
 * - Video: AVCC → Annex-B (4-byte start codes); an AUD starts every access unit and the SPS/PPS of the last
 *   AVCDecoderConfigurationRecord are inserted before every IDR that lacks them (ISO/IEC 14496-10 Annex B;
 *   what HLS players require to start at any segment).
 * - H.265 (Enhanced RTMP FourCC 'hvc1', or legacy FLV CodecID 12): the same with the HEVCDecoderConfigurationRecord:
 *   AUD (type 35) first, VPS/SPS/PPS before every IRAP picture that lacks them (ISO/IEC 13818-1 2.17 HEVC video).
 *   The video codec given to `configure` is a default: the codec of the last video sequence header written wins,
 *   so a caller that only knows "there is video" gets the right stream_type (see `tsVideoCodecOf`).
 * - AAC: each raw frame gets a 7-byte ADTS header built from the last AudioSpecificConfig; one PES per frame.
 * - MP3: frames pass through unchanged.
 * - continuity_counter per PID lives as long as the instance: one muxer per stream (HLS: across segments; HTTP:
 *   one per player), `writeTables()` at every segment start keeps the counters continuous.
 *
 * Pure: no I/O; packets are appended to the caller's array (one buffer per PES / per table).
 */
import { ErrorCode, GatewayError } from '../errors.ts';
import { MessageType, SoundFormat, VideoCodecId, type RtmpMessage } from '../media/message.ts';
import { NaluType, splitAvcc } from '../codec/h264/nalu.ts';
import { parseAvcDecoderConfigurationRecord } from '../codec/h264/avc-decoder-config.ts';
import { H265NaluType, isIrap } from '../codec/h265/nalu.ts';
import { parseHevcDecoderConfigurationRecord } from '../codec/h265/hevc-decoder-config.ts';
import { parseAudioSpecificConfig, type AudioSpecificConfig } from '../codec/aac/audio-specific-config.ts';
import { ADTS_HEADER_LENGTH, MAX_ADTS_FRAME_LENGTH, writeAdtsHeader } from '../codec/aac/adts.ts';
import { AacPacketType, AvcPacketType, ExVideoPacketType, readAudioTagHeader, readVideoTagHeader } from '../protocol/flv/flv-tag.ts';
import { StreamType } from '../protocol/mpegts/psi.ts';
import {
  PesStreamId, writePatPacket, writePesPackets, writePmtPacket, type ContinuityCounters, type PmtEntry,
} from '../protocol/mpegts/ts-writer.ts';

export type TsVideoCodec = 'h264' | 'h265';
export type TsAudioCodec = 'aac' | 'mp3';

export interface TsMuxerOptions {
  /** Video elementary PID (default 0x100, as SRS and ffmpeg). */
  videoPid?: number;
  /** Audio elementary PID (default 0x101). */
  audioPid?: number;
  /** PMT PID (default 0x1000, as ffmpeg). */
  pmtPid?: number;
  /** program_number (default 1). */
  programNumber?: number;
}

/** RTMP ms → 90 kHz. */
const TICKS_PER_MS = 90;
const START_CODE = new Uint8Array([0, 0, 0, 1]);
/** start code + access_unit_delimiter (primary_pic_type 7: any slice type) + rbsp_stop_one_bit (7.3.2.4). */
const AUD_NALU = new Uint8Array([0, 0, 0, 1, NaluType.Aud, 0xf0]);
/** start code + H.265 AUD: NAL header (type 35, layer 0, TID 0) + pic_type 2 (I, P, B) + rbsp_stop_one_bit (7.3.2.5). */
const H265_AUD_NALU = new Uint8Array([0, 0, 0, 1, H265NaluType.Aud << 1, 0x01, 0x50]);

/**
 * The TS video codec of a video message (FLV CodecID 7 / FourCC 'avc1' → 'h264'; CodecID 12 / 'hvc1' → 'h265'),
 * undefined for anything else (other codecs, command frames, empty payloads). Callers choosing the program use it.
 */
export function tsVideoCodecOf(msg: RtmpMessage): TsVideoCodec | undefined {
  const p = msg.payload;
  if (msg.type !== MessageType.Video || p.length === 0) return undefined;
  if ((p[0] & 0x80) !== 0) {
    if (p.length < 5) return undefined;
    const fourCc = String.fromCharCode(p[1], p[2], p[3], p[4]);
    return fourCc === 'avc1' ? 'h264' : fourCc === 'hvc1' ? 'h265' : undefined;
  }
  const codecId = p[0] & 0x0f;
  return codecId === VideoCodecId.Avc ? 'h264' : codecId === VideoCodecId.HevcLegacy ? 'h265' : undefined;
}

export class TsMuxer {
  readonly #videoPid: number;
  readonly #audioPid: number;
  readonly #pmtPid: number;
  readonly #programNumber: number;
  readonly #ccs: ContinuityCounters = new Map();
  #video: TsVideoCodec | undefined;
  /** Codec of the last video sequence header; overrides the configured default. */
  #videoSeen: TsVideoCodec | undefined;
  #audio: TsAudioCodec | undefined;
  #pmtVersion = 0;
  /** SPS/PPS (H.264) or VPS/SPS/PPS (H.265) NAL units of the last decoder configuration record (views into its owned payload). */
  #parameterSets: Uint8Array[] = [];
  #naluLengthSize: 1 | 2 | 4 = 4;
  #asc: AudioSpecificConfig | undefined;
  /** Scratch list of ES views for one PES (reused). */
  readonly #es: Uint8Array[] = [];

  constructor(opts: TsMuxerOptions = {}) {
    this.#videoPid = opts.videoPid ?? 0x100;
    this.#audioPid = opts.audioPid ?? 0x101;
    this.#pmtPid = opts.pmtPid ?? 0x1000;
    this.#programNumber = opts.programNumber ?? 1;
  }

  get videoCodec(): TsVideoCodec | undefined {
    return this.#video;
  }
  get audioCodec(): TsAudioCodec | undefined {
    return this.#audio;
  }

  /**
   * Set the program's elementary streams. A change after tables were written bumps the PMT version_number;
   * call `writeTables` afterwards. Messages of a track that is not configured are ignored by `writeMessage`.
   */
  configure(video: TsVideoCodec | undefined, audio: TsAudioCodec | undefined): void {
    if (video !== undefined && this.#videoSeen !== undefined) video = this.#videoSeen;
    if (video === this.#video && audio === this.#audio) return;
    this.#video = video;
    this.#audio = audio;
    this.#pmtVersion = (this.#pmtVersion + 1) & 0x1f;
  }

  /** Append a PAT and a PMT packet (segment start; periodically for live). */
  writeTables(out: Buffer[]): void {
    const streams: PmtEntry[] = [];
    if (this.#video !== undefined) {
      streams.push({ streamType: this.#video === 'h265' ? StreamType.H265 : StreamType.H264, elementaryPid: this.#videoPid });
    }
    if (this.#audio !== undefined) {
      streams.push({ streamType: this.#audio === 'aac' ? StreamType.AdtsAac : StreamType.Mpeg1Audio, elementaryPid: this.#audioPid });
    }
    out.push(writePatPacket(this.#programNumber, this.#pmtPid, this.#ccs));
    out.push(writePmtPacket(this.#programNumber, this.#pmtPid, this.#pcrPid(), streams, this.#pmtVersion, this.#ccs));
  }

  /**
   * Mux one message. Sequence headers update the codec state and write nothing; metadata is ignored; media of an
   * unconfigured track, AAC before its AudioSpecificConfig and empty frames are skipped.
   * A video sequence header of the other codec (H.264 ⇄ H.265) switches a configured video track to it and bumps
   * the PMT version: call `writeTables` before the next keyframe. A frame of the other codec without such a
   * sequence header is an AvcConfig/HevcConfig error.
   * @throws GatewayError TsUnsupportedCodec for video other than H.264/H.265 or audio other than AAC/MP3;
   *   FlvTag/AvcConfig/HevcConfig/AacConfig/H264Nalu/AacAdts/TooLarge on a malformed message (the message is
   *   skipped; the muxer stays usable).
   */
  writeMessage(msg: RtmpMessage, out: Buffer[]): void {
    if (msg.type === MessageType.Video) this.#writeVideo(msg, out);
    else if (msg.type === MessageType.Audio) this.#writeAudio(msg, out);
  }

  #pcrPid(): number {
    return this.#video !== undefined ? this.#videoPid : this.#audioPid;
  }

  #writeVideo(msg: RtmpMessage, out: Buffer[]): void {
    const payload = msg.payload;
    const h = readVideoTagHeader(payload);
    let packetType: number | undefined;
    let codec: TsVideoCodec;
    if (h.isExHeader) {
      if (h.fourCc !== 'avc1' && h.fourCc !== 'hvc1') throw unsupported(`video FourCC '${h.fourCc}'`);
      codec = h.fourCc === 'hvc1' ? 'h265' : 'h264';
      packetType = h.packetType === ExVideoPacketType.SequenceStart ? AvcPacketType.SequenceHeader
        : h.packetType === ExVideoPacketType.CodedFrames || h.packetType === ExVideoPacketType.CodedFramesX ? AvcPacketType.Nalu
          : undefined;
    } else {
      if (h.codecId !== VideoCodecId.Avc && h.codecId !== VideoCodecId.HevcLegacy) throw unsupported(`FLV video CodecID ${h.codecId}`);
      codec = h.codecId === VideoCodecId.HevcLegacy ? 'h265' : 'h264';
      packetType = h.avcPacketType;
    }
    const body = payload.subarray(h.headerLength);
    if (packetType === AvcPacketType.SequenceHeader) {
      this.#readSequenceHeader(codec, body);
      return;
    }
    if (packetType !== AvcPacketType.Nalu || this.#video === undefined) return;
    if (this.#videoSeen !== undefined && codec !== this.#videoSeen) {
      throw new GatewayError(codec === 'h265' ? ErrorCode.HevcConfig : ErrorCode.AvcConfig,
        `TS mux: ${codec === 'h265' ? 'H.265' : 'H.264'} frame without its sequence header (the track is ${this.#videoSeen})`);
    }
    const nalus = splitAvcc(body, this.#naluLengthSize);
    if (nalus.length === 0) return;
    const es = this.#es;
    es.length = 0;
    let irap = false;
    let hasParameterSets = false;
    let startsWithAud: boolean;
    if (codec === 'h265') {
      for (const n of nalus) {
        const t = (n[0] >> 1) & 0x3f;
        if (isIrap(t)) irap = true;
        else if (t === H265NaluType.Vps) hasParameterSets = true;
      }
      startsWithAud = ((nalus[0][0] >> 1) & 0x3f) === H265NaluType.Aud;
      if (!startsWithAud) es.push(H265_AUD_NALU);
    } else {
      for (const n of nalus) {
        const t = n[0] & 0x1f;
        if (t === NaluType.Idr) irap = true;
        else if (t === NaluType.Sps) hasParameterSets = true;
      }
      startsWithAud = (nalus[0][0] & 0x1f) === NaluType.Aud;
      if (!startsWithAud) es.push(AUD_NALU);
    }
    if (startsWithAud) es.push(START_CODE, nalus[0]);
    if (irap && !hasParameterSets) {
      for (const ps of this.#parameterSets) es.push(START_CODE, ps);
    }
    for (let i = startsWithAud ? 1 : 0; i < nalus.length; i++) es.push(START_CODE, nalus[i]);
    const dts90k = msg.timestamp * TICKS_PER_MS;
    const pts90k = (msg.timestamp + h.compositionTime) * TICKS_PER_MS;
    out.push(writePesPackets({
      pid: this.#videoPid, streamId: PesStreamId.Video, pts90k, dts90k, pcr90k: dts90k,
      randomAccess: irap || msg.kind === 'keyframe', dataAlignment: true,
    }, es, this.#ccs));
    es.length = 0;
  }

  /** AVCDecoderConfigurationRecord / HEVCDecoderConfigurationRecord → NALU length size + parameter sets. */
  #readSequenceHeader(codec: TsVideoCodec, body: Uint8Array): void {
    let lengthSize: number;
    if (codec === 'h265') {
      const record = parseHevcDecoderConfigurationRecord(body);
      lengthSize = record.lengthSizeMinusOne + 1;
      this.#parameterSets = [...record.vps, ...record.sps, ...record.pps];
    } else {
      const record = parseAvcDecoderConfigurationRecord(body);
      lengthSize = record.lengthSizeMinusOne + 1;
      if (lengthSize === 3) throw new GatewayError(ErrorCode.AvcConfig, 'TS mux: NALU length size 3 is not supported');
      this.#parameterSets = [...record.spsList, ...record.ppsList];
    }
    this.#naluLengthSize = lengthSize as 1 | 2 | 4;
    this.#videoSeen = codec;
    if (this.#video !== undefined && this.#video !== codec) {
      this.#video = codec;
      this.#pmtVersion = (this.#pmtVersion + 1) & 0x1f;
    }
  }

  #writeAudio(msg: RtmpMessage, out: Buffer[]): void {
    const h = readAudioTagHeader(msg.payload);
    const body = msg.payload.subarray(h.headerLength);
    if (h.soundFormat === SoundFormat.Aac) {
      if (h.aacPacketType === AacPacketType.SequenceHeader) {
        this.#asc = parseAudioSpecificConfig(body);
        return;
      }
      if (this.#audio !== 'aac' || this.#asc === undefined || body.length === 0) return;
      if (body.length + ADTS_HEADER_LENGTH > MAX_ADTS_FRAME_LENGTH) {
        throw new GatewayError(ErrorCode.TooLarge, `TS mux: AAC frame of ${body.length} bytes does not fit ADTS`);
      }
      const adts = Buffer.allocUnsafe(ADTS_HEADER_LENGTH); // kept by reference until packetized below
      writeAdtsHeader(adts, 0, this.#asc, body.length);
      this.#writeAudioPes(msg, [adts, body], out);
      return;
    }
    if (h.soundFormat === SoundFormat.Mp3) {
      if (this.#audio !== 'mp3' || body.length === 0) return;
      this.#writeAudioPes(msg, [body], out);
      return;
    }
    throw unsupported(`FLV SoundFormat ${h.soundFormat}`);
  }

  #writeAudioPes(msg: RtmpMessage, es: Uint8Array[], out: Buffer[]): void {
    const ts90k = msg.timestamp * TICKS_PER_MS;
    const audioOnly = this.#video === undefined;
    out.push(writePesPackets({
      pid: this.#audioPid, streamId: PesStreamId.Audio, pts90k: ts90k, dts90k: ts90k,
      pcr90k: audioOnly ? ts90k : undefined, randomAccess: audioOnly, dataAlignment: true,
    }, es, this.#ccs));
  }
}

function unsupported(what: string): GatewayError {
  return new GatewayError(ErrorCode.TsUnsupportedCodec, `TS mux: ${what}`);
}
