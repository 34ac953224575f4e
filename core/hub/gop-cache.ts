/**
 * GOP cache: the media messages since the last video keyframe (audio included), so a new player starts at a
 * keyframe at once (SRS SrsGopCache, `gop_cache on|off`).
 *
 * - A keyframe clears the cache and starts it again.
 * - Nothing is cached before the first keyframe: a GOP without its keyframe is useless to a player. So a
 *   pure-audio stream caches nothing (SRS does the same after SRS_PURE_AUDIO_GUESS_COUNT audio frames);
 *   its players start with the next audio frame.
 * - Byte cap: when the GOP grows past `maxBytes` (a very long GOP or a high bitrate) the cache is emptied and
 *   stays empty until the next keyframe, instead of growing without bound.
 * Metadata and sequence headers are not cached here; they live in the MetaCache.
 */
import type { RtmpMessage } from '../media/message.ts';

/** Default GOP cache byte cap: 10 s of 25 Mbit/s; above that, late joiners wait for the next keyframe. */
export const DEFAULT_GOP_CACHE_MAX_BYTES = 32 * 1024 * 1024;

export class GopCache {
  readonly #maxBytes: number;
  readonly #messages: RtmpMessage[] = [];
  #bytes = 0;
  #enabled: boolean;
  /** The byte cap was hit: skip until the next keyframe. */
  #overflowed = false;

  constructor(enabled: boolean, maxBytes: number = DEFAULT_GOP_CACHE_MAX_BYTES) {
    this.#enabled = enabled;
    this.#maxBytes = maxBytes;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Turn caching on or off (per publish, from the vhost's `gop_cache`); turning it off empties the cache. */
  set enabled(on: boolean) {
    this.#enabled = on;
    if (!on) this.clear();
  }

  /** Cached messages, oldest first, starting with a keyframe (or empty). Live view: do not keep it. */
  get messages(): readonly RtmpMessage[] {
    return this.#messages;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Offer one media message (not metadata or a sequence header). */
  push(msg: RtmpMessage): void {
    if (!this.#enabled) return;
    if (msg.kind === 'keyframe') {
      this.#messages.length = 0;
      this.#bytes = 0;
      this.#overflowed = false;
    } else if (this.#messages.length === 0 || this.#overflowed) {
      return;
    }
    this.#messages.push(msg);
    this.#bytes += msg.payload.length;
    if (this.#bytes > this.#maxBytes) {
      this.#messages.length = 0;
      this.#bytes = 0;
      this.#overflowed = true;
    }
  }

  /** Empty the cache (unpublish). */
  clear(): void {
    this.#messages.length = 0;
    this.#bytes = 0;
    this.#overflowed = false;
  }
}
