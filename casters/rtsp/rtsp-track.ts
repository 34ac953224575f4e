/**
 * The receive side of one RTSP track (one SETUP), one way through:
 *
 * ```
 * RTP datagram / interleaved frame → header parse → payload-type check → reorder buffer (UDP) or sequence
 * check (TCP) → the track's codec pipeline (depacketize → DTS → packager, track-codecs.ts) → TrackSink
 * ```
 * The track owns its clock (a TrackClock of the session timeline, fed by its RTCP sender reports): the pipeline
 * reads time from it, and messages and decode errors leave through the TrackSink given at construction, one by one.
 * No array or closure is made per packet: the parsed RtpPacket (and the payload views a depacketizer keeps) is all;
 * messages are made per access unit by the packagers. RTCP of the track also feeds the receiver statistics that our
 * receiver reports (RFC 3550 §6.4.2) are built from.
 */
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import { parseRtpPacket, type RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { parseRtcpCompound, type RtcpReportBlock } from '../../core/protocol/rtp/rtcp.ts';
import { RtpReorderBuffer, type RtpReorderOptions } from '../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { RtpReceiverStats } from '../../core/protocol/rtp/rtp-receiver-stats.ts';
import { RtpWallClock } from '../../core/protocol/rtp/rtp-clock.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import type { RtspTimeline, TrackClock } from './rtsp-timeline.ts';
import { createTrackCodec, type TrackCodec, type TrackSink } from './track-codecs.ts';

export type { TrackSink } from './track-codecs.ts';

/** Counters of one track, kept for the API and the session's closing log line. */
export interface RtspTrackStats {
  readonly control: string;
  readonly codec: string;
  packets: number;
  bytes: number;
  rtcpPackets: number;
  /** Sequence numbers skipped (never arrived, or arrived after their slot was given up). */
  lost: number;
  /** Arrived out of order and put back in order. */
  reordered: number;
  duplicates: number;
  /** Arrived too late for the reorder buffer: dropped. */
  outOfOrderDropped: number;
  /** Packets whose payload type is not the SDP's (dropped). */
  wrongPayloadType: number;
  /** Frames published / dropped by the codec pipeline. */
  frames: number;
  droppedFrames: number;
  decodeErrors: number;
  /** How the track was placed on the session timeline (sender-report, arrival, anchor). */
  sync: string;
}

export interface RtspTrackOptions {
  readonly sdp: SdpTrack;
  /** The session's timeline: the track's clock is placed on it at the track's first unit. */
  readonly timeline: RtspTimeline;
  readonly reorder: RtpReorderOptions;
  /** Where this track's messages (in its DTS order) and non-fatal problems go. */
  readonly sink: TrackSink;
}

export class RtspTrack {
  readonly sdp: SdpTrack;
  readonly codec: TrackCodec;
  readonly #sink: TrackSink;
  readonly #reorder: RtpReorderBuffer;
  readonly #wall: RtpWallClock;
  readonly #clock: TrackClock;
  readonly #receiver: RtpReceiverStats;
  readonly #stats: RtspTrackStats;
  /** Arrival time of the packet (or timer tick) being processed: the clock places the track with it. */
  #arrivalMs = 0;
  #ssrc: number | undefined;
  /** Last RTP or RTCP arrival (ms, caller's clock); 0 before any. */
  lastActivityMs = 0;

  /**
   * @throws GatewayError from createTrackCodec (RtpUnsupportedCodec, fmtp errors) when the SDP track cannot be
   *   published.
   */
  constructor(opts: RtspTrackOptions) {
    this.sdp = opts.sdp;
    this.#sink = opts.sink;
    this.#wall = new RtpWallClock(opts.sdp.clockRate);
    this.#clock = opts.timeline.track(opts.sdp.clockRate, this.#wall);
    this.codec = createTrackCodec(opts.sdp, this.#clock, opts.sink);
    // Ordered packets go straight into the codec pipeline (one object for the track's life, not per packet).
    this.#reorder = new RtpReorderBuffer(opts.reorder, { onOrderedPacket: (packet, lostBefore) => this.#onOrderedPacket(packet, lostBefore) });
    this.#receiver = new RtpReceiverStats(opts.sdp.clockRate);
    this.#stats = {
      control: opts.sdp.control,
      codec: this.codec.codec,
      packets: 0,
      bytes: 0,
      rtcpPackets: 0,
      lost: 0,
      reordered: 0,
      duplicates: 0,
      outOfOrderDropped: 0,
      wrongPayloadType: 0,
      frames: 0,
      droppedFrames: 0,
      decodeErrors: 0,
      sync: '',
    };
  }

  /** The sender's SSRC (from its first packet), for receiver reports. */
  get ssrc(): number | undefined {
    return this.#ssrc;
  }

  /** One RTP packet (a UDP datagram or an interleaved frame's payload). Never throws. */
  onRtp(data: Buffer, arrivalMs: number): void {
    this.lastActivityMs = arrivalMs;
    let pkt: RtpPacket;
    try {
      pkt = parseRtpPacket(data);
    } catch (err) {
      this.#error(err);
      return;
    }
    if (pkt.payloadType !== this.sdp.payloadType) {
      // RTCP on the RTP port (rtcp-mux) or a stray stream: never fed to the depacketizer.
      this.#stats.wrongPayloadType++;
      return;
    }
    this.#stats.packets++;
    this.#stats.bytes += data.length;
    this.#ssrc ??= pkt.ssrc;
    this.#receiver.onPacket(pkt, arrivalMs);
    this.#arrivalMs = arrivalMs;
    this.#reorder.push(pkt, arrivalMs);
  }

  /** One RTCP compound packet. Never throws. */
  onRtcp(data: Buffer, arrivalMs: number): void {
    this.lastActivityMs = arrivalMs;
    this.#stats.rtcpPackets++;
    try {
      for (const p of parseRtcpCompound(data)) {
        if (p.type !== 'sr') continue;
        this.#wall.onSenderReport(p.report);
        this.#receiver.onSenderReport(p.report, arrivalMs);
      }
    } catch (err) {
      this.#error(err);
    }
  }

  /** Give up on reorder gaps older than the buffer's delay (called from the session's timer). */
  flush(nowMs: number): void {
    this.#arrivalMs = nowMs;
    this.#reorder.flushExpired(nowMs);
  }

  /** The report block for our next RTCP receiver report; undefined before the first packet. */
  reportBlock(nowMs: number): RtcpReportBlock | undefined {
    return this.#receiver.reportBlock(nowMs);
  }

  stats(): RtspTrackStats {
    const r = this.#reorder.stats;
    this.#stats.lost = r.lost;
    this.#stats.reordered = r.reordered;
    this.#stats.duplicates = r.duplicates;
    this.#stats.outOfOrderDropped = r.late;
    this.#stats.frames = this.codec.stats.frames;
    this.#stats.droppedFrames = this.codec.stats.droppedFrames;
    this.#stats.sync = this.#clock.sync ?? '';
    return { ...this.#stats };
  }

  /** The reorder buffer's sink: one in-order packet into the codec pipeline. */
  #onOrderedPacket(packet: RtpPacket, lostBefore: number): void {
    try {
      this.codec.push(packet, lostBefore, this.#arrivalMs);
    } catch (err) {
      // Pipelines report through the sink and do not throw; a throw is a bug: drop this packet, keep going (and
      // keep the reorder buffer, which is calling us, consistent).
      this.#error(err);
    }
  }

  #error(err: unknown): void {
    this.#stats.decodeErrors++;
    this.#sink.onDecodeError(
      isGatewayError(err) ? err : new GatewayError(ErrorCode.RtpPayload, `track ${this.sdp.index}: ${String(err)}`, { cause: err }),
    );
  }
}
