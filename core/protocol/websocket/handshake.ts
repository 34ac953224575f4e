/**
 * WebSocket opening handshake, server side (RFC 6455 section 4.2.1 "Reading the Client's Opening Handshake",
 * 4.2.2 "Sending the Server's Opening Handshake", 1.3 for Sec-WebSocket-Accept). Pure: request head values in,
 * a verdict and the response head out.
 *
 * Accepted: GET over HTTP/1.1 or later, `Upgrade` naming `websocket`, `Connection` holding the `Upgrade` token,
 * `Sec-WebSocket-Key` that base64-decodes to 16 bytes, `Sec-WebSocket-Version: 13`. A wrong version gets 426 with
 * `Sec-WebSocket-Version: 13` (4.4); anything else malformed gets 400. No subprotocol and no extension
 * (e.g. permessage-deflate) is selected: the response names none, so frames carry RSV bits 0.
 */
import { createHash } from 'node:crypto';

/** 1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** 4.1: the only version this server speaks. */
export const WEBSOCKET_VERSION = '13';
/** 4.1: Sec-WebSocket-Key is a base64-encoded 16-byte nonce (24 characters). */
const KEY_BYTES = 16;

/** 1.3: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
export function secWebSocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** The parts of an HTTP request head the handshake reads (IncomingMessage fits). */
export interface UpgradeRequestHead {
  readonly method?: string | undefined;
  /** `1.1` for HTTP/1.1. */
  readonly httpVersion: string;
  /** Header names in lower case (node:http's `req.headers`). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type UpgradeVerdict =
  | { readonly ok: true; readonly accept: string }
  | { readonly ok: false; readonly status: 400 | 405 | 426; readonly reason: string };

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** Does a comma-separated header value hold `token` (case-insensitive, RFC 9110 5.6.1 lists)? */
function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const t of value.split(',')) if (t.trim().toLowerCase() === token) return true;
  return false;
}

/** Is this request a WebSocket upgrade at all (`Upgrade: websocket`)? Other upgrades are not ours. */
export function isWebSocketUpgrade(req: UpgradeRequestHead): boolean {
  return hasToken(single(req.headers.upgrade), 'websocket');
}

/** Check a client's opening handshake (4.2.1). */
export function checkUpgradeRequest(req: UpgradeRequestHead): UpgradeVerdict {
  if (req.method !== 'GET') return { ok: false, status: 405, reason: `method ${req.method ?? '?'} (GET required)` };
  const [major = 0, minor = 0] = req.httpVersion.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 1)) return { ok: false, status: 400, reason: `HTTP/${req.httpVersion} (1.1 required)` };
  if (!isWebSocketUpgrade(req)) return { ok: false, status: 400, reason: 'Upgrade does not name websocket' };
  if (!hasToken(single(req.headers.connection), 'upgrade')) return { ok: false, status: 400, reason: 'Connection lacks the Upgrade token' };
  const version = single(req.headers['sec-websocket-version'])?.trim();
  if (version !== WEBSOCKET_VERSION) return { ok: false, status: 426, reason: `Sec-WebSocket-Version ${version ?? 'missing'}` };
  const key = single(req.headers['sec-websocket-key'])?.trim();
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== KEY_BYTES) {
    return { ok: false, status: 400, reason: 'Sec-WebSocket-Key is not a base64 16-byte nonce' };
  }
  return { ok: true, accept: secWebSocketAccept(key) };
}

/** 4.2.2: the 101 response head that completes the handshake. */
export function switchingProtocolsResponse(accept: string): string {
  return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

const REASON_PHRASES: Readonly<Record<number, string>> = {
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

/**
 * A refusal written on the raw connection instead of the 101 (the HTTP server no longer frames it): status line,
 * `Connection: close`, the version header for 426 (4.4), and a plain-text body.
 */
export function refusalResponse(status: number, body: string): string {
  const extra = status === 426 ? `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n` : '';
  const text = `${body}\n`;
  return `HTTP/1.1 ${status} ${REASON_PHRASES[status] ?? 'Error'}\r\nConnection: close\r\n${extra}`
    + `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}
