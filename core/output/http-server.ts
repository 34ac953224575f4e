/**
 * The gateway's HTTP server (SRS `http_server` + `http_remux`, SrsHttpStreamServer): live HTTP-FLV streams at
 * the `http_remux mount` of each vhost, static files from `http_server dir`, CORS on everything.
 *
 * Mounts: `[vhost]/[app]/[stream].flv` (SRS default). For `__defaultVhost__` the `[vhost]/` prefix is dropped,
 * so the URL is `/app/stream.flv`; for a named vhost the request's Host header selects it (SRS matches
 * host-specific patterns the same way) and the path is still `/app/stream.flv`. `?vhost=NAME` also selects it.
 *
 * Extensions: when `http_remux` is enabled, the mount template is served with each of `.flv`, `.ts` (live
 * MPEG-TS, video/MP2T), `.mp3` (raw MP3 frames, audio/mpeg) and `.aac` (ADTS frames, audio/aac), whatever
 * extension the configured mount has (SRS enables one per mount; serving all four is simpler and harmless).
 *
 * Fast cache (`http_remux fast_cache`): a new .mp3/.aac player first gets the stream's cached audio (one cache per
 * stream, audio-fast-cache.ts), then the hub's messages.
 *
 * HLS: for a vhost with `hls { enabled on; }`, `.m3u8` and `.ts` requests are served from its `hls_path`
 * (hls/hls-files.ts: MIME types, ranges, no escape from the root) before the live mounts and `dir`.
 *
 * WebSocket (RFC 6455): a `GET` with `Upgrade: websocket` on a live mount (`ws://host:8080/live/s.flv`, as
 * node-media-server and SRS serve WebSocket-FLV) gets the 101 handshake and the same live stream, one binary
 * message per FLV header or tag (http-stream.ts, live-websocket.ts). A bad handshake gets 400 (426 for another
 * Sec-WebSocket-Version), a path no live mount matches 404, other upgrades 400; each then closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { stat } from 'node:fs/promises';
import { resolve, sep, extname } from 'node:path';
import type { Logger } from '../log.ts';
import { nextSessionId } from '../log.ts';
import { HEADER_TIMEOUT_MS, limitConnections, TIMEOUT_CHECK_INTERVAL_MS } from '../listener-guard.ts';
import { isGatewayError, ErrorCode, GatewayError } from '../errors.ts';
import type { Admission, ConsumerOptions, HubPort, SessionInfo } from '../hub/ports.ts';
import type { RtmpMessage } from '../media/message.ts';
import { DEFAULT_VHOST, makeStreamKey, type StreamKey } from '../media/stream-key.ts';
import { serveHlsFile } from './hls/hls-files.ts';
import { createHttpLiveStream, HTTP_LIVE_CONTENT_TYPES, type HttpLiveBody, type HttpLiveFormat, type HttpLiveStream } from './http-stream.ts';
import { checkUpgradeRequest, isWebSocketUpgrade, refusalResponse, switchingProtocolsResponse } from '../protocol/websocket/handshake.ts';
import { WebSocketCloseStatus } from '../protocol/websocket/frame.ts';

export interface HttpRemuxVhost {
  readonly enabled: boolean;
  readonly mount: string;
}

export interface HttpServerOptions {
  hub: HubPort;
  listen: readonly { host: string | undefined; port: number }[];
  /** Static file root (`http_server dir`); undefined = no static files. */
  dir: string | undefined;
  log: Logger;
  /** Known vhost names (for Host-header matching) → their http_remux settings. */
  remux: (vhost: string) => HttpRemuxVhost | undefined;
  /**
   * The vhost's `hls_path` when HLS is enabled on it: its .m3u8/.ts files are served from there (a real file wins;
   * a missing .ts falls through to the live mount, a missing .m3u8 to `dir`).
   */
  hlsRoot?: (vhost: string) => string | undefined;
  /**
   * Low-Latency HLS files kept in memory (HlsServer.serveLive): answers and returns true when `path` (decoded) is
   * one of `vhost`'s; tried before `hlsRoot`.
   */
  hlsLive?: (req: IncomingMessage, res: ServerResponse, vhost: string, path: string, query: URLSearchParams) => boolean;
  vhostNames: () => readonly string[];
  consumerOptions?: (key: StreamKey) => ConsumerOptions | undefined;
  /**
   * The audio fast cache of a stream (SRS http_remux fast_cache, audio-fast-cache.ts): undefined = none; else the
   * messages a new .mp3/.aac player gets before the hub's (sequence header, then audio oldest first).
   */
  fastCache?: (key: StreamKey) => readonly RtmpMessage[] | undefined;
  /** Merged-write latency for a stream's players, ms (SRS mw_latency); default 0. */
  mwLatencyMs?: (key: StreamKey) => number;
  maxConnections?: number;
  /**
   * Asked before each live HTTP or WebSocket player subscribes (security, on_play); a refusal answers 403.
   * Default: allow everything, synchronously.
   */
  admission?: Admission;
  /**
   * An HLS playlist request (`path` decoded, `search` the query with its `?`): undefined when `path` is no live
   * stream's playlist (served as it is), else a promise that resolves when the viewer's HLS session is admitted
   * and rejects (403) when refused (HlsServer.admitPlaylist: security and on_play once per session).
   */
  hlsPlay?: (req: IncomingMessage, vhost: string, path: string, search: string) => Promise<void> | undefined;
  /** An HLS segment answered with `bytes` bytes (keeps its viewer's session alive, counts its bytes). */
  hlsServed?: (req: IncomingMessage, path: string, bytes: number) => void;
  /**
   * Whether the client of an HLS segment request (`.ts`, `.m4s`, `.mp4`, `.aac` on a vhost with HLS) may play:
   * the vhost's `security` only, no hook (GatewayAdmission.securityAllows). false answers 403. Default: allowed.
   */
  hlsSegmentAllowed?: (req: IncomingMessage, vhost: string) => boolean;
}

/** A request path matched by a live mount. */
interface LiveMatch {
  readonly app: string;
  readonly stream: string;
  readonly format: HttpLiveFormat;
}

interface MountPattern {
  readonly regex: RegExp;
  readonly groups: readonly ('app' | 'stream')[];
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t', '.flv': 'video/x-flv', '.mp4': 'video/mp4',
  '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain',
};

/** Compile a mount template (`[vhost]/[app]/[stream].flv`) into a path regex, vhost segment removed. */
export function compileMount(mount: string): MountPattern {
  let m = mount.replace(/^\[vhost\]\/?/, '');
  if (!m.startsWith('/')) m = `/${m}`;
  const groups: ('app' | 'stream')[] = [];
  let src = '';
  for (const part of m.split(/(\[app\]|\[stream\])/)) {
    if (part === '[app]') { groups.push('app'); src += '([^?#]+?)'; }
    else if (part === '[stream]') { groups.push('stream'); src += '([^/?#]+?)'; }
    else src += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return { regex: new RegExp(`^${src}$`), groups };
}

export class HttpServer {
  readonly #opts: HttpServerOptions;
  readonly #log: Logger;
  readonly #servers: Server[] = [];
  readonly #streams = new Set<HttpLiveStream>();
  /** Connections upgraded to WebSocket, until they close. */
  readonly #upgraded = new Set<Duplex>();
  readonly #mounts = new Map<string, MountPattern>();
  #ports: number[] = [];
  #closed = false;

  constructor(opts: HttpServerOptions) {
    this.#opts = opts;
    this.#log = opts.log;
  }

  get ports(): readonly number[] {
    return this.#ports;
  }

  /** Listen on every address. @throws GatewayError GW_ERR_LISTEN (e.g. EADDRINUSE). */
  async start(): Promise<void> {
    for (const addr of this.#opts.listen) {
      // requestTimeout 0 (live streams last hours) would leave headersTimeout at 0 too: idle and slowloris peers
      // would keep their connection forever (core/listener-guard.ts).
      const server = createServer(
        { requestTimeout: 0, keepAlive: false, headersTimeout: HEADER_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
        (req, res) => this.#handle(req, res),
      );
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
      limitConnections(server, this.#log, 'HTTP', this.#opts.maxConnections ?? 10000);
      await new Promise<void>((ok, fail) => {
        server.once('error', (err) => fail(new GatewayError(ErrorCode.Listen, `http_server listen ${addr.host ?? '*'}:${addr.port}: ${err.message}`, { cause: err })));
        server.listen(addr.port, addr.host, () => ok());
      });
      server.on('error', (err) => this.#log.error({ err }, 'http server error'));
      const a = server.address();
      this.#ports.push(typeof a === 'object' && a !== null ? a.port : addr.port);
      this.#servers.push(server);
    }
    this.#log.info({ ports: this.#ports }, 'http server listening');
  }

  /** Stop listening, end every live stream. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams) s.stop('server closing', WebSocketCloseStatus.GoingAway);
    this.#streams.clear();
    // upgraded connections are no longer the HTTP server's: close each once its Close frame is out
    for (const socket of this.#upgraded) {
      if (socket instanceof Socket) socket.destroySoon();
      else socket.destroy();
    }
    this.#upgraded.clear();
    await Promise.all(this.#servers.map((s) => new Promise<void>((ok) => { s.close(() => ok()); s.closeAllConnections(); })));
  }

  /**
   * Live players: all of them (`httpFlvPlayers`, kept for compatibility), per format (HTTP and WebSocket alike),
   * and how many of them play over WebSocket.
   */
  stats(): { httpFlvPlayers: number; players: Record<HttpLiveFormat, number>; webSocketPlayers: number } {
    const players: Record<HttpLiveFormat, number> = { flv: 0, ts: 0, mp3: 0, aac: 0 };
    let webSocketPlayers = 0;
    for (const s of this.#streams) {
      players[s.format]++;
      if (s.transport === 'websocket') webSocketPlayers++;
    }
    return { httpFlvPlayers: this.#streams.size, players, webSocketPlayers };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Server', 'castgate');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers': '*', 'Access-Control-Max-Age': '86400' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const path = safeDecode(url.pathname);
    if (path === undefined) {
      res.writeHead(400).end();
      return;
    }
    const vhost = this.#pickVhost(req, url);
    const admitting = path.endsWith('.m3u8') ? this.#opts.hlsPlay?.(req, vhost, path, url.search) : undefined;
    if (admitting === undefined) return this.#serveHlsOrRoute(req, res, vhost, path, url);
    admitting.then(
      () => {
        if (!res.destroyed) this.#serveHlsOrRoute(req, res, vhost, path, url);
      },
      (err: unknown) => forbid(res, err),
    );
  }

  /** LL-HLS from memory, HLS files under hls_path, then live mounts and static files. */
  #serveHlsOrRoute(req: IncomingMessage, res: ServerResponse, vhost: string, path: string, url: URL): void {
    const segment = /\.(ts|m4s|mp4|aac)$/.test(path);
    if (segment && this.#opts.hlsSegmentAllowed !== undefined && this.#opts.hlsRoot?.(vhost) !== undefined && !this.#opts.hlsSegmentAllowed(req, vhost)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Forbidden\n');
      return;
    }
    if (segment && this.#opts.hlsServed !== undefined) {
      const served = this.#opts.hlsServed;
      res.once('finish', () => served(req, path, Number(res.getHeader('content-length') ?? 0)));
    }
    if (this.#opts.hlsLive?.(req, res, vhost, path, url.searchParams) === true) return;
    const hlsRoot = this.#opts.hlsRoot?.(vhost);
    if (hlsRoot !== undefined && serveHlsFile(req, res, hlsRoot, { onNotFound: () => this.#route(req, res, vhost, path) })) return;
    this.#route(req, res, vhost, path);
  }

  /**
   * Live mounts, then static files. Synchronous for HTTP-FLV and for paths no live mount matches; a .ts/.mp3/.aac
   * path that matches one first looks (async stat) for a real file of that name, which wins.
   */
  #route(req: IncomingMessage, res: ServerResponse, vhost: string, path: string): void {
    const remux = this.#opts.remux(vhost);
    const format = liveFormatOf(path);
    const live = remux?.enabled === true && format !== undefined ? this.#matchLive(remux.mount, format, path) : undefined;
    if (live === undefined) {
      this.#answerAsync(res, this.#serveFile(req, res, path));
      return;
    }
    if (live.format === 'flv' || this.#opts.dir === undefined) {
      this.#serveLive(req, res, vhost, live.app, live.stream, live.format);
      return;
    }
    this.#answerAsync(res, this.#serveFileOrLive(req, res, vhost, path, live));
  }

  /** A real file wins over a live mount for .ts/.mp3/.aac: HLS segments (`live/x-12.ts`) match `[app]/[stream].ts`. */
  async #serveFileOrLive(req: IncomingMessage, res: ServerResponse, vhost: string, path: string, live: LiveMatch): Promise<void> {
    if (await this.#isFile(path)) return this.#serveFile(req, res, path);
    if (!res.destroyed) this.#serveLive(req, res, vhost, live.app, live.stream, live.format);
  }

  /** The app and stream a live mount (`http_remux mount` with `format`'s extension) gives `path`, if it matches. */
  #matchLive(mount: string, format: HttpLiveFormat, path: string): LiveMatch | undefined {
    const pattern = this.#mount(`${mountBase(mount)}.${format}`);
    const match = pattern.regex.exec(path);
    if (match === null) return undefined;
    const app = match[pattern.groups.indexOf('app') + 1] ?? 'live';
    const stream = match[pattern.groups.indexOf('stream') + 1] ?? '';
    return { app, stream, format };
  }

  /** Answer 500 (or drop the connection once headers are out) if an async route fails unexpectedly. */
  #answerAsync(res: ServerResponse, work: Promise<void>): void {
    work.catch((err: unknown) => {
      this.#log.error({ err }, 'http request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('internal error\n');
      else res.destroy();
    });
  }

  #mount(mount: string): MountPattern {
    let p = this.#mounts.get(mount);
    if (p === undefined) {
      p = compileMount(mount);
      this.#mounts.set(mount, p);
    }
    return p;
  }

  #pickVhost(req: IncomingMessage, url: URL): string {
    const q = url.searchParams.get('vhost');
    const names = this.#opts.vhostNames();
    if (q !== null && names.includes(q)) return q;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return names.includes(host) ? host : DEFAULT_VHOST;
  }

  #serveLive(req: IncomingMessage, res: ServerResponse, vhost: string, app: string, stream: string, format: HttpLiveFormat): void {
    let key: StreamKey;
    try {
      key = makeStreamKey(vhost, app, stream);
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(isGatewayError(err) ? err.message : 'bad stream');
      return;
    }
    const who = playerSession(req, `http-${format}`);
    const admission = this.#opts.admission;
    if (admission === undefined) return this.#respondLive(req, res, key, format, who);
    admission.admit({ action: 'play', key, who, tcUrl: httpTcUrl(req, 'http', key) }).then(
      () => {
        if (!res.destroyed) this.#respondLive(req, res, key, format, who);
      },
      (err: unknown) => forbid(res, err),
    );
  }

  /** The admitted player's 200 and its live body. */
  #respondLive(req: IncomingMessage, res: ServerResponse, key: StreamKey, format: HttpLiveFormat, who: SessionInfo): void {
    // Chunked transfer encoding (as SRS): the terminating zero chunk tells the player the stream ended cleanly
    // when it is unpublished; a close-delimited body reads as "stream ends prematurely" to ffmpeg (HTTP/1.0
    // clients get one anyway). The body is written by the HttpLiveStream straight to the socket (merged writes,
    // one chunk per batch); it stops itself (unpublish, client gone, hub) and the connection closes after it.
    res.writeHead(200, { 'Content-Type': HTTP_LIVE_CONTENT_TYPES[format], 'Cache-Control': 'no-cache', Connection: 'close', Expires: '-1', Pragma: 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.flushHeaders();
    const socket = res.socket;
    if (socket === null || socket.destroyed) return; // the player left before its stream began
    socket.setNoDelay(true);
    this.#startLive(who, key, format, { transport: 'http', socket, chunked: res.chunkedEncoding }, () => res.end());
  }

  /**
   * A WebSocket upgrade request: check the handshake (RFC 6455 §4.2.1) and the live mount, answer 101 on the raw
   * connection and start the live stream over it; else answer the refusal and close.
   */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy()); // a reset before the stream listens must not throw
    const refuse = (status: number, why: string): void => {
      socket.end(refusalResponse(status, why));
      this.#log.debug({ status, why, url: req.url }, 'WebSocket upgrade refused');
    };
    if (!isWebSocketUpgrade(req)) return refuse(400, 'only WebSocket upgrades are served');
    const verdict = checkUpgradeRequest(req);
    if (!verdict.ok) return refuse(verdict.status, verdict.reason);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return refuse(400, 'bad request target');
    }
    const path = safeDecode(url.pathname);
    if (path === undefined) return refuse(400, 'bad request target');
    const vhost = this.#pickVhost(req, url);
    const remux = this.#opts.remux(vhost);
    const format = liveFormatOf(path);
    const live = remux?.enabled === true && format !== undefined ? this.#matchLive(remux.mount, format, path) : undefined;
    if (live === undefined) return refuse(404, 'no live stream here');
    let key: StreamKey;
    try {
      key = makeStreamKey(vhost, live.app, live.stream);
    } catch (err) {
      return refuse(400, isGatewayError(err) ? err.message : 'bad stream');
    }
    const who = playerSession(req, `ws-${live.format}`);
    const admission = this.#opts.admission;
    if (admission === undefined) return this.#acceptUpgrade(socket, head, key, live.format, verdict.accept, who);
    admission.admit({ action: 'play', key, who, tcUrl: httpTcUrl(req, 'ws', key) }).then(
      () => this.#acceptUpgrade(socket, head, key, live.format, verdict.accept, who),
      (err: unknown) => refuse(403, (err as Error).message),
    );
  }

  /** The admitted WebSocket player: 101, then its live stream. */
  #acceptUpgrade(socket: Duplex, head: Buffer, key: StreamKey, format: HttpLiveFormat, accept: string, who: SessionInfo): void {
    if (socket.destroyed) return;
    if (socket instanceof Socket) socket.setNoDelay(true);
    socket.write(switchingProtocolsResponse(accept));
    this.#upgraded.add(socket);
    socket.once('close', () => this.#upgraded.delete(socket));
    this.#startLive(who, key, format, { transport: 'websocket', socket, head }, (s) => s.stop('subscribe failed', WebSocketCloseStatus.InternalError));
  }

  /** Create the player's live stream on `body` and subscribe it; `onFailed` answers when subscribing throws. */
  #startLive(who: SessionInfo, key: StreamKey, format: HttpLiveFormat, body: HttpLiveBody, onFailed: (s: HttpLiveStream) => void): void {
    const { id, protocol, remote } = who;
    const log = this.#log.child({ conn: id, remote, stream: `${key.vhost}/${key.app}/${key.stream}` });
    const live = createHttpLiveStream(format, body, {
      mwLatencyMs: this.#opts.mwLatencyMs?.(key) ?? 0,
      onStop: (reason) => {
        this.#streams.delete(live);
        log.info({ reason, bytes: live.bytesSent, dropped: live.droppedMessages }, `${protocol} player left`);
      },
    });
    // The fast cache (audio formats) is written first, then the stream subscribes in the same tick.
    const cached = live.usesFastCache ? this.#opts.fastCache?.(key) : undefined;
    try {
      live.play(this.#opts.hub, key, who, this.#opts.consumerOptions?.(key) ?? {}, cached);
    } catch (err) {
      log.warn({ err }, `${protocol} subscribe failed`);
      onFailed(live);
      return;
    }
    this.#streams.add(live);
    log.info(`${protocol} player started`);
  }

  /** Is `path` a regular file under `dir`? (Async stat: no blocking file-system call while serving.) */
  async #isFile(path: string): Promise<boolean> {
    const dir = this.#opts.dir;
    if (dir === undefined) return false;
    const root = resolve(dir);
    const file = resolve(root, `.${path}`);
    if (!file.startsWith(root + sep)) return false;
    try {
      return (await stat(file)).isFile();
    } catch {
      return false;
    }
  }

  /** A static file under `dir` (a directory serves its index.html): 200, 403 outside the root, 404. */
  async #serveFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const dir = this.#opts.dir;
    if (dir === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const root = resolve(dir);
    let file = resolve(root, `.${path}`);
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    let size: number;
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        file = resolve(file, 'index.html');
        st = await stat(file);
      }
      size = st.size;
    } catch {
      if (!res.destroyed) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (res.destroyed) return; // the client left during the stat
    res.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  }
}

/** A live player's session: its id, protocol, peer `ip:port` and the request's query (hooks' `param`). */
function playerSession(req: IncomingMessage, protocol: string): SessionInfo {
  const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
  const q = (req.url ?? '').indexOf('?');
  const query = q < 0 ? '' : (req.url ?? '').slice(q + 1);
  return query === '' ? { id: nextSessionId(protocol), protocol, remote } : { id: nextSessionId(protocol), protocol, remote, query };
}

/** The tcUrl hooks get for an HTTP/WebSocket player: `http://host/app` (the Host header, else localhost). */
function httpTcUrl(req: IncomingMessage, scheme: 'http' | 'ws', key: StreamKey): string {
  return `${scheme}://${req.headers.host ?? 'localhost'}/${key.app}`;
}

/** A refused player (security, on_play): 403 with the reason. */
function forbid(res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
}

/** The live format named by a request path's extension, if any. */
function liveFormatOf(path: string): HttpLiveFormat | undefined {
  const dot = path.lastIndexOf('.');
  const ext = dot < 0 ? '' : path.slice(dot + 1);
  return ext === 'flv' || ext === 'ts' || ext === 'mp3' || ext === 'aac' ? ext : undefined;
}

/** The mount template without its live extension (`[vhost]/[app]/[stream].flv` → `[vhost]/[app]/[stream]`). */
export function mountBase(mount: string): string {
  return mount.replace(/\.(flv|ts|mp3|aac)$/, '');
}

function safeDecode(p: string): string | undefined {
  try {
    const d = decodeURIComponent(p);
    return d.includes('\0') ? undefined : d;
  } catch {
    return undefined;
  }
}
