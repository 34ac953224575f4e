/**
 * RTP media clock (RFC 3550, 5.1 timestamp, 6.4.1 SR NTP/RTP pair): 32-bit unwrapping and wall-clock mapping.
 *
 * `RtpTimestampUnwrapper` extends the 32-bit RTP timestamp of one track into a monotonic-ish number (safe up to
 * 2^53, i.e. ~3 000 years at 90 kHz). `RtpWallClock` maps a track's RTP time to Unix ms through the NTP/RTP
 * pair of the latest sender report, which is how tracks are synchronised with each other (RFC 3550 6.4.1).
 */
import type { RtcpSenderReport } from './rtcp.ts';

/** RTP timestamps are 32 bits (RFC 3550 5.1); arithmetic, not bitwise ops, keeps results exact past 2^31. */
const RTP_TS_MODULO = 2 ** 32;
const RTP_TS_HALF = 2 ** 31;

/** Signed difference `a - b` of two 32-bit RTP timestamps (either may be unwrapped), in [-2^31, 2^31). */
export function rtpTimestampDiff(a: number, b: number): number {
  let d = (a - b) % RTP_TS_MODULO;
  if (d < 0) d += RTP_TS_MODULO;
  return d >= RTP_TS_HALF ? d - RTP_TS_MODULO : d;
}

/**
 * 32-bit RTP timestamp → extended timestamp. The first value is returned unchanged; each next value moves the
 * result by the signed 32-bit difference to the previous input, so a value slightly behind the last one (B-frames,
 * reordering) steps back instead of counting as a wrap, and `unwrap(x) mod 2^32 === x` always holds. The result
 * can be negative when the stream steps back right after its first value.
 */
export class RtpTimestampUnwrapper {
  #prev = -1;
  #extended = 0;

  /** @param rtpTs uint32 RTP ticks. @returns extended ticks (integer). */
  unwrap(rtpTs: number): number {
    if (this.#prev < 0) {
      this.#prev = rtpTs;
      this.#extended = rtpTs;
      return rtpTs;
    }
    this.#extended += rtpTimestampDiff(rtpTs, this.#prev);
    this.#prev = rtpTs;
    return this.#extended;
  }
}

/**
 * Maps one track's RTP time to a wall clock (NTP as Unix ms) from its latest sender report (RFC 3550 6.4.1).
 * Sender reports with an all-zero NTP timestamp ("no wallclock", 6.4.1) are ignored.
 */
export class RtpWallClock {
  readonly #clockRate: number;
  #srRtpTimestamp = 0;
  #srUnixMs = 0;
  #synced = false;

  /** @param clockRate RTP clock rate in Hz (e.g. 90000 for video). */
  constructor(clockRate: number) {
    this.#clockRate = clockRate;
  }

  onSenderReport(sr: RtcpSenderReport): void {
    if (sr.ntpSeconds === 0 && sr.ntpFraction === 0) return;
    this.#srRtpTimestamp = sr.rtpTimestamp;
    this.#srUnixMs = sr.ntpUnixMs;
    this.#synced = true;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Unix ms of an (unwrapped or raw 32-bit) RTP timestamp; undefined before the first SR. Uses the signed 32-bit
   * difference to the SR's rtpTimestamp, so it is correct within ±2^31 ticks of the SR (6.6 h at 90 kHz).
   */
  toUnixMs(rtpTs: number): number | undefined {
    if (!this.#synced) return undefined;
    return this.#srUnixMs + (rtpTimestampDiff(rtpTs, this.#srRtpTimestamp) * 1000) / this.#clockRate;
  }
}
