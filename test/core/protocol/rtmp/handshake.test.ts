import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  computePacketDigest,
  digestOffset,
  DigestSchema,
  findC1Digest,
  GENUINE_FMS_KEY,
  GENUINE_FP_KEY,
  makeServerResponse,
  RTMP_HANDSHAKE_SIZE,
  ServerHandshake,
} from '../../../../core/protocol/rtmp/handshake.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';

/** A C1 as ffmpeg/librtmp build it: time, version 9.0.124.2, random, FP-key digest in the given schema. */
function digestC1(schema: DigestSchema): Buffer {
  const c1 = randomBytes(RTMP_HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 0);
  c1.set([9, 0, 124, 2], 4);
  const off = digestOffset(c1, schema);
  computePacketDigest(c1, off, GENUINE_FP_KEY.subarray(0, 30)).copy(c1, off);
  return c1;
}

/** The checks ffmpeg's rtmp_handshake does on S1/S2 when S1's version is >= 3 (libavformat/rtmpproto.c). */
function verifyLikeFfmpeg(c1: Buffer, s1: Buffer, s2: Buffer, schema: DigestSchema): void {
  assert.ok(s1[4] >= 3, 'S1 version major >= 3: ffmpeg validates');
  const s1Off = digestOffset(s1, schema);
  assert.deepEqual(s1.subarray(s1Off, s1Off + 32), computePacketDigest(s1, s1Off, GENUINE_FMS_KEY.subarray(0, 36)), 'S1 digest');
  const c1Off = digestOffset(c1, schema);
  const key = createHmac('sha256', GENUINE_FMS_KEY).update(c1.subarray(c1Off, c1Off + 32)).digest();
  const signature = createHmac('sha256', key).update(s2.subarray(0, RTMP_HANDSHAKE_SIZE - 32)).digest();
  assert.deepEqual(s2.subarray(RTMP_HANDSHAKE_SIZE - 32), signature, 'S2 signature');
}

test('keys: Genuine FMS key is 68 bytes, FP key 62 bytes, same 32-byte tail', () => {
  assert.equal(GENUINE_FMS_KEY.length, 68);
  assert.equal(GENUINE_FP_KEY.length, 62);
  assert.deepEqual(GENUINE_FMS_KEY.subarray(36), GENUINE_FP_KEY.subarray(30));
  assert.equal(GENUINE_FMS_KEY.subarray(0, 36).toString('latin1'), 'Genuine Adobe Flash Media Server 001');
});

test('simple handshake: C1 version 0 → S0=3, S1 version 0, S2 echoes C1', () => {
  const c1 = randomBytes(RTMP_HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 4);
  const out = makeServerResponse(c1);
  assert.equal(out.length, 1 + 2 * RTMP_HANDSHAKE_SIZE);
  assert.equal(out[0], 3);
  assert.equal(out.readUInt32BE(1 + 4), 0);
  assert.deepEqual(out.subarray(1 + RTMP_HANDSHAKE_SIZE), c1);
});

for (const [name, schema] of [
  ['schema 1 (digest at 8, ffmpeg/librtmp)', DigestSchema.DigestFirst],
  ['schema 0 (digest at 772)', DigestSchema.KeyFirst],
] as const) {
  test(`digest handshake ${name}: C1 validated, S1 digest and S2 signature pass ffmpeg's checks`, () => {
    const c1 = digestC1(schema);
    assert.equal(findC1Digest(c1)?.schema, schema);
    const out = makeServerResponse(c1);
    const s1 = out.subarray(1, 1 + RTMP_HANDSHAKE_SIZE);
    const s2 = out.subarray(1 + RTMP_HANDSHAKE_SIZE);
    verifyLikeFfmpeg(c1, s1, s2, schema);
  });
}

test('C1 with a version but a wrong digest falls back to the simple handshake (echo)', () => {
  const c1 = digestC1(DigestSchema.DigestFirst);
  const off = digestOffset(c1, DigestSchema.DigestFirst);
  c1[off] ^= 0xff;
  assert.equal(findC1Digest(c1), undefined);
  const out = makeServerResponse(c1);
  assert.deepEqual(out.subarray(1 + RTMP_HANDSHAKE_SIZE), c1);
});

test('ServerHandshake: byte-by-byte C0/C1, reply once, then C2 and the chunk-stream bytes after it', () => {
  const hs = new ServerHandshake();
  const c1 = digestC1(DigestSchema.DigestFirst);
  const c0c1 = Buffer.concat([Buffer.of(3), c1]);
  const before = Buffer.from(c0c1);
  let reply: Buffer | undefined;
  for (let i = 0; i < c0c1.length; i++) {
    const step = hs.push(c0c1.subarray(i, i + 1));
    if (step.reply !== undefined) reply = step.reply;
    assert.equal(step.done, false);
  }
  assert.deepEqual(c0c1, before, 'input integrity');
  assert.ok(reply !== undefined && reply.length === 3073);
  const c2 = Buffer.alloc(RTMP_HANDSHAKE_SIZE, 7);
  const tail = Buffer.of(0x03, 0xaa);
  assert.equal(hs.push(c2.subarray(0, 1000)).done, false);
  const last = hs.push(Buffer.concat([c2.subarray(1000), tail]));
  assert.equal(last.done, true);
  assert.equal(last.reply, undefined);
  assert.deepEqual(last.rest, tail);
  assert.throws(() => hs.push(Buffer.of(1)), (e) => isGatewayError(e, ErrorCode.RtmpHandshake));
});

test('ServerHandshake: C0C1C2 in one chunk replies and completes at once', () => {
  const hs = new ServerHandshake();
  const all = Buffer.concat([Buffer.of(3), randomBytes(RTMP_HANDSHAKE_SIZE * 2)]);
  all.writeUInt32BE(0, 5);
  const step = hs.push(all);
  assert.ok(step.reply !== undefined);
  assert.equal(step.done, true);
  assert.equal(step.rest.length, 0);
});

test('ServerHandshake: garbage (HTTP request, RTMPE C0=6) is refused with GW_ERR_RTMP_HANDSHAKE', () => {
  for (const garbage of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.of(6, 0, 0)]) {
    assert.throws(() => new ServerHandshake().push(garbage), (e) => isGatewayError(e, ErrorCode.RtmpHandshake));
  }
});

test('property: any C0=3 + bytes never throws during C1/C2 and replies exactly once', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 3073, maxLength: 3200 }), fc.nat({ max: 3000 }), (bytes, split) => {
      bytes[0] = 3;
      const hs = new ServerHandshake();
      const a = hs.push(bytes.subarray(0, split));
      const b = hs.push(bytes.subarray(split));
      assert.equal([a.reply, b.reply].filter((r) => r !== undefined).length, 1);
      assert.equal(b.done, true);
      assert.equal(b.rest.length, bytes.length - 3073);
    }),
    { numRuns: 50 },
  );
});
