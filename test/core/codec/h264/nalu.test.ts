import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { joinAnnexB, joinAvcc, NaluType, removeEmulationPrevention, splitAnnexB, splitAvcc } from '../../../../core/codec/h264/nalu.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { hex, SPS_VECTORS } from '../../../helpers/vectors.ts';

const list = (arr: Uint8Array[]): string[] => arr.map((a) => Buffer.from(a).toString('hex'));

test('splitAnnexB: 3- and 4-byte start codes, leading garbage dropped, empty NALUs skipped', () => {
  const data = Uint8Array.of(
    0xaa, 0xbb, // garbage before the first start code
    0, 0, 0, 1, 0x09, 0xf0, // AUD (4-byte start code)
    0, 0, 1, 0x67, 0x42, 0x00, 0x1e, // SPS (3-byte start code)
    0, 0, 0, 1, // empty NALU
    0, 0, 1, 0x68, 0xce, // PPS
    0, 0, 0, 1, 0x65, 0x88, 0x00, 0x00, // IDR with trailing zero bytes (trailing_zero_8bits)
  );
  const before = Uint8Array.from(data);
  assert.deepEqual(list(splitAnnexB(data)), ['09f0', '6742001e', '68ce', '6588']);
  assert.deepEqual(data, before, 'input integrity');
});

test('splitAnnexB returns views (no copy) and [] without a start code', () => {
  const data = Uint8Array.of(0, 0, 1, 0x41, 0x9a);
  const [nalu] = splitAnnexB(data);
  assert.equal(nalu.buffer, data.buffer);
  assert.deepEqual(splitAnnexB(Uint8Array.of(1, 2, 3, 4)), []);
  assert.deepEqual(splitAnnexB(new Uint8Array(0)), []);
  assert.deepEqual(splitAnnexB(Uint8Array.of(0, 0, 1)), []);
});

test('splitAnnexB keeps 0x000003 sequences inside a NALU', () => {
  const sps = hex(SPS_VECTORS[0].sps); // contains 00 00 03
  const stream = Buffer.concat([Buffer.of(0, 0, 0, 1), sps, Buffer.of(0, 0, 1), hex(SPS_VECTORS[0].pps)]);
  assert.deepEqual(list(splitAnnexB(stream)), [SPS_VECTORS[0].sps, SPS_VECTORS[0].pps]);
});

test('splitAvcc with 1-, 2- and 4-byte lengths; zero lengths skipped', () => {
  assert.deepEqual(list(splitAvcc(Uint8Array.of(2, 0x09, 0xf0, 0, 1, 0x68), 1)), ['09f0', '68']);
  assert.deepEqual(list(splitAvcc(Uint8Array.of(0, 2, 0x09, 0xf0), 2)), ['09f0']);
  assert.deepEqual(list(splitAvcc(Uint8Array.of(0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 1, 0x41), 4)), ['650102', '41']);
});

test('splitAvcc throws GatewayError(H264Nalu) on a length past the end or a partial length', () => {
  assert.throws(() => splitAvcc(Uint8Array.of(0, 0, 0, 9, 0x65), 4), (e) => isGatewayError(e, ErrorCode.H264Nalu));
  assert.throws(() => splitAvcc(Uint8Array.of(0, 1, 0x65, 0), 2), (e) => isGatewayError(e, ErrorCode.H264Nalu));
});

test('removeEmulationPrevention drops the 0x03 of each 0x000003 and returns the input when there is none', () => {
  const noEp = Uint8Array.of(0x67, 0, 0, 1, 0, 0, 2);
  assert.equal(removeEmulationPrevention(noEp), noEp);
  const withEp = Uint8Array.of(0x67, 0, 0, 3, 0, 0, 3, 1, 0, 0, 3);
  const before = Uint8Array.from(withEp);
  assert.deepEqual(Array.from(removeEmulationPrevention(withEp)), [0x67, 0, 0, 0, 0, 1, 0, 0]);
  assert.deepEqual(withEp, before, 'input integrity');
  // 00 00 03 03: only the first 03 is an emulation prevention byte
  assert.deepEqual(Array.from(removeEmulationPrevention(Uint8Array.of(0, 0, 3, 3))), [0, 0, 3]);
});

test('NaluType matches H.264 Table 7-1 / RFC 6184', () => {
  assert.deepEqual(NaluType, { NonIdr: 1, Idr: 5, Sei: 6, Sps: 7, Pps: 8, Aud: 9, EndOfSequence: 10, EndOfStream: 11, Filler: 12, StapA: 24, FuA: 28 });
});

test('fuzz: splitAnnexB never throws, yields non-empty views that do not start with a start code', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }).map((a) => a.map((b) => (b < 200 ? b % 3 : b))), (data) => {
      const before = Uint8Array.from(data);
      for (const n of splitAnnexB(data)) {
        assert.ok(n.length > 0);
        assert.equal(n.buffer, data.buffer);
        assert.notEqual(n[n.length - 1], 0);
      }
      assert.deepEqual(data, before);
    }),
    { numRuns: 300 },
  );
});

test('fuzz: splitAvcc only throws GatewayError; round trip of length-prefixed NALUs', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(1 as const, 2 as const, 4 as const), (data, size) => {
      try {
        splitAvcc(data, size);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.H264Nalu));
      }
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { maxLength: 8 }), (nalus) => {
      const parts = nalus.flatMap((n) => [Buffer.from([0, 0, n.length >> 8, n.length & 0xff]), Buffer.from(n)]);
      assert.deepEqual(list(splitAvcc(Buffer.concat(parts), 4)), list(nalus));
    }),
    { numRuns: 100 },
  );
});

test('Annex B ⇄ AVCC round trip: joinAnnexB/splitAnnexB and joinAvcc/splitAvcc', () => {
  const split = splitAnnexB;
  const splitL = splitAvcc;
  const nalus = [Uint8Array.of(0x67, 0x42, 0x00, 0x1e), Uint8Array.of(0x68, 0xce, 0x38, 0x80), Uint8Array.of(0x65, 0x88, 0x84, 0x00, 0x03, 0x01)];
  const annexB = joinAnnexB(nalus);
  assert.deepEqual([...annexB.subarray(0, 4)], [0, 0, 0, 1]);
  assert.deepEqual(split(annexB).map((n) => [...n]), nalus.map((n) => [...n]));
  const avcc = joinAvcc(nalus);
  assert.equal(avcc.readUInt32BE(0), 4);
  assert.deepEqual(splitL(avcc, 4).map((n) => [...n]), nalus.map((n) => [...n]));
  assert.deepEqual(split(joinAnnexB(splitL(avcc, 4))).map((n) => [...n]), nalus.map((n) => [...n]), 'AVCC → Annex B → NALUs');
});
