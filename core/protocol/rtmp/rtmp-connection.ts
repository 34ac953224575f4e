/**
 * RTMP server connection: handshake → chunk stream → protocol control → NetConnection/NetStream commands
 * (Adobe RTMP spec 1.0 sections 5 and 7). Bytes in through `push`, bytes out through the `write` callback;
 * no socket, no logger, no hub: the session (core/output/rtmp-server.ts) decides publish/play policy through
 * the handler and answers with the reply methods here.
 *
 * Handled: connect (Window Ack Size, Set Peer Bandwidth, Set Chunk Size, _result Connect.Success or _error
 * Connect.Rejected), releaseStream, FCPublish (onFCPublish), createStream, publish, play, deleteStream,
 * closeStream, FCUnpublish, getStreamLength; Acknowledgement when received bytes pass the peer's window;
 * PingRequest → PingResponse; @setDataFrame/onMetaData data messages (stored as `onMetaData` + object).
 * Reference: SRS SrsRtmpServer (srs_protocol_rtmp_stack.cpp), SrsRtmpConn; NMS rtmp_session.js.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { MessageType, type RtmpMessage } from '../../media/message.ts';
import type { Amf0Value } from '../amf0.ts';
import { ChunkReader, RtmpTypeId, UserControlEvent, type RtmpChunkMessage } from './chunk-reader.ts';
import {
  acknowledgementMessage,
  mediaChunks,
  PeerBandwidthLimit,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from './chunk-writer.ts';
import { ServerHandshake } from './handshake.ts';
import {
  amf0Property,
  ChunkStreamId,
  commandMessage,
  connectRejectedValues,
  connectResultValues,
  dataMessage,
  metadataBody,
  onStatusValues,
  parseCommand,
  type RtmpCommand,
} from './rtmp-commands.ts';

/** Window Acknowledgement Size and Set Peer Bandwidth we announce (SRS/NMS value). */
export const DEFAULT_WINDOW_ACK_SIZE = 2_500_000;
/** Outgoing chunk size announced after connect (SRS/NMS use 60000: few chunk headers per frame). */
export const DEFAULT_OUT_CHUNK_SIZE = 60_000;
/** Max NetStreams one connection may create (clients use one). */
export const RTMP_MAX_STREAMS_PER_CONNECTION = 16;

export interface ConnectInfo {
  readonly app: string;
  readonly tcUrl: string | undefined;
  readonly flashVer: string | undefined;
  readonly objectEncoding: number;
  /** The page that embedded a Flash player (SRS pageUrl, http_hooks on_connect / on_play). */
  readonly pageUrl?: string | undefined;
}

/** Decisions and events the session handles. Each may throw; the session then closes the connection. */
export interface RtmpConnectionHandler {
  /** connect: undefined to accept, else the rejection description (NetConnection.Connect.Rejected). */
  onConnect(info: ConnectInfo): string | undefined;
  /** publish on a created stream; answer with publishStarted or publishRejected. */
  onPublish(streamId: number, streamName: string, publishType: string): void;
  /** play on a created stream; answer with playStarted (then send media) or sendStatus(error). */
  onPlay(streamId: number, streamName: string): void;
  /** Audio, video or metadata (`onMetaData` body) received on `streamId`. `payload` is owned. */
  onMedia(streamId: number, type: MessageType, timestampMs: number, payload: Buffer): void;
  /** deleteStream / closeStream / FCUnpublish: publishing or playing on `streamId` ends. */
  onStreamClosed(streamId: number, reason: string): void;
  /** Something ignored (unknown command, other data message, unsupported message type): for debug logs. */
  onIgnored(what: string): void;
}

export interface RtmpServerConnectionOptions {
  readonly handler: RtmpConnectionHandler;
  /** Called with bytes to send, in order. */
  readonly write: (bytes: Buffer) => void;
  /** Our chunk size after connect, 1..0x7fffffff; default DEFAULT_OUT_CHUNK_SIZE. */
  readonly outChunkSize?: number;
  readonly windowAckSize?: number;
}

export class RtmpServerConnection {
  readonly #handler: RtmpConnectionHandler;
  readonly #write: (bytes: Buffer) => void;
  readonly #configuredChunkSize: number;
  readonly #windowAckSize: number;
  #handshake: ServerHandshake | undefined = new ServerHandshake();
  readonly #reader: ChunkReader;
  /** Our chunk size in effect (128 until Set Chunk Size is sent). */
  #outChunkSize = 128;
  #connected = false;
  #connectInfo: ConnectInfo | undefined;
  #bytesIn = 0;
  #peerWindowAckSize = 0;
  #lastAckBytes = 0;
  #nextStreamId = 1;
  readonly #streams = new Set<number>();
  /** streamId → name given to publish (for FCUnpublish, which names the stream instead). */
  readonly #publishedNames = new Map<number, string>();

  constructor(opts: RtmpServerConnectionOptions) {
    this.#handler = opts.handler;
    this.#write = opts.write;
    this.#configuredChunkSize = opts.outChunkSize ?? DEFAULT_OUT_CHUNK_SIZE;
    this.#windowAckSize = opts.windowAckSize ?? DEFAULT_WINDOW_ACK_SIZE;
    this.#reader = new ChunkReader({ onMessage: (m) => this.#onMessage(m) });
  }

  /** The connect command's parameters, once connected. */
  get connectInfo(): ConnectInfo | undefined {
    return this.#connectInfo;
  }

  get handshakeDone(): boolean {
    return this.#handshake === undefined;
  }

  /** Our outgoing chunk size now (what media must be chunked with). */
  get outChunkSize(): number {
    return this.#outChunkSize;
  }

  /**
   * Feed socket bytes.
   * @throws GatewayError (handshake, chunk, AMF0, command errors; or whatever the handler throws): the caller
   *   closes this connection.
   */
  push(data: Buffer): void {
    this.#bytesIn += data.length;
    let rest = data;
    if (this.#handshake !== undefined) {
      const step = this.#handshake.push(data);
      if (step.reply !== undefined) this.#write(step.reply);
      if (!step.done) return;
      this.#handshake = undefined;
      rest = step.rest;
    }
    if (rest.length > 0) this.#reader.push(rest);
    if (this.#peerWindowAckSize > 0 && this.#bytesIn - this.#lastAckBytes >= this.#peerWindowAckSize) {
      this.#lastAckBytes = this.#bytesIn;
      this.#write(acknowledgementMessage(this.#bytesIn));
    }
  }

  // ------------------------------------------------------------------------------------------- replies

  /** onStatus on a stream (csid 5, message stream id = streamId). */
  sendStatus(streamId: number, level: 'status' | 'error' | 'warning', code: string, description: string): void {
    this.#write(commandMessage(onStatusValues(level, code, description), streamId, this.#outChunkSize, ChunkStreamId.Data));
  }

  /** NetStream.Publish.Start. */
  publishStarted(streamId: number, streamName: string): void {
    this.#publishedNames.set(streamId, streamName);
    this.sendStatus(streamId, 'status', 'NetStream.Publish.Start', `Started publishing stream ${streamName}.`);
  }

  /** NetStream.Publish.BadName (stream busy): the first publisher keeps the key; the session then closes us. */
  publishRejected(streamId: number, description: string): void {
    this.sendStatus(streamId, 'error', 'NetStream.Publish.BadName', description);
  }

  /**
   * StreamBegin, NetStream.Play.Reset, NetStream.Play.Start, |RtmpSampleAccess. (No `onStatus`
   * NetStream.Data.Start data message as SRS sends: ffmpeg's FLV demuxer turns it into an extra data stream.)
   */
  playStarted(streamId: number, streamName: string): void {
    this.#write(userControlMessage(UserControlEvent.StreamBegin, streamId));
    this.sendStatus(streamId, 'status', 'NetStream.Play.Reset', `Playing and resetting ${streamName}.`);
    this.sendStatus(streamId, 'status', 'NetStream.Play.Start', `Started playing ${streamName}.`);
    this.#write(dataMessage(['|RtmpSampleAccess', true, true], streamId, this.#outChunkSize));
  }

  /** The chunks of a media message for a player on `streamId` (cached on the message; do not mutate). */
  encodeMedia(streamId: number, msg: RtmpMessage): Buffer {
    const csid = msg.type === MessageType.Audio ? ChunkStreamId.Audio : msg.type === MessageType.Video ? ChunkStreamId.Video : ChunkStreamId.Data;
    return mediaChunks(msg, this.#outChunkSize, streamId, csid);
  }

  // ------------------------------------------------------------------------------------------- input

  #onMessage(m: RtmpChunkMessage): void {
    switch (m.typeId) {
      case RtmpTypeId.Audio:
      case RtmpTypeId.Video:
        this.#requireConnected('media');
        this.#handler.onMedia(m.messageStreamId, m.typeId === RtmpTypeId.Audio ? MessageType.Audio : MessageType.Video, m.timestampMs, m.payload);
        return;
      case RtmpTypeId.DataAmf0:
      case RtmpTypeId.DataAmf3:
        return this.#onData(m, m.typeId === RtmpTypeId.DataAmf3 ? m.payload.subarray(1) : m.payload);
      case RtmpTypeId.CommandAmf0:
      case RtmpTypeId.CommandAmf3:
        return this.#onCommand(m, parseCommand(m.typeId === RtmpTypeId.CommandAmf3 ? m.payload.subarray(1) : m.payload));
      case RtmpTypeId.WindowAckSize:
        this.#peerWindowAckSize = this.#u32(m, 'Window Acknowledgement Size');
        return;
      case RtmpTypeId.SetPeerBandwidth: {
        const size = this.#u32(m, 'Set Peer Bandwidth');
        if (size !== this.#windowAckSize && size > 0) this.#write(windowAckSizeMessage(size));
        return;
      }
      case RtmpTypeId.Acknowledgement:
        return;
      case RtmpTypeId.UserControl:
        return this.#onUserControl(m);
      default:
        this.#handler.onIgnored(`message type ${m.typeId}`);
    }
  }

  #u32(m: RtmpChunkMessage, what: string): number {
    if (m.payload.length < 4) throw new GatewayError(ErrorCode.RtmpChunk, `${what} of ${m.payload.length} bytes`);
    return m.payload.readUInt32BE(0);
  }

  #onUserControl(m: RtmpChunkMessage): void {
    if (m.payload.length < 2) throw new GatewayError(ErrorCode.RtmpChunk, `User Control of ${m.payload.length} bytes`);
    const event = m.payload.readUInt16BE(0);
    if (event === UserControlEvent.PingRequest && m.payload.length >= 6) {
      this.#write(userControlMessage(UserControlEvent.PingResponse, m.payload.readUInt32BE(2)));
    }
    // SetBufferLength, PingResponse and others: nothing to do for a live server.
  }

  #onData(m: RtmpChunkMessage, body: Buffer): void {
    this.#requireConnected('data message');
    const meta = metadataBody(body);
    if (meta === undefined) return this.#handler.onIgnored('data message other than onMetaData');
    this.#handler.onMedia(m.messageStreamId, MessageType.Data, m.timestampMs, meta);
  }

  #requireConnected(what: string): void {
    if (!this.#connected) throw new GatewayError(ErrorCode.RtmpCommand, `${what} before connect`);
  }

  #reply(m: RtmpChunkMessage, values: Amf0Value[]): void {
    this.#write(commandMessage(values, m.messageStreamId, this.#outChunkSize, m.messageStreamId === 0 ? ChunkStreamId.Command : ChunkStreamId.Data));
  }

  #onCommand(m: RtmpChunkMessage, cmd: RtmpCommand): void {
    if (cmd.name === 'connect') return this.#onConnect(m, cmd);
    this.#requireConnected(`command '${cmd.name}'`);
    const arg0 = cmd.args[0];
    switch (cmd.name) {
      case 'createStream': {
        if (this.#streams.size >= RTMP_MAX_STREAMS_PER_CONNECTION) {
          throw new GatewayError(ErrorCode.RtmpCommand, `more than ${RTMP_MAX_STREAMS_PER_CONNECTION} streams`);
        }
        const id = this.#nextStreamId++;
        this.#streams.add(id);
        return this.#reply(m, ['_result', cmd.transactionId, null, id]);
      }
      case 'releaseStream':
        return this.#reply(m, ['_result', cmd.transactionId, null, undefined]);
      case 'FCPublish':
        this.#reply(m, ['_result', cmd.transactionId, null, undefined]);
        return this.#reply(m, ['onFCPublish', 0, null, { code: 'NetStream.Publish.Start', description: typeof arg0 === 'string' ? arg0 : '' }]);
      case 'getStreamLength':
        return this.#reply(m, ['_result', cmd.transactionId, null, 0]);
      case 'publish':
        return this.#handler.onPublish(m.messageStreamId, typeof arg0 === 'string' ? arg0 : '', typeof cmd.args[1] === 'string' ? cmd.args[1] : 'live');
      case 'play':
        return this.#handler.onPlay(m.messageStreamId, typeof arg0 === 'string' ? arg0 : '');
      case 'FCUnpublish': {
        for (const [id, name] of this.#publishedNames) {
          if (name === arg0) {
            this.#publishedNames.delete(id);
            this.#handler.onStreamClosed(id, 'FCUnpublish');
          }
        }
        return this.#reply(m, ['_result', cmd.transactionId, null, undefined]);
      }
      case 'closeStream':
        this.#publishedNames.delete(m.messageStreamId);
        return this.#handler.onStreamClosed(m.messageStreamId, 'closeStream');
      case 'deleteStream': {
        const id = typeof arg0 === 'number' ? arg0 : m.messageStreamId;
        this.#streams.delete(id);
        this.#publishedNames.delete(id);
        return this.#handler.onStreamClosed(id, 'deleteStream');
      }
      default:
        this.#handler.onIgnored(`command '${cmd.name}'`);
    }
  }

  #onConnect(m: RtmpChunkMessage, cmd: RtmpCommand): void {
    if (this.#connected) throw new GatewayError(ErrorCode.RtmpCommand, 'second connect on one connection');
    const app = amf0Property(cmd.commandObject, 'app');
    const tcUrl = amf0Property(cmd.commandObject, 'tcUrl');
    const flashVer = amf0Property(cmd.commandObject, 'flashVer');
    const objectEncoding = amf0Property(cmd.commandObject, 'objectEncoding');
    const pageUrl = amf0Property(cmd.commandObject, 'pageUrl');
    const info: ConnectInfo = {
      app: typeof app === 'string' ? app : '',
      tcUrl: typeof tcUrl === 'string' ? tcUrl : undefined,
      flashVer: typeof flashVer === 'string' ? flashVer : undefined,
      objectEncoding: typeof objectEncoding === 'number' ? objectEncoding : 0,
      pageUrl: typeof pageUrl === 'string' ? pageUrl : undefined,
    };
    const rejection = this.#handler.onConnect(info);
    if (rejection !== undefined) return this.#reply(m, connectRejectedValues(cmd.transactionId, rejection));
    this.#connected = true;
    this.#connectInfo = info;
    this.#write(windowAckSizeMessage(this.#windowAckSize));
    this.#write(setPeerBandwidthMessage(this.#windowAckSize, PeerBandwidthLimit.Dynamic));
    this.#write(setChunkSizeMessage(this.#configuredChunkSize));
    this.#outChunkSize = this.#configuredChunkSize;
    this.#reply(m, connectResultValues(cmd.transactionId, info.objectEncoding));
  }
}
