/**
 * RTSP 1.0 responses and interleaved frames written by the server (RFC 2326 §7 Response, §7.1.1 Status-Code and
 * Reason-Phrase, §10.12 Embedded (Interleaved) Binary Data).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { DOLLAR, printable, RTSP_MAX_INTERLEAVED_PAYLOAD, TOKEN_RE } from './rtsp-message.ts';

/** RFC 2326 §7.1.1 Status-Code reason phrases. */
export const RTSP_REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 250: 'Low on Storage Space', 300: 'Multiple Choices',
  301: 'Moved Permanently', 302: 'Moved Temporarily', 303: 'See Other', 304: 'Not Modified', 305: 'Use Proxy',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required',
  408: 'Request Time-out', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed',
  413: 'Request Entity Too Large', 414: 'Request-URI Too Large', 415: 'Unsupported Media Type',
  451: 'Parameter Not Understood', 452: 'Conference Not Found', 453: 'Not Enough Bandwidth',
  454: 'Session Not Found', 455: 'Method Not Valid in This State', 456: 'Header Field Not Valid for Resource',
  457: 'Invalid Range', 458: 'Parameter Is Read-Only', 459: 'Aggregate operation not allowed',
  460: 'Only aggregate operation allowed', 461: 'Unsupported transport', 462: 'Destination unreachable',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Time-out', 505: 'RTSP Version not supported', 551: 'Option not supported',
};

const CLASS_PHRASES: Readonly<Record<number, string>> = { 1: 'Informational', 2: 'Success', 3: 'Redirection', 4: 'Client Error', 5: 'Server Error' };

/**
 * Serialize a response: `RTSP/1.0 <status> <reason>\r\n`, the headers in order, Content-Length when `body` is
 * given (any caller-given Content-Length is then replaced), an empty line, the body (string → UTF-8).
 * @throws GatewayError(RtspRequest) on a status outside 100–599 or a header name/value with CR, LF or NUL
 *   (header injection).
 */
export function serializeRtspResponse(
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  body?: string | Buffer,
): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new GatewayError(ErrorCode.RtspRequest, `invalid RTSP status ${status}`);
  }
  const reason = RTSP_REASON_PHRASES[status] ?? CLASS_PHRASES[Math.floor(status / 100)] ?? 'Unknown';
  const bodyBytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `RTSP/1.0 ${status} ${reason}\r\n`;
  for (const [name, value] of headers) {
    if (!TOKEN_RE.test(name) || /[\r\n\0]/.test(value)) {
      throw new GatewayError(ErrorCode.RtspRequest, `invalid response header '${printable(name)}'`);
    }
    if (bodyBytes !== undefined && name.toLowerCase() === 'content-length') continue;
    head += `${name}: ${value}\r\n`;
  }
  if (bodyBytes !== undefined) head += `Content-Length: ${bodyBytes.length}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.from(head, 'utf8');
  return bodyBytes === undefined || bodyBytes.length === 0 ? headBytes : Buffer.concat([headBytes, bodyBytes]);
}

/**
 * `'$' channel(8) length(16 BE) payload` (RFC 2326 §10.12).
 * @throws GatewayError(RtspTransport) for a channel outside 0–255; GatewayError(TooLarge) for a payload over
 *   RTSP_MAX_INTERLEAVED_PAYLOAD bytes.
 */
export function serializeInterleavedFrame(channel: number, payload: Uint8Array): Buffer {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
    throw new GatewayError(ErrorCode.RtspTransport, `interleaved channel ${channel} outside 0-255`);
  }
  if (payload.length > RTSP_MAX_INTERLEAVED_PAYLOAD) {
    throw new GatewayError(ErrorCode.TooLarge, `interleaved payload of ${payload.length} bytes over ${RTSP_MAX_INTERLEAVED_PAYLOAD}`);
  }
  const out = Buffer.allocUnsafe(4 + payload.length);
  out[0] = DOLLAR;
  out[1] = channel;
  out.writeUInt16BE(payload.length, 2);
  out.set(payload, 4);
  return out;
}

/** A short, log-safe rendering of peer text for error messages. */
