/**
 * A tiny scripted RTSP client for tests of the RTSP caster's protocol handling (status codes, state machine,
 * garbage): it writes raw request text and reads RTSP responses (status line, headers, Content-Length body).
 * Real pushes are done by ffmpeg and GStreamer; this only drives what they never send.
 */
import { connect, type Socket } from 'node:net';

export interface RtspTestResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/** Bounded wait for one response. */
const RESPONSE_TIMEOUT_MS = 5_000;

export class RtspTestClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #closed = false;
  #cseq = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RtspTestClient> {
    return new Promise((ok, fail) => {
      const s = connect(port, host, () => ok(new RtspTestClient(s)));
      s.once('error', fail);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Local port of the TCP connection. */
  get localAddress(): string {
    return this.socket.localAddress ?? '';
  }

  write(raw: string | Buffer): void {
    this.socket.write(raw);
  }

  /** Send a request with the next CSeq and the given headers/body; resolves with its response. */
  async request(method: string, uri: string, headers: Record<string, string> = {}, body = ''): Promise<RtspTestResponse> {
    this.#cseq++;
    let text = `${method} ${uri} RTSP/1.0\r\nCSeq: ${this.#cseq}\r\n`;
    for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
    if (body.length > 0) text += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    text += `\r\n${body}`;
    this.write(text);
    return this.response();
  }

  /** The next response (rejects after RESPONSE_TIMEOUT_MS or when the connection closes first). */
  async response(): Promise<RtspTestResponse> {
    const deadline = Date.now() + RESPONSE_TIMEOUT_MS;
    for (;;) {
      const r = this.#take();
      if (r !== undefined) return r;
      if (this.#closed) throw new Error('connection closed before a response');
      if (Date.now() > deadline) throw new Error('no RTSP response in time');
      await new Promise<void>((ok) => {
        const t = setTimeout(ok, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          ok();
        });
      });
    }
  }

  /** Resolves when the server has closed the connection (or rejects after timeoutMs). */
  async waitClosed(timeoutMs = RESPONSE_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #take(): RtspTestResponse | undefined {
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get('content-length') ?? '0');
    if (this.#buffer.length < end + 4 + length) return undefined;
    const body = this.#buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.#buffer = this.#buffer.subarray(end + 4 + length);
    const m = /^RTSP\/1\.0 (\d{3})/.exec(head[0] ?? '');
    return { status: m === null ? -1 : Number(m[1]), headers, body };
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** An SDP as ffmpeg sends it for H.264 + AAC (control streamid=N), for scripted sessions. */
export function h264AacSdp(): string {
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=No Name',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=video 0 RTP/AVP 96',
    'b=AS:200',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z2QADKzZQUH7ARAAAAMAEAAAAwMg8UKZYA==,aOvjyyLA; profile-level-id=64000C',
    'a=control:streamid=0',
    'm=audio 0 RTP/AVP 97',
    'a=rtpmap:97 MPEG4-GENERIC/44100/2',
    'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=121056E500',
    'a=control:streamid=1',
    '',
  ].join('\r\n');
}
