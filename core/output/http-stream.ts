/**
 * HTTP live streams (SRS SrsLiveStream + ISrsBufferEncoder: SrsFlvStreamEncoder, SrsTsStreamEncoder,
 * SrsMp3StreamEncoder, SrsAacStreamEncoder): one `HttpLiveStream` per HTTP player, a ConsumerTarget that writes
 * the hub's messages as the body of a response whose status line and headers are already sent.
 *
 * The base class owns the player's life, the same for every format:
 * - `play` subscribes to the hub (after the fast cache's audio, for .mp3/.aac) and watches the socket;
 * - `send` encodes a message and reports backpressure: false once the socket's queue plus the merge buffer pass
 *   HTTP_STREAM_HIGH_WATER_BYTES, so the hub's bounded consumer queue takes over; the socket's 'drain' resumes it;
 * - body bytes go to the socket through a MergedSocketWriter: merged writes every `mw_latency` ms, or (mw_latency 0,
 *   `min_latency on`) at the end of the tick; as one HTTP/1.1 chunk per batch when the response is chunked;
 * - the same stream plays over WebSocket (`ws://host/live/s.flv`, RFC 6455): the transport is then the upgraded
 *   connection, each FLV header or tag one binary message, the player's frames read by live-websocket.ts (Ping →
 *   Pong, its Close or a protocol error stop the stream) and the body ends with a Close frame instead of the zero
 *   chunk; lifecycle, backpressure and encoding are the same;
 * - an unpublish ends the response (there is no in-band signal in these formats, and a new publisher restarts
 *   timestamps and codecs; node-media-server does the same and flv.js/mpegts.js players reconnect); so does the
 *   hub detaching the player, the socket closing, or the owner calling `stop` (idempotent: the zero chunk, then
 *   the connection ends).
 * Subclasses only encode (`encode`):
 *
 * HTTP-FLV: the FLV file header's TypeFlagsAudio/TypeFlagsVideo must describe the stream, so the header is held
 * back until the first media message: the configs the hub delivers first (metadata → video-config →
 * audio-config) are held, then header + configs + media go out together. Every tag is serialized once per
 * message for all players (`flvTag`, cached on the message): no copy per player.
 *
 * HTTP-TS: serialized once per stream for all its players (http-ts-fanout.ts: one TS muxer, continuity counters
 * per stream, PAT/PMT before every keyframe); a player writes the shared packets of each message, after the last
 * PAT/PMT when its first message carries none. A player that skipped packets (its hub queue dropped a GOP) sees
 * the stream's continuity_counters jump: the first packet of each PID after the gap goes out as a copy with the
 * adaptation field's discontinuity_indicator set (ISO/IEC 13818-1 2.4.3.5; core/protocol/mpegts/ts-discontinuity.ts),
 * the rest of the packets shared as ever.
 *
 * HTTP-MP3 / HTTP-AAC: audio-only, raw MP3 frames (views of the shared payloads) or ADTS frames (a 7-byte header
 * per frame + a view of the raw AAC). With SRS's `fast_cache` (audio-fast-cache.ts) a new player is first given
 * the stream's cached audio, then the hub's messages follow; audio the cache already gave (the GOP cache's
 * replay) is skipped by timestamp, so nothing repeats.
 */
import type { Duplex, Writable } from 'node:stream';
import type { ConsumerOptions, ConsumerTarget, HubPort, SessionInfo, SourceEvent, Subscriber } from '../hub/ports.ts';
import { MessageType, SoundFormat, type RtmpMessage } from '../media/message.ts';
import type { StreamKey } from '../media/stream-key.ts';
import { flvFileHeader, flvTag } from '../protocol/flv/flv-muxer.ts';
import { AacPacketType, readAudioTagHeader } from '../protocol/flv/flv-tag.ts';
import { parseAudioSpecificConfig, type AudioSpecificConfig } from '../codec/aac/audio-specific-config.ts';
import { ADTS_HEADER_LENGTH, MAX_ADTS_FRAME_LENGTH, writeAdtsHeader } from '../codec/aac/adts.ts';
import { MergedSocketWriter } from './merged-write.ts';
import { acquireTsFanout, type TsFanout } from './http-ts-fanout.ts';
import { markDiscontinuities } from '../protocol/mpegts/ts-discontinuity.ts';
import { HeldConfigs } from '../remux/held-configs.ts';
import { LiveWebSocketInput } from './live-websocket.ts';
import { WebSocketCloseStatus } from '../protocol/websocket/frame.ts';

/** Bytes queued in the socket (plus our merge buffer) before the hub must queue for us instead. */
export const HTTP_STREAM_HIGH_WATER_BYTES = 1024 * 1024;


/** Live formats served by `http_remux`, by URL extension. */
export type HttpLiveFormat = 'flv' | 'ts' | 'mp3' | 'aac';
export const HTTP_LIVE_CONTENT_TYPES: Readonly<Record<HttpLiveFormat, string>> = {
  flv: 'video/x-flv', ts: 'video/MP2T', mp3: 'audio/mpeg', aac: 'audio/aac',
};

/** Where a live stream writes its body: an HTTP response, or a connection upgraded to WebSocket. */
export type HttpLiveBody = HttpResponseBody | WebSocketBody;

/** The body of an HTTP response. */
export interface HttpResponseBody {
  readonly transport: 'http';
  /** The response's connection (`res.socket`), status line and headers already sent (`writeHead` + `flushHeaders`). */
  readonly socket: Writable;
  /**
   * Frame the body as HTTP/1.1 chunks (RFC 9112 §7.1): true when the response went out with
   * `Transfer-Encoding: chunked` (`res.chunkedEncoding`); false for a close-delimited body (HTTP/1.0 clients).
   */
  readonly chunked: boolean;
}

/** A connection upgraded to WebSocket (RFC 6455): the 101 response is sent; one binary message per FLV chunk. */
export interface WebSocketBody {
  readonly transport: 'websocket';
  /** The upgraded connection (node:http 'upgrade' event's socket), read for the player's frames. */
  readonly socket: Duplex;
  /** Bytes the player sent after its request head (node:http's `head`), read before the socket's. */
  readonly head?: Buffer;
}

export interface HttpLiveStreamOptions {
  /** Merged-write latency (SRS mw_latency), ms; 0 (`min_latency on`) = write at the end of the current tick. */
  readonly mwLatencyMs: number;
  /**
   * Called once when the player stops, with why (`client closed`, `stream unpublished`, the hub's reason, ...),
   * after it left the hub and before its body ends (`bytesSent`/`droppedMessages` are final but for the last flush).
   */
  readonly onStop?: (reason: string) => void;
}

/** Create the live stream of `format` for one player. */
export function createHttpLiveStream(format: HttpLiveFormat, body: HttpLiveBody, opts: HttpLiveStreamOptions): HttpLiveStream {
  switch (format) {
    case 'flv': return new HttpFlvStream(body, opts);
    case 'ts': return new HttpTsStream(body, opts);
    case 'mp3':
    case 'aac': return new HttpAudioStream(format, body, opts);
  }
}

/** One HTTP player of one stream: the lifecycle every format shares. Subclasses implement `encode`. */
export abstract class HttpLiveStream implements ConsumerTarget {
  abstract readonly format: HttpLiveFormat;
  /** Does this format take the audio fast cache (`play`'s `cached`)? Only .mp3/.aac (SRS: "flv/ts ignore it"). */
  abstract readonly usesFastCache: boolean;
  protected readonly writer: MergedSocketWriter;
  /** 'http' or 'websocket': how the player receives the body. */
  readonly transport: HttpLiveBody['transport'];
  readonly #socket: Writable;
  readonly #onStop: ((reason: string) => void) | undefined;
  /** The reading half of a WebSocket player; undefined over HTTP. */
  readonly #ws: LiveWebSocketInput | undefined;
  readonly #wsHead: Buffer | undefined;
  #sub: Subscriber | undefined;
  #stopped = false;
  readonly #onDrain = (): void => this.#sub?.resume();
  readonly #onSocketClose = (): void => this.stop('client closed');
  readonly #onSocketError = (): void => this.stop('socket error');
  readonly #onUnpublish = (): void => this.stop('stream unpublished');

  constructor(body: HttpLiveBody, opts: HttpLiveStreamOptions) {
    this.#socket = body.socket;
    this.transport = body.transport;
    const framing = body.transport === 'websocket' ? 'websocket' : body.chunked ? 'http-chunked' : 'none';
    this.writer = new MergedSocketWriter(body.socket, { latencyMs: opts.mwLatencyMs, framing, onWritable: this.#onDrain });
    this.#onStop = opts.onStop;
    if (body.transport === 'websocket') {
      this.#ws = new LiveWebSocketInput(body.socket, this.writer, this);
      this.#wsHead = body.head;
    }
  }

  /** Body bytes handed to the socket so far (chunk framing excluded). */
  get bytesSent(): number {
    return this.writer.bytesWritten;
  }

  /** Messages the hub's queue dropped for this player (it fell behind); 0 before `play`. */
  get droppedMessages(): number {
    return this.#sub?.stats().droppedMessages ?? 0;
  }

  /** True once `stop` ran (for whatever reason): nothing more is written. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Start playing `key`: write `cached` (the fast cache's snapshot, used when `usesFastCache`), then subscribe in
   * the same tick, so no live message falls between the two (the hub delivers metadata → sequence headers → GOP
   * → live). From then on the socket's 'drain' resumes the hub's queue and its 'close'/'error' stop the player.
   * @throws whatever HubPort.subscribe throws (GatewayError GW_ERR_STREAM_BUSY while the gateway stops); the
   *   stream is then not attached and the caller answers the request.
   */
  play(hub: HubPort, key: StreamKey, who: SessionInfo, opts: ConsumerOptions = {}, cached?: readonly RtmpMessage[]): void {
    if (this.usesFastCache && cached !== undefined && cached.length > 0) this.prime(cached);
    this.beforeSubscribe(hub, key);
    try {
      this.#sub = hub.subscribe(key, who, this, opts);
    } catch (err) {
      this.afterStop();
      throw err;
    }
    const socket = this.#socket;
    socket.on('drain', this.#onDrain);
    socket.on('close', this.#onSocketClose);
    socket.on('error', this.#onSocketError);
    if (socket.destroyed) process.nextTick(this.#onSocketClose); // it closed before we listened
    else this.#ws?.start(this.#wsHead);
  }

  /** ConsumerTarget: encode one message; false = the socket is full, the hub queues until 'drain'. */
  send(msg: RtmpMessage): boolean {
    if (this.#stopped || !this.encode(msg)) return true;
    return this.writer.underHighWater(HTTP_STREAM_HIGH_WATER_BYTES);
  }

  /** ConsumerTarget: an unpublish ends the response (deferred: the hub is iterating its consumers). */
  onSourceEvent(event: SourceEvent): void {
    if (event === 'unpublish' && !this.#stopped) process.nextTick(this.#onUnpublish);
  }

  /** ConsumerTarget: the hub detached this player (gateway stopping, target failed). */
  onClose(reason: string): void {
    this.stop(reason);
  }

  /**
   * Stop the player: leave the hub, tell the owner (`onStop`), flush what is queued, write the end of the body
   * (the zero chunk when chunked; over WebSocket a Close frame with `closeStatus`) and end the connection.
   * Idempotent.
   * @param closeStatus WebSocket only (RFC 6455 §7.4.1): 1000 Normal Closure by default (unpublish), 1001 Going
   *   Away when the gateway stops, the player's own status echoed, 1002/1007/1009 for its protocol errors.
   */
  stop(reason: string, closeStatus: number = WebSocketCloseStatus.NormalClosure): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const socket = this.#socket;
    socket.off('drain', this.#onDrain); // 'close'/'error' stay: a later socket error must find a listener
    this.#sub?.close();
    if (this.#sub !== undefined) this.afterStop();
    this.#onStop?.(reason);
    this.writer.end(closeStatus);
    this.#ws?.close();
    if (!socket.destroyed) socket.end();
  }

  /**
   * Encode `msg` into `this.writer`.
   * @returns true when bytes may have been queued (`send` then reports backpressure); false when the message was
   *   held or skipped (nothing written: `send` reports "not full").
   */
  protected abstract encode(msg: RtmpMessage): boolean;

  /** Write the fast cache's messages before the hub's (see `play`). Formats with `usesFastCache` override it. */
  protected prime(_cached: readonly RtmpMessage[]): void {}

  /**
   * Called by `play` right before the player subscribes (shared per-stream state that must see the stream first).
   * @throws to refuse the player (`play` rethrows).
   */
  protected beforeSubscribe(_hub: HubPort, _key: StreamKey): void {}

  /** Called once after a subscribed player left the hub (or when subscribing failed after `beforeSubscribe`). */
  protected afterStop(): void {}

  /** Stop asynchronously (the hub is delivering when an encoder finds a fatal problem). */
  protected fail(reason: string): void {
    if (!this.#stopped) process.nextTick(() => this.stop(reason));
  }
}

/**
 * HTTP-FLV: the FLV header's TypeFlags depend on which tracks the stream has, so the configs the hub delivers
 * first are held until the first media message (held-configs.ts); then the header (flags from the held configs +
 * first media), the held configs' tags, and from then on each message's cached FLV tag.
 */
export class HttpFlvStream extends HttpLiveStream {
  readonly format = 'flv';
  readonly usesFastCache = false;
  readonly #held = new HeldConfigs();

  protected encode(msg: RtmpMessage): boolean {
    const held = this.#held.offer(msg);
    if (held === 'held') return false;
    if (held !== undefined) this.#start(held, msg);
    this.writer.writeMedia(flvTag(msg), true);
    return true;
  }

  #start(held: readonly RtmpMessage[], first: RtmpMessage): void {
    let hasAudio = first.type === MessageType.Audio;
    let hasVideo = first.type === MessageType.Video;
    for (const m of held) {
      if (m.kind === 'audio-config') hasAudio = true;
      if (m.kind === 'video-config') hasVideo = true;
    }
    this.writer.writeMedia(flvFileHeader(hasAudio, hasVideo));
    for (const m of held) this.writer.writeMedia(flvTag(m), true);
  }
}

/**
 * Live MPEG-TS for one player: the stream's shared packets (http-ts-fanout.ts), with discontinuity_indicator on
 * copies of the first packet of each PID after packets this player skipped.
 */
export class HttpTsStream extends HttpLiveStream {
  readonly format = 'ts';
  readonly usesFastCache = false;
  #fanout: TsFanout | undefined;
  #started = false;
  /** `seq` of the last chunk written. */
  #lastSeq = -1;
  /** PIDs whose first packet after a gap is still to come (flagged then); empty while in step. */
  #pending: number[] = [];
  /** Scratch list for markDiscontinuities. */
  readonly #parts: Buffer[] = [];

  protected override beforeSubscribe(hub: HubPort, key: StreamKey): void {
    this.#fanout = acquireTsFanout(hub, key);
  }

  protected override afterStop(): void {
    this.#fanout?.release();
    this.#fanout = undefined;
  }

  protected encode(msg: RtmpMessage): boolean {
    const fanout = this.#fanout;
    if (fanout === undefined) return false;
    const chunk = fanout.chunkOf(msg);
    if (chunk === undefined) {
      if (fanout.failure !== undefined) this.fail(fanout.failure);
      return false;
    }
    if (!this.#started) {
      this.#started = true; // a join: the first packets' counters need no flag
      const tables = fanout.tables;
      if (!chunk.startsWithTables && tables !== undefined) this.writer.writeMedia(tables, true);
    } else if (chunk.seq !== this.#lastSeq + 1) {
      this.#pending = fanout.programPids.slice(); // skipped chunks: every PID's counter may jump
    }
    this.#lastSeq = chunk.seq;
    if (this.#pending.length > 0) {
      const parts = this.#parts;
      if (markDiscontinuities(chunk.bytes, this.#pending, parts)) {
        for (const part of parts) this.writer.writeMedia(part);
        parts.length = 0;
        return true;
      }
    }
    this.writer.writeMedia(chunk.bytes, true);
    return true;
  }
}

/** Audio-only live stream: raw MP3 frames (`.mp3`) or ADTS frames (`.aac`). Video is dropped. */
export class HttpAudioStream extends HttpLiveStream {
  readonly format: 'mp3' | 'aac';
  readonly usesFastCache = true;
  #asc: AudioSpecificConfig | undefined;
  /** Timestamp of the last primed audio message: hub audio up to it was sent already. -1 = none. */
  #primedUntilMs = -1;

  constructor(format: 'mp3' | 'aac', body: HttpLiveBody, opts: HttpLiveStreamOptions) {
    super(body, opts);
    this.format = format;
  }

  /**
   * The fast cache's snapshot (an AAC sequence header, then audio oldest first), written before the hub's
   * messages. Audio the hub then delivers with a timestamp at or before the last cached one is skipped, until
   * newer audio arrives.
   */
  protected override prime(cached: readonly RtmpMessage[]): void {
    let last = -1;
    for (const m of cached) {
      this.#write(m);
      if (m.kind === 'audio') last = m.timestamp;
    }
    if (last >= 0) this.#primedUntilMs = last;
  }

  protected encode(msg: RtmpMessage): boolean {
    if (msg.type !== MessageType.Audio) return false;
    if (this.#primedUntilMs >= 0 && msg.kind === 'audio') {
      if (msg.timestamp <= this.#primedUntilMs) return false;
      this.#primedUntilMs = -1;
    }
    this.#write(msg);
    return true;
  }

  #write(msg: RtmpMessage): void {
    if (msg.type !== MessageType.Audio) return;
    let h;
    try {
      h = readAudioTagHeader(msg.payload);
    } catch {
      return;
    }
    const body = msg.payload.subarray(h.headerLength);
    const wanted = this.format === 'mp3' ? SoundFormat.Mp3 : SoundFormat.Aac;
    if (h.soundFormat !== wanted) {
      this.fail(`stream audio (SoundFormat ${h.soundFormat}) cannot be served as .${this.format}`);
      return;
    }
    if (this.format === 'mp3') {
      if (body.length > 0) this.writer.writeMedia(body);
    } else if (h.aacPacketType === AacPacketType.SequenceHeader) {
      try {
        this.#asc = parseAudioSpecificConfig(body);
      } catch {
        this.#asc = undefined;
      }
    } else if (this.#asc !== undefined && body.length > 0 && body.length + ADTS_HEADER_LENGTH <= MAX_ADTS_FRAME_LENGTH) {
      const adts = Buffer.allocUnsafe(ADTS_HEADER_LENGTH);
      try {
        writeAdtsHeader(adts, 0, this.#asc, body.length);
      } catch {
        this.fail('the AudioSpecificConfig cannot be expressed in ADTS');
        return;
      }
      this.writer.writeMedia(adts);
      this.writer.writeMedia(body);
    }
  }
}
