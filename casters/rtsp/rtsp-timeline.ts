/**
 * One media timeline for an RTSP session: each track's 32-bit RTP timestamps (random start, own clock rate,
 * RFC 3550 §5.1) → unwrapped 90 kHz ticks shared by every track of the session, so audio and video line up.
 *
 * Where a track starts on the session timeline:
 * - the first packet of the session (any track) is the anchor, at SESSION_START_OFFSET_90K;
 * - a later track starts at its RTCP sender-report time minus the anchor's (RFC 3550 §6.4.1: SR maps RTP time
 *   to the sender's wall clock) when both that track and the anchor's track have had an SR;
 * - otherwise at its arrival time minus the anchor's arrival (what MediaMTX does by default; good on LANs).
 * After its start a track follows its own RTP clock only, so a late SR never makes timestamps jump. ffmpeg sends
 * an SR before the first RTP packet of each stream, so its pushes are always aligned by SR.
 *
 * SESSION_START_OFFSET_90K keeps the DTS of reordered video (DTS < PTS by the reorder depth) and tracks that
 * start slightly before the anchor on the sender's wall clock above zero.
 */
import type { RtpWallClock } from '../../core/protocol/rtp/rtp-clock.ts';
import { RtpTimestampUnwrapper } from '../../core/protocol/rtp/rtp-clock.ts';

/** 500 ms: larger than any B-frame reorder delay or A/V start skew we keep (ticks of 90 kHz). */
export const SESSION_START_OFFSET_90K = 45_000;

interface Anchor {
  readonly arrivalMs: number;
  readonly rtpTimestamp: number;
  readonly wall: RtpWallClock;
}

/** How a track's start was placed: for logs and stats. */
export type TrackSync = 'anchor' | 'sender-report' | 'arrival';

export class RtspTimeline {
  #anchor: Anchor | undefined;

  /** A clock for one track of this session. */
  track(clockRate: number, wall: RtpWallClock): TrackClock {
    return new TrackClock(this, clockRate, wall);
  }

  /** Where a track whose first packet arrives now starts, in ms after the anchor. @internal */
  placeTrack(rtpTimestamp: number, arrivalMs: number, wall: RtpWallClock): { startMs: number; sync: TrackSync } {
    const anchor = this.#anchor;
    if (anchor === undefined) {
      this.#anchor = { arrivalMs, rtpTimestamp, wall };
      return { startMs: 0, sync: 'anchor' };
    }
    const anchorUnixMs = anchor.wall.toUnixMs(anchor.rtpTimestamp);
    const trackUnixMs = wall.toUnixMs(rtpTimestamp);
    if (anchorUnixMs !== undefined && trackUnixMs !== undefined) {
      return { startMs: trackUnixMs - anchorUnixMs, sync: 'sender-report' };
    }
    return { startMs: arrivalMs - anchor.arrivalMs, sync: 'arrival' };
  }
}

/** One track's RTP time → session 90 kHz ticks. */
export class TrackClock {
  readonly #timeline: RtspTimeline;
  readonly #clockRate: number;
  readonly #wall: RtpWallClock;
  readonly #unwrapper = new RtpTimestampUnwrapper();
  #startExt = 0;
  #startTicks = -1;
  #sync: TrackSync | undefined;

  constructor(timeline: RtspTimeline, clockRate: number, wall: RtpWallClock) {
    this.#timeline = timeline;
    this.#clockRate = clockRate;
    this.#wall = wall;
  }

  /** How this track was placed on the timeline; undefined before its first packet. */
  get sync(): TrackSync | undefined {
    return this.#sync;
  }

  /**
   * Session ticks (90 kHz, integer) of an RTP timestamp of this track.
   * @param arrivalMs when the packet carrying it arrived (used only for the track's first packet).
   */
  toTicks90k(rtpTimestamp: number, arrivalMs: number): number {
    const ext = this.#unwrapper.unwrap(rtpTimestamp);
    if (this.#startTicks < 0) {
      const { startMs, sync } = this.#timeline.placeTrack(rtpTimestamp, arrivalMs, this.#wall);
      this.#sync = sync;
      this.#startExt = ext;
      this.#startTicks = Math.max(0, SESSION_START_OFFSET_90K + Math.round(startMs * 90));
    }
    return this.#startTicks + Math.round(((ext - this.#startExt) * 90_000) / this.#clockRate);
  }
}
