/**
 * One HTTP POST/PUT FLV upload (SRS SrsDynamicHttpConn::do_proxy, srs_app_caster_flv.cpp): the request body
 * (Content-Length or chunked) feeds an FlvDemuxer as it arrives; each tag becomes an RtmpMessage for the
 * publisher; the HTTP status tells the client how the push ended.
 *
 * - The publish happens at the FLV header, so a body that is not FLV never shows up in the hub.
 * - A tag is handed to the publisher once the PreviousTagSize that follows it confirms its DataSize (when the
 *   next tag arrives: one tag interval of latency, tens of ms in an A/V stream), so a corrupt DataSize never publishes a frame with a
 *   wrong length: everything before the broken tag stays published, the broken tag does not.
 * - Terminal (→ 400): not FLV (bad signature or DataOffset), DataSize over the limit, a PreviousTagSize that does
 *   not match (framing lost), a body that ends inside a header or tag. Skippable (counted, logged rate-limited,
 *   parsing goes on): an unknown TagType or an encrypted (Filter) tag; the demuxer skips them with framing intact.
 * - The client disconnecting, or sending nothing for `idleTimeoutMs`, unpublishes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import { PithyLog, type Logger } from '../../core/log.ts';
import type { HubPort, Publisher, SessionInfo } from '../../core/hub/ports.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { streamKeyString, type StreamKey } from '../../core/media/stream-key.ts';
import { FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';

/** SessionInfo of an FLV POST publisher: the request's query string is kept for hooks (on_publish). */
export interface FlvPostSessionInfo extends SessionInfo {
  /** Raw query string without the `?` (e.g. `token=abc`), '' when there is none. */
  readonly query: string;
}

/** Counters the caster aggregates over all sessions (CasterStats). */
export interface FlvPostCounters {
  bytes: number;
  tags: number;
  errors: number;
  publishes: number;
}

export interface FlvPostSessionOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly hub: HubPort;
  readonly key: StreamKey;
  readonly info: FlvPostSessionInfo;
  readonly log: Logger;
  readonly counters: FlvPostCounters;
  readonly idleTimeoutMs: number;
  /** See respond(). */
  readonly lingerMs: number;
  /** Largest tag DataSize; bigger → GW_ERR_TOO_LARGE → 400. */
  readonly maxTagSize: number;
  /** Called once when the session is over (response sent or connection gone). */
  readonly onDone: (session: FlvPostSession) => void;
}

/**
 * After an error response while the client is still sending, keep reading (and dropping) its body this long
 * before closing, so the client reads the response instead of a TCP reset (nginx lingering_close).
 */
export const FLV_POST_LINGER_MS = 1_000;

export class FlvPostSession {
  readonly #opts: FlvPostSessionOptions;
  readonly #demuxer: FlvDemuxer;
  /** Decode errors, logged rate-limited with this session's bindings. */
  readonly #decodeErrors: PithyLog;
  #publisher: Publisher | undefined;
  /** The last tag, held until the PreviousTagSize after it has been checked. */
  #pending: RtmpMessage | undefined;
  #done = false;
  #tags = 0;

  constructor(opts: FlvPostSessionOptions) {
    this.#opts = opts;
    this.#decodeErrors = new PithyLog(opts.log, 'FLV decode errors');
    this.#demuxer = new FlvDemuxer(
      {
        onHeader: () => this.#publish(),
        onMessage: (msg) => this.#onMessage(msg),
        onDecodeError: (err) => this.#onDecodeError(err),
      },
      { maxTagSize: opts.maxTagSize },
    );
    const { req } = opts;
    req.on('data', (chunk: Buffer) => this.#onData(chunk));
    req.on('end', () => this.#onEnd());
    req.on('error', (err) => this.#abort(`client connection error: ${err.message}`));
    req.on('close', () => this.#abort('client disconnected mid-stream'));
    // Node calls this only while the request body is incomplete; the response lingers, then closes.
    req.setTimeout(opts.idleTimeoutMs, () => this.#finish(408, `no data for ${opts.idleTimeoutMs} ms`));
    opts.log.info({ stream: streamKeyString(opts.key) }, 'FLV POST started');
  }

  get id(): string {
    return this.#opts.info.id;
  }

  get publishing(): boolean {
    return this.#publisher !== undefined && !this.#done;
  }

  /** Unpublish and drop the connection (caster stopping). */
  stop(reason: string): void {
    if (!this.#done) this.#finish(503, reason);
    this.#opts.req.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#done) return; // lingering after an error response: drop the rest
    this.#opts.counters.bytes += chunk.length;
    try {
      this.#demuxer.push(chunk);
    } catch (err) {
      // The demuxer reports problems through its sink and the hub never throws: a throw here is a bug. Keep the
      // gateway up, end this upload.
      this.#opts.log.error({ err }, 'FLV POST: unexpected exception while ingesting');
      this.#pending = undefined;
      this.#finish(500, 'internal error');
    }
  }

  #onEnd(): void {
    if (this.#done) return;
    this.#demuxer.end(); // a partial header or tag is reported as GW_ERR_TRUNCATED → #onDecodeError → 400
    if (this.#done) return;
    if (this.#publisher === undefined) {
      this.#finish(400, `${ErrorCode.Truncated}: the body ended before an FLV header`);
      return;
    }
    this.#finish(200, `OK: ${this.#tags} tags, ${this.#demuxer.stats.bytes} bytes`);
  }

  #publish(): void {
    if (this.#done) return;
    const { hub, key, info, log } = this.#opts;
    try {
      // Kicked through the HTTP API (or the gateway stopping): answer 503 and drop the connection.
      this.#publisher = hub.publish(key, info, { onClose: (reason) => this.stop(reason) });
    } catch (err) {
      if (isGatewayError(err, ErrorCode.StreamBusy)) this.#finish(409, `${err.code}: ${err.message}`);
      else {
        log.error({ err }, 'publish failed');
        this.#finish(500, isGatewayError(err) ? `${err.code}: ${err.message}` : 'publish failed');
      }
      return;
    }
    this.#opts.counters.publishes++;
    log.info({ stream: streamKeyString(key) }, 'FLV header received; publishing');
  }

  #onMessage(msg: RtmpMessage): void {
    if (this.#done || this.#publisher === undefined) return;
    this.#tags++;
    this.#opts.counters.tags++;
    if (this.#pending !== undefined) this.#publisher.write(this.#pending);
    this.#pending = msg;
  }

  #onDecodeError(err: GatewayError): void {
    if (this.#done) return;
    this.#opts.counters.errors++;
    this.#decodeErrors.hit(err);
    if (!isTerminal(err)) return;
    if (isFramingLoss(err)) this.#pending = undefined; // its DataSize was wrong: never publish it
    this.#finish(400, `${err.code}: ${err.message}`);
  }

  /**
   * End the session with a response, publishing the held tag first (unless a framing loss cleared it). Idempotent.
   * An error response while the body is still arriving lingers, then closes the connection.
   */
  #finish(status: number, reason: string): void {
    if (this.#done) return;
    this.#done = true;
    const { req, res, log } = this.#opts;
    if (this.#publisher !== undefined) {
      // The held tag was read whole; only a PreviousTagSize mismatch (which cleared it) proves it wrong.
      if (this.#pending !== undefined) this.#publisher.write(this.#pending);
      this.#publisher.close(status === 200 ? 'FLV POST ended' : reason);
    }
    this.#pending = undefined;
    const demux = this.#demuxer.stats;
    if (status === 200) log.info({ status, demux }, 'FLV POST ended; unpublished');
    else log.warn({ status, reason, demux, published: this.#publisher !== undefined }, `FLV POST refused or failed: ${reason}`);
    respond(req, res, status, reason, this.#opts.lingerMs);
    this.#opts.onDone(this);
  }

  /** The connection went away before the body ended: unpublish, nobody to answer. */
  #abort(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#pending = undefined;
    if (this.#publisher !== undefined) this.#publisher.close(reason);
    this.#opts.log.info({ reason, demux: this.#demuxer.stats }, `FLV POST aborted: ${reason}`);
    this.#opts.onDone(this);
  }
}

/**
 * Send a text/plain response with `reason` as the body (nothing when the response was sent or the socket is gone).
 * When the request body is still arriving, the rest of it is read and dropped for up to `lingerMs`, then
 * the connection is closed (at once when the body ends earlier): closing a socket with unread data would send a
 * TCP reset that can make the client lose the response. So no `Connection: close` here: Node would destroy the
 * socket as soon as the response is written.
 */
export function respond(req: IncomingMessage, res: ServerResponse, status: number, reason: string, lingerMs: number, extra?: Record<string, string>): void {
  const socket = req.socket;
  if (res.headersSent || res.writableEnded || socket.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...extra });
  res.end(`${reason}\n`);
  if (req.complete) return;
  req.resume();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  req.once('end', () => {
    clearTimeout(timer);
    socket.end();
  });
}

/**
 * Which decode errors end an upload. GW_ERR_FLV_TAG is a tag skipped with framing intact (unknown TagType,
 * Filter bit); everything else ends it: GW_ERR_FLV_PREVIOUS_TAG_SIZE (framing lost: what follows would be
 * garbage), GW_ERR_FLV_HEADER / GW_ERR_TOO_LARGE (the demuxer failed), GW_ERR_TRUNCATED (a truncated end).
 */
export function isTerminal(err: GatewayError): boolean {
  return err.code !== ErrorCode.FlvTag;
}

/** A PreviousTagSize mismatch: the tag before it had a wrong DataSize. */
export function isFramingLoss(err: GatewayError): boolean {
  return err.code === ErrorCode.FlvPreviousTagSize;
}
