import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EsFrameSplitter } from '../../../core/codec/es-frame-splitter.ts';
import type { EsFrameFormat } from '../../../core/codec/es-frame-splitter.ts';
import { ErrorCode, GatewayError } from '../../../core/errors.ts';

/** A toy format: sync 0xFF 0xA0|len (len = whole frame length, 2..15), duration 10 ticks. */
const TOY: EsFrameFormat<{ frameLength: number }> = {
  parseHeader(buf, offset) {
    if (buf.length - offset >= 1 && buf[offset] !== 0xff) throw new GatewayError(ErrorCode.Truncated, 'sync');
    if (buf.length - offset < 2) return undefined;
    if ((buf[offset + 1] & 0xf0) !== 0xa0 || (buf[offset + 1] & 0x0f) < 2) throw new GatewayError(ErrorCode.Truncated, 'sync');
    return { frameLength: buf[offset + 1] & 0x0f };
  },
  isSyncAt: (buf, offset) => offset + 1 < buf.length && buf[offset] === 0xff && (buf[offset + 1] & 0xf0) === 0xa0,
  duration90k: () => 10,
  maxFrameLength: 15,
};

const hexes = (frames: { bytes: Uint8Array }[]) => frames.map((f) => Buffer.from(f.bytes).toString('hex'));

test('frames get PTS + i·duration; a carried frame keeps the PTS it started with', () => {
  const s = new EsFrameSplitter(TOY);
  const payload = Uint8Array.of(0xff, 0xa3, 1, 0xff, 0xa4, 2, 2, 0xff, 0xa5, 3);
  const a = s.split(payload, 100);
  assert.deepEqual(hexes(a), ['ffa301', 'ffa40202']);
  assert.deepEqual(a.map((f) => f.pts90k), [100, 110]);
  assert.equal(a[0].bytes.buffer, payload.buffer, 'views into the payload');
  assert.equal(s.carriedBytes, 3);
  const b = s.split(Uint8Array.of(3, 3, 0xff, 0xa2), 500);
  assert.deepEqual(hexes(b), ['ffa5030303', 'ffa2']);
  assert.deepEqual(b.map((f) => f.pts90k), [120, 500]);
  assert.notEqual(b[0].bytes.buffer, payload.buffer, 'carried frame is an owned copy');
  assert.equal(s.errors, 0);
});

test('a carried header split after its first byte is completed byte by byte', () => {
  const s = new EsFrameSplitter(TOY);
  assert.deepEqual(s.split(Uint8Array.of(0xff), 0), []);
  assert.deepEqual(s.split(Uint8Array.of(), 0), []);
  assert.deepEqual(hexes(s.split(Uint8Array.of(0xa3, 9, 0xff, 0xa2), 50)), ['ffa309', 'ffa2']);
});

test('a carry whose continuation was lost is dropped when the payload starts a chain of frames', () => {
  const s = new EsFrameSplitter(TOY);
  s.split(Uint8Array.of(0xff, 0xaf, 1, 2), 0); // 15-byte frame, 4 bytes seen
  const out = s.split(Uint8Array.of(0xff, 0xa3, 7, 0xff, 0xa2), 90);
  assert.deepEqual(hexes(out), ['ffa307', 'ffa2']);
  assert.deepEqual(out.map((f) => f.pts90k), [90, 100]);
  assert.equal(s.errors, 1);
});

test('a corrupt carried header is abandoned; reset() drops the carry', () => {
  const s = new EsFrameSplitter(TOY);
  s.split(Uint8Array.of(0xff), 0);
  assert.deepEqual(hexes(s.split(Uint8Array.of(0x00, 0xff, 0xa2), 0)), ['ffa2']);
  assert.equal(s.errors, 2); // the carry (ff 00 is no header), then the garbage byte 00
  s.split(Uint8Array.of(0xff, 0xa9, 1), 0);
  s.reset();
  assert.equal(s.carriedBytes, 0);
  assert.deepEqual(hexes(s.split(Uint8Array.of(0xff, 0xa2), 0)), ['ffa2']);
});
