/**
 * The receive side of one RTSP track (one SETUP): RTP datagrams or interleaved frames → header parse →
 * payload-type and SSRC check → reorder buffer (UDP) or sequence check (TCP) → the track's codec pipeline →
 * RtmpMessages. RTCP of the track feeds the wall clock (sender reports) and the receiver statistics that our
 * receiver reports (RFC 3550 §6.4.2) are built from.
 */
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { parseRtpPacket, type RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { parseRtcpCompound, type RtcpReportBlock } from '../../core/protocol/rtp/rtcp.ts';
import { RtpReorderBuffer, type RtpOrderedPacket, type RtpReorderOptions } from '../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { RtpReceiverStats } from '../../core/protocol/rtp/rtp-receiver-stats.ts';
import { RtpWallClock } from '../../core/protocol/rtp/rtp-clock.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import type { RtspTimeline, TrackClock } from './rtsp-timeline.ts';
import type { TrackCodec } from './track-codecs.ts';

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
  readonly codec: TrackCodec;
  readonly timeline: RtspTimeline;
  readonly reorder: RtpReorderOptions;
  /** Ready messages of this track (in its DTS order). */
  readonly onMessages: (msgs: RtmpMessage[]) => void;
  /** Non-fatal problems (logged rate-limited by the session). */
  readonly onError: (err: GatewayError) => void;
}

export class RtspTrack {
  readonly sdp: SdpTrack;
  readonly codec: TrackCodec;
  readonly #opts: RtspTrackOptions;
  readonly #reorder: RtpReorderBuffer;
  readonly #wall: RtpWallClock;
  readonly #clock: TrackClock;
  readonly #receiver: RtpReceiverStats;
  readonly #stats: RtspTrackStats;
  /** Arrival time of the packet being processed (the clock uses it for the track's first packet). */
  #arrivalMs = 0;
  readonly #toTicks = (rtpTimestamp: number): number => this.#clock.toTicks90k(rtpTimestamp, this.#arrivalMs);
  #ssrc: number | undefined;
  /** Last RTP or RTCP arrival (ms, caller's clock); 0 before any. */
  lastActivityMs = 0;

  constructor(opts: RtspTrackOptions) {
    this.#opts = opts;
    this.sdp = opts.sdp;
    this.codec = opts.codec;
    this.#reorder = new RtpReorderBuffer(opts.reorder);
    this.#wall = new RtpWallClock(opts.sdp.clockRate);
    this.#clock = opts.timeline.track(opts.sdp.clockRate, this.#wall);
    this.#receiver = new RtpReceiverStats(opts.sdp.clockRate);
    this.#stats = {
      control: opts.sdp.control,
      codec: opts.codec.codec,
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
    this.#deliver(this.#reorder.push(pkt, arrivalMs), arrivalMs);
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
    this.#deliver(this.#reorder.flushExpired(nowMs), nowMs);
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

  #deliver(ordered: RtpOrderedPacket[], arrivalMs: number): void {
    for (const { packet, lostBefore } of ordered) {
      this.#arrivalMs = arrivalMs;
      let msgs: RtmpMessage[];
      try {
        msgs = this.codec.push(packet, lostBefore, this.#toTicks);
      } catch (err) {
        // Pipelines report through onError and do not throw; a throw is a bug: drop this packet, keep going.
        this.#error(err);
        continue;
      }
      if (msgs.length > 0) this.#opts.onMessages(msgs);
    }
  }

  #error(err: unknown): void {
    this.#stats.decodeErrors++;
    this.#opts.onError(
      isGatewayError(err) ? err : new GatewayError(ErrorCode.RtpPayload, `track ${this.sdp.index}: ${String(err)}`, { cause: err }),
    );
  }

  /** Count a decode error reported by the codec pipeline (the session routes them here). */
  countDecodeError(): void {
    this.#stats.decodeErrors++;
  }
}
