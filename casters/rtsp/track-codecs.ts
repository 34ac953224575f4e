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
import type { RtmpMessage } from '../../core/media/message.ts';
import type { Amf0Value } from '../../core/protocol/amf0.ts';
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { AvcPackager } from '../../core/codec/h264/avc-packager.ts';
import { isVclNaluType } from '../../core/codec/h264/nalu.ts';
import { parseH264Fmtp } from '../../core/codec/h264/h264-fmtp.ts';
import { RtpH264Depacketizer } from '../../core/codec/h264/rtp-h264-depacketizer.ts';
import { H264DtsExtractor } from '../../core/codec/h264/dts-extractor.ts';
import { HevcPackager } from '../../core/codec/h265/hevc-packager.ts';
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

/** 'hvc1' as a big-endian uint32 (Enhanced RTMP onMetaData videocodecid). */
const HVC1_FOURCC = 0x68766331;

/**
 * The pipeline for one SDP track.
 * @throws GatewayError(RtpUnsupportedCodec) for an encoding castgate cannot publish, GatewayError from the fmtp
 *   parsers (bad sprop-parameter-sets, AAC config) when the SDP is unusable.
 */
export function createTrackCodec(track: SdpTrack, onError: OnError): TrackCodec {
  switch (track.encodingName) {
    case 'H264':
      return new H264TrackCodec(track, onError);
    case 'H265':
      return new H265TrackCodec(track, onError);
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

class H264TrackCodec implements TrackCodec {
  readonly media = 'video';
  readonly codec = 'h264';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #onError: OnError;
  readonly #depacketizer: RtpH264Depacketizer;
  readonly #dts = new H264DtsExtractor();
  readonly #packager = new AvcPackager();

  constructor(track: SdpTrack, onError: OnError) {
    this.#onError = onError;
    this.#depacketizer = new RtpH264Depacketizer(onError);
    const fmtp = parseH264Fmtp(track.fmtp);
    if (fmtp.packetizationMode > 1) {
      throw new GatewayError(ErrorCode.RtpUnsupportedCodec, `track ${track.index}: H264 packetization-mode ${fmtp.packetizationMode} (interleaved) is not supported`);
    }
    if (fmtp.sps !== undefined && fmtp.pps !== undefined) {
      try {
        this.#packager.setParameterSets(fmtp.sps, fmtp.pps);
        this.#dts.setParameterSets(fmtp.sps, fmtp.pps);
      } catch (err) {
        // In-band SPS/PPS (sent before every IDR by most encoders) will still do.
        onError(err as GatewayError);
      }
    }
  }

  push(pkt: RtpPacket, lostBefore: number, toTicks: ToTicks90k): RtmpMessage[] {
    if (lostBefore > 0) this.#depacketizer.onPacketLoss();
    const au = this.#depacketizer.push(pkt);
    if (au === undefined) return [];
    const pts90k = toTicks(au.rtpTimestamp);
    let dts90k: number;
    try {
      dts90k = this.#dts.extract(au.nalus, pts90k);
    } catch (err) {
      // An AU of parameter sets only (no slice) has no DTS but may carry a new SPS/PPS: the packager turns it
      // into a sequence header and publishes no frame.
      if (!au.nalus.some((n) => isVclNaluType((n[0] ?? 0) & 0x1f))) return this.#packager.packAccessUnit(au.nalus, pts90k, pts90k);
      this.stats.droppedFrames++;
      this.#onError(err as GatewayError);
      return [];
    }
    return countFrames(this.stats, this.#packager.packAccessUnit(au.nalus, pts90k, dts90k));
  }

  describe(meta: Record<string, Amf0Value>): void {
    const sps = this.#packager.sps;
    if (sps === undefined) return;
    meta.width = sps.width;
    meta.height = sps.height;
    meta.videocodecid = 7;
    if (sps.fps !== undefined) meta.framerate = sps.fps;
  }
}

class H265TrackCodec implements TrackCodec {
  readonly media = 'video';
  readonly codec = 'h265';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #onError: OnError;
  readonly #depacketizer: RtpH265Depacketizer;
  readonly #dts = new H265DtsExtractor();
  readonly #packager = new HevcPackager();

  constructor(track: SdpTrack, onError: OnError) {
    this.#onError = onError;
    this.#depacketizer = new RtpH265Depacketizer(onError);
    const fmtp = parseH265Fmtp(track.fmtp);
    if (fmtp.maxDonDiff > 0) {
      throw new GatewayError(ErrorCode.RtpUnsupportedCodec, `track ${track.index}: H265 with sprop-max-don-diff ${fmtp.maxDonDiff} (DONL fields) is not supported`);
    }
    if (fmtp.vps !== undefined && fmtp.sps !== undefined && fmtp.pps !== undefined) {
      try {
        this.#packager.setParameterSets(fmtp.vps, fmtp.sps, fmtp.pps);
        this.#dts.setParameterSets(fmtp.vps, fmtp.sps, fmtp.pps);
      } catch (err) {
        onError(err as GatewayError);
      }
    }
  }

  push(pkt: RtpPacket, lostBefore: number, toTicks: ToTicks90k): RtmpMessage[] {
    if (lostBefore > 0) this.#depacketizer.onPacketLoss();
    const au = this.#depacketizer.push(pkt);
    if (au === undefined) return [];
    const pts90k = toTicks(au.rtpTimestamp);
    let dts90k: number;
    try {
      dts90k = this.#dts.extract(au.nalus, pts90k);
    } catch (err) {
      this.stats.droppedFrames++;
      this.#onError(err as GatewayError);
      return [];
    }
    return countFrames(this.stats, this.#packager.packAccessUnit(au.nalus, pts90k, dts90k));
  }

  describe(meta: Record<string, Amf0Value>): void {
    const sps = this.#packager.sps;
    if (sps === undefined) return;
    meta.width = sps.width;
    meta.height = sps.height;
    meta.videocodecid = HVC1_FOURCC; // Enhanced RTMP: videocodecid is the FourCC as a number
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
