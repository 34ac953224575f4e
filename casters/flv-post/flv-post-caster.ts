/**
 * Caster `flv` (SRS SrsAppCasterFlv, srs_app_caster_flv.cpp): FLV pushed over HTTP becomes a live stream.
 *
 * ```
 * stream_caster { enabled on; caster flv; output rtmp://127.0.0.1/[app]/[stream]; listen 8936; }
 * ```
 * `POST` or `PUT http://host:8936/live/sea.flv?token=abc` with a Content-Length or chunked body streams FLV into
 * `live/sea` (flv-post-session.ts does one upload). Routing:
 * - The path gives the template variables: `/a/b/s.flv` → `[app]` = `a/b`, `[stream]` = `s`. The `.flv` suffix
 *   is optional (stripped when present), as ffmpeg users post to both `/live/s.flv` and `/live/s`.
 *   `[vhost]` comes from `?vhost=` (else `__defaultVhost__`); the key's vhost is what the resolved `output` URL
 *   says (SRS: `?vhost=` in the output, or its host), so `rtmp://127.0.0.1/[app]/[stream]` always publishes into
 *   the default vhost. The whole query string is kept in the publisher's SessionInfo and the session's log.
 * - Responses (text/plain, the reason in the body): 200 when the body ends cleanly; 400 for a body that is not
 *   FLV or breaks (what was good stayed published until then); 404 for a path without app and stream or with
 *   characters a stream key may not have; 405 for any other method; 408 when the client sends nothing for
 *   `idle_timeout`; 409 GW_ERR_STREAM_BUSY when the stream already has a publisher (that one keeps streaming;
 *   checked before the body is read and again at the FLV header, where the publish happens); 503 to uploads cut
 *   by stop(). A refused upload's body is read and dropped for `lingerMs` so the client sees the answer.
 *   With `Expect: 100-continue` (curl uploads) the refusals come before the client sends its body.
 * Timeouts: `requestTimeout` 0 (a push lasts hours; Node 20's default 300 s would cut it), `headersTimeout`
 * FLV_POST_HEADERS_TIMEOUT_MS checked every TIMEOUT_CHECK_INTERVAL_MS (idle connections and slowloris heads are cut);
 * a stalled body is cut by `idle_timeout` instead. Connections beyond `maxConnections` are dropped at accept, with
 * one rate-limited log line (core/listener-guard.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { nextSessionId } from '../../core/log.ts';
import { HEADER_TIMEOUT_MS, limitConnections, TIMEOUT_CHECK_INTERVAL_MS } from '../../core/listener-guard.ts';
import type { PublishTarget, SessionInfo } from '../../core/hub/ports.ts';
import { MAX_ACCESS_UNIT_SIZE } from '../../core/codec/h264/avc-packager.ts';
import { DEFAULT_VHOST, makeStreamKey } from '../../core/media/stream-key.ts';
import type { Caster, CasterOutput, CasterStats } from '../caster.ts';
import { FLV_POST_LINGER_MS, FlvPostSession, respond, type FlvPostCounters, type FlvPostSessionInfo } from './flv-post-session.ts';

export interface FlvPostCasterOptions {
  /** The `output` template resolved per request (`vhost` is the request's `?vhost=`, else the default vhost). */
  readonly output: CasterOutput;
  readonly listen: { readonly host: string | undefined; readonly port: number };
  /** A body that sends nothing for this long is cut (stream_caster `idle_timeout`). */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  /** Largest FLV tag DataSize accepted; default FLV_POST_MAX_TAG_SIZE. */
  readonly maxTagSize?: number;
  /** How long a refused upload's body is still read before the connection closes; default FLV_POST_LINGER_MS. */
  readonly lingerMs?: number;
  /** Concurrent connections (the gateway's `max_connections`); default FLV_POST_MAX_CONNECTIONS. */
  readonly maxConnections?: number;
  /** Request line + headers deadline, ms; default FLV_POST_HEADERS_TIMEOUT_MS. */
  readonly headersTimeoutMs?: number;
}

/** Request line + headers must arrive within this time (slowloris guard); the body has `idle_timeout` instead. */
export const FLV_POST_HEADERS_TIMEOUT_MS = HEADER_TIMEOUT_MS;
/**
 * Default bound on a tag's DataSize: one H.264 access unit (MAX_ACCESS_UNIT_SIZE, 8 MiB) plus the tag headers.
 * Below the UI24 field's 16 MiB so a peer cannot make each connection allocate 16 MiB with one header.
 */
export const FLV_POST_MAX_TAG_SIZE = MAX_ACCESS_UNIT_SIZE + 1024;
/** Default bound on concurrent connections: each one may be a publisher holding a decoder and a GOP. */
export const FLV_POST_MAX_CONNECTIONS = 1_000;
/** Longest request path accepted (bytes, still percent-encoded). */
export const FLV_POST_MAX_PATH_LENGTH = 1_024;
/** A vhost named in `?vhost=`: a host name. */
const VHOST_RE = /^[A-Za-z0-9_\-.]{1,253}$/;
const FLV_SUFFIX = '.flv';

/**
 * Split a request path into the template variables: `/a/b/s.flv` → `{ app: 'a/b', stream: 's' }`.
 * Segments are percent-decoded, empty segments ignored, a trailing `.flv` stripped (any case).
 * @returns undefined when the path has no app and stream, has bad percent-encoding, or names a key that
 *   makeStreamKey would refuse (so nothing like `?`, `#`, `%` or `..` can reach the output template).
 */
export function streamFromPath(pathname: string): { app: string; stream: string } | undefined {
  if (pathname.length > FLV_POST_MAX_PATH_LENGTH) return undefined;
  let parts: string[];
  try {
    parts = pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  if (parts.length < 2) return undefined;
  let stream = parts[parts.length - 1] as string;
  if (stream.toLowerCase().endsWith(FLV_SUFFIX)) stream = stream.slice(0, -FLV_SUFFIX.length);
  const app = parts.slice(0, -1).join('/');
  try {
    makeStreamKey(DEFAULT_VHOST, app, stream);
  } catch {
    return undefined;
  }
  return { app, stream };
}

export class FlvPostCaster implements Caster {
  readonly #opts: FlvPostCasterOptions;
  readonly #log: Logger;
  readonly #sessions = new Set<FlvPostSession>();
  readonly #counters: FlvPostCounters = { bytes: 0, tags: 0, errors: 0, publishes: 0 };
  readonly #responses: Record<string, number> = {};
  #server: Server | undefined;
  #port = 0;
  #requests = 0;
  /** Uploads waiting for admission's answer. */
  #pendingAdmissions = 0;
  /** Uploads refused by security or an on_publish hook. */
  #admissionRefusals = 0;

  constructor(opts: FlvPostCasterOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ caster: 'flv' });
  }

  /** Bound TCP port (useful when configured as 0). */
  get port(): number {
    return this.#port;
  }

  /** @throws GatewayError GW_ERR_LISTEN when the port cannot be bound. */
  async start(): Promise<void> {
    const { host, port } = this.#opts.listen;
    const server = createServer(
      { requestTimeout: 0, headersTimeout: this.#opts.headersTimeoutMs ?? FLV_POST_HEADERS_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
      (req, res) => this.#onRequest(req, res, false),
    );
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res, true));
    limitConnections(server, this.#log, 'flv caster', this.#opts.maxConnections ?? FLV_POST_MAX_CONNECTIONS);
    await new Promise<void>((ok, fail) => {
      server.once('error', (err) => fail(new GatewayError(ErrorCode.Listen, `flv caster listen ${host ?? '*'}:${port}: ${err.message}`, { cause: err })));
      server.listen(port, host, () => ok());
    });
    server.on('error', (err) => this.#log.error({ err }, 'flv caster server error'));
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Malformed HTTP or a head not complete within headersTimeout: answer if we still can, then close for good
      // (a slowloris peer that keeps the connection half open must not keep its descriptor).
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
      else socket.destroy();
      this.#log.debug({ err }, 'flv caster client error');
    });
    const a = server.address();
    this.#port = typeof a === 'object' && a !== null ? a.port : port;
    this.#server = server;
    this.#log.info({ port: this.#port }, 'flv caster listening');
  }

  /** Unpublish every upload, close every connection, stop listening. Idempotent. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of [...this.#sessions]) s.stop('caster stopping');
    this.#sessions.clear();
    if (server !== undefined) {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
    }
  }

  stats(): CasterStats {
    let publishing = 0;
    for (const s of this.#sessions) if (s.publishing) publishing++;
    return {
      caster: 'flv',
      listen: this.#port,
      connections: this.#sessions.size,
      publishing,
      requests: this.#requests,
      pendingAdmissions: this.#pendingAdmissions,
      admissionRefusals: this.#admissionRefusals,
      publishes: this.#counters.publishes,
      bytes: this.#counters.bytes,
      tags: this.#counters.tags,
      errors: this.#counters.errors,
      responses: { ...this.#responses },
    };
  }

  #onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    this.#requests++;
    const id = nextSessionId('flv');
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    res.on('finish', () => {
      const k = String(res.statusCode);
      this.#responses[k] = (this.#responses[k] ?? 0) + 1;
    });
    res.setHeader('Server', 'castgate');
    const linger = this.#opts.lingerMs ?? FLV_POST_LINGER_MS;
    if (req.method !== 'POST' && req.method !== 'PUT') {
      return respond(req, res, 405, `method ${req.method ?? '?'} not allowed: POST or PUT an FLV body`, linger, { Allow: 'POST, PUT' });
    }
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? '' : rawUrl.slice(q + 1);
    const route = streamFromPath(pathname);
    if (route === undefined) return respond(req, res, 404, `no stream at '${pathname.slice(0, 200)}': POST to /app/stream.flv`, linger);
    const vhost = new URLSearchParams(query).get('vhost') ?? DEFAULT_VHOST;
    if (!VHOST_RE.test(vhost)) return respond(req, res, 404, `invalid vhost '${vhost.slice(0, 200)}'`, linger);
    let target: PublishTarget;
    try {
      target = this.#opts.output({ app: route.app, stream: route.stream, vhost });
    } catch (err) {
      if (isGatewayError(err, ErrorCode.StreamKeyInvalid)) return respond(req, res, 404, `${err.code}: ${err.message}`, linger);
      this.#log.error({ err }, 'flv caster output resolution failed');
      return respond(req, res, 500, 'internal error', linger);
    }
    if (target.hub.isPublishing(target.key)) {
      return respond(req, res, 409, `${ErrorCode.StreamBusy}: ${target.key.app}/${target.key.stream} already has a publisher`, linger);
    }
    const info: FlvPostSessionInfo = { id, protocol: 'http-flv-post', remote, query };
    const log = this.#log.child({ session: id, remote, query });
    // Admission before the body is read: with Expect: 100-continue the client sends nothing until allowed;
    // otherwise its body waits in the socket (nothing reads it), so nothing is published before the answer.
    const who = query === '' ? { id, protocol: info.protocol, remote } : info;
    const tcUrl = `http://${req.headers.host ?? `${req.socket.localAddress ?? '127.0.0.1'}:${this.#port}`}/${route.app}`;
    this.#pendingAdmissions++;
    void this.#admit(target, who, tcUrl, log).then((refusal) => {
      this.#pendingAdmissions--;
      // The client left (or the caster stopped) while admission was asked: nothing to publish, nobody to answer.
      if (this.#server === undefined || req.socket.destroyed || res.writableEnded) {
        if (refusal === undefined) log.info('FLV POST: client gone before admission answered');
        return;
      }
      if (refusal !== undefined) return respond(req, res, refusal.status, refusal.reason, linger);
      this.#startSession(req, res, target, info, log, expectContinue);
    });
  }

  /**
   * Ask admission (security, http_hooks on_publish) for one upload.
   * @returns undefined when allowed, else the refusal: 403 for GW_ERR_SECURITY_DENIED and GW_ERR_HOOK_REJECTED
   *   (SRS answers a refused HTTP publish or play with 403 as well), 500 for an admission that failed otherwise.
   */
  async #admit(target: PublishTarget, who: SessionInfo, tcUrl: string, log: Logger): Promise<{ status: number; reason: string } | undefined> {
    try {
      await target.admit(who, { tcUrl });
      return undefined;
    } catch (err) {
      const stream = `${target.key.app}/${target.key.stream}`;
      if (isGatewayError(err, ErrorCode.SecurityDenied) || isGatewayError(err, ErrorCode.HookRejected)) {
        log.warn({ stream, code: err.code, reason: err.message }, 'FLV POST refused by admission');
        this.#admissionRefusals++;
        return { status: 403, reason: `${err.code}: publishing ${stream} is not allowed` };
      }
      log.error({ stream, err }, 'FLV POST: admission failed');
      return { status: 500, reason: 'admission failed' };
    }
  }

  #startSession(req: IncomingMessage, res: ServerResponse, target: PublishTarget, info: FlvPostSessionInfo, log: Logger, expectContinue: boolean): void {
    const linger = this.#opts.lingerMs ?? FLV_POST_LINGER_MS;
    const session = new FlvPostSession({
      req,
      res,
      hub: target.hub,
      key: target.key,
      info,
      log,
      counters: this.#counters,
      idleTimeoutMs: this.#opts.idleTimeoutMs,
      lingerMs: linger,
      maxTagSize: this.#opts.maxTagSize ?? FLV_POST_MAX_TAG_SIZE,
      onDone: (s) => this.#sessions.delete(s),
    });
    this.#sessions.add(session);
    if (expectContinue) res.writeContinue();
  }
}
