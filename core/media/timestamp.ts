/**
 * Media clocks: the 33-bit MPEG-TS 90 kHz clock (ISO/IEC 13818-1, 2.4.3.7 PTS/DTS) and 90 kHz → RTMP ms.
 *
 * 33-bit values never go through JS bitwise operators (they are 32-bit): everything here is plain arithmetic.
 */

/** PTS/DTS are 33-bit counters of a 90 kHz clock: they wrap every 2^33 ticks (~26.5 hours). */
export const PTS_MODULO = 2 ** 33;
/** A forward jump shorter than this is a step forward; a longer one is really a small step backwards. */
const PTS_HALF_RANGE = 2 ** 32;

/**
 * Unwraps one program's 33-bit 90 kHz clock into a monotonic-across-wraps absolute value.
 * Use one instance per program (shared by all its PIDs) so audio and video stay on one clock.
 * The first input is returned unchanged; later values keep growing past 2^33 across wraps. A step backwards
 * shorter than 2^32 ticks (e.g. B-frame PTS, audio slightly behind video) is returned as a smaller value,
 * not taken for a wrap.
 */
export class Pts33Unwrapper {
  #prev = -1;
  #acc = 0;

  /** @param ts90k a 33-bit PTS/DTS (0 ≤ ts90k < 2^33), in 90 kHz ticks. @returns the unwrapped value in ticks. */
  unwrap(ts90k: number): number {
    if (this.#prev < 0) {
      this.#prev = ts90k;
      this.#acc = ts90k;
      return ts90k;
    }
    let diff = (((ts90k - this.#prev) % PTS_MODULO) + PTS_MODULO) % PTS_MODULO;
    if (diff >= PTS_HALF_RANGE) diff -= PTS_MODULO; // step backwards, not a wrap
    this.#prev = ts90k;
    this.#acc += diff;
    return this.#acc;
  }

  /** Forget the clock (discontinuity, new program): the next input is returned unchanged. */
  reset(): void {
    this.#prev = -1;
    this.#acc = 0;
  }
}

/** 90 kHz ticks → milliseconds, rounded to the nearest ms (ticks may exceed 2^32: no bitwise ops). */
export function ticks90kToMs(ticks: number): number {
  return Math.round(ticks / 90);
}
