/**
 * HLS segment cutting and the playlist window, independent of the TS muxer (SRS SrsHlsController::write_audio/
 * write_video, SrsHlsMuxer::is_segment_overflow / is_segment_absolutely_overflow / segment_shrink). Pure: fed the
 * RTMP timestamp (ms) and kind of each message, it says when a new segment starts and which segments expired.
 *
 * - Video cuts at a keyframe once the open segment lasts hls_fragment (hls_wait_keyframe on), or at any video
 *   message past it (off). A segment starts with the message that cut it, so durations add up to the stream.
 * - Audio forces a cut once the segment lasts hls_fragment × hls_aof_ratio: how audio-only streams are cut,
 *   and a bound for video whose keyframes are far apart (SRS "absolutely overflow").
 * - A timestamp that goes backwards on its track, or jumps forward more than maxJumpMs (a republish), or a call
 *   to markDiscontinuity(), cuts at once and flags the next segment discontinuous (EXT-X-DISCONTINUITY).
 * - The window keeps the newest segments whose durations sum to just over hls_window (SRS keeps the segment
 *   that crosses it); older ones are returned as expired (deleted with hls_cleanup on).
 */
import type { FrameKind } from '../../media/message.ts';

/** SRS SRS_HLS_SEGMENT_MIN_DURATION × 2: no cut before a segment lasts this long (no tiny segments). */
export const HLS_MIN_SEGMENT_MS = 200;
/** A forward jump on one track larger than this is a discontinuity (a republish), not a gap. */
export const HLS_MAX_TIMESTAMP_JUMP_MS = 10_000;
/** Upper bound of the estimated duration of a segment's last frame (when it is closed without a next message). */
const MAX_FRAME_MS = 1000;

export interface HlsSegmenterOptions {
  /** hls_fragment in ms. */
  readonly fragmentMs: number;
  /** hls_aof_ratio. */
  readonly aofRatio: number;
  /** hls_window in ms. */
  readonly windowMs: number;
  /** hls_wait_keyframe. */
  readonly waitKeyframe: boolean;
  /** Default HLS_MAX_TIMESTAMP_JUMP_MS. */
  readonly maxJumpMs?: number;
  /** Sequence number of the first segment; default 0. */
  readonly firstSequence?: number;
}

/** A closed segment. */
export interface HlsSegmentInfo {
  /** Media sequence number. */
  readonly sequence: number;
  /** RTMP timestamp (ms) of its first message. */
  readonly startTimestampMs: number;
  readonly durationMs: number;
  /** EXT-X-DISCONTINUITY before it. */
  readonly discontinuity: boolean;
}

/** The segment being written. */
export interface HlsOpenSegment {
  readonly sequence: number;
  readonly startTimestampMs: number;
  readonly discontinuity: boolean;
}

export interface HlsSegmenterStep {
  /**
   * true: this message starts a new segment (`open`): close the current file first (when `closed` is set), open
   * the next one, then write the message. Also true for the first media message of the stream.
   */
  readonly cut: boolean;
  /** The segment closed by this step, now last in the window. */
  readonly closed: HlsSegmentInfo | undefined;
  /** Segments that left the window by this step, oldest first. */
  readonly expired: readonly HlsSegmentInfo[];
}

const NO_CUT: HlsSegmenterStep = Object.freeze({ cut: false, closed: undefined, expired: Object.freeze([]) });

type Track = 'audio' | 'video';

interface OpenState {
  readonly sequence: number;
  readonly startTimestampMs: number;
  readonly discontinuity: boolean;
  /** Latest timestamp seen in the segment, and the last positive frame step (for the tail estimate). */
  endTimestampMs: number;
  lastStepMs: number;
}

export class HlsSegmenter {
  readonly #fragmentMs: number;
  readonly #absoluteMs: number;
  #windowMs: number;
  readonly #waitKeyframe: boolean;
  readonly #maxJumpMs: number;
  readonly #window: HlsSegmentInfo[] = [];
  readonly #last: Record<Track, number | undefined> = { audio: undefined, video: undefined };
  #open: OpenState | undefined;
  readonly #firstSequence: number;
  #nextSequence: number;
  #discontinuitySequence = 0;
  #pendingDiscontinuity = false;

  constructor(options: HlsSegmenterOptions) {
    this.#fragmentMs = options.fragmentMs;
    this.#absoluteMs = options.fragmentMs * options.aofRatio;
    this.#windowMs = options.windowMs;
    this.#waitKeyframe = options.waitKeyframe;
    this.#maxJumpMs = options.maxJumpMs ?? HLS_MAX_TIMESTAMP_JUMP_MS;
    this.#firstSequence = options.firstSequence ?? 0;
    this.#nextSequence = this.#firstSequence;
  }

  /**
   * A config reload's new `hls_window`, ms: the window shrinks (or grows) to it when the next segment closes.
   * (hls_fragment is not changed on a running stream: EXT-X-TARGETDURATION must not change, RFC 8216 6.2.1.)
   */
  setWindow(windowMs: number): void {
    this.#windowMs = windowMs;
  }

  /** Closed segments in the window, oldest first. */
  get window(): readonly HlsSegmentInfo[] {
    return this.#window;
  }

  /** The segment being written, if any. */
  get open(): HlsOpenSegment | undefined {
    const o = this.#open;
    return o === undefined ? undefined : { sequence: o.sequence, startTimestampMs: o.startTimestampMs, discontinuity: o.discontinuity };
  }

  /** EXT-X-MEDIA-SEQUENCE: the first segment of the window (the next sequence when the window is empty). */
  get mediaSequence(): number {
    return this.#window[0]?.sequence ?? this.#open?.sequence ?? this.#nextSequence;
  }

  /** EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that left the window. */
  get discontinuitySequence(): number {
    return this.#discontinuitySequence;
  }

  /** Sum of the window's durations, ms. */
  get windowDurationMs(): number {
    let sum = 0;
    for (const s of this.#window) sum += s.durationMs;
    return sum;
  }

  /** The next media message starts a new, discontinuous segment (the publisher left and came back). */
  markDiscontinuity(): void {
    this.#pendingDiscontinuity = true;
  }

  /**
   * Feeds one message. Metadata and codec config messages never cut (the muxer repeats config in each segment).
   * @param timestampMs RTMP timestamp (DTS, ms) of the message.
   */
  push(timestampMs: number, kind: FrameKind): HlsSegmenterStep {
    const track: Track | undefined = kind === 'audio' ? 'audio' : kind === 'keyframe' || kind === 'interframe' ? 'video' : undefined;
    if (track === undefined) return NO_CUT;
    const last = this.#last[track];
    const jumped = last !== undefined && (timestampMs < last || timestampMs - last > this.#maxJumpMs);
    const open = this.#open;
    if (open === undefined || jumped || this.#pendingDiscontinuity) {
      const discontinuity = (jumped || this.#pendingDiscontinuity) && this.#nextSequence !== this.#firstSequence;
      if (discontinuity) this.#last.audio = this.#last.video = undefined;
      this.#pendingDiscontinuity = false;
      this.#last[track] = timestampMs;
      const closed = open === undefined ? undefined : this.#close(open, open.endTimestampMs - open.startTimestampMs + open.lastStepMs);
      return this.#start(timestampMs, discontinuity, closed);
    }
    this.#last[track] = timestampMs;
    const durationMs = timestampMs - open.startTimestampMs;
    let cut = false;
    if (durationMs >= HLS_MIN_SEGMENT_MS) {
      if (track === 'video') cut = durationMs >= this.#fragmentMs && (!this.#waitKeyframe || kind === 'keyframe');
      else cut = durationMs >= this.#absoluteMs;
    }
    if (!cut) {
      if (timestampMs > open.endTimestampMs) {
        open.lastStepMs = Math.min(timestampMs - open.endTimestampMs, MAX_FRAME_MS);
        open.endTimestampMs = timestampMs;
      }
      return NO_CUT;
    }
    return this.#start(timestampMs, false, this.#close(open, durationMs));
  }

  /**
   * Closes the open segment (the publisher left): its duration runs to its last message plus one frame step.
   * @returns the closed segment (undefined when none was open) and the segments that expired.
   */
  close(): { readonly closed: HlsSegmentInfo | undefined; readonly expired: readonly HlsSegmentInfo[] } {
    const open = this.#open;
    if (open === undefined) return { closed: undefined, expired: [] };
    this.#open = undefined;
    const closed = this.#close(open, open.endTimestampMs - open.startTimestampMs + open.lastStepMs);
    return { closed, expired: this.#shrink() };
  }

  #close(open: OpenState, durationMs: number): HlsSegmentInfo {
    const closed: HlsSegmentInfo = {
      sequence: open.sequence,
      startTimestampMs: open.startTimestampMs,
      durationMs: Math.max(0, durationMs),
      discontinuity: open.discontinuity,
    };
    this.#window.push(closed);
    return closed;
  }

  #start(timestampMs: number, discontinuity: boolean, closed: HlsSegmentInfo | undefined): HlsSegmenterStep {
    this.#open = {
      sequence: this.#nextSequence++,
      startTimestampMs: timestampMs,
      discontinuity,
      endTimestampMs: timestampMs,
      lastStepMs: 0,
    };
    return { cut: true, closed, expired: closed === undefined ? [] : this.#shrink() };
  }

  /** SRS segment_shrink: from the newest, keep segments until the sum exceeds the window (that one included). */
  #shrink(): HlsSegmentInfo[] {
    let sum = 0;
    let keepFrom = 0;
    for (let i = this.#window.length - 1; i >= 0; i--) {
      sum += (this.#window[i] as HlsSegmentInfo).durationMs;
      if (sum > this.#windowMs) {
        keepFrom = i;
        break;
      }
    }
    const expired = this.#window.splice(0, keepFrom);
    for (const s of expired) if (s.discontinuity) this.#discontinuitySequence++;
    return expired;
  }
}
