/**
 * HLS play sessions: security and `on_play` once per viewer, not per playlist reload (SRS 5 SrsHlsStream with its
 * `hls_ctx`), the viewer listed in `/api/v1/clients` (protocol `hls`) and kickable, and `on_stop` when it stops.
 *
 * A session is keyed by the client's `hls_ctx` query parameter when it sends one (SRS 5 players carry it),
 * else by its IP and the stream. The first playlist request of a session asks the Admission (concurrent first
 * requests share the one question); a refusal answers 403 and is not remembered (the next request asks again).
 * Each playlist or segment request of the session keeps it alive; one idle for `idleMs(key)` (2 × hls_window,
 * SRS's expiry, but at least 2 × hls_fragment so a player polling once per segment is never cut) ends with on_stop.
 * A kick through the HTTP API ends it the same way; its next request is a new session.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../log.ts';
import { nextSessionId } from '../../log.ts';
import type { Admission, ClientRegistry, SessionEndSink, SessionInfo } from '../../hub/ports.ts';
import { streamKeyString, type StreamKey } from '../../media/stream-key.ts';

export interface HlsSessionsOptions {
  readonly log: Logger;
  /** Security and on_play; `end` (on_stop) when present. */
  readonly admission: Admission & Partial<SessionEndSink>;
  /** Lists and kicks the sessions (SourceHub.attachClient). */
  readonly registry: Pick<ClientRegistry, 'attachClient'>;
  /** How long a session of `key` may be idle, ms. */
  readonly idleMs: (key: StreamKey) => number;
}

interface HlsSession {
  /** Its key in the session map. */
  readonly sk: string;
  readonly id: string;
  readonly who: SessionInfo;
  readonly key: StreamKey;
  /** `/live/` of `/live/s.m3u8`: segment requests under it keep the session alive. */
  readonly dir: string;
  readonly ip: string;
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  detach: (() => void) | undefined;
}

/** Bound on live sessions (each holds a timer and an attached client); past it, new viewers are refused (503). */
export const MAX_HLS_SESSIONS = 100_000;

export class HlsSessions {
  readonly #opts: HlsSessionsOptions;
  readonly #sessions = new Map<string, HlsSession>();
  /** The same sessions by client IP (segment requests find theirs without a scan of every session). */
  readonly #byIp = new Map<string, Set<HlsSession>>();
  /** First requests waiting for the admission, by session key. */
  readonly #admitting = new Map<string, Promise<HlsSession>>();

  constructor(opts: HlsSessionsOptions) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * A playlist request of `key`: resolves when the viewer may have it (an existing session, or a new one
   * admitted now).
   * @param path the decoded URL path of the playlist.
   * @param search the request's query with its `?` ('' when none): the hooks' `param`.
   * @throws (rejects) the Admission's GatewayError when refused.
   */
  async playlist(req: IncomingMessage, key: StreamKey, path: string, search: string): Promise<void> {
    const ip = req.socket.remoteAddress ?? '';
    const ctx = new URLSearchParams(search).get('hls_ctx');
    const sk = ctx !== null && ctx !== '' ? `ctx ${ctx} ${streamKeyString(key)}` : `ip ${ip} ${streamKeyString(key)}`;
    const known = this.#sessions.get(sk);
    if (known !== undefined) {
      this.#touch(known);
      return;
    }
    let pending = this.#admitting.get(sk);
    if (pending === undefined) {
      pending = this.#admit(sk, req, key, path, search, ip);
      this.#admitting.set(sk, pending);
      const clear = (): void => {
        this.#admitting.delete(sk);
      };
      pending.then(clear, clear);
    }
    await pending;
  }

  /** A segment (or other file) request under a session's playlist folder from the same IP keeps it alive. */
  segment(req: IncomingMessage, path: string, bytes: number): void {
    const ip = req.socket.remoteAddress ?? '';
    for (const s of this.#byIp.get(ip) ?? []) {
      if (path.startsWith(s.dir)) {
        s.bytes += bytes;
        this.#touch(s);
        return;
      }
    }
  }

  /** End every session (gateway stopping): on_stop each. Idempotent. */
  close(): void {
    for (const s of [...this.#sessions.values()]) this.#end(s, 'gateway stopping');
  }

  async #admit(sk: string, req: IncomingMessage, key: StreamKey, path: string, search: string, ip: string): Promise<HlsSession> {
    if (this.#sessions.size >= MAX_HLS_SESSIONS) throw new Error(`too many HLS sessions (${MAX_HLS_SESSIONS})`);
    const query = search.startsWith('?') ? search.slice(1) : search;
    const id = nextSessionId('hls');
    const who: SessionInfo = { id, protocol: 'hls', remote: `${ip}:${req.socket.remotePort ?? 0}`, ...(query !== '' ? { query } : {}) };
    const host = req.headers.host ?? 'localhost';
    await this.#opts.admission.admit({ action: 'play', key, who, tcUrl: `http://${host}${path}` });
    const session: HlsSession = { sk, id, who, key, dir: path.slice(0, path.lastIndexOf('/') + 1), ip, bytes: 0, timer: undefined, detach: undefined };
    this.#sessions.set(sk, session);
    let same = this.#byIp.get(ip);
    if (same === undefined) this.#byIp.set(ip, (same = new Set()));
    same.add(session);
    try {
      session.detach = this.#opts.registry.attachClient({
        who,
        key,
        sendBytes: () => session.bytes,
        kick: (reason) => this.#end(session, reason, true),
      });
    } catch (err) {
      // The hub is closed (gateway stopping): serve this request, end the session at once.
      this.#end(session, 'gateway stopping');
      this.#opts.log.debug({ err: (err as Error).message }, 'HLS session not listed');
      return session;
    }
    session.timer = setTimeout(() => this.#end(session, 'idle'), this.#opts.idleMs(key));
    session.timer.unref();
    this.#opts.log.info({ client: id, stream: streamKeyString(key), ip }, 'HLS session started');
    return session;
  }

  #touch(s: HlsSession): void {
    s.timer?.refresh();
  }

  /** Forget `s`, detach it (unless the registry already did: a kick) and send on_stop. */
  #end(s: HlsSession, reason: string, kicked = false): void {
    if (this.#sessions.get(s.sk) !== s) return;
    this.#sessions.delete(s.sk);
    const same = this.#byIp.get(s.ip);
    same?.delete(s);
    if (same?.size === 0) this.#byIp.delete(s.ip);
    clearTimeout(s.timer);
    if (!kicked) s.detach?.();
    this.#opts.log.info({ client: s.id, stream: streamKeyString(s.key), reason, bytes: s.bytes }, 'HLS session ended');
    this.#opts.admission.end?.({ action: 'play', key: s.key, who: s.who, streamId: '' });
  }
}
