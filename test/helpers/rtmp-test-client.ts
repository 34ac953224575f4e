/**
 * A minimal in-process RTMP client for tests (Adobe RTMP spec 1.0): simple handshake (5.2.3), then AMF0 commands
 * written as the test says (they wait for the handshake to finish). Keeps every message, every onStatus code and
 * every audio/video message's timestamp and arrival time, so a test can follow one player across
 * unpublish/republish. Acknowledges received bytes when the server asks (5.4.3).
 */
import { connect, type Socket } from 'node:net';
import { decodeAmf0, encodeAmf0, type Amf0Value } from '../../core/protocol/amf0.ts';
import { ChunkReader, RtmpTypeId, type RtmpChunkMessage } from '../../core/protocol/rtmp/chunk-reader.ts';
import { acknowledgementMessage, encodeChunks } from '../../core/protocol/rtmp/chunk-writer.ts';
import { RTMP_HANDSHAKE_SIZE } from '../../core/protocol/rtmp/handshake.ts';
import { amf0Property } from '../../core/protocol/rtmp/rtmp-commands.ts';
import { waitFor } from './peers.ts';

export interface PlayedMessage {
  readonly typeId: number;
  readonly timestampMs: number;
  readonly bytes: number;
  /** Video: FLV FrameType 1 (keyframe or sequence header); audio: false. */
  readonly keyframe: boolean;
  /** An AAC (audio) or AVC/HEVC (video, FLV codec id 7/12) sequence header. */
  readonly config: boolean;
  /** Date.now() at arrival. */
  readonly atMs: number;
}

export interface StatusEvent {
  readonly code: string;
  readonly atMs: number;
}

export class RtmpTestClient {
  readonly socket: Socket;
  /** Every message from the server, in order. */
  readonly messages: RtmpChunkMessage[] = [];
  readonly media: PlayedMessage[] = [];
  readonly statuses: StatusEvent[] = [];
  readonly closed: Promise<void>;
  readonly #reader = new ChunkReader({ onMessage: (m) => this.#onMessage(m) });
  #skip = 1 + 2 * RTMP_HANDSHAKE_SIZE;
  /** Commands written before the handshake completes wait here (they must not be read as C2). */
  #pending: Buffer[] | undefined = [];
  #windowAckSize = 0;
  #lastAck = 0;

  /** Connect to 127.0.0.1:port and send C0+C1 (version 0: the simple handshake). */
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.closed = new Promise((ok) => this.socket.once('close', () => ok()));
    this.socket.on('data', (d: Buffer) => this.#onData(d));
    const c1 = Buffer.alloc(RTMP_HANDSHAKE_SIZE, 1);
    c1.writeUInt32BE(0, 4);
    this.socket.write(Buffer.concat([Buffer.of(3), c1]));
  }

  /** A client that plays `app/stream` at once (connect, createStream, play). */
  static player(port: number, app: string, stream: string): RtmpTestClient {
    const c = new RtmpTestClient(port);
    c.#play(`rtmp://127.0.0.1:${port}/${app}`, app, stream);
    return c;
  }

  command(values: Amf0Value[], messageStreamId = 0): void {
    const b = encodeChunks({ chunkStreamId: 3, messageStreamId, typeId: RtmpTypeId.CommandAmf0, timestampMs: 0 }, encodeAmf0(values), 128);
    if (this.#pending !== undefined) this.#pending.push(b);
    else this.socket.write(b);
  }

  /** onStatus / _error codes in arrival order. */
  statusCodes(): string[] {
    return this.statuses.map((s) => s.code);
  }

  /** connect (app 'live'), createStream, play; resolves at the first status. */
  async connectAndPlay(tcUrl: string, name: string): Promise<void> {
    this.#play(tcUrl, 'live', name);
    await waitFor(() => this.statuses.length > 0, 5_000);
  }

  close(): void {
    this.socket.destroy();
  }

  #play(tcUrl: string, app: string, name: string): void {
    this.command(['connect', 1, { app, tcUrl }]);
    this.command(['createStream', 2, null]);
    this.command(['play', 3, null, name], 1);
  }

  #onData(d: Buffer): void {
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, d.length);
      this.#skip -= n;
      if (this.#skip === 0) {
        this.socket.write(Buffer.alloc(RTMP_HANDSHAKE_SIZE)); // C2
        for (const b of this.#pending ?? []) this.socket.write(b);
        this.#pending = undefined;
      }
      d = d.subarray(n);
    }
    if (d.length === 0) return;
    this.#reader.push(d);
    const read = this.#reader.bytesRead;
    if (this.#windowAckSize > 0 && read - this.#lastAck >= this.#windowAckSize) {
      this.#lastAck = read;
      this.socket.write(acknowledgementMessage(read >>> 0));
    }
  }

  #onMessage(m: RtmpChunkMessage): void {
    this.messages.push(m);
    const atMs = Date.now();
    if (m.typeId === RtmpTypeId.Audio || m.typeId === RtmpTypeId.Video) {
      const keyframe = m.typeId === RtmpTypeId.Video && m.payload.length > 0 && (((m.payload[0] as number) >> 4) & 0x07) === 1;
      const p = m.payload;
      const config = p.length >= 2 && p[1] === 0 && (m.typeId === RtmpTypeId.Audio ? (p[0] as number) >> 4 === 10 : [7, 12].includes((p[0] as number) & 0x0f));
      this.media.push({ typeId: m.typeId, timestampMs: m.timestampMs, bytes: m.payload.length, keyframe, config, atMs });
    } else if (m.typeId === RtmpTypeId.WindowAckSize && m.payload.length >= 4) {
      this.#windowAckSize = m.payload.readUInt32BE(0);
    } else if (m.typeId === RtmpTypeId.CommandAmf0) {
      const v = decodeAmf0(m.payload);
      if (v[0] === 'onStatus' || v[0] === '_error') this.statuses.push({ code: String(amf0Property(v[3], 'code')), atMs });
    }
  }
}
