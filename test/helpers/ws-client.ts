/**
 * A minimal WebSocket client for tests (RFC 6455), written apart from core/protocol/websocket so the server is
 * checked against an independent reading of the RFC: the opening handshake on a raw TCP socket, masked client
 * frames, and a parser of the server's frames that rejects what a server must not send (masked frames, RSV bits).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface WsFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

export interface WsClient {
  readonly socket: Socket;
  /** The response head (status line + headers) the server sent. */
  readonly responseHead: string;
  /** Every frame received so far, in order. */
  readonly frames: WsFrame[];
  /** Send one client frame (FIN set unless `fin` is false), masked with a random key unless `masked` is false. */
  send(opcode: number, payload?: Uint8Array, opts?: { fin?: boolean; masked?: boolean }): void;
  /** Resolves when the TCP connection is closed. */
  readonly closed: Promise<void>;
  /** A protocol violation seen in the server's frames (undefined = none). */
  readonly violation: () => string | undefined;
}

/** Build a client frame (RFC 6455 §5.2): masked with a random key. */
export function maskedFrame(opcode: number, payload: Uint8Array, opts: { fin?: boolean; masked?: boolean } = {}): Buffer {
  const masked = opts.masked ?? true;
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? n : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(n, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(n), 2);
  const body = Buffer.from(payload);
  if (masked) {
    const key = randomBytes(4);
    key.copy(head, 2 + ext);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4] as number;
  }
  return Buffer.concat([head, body]);
}

/**
 * Open `ws://127.0.0.1:port/path`: send the handshake and wait for the response head. Resolves whatever the
 * status (check `responseHead`); frames after a 101 are parsed into `frames`.
 */
export function connectWebSocket(port: number, path: string, extraHeaders = ''): Promise<WsClient> {
  const key = randomBytes(16).toString('base64');
  const socket = connect(port, '127.0.0.1');
  const frames: WsFrame[] = [];
  let buf = Buffer.alloc(0);
  let head: string | undefined;
  let violation: string | undefined;
  const closed = new Promise<void>((ok) => socket.once('close', () => ok()));
  socket.on('error', () => undefined);
  const parse = (): void => {
    for (;;) {
      if (buf.length < 2) return;
      const b0 = buf[0] as number;
      const b1 = buf[1] as number;
      if ((b1 & 0x80) !== 0) violation ??= 'server frame is masked';
      if ((b0 & 0x70) !== 0) violation ??= 'RSV bits set';
      let len = b1 & 0x7f;
      let o = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        o = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        o = 10;
      }
      if (buf.length < o + len) return;
      frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: Buffer.from(buf.subarray(o, o + len)) });
      buf = buf.subarray(o + len);
    }
  };
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (head === undefined) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        const client: WsClient = {
          socket, responseHead: head, frames, closed, violation: () => violation,
          send: (opcode, payload = new Uint8Array(0), opts = {}) => { socket.write(maskedFrame(opcode, payload, opts)); },
        };
        if (!head.startsWith('HTTP/1.1 101')) {
          resolve(client);
          return;
        }
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (!head.includes(`\r\nSec-WebSocket-Accept: ${accept}`)) violation ??= 'wrong Sec-WebSocket-Accept';
        resolve(client);
      }
      if (head.startsWith('HTTP/1.1 101')) parse();
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`);
  });
}

/** The status code of a Close frame's payload (1005 when it has none). */
export function closeStatusOf(frame: WsFrame | undefined): number | undefined {
  if (frame === undefined || frame.opcode !== 0x8) return undefined;
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}
