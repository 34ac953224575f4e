/**
 * RTSP Transport header (RFC 2326 §12.39).
 *
 *   Transport = "Transport" ":" 1#transport-spec
 *   transport-spec = transport-protocol/profile[/lower-transport] *parameter
 *
 * Parsed forms seen from real push clients (fixtures/rtsp): ffmpeg `RTP/AVP/TCP;unicast;interleaved=0-1;mode=record`,
 * `RTP/AVP/UDP;unicast;client_port=7192-7193;mode=record`; GStreamer the same with `mode=RECORD`. Parameter
 * names and the lower transport are case-insensitive; `mode` is lower-cased and unquoted, so `mode=RECORD`,
 * `mode="RECORD"` and `mode=record` all give 'record'. Unknown parameters are ignored (§12.39 allows extensions).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** Bound on comma-separated alternatives in one header (clients offer 1–3). */
export const TRANSPORT_MAX_ALTERNATIVES = 16;
/** Bound on `;` parameters in one transport-spec. */
export const TRANSPORT_MAX_PARAMETERS = 32;

/** One transport-spec. Optional fields also accept `undefined` (= absent), so callers can copy them through. */
export interface RtspTransport {
  /** transport-protocol/profile[/lower-transport] as sent (case kept): 'RTP/AVP', 'RTP/AVP/TCP', 'RTP/AVP/UDP'. */
  readonly profile: string;
  /** 'tcp' for an explicit /TCP lower transport, 'udp' for /UDP or none (§12.39 default). */
  readonly lowerTransport: 'udp' | 'tcp';
  /** False when `multicast` is given. */
  readonly unicast: boolean;
  /** RTP and RTCP ports of the client; a single port p means [p, p + 1]. */
  readonly clientPort?: readonly [number, number] | undefined;
  readonly serverPort?: readonly [number, number] | undefined;
  /** Interleaved channels for RTP and RTCP; a single channel c means [c, c + 1]. */
  readonly interleaved?: readonly [number, number] | undefined;
  /** Lower-cased, quotes removed: 'record' or 'play' (may be a list such as 'play,record'). */
  readonly mode?: string | undefined;
  /** RTP SSRC (8 hex digits on the wire), uint32. */
  readonly ssrc?: number | undefined;
  readonly destination?: string | undefined;
  readonly source?: string | undefined;
  /** Multicast TTL, 0–255. */
  readonly ttl?: number | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const PROFILE_RE = /^[A-Za-z0-9][A-Za-z0-9\-.]*\/[A-Za-z0-9][A-Za-z0-9\-.]*(?:\/([A-Za-z]+))?$/;

/**
 * Parse a Transport header value into its alternatives, in the client's order of preference.
 * @throws GatewayError(RtspTransport) on an empty header, a malformed transport-spec, a bad port/channel range,
 *   a lower transport other than TCP/UDP, or more than TRANSPORT_MAX_ALTERNATIVES alternatives.
 */
export function parseTransportHeader(value: string): RtspTransport[] {
  const specs = splitOutsideQuotes(value, ',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0) throw transportError(`empty Transport header`);
  if (specs.length > TRANSPORT_MAX_ALTERNATIVES) {
    throw transportError(`more than ${TRANSPORT_MAX_ALTERNATIVES} Transport alternatives`);
  }
  return specs.map(parseTransportSpec);
}

function parseTransportSpec(spec: string): RtspTransport {
  const params = splitOutsideQuotes(spec, ';').map((s) => s.trim());
  if (params.length > TRANSPORT_MAX_PARAMETERS + 1) {
    throw transportError(`more than ${TRANSPORT_MAX_PARAMETERS} Transport parameters`);
  }
  const profile = params[0] ?? '';
  const m = PROFILE_RE.exec(profile);
  if (m === null) throw transportError(`malformed transport-spec '${clip(profile)}'`);
  const lower = m[1]?.toUpperCase();
  if (lower !== undefined && lower !== 'TCP' && lower !== 'UDP') {
    throw transportError(`unsupported lower transport '${clip(m[1] ?? '')}'`);
  }
  const t: Mutable<RtspTransport> = { profile, lowerTransport: lower === 'TCP' ? 'tcp' : 'udp', unicast: true };
  for (const param of params.slice(1)) {
    if (param === '') continue;
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0 ? undefined : param.slice(eq + 1).trim();
    switch (name) {
      case 'unicast':
        t.unicast = true;
        break;
      case 'multicast':
        t.unicast = false;
        break;
      case 'client_port':
        t.clientPort = parseRange(name, raw, 65535);
        break;
      case 'server_port':
        t.serverPort = parseRange(name, raw, 65535);
        break;
      case 'interleaved':
        t.interleaved = parseRange(name, raw, 255);
        break;
      case 'mode':
        t.mode = unquote(required(name, raw)).toLowerCase();
        break;
      case 'ssrc': {
        const v = required(name, raw);
        if (!/^[0-9A-Fa-f]{1,8}$/.test(v)) throw transportError(`bad ssrc '${clip(v)}'`);
        t.ssrc = Number.parseInt(v, 16) >>> 0;
        break;
      }
      case 'ttl': {
        const v = required(name, raw);
        if (!/^\d{1,3}$/.test(v) || Number(v) > 255) throw transportError(`bad ttl '${clip(v)}'`);
        t.ttl = Number(v);
        break;
      }
      case 'destination':
        if (raw !== undefined) t.destination = unquote(raw);
        break;
      case 'source':
        t.source = unquote(required(name, raw));
        break;
      default:
        if (!/^[a-z0-9_\-.]+$/.test(name)) throw transportError(`malformed Transport parameter '${clip(param)}'`);
        break; // append, layers, port, x-... : not needed for push, ignored
    }
  }
  return t;
}

/**
 * Format one transport-spec for a SETUP response, in gortsplib's order:
 * profile;unicast|multicast;destination;source;interleaved;client_port;server_port;ttl;ssrc;mode.
 */
export function formatTransportHeader(t: RtspTransport): string {
  const parts = [t.profile, t.unicast ? 'unicast' : 'multicast'];
  if (t.destination !== undefined) parts.push(`destination=${t.destination}`);
  if (t.source !== undefined) parts.push(`source=${t.source}`);
  if (t.interleaved !== undefined) parts.push(`interleaved=${t.interleaved[0]}-${t.interleaved[1]}`);
  if (t.clientPort !== undefined) parts.push(`client_port=${t.clientPort[0]}-${t.clientPort[1]}`);
  if (t.serverPort !== undefined) parts.push(`server_port=${t.serverPort[0]}-${t.serverPort[1]}`);
  if (t.ttl !== undefined) parts.push(`ttl=${t.ttl}`);
  if (t.ssrc !== undefined) parts.push(`ssrc=${(t.ssrc >>> 0).toString(16).toUpperCase().padStart(8, '0')}`);
  if (t.mode !== undefined) parts.push(`mode=${t.mode}`);
  return parts.join(';');
}

/** `a-b` or `a` (→ [a, a + 1]) with a ≤ b ≤ max. */
function parseRange(name: string, raw: string | undefined, max: number): readonly [number, number] {
  const v = required(name, raw);
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
  if (m === null) throw transportError(`bad ${name} '${clip(v)}'`);
  const first = Number(m[1]);
  const second = m[2] === undefined ? first + 1 : Number(m[2]);
  if (first > max || second > max || second < first) throw transportError(`bad ${name} '${clip(v)}'`);
  return [first, second];
}

function required(name: string, raw: string | undefined): string {
  if (raw === undefined || raw === '') throw transportError(`Transport parameter ${name} needs a value`);
  return raw;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).trim() : v;
}

/** Split on `sep` except inside double quotes (mode="PLAY,RECORD"). */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw transportError(`unbalanced quote in Transport header`);
  out.push(s.slice(start));
  return out;
}

function transportError(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtspTransport, message);
}

function clip(s: string): string {
  return (s.length > 60 ? `${s.slice(0, 60)}…` : s).replace(/[^\x20-\x7e]/g, '?');
}
