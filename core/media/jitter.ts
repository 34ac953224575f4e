/**
 * RTMP timestamp correction per source: `time_jitter full|zero|off` (SRS app/srs_app_source.hpp SrsRtmpJitter).
 *
 * SRS corrects per consumer; castgate corrects ONCE per source (the hub then hands the same corrected message to
 * every consumer), so the state lives with the source and survives unpublish/republish.
 *
 * What each mode does (all times are RTMP ms, DTS):
 * - `off`: the input timestamp passes through unchanged.
 * - `zero`: the first audio/video message (sequence header or frame) of each publish sets a base; every
 *   audio/video output is `max(0, input - base)`. A new publish starts again at 0.
 * - `full`: one output timeline for the life of the source, starting at 0 with the first frame of the first
 *   publish and following input deltas. The input delta of a frame is taken against the last input of the SAME
 *   track (audio vs video: interleaved A/V from TS muxers legitimately differs by hundreds of ms); for a track's
 *   first frame (or its first frame after the other track re-based) against the last input of any track, where
 *   |delta| <= MAX_JITTER_DELTA_MS is tolerated. A negative same-track delta, or one above MAX_JITTER_DELTA_MS
 *   (a 33-bit PTS wrap, a 32-bit RTMP wrap, an encoder restart), re-bases the whole source so the jumping frame
 *   lands at `maxOutput + DEFAULT_FRAME_TIME_MS`. A new publish re-bases the same way, so players that stay
 *   connected across a republish see timestamps that keep rising. Outputs never go below 0 and never go back
 *   within one track (a frame that would is clamped to that track's last output).
 *
 * Metadata (type 18) is stamped 0 in `zero` and `full` mode, as SRS does (`if (!msg->is_av()) timestamp = 0`):
 * ffmpeg's FLV demuxer treats an onMetaData with a non-zero timestamp as a data stream of its own, so a late
 * joiner that gets cached metadata stamped mid-stream would see a spurious stream. In `full` mode the sequence
 * headers (audio-config, video-config) also take the current output time (their track's last output, else the
 * source's): encoders often stamp them 0 mid-stream, and a sequence header must never re-base the timeline.
 *
 * Output timestamps are plain numbers; after 2^32 ms (49.7 days) of continuous `full` timeline they exceed the
 * RTMP 32-bit clock and the writers wrap them (`>>> 0`).
 */
import { MessageType, type RtmpMessage } from './message.ts';

export type TimeJitterMode = 'full' | 'zero' | 'off';

/**
 * Largest forward input step (ms) on one track that `full` mode still treats as continuous. SRS uses 250 ms
 * (CONST_MAX_JITTER_MS), which re-bases interleaved A/V from TS muxers and paused tracks far too often.
 */
export const MAX_JITTER_DELTA_MS = 3000;
/** Where a re-based frame lands after the last output: SRS DEFAULT_FRAME_TIME_MS (10 ms). */
export const DEFAULT_FRAME_TIME_MS = 10;

/** Corrects message timestamps for one source. Not a parser: it keeps timeline state across publishes. */
export class TimestampCorrector {
  readonly mode: TimeJitterMode;
  // full
  /** output = input + offset, for the current timeline segment. */
  #offsetMs = 0;
  /** A frame of the current publish set #offsetMs. */
  #started = false;
  /** Any frame was ever output (a republish then re-bases after #maxOutputMs). */
  #everOutput = false;
  #maxOutputMs = 0;
  #lastInputAudioMs = -1;
  #lastInputVideoMs = -1;
  #lastInputAnyMs = -1;
  #lastOutputAudioMs = -1;
  #lastOutputVideoMs = -1;
  // zero
  #zeroBaseMs = -1;
  #zeroLastOutputMs = 0;

  constructor(mode: TimeJitterMode) {
    this.mode = mode;
  }

  /**
   * The corrected timestamp (ms) for `msg`; the caller builds the corrected message once with
   * `msg.withTimestamp(result)`.
   */
  correct(msg: RtmpMessage): number {
    if (this.mode === 'off') return msg.timestamp;
    if (this.mode === 'zero') return this.#correctZero(msg);
    if (msg.type === MessageType.Data) return 0;
    const isVideo = msg.type === MessageType.Video;
    if (msg.kind === 'audio-config' || msg.kind === 'video-config') {
      const lastSame = isVideo ? this.#lastOutputVideoMs : this.#lastOutputAudioMs;
      if (lastSame >= 0) return lastSame;
      // The track's first config, found after the other track started (a TS or RTP ingest learns the AAC config
      // from its first frame, which arrives after some video): stamp it where that frame will land on this
      // publish's timeline, so the track never steps back from its config to its first frame. Never later than
      // the stream's current time, never before 0.
      if (this.#started && this.#lastInputAnyMs >= 0) {
        const atMs = msg.timestamp + this.#offsetMs;
        return atMs < 0 ? 0 : Math.min(atMs, this.#maxOutputMs);
      }
      return this.#maxOutputMs;
    }
    return this.#correctFull(msg.timestamp, isVideo);
  }

  /** A new publish begins: `zero` restarts at 0, `full` re-bases at the next frame. */
  reset(): void {
    this.#started = false;
    this.#lastInputAudioMs = -1;
    this.#lastInputVideoMs = -1;
    this.#lastInputAnyMs = -1;
    this.#zeroBaseMs = -1;
    this.#zeroLastOutputMs = 0;
  }

  #correctZero(msg: RtmpMessage): number {
    if (msg.type === MessageType.Data) return 0;
    if (this.#zeroBaseMs < 0) this.#zeroBaseMs = msg.timestamp;
    const out = msg.timestamp - this.#zeroBaseMs;
    this.#zeroLastOutputMs = out < 0 ? 0 : out;
    return this.#zeroLastOutputMs;
  }

  #correctFull(inputMs: number, isVideo: boolean): number {
    if (!this.#started) {
      const startMs = this.#everOutput ? this.#maxOutputMs + DEFAULT_FRAME_TIME_MS : 0;
      this.#offsetMs = startMs - inputMs;
      this.#started = true;
    } else {
      const lastSame = isVideo ? this.#lastInputVideoMs : this.#lastInputAudioMs;
      let jump: boolean;
      if (lastSame >= 0) {
        const deltaMs = inputMs - lastSame;
        jump = deltaMs < 0 || deltaMs > MAX_JITTER_DELTA_MS;
      } else {
        const deltaMs = inputMs - this.#lastInputAnyMs;
        jump = deltaMs < -MAX_JITTER_DELTA_MS || deltaMs > MAX_JITTER_DELTA_MS;
      }
      if (jump) {
        this.#offsetMs = this.#maxOutputMs + DEFAULT_FRAME_TIME_MS - inputMs;
        // The other track's last input is on the old input timeline: compare its next frame to this one.
        if (isVideo) this.#lastInputAudioMs = -1;
        else this.#lastInputVideoMs = -1;
      }
    }
    if (isVideo) this.#lastInputVideoMs = inputMs;
    else this.#lastInputAudioMs = inputMs;
    this.#lastInputAnyMs = inputMs;

    let out = inputMs + this.#offsetMs;
    if (out < 0) out = 0;
    if (isVideo) {
      if (out < this.#lastOutputVideoMs) out = this.#lastOutputVideoMs;
      this.#lastOutputVideoMs = out;
    } else {
      if (out < this.#lastOutputAudioMs) out = this.#lastOutputAudioMs;
      this.#lastOutputAudioMs = out;
    }
    if (out > this.#maxOutputMs) this.#maxOutputMs = out;
    this.#everOutput = true;
    return out;
  }
}
