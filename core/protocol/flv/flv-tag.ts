/**
 * FLV AUDIODATA / VIDEODATA tag-body headers (Adobe FLV spec v10.1, Annex E.4.2.1 AUDIODATA,
 * E.4.3.1 VIDEODATA, E.4.3.2 AVCVIDEOPACKET; Enhanced RTMP v1 ExVideoTagHeader for reading).
 *
 * These bytes start every RTMP audio/video message payload. CompositionTime is a SIGNED 24-bit integer (SI24):
 * written two's complement, read with sign extension.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { SoundFormat, VideoCodecId, VideoFrameType } from '../../media/message.ts';

/** SoundRate (2 bits): nominal rates 5.5/11/22/44 kHz. AAC always uses 3; MP3 decoders read the MP3 header. */
export const SoundRate = { Rate5512: 0, Rate11025: 1, Rate22050: 2, Rate44100: 3 } as const;
/** SoundSize (1 bit): 0 = 8-bit, 1 = 16-bit samples (compressed formats use 1). */
export const SoundSize = { Bits8: 0, Bits16: 1 } as const;
/** SoundType (1 bit): 0 mono, 1 stereo (AAC always 1). */
export const SoundType = { Mono: 0, Stereo: 1 } as const;
/** AACPacketType (E.4.2.2). */
export const AacPacketType = { SequenceHeader: 0, Raw: 1 } as const;
/** AVCPacketType (E.4.3.2). */
export const AvcPacketType = { SequenceHeader: 0, Nalu: 1, EndOfSequence: 2 } as const;
/** Enhanced RTMP v1 video PacketType (4 bits). */
export const ExVideoPacketType = {
  SequenceStart: 0, CodedFrames: 1, SequenceEnd: 2, CodedFramesX: 3, Metadata: 4, Mpeg2TsSequenceStart: 5, Multitrack: 6,
} as const;

/** SoundFormat 10, rate 3, size 1, type 1: the only AUDIODATA header byte FLV allows for AAC. */
export const AAC_AUDIO_TAG_HEADER_BYTE = 0xaf;
/** AUDIODATA header size for AAC (header byte + AACPacketType). */
export const AAC_AUDIO_TAG_HEADER_SIZE = 2;
/** VIDEODATA header size for AVC (FrameType|CodecID, AVCPacketType, CompositionTime SI24). */
export const AVC_VIDEO_TAG_HEADER_SIZE = 5;
export const SI24_MIN = -0x800000;
export const SI24_MAX = 0x7fffff;

export interface AudioTagFields {
  soundFormat: number;
  soundRate: number;
  soundSize: number;
  soundType: number;
}
export interface AudioTagHeader extends AudioTagFields {
  /** Present for AAC (SoundFormat 10). */
  aacPacketType: number | undefined;
  /** Bytes before the audio data: 2 for AAC, else 1. */
  headerLength: 1 | 2;
}

export type VideoTagHeader =
  | {
      isExHeader: false;
      frameType: number;
      codecId: number;
      /** Present for AVC/legacy-HEVC (CodecID 7/12) unless FrameType is 5 (command frame). */
      avcPacketType: number | undefined;
      /** CompositionTime in ms (signed); 0 when absent. */
      compositionTime: number;
      headerLength: number;
    }
  | {
      isExHeader: true;
      frameType: number;
      packetType: number;
      /** FourCC, e.g. 'hvc1', 'avc1', 'av01'; '' for a command frame. */
      fourCc: string;
      /** SI24 CompositionTime for CodedFrames of avc1/hvc1, else 0. */
      compositionTime: number;
      headerLength: number;
    };

/** The first AUDIODATA byte: SoundFormat(4) | SoundRate(2) | SoundSize(1) | SoundType(1). */
export function audioTagHeaderByte(h: AudioTagFields): number {
  return ((h.soundFormat & 0x0f) << 4) | ((h.soundRate & 0x03) << 2) | ((h.soundSize & 0x01) << 1) | (h.soundType & 0x01);
}

/**
 * Write an AUDIODATA header at `offset`: the header byte, plus AACPacketType when SoundFormat is AAC.
 * @returns the number of bytes written (1 or 2).
 */
export function writeAudioTagHeader(out: Uint8Array, offset: number, h: AudioTagFields, aacPacketType: number = AacPacketType.Raw): 1 | 2 {
  out[offset] = audioTagHeaderByte(h);
  if (h.soundFormat !== SoundFormat.Aac) return 1;
  out[offset + 1] = aacPacketType;
  return 2;
}

/** Write the 2-byte AAC AUDIODATA header (0xAF, AACPacketType) at `offset`. */
export function writeAacAudioTagHeader(out: Uint8Array, offset: number, aacPacketType: 0 | 1): void {
  out[offset] = AAC_AUDIO_TAG_HEADER_BYTE;
  out[offset + 1] = aacPacketType;
}

/** @throws GatewayError(FlvTag) on an empty body or an AAC body without AACPacketType. */
export function readAudioTagHeader(payload: Uint8Array): AudioTagHeader {
  if (payload.length < 1) throw tagError('empty AUDIODATA');
  const b0 = payload[0];
  const soundFormat = b0 >> 4;
  const fields = { soundFormat, soundRate: (b0 >> 2) & 0x03, soundSize: (b0 >> 1) & 0x01, soundType: b0 & 0x01 };
  if (soundFormat !== SoundFormat.Aac) return { ...fields, aacPacketType: undefined, headerLength: 1 };
  if (payload.length < 2) throw tagError('AAC AUDIODATA without AACPacketType');
  return { ...fields, aacPacketType: payload[1], headerLength: 2 };
}

/**
 * Write the 5-byte AVC VIDEODATA header at offset 0 of `out`: FrameType (1 key / 2 inter) | CodecID 7,
 * AVCPacketType, CompositionTime (ms, signed SI24 two's complement; clamped to [SI24_MIN, SI24_MAX]).
 */
export function writeAvcVideoTagHeader(out: Uint8Array, key: boolean, avcPacketType: 0 | 1 | 2, ctsMs: number): void {
  out[0] = ((key ? VideoFrameType.Key : VideoFrameType.Inter) << 4) | VideoCodecId.Avc;
  out[1] = avcPacketType;
  writeSi24(out, 2, ctsMs);
}

/** Write a signed 24-bit big-endian integer (two's complement), clamped to [SI24_MIN, SI24_MAX]. */
export function writeSi24(out: Uint8Array, offset: number, value: number): void {
  const v = Math.max(SI24_MIN, Math.min(SI24_MAX, Math.trunc(value))) & 0xffffff;
  out[offset] = v >> 16;
  out[offset + 1] = (v >> 8) & 0xff;
  out[offset + 2] = v & 0xff;
}

/** Read a signed 24-bit big-endian integer (sign-extended). The caller checks the bounds. */
export function readSi24(b: Uint8Array, offset: number): number {
  const v = (b[offset] << 16) | (b[offset + 1] << 8) | b[offset + 2];
  return v >= 0x800000 ? v - 0x1000000 : v;
}

/** @throws GatewayError(FlvTag) on an empty or truncated header. */
export function readVideoTagHeader(payload: Uint8Array): VideoTagHeader {
  if (payload.length < 1) throw tagError('empty VIDEODATA');
  const b0 = payload[0];
  if ((b0 & 0x80) !== 0) return readExVideoTagHeader(payload);
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  const hasAvcHeader = (codecId === VideoCodecId.Avc || codecId === VideoCodecId.HevcLegacy) && frameType !== VideoFrameType.Command;
  if (!hasAvcHeader) return { isExHeader: false, frameType, codecId, avcPacketType: undefined, compositionTime: 0, headerLength: 1 };
  if (payload.length < AVC_VIDEO_TAG_HEADER_SIZE) throw tagError(`AVC VIDEODATA header truncated (${payload.length} bytes)`);
  return { isExHeader: false, frameType, codecId, avcPacketType: payload[1], compositionTime: readSi24(payload, 2), headerLength: AVC_VIDEO_TAG_HEADER_SIZE };
}

/** Enhanced RTMP v1: IsExHeader(1) | FrameType(3) | PacketType(4), then FourCC(4), then SI24 CTS for CodedFrames. */
function readExVideoTagHeader(payload: Uint8Array): VideoTagHeader {
  const b0 = payload[0];
  const frameType = (b0 >> 4) & 0x07;
  const packetType = b0 & 0x0f;
  if (frameType === VideoFrameType.Command && packetType !== ExVideoPacketType.Metadata) {
    return { isExHeader: true, frameType, packetType, fourCc: '', compositionTime: 0, headerLength: 1 };
  }
  if (payload.length < 5) throw tagError(`Enhanced RTMP VIDEODATA header truncated (${payload.length} bytes)`);
  const fourCc = String.fromCharCode(payload[1], payload[2], payload[3], payload[4]);
  if (packetType === ExVideoPacketType.CodedFrames && (fourCc === 'avc1' || fourCc === 'hvc1')) {
    if (payload.length < 8) throw tagError('Enhanced RTMP CodedFrames without CompositionTime');
    return { isExHeader: true, frameType, packetType, fourCc, compositionTime: readSi24(payload, 5), headerLength: 8 };
  }
  return { isExHeader: true, frameType, packetType, fourCc, compositionTime: 0, headerLength: 5 };
}

function tagError(message: string): GatewayError {
  return new GatewayError(ErrorCode.FlvTag, `FLV tag: ${message}`);
}
