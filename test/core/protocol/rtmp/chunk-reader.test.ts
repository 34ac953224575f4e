import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkReader, RTMP_MAX_CHUNK_STREAMS, RtmpTypeId, type RtmpChunkMessage } from '../../../../core/protocol/rtmp/chunk-reader.ts';
import { encodeChunks, setChunkSizeMessage } from '../../../../core/protocol/rtmp/chunk-writer.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';

function read(...chunks: (number[] | Buffer)[]): RtmpChunkMessage[] {
  const out: RtmpChunkMessage[] = [];
  const r = new ChunkReader({ onMessage: (m) => out.push(m) });
  for (const c of chunks) r.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return out;
}

const isChunkError = (e: unknown): boolean => isGatewayError(e, ErrorCode.RtmpChunk);

test('fmt 0 with a 1-byte basic header: one audio message', () => {
  const [m] = read([
    0x04, // fmt 0, csid 4
    0x00, 0x03, 0xe8, // timestamp 1000
    0x00, 0x00, 0x02, // message length 2
    0x08, // type 8 audio
    0x01, 0x00, 0x00, 0x00, // message stream id 1 (little-endian)
    0xaf, 0x01, // payload
  ]);
  assert.deepEqual({ ...m, payload: [...m.payload] }, { chunkStreamId: 4, messageStreamId: 1, typeId: 8, timestampMs: 1000, payload: [0xaf, 0x01] });
});

test('2-byte and 3-byte basic headers: chunk stream ids 64, 319, 320 and 65599', () => {
  const msgs = read(
    [0x00, 0x00, /* csid 64 */ 0, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0x17],
    [0x00, 0xff, /* csid 319 */ 0, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0x17],
    [0x01, 0x00, 0x01, /* csid 64 + 0 + 256 = 320 */ 0, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0x17],
    [0x01, 0xff, 0xff, /* csid 64 + 255 + 65280 = 65599 */ 0, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0x17],
  );
  assert.deepEqual(msgs.map((m) => m.chunkStreamId), [64, 319, 320, 65599]);
});

test('fmt 1/2/3 timestamps: deltas accumulate; fmt 3 new message repeats the last delta', () => {
  const msgs = read(
    [0x06, 0, 0, 100, 0, 0, 1, 9, 1, 0, 0, 0, 0xaa], // fmt 0 csid 6 ts 100, len 1, video, msid 1
    [0x46, 0, 0, 40, 0, 0, 1, 9, 0xbb], // fmt 1: delta 40, len 1, type 9 → 140
    [0x86, 0, 0, 40, 0xcc], // fmt 2: delta 40 → 180
    [0xc6, 0xdd], // fmt 3 new message: + 40 → 220
  );
  assert.deepEqual(msgs.map((m) => m.timestampMs), [100, 140, 180, 220]);
  assert.deepEqual(msgs.map((m) => m.messageStreamId), [1, 1, 1, 1]);
});

test('fmt 3 after fmt 0 uses the fmt 0 timestamp as delta (ffmpeg/SRS reading)', () => {
  const msgs = read([0x05, 0, 0, 10, 0, 0, 1, 18, 1, 0, 0, 0, 0x05], [0xc5, 0x05]);
  assert.deepEqual(msgs.map((m) => m.timestampMs), [10, 20]);
});

test('a message split over chunks (chunk size 128) is assembled into one owned buffer', () => {
  const payload = Buffer.alloc(300, 0x11);
  const bytes = encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 5 }, payload, 128);
  const before = Buffer.from(bytes);
  const [m] = read(bytes);
  assert.deepEqual(m.payload, payload);
  assert.deepEqual(bytes, before, 'input integrity');
  assert.notEqual(m.payload.buffer, bytes.buffer, 'payload does not pin the socket chunk');
});

test('extended timestamp on fmt 0 and repeated on fmt 3 continuation chunks', () => {
  const payload = Buffer.alloc(200, 0x22);
  const bytes = encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 8, timestampMs: 0x01234567 }, payload, 128);
  // fmt 0 header: 1 + 11 + 4 ext; continuation: 1 + 4 ext
  assert.equal(bytes.length, 16 + 128 + 5 + 72);
  assert.deepEqual([...bytes.subarray(1, 4)], [0xff, 0xff, 0xff]);
  assert.equal(bytes.readUInt32BE(12), 0x01234567);
  assert.equal(bytes[16 + 128], 0xc4);
  assert.equal(bytes.readUInt32BE(16 + 128 + 1), 0x01234567);
  const [m] = read(bytes);
  assert.equal(m.timestampMs, 0x01234567);
  assert.deepEqual(m.payload, payload);
});

test('timestamps wrap at 32 bits', () => {
  const msgs = read(
    encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 8, timestampMs: 0xfffffff0 }, Buffer.of(1), 128),
    [0x44, 0, 0, 0x20, 0, 0, 1, 8, 0x02], // fmt 1 delta 0x20
  );
  assert.deepEqual(msgs.map((m) => m.timestampMs), [0xfffffff0, 0x10]);
});

test('Set Chunk Size is applied and not forwarded; interleaved chunk streams assemble independently', () => {
  const a = encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 8, timestampMs: 0 }, Buffer.alloc(10, 0xa), 4);
  const v = encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 0 }, Buffer.alloc(10, 0xb), 4);
  // a: [12+4][1+4][1+2]; v: same layout. Interleave chunk by chunk.
  const inter = Buffer.concat([a.subarray(0, 16), v.subarray(0, 16), a.subarray(16, 21), v.subarray(16, 21), a.subarray(21), v.subarray(21)]);
  const msgs = read(setChunkSizeMessage(4), inter);
  assert.deepEqual(msgs.map((m) => [m.typeId, m.payload.length, m.payload[0]]), [[8, 10, 0xa], [9, 10, 0xb]]);
});

test('Abort discards the partial message of that chunk stream', () => {
  const big = encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 0 }, Buffer.alloc(200), 128);
  const abort = encodeChunks({ chunkStreamId: 2, messageStreamId: 0, typeId: RtmpTypeId.Abort, timestampMs: 0 }, Buffer.of(0, 0, 0, 6), 128);
  const next = encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 7 }, Buffer.of(0x17, 1), 128);
  const msgs = read(big.subarray(0, 12 + 128), abort, next);
  assert.deepEqual(msgs.map((m) => [m.timestampMs, m.payload.length]), [[7, 2]]);
});

test('zero-length messages are delivered', () => {
  const msgs = read([0x03, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0]);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].payload.length, 0);
});

test('protocol violations throw GW_ERR_RTMP_CHUNK', () => {
  assert.throws(() => read([0x44, 0, 0, 0, 0, 0, 1, 8, 0]), isChunkError, 'fmt 1 on a new chunk stream');
  assert.throws(() => read([0xc4]), isChunkError, 'fmt 3 on a new chunk stream');
  const half = encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 8, timestampMs: 0 }, Buffer.alloc(200), 128).subarray(0, 140);
  assert.throws(() => read(half, [0x04, 0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0]), isChunkError, 'fmt 0 in the middle of a message');
  const scs = (v: number[]) => [0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, ...v];
  assert.throws(() => read(scs([0, 0, 0, 0])), isChunkError, 'Set Chunk Size 0');
  assert.throws(() => read(scs([0x80, 0, 0, 0])), isChunkError, 'Set Chunk Size with the top bit');
  const complete: Buffer[] = [];
  for (let i = 0; i <= RTMP_MAX_CHUNK_STREAMS; i++) {
    complete.push(encodeChunks({ chunkStreamId: 320 + i, messageStreamId: 1, typeId: 8, timestampMs: 0 }, Buffer.of(0xaf), 128));
  }
  assert.throws(() => read(Buffer.concat(complete)), /chunk streams/);
});

test('partial-message memory is capped across chunk streams', () => {
  const starts: Buffer[] = [];
  for (let i = 0; i < 4; i++) {
    // 16 MiB - 1 declared, only the first 128-byte chunk sent, then the next chunk stream starts
    starts.push(Buffer.from([0x04 + i, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]), Buffer.alloc(128));
  }
  assert.throws(() => read(...starts), /partial messages/);
});

interface Msg {
  csid: number;
  msid: number;
  typeId: number;
  ts: number;
  payload: Uint8Array;
}

const msgArb: fc.Arbitrary<Msg> = fc.record({
  csid: fc.oneof(fc.integer({ min: 3, max: 63 }), fc.integer({ min: 64, max: 319 }), fc.integer({ min: 320, max: 65599 })),
  msid: fc.nat({ max: 0xffffffff }),
  typeId: fc.constantFrom(8, 9, 18, 20),
  ts: fc.oneof(fc.nat({ max: 0xfffffe }), fc.integer({ min: 0xffffff, max: 0xffffffff })),
  payload: fc.uint8Array({ maxLength: 600 }),
});

test('property: writer → reader round trip at any chunk size and any split of the byte stream', () => {
  fc.assert(
    fc.property(fc.array(msgArb, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 700 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, chunkSize, cuts) => {
      const stream = Buffer.concat([
        setChunkSizeMessage(chunkSize),
        ...msgs.map((m) => encodeChunks({ chunkStreamId: m.csid, messageStreamId: m.msid, typeId: m.typeId, timestampMs: m.ts }, m.payload, chunkSize)),
      ]);
      const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
      const out: RtmpChunkMessage[] = [];
      const r = new ChunkReader({ onMessage: (m) => out.push(m) });
      let prev = 0;
      for (const p of [...points, stream.length]) {
        r.push(stream.subarray(prev, p));
        prev = p;
      }
      assert.equal(r.bytesRead, stream.length);
      assert.deepEqual(
        out.map((m) => [m.chunkStreamId, m.messageStreamId, m.typeId, m.timestampMs, [...m.payload]]),
        msgs.map((m) => [m.csid, m.msid, m.typeId, m.ts, [...m.payload]]),
      );
    }),
    { numRuns: 300 },
  );
});

test('property: garbage never throws anything but GatewayError, and input is not mutated', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }), (chunks) => {
      const r = new ChunkReader({ onMessage: () => {} });
      for (const c of chunks) {
        const buf = Buffer.from(c);
        const before = Buffer.from(buf);
        try {
          r.push(buf);
        } catch (e) {
          assert.ok(isGatewayError(e, ErrorCode.RtmpChunk), String(e));
          return;
        }
        assert.deepEqual(buf, before);
      }
    }),
    { numRuns: 2000 },
  );
});
