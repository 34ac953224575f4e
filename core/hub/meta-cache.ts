/**
 * What a late joiner needs before media: the last onMetaData and the audio/video sequence headers, plus the
 * codec facts read from them for stats (SRS SrsMetaCache + SrsRtmpFormat).
 *
 * Codec facts come from the FLV headers (FLV spec v10.1 Annex E.4.2.1 AUDIODATA, E.4.3.1 VIDEODATA; Enhanced
 * RTMP v1 ExVideoTagHeader), the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1.2), the
 * HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1.2) and the AudioSpecificConfig (ISO/IEC 14496-3
 * 1.6.2.1). Only fixed offsets inside the payload are read, each after a length check; width/height need the
 * SPS and are left to the codec parsers.
 */
import { MessageType, type RtmpMessage } from '../media/message.ts';

export interface VideoTrackInfo {
  /** `h264`, `hevc`, `av1`, `vp9`, `h263`, `vp6`, ... or `codec-<CodecID>`. */
  readonly codec: string;
  /** AVCProfileIndication / general_profile_idc, from the sequence header. */
  readonly profile?: number;
  /** AVCLevelIndication / general_level_idc, from the sequence header. */
  readonly level?: number;
}

export interface AudioTrackInfo {
  /** `aac`, `mp3`, `pcm`, `g711a`, `g711u`, `speex`, ... or `soundformat-<n>`. */
  readonly codec: string;
  readonly sampleRateHz?: number;
  readonly channels?: number;
  /** AAC audioObjectType (2 = AAC LC), from the AudioSpecificConfig. */
  readonly objectType?: number;
}

/** FLV VIDEODATA CodecID (Annex E.4.3.1) → name; 12 is the legacy (Chinese CDN) HEVC extension. */
const VIDEO_CODEC_NAMES: Readonly<Record<number, string>> = {
  2: 'h263', 3: 'screen', 4: 'vp6', 5: 'vp6a', 6: 'screen2', 7: 'h264', 12: 'hevc',
};
/** Enhanced RTMP FourCC → name. */
const VIDEO_FOURCC_NAMES: Readonly<Record<string, string>> = { avc1: 'h264', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };
/** FLV AUDIODATA SoundFormat (Annex E.4.2.1) → name. */
const SOUND_FORMAT_NAMES: Readonly<Record<number, string>> = {
  0: 'pcm', 1: 'adpcm', 2: 'mp3', 3: 'pcm', 4: 'nellymoser', 5: 'nellymoser', 6: 'nellymoser', 7: 'g711a',
  8: 'g711u', 10: 'aac', 11: 'speex', 14: 'mp3',
};
/** FLV SoundRate (2 bits) → Hz. */
const SOUND_RATES_HZ = [5512, 11025, 22050, 44100] as const;
/** ISO/IEC 14496-3 Table 1.18 samplingFrequencyIndex → Hz (0..12). */
const AAC_SAMPLING_FREQUENCIES_HZ = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350] as const;

/** Offset of the decoder configuration record in a VIDEODATA sequence header: 5 bytes (legacy: FrameType|CodecID,
 * AVCPacketType, CompositionTime SI24; enhanced: header byte + FourCC). */
const CONFIG_RECORD_OFFSET = 5;
/** HEVCDecoderConfigurationRecord: general_level_idc is byte 12 of the record. */
const HEVC_LEVEL_OFFSET = 12;

/** Last metadata and sequence headers of the current publish. */
export class MetaCache {
  #metadata: RtmpMessage | undefined;
  #videoConfig: RtmpMessage | undefined;
  #audioConfig: RtmpMessage | undefined;
  #video: VideoTrackInfo | undefined;
  #audio: AudioTrackInfo | undefined;

  get metadata(): RtmpMessage | undefined {
    return this.#metadata;
  }
  get videoConfig(): RtmpMessage | undefined {
    return this.#videoConfig;
  }
  get audioConfig(): RtmpMessage | undefined {
    return this.#audioConfig;
  }
  get video(): VideoTrackInfo | undefined {
    return this.#video;
  }
  get audio(): AudioTrackInfo | undefined {
    return this.#audio;
  }

  /**
   * Record one message: metadata and sequence headers are kept (latest wins) and parsed; for other media the
   * codec is noted the first time a track is seen (MP3 and other formats have no sequence header).
   */
  update(msg: RtmpMessage): void {
    switch (msg.kind) {
      case 'metadata':
        this.#metadata = msg;
        return;
      case 'video-config':
        this.#videoConfig = msg;
        this.#video = videoInfo(msg.payload);
        return;
      case 'audio-config':
        this.#audioConfig = msg;
        this.#audio = audioInfo(msg.payload);
        return;
      default:
        if (msg.type === MessageType.Video) {
          if (this.#video === undefined) this.#video = videoInfo(msg.payload);
        } else if (this.#audio === undefined) {
          this.#audio = audioInfo(msg.payload);
        }
    }
  }

  /** Forget everything (unpublish). */
  clear(): void {
    this.#metadata = undefined;
    this.#videoConfig = undefined;
    this.#audioConfig = undefined;
    this.#video = undefined;
    this.#audio = undefined;
  }
}

/** Codec facts from a VIDEODATA body (sequence header or frame). */
export function videoInfo(payload: Uint8Array): VideoTrackInfo {
  const b0 = payload[0] ?? 0;
  let codec: string;
  if ((b0 & 0x80) !== 0) {
    const fourCc = payload.length >= 5 ? String.fromCharCode(payload[1], payload[2], payload[3], payload[4]) : '';
    codec = VIDEO_FOURCC_NAMES[fourCc] ?? `fourcc-${fourCc}`;
    const isSequenceStart = (b0 & 0x0f) === 0;
    return isSequenceStart ? withRecord(codec, payload) : { codec };
  }
  const codecId = b0 & 0x0f;
  codec = VIDEO_CODEC_NAMES[codecId] ?? `codec-${codecId}`;
  const isSequenceHeader = (codecId === 7 || codecId === 12) && payload.length >= 2 && payload[1] === 0;
  return isSequenceHeader ? withRecord(codec, payload) : { codec };
}

function withRecord(codec: string, payload: Uint8Array): VideoTrackInfo {
  const r = CONFIG_RECORD_OFFSET;
  if (codec === 'h264' && payload.length >= r + 4) {
    // configurationVersion, AVCProfileIndication, profile_compatibility, AVCLevelIndication
    return { codec, profile: payload[r + 1], level: payload[r + 3] };
  }
  if (codec === 'hevc' && payload.length > r + HEVC_LEVEL_OFFSET) {
    // configurationVersion, general_profile_space(2) general_tier_flag(1) general_profile_idc(5), ...
    return { codec, profile: payload[r + 1] & 0x1f, level: payload[r + HEVC_LEVEL_OFFSET] };
  }
  return { codec };
}

/** Codec facts from an AUDIODATA body (AAC sequence header or any frame). */
export function audioInfo(payload: Uint8Array): AudioTrackInfo {
  const b0 = payload[0] ?? 0;
  const soundFormat = b0 >> 4;
  const codec = SOUND_FORMAT_NAMES[soundFormat] ?? `soundformat-${soundFormat}`;
  if (soundFormat === 10 && payload.length >= 4 && payload[1] === 0) {
    // AudioSpecificConfig: audioObjectType(5) samplingFrequencyIndex(4) channelConfiguration(4)
    const objectType = payload[2] >> 3;
    const samplingFrequencyIndex = ((payload[2] & 0x07) << 1) | (payload[3] >> 7);
    const channelConfiguration = (payload[3] >> 3) & 0x0f;
    const sampleRateHz = AAC_SAMPLING_FREQUENCIES_HZ[samplingFrequencyIndex];
    const info: { codec: string; objectType: number; channels: number; sampleRateHz?: number } = {
      codec,
      objectType,
      channels: channelConfiguration,
    };
    if (sampleRateHz !== undefined) info.sampleRateHz = sampleRateHz;
    return info;
  }
  if (soundFormat === 10) return { codec };
  // SoundRate (2 bits) and SoundType (1 bit: mono/stereo); AAC always signals 44 kHz stereo there.
  return { codec, sampleRateHz: SOUND_RATES_HZ[(b0 >> 2) & 0x03], channels: (b0 & 0x01) + 1 };
}
