/**
 * Tracks of an ANNOUNCE SDP (RFC 4566 m=/a=rtpmap/a=fmtp, RFC 2326 Appendix C.1.1 a=control, RFC 3551 §6
 * static payload types).
 *
 * sdp-transform splits the description into media sections; everything it turns into numbers is read back as
 * text here, and fmtp parameters are split by our own code so values such as `config=1190` stay strings.
 *
 * Control URLs: the base is the session-level `a=control` when it is absolute, else the caller's base (the
 * Content-Base header, else the ANNOUNCE URL). A relative media control is joined to the base with exactly one
 * '/' (what ffmpeg and GStreamer do when they build SETUP URLs), `*` or no control means the base itself.
 */
import { parse as parseSdp } from 'sdp-transform';
import { ErrorCode, GatewayError } from '../../errors.ts';

/** Bound on m= sections: a camera pushes video, audio and perhaps metadata. */
export const SDP_MAX_TRACKS = 16;

export interface SdpTrack {
  /** m= line order, from 0. */
  readonly index: number;
  /** m= media type: 'video', 'audio', 'application', ... */
  readonly media: string;
  /** First format of the m= line. */
  readonly payloadType: number;
  /** Upper-case encoding name: 'H264', 'H265', 'MPEG4-GENERIC', 'MP4A-LATM', 'PCMA', 'PCMU', ... */
  readonly encodingName: string;
  /** RTP clock rate in Hz. */
  readonly clockRate: number;
  /** Audio channels from the rtpmap encoding parameters; 1 when absent. */
  readonly channels: number;
  /** fmtp parameters of payloadType: keys lower-cased, values as written (trimmed). */
  readonly fmtp: ReadonlyMap<string, string>;
  /** Absolute control URL (RFC 2326 C.1.1) that SETUP uses for this track. */
  readonly control: string;
}

interface StaticPayloadType {
  readonly encodingName: string;
  readonly clockRate: number;
  readonly channels: number;
}

/** RFC 3551 §6 Tables 4 and 5: payload types with a fixed meaning (no rtpmap needed). */
export const RTP_STATIC_PAYLOAD_TYPES: ReadonlyMap<number, StaticPayloadType> = new Map(
  (
    [
      [0, 'PCMU', 8000, 1],
      [3, 'GSM', 8000, 1],
      [4, 'G723', 8000, 1],
      [5, 'DVI4', 8000, 1],
      [6, 'DVI4', 16000, 1],
      [7, 'LPC', 8000, 1],
      [8, 'PCMA', 8000, 1],
      [9, 'G722', 8000, 1],
      [10, 'L16', 44100, 2],
      [11, 'L16', 44100, 1],
      [12, 'QCELP', 8000, 1],
      [13, 'CN', 8000, 1],
      [14, 'MPA', 90000, 1],
      [15, 'G728', 8000, 1],
      [16, 'DVI4', 11025, 1],
      [17, 'DVI4', 22050, 1],
      [18, 'G729', 8000, 1],
      [25, 'CELB', 90000, 1],
      [26, 'JPEG', 90000, 1],
      [28, 'NV', 90000, 1],
      [31, 'H261', 90000, 1],
      [32, 'MPV', 90000, 1],
      [33, 'MP2T', 90000, 1],
      [34, 'H263', 90000, 1],
    ] as const
  ).map(([pt, encodingName, clockRate, channels]) => [pt, { encodingName, clockRate, channels }]),
);

/**
 * Parse the SDP body of an ANNOUNCE into tracks, one per m= line.
 * @param baseUrl Content-Base header if the request had one, else the ANNOUNCE request URL.
 * @throws GatewayError(SdpInvalid) when there is no m= line or more than SDP_MAX_TRACKS, a malformed m= line,
 *   a payload type outside 0–127, a dynamic payload type without rtpmap, an rtpmap without a clock rate, bad
 *   channel count, several tracks without a=control, or two tracks with the same control URL.
 */
export function parseAnnounceSdp(sdp: string, baseUrl: string): SdpTrack[] {
  const session = parseSdp(sdp);
  const media = session.media;
  if (media.length === 0) throw sdpError('SDP has no m= line');
  if (media.length > SDP_MAX_TRACKS) throw sdpError(`SDP has more than ${SDP_MAX_TRACKS} m= lines`);
  const sessionControl = session.control === undefined ? undefined : String(session.control).trim();
  const base = sessionControl !== undefined && isAbsoluteUrl(sessionControl) ? sessionControl : baseUrl;

  const tracks: SdpTrack[] = [];
  const seen = new Set<string>();
  media.forEach((m, index) => {
    const where = `m= line ${index}`;
    if (typeof m.type !== 'string' || m.type === '') throw sdpError(`${where}: malformed m= line`);
    const firstFormat = String(m.payloads ?? '').trim().split(/\s+/)[0] ?? '';
    if (!/^\d{1,3}$/.test(firstFormat) || Number(firstFormat) > 127) {
      throw sdpError(`${where}: payload type '${clip(firstFormat)}' is not an RTP payload type`);
    }
    const payloadType = Number(firstFormat);
    const rtpmap = m.rtp.find((r) => Number(r.payload) === payloadType);
    let encodingName: string;
    let clockRate: number;
    let channels = 1;
    if (rtpmap !== undefined) {
      encodingName = String(rtpmap.codec).toUpperCase();
      const rate = String(rtpmap.rate ?? '');
      if (encodingName === '' || !/^\d{1,7}$/.test(rate) || Number(rate) === 0) {
        throw sdpError(`${where}: bad rtpmap for payload type ${payloadType}`);
      }
      clockRate = Number(rate);
      if (rtpmap.encoding !== undefined && String(rtpmap.encoding) !== '') {
        const ch = String(rtpmap.encoding);
        if (!/^\d{1,2}$/.test(ch) || Number(ch) === 0) throw sdpError(`${where}: bad channel count '${clip(ch)}'`);
        channels = Number(ch);
      }
    } else {
      const known = RTP_STATIC_PAYLOAD_TYPES.get(payloadType);
      if (known === undefined) throw sdpError(`${where}: payload type ${payloadType} has no rtpmap`);
      ({ encodingName, clockRate, channels } = known);
    }
    const fmtpLine = m.fmtp.find((f) => Number(f.payload) === payloadType);
    const fmtp = fmtpLine === undefined ? new Map<string, string>() : parseFmtpParameters(String(fmtpLine.config));
    const rawControl = m.control === undefined ? undefined : String(m.control).trim();
    if ((rawControl === undefined || rawControl === '') && media.length > 1) {
      throw sdpError(`${where}: no a=control but the SDP has ${media.length} media`);
    }
    const control = resolveControl(base, rawControl);
    if (seen.has(control)) throw sdpError(`${where}: control URL '${clip(control)}' used twice`);
    seen.add(control);
    tracks.push({ index, media: m.type, payloadType, encodingName, clockRate, channels, fmtp, control });
  });
  return tracks;
}

/**
 * `a=fmtp` parameter list (RFC 4566 §6, format-specific `key=value;key=value`): keys lower-cased and trimmed,
 * values trimmed and kept as text; a parameter without '=' maps to ''.
 */
export function parseFmtpParameters(config: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of config.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (key === '') continue;
    out.set(key, eq < 0 ? '' : p.slice(eq + 1).trim());
  }
  return out;
}

/** Absolute control URL for a media-level a=control value (RFC 2326 C.1.1). */
export function resolveControl(base: string, control: string | undefined): string {
  if (control === undefined || control === '' || control === '*') return base;
  if (isAbsoluteUrl(control)) return control;
  return `${base.replace(/\/+$/, '')}/${control.replace(/^\/+/, '')}`;
}

/**
 * The track a SETUP URL means. Tried in order: exact control URL; same path (+ query) ignoring host, port,
 * userinfo and trailing slashes (clients may say 127.0.0.1 where the SDP says localhost); for a single track
 * whose control is the aggregate URL, a SETUP path below it (`…/cam1/trackID=0`); the last path segment when
 * exactly one track's control ends in it (`streamid=0`, `trackID=1`).
 */
export function findTrackByControl(tracks: readonly SdpTrack[], setupUrl: string): SdpTrack | undefined {
  const exact = tracks.find((t) => t.control === setupUrl);
  if (exact !== undefined) return exact;
  const setupPath = pathKey(setupUrl);
  if (setupPath === undefined) return undefined;
  const samePath = tracks.find((t) => pathKey(t.control) === setupPath);
  if (samePath !== undefined) return samePath;
  const only = tracks.length === 1 ? tracks[0] : undefined;
  if (only !== undefined) {
    const trackPath = pathKey(only.control);
    if (trackPath !== undefined && setupPath.startsWith(`${trackPath}/`)) return only;
  }
  const last = lastSegment(setupPath);
  if (last === '') return undefined;
  const byLast = tracks.filter((t) => lastSegment(pathKey(t.control) ?? '') === last);
  return byLast.length === 1 ? byLast[0] : undefined;
}

/** Path plus query of an rtsp URL without trailing slashes, or undefined when it does not parse. */
function pathKey(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  return `${u.pathname}${u.search}`.replace(/\/+$/, '');
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function isAbsoluteUrl(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+\-.]*:\/\//.test(s);
}

function sdpError(message: string): GatewayError {
  return new GatewayError(ErrorCode.SdpInvalid, message);
}

function clip(s: string): string {
  return (s.length > 60 ? `${s.slice(0, 60)}…` : s).replace(/[^\x20-\x7e]/g, '?');
}
