/**
 * RTMP server: TCP listeners + one session per connection. A session runs the protocol stack
 * (core/protocol/rtmp/rtmp-connection.ts) and maps it onto the hub: publish → `hub.publish` → `Publisher.write`
 * per audio/video/metadata message; play → `hub.subscribe` with a ConsumerTarget that writes the message's
 * cached chunks to the socket and reports backpressure (`socket.writableLength` over RTMP_PLAYER_HIGH_WATER).
 *
 * Malformed input (handshake garbage, bad chunks, bad AMF0) closes that connection only, logged with its id.
 * Reference: mediamtx internal/servers/rtmp/{server,conn}.go; NMS src/session/rtmp_session.js; SRS SrsRtmpConn.
 */
import { MergedSocketWriter } from './merged-write.ts';
import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode, GatewayError, isGatewayError } from '../errors.ts';
import { nextSessionId, PithyLog, type Logger } from '../log.ts';
import { HEADER_TIMEOUT_MS, refusedConnectionLog } from '../listener-guard.ts';
import { createMessage, type MessageType, type RtmpMessage } from '../media/message.ts';
import { streamKeyString, type StreamKey } from '../media/stream-key.ts';
import type { Admission, ConnectionAdmission, ConnectionInfo, ConsumerOptions, HubPort, Publisher, SessionInfo, SourceEvent, Subscriber } from '../hub/ports.ts';
import {
  DEFAULT_OUT_CHUNK_SIZE,
  RtmpServerConnection,
  type ConnectInfo,
  type RtmpConnectionHandler,
} from '../protocol/rtmp/rtmp-connection.ts';
import { rtmpConnectTarget, rtmpStreamKey } from '../protocol/rtmp/rtmp-commands.ts';

/** A player's socket counts as full above this many queued bytes; the hub consumer queues until 'drain'. */
export const RTMP_PLAYER_HIGH_WATER = 1024 * 1024;
/**
 * A peer must finish the handshake, connect and start publishing or playing within this time (an idle or slow
 * connection holds a slot of max_connections; the slowloris guard of core/listener-guard.ts).
 */
export const RTMP_HANDSHAKE_TIMEOUT_MS = HEADER_TIMEOUT_MS;
/**
 * Messages a publisher may send on a stream whose admission (security, on_publish) is still running; they are
 * written once it is admitted (a client that sends metadata right after `publish` loses nothing), dropped if not.
 */
const MAX_MESSAGES_BEFORE_ADMISSION = 1024;
/** After a rejection reply (BadName), wait this long for the peer to close before destroying the socket. */
const END_GRACE_MS = 2_000;

export interface RtmpServerOptions {
  hub: HubPort;
  /** Addresses to listen on; port 0 = ephemeral (tests). */
  listen: readonly { host: string | undefined; port: number }[];
  maxConnections: number;
  log: Logger;
  /** Outgoing chunk size announced after connect; default 60000 (SRS/NMS). */
  outChunkSize?: number;
  /** Per-stream consumer options (vhost queue_length etc.). */
  consumerOptions?: (key: StreamKey) => ConsumerOptions | undefined;
  /** Merged-write latency for a stream's players, ms (SRS mw_latency); default 0 (write at the end of the tick). */
  mwLatencyMs?: (key: StreamKey) => number;
  /** false → connect rejected with NetConnection.Connect.Rejected. */
  vhostAllowed?: (vhost: string) => boolean;
  /** Handshake + connect + publish/play deadline, ms; default RTMP_HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs?: number;
  /**
   * Asked before each publish (refused: NetStream.Publish.BadName, then close) and play (refused:
   * NetStream.Play.StreamNotFound, then close): security and on_publish / on_play. Default: allow everything,
   * synchronously.
   */
  admission?: Admission;
  /**
   * on_connect at `connect` (answered at once; publish and play wait for it; refused: the connection is closed, as
   * SRS closes it) and on_close when a connection that passed it closes.
   */
  connections?: ConnectionAdmission;
}

export class RtmpServer {
  readonly #opts: RtmpServerOptions;
  readonly #servers: Server[] = [];
  readonly #sessions = new Set<RtmpSession>();
  #ports: number[] = [];
  #closing: Promise<void> | undefined;
  readonly #refused: PithyLog;

  constructor(opts: RtmpServerOptions) {
    this.#opts = opts;
    this.#refused = refusedConnectionLog(opts.log, 'RTMP', opts.maxConnections);
  }

  /**
   * Listen on every address.
   * @throws GatewayError GW_ERR_LISTEN when an address cannot be bound (EADDRINUSE...); listeners already
   *   opened are closed again.
   */
  async start(): Promise<void> {
    for (const addr of this.#opts.listen) {
      const server = createServer({ noDelay: true }, (socket) => this.#onConnection(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(addr.port, addr.host, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        await this.#closeServers();
        const where = `${addr.host ?? '0.0.0.0'}:${addr.port}`;
        throw new GatewayError(ErrorCode.Listen, `RTMP cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
      }
      server.on('error', (err) => this.#opts.log.error({ err }, 'RTMP listener error'));
      this.#servers.push(server);
      const a = server.address();
      this.#ports.push(typeof a === 'object' && a !== null ? a.port : addr.port);
      this.#opts.log.info({ host: addr.host, port: this.#ports[this.#ports.length - 1] }, 'RTMP server listening');
    }
  }

  /** Bound ports, in `listen` order. */
  get ports(): readonly number[] {
    return this.#ports;
  }

  /** Stop listening and close every connection (publishers unpublished, players ended). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const s of [...this.#sessions]) s.close('server closing');
      await this.#closeServers();
    })();
    return this.#closing;
  }

  stats(): { connections: number; publishers: number; players: number } {
    let publishers = 0;
    let players = 0;
    for (const s of this.#sessions) {
      publishers += s.publisherCount;
      players += s.playerCount;
    }
    return { connections: this.#sessions.size, publishers, players };
  }

  async #closeServers(): Promise<void> {
    const servers = this.#servers.splice(0);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  #onConnection(socket: Socket): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    if (this.#sessions.size >= this.#opts.maxConnections) {
      this.#refused.hit(remote);
      socket.destroy();
      return;
    }
    const id = nextSessionId('rtmp');
    const session = new RtmpSession(this.#opts, socket, id, remote, () => this.#sessions.delete(session));
    this.#sessions.add(session);
  }
}

/** One RTMP connection: socket ↔ protocol stack ↔ hub. */
class RtmpSession implements RtmpConnectionHandler {
  readonly #opts: RtmpServerOptions;
  readonly #socket: Socket;
  readonly #log: Logger;
  readonly #who: SessionInfo;
  readonly #conn: RtmpServerConnection;
  readonly #onClosed: () => void;
  readonly #publishers = new Map<number, Publisher>();
  readonly #players = new Map<number, Subscriber>();
  readonly #ignored: PithyLog;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** The socket drained (or took a flush at once, MergedSocketWriter onWritable): players' queues flow again. */
  readonly #resumePlayers = (): void => {
    for (const sub of this.#players.values()) sub.resume();
  };
  /** Merged writes for players (created at the first play; SRS mw_latency). */
  #media: MergedSocketWriter | undefined;
  #corked = false;
  #closed = false;
  /** Per stream id being admitted for publish: the messages received meanwhile (at most MAX_MESSAGES_BEFORE_ADMISSION). */
  readonly #admitting = new Map<number, RtmpMessage[]>();
  /** The connect as on_connect saw it, and its verdict (publish and play wait for it; on_close only once allowed). */
  #connection: { readonly info: ConnectionInfo; readonly allowed: Promise<void>; admitted: boolean } | undefined;

  constructor(opts: RtmpServerOptions, socket: Socket, id: string, remote: string, onClosed: () => void) {
    this.#opts = opts;
    this.#socket = socket;
    this.#onClosed = onClosed;
    this.#log = opts.log.child({ conn: id, remote });
    this.#who = { id, protocol: 'rtmp', remote };
    this.#ignored = new PithyLog(this.#log, 'messages without a publisher');
    this.#conn = new RtmpServerConnection({
      handler: this,
      write: (bytes) => this.#write(bytes),
      outChunkSize: opts.outChunkSize ?? DEFAULT_OUT_CHUNK_SIZE,
    });
    socket.setNoDelay(true);
    const deadlineMs = opts.handshakeTimeoutMs ?? RTMP_HANDSHAKE_TIMEOUT_MS;
    this.#handshakeTimer = setTimeout(() => this.close(`no publish or play within ${deadlineMs} ms of connecting`), deadlineMs);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('drain', this.#resumePlayers);
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'RTMP socket error'));
    socket.on('close', () => this.close('peer closed'));
    this.#log.debug('RTMP connection');
  }

  get publisherCount(): number {
    return this.#publishers.size;
  }

  get playerCount(): number {
    return this.#players.size;
  }

  /** Unpublish, detach players and destroy the socket. Idempotent. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    for (const p of this.#publishers.values()) p.close(reason);
    for (const s of this.#players.values()) s.close();
    this.#publishers.clear();
    this.#players.clear();
    if (this.#connection?.admitted === true) this.#opts.connections?.disconnect(this.#connection.info, this.#socket.bytesWritten, this.#socket.bytesRead);
    this.#socket.destroy();
    this.#onClosed();
    this.#log.debug({ reason }, 'RTMP connection closed');
  }

  #onData(data: Buffer): void {
    if (this.#closed) return;
    try {
      this.#conn.push(data);
    } catch (err) {
      const code = isGatewayError(err) ? err.code : undefined;
      this.#log.warn({ code, err: (err as Error).message }, `RTMP protocol error, closing connection: ${(err as Error).message}`);
      this.close('protocol error');
    }
  }

  /** Batch the writes of one tick into one writev; after queued player media when there is any (order kept). */
  #write(bytes: Buffer): void {
    if (this.#closed || this.#socket.writableEnded) return;
    if (this.#media !== undefined) {
      this.#media.writeNow(bytes);
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(bytes);
  }

  /**
   * Close gracefully after a reply: end the socket once the current reply is written (the protocol layer writes
   * it after the handler returns), destroy it if the peer lingers.
   */
  #endSoon(reason: string): void {
    process.nextTick(() => this.#socket.end());
    setTimeout(() => this.close(reason), END_GRACE_MS).unref();
  }

  // --------------------------------------------------------------------------------- RtmpConnectionHandler

  onConnect(info: ConnectInfo): string | undefined {
    const { vhost, app } = rtmpConnectTarget(info.tcUrl, info.app);
    if (this.#opts.vhostAllowed !== undefined && !this.#opts.vhostAllowed(vhost)) {
      this.#log.warn({ vhost, app, tcUrl: info.tcUrl }, 'RTMP connect rejected: unknown vhost');
      this.#endSoon('connect rejected');
      return `vhost ${vhost} is not served here`;
    }
    this.#log.info({ vhost, app, tcUrl: info.tcUrl, flashVer: info.flashVer }, 'RTMP connect');
    const connections = this.#opts.connections;
    if (connections !== undefined) {
      const query = tcUrlQuery(info.tcUrl);
      const conn: ConnectionInfo = {
        who: query === undefined ? this.#who : { ...this.#who, query },
        vhost,
        app,
        tcUrl: info.tcUrl ?? '',
        pageUrl: info.pageUrl ?? '',
      };
      const allowed = connections.connect(conn);
      const connection = { info: conn, allowed, admitted: false };
      this.#connection = connection;
      allowed.then(
        () => {
          connection.admitted = true;
        },
        (err: unknown) => {
          this.#log.warn({ err: (err as Error).message }, 'RTMP connect refused by on_connect');
          this.close('on_connect refused');
        },
      );
    }
    return undefined;
  }

  onPublish(streamId: number, streamName: string): void {
    const key = this.#resolveKey(streamId, streamName, 'NetStream.Publish.BadName');
    if (key === undefined) return;
    const who = this.#streamWho(streamName);
    if (this.#opts.admission === undefined && this.#connection === undefined) return this.#startPublish(streamId, streamName, key, who);
    this.#started(); // the admission is bounded by the hook timeout, not by the handshake deadline
    this.#admitting.set(streamId, []);
    this.#admit('publish', key, who).then(
      () =>
        this.#afterAdmit(() => {
          const early = this.#admitting.get(streamId) ?? [];
          this.#admitting.delete(streamId);
          this.#startPublish(streamId, streamName, key, who);
          const publisher = this.#publishers.get(streamId);
          if (publisher !== undefined) for (const msg of early) publisher.write(msg);
        }),
      (err: unknown) => {
        this.#admitting.delete(streamId);
        this.#refuse(streamId, key, 'publish', err);
      },
    );
  }

  /** The session as a publish or play of `streamName` shows it: its query (`?token=...`), else the tcUrl's. */
  #streamWho(streamName: string): SessionInfo {
    const q = streamName.indexOf('?');
    const query = q < 0 || q === streamName.length - 1 ? tcUrlQuery(this.#conn.connectInfo?.tcUrl) : streamName.slice(q + 1);
    return query === undefined ? this.#who : { ...this.#who, query };
  }

  /** Wait for on_connect, then ask the admission (security, on_publish / on_play). */
  async #admit(action: 'publish' | 'play', key: StreamKey, who: SessionInfo): Promise<void> {
    await this.#connection?.allowed;
    const info = this.#conn.connectInfo;
    await this.#opts.admission?.admit({ action, key, who, tcUrl: info?.tcUrl ?? '', pageUrl: info?.pageUrl ?? '' });
  }

  /** Start an admitted publish or play unless the connection closed meanwhile; a failure closes it (as in #onData). */
  #afterAdmit(start: () => void): void {
    if (this.#closed) return;
    try {
      start();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, `RTMP publish/play failed, closing connection: ${(err as Error).message}`);
      this.close('publish/play failed');
    }
  }

  /** A refused publish (BadName) or play (StreamNotFound): answer, then close (SRS closes the connection). */
  #refuse(streamId: number, key: StreamKey, action: 'publish' | 'play', err: unknown): void {
    if (this.#closed) return;
    const why = (err as Error).message;
    this.#log.warn({ stream: streamKeyString(key) }, `RTMP ${action} refused: ${why}`);
    if (action === 'publish') this.#conn.publishRejected(streamId, why);
    else this.#conn.sendStatus(streamId, 'error', 'NetStream.Play.StreamNotFound', why);
    this.#endSoon(`${action} refused`);
  }

  #startPublish(streamId: number, streamName: string, key: StreamKey, who: SessionInfo): void {
    let publisher: Publisher;
    try {
      // Kicked through the HTTP API (or the gateway stopping): the whole connection ends, as SRS expires it.
      publisher = this.#opts.hub.publish(key, who, { onClose: (reason) => this.close(reason) });
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.StreamBusy)) throw err;
      this.#log.warn({ stream: streamKeyString(key) }, `RTMP publish refused: ${err.message}`);
      this.#conn.publishRejected(streamId, `Stream ${streamKeyString(key)} is already being published.`);
      this.#endSoon('stream busy');
      return;
    }
    this.#publishers.get(streamId)?.close('republish on the same stream');
    this.#publishers.set(streamId, publisher);
    this.#started();
    this.#conn.publishStarted(streamId, streamName);
    this.#log.info({ stream: streamKeyString(key) }, 'RTMP publish');
  }

  onPlay(streamId: number, streamName: string): void {
    const key = this.#resolveKey(streamId, streamName, 'NetStream.Play.StreamNotFound');
    if (key === undefined) return;
    const who = this.#streamWho(streamName);
    if (this.#opts.admission === undefined && this.#connection === undefined) return this.#startPlay(streamId, streamName, key, who);
    this.#started();
    this.#admit('play', key, who).then(
      () => this.#afterAdmit(() => this.#startPlay(streamId, streamName, key, who)),
      (err: unknown) => this.#refuse(streamId, key, 'play', err),
    );
  }

  #startPlay(streamId: number, streamName: string, key: StreamKey, who: SessionInfo): void {
    this.#players.get(streamId)?.close();
    this.#conn.playStarted(streamId, streamName);
    const conn = this.#conn;
    const media = (this.#media ??= new MergedSocketWriter(this.#socket, { latencyMs: this.#opts.mwLatencyMs?.(key) ?? 0, onWritable: this.#resumePlayers }));
    const target = {
      send: (msg: RtmpMessage): boolean => {
        if (this.#closed) return false;
        media.writeMedia(conn.encodeMedia(streamId, msg), true); // the message's cached chunks, shared by its players
        return media.underHighWater(RTMP_PLAYER_HIGH_WATER);
      },
      onSourceEvent: (event: SourceEvent): void => {
        if (event === 'unpublish') conn.sendStatus(streamId, 'status', 'NetStream.Play.UnpublishNotify', `${streamName} is now unpublished.`);
        else conn.sendStatus(streamId, 'status', 'NetStream.Play.PublishNotify', `${streamName} is now published.`);
      },
      onClose: (reason: string): void => {
        this.#log.info({ reason }, 'RTMP player detached by the hub');
        this.#players.delete(streamId);
        this.#media?.flushMerged();
        this.#socket.end();
      },
    };
    const opts = this.#opts.consumerOptions?.(key);
    const sub = opts === undefined ? this.#opts.hub.subscribe(key, who, target) : this.#opts.hub.subscribe(key, who, target, opts);
    this.#players.set(streamId, sub);
    this.#started();
    this.#log.info({ stream: streamKeyString(key) }, 'RTMP play');
  }

  onMedia(streamId: number, type: MessageType, timestampMs: number, payload: Buffer): void {
    const publisher = this.#publishers.get(streamId);
    if (publisher === undefined) {
      const early = this.#admitting.get(streamId);
      const msg = early !== undefined && early.length < MAX_MESSAGES_BEFORE_ADMISSION ? createMessage(type, timestampMs, payload) : undefined;
      if (msg !== undefined) early?.push(msg);
      else this.#ignored.hit(`message type ${type} on stream ${streamId} which is not publishing`);
      return;
    }
    const msg = createMessage(type, timestampMs, payload);
    if (msg !== undefined) publisher.write(msg);
  }

  onStreamClosed(streamId: number, reason: string): void {
    const publisher = this.#publishers.get(streamId);
    if (publisher !== undefined) {
      this.#publishers.delete(streamId);
      publisher.close(reason);
      this.#log.info({ stream: streamKeyString(publisher.key), reason }, 'RTMP unpublish');
    }
    const player = this.#players.get(streamId);
    if (player !== undefined) {
      this.#players.delete(streamId);
      player.close();
      this.#log.info({ stream: streamKeyString(player.key), reason }, 'RTMP stop playing');
    }
  }

  onIgnored(what: string): void {
    this.#log.debug(`RTMP ignored ${what}`);
  }

  /** Publishing or playing: the connection has a purpose, the handshake deadline is over. */
  #started(): void {
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  /** Stream key for publish/play; on an invalid name, reply with an error status and close. */
  #resolveKey(streamId: number, streamName: string, errorCode: string): StreamKey | undefined {
    const info = this.#conn.connectInfo;
    let key: StreamKey;
    try {
      key = rtmpStreamKey(info?.tcUrl, info?.app, streamName);
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      this.#log.warn({ streamName }, `RTMP bad stream name: ${err.message}`);
      this.#conn.sendStatus(streamId, 'error', errorCode, err.message);
      this.#endSoon('bad stream name');
      return undefined;
    }
    if (this.#opts.vhostAllowed !== undefined && !this.#opts.vhostAllowed(key.vhost)) {
      this.#log.warn({ stream: streamKeyString(key) }, 'RTMP stream on an unknown vhost refused');
      this.#conn.sendStatus(streamId, 'error', errorCode, `vhost ${key.vhost} is not served here`);
      this.#endSoon('unknown vhost');
      return undefined;
    }
    return key;
  }
}

/** The query of a tcUrl (`rtmp://host/app?token=x` → `token=x`), undefined when it has none. */
function tcUrlQuery(tcUrl: string | undefined): string | undefined {
  const q = tcUrl?.indexOf('?') ?? -1;
  return tcUrl === undefined || q < 0 || q === tcUrl.length - 1 ? undefined : tcUrl.slice(q + 1);
}
