/**
 * HLS media playlist writer (RFC 8216: 4.3.1.1 EXTM3U, 4.3.1.2 EXT-X-VERSION, 4.3.2.1 EXTINF,
 * 4.3.2.3 EXT-X-DISCONTINUITY, 4.3.3.1 EXT-X-TARGETDURATION, 4.3.3.2 EXT-X-MEDIA-SEQUENCE,
 * 4.3.3.3 EXT-X-DISCONTINUITY-SEQUENCE, 4.3.3.4 EXT-X-ENDLIST). Pure: values in, playlist text out.
 * SRS SrsHlsMuxer::_refresh_m3u8, with TARGETDURATION = ceil(max(longest EXTINF, hls_fragment × hls_td_ratio)).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** EXT-X-VERSION 3: decimal EXTINF durations (RFC 8216 section 7). */
export const HLS_PLAYLIST_VERSION = 3;

export interface PlaylistSegment {
  /** URL of the segment, relative to the playlist (hls-path.ts segmentUri) or absolute. */
  readonly uri: string;
  /** Duration in ms; written as EXTINF seconds with 3 decimals. */
  readonly durationMs: number;
  /** true: EXT-X-DISCONTINUITY is written before this segment (timestamps or encoding changed). */
  readonly discontinuity: boolean;
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
}

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

function checkUri(uri: string): void {
  if (uri === '' || /[\r\n]/.test(uri)) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid HLS segment URI ${JSON.stringify(uri)}`);
  }
}

/**
 * Writes a live (or ended) media playlist.
 * @throws GatewayError(CasterOutput) for a negative/non-finite duration or sequence, or a URI that is empty or
 *   holds a line break (it would corrupt the playlist).
 */
export function writeMediaPlaylist(p: MediaPlaylist): string {
  if (!Number.isSafeInteger(p.mediaSequence) || p.mediaSequence < 0) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid EXT-X-MEDIA-SEQUENCE ${p.mediaSequence}`);
  }
  const discontinuitySequence = p.discontinuitySequence ?? 0;
  if (!Number.isSafeInteger(discontinuitySequence) || discontinuitySequence < 0) {
    throw new GatewayError(ErrorCode.CasterOutput, `invalid EXT-X-DISCONTINUITY-SEQUENCE ${discontinuitySequence}`);
  }
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${HLS_PLAYLIST_VERSION}`,
    `#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`,
  ];
  if (discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`);
  lines.push(`#EXT-X-TARGETDURATION:${targetDurationSeconds(p.segments, p.targetDurationFloorMs ?? 0)}`);
  const prefix = p.entryPrefix ?? '';
  for (const s of p.segments) {
    if (!Number.isFinite(s.durationMs) || s.durationMs < 0) {
      throw new GatewayError(ErrorCode.CasterOutput, `invalid HLS segment duration ${s.durationMs} ms`);
    }
    checkUri(s.uri);
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${(Math.round(s.durationMs) / 1000).toFixed(3)},`);
    lines.push(applyEntryPrefix(prefix, s.uri));
  }
  if (p.endList === true) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
