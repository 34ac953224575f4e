/**
 * RTMP push to another server (SRS stream_caster `output` to a foreign server; later also `forward`): a
 * `Publisher` whose messages go over a socket to `rtmp://host[:port]/app/stream` through the client stack
 * (core/protocol/rtmp/rtmp-client.ts), with reconnect.
 *
 * - Until NetStream.Publish.Start, messages are buffered, bounded: the latest metadata and sequence headers,
 *   plus the messages since the last keyframe (audio too while no video sequence header was seen: audio-only
 *   streams). A GOP that outgrows RTMP_PUSH_MAX_BUFFER_BYTES is dropped and buffering waits for the next keyframe.
 * - Once live, messages are written as they come (timestamps as received). If the socket's own buffer passes
 *   RTMP_PUSH_MAX_BUFFER_BYTES (slow server), media is dropped until the next keyframe (STYLE habit 13).
 * - On disconnect or refusal it reconnects with backoff 1 s → 2 s → … → 10 s (reset once publishing starts;
 *   core/process Backoff, bounds per push: forward uses 1 s → 30 s), re-sends metadata + sequence headers and
 *   resumes at the next keyframe.
 * - Flow control for a feeder that has its own bounded queue (forward's hub consumer): `congested` is true while
 *   the socket holds `highWaterBytes` or more unsent; `onWritable` is called when it drained, or when the
 *   connection is lost (writes are then buffered as above, never blocked).
 * - `close()` sends FCUnpublish + deleteStream, then ends the socket. Idempotent. `write()` never throws.
 * Reference: SRS SrsForwarder / SrsSimpleRtmpClient (srs_app_forward.cpp), mediamtx rtmp client publisher.
 */
import { connect, type Socket } from 'node:net';
import { ErrorCode, GatewayError } from '../errors.ts';
import { PithyLog, type Logger } from '../log.ts';
import { Backoff } from '../process/child-process.ts';
import { MessageType, type RtmpMessage } from '../media/message.ts';
import { parseRtmpUrl, streamKeyString, type StreamKey } from '../media/stream-key.ts';
import type { HubPort, Publisher, SessionInfo, Subscriber } from '../hub/ports.ts';
import { RtmpClientConnection } from '../protocol/rtmp/rtmp-client.ts';

/** Max bytes buffered while not publishing, and max bytes queued in the socket while publishing. */
export const RTMP_PUSH_MAX_BUFFER_BYTES = 8 * 1024 * 1024;
/** Reconnect backoff: first wait, doubled per failure up to the max (SRS forwarder retries every few seconds). */
export const RTMP_PUSH_MIN_BACKOFF_MS = 1_000;
export const RTMP_PUSH_MAX_BACKOFF_MS = 10_000;
/** Unsent bytes in the socket at which `congested` turns true (a feeder then holds messages in its own queue). */
export const RTMP_PUSH_HIGH_WATER_BYTES = 1024 * 1024;
/** TCP connect + handshake + connect/createStream/publish must finish within this time, else reconnect. */
export const RTMP_PUSH_CONNECT_TIMEOUT_MS = 10_000;
/** close(): wait this long for the FCUnpublish/deleteStream bytes to leave before destroying the socket. */
const CLOSE_GRACE_MS = 2_000;

export interface RtmpPushOptions {
  /** `rtmp://host[:port]/app[/...]/stream[?query]`; the query is passed on with the stream name. */
  readonly url: string;
  readonly log: Logger;
  /** Key reported as `Publisher.key`; default: the key parsed from the URL. */
  readonly key?: StreamKey;
  /** For logs: who feeds this push. */
  readonly who?: SessionInfo;
  readonly maxBufferBytes?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly connectTimeoutMs?: number;
  /** `congested` threshold, bytes unsent in the socket; default RTMP_PUSH_HIGH_WATER_BYTES. */
  readonly highWaterBytes?: number;
  /** Called once when close() is called. */
  readonly onClosed?: () => void;
  /** Called when the socket drained or the connection was lost: `congested` is false again. */
  readonly onWritable?: () => void;
}

/** connecting: TCP + RTMP handshake + publish under way; retrying: waiting out the backoff after a failure. */
export type RtmpPushState = 'connecting' | 'publishing' | 'retrying' | 'closed';

export interface RtmpPushStats {
  readonly url: string;
  /** Publish.Start received on the current connection. */
  readonly publishing: boolean;
  readonly state: RtmpPushState;
  /** Connection attempts. */
  readonly connects: number;
  /** Connections that reached NetStream.Publish.Start. */
  readonly publishStarts: number;
  readonly sentMessages: number;
  /** Payload bytes of the sent messages (FLV tag bodies; RTMP chunk headers not counted). */
  readonly sentBytes: number;
  readonly droppedMessages: number;
  readonly bufferedBytes: number;
  /** Why the last connection failed or ended (refusal, socket error, timeout); undefined before any failure. */
  readonly lastError: string | undefined;
}

/** Split an rtmp:// URL into what connect and publish need. @throws GatewayError GW_ERR_STREAM_KEY_INVALID. */
export function rtmpPushTarget(url: string): { host: string; port: number; tcUrl: string; app: string; streamName: string; key: StreamKey } {
  const parsed = parseRtmpUrl(url);
  const u = new URL(url);
  const port = parsed.port;
  const hostForUrl = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  return {
    host: parsed.host,
    port,
    tcUrl: `rtmp://${hostForUrl}:${port}/${parsed.key.app}`,
    app: parsed.key.app,
    streamName: parsed.key.stream + u.search,
    key: parsed.key,
  };
}

export class RtmpPushPublisher implements Publisher {
  readonly key: StreamKey;
  readonly #opts: RtmpPushOptions;
  readonly #target: ReturnType<typeof rtmpPushTarget>;
  readonly #log: Logger;
  readonly #maxBufferBytes: number;
  readonly #dropped: PithyLog;
  #socket: Socket | undefined;
  #client: RtmpClientConnection | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #backoff: Backoff;
  readonly #highWaterBytes: number;
  #closed = false;
  #corked = false;
  // Buffer kept while not publishing (and across reconnects for the config messages).
  #metadata: RtmpMessage | undefined;
  #audioConfig: RtmpMessage | undefined;
  #videoConfig: RtmpMessage | undefined;
  #gop: RtmpMessage[] = [];
  #gopBytes = 0;
  /** Live: wait for a keyframe before sending media again (after a resume or an overflow). */
  #waitKeyframe = false;
  #connects = 0;
  #publishStarts = 0;
  #sent = 0;
  #sentBytes = 0;
  #lastError: string | undefined;

  /** @throws GatewayError GW_ERR_STREAM_KEY_INVALID when `url` is not an rtmp:// URL with /app/stream. */
  constructor(opts: RtmpPushOptions) {
    this.#opts = opts;
    this.#target = rtmpPushTarget(opts.url);
    this.key = opts.key ?? this.#target.key;
    this.#maxBufferBytes = opts.maxBufferBytes ?? RTMP_PUSH_MAX_BUFFER_BYTES;
    this.#backoff = new Backoff(opts.minBackoffMs ?? RTMP_PUSH_MIN_BACKOFF_MS, opts.maxBackoffMs ?? RTMP_PUSH_MAX_BACKOFF_MS);
    this.#highWaterBytes = opts.highWaterBytes ?? RTMP_PUSH_HIGH_WATER_BYTES;
    this.#log = opts.log.child({ push: opts.url, ...(opts.who === undefined ? {} : { session: opts.who.id }) });
    this.#dropped = new PithyLog(this.#log, 'messages dropped by the RTMP push');
    this.#connect();
  }

  /** Publish.Start received on the current connection. */
  get publishing(): boolean {
    return this.#client?.state === 'ready';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Publishing, and the socket holds `highWaterBytes` or more unsent: hold further messages until `onWritable`. */
  get congested(): boolean {
    return this.publishing && (this.#socket as Socket).writableLength >= this.#highWaterBytes;
  }

  get state(): RtmpPushState {
    if (this.#closed) return 'closed';
    if (this.publishing) return 'publishing';
    return this.#socket === undefined ? 'retrying' : 'connecting';
  }

  stats(): RtmpPushStats {
    return {
      url: this.#opts.url,
      publishing: this.publishing,
      state: this.state,
      connects: this.#connects,
      publishStarts: this.#publishStarts,
      sentMessages: this.#sent,
      sentBytes: this.#sentBytes,
      droppedMessages: this.#dropped.total,
      bufferedBytes: this.#gopBytes,
      lastError: this.#lastError,
    };
  }

  write(msg: RtmpMessage): void {
    if (this.#closed) return;
    try {
      if (msg.isConfig) this.#remember(msg);
      if (this.publishing) this.#writeLive(msg);
      else this.#buffer(msg);
    } catch (err) {
      this.#dropped.hit(err as Error); // a bug, not a peer problem; write() must not throw into the caster
    }
  }

  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    this.#gop = [];
    this.#gopBytes = 0;
    const socket = this.#socket;
    const client = this.#client;
    this.#socket = undefined;
    this.#client = undefined;
    if (socket !== undefined) {
      if (client !== undefined && !socket.destroyed) {
        client.unpublish();
        socket.end();
        setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      } else {
        socket.destroy();
      }
    }
    this.#log.info({ reason, sent: this.#sent, dropped: this.#dropped.total }, 'RTMP push closed');
    this.#opts.onClosed?.();
  }

  // ------------------------------------------------------------------------------------------- buffering

  #remember(msg: RtmpMessage): void {
    if (msg.kind === 'metadata') this.#metadata = msg;
    else if (msg.kind === 'audio-config') this.#audioConfig = msg;
    else this.#videoConfig = msg;
  }

  #buffer(msg: RtmpMessage): void {
    if (msg.isConfig) {
      // Kept in the config slots, sent first on Publish.Start. Audio buffered before the first video sequence
      // header (it looked audio-only) must not lead into interframes: start again at a keyframe.
      if (msg.kind === 'video-config' && this.#gop.length > 0 && this.#gop[0].kind !== 'keyframe') this.#dropGop(false);
      return;
    }
    if (msg.kind === 'keyframe') {
      this.#dropGop(false);
    } else if (this.#gop.length === 0 && !(msg.kind === 'audio' && this.#videoConfig === undefined)) {
      this.#dropped.hit('waiting for a keyframe');
      return;
    }
    this.#gop.push(msg);
    this.#gopBytes += msg.payload.length;
    if (this.#gopBytes <= this.#maxBufferBytes) return;
    if (this.#videoConfig === undefined && msg.kind === 'audio') {
      while (this.#gopBytes > this.#maxBufferBytes) this.#gopBytes -= (this.#gop.shift() as RtmpMessage).payload.length;
      this.#dropped.hit(`buffer over ${this.#maxBufferBytes} bytes, oldest audio dropped`);
      return;
    }
    this.#dropGop(true);
  }

  #dropGop(overflow: boolean): void {
    if (overflow) this.#dropped.hit(`GOP over ${this.#maxBufferBytes} bytes while not publishing; waiting for the next keyframe`);
    this.#gop = [];
    this.#gopBytes = 0;
  }

  #writeLive(msg: RtmpMessage): void {
    const client = this.#client as RtmpClientConnection;
    const socket = this.#socket as Socket;
    if (!msg.isConfig) {
      if (msg.type === MessageType.Video && this.#waitKeyframe) {
        if (msg.kind !== 'keyframe') return this.#dropped.hit('waiting for a keyframe');
        this.#waitKeyframe = false;
      }
      if (socket.writableLength > this.#maxBufferBytes) {
        this.#waitKeyframe = this.#videoConfig !== undefined; // audio-only: drop just this message
        return this.#dropped.hit(`server too slow: ${socket.writableLength} bytes queued in the socket`);
      }
      if (this.#waitKeyframe) return this.#dropped.hit('waiting for a keyframe');
    }
    client.sendMedia(msg);
    this.#sent++;
    this.#sentBytes += msg.payload.length;
  }

  /** Publish.Start: configs first, then the buffered GOP, in order. */
  #flushBuffer(): void {
    const client = this.#client as RtmpClientConnection;
    for (const m of [this.#metadata, this.#videoConfig, this.#audioConfig]) {
      if (m !== undefined) {
        client.sendMedia(m);
        this.#sent++;
        this.#sentBytes += m.payload.length;
      }
    }
    this.#waitKeyframe = this.#gop.length === 0 && this.#videoConfig !== undefined;
    for (const m of this.#gop) {
      client.sendMedia(m);
      this.#sent++;
      this.#sentBytes += m.payload.length;
    }
    this.#gop = [];
    this.#gopBytes = 0;
  }

  // ------------------------------------------------------------------------------------------- socket

  #connect(): void {
    if (this.#closed) return;
    const { host, port, tcUrl, app, streamName } = this.#target;
    this.#connects++;
    const socket = connect({ host, port, noDelay: true });
    const client = new RtmpClientConnection({
      tcUrl,
      app,
      streamName,
      write: (bytes) => this.#send(socket, bytes),
      handler: {
        onPublishStart: () => {
          clearTimeout(this.#connectTimer);
          this.#backoff.reset();
          this.#publishStarts++;
          this.#log.info({ stream: streamKeyString(this.key) }, 'RTMP push publishing');
          this.#flushBuffer();
        },
        onError: (err) => this.#lost(socket, `${err.code}: ${err.message}`),
        onStatus: (level, code, description) => this.#log.debug({ level, code, description }, 'RTMP push onStatus'),
      },
    });
    this.#socket = socket;
    this.#client = client;
    this.#connectTimer = setTimeout(() => this.#lost(socket, `not publishing within ${this.#opts.connectTimeoutMs ?? RTMP_PUSH_CONNECT_TIMEOUT_MS} ms`), this.#opts.connectTimeoutMs ?? RTMP_PUSH_CONNECT_TIMEOUT_MS);
    socket.on('connect', () => client.start());
    socket.on('data', (data: Buffer) => client.push(data));
    socket.on('error', (err) => this.#lost(socket, err.message));
    socket.on('drain', () => {
      if (socket === this.#socket) this.#opts.onWritable?.();
    });
    socket.on('close', () => this.#lost(socket, 'connection closed by the server'));
  }

  #send(socket: Socket, bytes: Buffer): void {
    if (socket.destroyed || socket.writableEnded) return;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    socket.write(bytes);
  }

  /** The current connection ended or failed: drop it and schedule a reconnect (once per connection). */
  #lost(socket: Socket, reason: string): void {
    if (this.#closed || socket !== this.#socket) return;
    clearTimeout(this.#connectTimer);
    const wasPublishing = this.publishing;
    this.#socket = undefined;
    this.#client = undefined;
    socket.destroy();
    this.#gop = [];
    this.#gopBytes = 0;
    this.#lastError = reason;
    const delayMs = this.#backoff.next();
    this.#log.warn({ reason, retryInMs: delayMs, wasPublishing }, `RTMP push connection lost: ${reason}`);
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
    if (wasPublishing) this.#opts.onWritable?.();
  }
}

/**
 * A HubPort whose publishers push to a foreign RTMP server at `url` (a caster's `output` that is not this
 * gateway). One pusher per key at a time; playing is not possible.
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID (at publish) when `url` is not an rtmp:// URL with /app/stream.
 */
export function remotePublishPort(url: string, log: Logger): HubPort {
  const pushers = new Map<string, RtmpPushPublisher>();
  return {
    publish(key: StreamKey, who: SessionInfo): Publisher {
      const k = streamKeyString(key);
      if (pushers.has(k)) throw new GatewayError(ErrorCode.StreamBusy, `${url} is already being pushed to`);
      const pusher: RtmpPushPublisher = new RtmpPushPublisher({ url, log, key, who, onClosed: () => { if (pushers.get(k) === pusher) pushers.delete(k); } });
      pushers.set(k, pusher);
      return pusher;
    },
    subscribe(): Subscriber {
      throw new GatewayError(ErrorCode.CasterOutput, `remote output cannot be played: ${url}`);
    },
    isPublishing(key: StreamKey): boolean {
      return pushers.has(streamKeyString(key));
    },
  };
}
