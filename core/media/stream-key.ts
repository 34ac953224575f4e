/**
 * Stream keys: which live stream a publisher or player means — `vhost/app/stream`, as SRS's SrsRequest.
 * Parsed from rtmp:// URLs and tcUrl (`?vhost=` query or host), HTTP paths and caster `output` templates.
 */
import { ErrorCode, GatewayError } from '../errors.ts';

export const DEFAULT_VHOST = '__defaultVhost__';

export interface StreamKey {
  readonly vhost: string;
  readonly app: string;
  readonly stream: string;
}

/** Canonical string form `vhost/app/stream`, used as the hub's map key and in logs. */
export function streamKeyString(key: StreamKey): string {
  return `${key.vhost}/${key.app}/${key.stream}`;
}

/** Names allowed for app and stream: no path tricks, no control characters, bounded length. */
const NAME_RE = /^[A-Za-z0-9_\-.~@+=:]{1,200}$/;
const APP_RE = /^[A-Za-z0-9_\-.~@+=:/]{1,200}$/;

/**
 * Build a validated key.
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID when app or stream is empty or has characters outside
 *   `[A-Za-z0-9_-.~@+=:]` (app may also contain `/`), or contains `..`.
 */
export function makeStreamKey(vhost: string, app: string, stream: string): StreamKey {
  if (!APP_RE.test(app) || app.includes('..') || app.startsWith('/') || app.endsWith('/')) {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `invalid app name '${app}'`);
  }
  if (!NAME_RE.test(stream) || stream.includes('..')) {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `invalid stream name '${stream}'`);
  }
  return { vhost: vhost === '' ? DEFAULT_VHOST : vhost, app, stream };
}

/**
 * Split an RTMP stream name that may carry a query (`livestream?vhost=v&token=x`) into name and params.
 * SRS also accepts `?vhost=` on the stream name; the caller merges it with tcUrl's.
 */
export function splitStreamQuery(name: string): { name: string; params: URLSearchParams } {
  const q = name.indexOf('?');
  if (q < 0) return { name, params: new URLSearchParams() };
  return { name: name.slice(0, q), params: new URLSearchParams(name.slice(q + 1)) };
}

/**
 * Parse `rtmp://host[:port]/app[/...]/stream[?vhost=v]` (a caster `output` after template substitution,
 * or a forward destination).
 * @returns host, port (default 1935), vhost (`?vhost=` or the host when it is not an IP/localhost, SRS rule),
 *   app and stream.
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID on a non-rtmp URL or missing app/stream.
 */
export function parseRtmpUrl(url: string): { host: string; port: number; key: StreamKey; params: URLSearchParams } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `not a URL: '${url}'`);
  }
  if (u.protocol !== 'rtmp:') throw new GatewayError(ErrorCode.StreamKeyInvalid, `not an rtmp:// URL: '${url}'`);
  const parts = decodeURIComponent(u.pathname).split('/').filter((p) => p !== '');
  if (parts.length < 2) throw new GatewayError(ErrorCode.StreamKeyInvalid, `URL needs /app/stream: '${url}'`);
  const stream = parts[parts.length - 1];
  const app = parts.slice(0, -1).join('/');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const vhost = u.searchParams.get('vhost') ?? vhostFromHost(host);
  return { host, port: u.port === '' ? 1935 : Number(u.port), key: makeStreamKey(vhost, app, stream), params: u.searchParams };
}

/** SRS: a tcUrl host that is an IP address or localhost means the default vhost; a name is a vhost. */
export function vhostFromHost(host: string): string {
  if (host === '' || host === 'localhost' || /^[0-9.]+$/.test(host) || host.includes(':')) return DEFAULT_VHOST;
  return host;
}

/**
 * Substitute SRS template variables in a caster `output` or an `http_remux mount`:
 * `[vhost]`, `[app]`, `[stream]` (SRS stream_caster output, e.g. `rtmp://127.0.0.1/[app]/[stream]`).
 */
export function resolveTemplate(template: string, vars: { vhost?: string; app?: string; stream?: string }): string {
  return template
    .replaceAll('[vhost]', vars.vhost ?? DEFAULT_VHOST)
    .replaceAll('[app]', vars.app ?? '')
    .replaceAll('[stream]', vars.stream ?? '');
}

/**
 * Is `host:port` this gateway itself? True for loopback names and addresses (and unspecified addresses) when
 * `port` is one of our RTMP listen ports. Then a caster publishes in-process instead of opening a socket
 * (STYLE habit 6).
 */
export function isOwnAddress(host: string, port: number, ownPorts: readonly number[]): boolean {
  const h = host.toLowerCase();
  const loopback = h === 'localhost' || h.startsWith('127.') || h === '::1' || h === '0.0.0.0' || h === '::' || h === '';
  return loopback && ownPorts.includes(port);
}
