/**
 * Bit rates over the last 30 s from cumulative byte counters (SRS SrsKbps get_recv_kbps_30s/get_send_kbps_30s,
 * trunk/src/protocol/srs_protocol_kbps.cpp): a counter pair is sampled every few seconds; a rate is the bytes since
 * the oldest sample still inside the window, over the time since it, so it is meaningful from the first seconds
 * of a stream on and follows a change within one window.
 */

/** The window of `kbps.recv_30s` / `kbps.send_30s`. */
export const KBPS_WINDOW_MS = 30_000;
/** Below this span a rate is not computed (a few ms of bytes would read as a huge rate): 0 instead. */
const MIN_SPAN_MS = 500;

interface Sample {
  readonly timeMs: number;
  readonly recvBytes: number;
  readonly sendBytes: number;
}

/** One entity's counter samples (a stream, a client, a vhost, a caster session). */
export class RateWindow {
  readonly #windowMs: number;
  /** Oldest first; the first sample is at most one sample older than the window. */
  readonly #samples: Sample[] = [];

  /**
   * @param startMs when the counters were 0 (the entity's start): the first baseline until a sample replaces it.
   *   Pass undefined when the counters were not 0 at some known time (the first `sample` is the baseline then).
   */
  constructor(startMs: number | undefined, windowMs = KBPS_WINDOW_MS) {
    this.#windowMs = windowMs;
    if (startMs !== undefined) this.#samples.push({ timeMs: startMs, recvBytes: 0, sendBytes: 0 });
  }

  /** Record the counters at `nowMs` (non-decreasing times); samples that left the window are dropped. */
  sample(nowMs: number, recvBytes: number, sendBytes: number): void {
    const s = this.#samples;
    s.push({ timeMs: nowMs, recvBytes, sendBytes });
    // Keep one sample at or before the window's start, so a rate spans the whole window once it can.
    while (s.length > 2 && (s[1] as Sample).timeMs <= nowMs - this.#windowMs) s.shift();
  }

  /**
   * Rates in kbit/s (integers, as SRS) from the oldest sample in the window to the counters now. A counter that went
   * down (the entity was reset) gives 0 for that direction.
   */
  kbps(nowMs: number, recvBytes: number, sendBytes: number): { readonly recv: number; readonly send: number } {
    const base = this.#samples[0];
    if (base === undefined) return { recv: 0, send: 0 };
    const spanMs = nowMs - base.timeMs;
    if (spanMs < MIN_SPAN_MS) return { recv: 0, send: 0 };
    const rate = (now: number, then: number): number => (now < then ? 0 : Math.round(((now - then) * 8) / spanMs));
    return { recv: rate(recvBytes, base.recvBytes), send: rate(sendBytes, base.sendBytes) };
  }
}

/**
 * RateWindows by key, sampled together: each `sample` round marks the keys it sees, and keys not seen in a round
 * are forgotten (the stream or client is gone).
 */
export class RateBook {
  readonly #windows = new Map<string, RateWindow>();
  readonly #seen = new Set<string>();

  /** Sample `key`'s counters now; creates its window (baseline `startMs`) on first sight. */
  sample(key: string, nowMs: number, recvBytes: number, sendBytes: number, startMs: number | undefined): void {
    let w = this.#windows.get(key);
    if (w === undefined) {
      w = new RateWindow(startMs);
      this.#windows.set(key, w);
    }
    w.sample(nowMs, recvBytes, sendBytes);
    this.#seen.add(key);
  }

  /** End a sampling round: forget the keys it did not sample. */
  sweep(): void {
    for (const key of this.#windows.keys()) if (!this.#seen.has(key)) this.#windows.delete(key);
    this.#seen.clear();
  }

  /**
   * The rates of `key` with its counters now; a key never sampled is measured from `startMs` (its counters' zero),
   * or 0 when that is unknown.
   */
  kbps(key: string, nowMs: number, recvBytes: number, sendBytes: number, startMs: number | undefined): { readonly recv: number; readonly send: number } {
    const w = this.#windows.get(key) ?? (startMs === undefined ? undefined : new RateWindow(startMs));
    return w === undefined ? { recv: 0, send: 0 } : w.kbps(nowMs, recvBytes, sendBytes);
  }

  get size(): number {
    return this.#windows.size;
  }
}
