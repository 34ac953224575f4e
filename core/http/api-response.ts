/**
 * How SRS's HTTP API answers, as pure functions over a request's method, path, query and headers (SRS
 * trunk/src/app/srs_app_http_api.cpp srs_api_response*, trunk/src/protocol/srs_protocol_http_stack.cpp
 * SrsHttpCorsMux/SrsHttpAuthMux, srs_protocol_http_conn.cpp SrsHttpMessage::set_url/method; v5.0.216):
 *
 * - success: HTTP 200, `application/json`, `{"code":0,"server":"vid-…","service":"…","pid":"1234",…}`;
 * - an API error: HTTP 200 with `{"code":N}` alone (2048 stream not found, 2049 client not found, 1061 RAW API
 *   disabled, …); an HTTP error (404, 405): its status and the status text as text/plain;
 * - JSONP: `?callback=fn` wraps the JSON as `fn(…)` in text/javascript, and `&method=DELETE|POST|PUT|GET`
 *   overrides the method (JSONP can only GET); a callback outside [A-Za-z0-9._-] is a 400;
 * - CORS (`crossdomain on`): a request with `Origin` gets the Access-Control-* headers; OPTIONS is answered 200
 *   with them (405 when crossdomain is off), before authentication;
 * - Basic authentication (`auth { enabled on; }`): every path containing `/api/` needs `Authorization: Basic
 *   base64(user:pass)`, else 401 with `WWW-Authenticate`.
 * castgate differs: WWW-Authenticate names a realm (`Basic realm="castgate"`, RFC 7617 requires one; SRS sends
 * `Basic`), and an invalid JSONP callback is answered 400 (SRS drops the connection).
 */

/** SRS error codes the API returns (trunk/src/kernel/srs_kernel_error.hpp). */
export const SrsErrorCode = {
  Success: 0,
  /** ERROR_SYSTEM_CONFIG_INVALID: a reload refused the new config (castgate adds `error`: file:line:col: message). */
  ConfigInvalid: 1023,
  /** ERROR_SYSTEM_CONFIG_RAW: the rpc is missing or unknown. */
  ConfigRaw: 1060,
  /** ERROR_SYSTEM_CONFIG_RAW_DISABLED: raw_api or allow_reload is off. */
  ConfigRawDisabled: 1061,
  /** ERROR_SYSTEM_CONFIG_RAW_NOT_ALLOWED: the rpc is not allowed (castgate: no reload was given to the API). */
  ConfigRawNotAllowed: 1062,
  /** ERROR_RTMP_VHOST_NOT_FOUND. */
  VhostNotFound: 2014,
  /** ERROR_RTMP_STREAM_NOT_FOUND. */
  StreamNotFound: 2048,
  /** ERROR_RTMP_CLIENT_NOT_FOUND. */
  ClientNotFound: 2049,
} as const;
export type SrsErrorCode = (typeof SrsErrorCode)[keyof typeof SrsErrorCode];

/** A response ready to write. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What the response functions need of a request. */
export interface ApiRequest {
  /** The HTTP method as received. */
  readonly method: string;
  /** The path, percent-decoding not applied. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The `Origin` header, when present. */
  readonly origin: string | undefined;
  /** The `Authorization` header, when present. */
  readonly authorization: string | undefined;
}

/** The ids every SRS answer carries. */
export interface ServerIds {
  readonly server: string;
  readonly service: string;
  /** A string, as SRS writes it. */
  readonly pid: string;
}

/** Longest JSONP callback name accepted (SRS has no bound; a name is a JavaScript identifier path). */
const MAX_CALLBACK_LENGTH = 128;
const CALLBACK_RE = /^[A-Za-z0-9._-]*$/;
/** Methods `?method=` may name for a JSONP request (SrsHttpMessage::method). */
const JSONP_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE']);

/** SRS's CORS headers (SrsHttpCorsMux::serve_http): any origin, no credentials. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Allow-Methods': '*',
  'Access-Control-Expose-Headers': '*',
  'Access-Control-Allow-Credentials': 'false',
  'Access-Control-Request-Private-Network': 'true',
};

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error',
};

/** The JSONP callback of a request: undefined for plain JSON; null when the name is not acceptable. */
export function jsonpCallback(req: ApiRequest): string | undefined | null {
  const cb = req.query.get('callback');
  if (cb === null || cb === '') return undefined;
  return cb.length <= MAX_CALLBACK_LENGTH && CALLBACK_RE.test(cb) ? cb : null;
}

/** The method a handler sees: `?method=` overrides it for JSONP requests (SRS jsonp_method). */
export function effectiveMethod(req: ApiRequest): string {
  if (jsonpCallback(req) === undefined) return req.method;
  const m = req.query.get('method')?.toUpperCase();
  return m !== undefined && JSONP_METHODS.has(m) ? m : req.method;
}

/** A JSON body as SRS sends it: plain, or wrapped in `callback(...)` for JSONP. */
export function jsonResponse(req: ApiRequest, body: unknown): ApiResponse {
  const json = JSON.stringify(body);
  const cb = jsonpCallback(req);
  if (typeof cb === 'string') return { status: 200, headers: { 'Content-Type': 'text/javascript' }, body: `${cb}(${json})` };
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: json };
}

/** Success: `{"code":0,"server","service","pid", ...fields}`. */
export function okResponse(req: ApiRequest, ids: ServerIds, fields: Readonly<Record<string, unknown>> = {}): ApiResponse {
  return jsonResponse(req, { code: SrsErrorCode.Success, server: ids.server, service: ids.service, pid: ids.pid, ...fields });
}

/** An API error as SRS answers it: HTTP 200 with `{"code":N}` and nothing else (srs_api_response_code). */
export function codeResponse(req: ApiRequest, code: SrsErrorCode): ApiResponse {
  return jsonResponse(req, { code });
}

/** An HTTP error: the status and its text (srs_go_http_error). */
export function httpError(status: number, extra: Readonly<Record<string, string>> = {}): ApiResponse {
  const text = STATUS_TEXT[status] ?? 'Error';
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...extra }, body: text };
}

/** Plain text (Prometheus exposition). */
export function textResponse(body: string, contentType: string): ApiResponse {
  return { status: 200, headers: { 'Content-Type': contentType }, body };
}

/** The response's headers with CORS added when `crossdomain` is on and the request has an Origin. */
export function withCors(res: ApiResponse, req: ApiRequest, crossdomain: boolean): ApiResponse {
  if (!crossdomain || req.origin === undefined || req.origin === '') return res;
  return { ...res, headers: { ...res.headers, ...CORS_HEADERS } };
}

/** OPTIONS (CORS preflight): 200 when crossdomain is on, else 405; no body. */
export function optionsResponse(crossdomain: boolean): ApiResponse {
  return { status: crossdomain ? 200 : 405, headers: {}, body: '' };
}

/** Basic authentication settings (`http_api { auth { } }`). */
export interface BasicAuth {
  readonly enabled: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

/**
 * SrsHttpAuthMux::do_auth: undefined when the request may go on, else the 401 to send. Only paths containing
 * `/api/` are protected (not /metrics, not the root). The password is compared in full after the user name, so a
 * wrong user and a wrong password answer alike.
 */
export function checkBasicAuth(req: ApiRequest, auth: BasicAuth): ApiResponse | undefined {
  if (!auth.enabled || !req.path.includes('/api/')) return undefined;
  const h = req.authorization;
  const m = h === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
  if (m !== null) {
    const plain = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon >= 0 && plain.slice(0, colon) === auth.username && plain.slice(colon + 1) === auth.password) return undefined;
  }
  return httpError(401, { 'WWW-Authenticate': 'Basic realm="castgate"' });
}

/** `?start=` and `?count=` of a list (SRS: start ≥ 0, default 0; count default 10). castgate honours any count ≥ 1. */
export function listWindow(query: URLSearchParams): { readonly start: number; readonly count: number } {
  const start = Number.parseInt(query.get('start') ?? '', 10);
  const count = Number.parseInt(query.get('count') ?? '', 10);
  return { start: Number.isFinite(start) && start > 0 ? start : 0, count: Number.isFinite(count) && count > 0 ? count : 10 };
}
