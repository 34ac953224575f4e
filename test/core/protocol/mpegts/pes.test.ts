import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, GatewayError, isGatewayError } from '../../../../core/errors.ts';
import {
  MAX_PES_SIZE, parsePesHeader, PesAddResult, PesAssembler, PTS_MODULO, readPesTimestamp, writePesTimestamp,
} from '../../../../core/protocol/mpegts/pes.ts';
import { pesBytes } from './ts-builder.ts';

test('PTS field: spec layout, 33-bit values round-trip, values ≥ 2^33 wrap', () => {
  const field = Uint8Array.of(
    0x21, // '0010' PTS[32..30]=000 marker
    0x00, 0x07, // PTS[29..15] = 3 (0x0007 = 3<<1 | marker)
    0xe9, 0x01, // PTS[14..0] = 0x7480 (0xE901 >> 1), marker
  );
  assert.equal(readPesTimestamp(field, 0), 3 * 2 ** 15 + 0x7480); // 128,128
  const out = new Uint8Array(5);
  for (const v of [0, 1, 126000, 2 ** 31, 2 ** 32, 2 ** 32 + 12345, PTS_MODULO - 1]) {
    writePesTimestamp(out, 0, 0x2, v);
    assert.equal(readPesTimestamp(out, 0), v, String(v));
    assert.equal(out[0]! & 0xf1, 0x21, 'prefix and marker');
    assert.equal(out[2]! & 1, 1);
    assert.equal(out[4]! & 1, 1);
  }
  writePesTimestamp(out, 0, 0x2, PTS_MODULO + 5);
  assert.equal(readPesTimestamp(out, 0), 5);
  fc.assert(fc.property(fc.integer({ min: 0, max: PTS_MODULO - 1 }), (v) => {
    writePesTimestamp(out, 0, 0x3, v);
    return readPesTimestamp(out, 0) === v;
  }));
});

test('parsePesHeader: PTS only (DTS = PTS), PTS+DTS, none, padding stream', () => {
  const payload = Uint8Array.of(0xff, 0xf1, 0x50);
  const a = pesBytes(payload, { streamId: 0xc0, pts: 2 ** 33 - 10 });
  const before = Uint8Array.from(a);
  assert.deepEqual(parsePesHeader(a), { streamId: 0xc0, pesPacketLength: 3 + 8, pts90k: 2 ** 33 - 10, dts90k: 2 ** 33 - 10, headerLength: 14 });
  assert.deepEqual(a, before, 'input integrity');
  assert.deepEqual(parsePesHeader(pesBytes(payload, { pts: 133200, dts: 126000, length: 0 })), { streamId: 0xe0, pesPacketLength: 0, pts90k: 133200, dts90k: 126000, headerLength: 19 });
  assert.deepEqual(parsePesHeader(pesBytes(payload)), { streamId: 0xe0, pesPacketLength: 6, pts90k: undefined, dts90k: undefined, headerLength: 9 });
  const padding = Uint8Array.of(0, 0, 1, 0xbe, 0, 2, 0xff, 0xff); // padding_stream: no optional header
  assert.deepEqual(parsePesHeader(padding), { streamId: 0xbe, pesPacketLength: 2, pts90k: undefined, dts90k: undefined, headerLength: 6 });
});

test('parsePesHeader: undefined when short, TsPes when malformed', () => {
  const a = pesBytes(Uint8Array.of(1), { pts: 1, dts: 0 });
  for (const n of [0, 5, 8, 18]) assert.equal(parsePesHeader(a.subarray(0, n)), undefined, `need more at ${n}`);
  const badPrefix = Uint8Array.from(a); badPrefix[2] = 0x02;
  const forbidden = Uint8Array.from(a); forbidden[7] = 0x40; // PTS_DTS_flags '01'
  const shortHdl = Uint8Array.from(a); shortHdl[8] = 5; // says PTS+DTS but only 5 header bytes
  const tooLong = Uint8Array.from(a); tooLong[4] = 0; tooLong[5] = 4; // PES_packet_length 4 < header
  for (const bad of [badPrefix, forbidden, shortHdl, tooLong]) {
    assert.throws(() => parsePesHeader(bad), (e) => isGatewayError(e, ErrorCode.TsPes));
  }
});

test('PesAssembler: header split over fragments, known length completes at once, copy is owned', () => {
  const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const pes = pesBytes(payload, { pts: 90000, dts: 86400 });
  const chunk = Uint8Array.from(pes);
  const asm = new PesAssembler();
  assert.equal(asm.start(chunk, 0, 3, true, false), PesAddResult.Collecting); // 3 bytes: length not known yet
  assert.equal(asm.lengthPending, true);
  assert.equal(asm.add(chunk, 3, 12, true), PesAddResult.Collecting); // transient: copied
  assert.equal(asm.add(chunk, 12, 200, false), PesAddResult.Collecting);
  assert.equal(asm.add(chunk, 200, chunk.length, false), PesAddResult.Complete);
  assert.equal(asm.randomAccess, true);
  const { header, data } = asm.finish();
  assert.equal(header.pts90k, 90000);
  assert.equal(header.dts90k, 86400);
  assert.deepEqual(Uint8Array.from(data), payload);
  chunk.fill(0);
  assert.equal(data[1], 1, 'data does not alias the input');
  assert.equal(asm.active, false);
});

test('PesAssembler: unbounded PES, bytes past PES_packet_length ignored, bad start code, too large', () => {
  const asm = new PesAssembler();
  const open = pesBytes(Uint8Array.of(9, 8, 7), { pts: 5, length: 0 });
  assert.equal(asm.start(open, 0, open.length, false, false), PesAddResult.Collecting);
  assert.equal(asm.lengthPending, false);
  assert.deepEqual([...asm.finish().data], [9, 8, 7]);

  const exact = pesBytes(Uint8Array.of(1, 2), { pts: 5 });
  const padded = Uint8Array.of(...exact, 0xff, 0xff);
  assert.equal(asm.start(padded, 0, padded.length, false, false), PesAddResult.Complete);
  assert.deepEqual([...asm.finish().data], [1, 2]);

  const bad = Uint8Array.of(0, 0, 2, 0xe0, 0, 0, 0x80, 0, 0);
  assert.equal(asm.start(bad, 0, bad.length, false, false), PesAddResult.BadStartCode);
  asm.drop();

  const big = new Uint8Array(1024 * 1024);
  big.set(open.subarray(0, 14));
  asm.start(big, 0, big.length, false, false);
  let r: PesAddResult = PesAddResult.Collecting;
  for (let i = 0; i < 8 && r === PesAddResult.Collecting; i++) r = asm.add(big, 0, big.length, false);
  assert.equal(r, PesAddResult.TooLarge);
  assert.ok(asm.size > MAX_PES_SIZE);
  asm.drop();
});

test('PesAssembler.finish: header longer than the bytes collected → TsPes', () => {
  const asm = new PesAssembler();
  const pes = pesBytes(Uint8Array.of(1), { pts: 1, dts: 1, length: 0 });
  asm.start(pes, 0, 12, false, false);
  assert.throws(() => asm.finish(), (e) => isGatewayError(e, ErrorCode.TsPes));
  assert.equal(asm.active, false);
});

test('fast-check: parsePesHeader and the assembler throw nothing but GatewayError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (bytes, cut) => {
      try { parsePesHeader(bytes); } catch (e) { assert.ok(e instanceof GatewayError); }
      const asm = new PesAssembler();
      const c = Math.min(cut, bytes.length);
      asm.start(bytes, 0, c, false, true);
      asm.add(bytes, c, bytes.length, false);
      try { asm.finish(); } catch (e) { assert.ok(e instanceof GatewayError); }
    }),
    { numRuns: 500 },
  );
});
