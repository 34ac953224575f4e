/**
 * The words SRS's HTTP API uses for codecs, profiles, levels and client types (SRS trunk/src/kernel/
 * srs_kernel_codec.cpp srs_video_codec_id2str, srs_audio_codec_id2str, srs_avc_profile2str, srs_avc_level2str,
 * srs_hevc_profile2str, srs_hevc_level2str, srs_aac_object2str; trunk/src/protocol/srs_protocol_rtmp_stack.cpp
 * srs_client_type_string; v5.0.216), mapped from the codec facts castgate's hub keeps (core/hub/meta-cache.ts),
 * and the picture size read from the video sequence header.
 */
import { parseAvcDecoderConfigurationRecord } from '../codec/h264/avc-decoder-config.ts';
import { parseSps } from '../codec/h264/sps.ts';
import { parseHevcDecoderConfigurationRecord } from '../codec/h265/hevc-decoder-config.ts';
import { parseH265Sps } from '../codec/h265/sps.ts';
import type { AudioTrackInfo, VideoTrackInfo } from '../hub/meta-cache.ts';
import type { RtmpMessage } from '../media/message.ts';

/** SRS's word for anything its tables do not name. */
const OTHER = 'Other';

/** castgate codec name (meta-cache.ts) → srs_video_codec_id2str. */
const VIDEO_CODECS: Readonly<Record<string, string>> = { h264: 'H264', hevc: 'HEVC', av1: 'AV1', vp6: 'VP6', vp6a: 'VP6' };
/** castgate codec name → srs_audio_codec_id2str. */
const AUDIO_CODECS: Readonly<Record<string, string>> = { aac: 'AAC', mp3: 'MP3', opus: 'Opus' };
/** AVCProfileIndication (ITU-T H.264 A.2) → srs_avc_profile2str (constraint flags are not kept: 66 is Baseline). */
const AVC_PROFILES: Readonly<Record<number, string>> = {
  66: 'Baseline', 77: 'Main', 88: 'Extended', 100: 'High', 110: 'High(10)', 122: 'High(422)', 144: 'High(444)', 244: 'High(444+Predictive)',
};
/** AVCLevelIndication → srs_avc_level2str (level_idc = level × 10). */
const AVC_LEVELS: Readonly<Record<number, string>> = {
  10: '1', 11: '1.1', 12: '1.2', 13: '1.3', 20: '2', 21: '2.1', 22: '2.2', 30: '3', 31: '3.1', 32: '3.2', 40: '4', 41: '4.1', 50: '5', 51: '5.1',
};
/** general_profile_idc (ITU-T H.265 A.3) → srs_hevc_profile2str. */
const HEVC_PROFILES: Readonly<Record<number, string>> = { 1: 'Main', 2: 'Main10', 3: 'Main Still Picture', 4: 'Rext' };
/** general_level_idc (= level × 30) → srs_hevc_level2str. */
const HEVC_LEVELS: Readonly<Record<number, string>> = {
  30: '1', 60: '2', 63: '2.1', 90: '3', 93: '3.1', 120: '4', 123: '4.1', 150: '5', 153: '5.1', 156: '5.2', 180: '6', 183: '6.1', 186: '6.2',
};
/** AAC audioObjectType (ISO/IEC 14496-3 Table 1.17) → srs_aac_object2str. */
const AAC_OBJECTS: Readonly<Record<number, string>> = { 1: 'Main', 2: 'LC', 3: 'SSR', 5: 'HE', 29: 'HEv2' };

/** Offset of the decoder configuration record in a VIDEODATA sequence header (legacy and Enhanced RTMP: 5 bytes). */
const CONFIG_RECORD_OFFSET = 5;

/** SRS `stream.video` (srs_app_statistic.cpp SrsStatisticStream::dumps). */
export interface SrsVideoJson {
  readonly codec: string;
  readonly profile: string;
  readonly level: string;
  readonly width: number;
  readonly height: number;
}

/** SRS `stream.audio`. */
export interface SrsAudioJson {
  readonly codec: string;
  readonly sample_rate: number;
  readonly channel: number;
  readonly profile: string;
}

/** Picture sizes already read, per sequence header message (messages are immutable and shared). */
const sizes = new WeakMap<RtmpMessage, { readonly width: number; readonly height: number }>();

/**
 * Cropped picture size from an H.264 or H.265 sequence header (the first SPS of its decoder configuration record);
 * 0×0 when there is none or it cannot be read (the API must answer whatever a publisher sent).
 */
export function videoSize(videoConfig: RtmpMessage | undefined, codec: string): { readonly width: number; readonly height: number } {
  if (videoConfig === undefined) return { width: 0, height: 0 };
  let size = sizes.get(videoConfig);
  if (size === undefined) {
    size = { width: 0, height: 0 };
    try {
      const record = videoConfig.payload.subarray(CONFIG_RECORD_OFFSET);
      if (codec === 'h264') {
        const sps = parseSps(parseAvcDecoderConfigurationRecord(record).spsList[0] as Uint8Array);
        size = { width: sps.width, height: sps.height };
      } else if (codec === 'hevc') {
        const sps = parseH265Sps(parseHevcDecoderConfigurationRecord(record).sps[0] as Uint8Array);
        size = { width: sps.width, height: sps.height };
      }
    } catch {
      // A sequence header the codec parsers refuse: the size stays unknown (0×0), as SRS reports it then.
    }
    sizes.set(videoConfig, size);
  }
  return size;
}

/** SRS's `video` object, or null when the stream has no video (SRS writes null then). */
export function srsVideo(video: VideoTrackInfo | undefined, videoConfig: RtmpMessage | undefined): SrsVideoJson | null {
  if (video === undefined) return null;
  const { width, height } = videoSize(videoConfig, video.codec);
  let profile = OTHER;
  let level = OTHER;
  if (video.codec === 'h264') {
    profile = (video.profile !== undefined ? AVC_PROFILES[video.profile] : undefined) ?? OTHER;
    level = (video.level !== undefined ? AVC_LEVELS[video.level] : undefined) ?? OTHER;
  } else if (video.codec === 'hevc') {
    profile = (video.profile !== undefined ? HEVC_PROFILES[video.profile] : undefined) ?? OTHER;
    level = (video.level !== undefined ? HEVC_LEVELS[video.level] : undefined) ?? OTHER;
  }
  return { codec: VIDEO_CODECS[video.codec] ?? OTHER, profile, level, width, height };
}

/**
 * SRS's `audio` object, or null without audio. castgate differs: `sample_rate` and `channel` are the
 * AudioSpecificConfig's for AAC (SRS reports the FLV SoundRate/SoundType bits, which AAC always sets to 44100/stereo).
 */
export function srsAudio(audio: AudioTrackInfo | undefined): SrsAudioJson | null {
  if (audio === undefined) return null;
  return {
    codec: AUDIO_CODECS[audio.codec] ?? OTHER,
    sample_rate: audio.sampleRateHz ?? 0,
    channel: audio.channels ?? 0,
    profile: (audio.objectType !== undefined ? AAC_OBJECTS[audio.objectType] : undefined) ?? OTHER,
  };
}

/**
 * SRS client `type` for a session (srs_client_type_string): an RTMP publisher is `fmle-publish` (ffmpeg, OBS and
 * encoders publish FMLE-style), an RTMP player `rtmp-play`, every HTTP live stream player (.flv/.ts/.mp3/.aac, SRS
 * SrsFlvPlay for all of them) `flv-play`. Protocols SRS reaches only through an RTMP loopback get castgate's own
 * `<protocol>-publish` / `<protocol>-play` (e.g. `rtsp-publish`, `mpegts_over_udp-publish`, `ingest-publish`).
 */
export function srsClientType(protocol: string, publish: boolean): string {
  if (protocol === 'rtmp') return publish ? 'fmle-publish' : 'rtmp-play';
  if (!publish && protocol.startsWith('http-')) return 'flv-play';
  return `${protocol}-${publish ? 'publish' : 'play'}`;
}
