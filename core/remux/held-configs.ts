/**
 * Containers whose start depends on the stream's tracks (the FLV header's TypeFlags, the TS program's PMT) hold the
 * configs a stream starts with (metadata → video-config → audio-config, as the hub delivers them to a late joiner)
 * until the first media message, which decides; at most MAX_PENDING_CONFIG of them, so a stream of configs only
 * cannot grow the hold. Pure.
 */
import type { RtmpMessage } from '../media/message.ts';

/** Config messages held back until the first media message (metadata + two sequence headers + slack). */
export const MAX_PENDING_CONFIG = 8;

export class HeldConfigs {
  #held: RtmpMessage[] | undefined = [];

  /** Is the container started (the hold released)? */
  get released(): boolean {
    return this.#held === undefined;
  }

  /**
   * Offer the next message.
   * @returns 'held' when `msg` was kept back; the held configs (oldest first, possibly none) when `msg` ends the
   *   hold — the container starts now, with them, then `msg`; undefined once released (write `msg` as usual).
   */
  offer(msg: RtmpMessage): 'held' | readonly RtmpMessage[] | undefined {
    const held = this.#held;
    if (held === undefined) return undefined;
    if (msg.isConfig && held.length < MAX_PENDING_CONFIG) {
      held.push(msg);
      return 'held';
    }
    this.#held = undefined;
    return held;
  }

  /** Hold again (a new publish starts a new container). */
  reset(): void {
    this.#held = [];
  }
}
