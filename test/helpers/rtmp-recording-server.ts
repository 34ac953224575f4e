/**
 * A small RTMP server on the real server stack (core/protocol/rtmp/rtmp-connection.ts) that records what a pusher
 * sends, per connection (`kind@timestamp`, `meta@ts` for data); publish can be held. Plus labelled test messages.
 * Used by the RTMP push and forward unit tests.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { RtmpServerConnection } from '../../core/protocol/rtmp/rtmp-connection.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';
import { encodeAmf0, Amf0EcmaArray } from '../../core/protocol/amf0.ts';

/** Records what a pusher sends; publish can be held (`hold`, then `release()`). */
export class RecordingServer {
  readonly server: Server;
  readonly received: string[][] = [];
  readonly events: string[] = [];
  readonly sockets: Socket[] = [];
  hold = false;
  readonly #held: (() => void)[] = [];
  port = 0;

  constructor() {
    this.server = createServer((socket) => {
      const connIndex = this.received.push([]) - 1;
      this.sockets.push(socket);
      const conn: RtmpServerConnection = new RtmpServerConnection({
        write: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        handler: {
          onConnect: () => undefined,
          onPublish: (id, name) => {
            this.events.push(`publish ${name}`);
            const start = (): void => conn.publishStarted(id, name);
            if (this.hold) this.#held.push(start);
            else start();
          },
          onPlay: () => {},
          onMedia: (_id, type, ts, payload) => {
            this.received[connIndex].push(`${type === MessageType.Data ? 'meta' : createMessage(type, ts, payload)?.kind}@${ts}`);
          },
          onStreamClosed: (_id, reason) => {
            this.events.push(reason);
          },
          onIgnored: () => {},
        },
      });
      socket.on('data', (d: Buffer) => {
        try {
          conn.push(d);
        } catch {
          socket.destroy();
        }
      });
      socket.on('error', () => {});
    });
  }

  /** Listen on 127.0.0.1:port (default a free port). */
  async listen(port = 0): Promise<void> {
    await new Promise<void>((ok) => this.server.listen(port, '127.0.0.1', ok));
    const a = this.server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
  }

  release(): void {
    for (const f of this.#held.splice(0)) f();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  url(): string {
    return `rtmp://127.0.0.1:${this.port}/live/pushed`;
  }
}

function m(type: MessageType, ts: number, payload: number[] | Buffer): RtmpMessage {
  const msg = createMessage(type, ts, Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
  assert.ok(msg !== undefined);
  return msg;
}
/** Labelled messages: onMetaData, AVC/AAC sequence headers, H.264 key/inter frames (`size` payload bytes), AAC. */
export const meta = (ts: number): RtmpMessage => m(MessageType.Data, ts, encodeAmf0(['onMetaData', new Amf0EcmaArray({ width: 320 })]));
export const videoConfig = (ts: number): RtmpMessage => m(MessageType.Video, ts, [0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0]);
export const audioConfig = (ts: number): RtmpMessage => m(MessageType.Audio, ts, [0xaf, 0, 0x12, 0x10]);
export const key = (ts: number, size = 10): RtmpMessage => m(MessageType.Video, ts, Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(size, 0x65)]));
export const inter = (ts: number, size = 1): RtmpMessage => m(MessageType.Video, ts, Buffer.concat([Buffer.from([0x27, 1, 0, 0, 0]), Buffer.alloc(size, 0x41)]));
export const audio = (ts: number): RtmpMessage => m(MessageType.Audio, ts, [0xaf, 1, 0x21]);
