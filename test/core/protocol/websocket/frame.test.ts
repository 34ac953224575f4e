/**
 * WebSocket framing (core/protocol/websocket/frame.ts, frame-reader.ts) against the examples of RFC 6455 §5.7, and
 * every way a client frame can break the protocol: each must end in one protocol error with the RFC's status code,
 * never an exception; split at every byte boundary the reader gives the same result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyMask, serverCloseFrame, serverFrame, serverFrameHeaderLength, WebSocketCloseStatus, WebSocketOpcode, writeServerFrameHeader,
} from '../../../../core/protocol/websocket/frame.ts';
import { WebSocketFrameReader, type WebSocketProtocolError } from '../../../../core/protocol/websocket/frame-reader.ts';

const HELLO = Buffer.from('Hello');
/** RFC 6455 §5.7 masking key 0x37fa213d. */
const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** RFC 6455 §5.7 examples, byte for byte. */
const RFC_UNMASKED_TEXT = Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]); // FIN text, len 5, "Hello"
const RFC_MASKED_TEXT = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]); // MASK, key, masked "Hello"
const RFC_FRAGMENTED_UNMASKED = [Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c]), Buffer.from([0x80, 0x02, 0x6c, 0x6f])]; // "Hel" + "lo"
const RFC_UNMASKED_PING = Buffer.from([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
const RFC_MASKED_PONG = Buffer.from([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/** 256 bytes binary: 0x82 0x7E 0x0100; 64 KiB: 0x82 0x7F 0x0000000000010000. */
const RFC_HEADER_256 = Buffer.from([0x82, 0x7e, 0x01, 0x00]);
const RFC_HEADER_64K = Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);

/** A client (masked) frame: FIN/RSV/opcode byte given in full, the length in minimal form. */
function clientFrame(b0: number, payload: Uint8Array, opts: { masked?: boolean; key?: Uint8Array; len7?: number } = {}): Buffer {
  const masked = opts.masked ?? true;
  const key = opts.key ?? KEY;
  const n = payload.length;
  const ext = n <= 125 ? 0 : n <= 0xffff ? 2 : 8;
  const out = Buffer.alloc(2 + ext + (masked ? 4 : 0) + n);
  out[0] = b0;
  out[1] = (masked ? 0x80 : 0) | (opts.len7 ?? (ext === 0 ? n : ext === 2 ? 126 : 127));
  if (ext === 2) out.writeUInt16BE(n, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(n), 2);
  let o = 2 + ext;
  if (masked) {
    out.set(key, o);
    o += 4;
  }
  const body = Buffer.from(payload);
  if (masked) applyMask(body, key);
  out.set(body, o);
  return out;
}

type Event =
  | { readonly type: 'message'; readonly opcode: number; readonly payload: string }
  | { readonly type: 'ping' | 'pong'; readonly payload: string }
  | { readonly type: 'close'; readonly status: number; readonly reason: string }
  | { readonly type: 'error'; readonly status: number };

function read(chunks: readonly Uint8Array[], opts: { role?: 'server' | 'client'; maxMessageBytes?: number } = {}): Event[] {
  const events: Event[] = [];
  const reader = new WebSocketFrameReader({
    onMessage: (opcode, payload) => events.push({ type: 'message', opcode, payload: payload.toString('latin1') }),
    onPing: (payload) => events.push({ type: 'ping', payload: payload.toString('latin1') }),
    onPong: (payload) => events.push({ type: 'pong', payload: payload.toString('latin1') }),
    onClose: (status, reason) => events.push({ type: 'close', status, reason }),
    onProtocolError: (e: WebSocketProtocolError) => events.push({ type: 'error', status: e.status }),
  }, { role: opts.role ?? 'server', ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}) });
  for (const c of chunks) reader.push(c);
  return events;
}

/** The same bytes fed one byte at a time and whole must give the same events. */
function readEverySplit(bytes: Buffer, opts: { role?: 'server' | 'client'; maxMessageBytes?: number } = {}): Event[] {
  const whole = read([bytes], opts);
  const bytewise = read([...bytes].map((b) => Uint8Array.of(b)), opts);
  assert.deepEqual(bytewise, whole, 'byte-at-a-time input gives the same events');
  return whole;
}

test('RFC 6455 §5.7: server frames are written byte-exact (unmasked text, ping, 256 B and 64 KiB binary headers)', () => {
  assert.deepEqual(serverFrame(WebSocketOpcode.Text, HELLO), RFC_UNMASKED_TEXT);
  assert.deepEqual(serverFrame(WebSocketOpcode.Ping, HELLO), RFC_UNMASKED_PING);
  const h = Buffer.alloc(10);
  assert.equal(writeServerFrameHeader(h, 0, WebSocketOpcode.Binary, 256), 4);
  assert.deepEqual(h.subarray(0, 4), RFC_HEADER_256);
  assert.equal(writeServerFrameHeader(h, 0, WebSocketOpcode.Binary, 65536), 10);
  assert.deepEqual(h, RFC_HEADER_64K);
  assert.deepEqual([125, 126, 65535, 65536].map(serverFrameHeaderLength), [2, 4, 4, 10]);
});

test('RFC 6455 §5.7: masked "Hello" and masked pong decode; the input is not written', () => {
  const input = Buffer.concat([RFC_MASKED_TEXT, RFC_MASKED_PONG]);
  const before = Buffer.from(input);
  assert.deepEqual(readEverySplit(input), [
    { type: 'message', opcode: WebSocketOpcode.Text, payload: 'Hello' },
    { type: 'pong', payload: 'Hello' },
  ]);
  assert.deepEqual(input, before, 'input integrity');
});

test('RFC 6455 §5.7 fragmented "Hel"+"lo" (masked as a client sends it) is one message; a ping between fragments is answered first', () => {
  const [first, last] = RFC_FRAGMENTED_UNMASKED.map((f) => clientFrame(f[0] as number, f.subarray(2))) as [Buffer, Buffer];
  const ping = clientFrame(0x89, Buffer.from('p'));
  assert.deepEqual(readEverySplit(Buffer.concat([first, ping, last])), [
    { type: 'ping', payload: 'p' },
    { type: 'message', opcode: WebSocketOpcode.Text, payload: 'Hello' },
  ]);
  // the client role reads the RFC's unmasked frames as they are
  assert.deepEqual(read(RFC_FRAGMENTED_UNMASKED, { role: 'client' }), [{ type: 'message', opcode: WebSocketOpcode.Text, payload: 'Hello' }]);
});

test('16-bit and 64-bit lengths; empty frames; Close with status and reason; nothing read after Close', () => {
  const b300 = Buffer.alloc(300, 7);
  const b70k = Buffer.alloc(70_000, 9);
  const ev = readEverySplit(Buffer.concat([
    clientFrame(0x82, b300),
    clientFrame(0x82, new Uint8Array(0)),
    clientFrame(0x89, new Uint8Array(0)),
    clientFrame(0x88, Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('bye ✓')])), // 1001 + UTF-8 reason
    clientFrame(0x82, Buffer.from('ignored after close')),
  ]));
  assert.deepEqual(ev, [
    { type: 'message', opcode: 2, payload: b300.toString('latin1') },
    { type: 'message', opcode: 2, payload: '' },
    { type: 'ping', payload: '' },
    { type: 'close', status: 1001, reason: 'bye ✓' },
  ]);
  assert.deepEqual(read([clientFrame(0x82, b70k)], { maxMessageBytes: 100_000 }), [{ type: 'message', opcode: 2, payload: b70k.toString('latin1') }]);
  assert.deepEqual(read([clientFrame(0x88, new Uint8Array(0))]), [{ type: 'close', status: WebSocketCloseStatus.NoStatusReceived, reason: '' }]);
});

/** Frames a client must not send → the status the connection is failed with (RFC 6455 §5, §7.4.1, §8.1). */
const BAD_FRAMES: readonly { readonly name: string; readonly bytes: Buffer; readonly status: number }[] = [
  { name: 'unmasked client frame (§5.1)', bytes: clientFrame(0x82, HELLO, { masked: false }), status: 1002 },
  { name: 'RSV1 set, no extension (§5.2)', bytes: clientFrame(0xc2, HELLO), status: 1002 },
  { name: 'RSV3 set', bytes: clientFrame(0x92, HELLO), status: 1002 },
  { name: 'reserved non-control opcode 0x3', bytes: clientFrame(0x83, HELLO), status: 1002 },
  { name: 'reserved control opcode 0xB', bytes: clientFrame(0x8b, HELLO), status: 1002 },
  { name: 'fragmented ping (§5.5)', bytes: clientFrame(0x09, HELLO), status: 1002 },
  { name: 'ping of 126 bytes (§5.5)', bytes: clientFrame(0x89, Buffer.alloc(126)), status: 1002 },
  { name: 'continuation without a message (§5.4)', bytes: clientFrame(0x80, HELLO), status: 1002 },
  { name: 'new text frame inside a fragmented message', bytes: Buffer.concat([clientFrame(0x01, HELLO), clientFrame(0x81, HELLO)]), status: 1002 },
  { name: '64-bit length with the MSB set (§5.2)', bytes: Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]), status: 1002 },
  { name: 'Close with a 1-byte payload (§5.5.1)', bytes: clientFrame(0x88, Uint8Array.of(3)), status: 1002 },
  { name: 'Close status 1005 (local only, §7.4.1)', bytes: clientFrame(0x88, Uint8Array.of(0x03, 0xed)), status: 1002 },
  { name: 'Close status 999', bytes: clientFrame(0x88, Uint8Array.of(0x03, 0xe7)), status: 1002 },
  { name: 'Close reason not UTF-8 (§8.1)', bytes: clientFrame(0x88, Uint8Array.of(0x03, 0xe8, 0xff, 0xfe)), status: 1007 },
  { name: 'text message not UTF-8', bytes: clientFrame(0x81, Uint8Array.of(0xc3, 0x28)), status: 1007 },
  { name: 'message over the bound (one frame)', bytes: clientFrame(0x82, Buffer.alloc(2000)), status: 1009 },
  { name: 'message over the bound (fragments)', bytes: Buffer.concat([clientFrame(0x02, Buffer.alloc(900)), clientFrame(0x80, Buffer.alloc(900))]), status: 1009 },
  { name: 'a 2^53-byte length announced', bytes: Buffer.from([0x82, 0xff, 0, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), status: 1009 },
];

test('every broken client frame ends in one protocol error with its status, then nothing more is read', () => {
  for (const c of BAD_FRAMES) {
    const ev = readEverySplit(Buffer.concat([c.bytes, clientFrame(0x89, HELLO)]), { maxMessageBytes: 1024 });
    assert.deepEqual(ev.filter((e) => e.type === 'error'), [{ type: 'error', status: c.status }], c.name);
    assert.equal(ev[ev.length - 1]?.type, 'error', `${c.name}: nothing after the error`);
  }
});

test('a 1009 is reported from the header, before the payload is buffered', () => {
  const ev = read([Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4])]); // 4 GiB announced, no payload sent
  assert.deepEqual(ev, [{ type: 'error', status: 1009 }]);
});

test('server Close frames: status + reason, the reason cut at a character boundary to fit 125 bytes', () => {
  assert.deepEqual(serverCloseFrame(1000), Buffer.from([0x88, 0x02, 0x03, 0xe8]));
  const long = serverCloseFrame(1001, 'é'.repeat(100)); // 200 bytes of UTF-8
  assert.equal(long[1], 124, '2 status bytes + 122 reason bytes: 123 would split the 62nd character');
  assert.equal(long.subarray(4).toString('utf8'), 'é'.repeat(61), 'no split character');
});

test('garbage from a client never throws: it ends in a Close, an error or more input wanted', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
    const ev = read(chunks, { maxMessageBytes: 4096 });
    const ends = ev.filter((e) => e.type === 'error' || e.type === 'close');
    assert.ok(ends.length <= 1);
    if (ends.length === 1) assert.equal(ev[ev.length - 1], ends[0]);
  }), { numRuns: 2000 });
});
