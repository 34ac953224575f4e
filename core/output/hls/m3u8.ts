/**
 * HLS media playlist writer (RFC 8216: 4.3.1.1 EXTM3U, 4.3.1.2 EXT-X-VERSION, 4.3.2.1 EXTINF,
 * 4.3.2.3 EXT-X-DISCONTINUITY, 4.3.2.5 EXT-X-MAP, 4.3.2.6 EXT-X-PROGRAM-DATE-TIME, 4.3.3.1 EXT-X-TARGETDURATION,
 * 4.3.3.2 EXT-X-MEDIA-SEQUENCE, 4.3.3.3 EXT-X-DISCONTINUITY-SEQUENCE, 4.3.3.4 EXT-X-ENDLIST) and the Low-Latency
 * HLS tags of RFC 8216bis (4.4.3.7 EXT-X-PART-INF, 4.4.3.8 EXT-X-SERVER-CONTROL, 4.4.4.9 EXT-X-PART,
 * 4.4.5.2 EXT-X-SKIP, 4.4.5.3 EXT-X-PRELOAD-HINT), with the Playlist Delta Update of 6.2.5.1. Pure: values in,
 * playlist text out.
 * SRS SrsHlsMuxer::_refresh_m3u8, with TARGETDURATION = ceil(max(longest EXTINF, hls_fragment × hls_td_ratio)).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** EXT-X-VERSION 3: decimal EXTINF durations (RFC 8216 section 7). */
export const HLS_PLAYLIST_VERSION = 3;
/** EXT-X-VERSION 6: EXT-X-MAP in a playlist that is not I-frames only (RFC 8216 section 7). */
export const HLS_FMP4_PLAYLIST_VERSION = 6;
/** EXT-X-VERSION 9: the least for a playlist holding EXT-X-SKIP (RFC 8216bis section 8). */
export const HLS_DELTA_PLAYLIST_VERSION = 9;
/** The Skip Boundary (CAN-SKIP-UNTIL) is at least this many target durations (RFC 8216bis 4.4.3.8). */
export const SKIP_BOUNDARY_TARGET_DURATIONS = 6;

/** A Partial Segment (EXT-X-PART). */
export interface PlaylistPart {
  readonly uri: string;
  /** Written as DURATION seconds with 3 decimals. */
  readonly durationMs: number;
  /** INDEPENDENT=YES: it starts with a keyframe (or has no video). */
  readonly independent: boolean;
}

export interface PlaylistSegment {
  /** URL of the segment, relative to the playlist (hls-path.ts segmentUri) or absolute. */
  readonly uri: string;
  /** Duration in ms; written as EXTINF seconds with 3 decimals. */
  readonly durationMs: number;
  /** true: EXT-X-DISCONTINUITY is written before this segment (timestamps or encoding changed). */
  readonly discontinuity: boolean;
  /** EXT-X-MAP URI (fMP4 init segment) in effect; written before the first segment and wherever it changes. */
  readonly mapUri?: string;
  /** EXT-X-PROGRAM-DATE-TIME (ms since 1970): the wall-clock time of the segment's first frame. */
  readonly programDateTimeMs?: number;
  /** Its Partial Segments (LL-HLS: listed for the last segments only). */
  readonly parts?: readonly PlaylistPart[];
}

/** Low-Latency HLS: what EXT-X-PART-INF / EXT-X-SERVER-CONTROL say, and the segment being written. */
export interface LowLatencyPlaylist {
  /** PART-TARGET, ms. */
  readonly partTargetMs: number;
  /** PART-HOLD-BACK, ms (at least 2 × PART-TARGET; 3 × recommended). */
  readonly partHoldBackMs: number;
  /**
   * CAN-SKIP-UNTIL, ms: the Skip Boundary, when the server answers `_HLS_skip=YES` with a Playlist Delta Update
   * (at least 6 × EXT-X-TARGETDURATION, RFC 8216bis 4.4.3.8). Not written when undefined.
   */
  readonly canSkipUntilMs?: number;
  /** The segment being written: its parts so far (after the complete segments). */
  readonly open?: Omit<PlaylistSegment, 'uri' | 'durationMs'>;
  /** EXT-X-PRELOAD-HINT TYPE=PART: the URI of the next part. */
  readonly preloadHintUri?: string;
}

export interface MediaPlaylist {
  /** Sequence number of the first segment listed (EXT-X-MEDIA-SEQUENCE). */
  readonly mediaSequence: number;
  /** Number of discontinuities that left the window (EXT-X-DISCONTINUITY-SEQUENCE); written when > 0. */
  readonly discontinuitySequence?: number;
  readonly segments: readonly PlaylistSegment[];
  /** Lower bound of EXT-X-TARGETDURATION in ms (hls_fragment × hls_td_ratio); default 0. */
  readonly targetDurationFloorMs?: number;
  /** hls_entry_prefix: prepended to every relative segment URI, with a '/' between when needed. '' = none. */
  readonly entryPrefix?: string;
  /** true: the stream ended, EXT-X-ENDLIST is written. */
  readonly endList?: boolean;
  /** EXT-X-VERSION; default HLS_PLAYLIST_VERSION (HLS_FMP4_PLAYLIST_VERSION when a segment has a map). */
  readonly version?: number;
  /** LL-HLS tags (CAN-BLOCK-RELOAD=YES: the server answers `_HLS_msn`/`_HLS_part`). */
  readonly lowLatency?: LowLatencyPlaylist;
  /**
   * Playlist Delta Update (RFC 8216bis 6.2.5.1): the first `skippedSegments` of `segments` and their tags are
   * replaced by `EXT-X-SKIP:SKIPPED-SEGMENTS=n` (EXT-X-VERSION at least 9). EXT-X-MEDIA-SEQUENCE and
   * EXT-X-DISCONTINUITY-SEQUENCE stay those of the full playlist (they number its first, skipped, segment); the
   * EXT-X-MAP in effect is written again before the first segment listed. Default 0: the full playlist.
   */
  readonly skippedSegments?: number;
}

const ms3 = (ms: number): string => (Math.round(ms) / 1000).toFixed(3);

/** Joins hls_entry_prefix and a segment URI (SRS adds a '/' when the prefix lacks one). Absolute URIs are kept. */
export function applyEntryPrefix(entryPrefix: string, uri: string): string {
  if (entryPrefix === '' || /^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('/')) return uri;
  return entryPrefix.endsWith('/') ? entryPrefix + uri : `${entryPrefix}/${uri}`;
}

/**
 * EXT-X-TARGETDURATION in whole seconds: ceil of the longest segment (ms rounded first, as written in EXTINF),
 * so every EXTINF rounded to the nearest integer is ≤ it (RFC 8216 4.3.3.1); at least the floor, at least 1.
 */
export function targetDurationSeconds(segments: readonly PlaylistSegment[], floorMs = 0): number {
  let maxMs = floorMs;
  for (const s of segments) maxMs = Math.max(maxMs, Math.round(s.durationMs));
  return Math.max(1, Math.ceil(maxMs / 1000));
}

/**
 * How many of the oldest segments a Playlist Delta Update replaces by EXT-X-SKIP (RFC 8216bis 6.2.5.1: those
 * further from the end of the last segment than the Skip Boundary): segment i is skipped when the segments after
 * it last at least `skipBoundaryMs` (durations rounded to ms, as EXTINF writes them). 0 when none is that old.
 */
export function skippableSegments(segments: readonly Pick<PlaylistSegment, 'durationMs'>[], skipBoundaryMs: number): number {
  let after = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    if (after >= skipBoundaryMs) return i + 1;
    after += Math.round(segments[i]?.durationMs ?? 0);
  }
  return 0;
}

function checkUri(uri: string): void {
  if (uri === '' || /[\r\n"]/.test(uri)) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid HLS segment URI ${JSON.stringify(uri)}`);
  }
}

/**
 * Writes a live (or ended) media playlist.
 * @throws GatewayError(CasterOutput) for a negative/non-finite duration or sequence, a URI that is empty or
 *   holds a line break (it would corrupt the playlist), or `skippedSegments` not an integer in 0..segments.length.
 */
export function writeMediaPlaylist(p: MediaPlaylist): string {
  if (!Number.isSafeInteger(p.mediaSequence) || p.mediaSequence < 0) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid EXT-X-MEDIA-SEQUENCE ${p.mediaSequence}`);
  }
  const discontinuitySequence = p.discontinuitySequence ?? 0;
  if (!Number.isSafeInteger(discontinuitySequence) || discontinuitySequence < 0) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid EXT-X-DISCONTINUITY-SEQUENCE ${discontinuitySequence}`);
  }
  const skipped = p.skippedSegments ?? 0;
  if (!Number.isSafeInteger(skipped) || skipped < 0 || skipped > p.segments.length) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid EXT-X-SKIP SKIPPED-SEGMENTS ${skipped} of ${p.segments.length} segments`);
  }
  const ll = p.lowLatency;
  const hasMap = p.segments.some((x) => x.mapUri !== undefined) || ll?.open?.mapUri !== undefined;
  const version = p.version ?? (hasMap ? HLS_FMP4_PLAYLIST_VERSION : HLS_PLAYLIST_VERSION);
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${skipped > 0 ? Math.max(version, HLS_DELTA_PLAYLIST_VERSION) : version}`,
    `#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`,
  ];
  if (discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`);
  lines.push(`#EXT-X-TARGETDURATION:${targetDurationSeconds(p.segments, p.targetDurationFloorMs ?? 0)}`);
  if (ll !== undefined) {
    const skipUntil = ll.canSkipUntilMs === undefined ? '' : `,CAN-SKIP-UNTIL=${ms3(ll.canSkipUntilMs)}`;
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES${skipUntil},PART-HOLD-BACK=${ms3(ll.partHoldBackMs)}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${ms3(ll.partTargetMs)}`);
  }
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  const prefix = p.entryPrefix ?? '';
  let map: string | undefined;
  const segmentTags = (s: Omit<PlaylistSegment, 'uri' | 'durationMs'>): void => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.mapUri !== undefined && s.mapUri !== map) {
      checkUri(s.mapUri);
      map = s.mapUri;
      lines.push(`#EXT-X-MAP:URI="${applyEntryPrefix(prefix, s.mapUri)}"`);
    }
    if (s.programDateTimeMs !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTimeMs).toISOString()}`);
    for (const part of s.parts ?? []) {
      checkUri(part.uri);
      lines.push(`#EXT-X-PART:DURATION=${ms3(part.durationMs)},URI="${applyEntryPrefix(prefix, part.uri)}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
    }
  };
  for (const [i, s] of p.segments.entries()) {
    if (!Number.isFinite(s.durationMs) || s.durationMs < 0) {
      throw new GatewayError(ErrorCode.CasterOutput, `invalid HLS segment duration ${s.durationMs} ms`);
    }
    checkUri(s.uri);
    if (i < skipped) continue;
    segmentTags(s);
    lines.push(`#EXTINF:${ms3(s.durationMs)},`);
    lines.push(applyEntryPrefix(prefix, s.uri));
  }
  if (ll?.open !== undefined && p.endList !== true) segmentTags(ll.open);
  if (ll?.preloadHintUri !== undefined && p.endList !== true) {
    checkUri(ll.preloadHintUri);
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${applyEntryPrefix(prefix, ll.preloadHintUri)}"`);
  }
  if (p.endList === true) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
