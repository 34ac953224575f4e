/**
 * The one onMetaData builder: codec facts of a stream's tracks (from the sequence headers the packagers parsed)
 * → the AMF0 data message FLV/RTMP players expect (FLV spec v10.1 Annex E.5 "onMetaData"; field names as SRS and
 * ffmpeg write them; Enhanced RTMP v1 for the `videocodecid` FourCC of H.265).
 *
 * Every caster that builds a stream itself (MPEG-TS over UDP, RTSP) sends this when the stream starts and again on
 * each new sequence header; casters that receive FLV/RTMP pass the publisher's own onMetaData through instead.
 *
 * Body layout (byte-exact: test/core/remux/metadata.test.ts pins it):
 *   AMF0 string 'onMetaData', then an ECMA array (marker 0x08) whose entries are written in this order:
 *   for each track in the order given: video → width, height, videocodecid[, framerate];
 *   audio → audiocodecid, audiosamplerate, audiochannels, stereo; then `encoder: 'castgate'`.
 *   Two tracks of the same media: the field keeps the position of its first appearance and the value of the
 *   last (JavaScript property order), and `framerate` only appears when some video track knows it.
 *   Tracks given as `undefined` (codec facts not known yet) add nothing.
 *
 * Numbers are AMF0 doubles: sizes in luma samples, framerate in frames/s, sample rate in Hz.
 */
import type { AudioSpecificConfig } from '../codec/aac/audio-specific-config.ts';
import { G711_FLV_CLOCK_RATE, G711Law, G711SoundFormat } from '../codec/g711.ts';
import { HEVC_FOURCC_ID } from '../codec/h265/hevc-packager.ts';
import type { MpegAudioHeader } from '../codec/mpeg-audio.ts';
import { createMessage, MessageType, SoundFormat, VideoCodecId, type RtmpMessage } from '../media/message.ts';
import { Amf0EcmaArray, encodeAmf0, type Amf0Value } from '../protocol/amf0.ts';

/** What onMetaData says about one video track. */
export interface VideoTrackMetadata {
  readonly media: 'video';
  /** FLV CodecID (7 = AVC) or the Enhanced RTMP FourCC as a big-endian uint32 ('hvc1' = 0x68766331). */
  readonly videocodecid: number;
  /** Cropped picture size in luma samples. */
  readonly width: number;
  readonly height: number;
  /** Frames per second from the SPS VUI timing; omitted from onMetaData when undefined. */
  readonly framerate?: number | undefined;
}

/** What onMetaData says about one audio track. */
export interface AudioTrackMetadata {
  readonly media: 'audio';
  /** FLV SoundFormat (Annex E.4.2.1): 2 MP3, 7 G.711 A-law, 8 G.711 µ-law, 10 AAC. */
  readonly audiocodecid: number;
  /** Hz. */
  readonly audiosamplerate: number;
  /** Channel count; `stereo` is written as `audiochannels === 2`. */
  readonly audiochannels: number;
}

export type TrackMetadata = VideoTrackMetadata | AudioTrackMetadata;

/** The picture facts of a parsed H.264 or H.265 SPS (core/codec SpsInfo, H265SpsInfo). */
export interface PictureFacts {
  readonly width: number;
  readonly height: number;
  readonly fps?: number | undefined;
}

/** An H.264 track (FLV CodecID 7); undefined until the packager has an SPS. */
export function avcTrackMetadata(sps: PictureFacts | undefined): VideoTrackMetadata | undefined {
  return videoTrackMetadata(VideoCodecId.Avc, sps);
}

/** An H.265 track (Enhanced RTMP FourCC 'hvc1'); undefined until the packager has an SPS. */
export function hevcTrackMetadata(sps: PictureFacts | undefined): VideoTrackMetadata | undefined {
  return videoTrackMetadata(HEVC_FOURCC_ID, sps);
}

/**
 * A video track of any codec id.
 * @param videocodecid FLV CodecID or Enhanced RTMP FourCC number (see VideoTrackMetadata).
 * @returns undefined when `sps` is undefined (size not known yet).
 */
export function videoTrackMetadata(videocodecid: number, sps: PictureFacts | undefined): VideoTrackMetadata | undefined {
  if (sps === undefined) return undefined;
  return { media: 'video', videocodecid, width: sps.width, height: sps.height, framerate: sps.fps };
}

/** An AAC track (SoundFormat 10) from its AudioSpecificConfig; undefined until one is known. */
export function aacTrackMetadata(asc: AudioSpecificConfig | undefined): AudioTrackMetadata | undefined {
  if (asc === undefined) return undefined;
  return { media: 'audio', audiocodecid: SoundFormat.Aac, audiosamplerate: asc.samplingFrequency, audiochannels: asc.channelConfiguration };
}

/** An MPEG audio track (SoundFormat 2) from a frame header; undefined until a frame was seen. */
export function mp3TrackMetadata(header: MpegAudioHeader | undefined): AudioTrackMetadata | undefined {
  if (header === undefined) return undefined;
  return { media: 'audio', audiocodecid: SoundFormat.Mp3, audiosamplerate: header.sampleRate, audiochannels: header.channels };
}

/**
 * A G.711 track (SoundFormat 7 A-law / 8 µ-law).
 * @param sampleRate Hz (FLV carries G.711 at 8000 Hz only: the default).
 */
export function g711TrackMetadata(law: G711Law, channels: number, sampleRate: number = G711_FLV_CLOCK_RATE): AudioTrackMetadata {
  const audiocodecid = law === G711Law.ALaw ? G711SoundFormat.ALaw : G711SoundFormat.MuLaw;
  return { media: 'audio', audiocodecid, audiosamplerate: sampleRate, audiochannels: channels };
}

/**
 * The onMetaData fields of `tracks`, in the order described in the module header (ending with `encoder`).
 * Exposed for callers that add fields of their own before encoding.
 */
export function onMetaDataFields(tracks: Iterable<TrackMetadata | undefined>): Record<string, Amf0Value> {
  const meta: Record<string, Amf0Value> = {};
  for (const t of tracks) {
    if (t === undefined) continue;
    if (t.media === 'video') {
      meta.width = t.width;
      meta.height = t.height;
      meta.videocodecid = t.videocodecid;
      if (t.framerate !== undefined) meta.framerate = t.framerate;
    } else {
      meta.audiocodecid = t.audiocodecid;
      meta.audiosamplerate = t.audiosamplerate;
      meta.audiochannels = t.audiochannels;
      meta.stereo = t.audiochannels === 2;
    }
  }
  meta.encoder = 'castgate';
  return meta;
}

/** The AMF0 body: 'onMetaData' + ECMA array of `onMetaDataFields(tracks)`. A new Buffer (owned by the caller). */
export function encodeOnMetaData(tracks: Iterable<TrackMetadata | undefined>): Buffer {
  return encodeAmf0(['onMetaData', new Amf0EcmaArray(onMetaDataFields(tracks))]);
}

/**
 * The onMetaData data message (MessageType 18, kind 'metadata') for `tracks`.
 * @param timestampMs RTMP timestamp in ms; callers pass the latest timestamp they published so the stream's
 *   timestamps never go back (ffmpeg's flvdec and the hub expect rising time).
 * @returns the message; never undefined in practice (a data body is never empty), typed as createMessage is.
 */
export function createOnMetaData(tracks: Iterable<TrackMetadata | undefined>, timestampMs: number): RtmpMessage | undefined {
  return createMessage(MessageType.Data, timestampMs, encodeOnMetaData(tracks));
}
