/**
 * Low-Latency HLS in memory (RFC 8216bis 4.4.3.7-4.4.5.3, 6.2.5.1 "Playlist Delta Updates", 6.2.5.2 "Blocking
 * Playlist Reload", 6.2.6 preload hints): one stream's init segments, complete segments of the window, the parts of
 * the last segments, and the playlist text, served without touching the disk.
 *
 * - A playlist request with `_HLS_msn=M` (and `_HLS_part=P`) is held until segment M is complete (or part P of
 *   segment M exists, or a later segment started), then answered. Answered 400 at once (6.2.5.2): M beyond the last
 *   complete segment + 2 (the open segment + 1), P beyond the last part by the Advance Part Limit (3 s of parts),
 *   `_HLS_part` without `_HLS_msn`. Nothing within three target durations → 503 (6.2.5.2).
 * - `_HLS_skip=YES` (or `v2`: there are no date ranges) while the playlist advertises CAN-SKIP-UNTIL → a Playlist
 *   Delta Update: the segments further than the Skip Boundary (6 × EXT-X-TARGETDURATION) from the end of the last
 *   complete segment are replaced by EXT-X-SKIP. CAN-SKIP-UNTIL is advertised only while at least one segment is
 *   that old (a window shorter than the boundary never advertises it); otherwise, and once the stream ended,
 *   `_HLS_skip` is ignored (6.2.5.1). Combined with `_HLS_msn`, the delta is made when the wait ends.
 * - A request for the hinted part (EXT-X-PRELOAD-HINT, not produced yet) is held until it exists; if its segment
 *   ends before it, or within three target durations it does not come, 404.
 * - Parts are listed for the open segment and the two segments before it (RFC 8216bis: parts older than three
 *   target durations are removed); complete segments in the window stay available as whole files.
 * Bounded: what the window holds (hls_window) plus the open segment; waiters are bounded by the request count the
 * HTTP server allows and each has a timer. The delta text is made at most once per playlist update, on demand.
 */
import {
  skippableSegments,
  SKIP_BOUNDARY_TARGET_DURATIONS,
  targetDurationSeconds,
  writeMediaPlaylist,
  type MediaPlaylist,
  type PlaylistPart,
  type PlaylistSegment,
} from './m3u8.ts';

/** Parts are listed for this many segments: the open one and the two before it (hls-parser checks the same). */
const SEGMENTS_WITH_PARTS = 2;
/** A blocked request waits at most this many target durations (RFC 8216bis 6.2.5.2: three), then 503. */
const BLOCK_TARGET_DURATIONS = 3;
/** PART-HOLD-BACK in part targets (RFC 8216bis 4.4.3.8: at least 2, 3 recommended). */
const PART_HOLD_BACK_PARTS = 3;
/** The Advance Part Limit covers this much time (RFC 8216bis 6.2.5.2: 3 / PART-TARGET parts, 3 when ≥ 1 s). */
const ADVANCE_PART_LIMIT_MS = 3000;

export interface HlsLivePart extends PlaylistPart {
  readonly bytes: Buffer;
}

interface LiveSegment extends HlsLiveSegmentStart {
  readonly parts: HlsLivePart[];
  /** Set when complete. */
  durationMs?: number;
  bytes?: Buffer;
}

/** A segment as it starts. */
export interface HlsLiveSegmentStart {
  readonly sequence: number;
  /** Its URI relative to the playlist. */
  readonly uri: string;
  readonly discontinuity: boolean;
  /** The init segment it uses (EXT-X-MAP). */
  readonly mapUri: string;
  /** Wall-clock time of its first frame (EXT-X-PROGRAM-DATE-TIME), ms since 1970. */
  readonly programDateTimeMs: number;
}

export interface HlsLiveOptions {
  /** hls_part in ms: PART-TARGET. */
  readonly partTargetMs: number;
  /** EXT-X-TARGETDURATION floor, ms (hls_fragment × hls_td_ratio). */
  readonly targetDurationFloorMs: number;
  readonly entryPrefix: string;
  /** The URI of part `index` of the segment whose URI is `segmentUri` (relative to the playlist). */
  readonly partUri: (segmentUri: string, index: number) => string;
}

/** What a request for a path of this stream gets. */
export type HlsLiveAnswer =
  | {
    readonly status: 200;
    readonly kind: 'playlist' | 'init' | 'segment';
    readonly body: Buffer | string;
    /**
     * A playlist answering a blocking request (`_HLS_msn`) of a live stream: the seconds a cache may keep it (it
     * lists what that URL asked for, RFC 8216bis 6.2.5.2). Undefined: the playlist changes at every part.
     */
    readonly maxAgeS?: number;
  }
  | { readonly status: 400 | 404 | 503 };

interface Waiter {
  readonly check: () => HlsLiveAnswer | undefined;
  readonly done: (a: HlsLiveAnswer) => void;
  readonly timer: NodeJS.Timeout;
}

export class HlsLivePlaylist {
  readonly #opts: HlsLiveOptions;
  /** Resources by URI relative to the playlist's folder. */
  readonly #inits = new Map<string, Buffer>();
  #latestInit: string | undefined;
  #segments: LiveSegment[] = [];
  #open: LiveSegment | undefined;
  #discontinuitySequence = 0;
  #ended = false;
  #text = '';
  /** What `#text` was written from, and its Playlist Delta Update (made on demand, once per update). */
  #params: MediaPlaylist | undefined;
  #skippable = 0;
  #deltaText: string | undefined;
  #targetDurationS = 1;
  readonly #waiters = new Set<Waiter>();

  constructor(opts: HlsLiveOptions) {
    this.#opts = opts;
    this.#refresh();
  }

  /** The current playlist text. */
  get text(): string {
    return this.#text;
  }

  /** Sequence number of the last segment listed (complete or open), -1 before the first. */
  get lastSequence(): number {
    return this.#open?.sequence ?? this.#segments[this.#segments.length - 1]?.sequence ?? -1;
  }

  /** A program's init segment (EXT-X-MAP), kept while a listed segment uses it. */
  setInit(uri: string, bytes: Buffer): void {
    this.#inits.set(uri, bytes);
    this.#latestInit = uri;
  }

  /** The first segment starts (later ones start with `closeSegment`'s `next`). */
  openSegment(next: HlsLiveSegmentStart): void {
    this.#ended = false; // a republish continues the playlist after a discontinuity
    this.#open = { ...next, parts: [] };
    this.#refresh();
  }

  addPart(bytes: Buffer, durationMs: number, independent: boolean): void {
    const open = this.#open;
    if (open === undefined) return;
    open.parts.push({ uri: this.#opts.partUri(open.uri, open.parts.length), durationMs, independent, bytes });
    this.#refresh();
  }

  /**
   * The open segment is complete (its last part added): list it with `durationMs`; drop the segments that left the
   * window (`keepFromSequence` and later stay) and the init segments nobody lists any more; then, in the same
   * playlist update, open `next` or end the stream (`'end'`: EXT-X-ENDLIST, blocked requests answered).
   */
  closeSegment(durationMs: number, keepFromSequence: number, discontinuitySequence: number, next: HlsLiveSegmentStart | 'end'): void {
    const open = this.#open;
    this.#open = undefined;
    if (open !== undefined) {
      open.durationMs = durationMs;
      open.bytes = Buffer.concat(open.parts.map((p) => p.bytes));
      this.#segments.push(open);
    }
    this.#segments = this.#segments.filter((s) => s.sequence >= keepFromSequence);
    this.#discontinuitySequence = discontinuitySequence;
    if (next === 'end') this.#ended = true;
    else this.#open = { ...next, parts: [] };
    const maps = new Set(this.#segments.map((s) => s.mapUri));
    if (this.#open !== undefined) maps.add(this.#open.mapUri);
    for (const uri of [...this.#inits.keys()]) if (!maps.has(uri) && uri !== this.#latestInit) this.#inits.delete(uri);
    this.#refresh();
    if (this.#ended) for (const w of [...this.#waiters]) this.#settle(w, w.check() ?? { status: 404 });
  }

  /**
   * Answer a request for `uri` (relative to the playlist's folder; the playlist itself is `playlistUri`).
   * @returns the answer, or a promise of it for a blocking request; undefined when the URI is not this stream's.
   */
  request(uri: string, playlistUri: string, query: URLSearchParams): HlsLiveAnswer | Promise<HlsLiveAnswer> | undefined {
    if (uri === playlistUri) return this.lastSequence < 0 ? { status: 404 } : this.#playlist(query);
    const init = this.#inits.get(uri);
    if (init !== undefined) return { status: 200, kind: 'init', body: init };
    for (const s of this.#segments) {
      if (s.uri === uri) return { status: 200, kind: 'segment', body: s.bytes as Buffer };
      const part = s.parts.find((p) => p.uri === uri);
      if (part !== undefined) return { status: 200, kind: 'segment', body: part.bytes };
    }
    const open = this.#open;
    if (open === undefined) return undefined;
    const part = open.parts.find((p) => p.uri === uri);
    if (part !== undefined) return { status: 200, kind: 'segment', body: part.bytes };
    if (uri === this.#opts.partUri(open.uri, open.parts.length)) {
      // the preload hint: hold until it exists; its segment closing without it ends the wait
      const sequence = open.sequence;
      const index = open.parts.length;
      return this.#block(() => {
        const seg = this.#open?.sequence === sequence ? this.#open : this.#segments.find((s) => s.sequence === sequence);
        const p = seg?.parts[index];
        if (p !== undefined) return { status: 200, kind: 'segment', body: p.bytes };
        return seg === this.#open && !this.#ended ? undefined : { status: 404 };
      }, { status: 404 });
    }
    return undefined;
  }

  #playlist(query: URLSearchParams): HlsLiveAnswer | Promise<HlsLiveAnswer> {
    const msnText = query.get('_HLS_msn');
    const partText = query.get('_HLS_part');
    const skipText = query.get('_HLS_skip');
    const delta = skipText === 'YES' || skipText === 'v2';
    if (msnText === null && partText !== null && !this.#ended) return { status: 400 }; // RFC 8216bis 6.2.5.2
    const now = (): Extract<HlsLiveAnswer, { status: 200 }> => ({ status: 200, kind: 'playlist', body: delta ? this.#delta() : this.#text });
    if (msnText === null || this.#ended) return now();
    const msn = Number(msnText);
    const part = partText === null ? undefined : Number(partText);
    if (!Number.isSafeInteger(msn) || msn < 0 || (part !== undefined && (!Number.isSafeInteger(part) || part < 0))) return { status: 400 };
    if (this.#tooFarAhead(msn, part)) return { status: 400 };
    const ready = (): boolean => {
      let m = msn;
      let p = part;
      // 6.2.5.2: a part index past the last part of a complete segment is part 0 of the next one
      const parent = p === undefined ? undefined : this.#segments.find((s) => s.sequence === m);
      if (p !== undefined && parent !== undefined && p >= parent.parts.length) {
        m += 1;
        p = 0;
      }
      if (this.#segments.some((s) => s.sequence >= m)) return true;
      const open = this.#open;
      if (open === undefined || p === undefined) return false;
      return open.sequence > m || (open.sequence === m && open.parts.length > p);
    };
    const blocked = (): HlsLiveAnswer => {
      const a = now();
      return this.#ended ? a : { ...a, maxAgeS: this.#targetDurationS };
    };
    const check = (): HlsLiveAnswer | undefined => (ready() || this.#ended ? blocked() : undefined);
    return check() ?? this.#block(check, { status: 503 });
  }

  /**
   * RFC 8216bis 6.2.5.2: `_HLS_msn` greater than the last (complete) Media Segment + 2, or `_HLS_part` beyond the
   * last Partial Segment by the Advance Part Limit (parts of a later segment counted from its start, at least).
   */
  #tooFarAhead(msn: number, part: number | undefined): boolean {
    const open = this.#open;
    const lastComplete = this.#segments[this.#segments.length - 1]?.sequence ?? (open === undefined ? -1 : open.sequence - 1);
    if (msn > lastComplete + 2) return true;
    if (part === undefined || open === undefined) return false;
    const limit = this.#opts.partTargetMs < 1000 ? Math.floor(ADVANCE_PART_LIMIT_MS / this.#opts.partTargetMs) : 3;
    if (msn === open.sequence) return part - (open.parts.length - 1) > limit;
    return msn > open.sequence && part + 1 > limit;
  }

  /** The Playlist Delta Update of the current playlist; the full text when it does not advertise CAN-SKIP-UNTIL. */
  #delta(): string {
    const params = this.#params;
    if (params === undefined || this.#skippable === 0 || this.#ended) return this.#text;
    this.#deltaText ??= writeMediaPlaylist({ ...params, skippedSegments: this.#skippable });
    return this.#deltaText;
  }

  #block(check: () => HlsLiveAnswer | undefined, onTimeout: HlsLiveAnswer): Promise<HlsLiveAnswer> {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    const timeoutMs = BLOCK_TARGET_DURATIONS * this.#targetDurationS * 1000;
    return new Promise((resolve) => {
      const w: Waiter = {
        check,
        done: resolve,
        timer: setTimeout(() => this.#settle(w, check() ?? onTimeout), timeoutMs),
      };
      w.timer.unref(); // a held request never keeps a stopping gateway alive
      this.#waiters.add(w);
    });
  }

  #settle(w: Waiter, a: HlsLiveAnswer): void {
    if (!this.#waiters.delete(w)) return;
    clearTimeout(w.timer);
    w.done(a);
  }

  #refresh(): void {
    const n = this.#segments.length;
    const segments: PlaylistSegment[] = this.#segments.map((s, i) => ({
      uri: s.uri,
      durationMs: s.durationMs ?? 0,
      discontinuity: s.discontinuity,
      mapUri: s.mapUri,
      programDateTimeMs: s.programDateTimeMs,
      ...(i >= n - SEGMENTS_WITH_PARTS ? { parts: s.parts } : {}),
    }));
    const open = this.#open;
    this.#targetDurationS = targetDurationSeconds(segments, this.#opts.targetDurationFloorMs);
    const skipBoundaryMs = SKIP_BOUNDARY_TARGET_DURATIONS * this.#targetDurationS * 1000;
    this.#skippable = this.#ended ? 0 : skippableSegments(segments, skipBoundaryMs);
    this.#params = {
      mediaSequence: this.#segments[0]?.sequence ?? open?.sequence ?? 0,
      discontinuitySequence: this.#discontinuitySequence,
      segments,
      targetDurationFloorMs: this.#opts.targetDurationFloorMs,
      entryPrefix: this.#opts.entryPrefix,
      endList: this.#ended,
      lowLatency: {
        partTargetMs: this.#opts.partTargetMs,
        partHoldBackMs: PART_HOLD_BACK_PARTS * this.#opts.partTargetMs,
        ...(this.#skippable > 0 ? { canSkipUntilMs: skipBoundaryMs } : {}),
        ...(open !== undefined ? {
          open: { discontinuity: open.discontinuity, mapUri: open.mapUri, programDateTimeMs: open.programDateTimeMs, parts: open.parts },
          preloadHintUri: this.#opts.partUri(open.uri, open.parts.length),
        } : {}),
      },
    };
    this.#text = writeMediaPlaylist(this.#params);
    this.#deltaText = undefined;
    for (const w of [...this.#waiters]) {
      const a = w.check();
      if (a !== undefined) this.#settle(w, a);
    }
  }
}
