/**
 * The gateway's Admission (core/hub/ports.ts): `security` then `http_hooks` for every publish and play, and the
 * notification hooks around them (SRS SrsRtmpConn::http_hooks_on_*, SrsHttpHooks, SrsSecurity).
 *
 * - `admit` reads the vhost's settings at each call (a reloaded config applies to the next session): security
 *   first (core/control/security.ts), then each `on_publish` / `on_play` URL in order (core/control/http-hooks.ts).
 * - Ends are detected centrally: an admitted session is remembered (when the vhost has hooks enabled) and the hub's
 *   SessionEvents tell when its publish ends or its consumer detaches, whatever the entry point (RTMP, HTTP streams,
 *   casters through PublishTarget.admit); `on_unpublish` / `on_stop` are then POSTed with the admitted request's
 *   fields, failures only logged. Players the hub does not feed (HLS sessions) end through `end()`. An admitted
 *   session that never reaches the hub (its publish found the stream busy, its player left while the hook ran) is
 *   forgotten by a sweep once it is older than ADMIT_GRACE_MS and not among the hub's clients, with no hook: SRS
 *   calls on_unpublish only after acquiring the publish too.
 * - RTMP's `on_connect` / `on_close` (ConnectionAdmission), `on_dvr` and `on_hls` (RecordingEvents) are here too,
 *   so every hook body is built in one place.
 *
 * Hook bodies carry SRS 5's fields (srs_app_http_hooks.cpp): server_id, service_id, action, client_id, ip, vhost,
 * app, tcUrl, stream, param, stream_url, stream_id, and per event pageUrl / send_bytes, recv_bytes / cwd, file /
 * duration, url, m3u8, m3u8_url, seq_no. Unlike SRS, `ip` is the device's real address for every caster and
 * `param` is the request's query (`?token=...`, empty when none) for every protocol. An IPv4 peer seen on a
 * dual-stack socket as `::ffff:a.b.c.d` is reported as a.b.c.d.
 */
import { ErrorCode, GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { HookEvent, HttpHooksConfig } from '../config/hooks-config.ts';
import { parseIp, type SecurityConfig } from '../config/security-config.ts';
import type {
  Admission,
  AdmissionRequest,
  ClientRegistry,
  ConnectionAdmission,
  ConnectionInfo,
  DvrFileEvent,
  HlsSegmentEvent,
  RecordingEvents,
  SessionEnd,
  SessionEvents,
  SessionInfo,
  SourceEvents,
} from '../hub/ports.ts';
import { DEFAULT_VHOST, streamKeyString, type StreamKey } from '../media/stream-key.ts';
import { checkSecurity } from './security.ts';
import { callHooks, type HookBody } from './http-hooks.ts';

/** `ip` of a publish this gateway makes itself (ingest, transcode, forward): SRS sees them from loopback. */
const LOCAL_PUBLISHER_IP = '127.0.0.1';
/** How long an admitted session may take to reach the hub before the sweep may forget it. */
export const ADMIT_GRACE_MS = 30_000;
/**
 * How long a stream's last publisher is remembered after its publish ended: DVR files and the last HLS segment are
 * finished after the unpublish, and their on_dvr / on_hls carry that publisher's client_id, ip and param.
 */
export const ENDED_PUBLISHER_MEMORY_MS = 60_000;

/** The vhost settings admission reads (VhostConfig's `security` and `httpHooks`). */
export interface VhostControlConfig {
  readonly security: SecurityConfig;
  readonly httpHooks: HttpHooksConfig;
}

export interface GatewayAdmissionOptions {
  readonly log: Logger;
  /** The vhost's settings now (read per call); undefined for a disabled or unknown vhost: nothing to check. */
  readonly vhost: (name: string) => VhostControlConfig | undefined;
  /** The hub: session ends, its clients (the sweep), the stream id of a key (`stream_id`). */
  readonly hub: SessionEvents & SourceEvents & Pick<ClientRegistry, 'clients'> & { streamId(key: StreamKey): string | undefined };
  /** SRS `server_id` / `service_id` (the HTTP API's, so hooks and API agree); read at each call. */
  readonly serverIds?: () => { readonly serverId: string; readonly serviceId: string };
  /** `cwd` of on_dvr / on_hls; default process.cwd(). */
  readonly cwd?: string;
  /** Default ADMIT_GRACE_MS (tests shorten it). */
  readonly admitGraceMs?: number;
}

interface Admitted {
  readonly req: AdmissionRequest;
  readonly ip: string;
  readonly atMs: number;
}

/**
 * The client's IP from SessionInfo.remote: `ip:port` (IPv6 unbracketed, the port after the last colon, as the
 * entry points write it), `[v6]:port`, or a bare IP; an IPv4-mapped IPv6 address as plain IPv4.
 */
export function clientIp(remote: string | undefined): string {
  if (remote === undefined) return '';
  let ip = remote;
  const bracket = /^\[([^\]]*)\](?::\d+)?$/.exec(remote);
  const colon = remote.lastIndexOf(':');
  if (bracket !== null) ip = bracket[1] as string;
  else if (colon > 0 && /^\d+$/.test(remote.slice(colon + 1)) && parseIp(remote.slice(0, colon)) !== undefined) ip = remote.slice(0, colon);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped !== null ? (mapped[1] as string) : ip;
}

/** SRS srs_generate_stream_url: `/app/stream` on the default vhost, `vhost/app/stream` otherwise. */
function streamUrl(key: StreamKey): string {
  return `${key.vhost === DEFAULT_VHOST ? '' : key.vhost}/${key.app}/${key.stream}`;
}

/** The tcUrl of a request that brought none: `rtmp://vhost-or-localhost/app`. */
function defaultTcUrl(key: StreamKey): string {
  return `rtmp://${key.vhost === DEFAULT_VHOST ? 'localhost' : key.vhost}/${key.app}`;
}

function entryKey(action: string, id: string, key: StreamKey): string {
  return `${action} ${id} ${streamKeyString(key)}`;
}

export class GatewayAdmission implements Admission, ConnectionAdmission, RecordingEvents {
  readonly #opts: GatewayAdmissionOptions;
  readonly #log: Logger;
  readonly #cwd: string;
  readonly #admitted = new Map<string, Admitted>();
  /** The last admitted publisher of each stream (key string), kept ENDED_PUBLISHER_MEMORY_MS after it ended. */
  readonly #lastPublisher = new Map<string, Admitted>();
  readonly #connections = new Set<string>();
  readonly #offSessionEnd: () => void;
  readonly #offPublish: () => void;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(opts: GatewayAdmissionOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'admission' });
    this.#cwd = opts.cwd ?? process.cwd();
    this.#offSessionEnd = opts.hub.onSessionEnd((end) => this.end(end));
    this.#offPublish = opts.hub.onPublish((key, who) => this.#announce(key, who));
  }

  /**
   * A publish that reached the hub without `admit`: the operator's own (an ingester, a transcode output, an
   * in-process forward). SRS sees those as RTMP publishes from 127.0.0.1 and calls on_publish / on_unpublish
   * for them, so hook servers that track the live streams see every stream here too: on_publish is POSTed with
   * ip 127.0.0.1 as a notification (its answer is logged, never enforced: the config already decided) and the
   * publish's end sends on_unpublish as for any admitted one.
   */
  #announce(key: StreamKey, who: SessionInfo): void {
    if (this.#admitted.has(entryKey('publish', who.id, key))) return;
    const hooks = this.#opts.vhost(key.vhost)?.httpHooks;
    if (hooks === undefined || !hooks.enabled) return;
    const admitted: Admitted = { req: { action: 'publish', key, who }, ip: LOCAL_PUBLISHER_IP, atMs: Date.now() };
    this.#admitted.set(entryKey('publish', who.id, key), admitted);
    this.#lastPublisher.set(streamKeyString(key), admitted);
    this.#scheduleSweep();
    this.#notify(key.vhost, 'on_publish', () => this.#streamBody('on_publish', admitted.req, admitted.ip));
  }

  /**
   * The vhost's `security` alone, synchronously, for requests that are no session of their own (HLS segments:
   * SRS gates only the playlist; castgate also refuses a segment to an address security denies, so a denied
   * viewer cannot fetch media by guessing segment names). Logged once per refusal at debug level.
   * @param remote the client's `ip[:port]` (or a bare IP as `socket.remoteAddress` gives it).
   */
  securityAllows(vhost: string, action: AdmissionRequest['action'], remote: string | undefined): boolean {
    const v = this.#opts.vhost(vhost);
    if (v === undefined) return true;
    const ip = clientIp(remote);
    const decision = checkSecurity(v.security, action, ip);
    if (!decision.allowed) this.#log.debug({ vhost, action, ip }, `security: ${decision.reason}`);
    return decision.allowed;
  }

  /**
   * Security, then on_publish / on_play. Resolves when allowed.
   * @throws GatewayError (rejects) GW_ERR_SECURITY_DENIED, GW_ERR_HOOK_REJECTED.
   */
  async admit(req: AdmissionRequest): Promise<void> {
    const v = this.#opts.vhost(req.key.vhost);
    if (v === undefined) return;
    const ip = clientIp(req.who.remote);
    const decision = checkSecurity(v.security, req.action, ip);
    if (!decision.allowed) {
      this.#log.warn({ client: req.who.id, stream: streamKeyString(req.key), action: req.action, ip }, `security: ${decision.reason}`);
      throw new GatewayError(ErrorCode.SecurityDenied, `${req.action} ${streamKeyString(req.key)} by ${req.who.id}: ${decision.reason}`);
    }
    const hooks = v.httpHooks;
    if (!hooks.enabled) return;
    const event: HookEvent = req.action === 'publish' ? 'on_publish' : 'on_play';
    const urls = hooks.urls[event];
    if (urls.length > 0) {
      try {
        await callHooks(urls, this.#streamBody(event, req, ip), hooks.timeoutMs);
      } catch (err) {
        this.#log.warn({ client: req.who.id, stream: streamKeyString(req.key), err: (err as Error).message }, `${event} refused`);
        throw err;
      }
      this.#log.debug({ client: req.who.id, stream: streamKeyString(req.key) }, `${event} allowed`);
    }
    const admitted: Admitted = { req, ip, atMs: Date.now() };
    this.#admitted.set(entryKey(req.action, req.who.id, req.key), admitted);
    if (req.action === 'publish') this.#lastPublisher.set(streamKeyString(req.key), admitted);
    this.#scheduleSweep();
  }

  /**
   * A publish or play ended: on_unpublish / on_stop when it was admitted with hooks (the hub's SessionEvents call
   * this; so does an output whose players the hub does not feed, e.g. an HLS session). Failures are logged.
   */
  end(end: SessionEnd): void {
    const k = entryKey(end.action, end.who.id, end.key);
    const admitted = this.#admitted.get(k);
    if (admitted === undefined) return;
    this.#admitted.delete(k);
    if (end.action === 'publish') {
      const sk = streamKeyString(end.key);
      setTimeout(() => {
        if (this.#lastPublisher.get(sk) === admitted) this.#lastPublisher.delete(sk);
      }, ENDED_PUBLISHER_MEMORY_MS).unref();
    }
    const event: HookEvent = end.action === 'publish' ? 'on_unpublish' : 'on_stop';
    this.#notify(end.key.vhost, event, () => this.#streamBody(event, admitted.req, admitted.ip, end.streamId));
  }

  /**
   * RTMP `connect`: on_connect (security does not apply to connect, as SRS).
   * @throws GatewayError (rejects) GW_ERR_HOOK_REJECTED.
   */
  async connect(info: ConnectionInfo): Promise<void> {
    const hooks = this.#opts.vhost(info.vhost)?.httpHooks;
    if (hooks === undefined || !hooks.enabled) return;
    this.#connections.add(info.who.id);
    const urls = hooks.urls.on_connect;
    if (urls.length === 0) return;
    const body: HookBody = {
      ...this.#ids(),
      action: 'on_connect',
      client_id: info.who.id,
      ip: clientIp(info.who.remote),
      vhost: info.vhost,
      app: info.app,
      stream: '',
      param: paramOf(info.who),
      tcUrl: info.tcUrl,
      pageUrl: info.pageUrl ?? '',
    };
    try {
      await callHooks(urls, body, hooks.timeoutMs);
    } catch (err) {
      this.#connections.delete(info.who.id);
      this.#log.warn({ client: info.who.id, err: (err as Error).message }, 'on_connect refused');
      throw err;
    }
  }

  /** RTMP connection closed: on_close with the bytes it sent and received, for a connection `connect` admitted. */
  disconnect(info: ConnectionInfo, sendBytes: number, recvBytes: number): void {
    if (!this.#connections.delete(info.who.id)) return;
    this.#notify(info.vhost, 'on_close', () => ({
      ...this.#ids(),
      action: 'on_close',
      client_id: info.who.id,
      ip: clientIp(info.who.remote),
      vhost: info.vhost,
      app: info.app,
      send_bytes: sendBytes,
      recv_bytes: recvBytes,
    }));
  }

  /** A DVR file was closed: on_dvr with the publisher's fields (SrsHttpHooks::on_dvr). */
  onDvr(e: DvrFileEvent): void {
    this.#notify(e.key.vhost, 'on_dvr', () => ({ ...this.#publisherBody('on_dvr', e.key), cwd: this.#cwd, file: e.file, ...this.#streamTail(e.key) }));
  }

  /** An HLS segment was finished: on_hls (SrsHttpHooks::on_hls; `url` is the segment URL beside m3u8_url). */
  onHls(e: HlsSegmentEvent): void {
    this.#notify(e.key.vhost, 'on_hls', () => {
      const dir = e.m3u8Url.includes('/') ? e.m3u8Url.slice(0, e.m3u8Url.lastIndexOf('/')) : '';
      const url = /^https?:\/\//.test(e.url) || dir === '' ? e.url : `${dir}/${e.url}`;
      return {
        ...this.#publisherBody('on_hls', e.key),
        duration: e.durationMs / 1000,
        cwd: this.#cwd,
        file: e.file,
        url,
        m3u8: e.m3u8,
        m3u8_url: e.m3u8Url,
        seq_no: e.seqNo,
        ...this.#streamTail(e.key),
      };
    });
  }

  /** Stop listening to the hub and forget every session (no hooks). Idempotent. */
  close(): void {
    this.#offSessionEnd();
    this.#offPublish();
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#admitted.clear();
    this.#lastPublisher.clear();
    this.#connections.clear();
  }

  /** Sessions admitted with hooks and not ended yet (tests, logs). */
  get pendingSessions(): number {
    return this.#admitted.size;
  }

  #ids(): { server_id: string; service_id: string } {
    const ids = this.#opts.serverIds?.();
    return { server_id: ids?.serverId ?? '', service_id: ids?.serviceId ?? '' };
  }

  /** on_publish / on_unpublish / on_play / on_stop body (SRS 5 field order). */
  #streamBody(event: HookEvent, req: AdmissionRequest, ip: string, streamId?: string): HookBody {
    const body: Record<string, string | number> = {
      ...this.#ids(),
      action: event,
      client_id: req.who.id,
      ip,
      vhost: req.key.vhost,
      app: req.key.app,
      tcUrl: req.tcUrl ?? defaultTcUrl(req.key),
      stream: req.key.stream,
      param: paramOf(req.who),
    };
    if (event === 'on_play') body.pageUrl = req.pageUrl ?? '';
    return { ...body, ...this.#streamTail(req.key, streamId) };
  }

  /** stream_url, and stream_id when the source exists. */
  #streamTail(key: StreamKey, streamId?: string): { stream_url: string; stream_id?: string } {
    const id = streamId !== undefined && streamId !== '' ? streamId : this.#opts.hub.streamId(key);
    return id === undefined ? { stream_url: streamUrl(key) } : { stream_url: streamUrl(key), stream_id: id };
  }

  /** Body head of on_dvr / on_hls: the current publisher's admitted request when known, else the key alone. */
  #publisherBody(event: HookEvent, key: StreamKey): HookBody {
    const publisher = this.#lastPublisher.get(streamKeyString(key)) ?? this.#hubPublisher(key);
    return {
      ...this.#ids(),
      action: event,
      client_id: publisher?.req.who.id ?? '',
      ip: publisher?.ip ?? '',
      vhost: key.vhost,
      app: key.app,
      tcUrl: publisher?.req.tcUrl ?? defaultTcUrl(key),
      stream: key.stream,
      param: publisher !== undefined ? paramOf(publisher.req.who) : '',
    };
  }

  #hubPublisher(key: StreamKey): Admitted | undefined {
    const k = streamKeyString(key);
    const c = this.#opts.hub.clients().find((x) => x.publish && streamKeyString(x.key) === k);
    return c === undefined ? undefined : { req: { action: 'publish', key, who: c.who }, ip: clientIp(c.who.remote), atMs: c.sinceMs };
  }

  /** POST a notification hook of `vhost` (if enabled and configured) in the background; failures logged. */
  #notify(vhost: string, event: HookEvent, body: () => HookBody): void {
    const hooks = this.#opts.vhost(vhost)?.httpHooks;
    if (hooks === undefined || !hooks.enabled || hooks.urls[event].length === 0) return;
    const b = body();
    callHooks(hooks.urls[event], b, hooks.timeoutMs).then(
      () => this.#log.debug({ client: b.client_id }, `${event} sent`),
      (err: unknown) => this.#log.warn({ client: b.client_id, err: (err as Error).message }, `${event} failed (ignored)`),
    );
  }

  /** Forget admitted sessions that never reached the hub (checked every ADMIT_GRACE_MS while any is remembered). */
  #scheduleSweep(): void {
    if (this.#sweepTimer !== undefined) return;
    const graceMs = this.#opts.admitGraceMs ?? ADMIT_GRACE_MS;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined;
      const now = Date.now();
      const live = new Set(this.#opts.hub.clients().map((c) => entryKey(c.publish ? 'publish' : 'play', c.who.id, c.key)));
      for (const [k, a] of this.#admitted) if (now - a.atMs >= graceMs && !live.has(k)) this.#admitted.delete(k);
      if (this.#admitted.size > 0) this.#scheduleSweep();
    }, graceMs);
    this.#sweepTimer.unref();
  }
}

/** SRS `param`: the query with its `?`, or ''. */
function paramOf(who: SessionInfo): string {
  return who.query !== undefined && who.query !== '' ? `?${who.query}` : '';
}
