import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitReader } from '../../../core/codec/bit-reader.ts';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';

test('reads bits MSB first across byte boundaries, up to 32 bits unsigned', () => {
  const r = new BitReader(Uint8Array.of(0b1010_1100, 0xff, 0x00, 0x12, 0x34, 0x56));
  assert.equal(r.readBit(), 1);
  assert.equal(r.readBits(3), 0b010);
  assert.equal(r.readBits(8), 0b1100_1111);
  assert.equal(r.position, 12);
  assert.equal(r.bitsLeft, 36);
  r.skipBits(4);
  assert.equal(r.readBits(32), 0x0012_3456);
  const all = new BitReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  assert.equal(all.readBits(32), 0xffffffff, 'no sign trouble at 32 bits');
});

// H.264 Table 9-2: bit strings → codeNum; Table 9-3: codeNum → se(v)
const UE_CASES: [string, number][] = [
  ['1', 0], ['010', 1], ['011', 2], ['00100', 3], ['00101', 4], ['00110', 5], ['00111', 6], ['0001000', 7], ['000010001', 16],
];
const SE_CASES: [number, number][] = [[0, 0], [1, 1], [2, -1], [3, 2], [4, -2], [5, 3], [6, -3]];

function bitsToBytes(bits: string): Uint8Array {
  const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0');
  const out = new Uint8Array(padded.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(padded.slice(i * 8, i * 8 + 8), 2);
  return out;
}

test('ue(v) decodes Table 9-2 code words', () => {
  for (const [bits, value] of UE_CASES) assert.equal(new BitReader(bitsToBytes(bits)).readUe(), value, bits);
  const r = new BitReader(bitsToBytes(UE_CASES.map((c) => c[0]).join('')));
  for (const [, value] of UE_CASES) assert.equal(r.readUe(), value);
});

test('se(v) maps codeNum per Table 9-3', () => {
  for (const [codeNum, value] of SE_CASES) {
    const bits = UE_CASES.find((c) => c[1] === codeNum)![0];
    assert.equal(Object.is(new BitReader(bitsToBytes(bits)).readSe(), value), true, `codeNum ${codeNum}`);
  }
});

test('ue(v) of the largest 32-bit code (2^32 − 2) and rejects longer codes', () => {
  const max = '0'.repeat(31) + '1' + '1'.repeat(31);
  assert.equal(new BitReader(bitsToBytes(max)).readUe(), 2 ** 32 - 2);
  const tooLong = '0'.repeat(32) + '1' + '0'.repeat(32);
  assert.throws(() => new BitReader(bitsToBytes(tooLong), ErrorCode.H264Sps).readUe(), (e) => isGatewayError(e, ErrorCode.H264Sps));
});

test('reading past the end throws GatewayError with the given code', () => {
  const r = new BitReader(Uint8Array.of(0x80), ErrorCode.H264Sps);
  r.readBits(7);
  assert.throws(() => r.readBits(2), (e) => isGatewayError(e, ErrorCode.H264Sps));
  assert.throws(() => new BitReader(new Uint8Array(0)).readBit(), (e) => isGatewayError(e, ErrorCode.Truncated));
  assert.throws(() => new BitReader(Uint8Array.of(0)).readUe(), (e) => isGatewayError(e, ErrorCode.Truncated));
  assert.throws(() => new BitReader(Uint8Array.of(0)).skipBits(9), (e) => isGatewayError(e));
});

test('fuzz: any byte string read with any op sequence only throws GatewayError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 16 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 40 }), (bytes, ops) => {
      const before = Uint8Array.from(bytes);
      const r = new BitReader(bytes);
      try {
        for (const op of ops) {
          if (op === 0) r.readBit();
          else if (op === 1) r.readBits(13);
          else if (op === 2) r.readUe();
          else r.readSe();
        }
      } catch (e) {
        assert.ok(isGatewayError(e), String(e));
      }
      assert.deepEqual(bytes, before, 'input integrity');
    }),
    { numRuns: 300 },
  );
});
