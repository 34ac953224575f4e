/**
 * RTSP URL → stream path (RFC 2326 §3.2 rtsp_URL = ( "rtsp:" | "rtspu:" ) "//" host [ ":" port ] [ abs_path ]).
 *
 * The publish URL of an ANNOUNCE names the stream: `rtsp://host[:port]/app/stream[.sdp][?query]`, as SRS's RTSP
 * caster reads it. Segments are percent-decoded; '.' and '..' segments are refused on the raw text, because the
 * WHATWG URL parser would silently resolve them (also in their %2e forms).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** Default port of rtsp:// (RFC 2326 §3.2). */
export const RTSP_DEFAULT_PORT = 554;
/** Default port of rtsps:// (IANA). */
export const RTSPS_DEFAULT_PORT = 322;

export interface RtspStreamUrl {
  /** Every path segment before the stream, joined by '/': 'live', or 'live/sub'. Percent-decoded. */
  readonly app: string;
  /** Last path segment without one trailing '.sdp'. Percent-decoded. */
  readonly stream: string;
  /** Raw query without '?', '' when absent. */
  readonly query: string;
  /** Host name or address (IPv6 without brackets). */
  readonly host: string;
  /** Explicit port, else 554 (rtsp) or 322 (rtsps). */
  readonly port: number;
}

/**
 * rtsp://host[:port]/app/stream[.sdp][?query] → stream path parts. Strips one trailing '.sdp'; the last path
 * segment is the stream, everything before it (joined by '/') is the app ('live'); a SETUP URL that ends with a
 * track control (`/streamid=0`, `/trackID=1`, `/stream=0`) is NOT handled here (use findTrackByControl).
 * Empty segments (`//`, a trailing '/') are skipped.
 * @throws GatewayError(RtspRequest) for a non-rtsp URL, missing app or stream, '.'/'..' segments, or a segment
 *   that decodes to '/', a control character or invalid percent-encoding.
 */
export function parseRtspStreamUrl(url: string): RtspStreamUrl {
  const m = /^(rtsps?):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(url);
  if (m === null) throw urlError(`not an rtsp:// URL: '${clip(url)}'`);
  const scheme = (m[1] as string).toLowerCase();
  const rawPath = m[3] ?? '';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw urlError(`malformed RTSP URL '${clip(url)}'`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw urlError(`RTSP URL has no host: '${clip(url)}'`);
  const segments: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw urlError(`bad percent-encoding in RTSP URL '${clip(url)}'`);
    }
    if (segment === '.' || segment === '..') throw urlError(`'${segment}' segment in RTSP URL '${clip(url)}'`);
    if (/[/\\\x00-\x1f\x7f]/.test(segment)) throw urlError(`bad character in RTSP URL path '${clip(url)}'`);
    segments.push(segment);
  }
  let stream = segments.pop() ?? '';
  if (stream.toLowerCase().endsWith('.sdp')) stream = stream.slice(0, -4);
  if (stream === '' || stream === '.' || stream === '..') throw urlError(`RTSP URL has no stream name: '${clip(url)}'`);
  if (segments.length === 0) throw urlError(`RTSP URL has no app: '${clip(url)}'`);
  const port = parsed.port === '' ? (scheme === 'rtsps' ? RTSPS_DEFAULT_PORT : RTSP_DEFAULT_PORT) : Number(parsed.port);
  return { app: segments.join('/'), stream, query: m[4] ?? '', host, port };
}

function urlError(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtspRequest, message);
}

function clip(s: string): string {
  return (s.length > 80 ? `${s.slice(0, 80)}…` : s).replace(/[^\x20-\x7e]/g, '?');
}
