/**
 * RTMP client connection, publish role (Adobe RTMP spec 1.0 sections 5 and 7): simple handshake (5.2.3:
 * C0+C1 → S0+S1 → C2 → S2), then Set Chunk Size, connect (7.2.1.1), releaseStream + FCPublish + createStream
 * (7.2.1.3), publish(name, 'live') (7.2.2.6) and media. Bytes in through `push`, bytes out through the `write`
 * callback; no socket, no timer, no logger (the session, core/output/rtmp-push.ts, owns those).
 *
 * Handled from the server: Set Chunk Size (applied by the chunk reader), Window Acknowledgement Size (we send
 * Acknowledgement once that many bytes came in), Set Peer Bandwidth (answered with Window Acknowledgement Size
 * when it differs from the last one sent, 5.4.5), User Control PingRequest → PingResponse, `_result`/`_error`
 * by transaction id, and `onStatus`: NetStream.Publish.Start = ready; any error-level status (Publish.BadName,
 * ...) or `_error` to connect/createStream/publish = failure with the server's description. `_error` to
 * releaseStream/FCPublish is ignored (Adobe-specific leftovers some servers refuse; ffmpeg ignores it too).
 *
 * Errors never throw out of `push`: a protocol violation from the server (garbage handshake, bad chunks, bad
 * AMF0) or a refusal is reported once through `onError(GatewayError)` and the connection stops reading.
 * Chunk stream ids are the server's (rtmp-commands.ts ChunkStreamId): 2 control, 3 NetConnection commands,
 * 4 audio, 5 stream commands and data, 6 video; so media chunks cached for players are shared with the push.
 * Reference: SRS SrsRtmpClient (srs_protocol_rtmp_stack.cpp), ffmpeg libavformat/rtmpproto.c, librtmp.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, GatewayError, isGatewayError } from '../../errors.ts';
import { MessageType, type RtmpMessage } from '../../media/message.ts';
import { encodeAmf0, type Amf0Value } from '../amf0.ts';
import { ChunkReader, RtmpTypeId, UserControlEvent, type RtmpChunkMessage } from './chunk-reader.ts';
import {
  acknowledgementMessage,
  encodeChunks,
  mediaChunks,
  setChunkSizeMessage,
  userControlMessage,
  windowAckSizeMessage,
} from './chunk-writer.ts';
import { RTMP_HANDSHAKE_SIZE, RTMP_VERSION } from './handshake.ts';
import { amf0Property, ChunkStreamId, commandMessage, dataMessageName, parseCommand } from './rtmp-commands.ts';

/** Our outgoing chunk size, announced before connect (SRS/NMS/nginx-rtmp use large chunks for media). */
export const CLIENT_OUT_CHUNK_SIZE = 60_000;
/** flashVer we announce in connect (FMLE-style: servers treat it as a publishing encoder). */
export const CLIENT_FLASH_VER = 'FMLE/3.0 (compatible; castgate)';
/** Max length of a server description we carry into an error message (it comes from the wire). */
const MAX_DESCRIPTION_CHARS = 512;

/** Transaction ids of our NetConnection commands (fixed order, one connection publishes one stream). */
const Transaction = { Connect: 1, ReleaseStream: 2, FcPublish: 3, CreateStream: 4, Publish: 5, FcUnpublish: 6, DeleteStream: 7 } as const;
/** Transactions whose `_error` is fatal (the others are ignored, see module header). */
const FATAL_TRANSACTIONS = new Set<number>([Transaction.Connect, Transaction.CreateStream, Transaction.Publish]);

export type RtmpClientState = 'handshake' | 'connecting' | 'creating-stream' | 'publishing' | 'ready' | 'failed' | 'closed';

export interface RtmpClientHandler {
  /** NetStream.Publish.Start arrived: media may be sent with `sendMedia`. */
  onPublishStart(): void;
  /** Fatal: the connection cannot publish (server refusal or protocol violation). Called at most once. */
  onError(err: GatewayError): void;
  /** Optional: any onStatus the server sent (for logs). */
  onStatus?(level: string, code: string, description: string): void;
}

export interface RtmpClientOptions {
  /** `rtmp://host[:port]/app` as sent in connect's tcUrl. */
  readonly tcUrl: string;
  /** Application name (connect's `app`), e.g. `live`. */
  readonly app: string;
  /** Stream name given to releaseStream/FCPublish/publish (may carry a `?query`). */
  readonly streamName: string;
  readonly handler: RtmpClientHandler;
  /** Called with bytes to send, in order. */
  readonly write: (bytes: Buffer) => void;
  /** Our chunk size, 1..0x7fffffff; default CLIENT_OUT_CHUNK_SIZE. */
  readonly outChunkSize?: number;
}

function clip(s: string): string {
  return s.length > MAX_DESCRIPTION_CHARS ? `${s.slice(0, MAX_DESCRIPTION_CHARS)}…` : s;
}

function amf0String(obj: Amf0Value, key: string): string {
  const v = amf0Property(obj, key);
  return typeof v === 'string' ? clip(v) : '';
}

export class RtmpClientConnection {
  readonly #opts: RtmpClientOptions;
  readonly #outChunkSize: number;
  readonly #reader: ChunkReader;
  /** S0+S1+S2 accumulated during the handshake. */
  #handshakeBuf: Buffer | undefined = Buffer.allocUnsafe(1 + 2 * RTMP_HANDSHAKE_SIZE);
  #handshakeHave = 0;
  #state: RtmpClientState = 'handshake';
  #started = false;
  #streamId = 0;
  #bytesIn = 0;
  #lastAckBytes = 0;
  #peerWindowAckSize = 0;
  #sentWindowAckSize = 0;

  constructor(opts: RtmpClientOptions) {
    this.#opts = opts;
    this.#outChunkSize = opts.outChunkSize ?? CLIENT_OUT_CHUNK_SIZE;
    this.#reader = new ChunkReader({ onMessage: (m) => this.#onMessage(m) });
  }

  get state(): RtmpClientState {
    return this.#state;
  }

  /** Message stream id the server gave createStream (0 before). */
  get streamId(): number {
    return this.#streamId;
  }

  /** Send C0+C1 (simple handshake: time 0, version 0, random bytes). Call once the transport is connected. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const c0c1 = Buffer.allocUnsafe(1 + RTMP_HANDSHAKE_SIZE);
    c0c1[0] = RTMP_VERSION;
    randomBytes(RTMP_HANDSHAKE_SIZE).copy(c0c1, 1);
    c0c1.writeUInt32BE(0, 1); // time
    c0c1.writeUInt32BE(0, 5); // zero version field: simple handshake (5.2.3)
    this.#opts.write(c0c1);
  }

  /** Feed bytes from the server. Never throws: failures go to `handler.onError` once, later bytes are ignored. */
  push(data: Buffer): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    try {
      this.#bytesIn += data.length;
      const rest = this.#handshakeBuf === undefined ? data : this.#pushHandshake(data);
      if (rest !== undefined && rest.length > 0) this.#reader.push(rest);
      if (this.#peerWindowAckSize > 0 && this.#bytesIn - this.#lastAckBytes >= this.#peerWindowAckSize) {
        this.#lastAckBytes = this.#bytesIn;
        this.#opts.write(acknowledgementMessage(this.#bytesIn));
      }
    } catch (err) {
      this.#fail(isGatewayError(err) ? err : new GatewayError(ErrorCode.RtmpCommand, `RTMP client: ${(err as Error).message}`, { cause: err }));
    }
  }

  /**
   * Send one media message on the publishing stream: audio (csid 4) and video (csid 6) as they are (chunks cached
   * on the message), metadata as `@setDataFrame` + the stored `onMetaData` body (csid 5). Timestamps as given.
   * Ignored unless `state` is 'ready'.
   */
  sendMedia(msg: RtmpMessage): void {
    if (this.#state !== 'ready') return;
    if (msg.type === MessageType.Audio) this.#opts.write(mediaChunks(msg, this.#outChunkSize, this.#streamId, ChunkStreamId.Audio));
    else if (msg.type === MessageType.Video) this.#opts.write(mediaChunks(msg, this.#outChunkSize, this.#streamId, ChunkStreamId.Video));
    else this.#opts.write(this.#metadataChunks(msg));
  }

  /** FCUnpublish + deleteStream (when publishing started), then state 'closed'. Idempotent. */
  unpublish(): void {
    if (this.#state === 'closed') return;
    const wasPublishing = this.#state === 'ready' || this.#state === 'publishing';
    this.#state = 'closed';
    if (!wasPublishing) return;
    this.#command(['FCUnpublish', Transaction.FcUnpublish, null, this.#opts.streamName]);
    this.#command(['deleteStream', Transaction.DeleteStream, null, this.#streamId]);
  }

  // ------------------------------------------------------------------------------------------- internals

  #metadataChunks(msg: RtmpMessage): Buffer {
    // The hub stores `onMetaData` + object; a publisher sends it behind @setDataFrame (SRS, ffmpeg).
    const body = dataMessageName(msg.payload) === 'onMetaData' ? Buffer.concat([encodeAmf0(['@setDataFrame']), msg.payload]) : msg.payload;
    const header = { chunkStreamId: ChunkStreamId.Data, messageStreamId: this.#streamId, typeId: RtmpTypeId.DataAmf0, timestampMs: msg.timestamp };
    return encodeChunks(header, body, this.#outChunkSize);
  }

  /** Accumulate S0+S1+S2; C2 (= S1 echo) goes out once S1 is in. Returns the bytes after S2, if complete. */
  #pushHandshake(data: Buffer): Buffer | undefined {
    const buf = this.#handshakeBuf as Buffer;
    if (this.#handshakeHave === 0 && data.length > 0 && data[0] !== RTMP_VERSION) {
      throw new GatewayError(ErrorCode.RtmpHandshake, `S0 version ${data[0]} is not ${RTMP_VERSION} (not an RTMP server?)`);
    }
    const before = this.#handshakeHave;
    const take = Math.min(data.length, buf.length - before);
    data.copy(buf, before, 0, take);
    this.#handshakeHave += take;
    const s1End = 1 + RTMP_HANDSHAKE_SIZE;
    if (before < s1End && this.#handshakeHave >= s1End) this.#opts.write(Buffer.from(buf.subarray(1, s1End))); // C2
    if (this.#handshakeHave < buf.length) return undefined;
    this.#handshakeBuf = undefined; // S2 content is not checked (librtmp and SRS do not either)
    this.#state = 'connecting';
    this.#opts.write(setChunkSizeMessage(this.#outChunkSize));
    const { tcUrl, app } = this.#opts;
    this.#command(['connect', Transaction.Connect, { app, type: 'nonprivate', flashVer: CLIENT_FLASH_VER, tcUrl }]);
    return data.subarray(take);
  }

  #command(values: Amf0Value[], messageStreamId = 0): void {
    const csid = messageStreamId === 0 ? ChunkStreamId.Command : ChunkStreamId.Data;
    this.#opts.write(commandMessage(values, messageStreamId, this.#outChunkSize, csid));
  }

  #fail(err: GatewayError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    this.#opts.handler.onError(err);
  }

  #u32(m: RtmpChunkMessage, what: string): number {
    if (m.payload.length < 4) throw new GatewayError(ErrorCode.RtmpChunk, `${what} of ${m.payload.length} bytes`);
    return m.payload.readUInt32BE(0);
  }

  #onMessage(m: RtmpChunkMessage): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    switch (m.typeId) {
      case RtmpTypeId.WindowAckSize:
        this.#peerWindowAckSize = this.#u32(m, 'Window Acknowledgement Size');
        return;
      case RtmpTypeId.SetPeerBandwidth: {
        const size = this.#u32(m, 'Set Peer Bandwidth');
        if (size > 0 && size !== this.#sentWindowAckSize) {
          this.#sentWindowAckSize = size;
          this.#opts.write(windowAckSizeMessage(size));
        }
        return;
      }
      case RtmpTypeId.UserControl:
        if (m.payload.length < 2) throw new GatewayError(ErrorCode.RtmpChunk, `User Control of ${m.payload.length} bytes`);
        if (m.payload.readUInt16BE(0) === UserControlEvent.PingRequest && m.payload.length >= 6) {
          this.#opts.write(userControlMessage(UserControlEvent.PingResponse, m.payload.readUInt32BE(2)));
        }
        return; // StreamBegin and the rest: nothing to do for a publisher
      case RtmpTypeId.CommandAmf0:
      case RtmpTypeId.CommandAmf3:
        return this.#onCommand(m);
      default:
        return; // Acknowledgement, data (|RtmpSampleAccess, onBWDone...), media: not for a publisher
    }
  }

  #onCommand(m: RtmpChunkMessage): void {
    const cmd = parseCommand(m.typeId === RtmpTypeId.CommandAmf3 ? m.payload.subarray(1) : m.payload);
    const info = cmd.args[0];
    if (cmd.name === '_error') {
      if (!FATAL_TRANSACTIONS.has(cmd.transactionId)) return;
      const code = amf0String(info, 'code');
      throw new GatewayError(ErrorCode.RtmpCommand, `server refused (transaction ${cmd.transactionId}): ${code} ${amf0String(info, 'description')}`.trim());
    }
    if (cmd.name === 'onStatus') {
      const level = amf0String(info, 'level');
      const code = amf0String(info, 'code');
      const description = amf0String(info, 'description');
      this.#opts.handler.onStatus?.(level, code, description);
      if (level === 'error' || code === 'NetStream.Publish.BadName') {
        throw new GatewayError(ErrorCode.RtmpCommand, `publish refused: ${code} ${description}`.trim());
      }
      if (code === 'NetStream.Publish.Start' && this.#state === 'publishing') {
        this.#state = 'ready';
        this.#opts.handler.onPublishStart();
      }
      return;
    }
    if (cmd.name !== '_result') return; // onBWDone, onFCPublish, ...: informational
    if (cmd.transactionId === Transaction.Connect && this.#state === 'connecting') {
      const code = amf0String(info, 'code');
      if (code !== '' && code !== 'NetConnection.Connect.Success') {
        throw new GatewayError(ErrorCode.RtmpCommand, `connect refused: ${code} ${amf0String(info, 'description')}`.trim());
      }
      this.#state = 'creating-stream';
      const name = this.#opts.streamName;
      this.#command(['releaseStream', Transaction.ReleaseStream, null, name]);
      this.#command(['FCPublish', Transaction.FcPublish, null, name]);
      this.#command(['createStream', Transaction.CreateStream, null]);
      return;
    }
    if (cmd.transactionId === Transaction.CreateStream && this.#state === 'creating-stream') {
      if (typeof info !== 'number' || !Number.isInteger(info) || info < 0 || info > 0xffffffff) {
        throw new GatewayError(ErrorCode.RtmpCommand, `createStream result is not a stream id: ${String(info)}`);
      }
      this.#streamId = info;
      this.#state = 'publishing';
      this.#command(['publish', Transaction.Publish, null, this.#opts.streamName, 'live'], info);
    }
  }
}
