/**
 * WebSocket base framing (RFC 6455 section 5.2 "Base Framing Protocol", 5.5 control frames, 7.4 status codes):
 * the tables and the server-side frame writer. Server frames are never masked (5.1: "A server MUST NOT mask any
 * frames that it sends to the client"); the reader of client frames is frame-reader.ts.
 *
 * Frame header (5.2):
 * ```
 *  0               1               2               3
 *  FIN RSV1-3 opcode(4) | MASK payload len(7) | extended payload length (16 if 126, 64 if 127) | masking-key (32)
 * ```
 * The payload length uses the minimal form: 0..125 in the 7-bit field, up to 65535 in 16 bits, else 64 bits.
 * Pure: no sockets.
 */

/** RFC 6455 11.8 / 5.2 opcode (4 bits). */
export const WebSocketOpcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type WebSocketOpcode = (typeof WebSocketOpcode)[keyof typeof WebSocketOpcode];

/** RFC 6455 7.4.1 pre-defined status codes (the ones an endpoint may send). */
export const WebSocketCloseStatus = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** 1005: "no status code was actually present" — reported locally, never sent. */
  NoStatusReceived: 1005,
  InvalidPayloadData: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;
export type WebSocketCloseStatus = (typeof WebSocketCloseStatus)[keyof typeof WebSocketCloseStatus];

/** 5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const WEBSOCKET_MAX_CONTROL_PAYLOAD = 125;
/** 5.2: 2 bytes + 8-byte extended length (+ 4-byte masking key on client frames). */
export const WEBSOCKET_MAX_SERVER_HEADER = 10;
export const WEBSOCKET_MAX_CLIENT_HEADER = 14;
/** 5.2: payload lengths 126 and 127 in the 7-bit field announce a 16-bit / 64-bit extended length. */
const LENGTH_16 = 126;
const LENGTH_64 = 127;
/** Largest payload the 16-bit extended length holds. */
const MAX_LENGTH_16 = 0xffff;
const FIN = 0x80;

/** Is `op` a control opcode (5.5: opcodes with the most significant bit set)? */
export function isControlOpcode(op: number): boolean {
  return (op & 0x08) !== 0;
}

/** Bytes of an unmasked (server) frame header for a payload of `length` bytes: 2, 4 or 10. */
export function serverFrameHeaderLength(length: number): number {
  return length <= WEBSOCKET_MAX_CONTROL_PAYLOAD ? 2 : length <= MAX_LENGTH_16 ? 4 : 10;
}

/**
 * Write the header of one unmasked, final (FIN = 1) server frame at `out[offset]`.
 * @param length payload bytes (a non-negative safe integer).
 * @returns the header length written (serverFrameHeaderLength(length)).
 * @throws RangeError when `out` has no room (Buffer bounds) — callers size it with serverFrameHeaderLength.
 */
export function writeServerFrameHeader(out: Buffer, offset: number, opcode: WebSocketOpcode, length: number): number {
  out[offset] = FIN | opcode; // RSV1-3 = 0: no extension negotiated
  if (length <= WEBSOCKET_MAX_CONTROL_PAYLOAD) {
    out[offset + 1] = length; // MASK = 0
    return 2;
  }
  if (length <= MAX_LENGTH_16) {
    out[offset + 1] = LENGTH_16;
    out.writeUInt16BE(length, offset + 2);
    return 4;
  }
  out[offset + 1] = LENGTH_64;
  out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), offset + 2); // most significant bit 0 (5.2)
  out.writeUInt32BE(length >>> 0, offset + 6);
  return 10;
}

/** One whole unmasked server frame (header + a copy of `payload`): for control frames and tests. */
export function serverFrame(opcode: WebSocketOpcode, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(serverFrameHeaderLength(payload.length) + payload.length);
  const h = writeServerFrameHeader(out, 0, opcode, payload.length);
  out.set(payload, h);
  return out;
}

/**
 * A Close frame (5.5.1) with a status code and a UTF-8 reason, the reason cut to fit the 125-byte control
 * payload (at a character boundary).
 */
export function serverCloseFrame(status: number, reason = ''): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > WEBSOCKET_MAX_CONTROL_PAYLOAD - 2) {
    let end = WEBSOCKET_MAX_CONTROL_PAYLOAD - 2;
    while (end > 0 && (text[end] & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence
    text = text.subarray(0, end);
  }
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(status, 0);
  text.copy(payload, 2);
  return serverFrame(WebSocketOpcode.Close, payload);
}

/**
 * May a peer send this status code in a Close frame (7.4.1, 7.4.2)? 1000-1003, 1007-1011 and the registered /
 * private ranges 3000-4999; not 1004 (reserved), 1005/1006/1015 (local only), nor anything below 1000 or in
 * 1012-2999 that is not registered for endpoints (1012-1014 are IANA-registered and accepted).
 */
export function isValidCloseStatus(status: number): boolean {
  if (status >= 3000 && status <= 4999) return true;
  if (status >= 1000 && status <= 1003) return true;
  return status >= 1007 && status <= 1014;
}

/**
 * Mask or unmask `data` in place with the 4-byte `maskingKey` (5.3: octet i XOR key[i mod 4]), starting at
 * `keyOffset` (the payload's position when a frame arrives in several pieces).
 */
export function applyMask(data: Uint8Array, maskingKey: Uint8Array, keyOffset = 0): void {
  for (let i = 0; i < data.length; i++) data[i] ^= maskingKey[(keyOffset + i) & 3];
}
