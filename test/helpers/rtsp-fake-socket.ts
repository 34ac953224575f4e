/**
 * An in-memory stand-in for the TCP socket of one RTSP connection, for unit tests of RtspSession without the
 * network: what the client sends is pushed into the readable side; what the server writes is parsed back into
 * RTSP responses (status line, headers, Content-Length body) and `$` interleaved frames, in wire order.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { waitFor } from './peers.ts';

export interface FakeRtspResponse {
  readonly status: number;
  /** Header names lower-cased. */
  readonly headers: ReadonlyMap<string, string>;
}

export interface FakeInterleavedFrame {
  readonly channel: number;
  readonly payload: Buffer;
}

export class FakeRtspSocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort = 50000;
  /** What the server wrote, parsed: responses and `$` frames in order. */
  readonly responses: FakeRtspResponse[] = [];
  readonly frames: FakeInterleavedFrame[] = [];
  #written = Buffer.alloc(0);
  #cseq = 0;
  /** A client that stopped reading: what the server writes stays queued (writableLength grows). */
  stalled = false;

  constructor(remoteAddress = '127.0.0.1') {
    super();
    this.remoteAddress = remoteAddress;
  }

  /** As net.Socket.setNoDelay (the session calls it). */
  setNoDelay(): this {
    return this;
  }

  /** The session takes a net.Socket; this fake has every member it uses. */
  asSocket(): Socket {
    return this as unknown as Socket;
  }

  /** Client → server bytes. */
  send(raw: string | Buffer): void {
    this.push(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
  }

  /** A request with the next CSeq; Content-Length is added for a body. */
  request(method: string, uri: string, headers: Record<string, string> = {}, body = ''): void {
    let text = `${method} ${uri} RTSP/1.0\r\nCSeq: ${++this.#cseq}\r\n`;
    for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
    if (body.length > 0) text += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    this.send(`${text}\r\n${body}`);
  }

  /** Send a request (next CSeq) and wait up to 3 s for its response. */
  async call(method: string, uri: string, headers: Record<string, string> = {}, body = ''): Promise<FakeRtspResponse> {
    const n = this.responses.length;
    this.request(method, uri, headers, body);
    await waitFor(() => this.responses.length > n, 3000, 1);
    return this.responses[n] as FakeRtspResponse;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.stalled) return; // never acknowledged: the stream keeps it (and everything after it) queued
    this.#written = Buffer.concat([this.#written, chunk]);
    this.#parse();
    done();
  }

  #parse(): void {
    for (;;) {
      const b = this.#written;
      if (b.length === 0) return;
      if (b[0] === 0x24) {
        if (b.length < 4 || b.length < 4 + b.readUInt16BE(2)) return;
        const length = b.readUInt16BE(2);
        this.frames.push({ channel: b[1] as number, payload: Buffer.from(b.subarray(4, 4 + length)) });
        this.#written = b.subarray(4 + length);
        continue;
      }
      const end = b.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = b.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get('content-length') ?? '0');
      if (b.length < end + 4 + length) return;
      const m = /^RTSP\/1\.0 (\d{3}) /.exec(lines[0] ?? '');
      this.responses.push({ status: m === null ? -1 : Number(m[1]), headers });
      this.#written = b.subarray(end + 4 + length);
    }
  }
}
