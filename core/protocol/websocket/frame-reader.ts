/**
 * WebSocket frame reader (RFC 6455 5.2 base framing, 5.4 fragmentation, 5.5 control frames, 7.1.7 "Fail the
 * WebSocket Connection"): a push parser over the bytes a peer sends, delivering whole messages and control
 * frames to a sink. Pure: no socket, no timer; the caller answers pings and closes.
 *
 * Checked, each a protocol error the sink receives with the status code to close with (then nothing more is read):
 * - RSV1-3 set (no extension is ever negotiated) → 1002; an unknown opcode → 1002;
 * - the mask bit: client frames MUST be masked (5.1, role 'server'), server frames MUST NOT (role 'client') → 1002;
 * - a control frame that is fragmented (FIN 0) or longer than 125 bytes (5.5) → 1002;
 * - a continuation frame with no message open, or a new data frame while one is open (5.4) → 1002;
 * - a 64-bit length with its most significant bit set (5.2) → 1002;
 * - a message (all its fragments) longer than `maxMessageBytes` → 1009 Message Too Big, checked from the header,
 *   before any byte of it is buffered;
 * - a Close payload of 1 byte or with a status code an endpoint may not send (7.4) → 1002;
 *   a Close reason or a text message that is not UTF-8 (8.1) → 1007.
 * Messages and control payloads are copied once into owned buffers and unmasked there (the input chunk is never
 * written).
 */
import { isUtf8 } from 'node:buffer';
import {
  applyMask, isControlOpcode, isValidCloseStatus, WEBSOCKET_MAX_CLIENT_HEADER, WEBSOCKET_MAX_CONTROL_PAYLOAD,
  WebSocketCloseStatus, WebSocketOpcode,
} from './frame.ts';

/** Default bound of one message from a peer: players send control frames and at most a short command. */
export const WEBSOCKET_DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

/** Why the connection must be failed, with the status code of the Close frame to send (7.4.1). */
export interface WebSocketProtocolError {
  readonly status: WebSocketCloseStatus;
  readonly reason: string;
}

export interface WebSocketFrameSink {
  /** A whole data message: text (UTF-8 checked) or binary, fragments joined, unmasked, owned. */
  onMessage(opcode: typeof WebSocketOpcode.Text | typeof WebSocketOpcode.Binary, payload: Buffer): void;
  /** A Ping (5.5.2): answer with a Pong carrying the same payload. */
  onPing(payload: Buffer): void;
  /** A Pong (5.5.3). Optional: unsolicited pongs need no answer. */
  onPong?(payload: Buffer): void;
  /**
   * The peer's Close frame (5.5.1): its status (1005 NoStatusReceived when the frame had none) and reason.
   * Nothing after it is read.
   */
  onClose(status: number, reason: string): void;
  /** The peer broke the protocol: fail the connection, closing with `error.status`. Nothing more is read. */
  onProtocolError(error: WebSocketProtocolError): void;
}

export interface WebSocketFrameReaderOptions {
  /** 'server' reads client frames (they must be masked); 'client' reads server frames (they must not be). */
  readonly role: 'server' | 'client';
  /** Longest message accepted, bytes; default WEBSOCKET_DEFAULT_MAX_MESSAGE_BYTES. */
  readonly maxMessageBytes?: number;
}

const State = { Header: 0, Payload: 1, Done: 2 } as const;
type State = (typeof State)[keyof typeof State];

const RSV_BITS = 0x70;
const KNOWN_OPCODES: ReadonlySet<number> = new Set(Object.values(WebSocketOpcode));

export class WebSocketFrameReader {
  readonly #sink: WebSocketFrameSink;
  readonly #requireMask: boolean;
  readonly #maxMessageBytes: number;
  readonly #hdr = Buffer.alloc(WEBSOCKET_MAX_CLIENT_HEADER);
  #hdrLen = 0;
  #state: State = State.Header;
  // the frame being read
  #fin = false;
  #opcode = 0;
  #masked = false;
  readonly #maskingKey = Buffer.alloc(4);
  #payload: Buffer = Buffer.alloc(0);
  #payloadRead = 0;
  // the data message being assembled (fragments, owned)
  #messageOpcode = 0;
  #fragments: Buffer[] = [];
  #messageBytes = 0;

  constructor(sink: WebSocketFrameSink, opts: WebSocketFrameReaderOptions) {
    this.#sink = sink;
    this.#requireMask = opts.role === 'server';
    this.#maxMessageBytes = opts.maxMessageBytes ?? WEBSOCKET_DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** True after a Close frame or a protocol error: further input is ignored. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Feed bytes as they arrive (any split). `chunk` is read only. */
  push(chunk: Uint8Array): void {
    let o = 0;
    while (o < chunk.length && this.#state !== State.Done) {
      if (this.#state === State.Header) {
        o = this.#readHeader(chunk, o);
      } else {
        const n = Math.min(chunk.length - o, this.#payload.length - this.#payloadRead);
        this.#payload.set(chunk.subarray(o, o + n), this.#payloadRead);
        this.#payloadRead += n;
        o += n;
        if (this.#payloadRead === this.#payload.length) this.#endFrame();
      }
    }
  }

  /** Collect header bytes from `chunk[o]`; parse the header once complete. @returns the new offset. */
  #readHeader(chunk: Uint8Array, o: number): number {
    const hdr = this.#hdr;
    while (o < chunk.length) {
      hdr[this.#hdrLen++] = chunk[o++];
      const need = this.#headerLength();
      if (need !== undefined && this.#hdrLen === need) {
        this.#hdrLen = 0;
        this.#startFrame();
        return o;
      }
    }
    return o;
  }

  /** The full header length once the first two bytes are in (2 + extended length + masking key), else undefined. */
  #headerLength(): number | undefined {
    if (this.#hdrLen < 2) return undefined;
    const len7 = this.#hdr[1] & 0x7f;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    return 2 + ext + ((this.#hdr[1] & 0x80) !== 0 ? 4 : 0);
  }

  #startFrame(): void {
    const hdr = this.#hdr;
    const b0 = hdr[0];
    const b1 = hdr[1];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    if ((b0 & RSV_BITS) !== 0) return this.#fail(WebSocketCloseStatus.ProtocolError, 'RSV bits set without a negotiated extension');
    if (!KNOWN_OPCODES.has(opcode)) return this.#fail(WebSocketCloseStatus.ProtocolError, `unknown opcode 0x${opcode.toString(16)}`);
    if (masked !== this.#requireMask) {
      return this.#fail(WebSocketCloseStatus.ProtocolError, this.#requireMask ? 'client frame not masked' : 'server frame masked');
    }
    let length = b1 & 0x7f;
    let p = 2;
    if (length === 126) {
      length = hdr.readUInt16BE(2);
      p = 4;
    } else if (length === 127) {
      const high = hdr.readUInt32BE(2);
      if ((high & 0x80000000) !== 0) return this.#fail(WebSocketCloseStatus.ProtocolError, '64-bit payload length with its most significant bit set');
      length = high * 0x1_0000_0000 + hdr.readUInt32BE(6);
      p = 10;
    }
    if (masked) hdr.copy(this.#maskingKey, 0, p, p + 4);
    if (isControlOpcode(opcode)) {
      if (!fin) return this.#fail(WebSocketCloseStatus.ProtocolError, 'fragmented control frame');
      if (length > WEBSOCKET_MAX_CONTROL_PAYLOAD) return this.#fail(WebSocketCloseStatus.ProtocolError, `control frame of ${length} bytes`);
    } else if (opcode === WebSocketOpcode.Continuation) {
      if (this.#messageOpcode === 0) return this.#fail(WebSocketCloseStatus.ProtocolError, 'continuation frame without a message');
    } else if (this.#messageOpcode !== 0) {
      return this.#fail(WebSocketCloseStatus.ProtocolError, 'new data frame inside a fragmented message');
    }
    if (!isControlOpcode(opcode)) {
      if (this.#messageBytes + length > this.#maxMessageBytes) {
        return this.#fail(WebSocketCloseStatus.MessageTooBig, `message over ${this.#maxMessageBytes} bytes`);
      }
      if (opcode !== WebSocketOpcode.Continuation) this.#messageOpcode = opcode;
      this.#messageBytes += length;
    }
    this.#fin = fin;
    this.#opcode = opcode;
    this.#masked = masked;
    this.#payload = Buffer.allocUnsafe(length);
    this.#payloadRead = 0;
    if (length === 0) this.#endFrame();
    else this.#state = State.Payload;
  }

  #endFrame(): void {
    this.#state = State.Header;
    const payload = this.#payload;
    if (this.#masked) applyMask(payload, this.#maskingKey);
    switch (this.#opcode) {
      case WebSocketOpcode.Ping:
        this.#sink.onPing(payload);
        return;
      case WebSocketOpcode.Pong:
        this.#sink.onPong?.(payload);
        return;
      case WebSocketOpcode.Close:
        this.#readClose(payload);
        return;
      default:
        this.#fragments.push(payload);
        if (this.#fin) this.#endMessage();
    }
  }

  #endMessage(): void {
    const opcode = this.#messageOpcode as typeof WebSocketOpcode.Text | typeof WebSocketOpcode.Binary;
    const fragments = this.#fragments;
    const message = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments, this.#messageBytes);
    this.#fragments = [];
    this.#messageBytes = 0;
    this.#messageOpcode = 0;
    if (opcode === WebSocketOpcode.Text && !isUtf8(message)) {
      this.#fail(WebSocketCloseStatus.InvalidPayloadData, 'text message is not UTF-8');
      return;
    }
    this.#sink.onMessage(opcode, message);
  }

  #readClose(payload: Buffer): void {
    if (payload.length === 1) return this.#fail(WebSocketCloseStatus.ProtocolError, 'Close frame with a 1-byte payload');
    let status: number = WebSocketCloseStatus.NoStatusReceived;
    let reason = '';
    if (payload.length >= 2) {
      status = payload.readUInt16BE(0);
      if (!isValidCloseStatus(status)) return this.#fail(WebSocketCloseStatus.ProtocolError, `Close status ${status}`);
      const text = payload.subarray(2);
      if (!isUtf8(text)) return this.#fail(WebSocketCloseStatus.InvalidPayloadData, 'Close reason is not UTF-8');
      reason = text.toString('utf8');
    }
    this.#state = State.Done;
    this.#sink.onClose(status, reason);
  }

  #fail(status: WebSocketCloseStatus, reason: string): void {
    this.#state = State.Done;
    this.#fragments = [];
    this.#sink.onProtocolError({ status, reason });
  }
}
