/**
 * Per-codec pipelines of an RTSP track: in-order RTP packets → depacketizer → (DTS rebuild) → the shared
 * packagers of core/codec → RtmpMessages. Chosen from the SDP's rtpmap encoding name, never from the payload
 * type number (SRS's removed caster hard-coded 96/97).
 *
 * | encoding        | payload format          | to RTMP                                          |
 * |-----------------|-------------------------|--------------------------------------------------|
 * | H264            | RFC 6184 (modes 0, 1)   | AvcPackager, DTS from POC (H264DtsExtractor)     |
 * | H265            | RFC 7798                | HevcPackager (Enhanced RTMP hvc1), H265DtsExtractor |
 * | MPEG4-GENERIC   | RFC 3640 AAC-hbr/lbr    | AacPackager.packRawFrame                          |
 * | MP4A-LATM       | RFC 6416                | AacPackager.packRawFrame                          |
 * | PCMA / PCMU     | RFC 3551 G.711          | FLV SoundFormat 7 / 8                             |
 */
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import { VideoCodecId, type RtmpMessage } from '../../core/media/message.ts';
import type { Amf0Value } from '../../core/protocol/amf0.ts';
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { AvcPackager } from '../../core/codec/h264/avc-packager.ts';
import { isVclNaluType } from '../../core/codec/h264/nalu.ts';
import { parseH264Fmtp } from '../../core/codec/h264/h264-fmtp.ts';
import { RtpH264Depacketizer } from '../../core/codec/h264/rtp-h264-depacketizer.ts';
import { H264DtsExtractor } from '../../core/codec/h264/dts-extractor.ts';
import { HEVC_FOURCC_ID, HevcPackager } from '../../core/codec/h265/hevc-packager.ts';
import { h265NaluType, isVcl as isVcl265 } from '../../core/codec/h265/nalu.ts';
import { parseH265Fmtp } from '../../core/codec/h265/h265-fmtp.ts';
import { RtpH265Depacketizer } from '../../core/codec/h265/rtp-h265-depacketizer.ts';
import { H265DtsExtractor } from '../../core/codec/h265/dts-extractor.ts';
import { AacPackager } from '../../core/codec/aac/aac-packager.ts';
import type { AudioSpecificConfig } from '../../core/codec/aac/audio-specific-config.ts';
import { parseMpeg4GenericFmtp, RtpMpeg4GenericDepacketizer } from '../../core/codec/aac/rtp-mpeg4-generic.ts';
import { parseLatmFmtp, RtpMp4aLatmDepacketizer } from '../../core/codec/aac/rtp-mp4a-latm.ts';
import { packG711Frame } from '../../core/codec/g711.ts';

/** Maps an RTP timestamp of this track to session 90 kHz ticks (see rtsp-timeline.ts). */
export type ToTicks90k = (rtpTimestamp: number) => number;

export interface TrackCodec {
  readonly media: 'video' | 'audio';
  /** 'h264', 'h265', 'aac', 'pcma', 'pcmu'. */
  readonly codec: string;
  /**
   * One in-order packet. @param lostBefore packets lost just before it (the depacketizer drops what they broke).
   * @returns messages ready for the hub (sequence headers first); [] while a unit is incomplete.
   */
  push(pkt: RtpPacket, lostBefore: number, toTicks: ToTicks90k): RtmpMessage[];
  /** onMetaData fields this track knows (width/height/framerate, audio codec/rate/channels). */
  describe(meta: Record<string, Amf0Value>): void;
  /** Frames published and frames dropped (loss, undecodable DTS, waiting for a keyframe). */
  readonly stats: { readonly frames: number; readonly droppedFrames: number };
}

type OnError = (err: GatewayError) => void;


/**
 * The pipeline for one SDP track.
 * @throws GatewayError(RtpUnsupportedCodec) for an encoding castgate cannot publish, GatewayError from the fmtp
 *   parsers (bad sprop-parameter-sets, AAC config) when the SDP is unusable.
 */
export function createTrackCodec(track: SdpTrack, onError: OnError): TrackCodec {
  switch (track.encodingName) {
    case 'H264':
      return new VideoTrackCodec(h264Parts(track, onError), onError);
    case 'H265':
      return new VideoTrackCodec(h265Parts(track, onError), onError);
    case 'MPEG4-GENERIC':
    case 'MP4A-LATM':
      return new AacTrackCodec(track, onError);
    case 'PCMA':
    case 'PCMU':
      return new G711TrackCodec(track);
    default:
      throw new GatewayError(
        ErrorCode.RtpUnsupportedCodec,
        `track ${track.index} (${track.media}): ${track.encodingName}/${track.clockRate} is not supported (H264, H265, MPEG4-GENERIC, MP4A-LATM, PCMA, PCMU are)`,
      );
  }
}

/** The codec-specific parts of a video track: H.264 and H.265 differ only in these. */
interface VideoParts {
  readonly codec: 'h264' | 'h265';
  readonly depacketizer: { push(pkt: RtpPacket): { readonly nalus: readonly Uint8Array[]; readonly rtpTimestamp: number } | undefined; onPacketLoss(): void };
  readonly dts: { extract(nalus: readonly Uint8Array[], pts90k: number): number };
  readonly packager: {
    packAccessUnit(nalus: readonly Uint8Array[], pts90k: number, dts90k: number): RtmpMessage[];
    readonly sps: { readonly width: number; readonly height: number; readonly fps?: number | undefined } | undefined;
  };
  /** Whether a NAL unit is a coded slice (an AU without one has no DTS). */
  readonly isVcl: (nalu: Uint8Array) => boolean;
  /** onMetaData videocodecid: 7 (AVC) or the Enhanced RTMP FourCC as a number. */
  readonly videocodecid: number;
}

/** H.264: RFC 6184 modes 0 and 1; the SDP's sprop-parameter-sets prime the packager and the DTS extractor. */
function h264Parts(track: SdpTrack, onError: OnError): VideoParts {
  const fmtp = parseH264Fmtp(track.fmtp);
  if (fmtp.packetizationMode > 1) {
    throw new GatewayError(ErrorCode.RtpUnsupportedCodec, `track ${track.index}: H264 packetization-mode ${fmtp.packetizationMode} (interleaved) is not supported`);
  }
  const dts = new H264DtsExtractor();
  const packager = new AvcPackager();
  if (fmtp.sps !== undefined && fmtp.pps !== undefined) {
    try {
      packager.setParameterSets(fmtp.sps, fmtp.pps);
      dts.setParameterSets(fmtp.sps, fmtp.pps);
    } catch (err) {
      // In-band SPS/PPS (sent before every IDR by most encoders) will still do.
      onError(err as GatewayError);
    }
  }
  const isVcl = (n: Uint8Array): boolean => isVclNaluType((n[0] ?? 0) & 0x1f);
  return { codec: 'h264', depacketizer: new RtpH264Depacketizer(onError), dts, packager, isVcl, videocodecid: VideoCodecId.Avc };
}

/** H.265: RFC 7798 without DONL; sprop-vps/sps/pps prime the packager and the DTS extractor. */
function h265Parts(track: SdpTrack, onError: OnError): VideoParts {
  const fmtp = parseH265Fmtp(track.fmtp);
  if (fmtp.maxDonDiff > 0) {
    throw new GatewayError(ErrorCode.RtpUnsupportedCodec, `track ${track.index}: H265 with sprop-max-don-diff ${fmtp.maxDonDiff} (DONL fields) is not supported`);
  }
  const dts = new H265DtsExtractor();
  const packager = new HevcPackager();
  if (fmtp.vps !== undefined && fmtp.sps !== undefined && fmtp.pps !== undefined) {
    try {
      packager.setParameterSets(fmtp.vps, fmtp.sps, fmtp.pps);
      dts.setParameterSets(fmtp.vps, fmtp.sps, fmtp.pps);
    } catch (err) {
      onError(err as GatewayError);
    }
  }
  const isVcl = (n: Uint8Array): boolean => isVcl265(h265NaluType(n));
  return { codec: 'h265', depacketizer: new RtpH265Depacketizer(onError), dts, packager, isVcl, videocodecid: HEVC_FOURCC_ID };
}

class VideoTrackCodec implements TrackCodec {
  readonly media = 'video';
  readonly codec: 'h264' | 'h265';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #parts: VideoParts;
  readonly #onError: OnError;

  constructor(parts: VideoParts, onError: OnError) {
    this.#parts = parts;
    this.codec = parts.codec;
    this.#onError = onError;
  }

  push(pkt: RtpPacket, lostBefore: number, toTicks: ToTicks90k): RtmpMessage[] {
    const { depacketizer, dts, packager, isVcl } = this.#parts;
    if (lostBefore > 0) depacketizer.onPacketLoss();
    const au = depacketizer.push(pkt);
    if (au === undefined) return [];
    const pts90k = toTicks(au.rtpTimestamp);
    let dts90k: number;
    try {
      dts90k = dts.extract(au.nalus, pts90k);
    } catch (err) {
      // An AU of parameter sets only (no slice) has no DTS but may carry new parameter sets: the packager turns
      // it into a sequence header and publishes no frame.
      if (!au.nalus.some(isVcl)) return packager.packAccessUnit(au.nalus, pts90k, pts90k);
      this.stats.droppedFrames++;
      this.#onError(err as GatewayError);
      return [];
    }
    return countFrames(this.stats, packager.packAccessUnit(au.nalus, pts90k, dts90k));
  }

  describe(meta: Record<string, Amf0Value>): void {
    const sps = this.#parts.packager.sps;
    if (sps === undefined) return;
    meta.width = sps.width;
    meta.height = sps.height;
    meta.videocodecid = this.#parts.videocodecid;
    if (sps.fps !== undefined) meta.framerate = sps.fps;
  }
}

interface AacDepacketizer {
  push(pkt: RtpPacket): { readonly frames: readonly Uint8Array[]; readonly rtpTimestamp: number } | undefined;
  onPacketLoss(): void;
}

class AacTrackCodec implements TrackCodec {
  readonly media = 'audio';
  readonly codec = 'aac';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #depacketizer: AacDepacketizer;
  readonly #packager = new AacPackager();
  readonly #samplesPerFrame: number;
  readonly #clockRate: number;
  /** From the SDP (RFC 3640 config=, or LATM StreamMuxConfig); LATM with cpresent=1 learns it in-band. */
  readonly #asc: () => AudioSpecificConfig | undefined;

  constructor(track: SdpTrack, onError: OnError) {
    this.#clockRate = track.clockRate;
    if (track.encodingName === 'MPEG4-GENERIC') {
      const fmtp = parseMpeg4GenericFmtp(track.fmtp);
      const d = new RtpMpeg4GenericDepacketizer(fmtp, onError);
      this.#depacketizer = d;
      this.#samplesPerFrame = d.samplesPerFrame;
      this.#asc = () => fmtp.asc;
    } else {
      const fmtp = parseLatmFmtp(track.fmtp, track.clockRate, track.channels);
      const d = new RtpMp4aLatmDepacketizer(fmtp, onError);
      this.#depacketizer = d;
      this.#samplesPerFrame = d.samplesPerFrame;
      this.#asc = () => d.asc ?? fmtp.asc;
    }
  }

  push(pkt: RtpPacket, lostBefore: number, toTicks: ToTicks90k): RtmpMessage[] {
    if (lostBefore > 0) this.#depacketizer.onPacketLoss();
    const got = this.#depacketizer.push(pkt);
    if (got === undefined) return [];
    const asc = this.#asc();
    if (asc === undefined) {
      this.stats.droppedFrames += got.frames.length;
      return [];
    }
    // Frame i sits samplesPerFrame·i samples after the packet's timestamp, in the RTP clock (the sample rate for
    // AAC, RFC 3640 §3.2.1). Computed on the 32-bit RTP clock so the unwrapper sees rising values.
    const step = (this.#samplesPerFrame * this.#clockRate) / asc.samplingFrequency;
    const out: RtmpMessage[] = [];
    for (let i = 0; i < got.frames.length; i++) {
      const rtpTs = (got.rtpTimestamp + Math.round(i * step)) >>> 0;
      for (const m of this.#packager.packRawFrame(got.frames[i] as Uint8Array, toTicks(rtpTs), asc)) out.push(m);
    }
    return countFrames(this.stats, out);
  }

  describe(meta: Record<string, Amf0Value>): void {
    const asc = this.#packager.config;
    if (asc === undefined) return;
    meta.audiocodecid = 10;
    meta.audiosamplerate = asc.samplingFrequency;
    meta.audiochannels = asc.channelConfiguration;
    meta.stereo = asc.channelConfiguration === 2;
  }
}

class G711TrackCodec implements TrackCodec {
  readonly media = 'audio';
  readonly codec: 'pcma' | 'pcmu';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #channels: number;
  readonly #clockRate: number;

  constructor(track: SdpTrack) {
    this.codec = track.encodingName === 'PCMA' ? 'pcma' : 'pcmu';
    this.#channels = track.channels;
    this.#clockRate = track.clockRate;
    if (track.clockRate !== 8000) {
      throw new GatewayError(ErrorCode.RtpUnsupportedCodec, `track ${track.index}: ${track.encodingName}/${track.clockRate}: FLV carries G.711 at 8000 Hz only`);
    }
  }

  push(pkt: RtpPacket, _lostBefore: number, toTicks: ToTicks90k): RtmpMessage[] {
    // Every G.711 packet stands alone: a loss costs only the lost packets.
    const msg = packG711Frame(pkt.payload, Math.round(toTicks(pkt.timestamp) / 90), this.codec, this.#channels);
    if (msg === undefined) return [];
    this.stats.frames++;
    return [msg];
  }

  describe(meta: Record<string, Amf0Value>): void {
    meta.audiocodecid = this.codec === 'pcma' ? 7 : 8;
    meta.audiosamplerate = this.#clockRate;
    meta.audiochannels = this.#channels;
    meta.stereo = this.#channels === 2;
  }
}

function countFrames(stats: { frames: number }, out: RtmpMessage[]): RtmpMessage[] {
  for (const m of out) if (!m.isConfig) stats.frames++;
  return out;
}
