/**
 * RTSP 1.0 message framing for one server connection (RFC 2326 §6 Request, §7 Response, §10.12 Embedded
 * (Interleaved) Binary Data).
 *
 * A push client (ffmpeg, GStreamer rtspclientsink, a camera) sends requests and, after RECORD over TCP,
 * `$`-framed RTP/RTCP on the same socket: `'$' channel(8) length(16, big-endian) payload`. Both may be mixed and
 * pipelined and split across TCP chunks at any byte. RtspRequestReader keeps unconsumed chunks in a list with a
 * read offset (no concat per chunk): an interleaved payload that lies inside one chunk is returned as a view of
 * that chunk (never written by us), a payload spanning chunks is copied once. Request bodies are copied.
 *
 * Accepted requests: `METHOD SP URI SP RTSP/1.0` then `Name: value` header lines, ending in CRLF or bare LF,
 * then an empty line, then exactly Content-Length body bytes. Header folding is not supported. Any violation is
 * fatal for the connection: push() throws RtspRequestError with the status to answer before closing.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** Bound on the request line in bytes (gortsplib's requestMaxURLLength is 4096 too); longer → 414. */
export const RTSP_MAX_REQUEST_LINE = 4096;
/** Bound on header lines per request; real clients send under 10 → beyond it 400. */
export const RTSP_MAX_HEADERS = 255;
/** Bound on one header value in bytes (an SDP-free Transport or Session header is far smaller) → 400. */
export const RTSP_MAX_HEADER_VALUE = 4096;
/** Bound on one header name in bytes (the longest registered RTSP header names are under 30) → 400. */
export const RTSP_MAX_HEADER_NAME = 256;
/** Bound on the whole header section (request line + header lines + empty line) in bytes → 400. */
export const RTSP_MAX_HEADER_BYTES = 65536;
/** Bound on Content-Length: ANNOUNCE carries an SDP of about 1 KiB; a larger declared body → 413. */
export const RTSP_MAX_BODY = 65536;
/** Largest interleaved payload: the length field is 16 bits (RFC 2326 §10.12). */
export const RTSP_MAX_INTERLEAVED_PAYLOAD = 0xffff;

/** Header fields of one request. Names are matched case-insensitively; the first occurrence wins for get(). */
export class RtspHeaders {
  readonly #entries: ReadonlyArray<readonly [string, string]>;
  readonly #byName = new Map<string, string>();

  constructor(entries: Iterable<readonly [string, string]>) {
    const list: Array<readonly [string, string]> = [];
    for (const [name, value] of entries) {
      list.push([name, value]);
      const key = name.toLowerCase();
      if (!this.#byName.has(key)) this.#byName.set(key, value);
    }
    this.#entries = list;
  }

  /** Value of the first header called `name` (any case), trimmed; undefined when absent. */
  get(name: string): string | undefined {
    return this.#byName.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.#byName.has(name.toLowerCase());
  }

  /** Every header line in wire order, names as sent. */
  *entries(): Iterable<[string, string]> {
    for (const [name, value] of this.#entries) yield [name, value];
  }

  /** Number of header lines. */
  get size(): number {
    return this.#entries.length;
  }
}

export interface RtspRequest {
  readonly method: string;
  /** Request-URI as sent (`rtsp://host:port/app/stream`, or `*` for OPTIONS). */
  readonly uri: string;
  readonly headers: RtspHeaders;
  /** Content-Length bytes (owned copy); empty when there is no body. */
  readonly body: Buffer;
}

export type RtspInput =
  | { readonly kind: 'request'; readonly request: RtspRequest }
  | { readonly kind: 'interleaved'; readonly channel: number; readonly payload: Buffer };

/** A fatal framing error: answer `status` (with `cseq` echoed when known), then close the connection. */
export class RtspRequestError extends GatewayError {
  /** 400 Bad Request, 413 Request Entity Too Large, 414 Request-URI Too Long or 505 RTSP Version Not Supported. */
  readonly status: number;
  /** CSeq of the request being read when the error happened, if its CSeq header was already read. */
  readonly cseq: string | undefined;
  constructor(status: number, message: string, cseq?: string) {
    super(ErrorCode.RtspRequest, message);
    this.name = 'RtspRequestError';
    this.status = status;
    this.cseq = cseq;
  }
}

/** The interleaved frame marker `$` (RFC 2326 §10.12). */
export const DOLLAR = 0x24;
const LF = 0x0a;
const CR = 0x0d;
/** RFC 2326 §15.1 token = 1*<any CHAR except CTLs or tspecials>. */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A Request-URI: visible characters only (no SP, no CTL). */
const URI_RE = /^[\x21-\x7e\u0080-\uffff]+$/;
/** A header value after trimming: no CTL except HTAB. */
const VALUE_RE = /^[\t\x20-\x7e\u0080-\uffff]*$/;
const VERSION_RE = /^[A-Za-z]+\/\d+\.\d+$/;

const State = { Start: 0, RequestLine: 1, Headers: 2, Body: 3, Failed: 4 } as const;
type State = (typeof State)[keyof typeof State];

/**
 * Incremental reader for one RTSP connection: requests and `$`-framed interleaved binary data (RFC 2326 §10.12)
 * may be mixed and pipelined, split across chunks at any byte. Empty lines between messages are skipped.
 * Interleaved payloads stay valid after later pushes (views into the caller's chunks, which are never written,
 * or owned copies). Input chunks are never mutated.
 */
export class RtspRequestReader {
  #chunks: Buffer[] = [];
  /** Index of the first live chunk in #chunks (consumed chunks before it are dropped lazily). */
  #first = 0;
  /** Read offset inside #chunks[#first]. */
  #head = 0;
  /** Unconsumed bytes. */
  #size = 0;
  // Line scan cursor: bytes before it (from the read offset) hold no LF. Reset whenever bytes are consumed.
  #scanChunk = 0;
  #scanPos = 0;
  #scanBase = 0;

  #state: State = State.Start;
  #method = '';
  #uri = '';
  #headers: Array<readonly [string, string]> = [];
  #headerBytes = 0;
  #contentLength = 0;
  #cseq: string | undefined;
  #error: RtspRequestError | undefined;

  /** Bytes received but not yet returned (a partial request or frame). */
  get bufferedBytes(): number {
    return this.#size;
  }

  /**
   * Feed the next chunk; returns every request and interleaved frame completed by it, in wire order.
   * @throws RtspRequestError on malformed or oversized input (status 400/413/414/505). It is fatal: inputs
   *   completed earlier in the same chunk are dropped with it, and every later push() throws the same error.
   */
  push(chunk: Buffer): RtspInput[] {
    if (this.#error !== undefined) throw this.#error;
    const out: RtspInput[] = [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    }
    try {
      this.#drain(out);
    } catch (err) {
      if (err instanceof RtspRequestError) {
        this.#state = State.Failed;
        this.#error = err;
        this.#chunks = [];
        this.#first = this.#head = this.#size = 0;
      }
      throw err;
    }
    return out;
  }

  #drain(out: RtspInput[]): void {
    for (;;) {
      switch (this.#state) {
        case State.Start: {
          if (this.#size === 0) return;
          const b = this.#byteAt(0);
          if (b === DOLLAR) {
            if (this.#size < 4) return;
            const length = (this.#byteAt(2) << 8) | this.#byteAt(3);
            if (this.#size < 4 + length) return;
            const channel = this.#byteAt(1);
            this.#skip(4);
            out.push({ kind: 'interleaved', channel, payload: this.#take(length) });
          } else if (b === CR || b === LF) {
            this.#skip(1); // empty lines before a request (keep-alive CRLFs) are ignored
          } else {
            this.#state = State.RequestLine;
          }
          break;
        }
        case State.RequestLine:
        case State.Headers: {
          const lineBytes = this.#findLine();
          if (lineBytes < 0) {
            this.#checkPartialLine();
            return;
          }
          const raw = this.#take(lineBytes);
          const contentBytes = lineBytes >= 2 && raw[lineBytes - 2] === CR ? lineBytes - 2 : lineBytes - 1;
          const line = raw.toString('utf8', 0, contentBytes);
          if (this.#state === State.RequestLine) {
            this.#onRequestLine(line, contentBytes);
            this.#headerBytes = lineBytes;
            break;
          }
          this.#headerBytes += lineBytes;
          if (this.#headerBytes > RTSP_MAX_HEADER_BYTES) {
            throw new RtspRequestError(400, `header section over ${RTSP_MAX_HEADER_BYTES} bytes`, this.#cseq);
          }
          if (line === '') this.#onHeadersEnd(out);
          else this.#onHeaderLine(line);
          break;
        }
        case State.Body: {
          if (this.#size < this.#contentLength) return;
          const body = Buffer.from(this.#take(this.#contentLength));
          this.#emitRequest(out, body);
          break;
        }
        default:
          return;
      }
    }
  }

  /** A line is incomplete: fail early when it can no longer fit its limit. */
  #checkPartialLine(): void {
    if (this.#state === State.RequestLine) {
      if (this.#size > RTSP_MAX_REQUEST_LINE + 1) { // + 1: a CR may still be followed by the LF
        throw new RtspRequestError(414, `request line over ${RTSP_MAX_REQUEST_LINE} bytes`);
      }
      return;
    }
    if (this.#size > RTSP_MAX_HEADER_NAME + RTSP_MAX_HEADER_VALUE + 4) {
      throw new RtspRequestError(400, `header line over ${RTSP_MAX_HEADER_NAME + RTSP_MAX_HEADER_VALUE} bytes`, this.#cseq);
    }
    if (this.#headerBytes + this.#size > RTSP_MAX_HEADER_BYTES) {
      throw new RtspRequestError(400, `header section over ${RTSP_MAX_HEADER_BYTES} bytes`, this.#cseq);
    }
  }

  #onRequestLine(line: string, contentBytes: number): void {
    if (contentBytes > RTSP_MAX_REQUEST_LINE) {
      throw new RtspRequestError(414, `request line over ${RTSP_MAX_REQUEST_LINE} bytes`);
    }
    const parts = line.split(' ');
    const [method, uri, version] = parts;
    if (parts.length !== 3 || method === undefined || uri === undefined || version === undefined) {
      throw new RtspRequestError(400, `malformed request line '${printable(line)}'`);
    }
    if (!TOKEN_RE.test(method) || !URI_RE.test(uri)) {
      throw new RtspRequestError(400, `malformed request line '${printable(line)}'`);
    }
    if (version !== 'RTSP/1.0') {
      const status = VERSION_RE.test(version) ? 505 : 400;
      throw new RtspRequestError(status, `unsupported protocol version '${printable(version)}'`);
    }
    this.#method = method;
    this.#uri = uri;
    this.#headers = [];
    this.#cseq = undefined;
    this.#state = State.Headers;
  }

  #onHeaderLine(line: string): void {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      throw new RtspRequestError(400, 'folded header lines are not supported', this.#cseq);
    }
    if (this.#headers.length >= RTSP_MAX_HEADERS) {
      throw new RtspRequestError(400, `more than ${RTSP_MAX_HEADERS} header lines`, this.#cseq);
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    if (name.length === 0 || name.length > RTSP_MAX_HEADER_NAME || !TOKEN_RE.test(name)) {
      throw new RtspRequestError(400, `malformed header line '${printable(line)}'`, this.#cseq);
    }
    const value = line.slice(colon + 1).trim();
    if (Buffer.byteLength(value) > RTSP_MAX_HEADER_VALUE) {
      throw new RtspRequestError(400, `header ${name} over ${RTSP_MAX_HEADER_VALUE} bytes`, this.#cseq);
    }
    if (!VALUE_RE.test(value)) {
      throw new RtspRequestError(400, `header ${name} has control characters`, this.#cseq);
    }
    if (this.#cseq === undefined && name.toLowerCase() === 'cseq') this.#cseq = value;
    this.#headers.push([name, value]);
  }

  #onHeadersEnd(out: RtspInput[]): void {
    let contentLength: number | undefined;
    for (const [name, value] of this.#headers) {
      if (name.toLowerCase() !== 'content-length') continue;
      if (!/^\d+$/.test(value)) {
        throw new RtspRequestError(400, `bad Content-Length '${printable(value)}'`, this.#cseq);
      }
      const n = Number(value);
      if (contentLength !== undefined && contentLength !== n) {
        throw new RtspRequestError(400, 'conflicting Content-Length headers', this.#cseq);
      }
      contentLength = n;
    }
    if (contentLength !== undefined && contentLength > RTSP_MAX_BODY) {
      throw new RtspRequestError(413, `Content-Length ${contentLength} over ${RTSP_MAX_BODY}`, this.#cseq);
    }
    if (contentLength === undefined || contentLength === 0) {
      this.#emitRequest(out, Buffer.alloc(0));
    } else {
      this.#contentLength = contentLength;
      this.#state = State.Body;
    }
  }

  #emitRequest(out: RtspInput[], body: Buffer): void {
    const request: RtspRequest = { method: this.#method, uri: this.#uri, headers: new RtspHeaders(this.#headers), body };
    out.push({ kind: 'request', request });
    this.#headers = [];
    this.#cseq = undefined;
    this.#contentLength = 0;
    this.#state = State.Start;
  }

  // ---- chunk list -------------------------------------------------------------------------------------------

  /** Byte at logical offset `i` (< #size) from the read position. */
  #byteAt(i: number): number {
    let pos = this.#head + i;
    for (let c = this.#first; ; c++) {
      const chunk = this.#chunks[c] as Buffer;
      if (pos < chunk.length) return chunk[pos] as number;
      pos -= chunk.length;
    }
  }

  /** Length of the first line including its LF, or -1 when no LF is buffered yet. Resumes where it stopped. */
  #findLine(): number {
    if (this.#scanChunk < this.#first) {
      this.#scanChunk = this.#first;
      this.#scanPos = this.#head;
      this.#scanBase = 0;
    }
    while (this.#scanChunk < this.#chunks.length) {
      const chunk = this.#chunks[this.#scanChunk] as Buffer;
      const start = this.#scanChunk === this.#first ? this.#head : 0;
      const i = chunk.indexOf(LF, this.#scanPos);
      if (i >= 0) return this.#scanBase + (i - start) + 1;
      this.#scanBase += chunk.length - start;
      this.#scanChunk++;
      this.#scanPos = 0;
    }
    return -1;
  }

  #resetScan(): void {
    this.#scanChunk = this.#first;
    this.#scanPos = this.#head;
    this.#scanBase = 0;
  }

  /** Drop `n` (≤ #size) bytes. */
  #skip(n: number): void {
    this.#size -= n;
    while (n > 0) {
      const chunk = this.#chunks[this.#first] as Buffer;
      const k = Math.min(n, chunk.length - this.#head);
      this.#head += k;
      n -= k;
      if (this.#head === chunk.length) this.#dropFirst();
    }
    this.#resetScan();
  }

  /** Consume `n` (≤ #size) bytes: a view when they lie in one chunk, else one owned copy. */
  #take(n: number): Buffer {
    const chunk = this.#chunks[this.#first];
    if (n === 0 || chunk === undefined) return Buffer.alloc(0);
    let out: Buffer;
    if (chunk.length - this.#head >= n) {
      out = chunk.subarray(this.#head, this.#head + n);
      this.#head += n;
      this.#size -= n;
      if (this.#head === chunk.length) this.#dropFirst();
    } else {
      out = Buffer.allocUnsafe(n);
      let o = 0;
      while (o < n) {
        const c = this.#chunks[this.#first] as Buffer;
        const k = Math.min(n - o, c.length - this.#head);
        c.copy(out, o, this.#head, this.#head + k);
        o += k;
        this.#head += k;
        if (this.#head === c.length) this.#dropFirst();
      }
      this.#size -= n;
    }
    this.#resetScan();
    return out;
  }

  #dropFirst(): void {
    this.#first++;
    this.#head = 0;
    if (this.#first === this.#chunks.length) {
      this.#chunks = [];
      this.#first = 0;
    } else if (this.#first >= 64 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first); // amortised O(1) per dropped chunk
      this.#first = 0;
    }
  }
}

/** A value for an error message: clipped to 80 characters, non-printable bytes as `?`. */
export function printable(s: string): string {
  const clipped = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return clipped.replace(/[^\x20-\x7e]/g, '?');
}
