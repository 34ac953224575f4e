import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, GatewayError, isGatewayError } from '../../../../core/errors.ts';
import { MessageType, createMessage } from '../../../../core/media/message.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { FlvDemuxer } from '../../../../core/protocol/flv/flv-demuxer.ts';
import { flvFileHeader, flvTag } from '../../../../core/protocol/flv/flv-muxer.ts';

interface Captured {
  header?: [boolean, boolean];
  messages: RtmpMessage[];
  errors: GatewayError[];
  demuxer: FlvDemuxer;
}

function capture(opts?: { maxTagSize?: number }): Captured {
  const out: Captured = { messages: [], errors: [], demuxer: undefined as unknown as FlvDemuxer };
  out.demuxer = new FlvDemuxer(
    {
      onHeader: (a, v) => (out.header = [a, v]),
      onMessage: (m) => out.messages.push(m),
      onDecodeError: (e) => out.errors.push(e),
    },
    opts,
  );
  return out;
}

/** Push `bytes` in the given chunk sizes (cycled), then end(). */
function demux(bytes: Uint8Array, chunkSizes: number[] = [bytes.length || 1], opts?: { maxTagSize?: number }): Captured {
  const c = capture(opts);
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = Math.max(1, chunkSizes[i % chunkSizes.length] as number);
    c.demuxer.push(bytes.subarray(off, off + n));
    off += n;
  }
  c.demuxer.end();
  return c;
}

/** A raw tag header: TagType byte (with Filter bit), DataSize, 32-bit timestamp. */
function tagHeader(typeByte: number, dataSize: number, timestampMs: number): Buffer {
  const h = Buffer.alloc(11);
  h[0] = typeByte;
  h.writeUIntBE(dataSize, 1, 3);
  h.writeUIntBE(timestampMs & 0xffffff, 4, 3);
  h[7] = timestampMs >>> 24;
  return h;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

const AAC_CONFIG = createMessage(MessageType.Audio, 0, Buffer.of(0xaf, 0x00, 0x12, 0x10)) as RtmpMessage; // ASC 44.1k stereo
const AVC_KEY = createMessage(MessageType.Video, 40, Buffer.of(0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65)) as RtmpMessage;
const SCRIPT = createMessage(MessageType.Data, 0, Buffer.from('02000a6f6e4d65746144617461', 'hex')) as RtmpMessage;

function simpleFile(): Buffer {
  return Buffer.concat([flvFileHeader(true, true), flvTag(SCRIPT), flvTag(AAC_CONFIG), flvTag(AVC_KEY)]);
}

function summary(m: RtmpMessage): { type: number; kind: string; timestamp: number; payload: string } {
  return { type: m.type, kind: m.kind, timestamp: m.timestamp, payload: m.payload.toString('hex') };
}

test('demuxes header, script, audio and video tags; script data is kept as a metadata message', () => {
  const c = demux(simpleFile());
  assert.deepEqual(c.header, [true, true]);
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.messages.map(summary), [SCRIPT, AAC_CONFIG, AVC_KEY].map(summary));
  assert.deepEqual(c.messages.map((m) => m.kind), ['metadata', 'audio-config', 'keyframe']);
  assert.deepEqual(c.demuxer.stats, { tags: 3, bytes: simpleFile().length, errors: 0 });
});

test('same result for every chunking, down to 1 byte', () => {
  const file = simpleFile();
  const whole = demux(file).messages.map(summary);
  for (const sizes of [[1], [2], [3, 7], [11], [12, 1, 5], [4096]]) {
    const c = demux(file, sizes);
    assert.deepEqual(c.messages.map(summary), whole, `chunks ${sizes}`);
    assert.equal(c.errors.length, 0);
  }
});

test('reassembles the 32-bit timestamp from Timestamp (24 bits) and TimestampExtended (8 bits)', () => {
  const file = Buffer.concat([flvFileHeader(true, false), tagHeader(8, 2, 0xfe123456), Buffer.of(0xaf, 0x01), u32(13)]);
  const c = demux(file);
  assert.equal(c.messages[0]?.timestamp, 0xfe123456);
  assert.deepEqual(c.errors, []);
});

test('honours a DataOffset larger than 9', () => {
  const header = flvFileHeader(true, true);
  header.writeUInt32BE(9 + 5, 5); // DataOffset 14: five extra header bytes before PreviousTagSize0
  const file = Buffer.concat([header.subarray(0, 9), Buffer.alloc(5, 0xee), u32(0), flvTag(AVC_KEY)]);
  const c = demux(file, [1]);
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.messages.map(summary), [summary(AVC_KEY)]);
});

test('bad signature: reported as GW_ERR_FLV_HEADER, then all input is ignored', () => {
  const file = simpleFile();
  file[0] = 0x47; // 'G'
  const c = demux(file, [5]);
  assert.equal(c.errors.length, 1);
  assert.ok(isGatewayError(c.errors[0], ErrorCode.FlvHeader));
  assert.equal(c.header, undefined);
  c.demuxer.push(simpleFile());
  assert.deepEqual(c.messages, []);
  assert.equal(c.errors.length, 1);
});

test('DataOffset below 9 or above the limit fails the header', () => {
  for (const dataOffset of [0, 8, 0xffffffff]) {
    const header = flvFileHeader(true, true);
    header.writeUInt32BE(dataOffset, 5);
    const c = demux(Buffer.concat([header, flvTag(AVC_KEY)]));
    assert.equal(c.errors.length, 1, `DataOffset ${dataOffset}`);
    assert.ok(isGatewayError(c.errors[0], ErrorCode.FlvHeader));
    assert.deepEqual(c.messages, []);
  }
});

test('PreviousTagSize mismatch is reported and parsing continues', () => {
  const file = simpleFile();
  file.writeUInt32BE(7, 9); // PreviousTagSize0 must be 0
  const scriptEnd = 13 + flvTag(SCRIPT).length;
  file.writeUInt32BE(1234, scriptEnd - 4); // after the script tag
  const c = demux(file);
  assert.deepEqual(c.errors.map((e) => e.code), [ErrorCode.FlvPreviousTagSize, ErrorCode.FlvPreviousTagSize]);
  assert.match(c.errors[1]?.message ?? '', /PreviousTagSize 1234 .* expected 24/);
  assert.equal(c.messages.length, 3);
});

test('unknown TagType is reported and skipped; the next tag is delivered', () => {
  const file = Buffer.concat([flvFileHeader(false, true), tagHeader(15, 3, 0), Buffer.of(1, 2, 3), u32(14), flvTag(AVC_KEY)]);
  const c = demux(file, [2]);
  assert.equal(c.errors.length, 1);
  assert.ok(isGatewayError(c.errors[0], ErrorCode.FlvTag));
  assert.match(c.errors[0]?.message ?? '', /unknown TagType 15/);
  assert.deepEqual(c.messages.map(summary), [summary(AVC_KEY)]);
  assert.equal(c.demuxer.stats.tags, 2);
});

test('encrypted tag (Filter bit) is reported and skipped', () => {
  const file = Buffer.concat([flvFileHeader(true, true), tagHeader(0x20 | 8, 2, 0), Buffer.of(0xaf, 1), u32(13), flvTag(AVC_KEY)]);
  const c = demux(file);
  assert.equal(c.errors.length, 1);
  assert.match(c.errors[0]?.message ?? '', /Filter bit set/);
  assert.deepEqual(c.messages.map(summary), [summary(AVC_KEY)]);
});

test('DataSize above maxTagSize: GW_ERR_TOO_LARGE and the demuxer fails (no allocation)', () => {
  const file = Buffer.concat([flvFileHeader(true, true), flvTag(AAC_CONFIG), tagHeader(9, 1000, 0), Buffer.alloc(1004), flvTag(AVC_KEY)]);
  const c = demux(file, [100], { maxTagSize: 999 });
  assert.deepEqual(c.errors.map((e) => e.code), [ErrorCode.TooLarge]);
  assert.deepEqual(c.messages.map(summary), [summary(AAC_CONFIG)]);
  assert.throws(() => new FlvDemuxer({ onMessage() {}, onDecodeError() {} }, { maxTagSize: -1 }), RangeError);
});

test('empty audio/video bodies are dropped, an empty script tag is kept', () => {
  const file = Buffer.concat([flvFileHeader(true, true), tagHeader(8, 0, 0), u32(11), tagHeader(18, 0, 5), u32(11)]);
  const c = demux(file);
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.messages.map(summary), [{ type: 18, kind: 'metadata', timestamp: 5, payload: '' }]);
  assert.equal(c.demuxer.stats.tags, 2);
});

test('truncation: end() inside any structure reports exactly one GW_ERR_TRUNCATED; at a boundary nothing', () => {
  const file = simpleFile();
  const boundaries = new Set<number>([9, 13]); // header without tags (PreviousTagSize0 missing) is complete
  let o = 13;
  for (const m of [SCRIPT, AAC_CONFIG, AVC_KEY]) {
    o += flvTag(m).length;
    boundaries.add(o);
    boundaries.add(o - 4); // tag complete, trailing PreviousTagSize missing: the tag was delivered
  }
  const full = demux(file).messages.map(summary);
  for (let cut = 0; cut < file.length; cut++) {
    const c = demux(file.subarray(0, cut));
    if (boundaries.has(cut)) assert.deepEqual(c.errors, [], `cut ${cut}`);
    else assert.deepEqual(c.errors.map((e) => e.code), [ErrorCode.Truncated], `cut ${cut}`);
    assert.deepEqual(c.messages.map(summary), full.slice(0, c.messages.length), 'delivered messages are a prefix');
  }
  const c = capture();
  c.demuxer.end();
  c.demuxer.end();
  assert.equal(c.errors.length, 1, 'empty input is a truncated header; end() is idempotent');
  c.demuxer.push(simpleFile());
  assert.equal(c.messages.length, 0, 'input after end() is ignored');
});

test('input integrity: chunks are never written, and payloads are owned copies', () => {
  const file = simpleFile();
  const before = Buffer.from(file);
  const c = demux(file, [7]);
  assert.deepEqual(file, before);
  file.fill(0);
  assert.deepEqual(c.messages.map(summary), [SCRIPT, AAC_CONFIG, AVC_KEY].map(summary), 'payloads survive the chunk');
});

const arbMessage = fc
  .record({
    type: fc.constantFrom(MessageType.Audio, MessageType.Video, MessageType.Data),
    timestamp: fc.nat({ max: 0xffffffff }),
    payload: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  })
  .map(({ type, timestamp, payload }) => createMessage(type, timestamp, Buffer.from(payload)) as RtmpMessage);

test('property: muxer → demuxer round trip in any chunking', () => {
  fc.assert(
    fc.property(fc.array(arbMessage, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (msgs, sizes) => {
      const file = Buffer.concat([flvFileHeader(true, true), ...msgs.map(flvTag)]);
      const c = demux(file, sizes);
      assert.deepEqual(c.errors, []);
      assert.deepEqual(c.messages.map(summary), msgs.map(summary));
      assert.equal(c.demuxer.stats.tags, msgs.length);
    }),
    { numRuns: 200 },
  );
});

test('property: arbitrary bytes after a valid header never throw; every report is a GatewayError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1 }), (junk, sizes) => {
      const file = Buffer.concat([flvFileHeader(true, true), flvTag(AAC_CONFIG), junk]);
      const c = demux(file, sizes, { maxTagSize: 4096 });
      for (const e of c.errors) assert.ok(e instanceof GatewayError);
      assert.equal(c.demuxer.stats.errors, c.errors.length);
      assert.equal(c.demuxer.stats.bytes, file.length);
      assert.ok(c.messages.length >= 1);
    }),
    { numRuns: 300 },
  );
});
