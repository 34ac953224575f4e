/**
 * RTMP messages → MP4 tracks and samples: what an MP4 writer needs per track (the sample entry's decoder
 * configuration: `avcC`/`hvcC` of ISO/IEC 14496-15 5.3.3.1 and 8.3.3.1, the AudioSpecificConfig of the `esds` of
 * ISO/IEC 14496-14, the RFC 6381 `codecs` string) and per frame (the sample bytes, DTS/PTS in ms, sync flag), read
 * from FLV tag bodies (FLV spec v10.1 Annex E.4.2/E.4.3, Enhanced RTMP v1 for `hvc1`/`avc1`).
 *
 * The sample bytes are views into the message payload: the length-prefixed NAL units of an AVC/HEVC frame (the
 * same layout as the MP4 sample, so nothing is rewritten), the raw AAC access unit, the whole MPEG audio frame.
 * Pure: no I/O and no muxer types; core/output/dvr/mp4-file-writer.ts hands the result to the muxer.
 *
 * Codecs: H.264 (FLV CodecID 7, Enhanced `avc1`), H.265 (Enhanced `hvc1`, legacy CodecID 12), AAC (SoundFormat 10),
 * MP3 (SoundFormat 2, 14). G.711 (SoundFormat 7/8) has no ISO base media sample entry (only QuickTime's
 * `alaw`/`ulaw`), so it is refused with GW_ERR_MP4_UNSUPPORTED_CODEC, as is every other codec.
 */
import { ErrorCode, GatewayError } from '../errors.ts';
import { parseAudioSpecificConfig } from '../codec/aac/audio-specific-config.ts';
import { parseAvcDecoderConfigurationRecord } from '../codec/h264/avc-decoder-config.ts';
import { parseSps } from '../codec/h264/sps.ts';
import { parseHevcDecoderConfigurationRecord } from '../codec/h265/hevc-decoder-config.ts';
import { parseH265Sps } from '../codec/h265/sps.ts';
import { G711SoundFormat } from '../codec/g711.ts';
import { parseMpegAudioHeader } from '../codec/mpeg-audio.ts';
import { SoundFormat, VideoCodecId, VideoFrameType, type RtmpMessage } from '../media/message.ts';
import { AacPacketType, AvcPacketType, ExVideoPacketType, readAudioTagHeader, readVideoTagHeader } from '../protocol/flv/flv-tag.ts';

export type Mp4VideoCodec = 'avc' | 'hevc';
export type Mp4AudioCodec = 'aac' | 'mp3';

/** An MP4 video track as a video-config message describes it. */
export interface Mp4VideoTrack {
  readonly codec: Mp4VideoCodec;
  /** RFC 6381 `codecs` value: `avc1.PPCCLL` (RFC 6381 3.3) or `hvc1.…` (ISO/IEC 14496-15 E.3). */
  readonly codecString: string;
  /** Cropped picture size in luma samples, from the first SPS. */
  readonly width: number;
  readonly height: number;
  /** The AVCDecoderConfigurationRecord / HEVCDecoderConfigurationRecord: the `avcC`/`hvcC` body (a view). */
  readonly description: Uint8Array;
}

/** An MP4 audio track. */
export interface Mp4AudioTrack {
  readonly codec: Mp4AudioCodec;
  /** `mp4a.40.2` (AAC LC and other AAC object types), `mp4a.40.5` (HE-AAC), `mp4a.40.29` (HE-AAC v2), or `mp3`. */
  readonly codecString: string;
  /** Hz (AAC: the core rate of the AudioSpecificConfig; MP3: the frame header's). */
  readonly sampleRate: number;
  readonly channels: number;
  /** The AudioSpecificConfig (AAC only; a view): the `esds` DecoderSpecificInfo. */
  readonly description?: Uint8Array;
  /** PCM samples per access unit: 1024 for AAC, 384/576/1152 for MPEG audio. */
  readonly samplesPerFrame: number;
}

/** One MP4 sample. */
export interface Mp4Sample {
  /** The sample bytes: a view into the message payload. */
  readonly data: Uint8Array;
  /** Decode time, ms (the message timestamp given). */
  readonly dtsMs: number;
  /** Presentation time, ms: DTS + CompositionTime for video, DTS for audio. */
  readonly ptsMs: number;
  /** A sync sample (video keyframe; every audio frame). */
  readonly key: boolean;
}

/** Offset of the decoder configuration record in a sequence header: legacy 5-byte header or 1 + FourCC. */
const CONFIG_RECORD_OFFSET = 5;
/** HEVCDecoderConfigurationRecord (8.3.3.1.2): byte offsets of the profile_tier_level copy. */
const HVCC_PROFILE_BYTE = 1;
const HVCC_COMPATIBILITY_FLAGS = 2;
const HVCC_CONSTRAINT_FLAGS = 6;
const HVCC_CONSTRAINT_BYTES = 6;
const HVCC_LEVEL_BYTE = 12;
/** AAC audio object types with their own codecs string (RFC 6381 3.3; W3C WebCodecs AAC registration). */
const AOT_SBR = 5;
const AOT_PS = 29;
/** ISO/IEC 14496-3 Table 1.19: channelConfiguration 7 is 7.1 (8 channels); 1..6 are that many channels. */
const CHANNELS_OF_CONFIGURATION_7 = 8;
/** AAC frame length in samples (frameLengthFlag 0; 960-sample AAC is not carried in FLV in practice). */
const AAC_SAMPLES_PER_FRAME = 1024;
/** FLV SoundFormat 14: MP3 8 kHz (Annex E.4.2.1). */
const SOUND_FORMAT_MP3_8K = 14;

function unsupported(message: string): GatewayError {
  return new GatewayError(ErrorCode.Mp4UnsupportedCodec, message);
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** RFC 6381 3.3 `avc1.PPCCLL`: profile_idc, constraint flags byte and level_idc of the record (bytes 1..3). */
export function avcCodecString(record: Uint8Array): string {
  if (record.length < 4) throw new GatewayError(ErrorCode.AvcConfig, `AVCDecoderConfigurationRecord of ${record.length} bytes`);
  return `avc1.${hex2(record[1])}${hex2(record[2])}${hex2(record[3])}`;
}

/**
 * ISO/IEC 14496-15 E.3 `hvc1.[A|B|C]profile_idc.compatibility.(L|H)level[.constraint bytes]`: the
 * general_profile_compatibility_flags written bit-reversed in hex, the constraint indicator bytes in hex with
 * trailing zero bytes left out. E.g. Main 3.1 = `hvc1.1.6.L93.B0`.
 * @throws GatewayError(HevcConfig) when the record is shorter than its fixed part's profile fields.
 */
export function hevcCodecString(record: Uint8Array): string {
  if (record.length <= HVCC_LEVEL_BYTE) {
    throw new GatewayError(ErrorCode.HevcConfig, `HEVCDecoderConfigurationRecord of ${record.length} bytes`);
  }
  const b = record[HVCC_PROFILE_BYTE];
  const profileSpace = b >> 6;
  const tierFlag = (b >> 5) & 0x01;
  const profileIdc = b & 0x1f;
  let flags = 0;
  for (let i = 0; i < 4; i++) flags = flags * 256 + record[HVCC_COMPATIBILITY_FLAGS + i];
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = reversed * 2 + (flags % 2);
    flags = Math.floor(flags / 2);
  }
  const constraints: string[] = [];
  for (let i = 0; i < HVCC_CONSTRAINT_BYTES; i++) constraints.push(record[HVCC_CONSTRAINT_FLAGS + i].toString(16).toUpperCase());
  while (constraints.length > 0 && constraints[constraints.length - 1] === '0') constraints.pop();
  const space = ['', 'A', 'B', 'C'][profileSpace];
  const tier = tierFlag === 1 ? 'H' : 'L';
  const tail = constraints.length > 0 ? `.${constraints.join('.')}` : '';
  return `hvc1.${space}${profileIdc}.${reversed.toString(16).toUpperCase()}.${tier}${record[HVCC_LEVEL_BYTE]}${tail}`;
}

/** The codec of a VIDEODATA body: 'avc', 'hevc', or undefined for codecs MP4 writing does not support here. */
function videoCodecOf(payload: Uint8Array): Mp4VideoCodec | undefined {
  const h = readVideoTagHeader(payload);
  if (h.isExHeader) return h.fourCc === 'avc1' ? 'avc' : h.fourCc === 'hvc1' ? 'hevc' : undefined;
  return h.codecId === VideoCodecId.Avc ? 'avc' : h.codecId === VideoCodecId.HevcLegacy ? 'hevc' : undefined;
}

/**
 * The MP4 video track of a `video-config` message (AVC sequence header, Enhanced RTMP SequenceStart, legacy HEVC).
 * @throws GatewayError(Mp4UnsupportedCodec) for another codec or a message that is no sequence header;
 *   GatewayError(AvcConfig/HevcConfig/H264Sps/H265Sps) when the record or its SPS cannot be parsed.
 */
export function mp4VideoTrack(config: RtmpMessage): Mp4VideoTrack {
  const payload = config.payload;
  const codec = videoCodecOf(payload);
  if (codec === undefined) throw unsupported(`video codec of header byte 0x${hex2(payload[0] ?? 0)} cannot be written to MP4`);
  if (config.kind !== 'video-config') throw unsupported(`a ${config.kind} message is not a video sequence header`);
  const description = payload.subarray(CONFIG_RECORD_OFFSET);
  if (codec === 'avc') {
    const record = parseAvcDecoderConfigurationRecord(description);
    const sps = parseSps(record.spsList[0] as Uint8Array);
    return { codec, codecString: avcCodecString(description), width: sps.width, height: sps.height, description };
  }
  const record = parseHevcDecoderConfigurationRecord(description);
  const spsNalu = record.sps[0];
  if (spsNalu === undefined) throw new GatewayError(ErrorCode.HevcConfig, 'HEVCDecoderConfigurationRecord without an SPS');
  const sps = parseH265Sps(spsNalu);
  return { codec, codecString: hevcCodecString(description), width: sps.width, height: sps.height, description };
}

/**
 * The MP4 audio track of an AAC `audio-config` message or of the first MP3 frame.
 * @throws GatewayError(Mp4UnsupportedCodec) for G.711, another SoundFormat, or an AAC frame without its
 *   sequence header; GatewayError(AacConfig/MpegAudioHeader/FlvTag) on a malformed body.
 */
export function mp4AudioTrack(msg: RtmpMessage): Mp4AudioTrack {
  const h = readAudioTagHeader(msg.payload);
  if (h.soundFormat === SoundFormat.Aac) {
    if (h.aacPacketType !== AacPacketType.SequenceHeader) throw unsupported('AAC audio without its AudioSpecificConfig');
    const description = msg.payload.subarray(h.headerLength);
    const asc = parseAudioSpecificConfig(description);
    const ext = asc.extensionAudioObjectType;
    const codecString = ext === AOT_PS ? 'mp4a.40.29' : ext === AOT_SBR ? 'mp4a.40.5' : 'mp4a.40.2';
    const config = asc.channelConfiguration;
    const channels = config === 0 ? h.soundType + 1 : config === 7 ? CHANNELS_OF_CONFIGURATION_7 : config;
    return { codec: 'aac', codecString, sampleRate: asc.samplingFrequency, channels, description, samplesPerFrame: AAC_SAMPLES_PER_FRAME };
  }
  if (h.soundFormat === SoundFormat.Mp3 || h.soundFormat === SOUND_FORMAT_MP3_8K) {
    const frame = parseMpegAudioHeader(msg.payload, h.headerLength);
    if (frame === undefined) throw new GatewayError(ErrorCode.MpegAudioHeader, 'MP3 AUDIODATA shorter than a frame header');
    return { codec: 'mp3', codecString: 'mp3', sampleRate: frame.sampleRate, channels: frame.channels, samplesPerFrame: frame.samplesPerFrame };
  }
  if (h.soundFormat === G711SoundFormat.ALaw || h.soundFormat === G711SoundFormat.MuLaw) {
    const law = h.soundFormat === G711SoundFormat.ALaw ? 'A-law' : 'µ-law';
    throw unsupported(`G.711 ${law} audio cannot be written to MP4 (ISO base media has no G.711 sample entry); record to .flv to keep it`);
  }
  throw unsupported(`audio SoundFormat ${h.soundFormat} cannot be written to MP4`);
}

/**
 * The sample of a coded video frame (AVCPacketType 1, Enhanced CodedFrames/CodedFramesX).
 * @param dtsMs the frame's decode time in the file, ms.
 * @returns undefined for messages that carry no frame (sequence headers, end of sequence, command frames,
 *   Enhanced RTMP metadata) or no bytes.
 * @throws GatewayError(FlvTag) on a truncated header.
 */
export function mp4VideoSample(msg: RtmpMessage, dtsMs: number): Mp4Sample | undefined {
  const h = readVideoTagHeader(msg.payload);
  if (h.frameType === VideoFrameType.Command) return undefined;
  const coded = h.isExHeader
    ? h.packetType === ExVideoPacketType.CodedFrames || h.packetType === ExVideoPacketType.CodedFramesX
    : h.avcPacketType === AvcPacketType.Nalu;
  if (!coded || msg.payload.length <= h.headerLength) return undefined;
  return {
    data: msg.payload.subarray(h.headerLength),
    dtsMs,
    ptsMs: dtsMs + h.compositionTime,
    key: h.frameType === VideoFrameType.Key,
  };
}

/**
 * The sample of an audio frame (raw AAC access unit, or a whole MPEG audio frame).
 * @returns undefined for an AAC sequence header or an empty frame.
 * @throws GatewayError(FlvTag) on a truncated header.
 */
export function mp4AudioSample(msg: RtmpMessage, dtsMs: number): Mp4Sample | undefined {
  const h = readAudioTagHeader(msg.payload);
  if (h.soundFormat === SoundFormat.Aac && h.aacPacketType !== AacPacketType.Raw) return undefined;
  if (msg.payload.length <= h.headerLength) return undefined;
  return { data: msg.payload.subarray(h.headerLength), dtsMs, ptsMs: dtsMs, key: true };
}
