/**
 * Per-codec pipelines of an RTSP track: in-order RTP packets → depacketizer → (DTS rebuild) → the shared
 * packagers of core/codec → RtmpMessages, handed one by one to the track's TrackSink. Chosen from the SDP's
 * rtpmap encoding name, never from the payload type number (SRS's removed caster hard-coded 96/97). Timestamps
 * come from the track's own TrackClock (rtsp-timeline.ts); onMetaData facts are given as core/remux/metadata.ts
 * TrackMetadata.
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
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { AvcPackager } from '../../core/codec/h264/avc-packager.ts';
import { isVclNaluType } from '../../core/codec/h264/nalu.ts';
import { parseH264Fmtp } from '../../core/codec/h264/h264-fmtp.ts';
import { RtpH264Depacketizer } from '../../core/codec/h264/rtp-h264-depacketizer.ts';
import { H264DtsExtractor } from '../../core/codec/h264/dts-extractor.ts';
import { HevcPackager } from '../../core/codec/h265/hevc-packager.ts';
import { h265NaluType, isVcl as isVcl265 } from '../../core/codec/h265/nalu.ts';
import { parseH265Fmtp } from '../../core/codec/h265/h265-fmtp.ts';
import { RtpH265Depacketizer } from '../../core/codec/h265/rtp-h265-depacketizer.ts';
import { H265DtsExtractor } from '../../core/codec/h265/dts-extractor.ts';
import { AacPackager } from '../../core/codec/aac/aac-packager.ts';
import type { AudioSpecificConfig } from '../../core/codec/aac/audio-specific-config.ts';
import { parseMpeg4GenericFmtp, RtpMpeg4GenericDepacketizer, type AudioFrameSink } from '../../core/codec/aac/rtp-mpeg4-generic.ts';
import { parseLatmFmtp, RtpMp4aLatmDepacketizer } from '../../core/codec/aac/rtp-mp4a-latm.ts';
import { packG711Frame } from '../../core/codec/g711.ts';
import {
  aacTrackMetadata, avcTrackMetadata, g711TrackMetadata, hevcTrackMetadata, type PictureFacts, type TrackMetadata, type VideoTrackMetadata,
} from '../../core/remux/metadata.ts';
import type { TrackClock } from './rtsp-timeline.ts';

/** Where a track delivers: the session's media output (rtsp-media-out.ts), or a test's collector. */
export interface TrackSink {
  /** One message ready for the hub, in the track's DTS order (a sequence header before the frames it describes). */
  onMessage(msg: RtmpMessage): void;
  /** A non-fatal problem (malformed payload, loss, undecodable DTS): to be logged rate-limited. Must not throw. */
  onDecodeError(err: GatewayError): void;
}

export interface TrackCodec {
  readonly media: 'video' | 'audio';
  /** 'h264', 'h265', 'aac', 'pcma', 'pcmu'. */
  readonly codec: string;
  /**
   * One in-order packet; what it completes goes to the sink (sequence headers first). Nothing is returned.
   * @param lostBefore packets lost just before it (the depacketizer drops what they broke).
   * @param arrivalMs arrival of the packet, or of the timer tick that released it from the reorder buffer (ms):
   *   places the track on the session timeline at its first unit.
   */
  push(pkt: RtpPacket, lostBefore: number, arrivalMs: number): void;
  /** onMetaData facts of this track (size/framerate, audio codec/rate/channels); undefined until known. */
  metadata(): TrackMetadata | undefined;
  /** Frames published and frames dropped (loss, undecodable DTS, waiting for a keyframe). */
  readonly stats: { readonly frames: number; readonly droppedFrames: number };
}

type OnError = (err: GatewayError) => void;

/**
 * The pipeline for one SDP track, timed by `clock` (the track's own), delivering to `sink`.
 * @throws GatewayError(RtpUnsupportedCodec) for an encoding castgate cannot publish, GatewayError from the fmtp
 *   parsers (bad sprop-parameter-sets, AAC config) when the SDP is unusable.
 */
export function createTrackCodec(track: SdpTrack, clock: TrackClock, sink: TrackSink): TrackCodec {
  const onError: OnError = (err) => sink.onDecodeError(err);
  switch (track.encodingName) {
    case 'H264':
      return new VideoTrackCodec(h264Parts(track, onError), clock, sink);
    case 'H265':
      return new VideoTrackCodec(h265Parts(track, onError), clock, sink);
    case 'MPEG4-GENERIC':
    case 'MP4A-LATM':
      return new AacTrackCodec(track, clock, sink, onError);
    case 'PCMA':
    case 'PCMU':
      return new G711TrackCodec(track, clock, sink);
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
    readonly sps: PictureFacts | undefined;
  };
  /** Whether a NAL unit is a coded slice (an AU without one has no DTS). */
  readonly isVcl: (nalu: Uint8Array) => boolean;
  /** onMetaData of the codec (videocodecid 7 AVC, or the Enhanced RTMP FourCC 'hvc1'). */
  readonly metadata: (sps: PictureFacts | undefined) => VideoTrackMetadata | undefined;
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
  return { codec: 'h264', depacketizer: new RtpH264Depacketizer(onError), dts, packager, isVcl, metadata: avcTrackMetadata };
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
  return { codec: 'h265', depacketizer: new RtpH265Depacketizer(onError), dts, packager, isVcl, metadata: hevcTrackMetadata };
}

class VideoTrackCodec implements TrackCodec {
  readonly media = 'video';
  readonly codec: 'h264' | 'h265';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #parts: VideoParts;
  readonly #clock: TrackClock;
  readonly #sink: TrackSink;

  constructor(parts: VideoParts, clock: TrackClock, sink: TrackSink) {
    this.#parts = parts;
    this.codec = parts.codec;
    this.#clock = clock;
    this.#sink = sink;
  }

  push(pkt: RtpPacket, lostBefore: number, arrivalMs: number): void {
    const { depacketizer, dts, packager, isVcl } = this.#parts;
    if (lostBefore > 0) depacketizer.onPacketLoss();
    const au = depacketizer.push(pkt);
    if (au === undefined) return;
    const pts90k = this.#clock.toTicks90k(au.rtpTimestamp, arrivalMs);
    let dts90k: number;
    try {
      dts90k = dts.extract(au.nalus, pts90k);
    } catch (err) {
      // An AU of parameter sets only (no slice) has no DTS but may carry new parameter sets: the packager turns
      // it into a sequence header and publishes no frame.
      if (!au.nalus.some(isVcl)) {
        for (const m of packager.packAccessUnit(au.nalus, pts90k, pts90k)) this.#sink.onMessage(m);
        return;
      }
      this.stats.droppedFrames++;
      this.#sink.onDecodeError(err as GatewayError);
      return;
    }
    emitCounted(this.#sink, this.stats, packager.packAccessUnit(au.nalus, pts90k, dts90k));
  }

  metadata(): VideoTrackMetadata | undefined {
    return this.#parts.metadata(this.#parts.packager.sps);
  }
}

interface AacDepacketizer {
  push(pkt: RtpPacket, sink: AudioFrameSink): number;
  onPacketLoss(): void;
}

/** AAC (RFC 3640 or RFC 6416): the depacketizer hands this codec its frames (it is their AudioFrameSink). */
class AacTrackCodec implements TrackCodec, AudioFrameSink {
  readonly media = 'audio';
  readonly codec = 'aac';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #depacketizer: AacDepacketizer;
  readonly #packager = new AacPackager();
  readonly #clock: TrackClock;
  readonly #sink: TrackSink;
  readonly #samplesPerFrame: number;
  readonly #clockRate: number;
  /** From the SDP (RFC 3640 config=, or LATM StreamMuxConfig); LATM with cpresent=1 learns it in-band. */
  readonly #asc: () => AudioSpecificConfig | undefined;
  /** Arrival time of the packet being depacketized (for the clock, while its frames come back). */
  #arrivalMs = 0;

  constructor(track: SdpTrack, clock: TrackClock, sink: TrackSink, onError: OnError) {
    this.#clock = clock;
    this.#sink = sink;
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

  push(pkt: RtpPacket, lostBefore: number, arrivalMs: number): void {
    if (lostBefore > 0) this.#depacketizer.onPacketLoss();
    this.#arrivalMs = arrivalMs;
    this.#depacketizer.push(pkt, this);
  }

  /** AudioFrameSink: one raw frame of the packet being pushed → ['audio-config'?, 'audio'] to the sink. */
  onAudioFrame(frame: Uint8Array, rtpTimestamp: number, index: number): void {
    const asc = this.#asc();
    if (asc === undefined) {
      this.stats.droppedFrames++;
      return;
    }
    // Frame i sits samplesPerFrame·i samples after the packet's timestamp, in the RTP clock (the sample rate for
    // AAC, RFC 3640 §3.2.1). Computed on the 32-bit RTP clock so the unwrapper sees rising values.
    const step = (this.#samplesPerFrame * this.#clockRate) / asc.samplingFrequency;
    const rtpTs = (rtpTimestamp + Math.round(index * step)) >>> 0;
    emitCounted(this.#sink, this.stats, this.#packager.packRawFrame(frame, this.#clock.toTicks90k(rtpTs, this.#arrivalMs), asc));
  }

  metadata(): TrackMetadata | undefined {
    return aacTrackMetadata(this.#packager.config);
  }
}

class G711TrackCodec implements TrackCodec {
  readonly media = 'audio';
  readonly codec: 'pcma' | 'pcmu';
  readonly stats = { frames: 0, droppedFrames: 0 };
  readonly #clock: TrackClock;
  readonly #sink: TrackSink;
  readonly #channels: number;
  readonly #clockRate: number;

  constructor(track: SdpTrack, clock: TrackClock, sink: TrackSink) {
    this.codec = track.encodingName === 'PCMA' ? 'pcma' : 'pcmu';
    this.#clock = clock;
    this.#sink = sink;
    this.#channels = track.channels;
    this.#clockRate = track.clockRate;
    if (track.clockRate !== 8000) {
      throw new GatewayError(ErrorCode.RtpUnsupportedCodec, `track ${track.index}: ${track.encodingName}/${track.clockRate}: FLV carries G.711 at 8000 Hz only`);
    }
  }

  push(pkt: RtpPacket, _lostBefore: number, arrivalMs: number): void {
    // Every G.711 packet stands alone: a loss costs only the lost packets.
    const msg = packG711Frame(pkt.payload, Math.round(this.#clock.toTicks90k(pkt.timestamp, arrivalMs) / 90), this.codec, this.#channels);
    if (msg === undefined) return;
    this.stats.frames++;
    this.#sink.onMessage(msg);
  }

  metadata(): TrackMetadata {
    return g711TrackMetadata(this.codec, this.#channels, this.#clockRate);
  }
}

/** Hand a packager's messages to the sink, counting the frames (not the sequence headers). */
function emitCounted(sink: TrackSink, stats: { frames: number }, msgs: readonly RtmpMessage[]): void {
  for (const m of msgs) {
    if (!m.isConfig) stats.frames++;
    sink.onMessage(m);
  }
}
