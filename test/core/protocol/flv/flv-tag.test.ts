import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AAC_AUDIO_TAG_HEADER_BYTE, audioTagHeaderByte, readAudioTagHeader, readSi24, readVideoTagHeader, SI24_MAX, SI24_MIN,
  SoundRate, SoundSize, SoundType, writeAacAudioTagHeader, writeAudioTagHeader, writeAvcVideoTagHeader, writeSi24,
} from '../../../../core/protocol/flv/flv-tag.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { SoundFormat } from '../../../../core/media/message.ts';

test('AAC header byte is 0xAF: SoundFormat 10, rate 3, size 1, type 1', () => {
  assert.equal(AAC_AUDIO_TAG_HEADER_BYTE, 0xaf);
  assert.equal(audioTagHeaderByte({ soundFormat: SoundFormat.Aac, soundRate: SoundRate.Rate44100, soundSize: SoundSize.Bits16, soundType: SoundType.Stereo }), 0xaf);
  const out = new Uint8Array(3);
  writeAacAudioTagHeader(out, 1, 0);
  assert.deepEqual(Array.from(out), [0, 0xaf, 0]);
});

// One case table for writer and reader (habit 18).
const AUDIO_CASES = [
  { bytes: [0xaf, 0x00], fields: { soundFormat: 10, soundRate: 3, soundSize: 1, soundType: 1, aacPacketType: 0, headerLength: 2 } }, // AAC sequence header
  { bytes: [0xaf, 0x01], fields: { soundFormat: 10, soundRate: 3, soundSize: 1, soundType: 1, aacPacketType: 1, headerLength: 2 } }, // AAC raw
  { bytes: [0x2f], fields: { soundFormat: 2, soundRate: 3, soundSize: 1, soundType: 1, aacPacketType: undefined, headerLength: 1 } }, // MP3 44 kHz stereo
  { bytes: [0x2a], fields: { soundFormat: 2, soundRate: 2, soundSize: 1, soundType: 0, aacPacketType: undefined, headerLength: 1 } }, // MP3 22 kHz mono
];

test('audio tag header: write and read the same case table', () => {
  for (const c of AUDIO_CASES) {
    const h = readAudioTagHeader(Uint8Array.from(c.bytes));
    assert.deepEqual(h, c.fields);
    const out = new Uint8Array(2);
    const n = writeAudioTagHeader(out, 0, c.fields, c.fields.aacPacketType);
    assert.equal(n, c.fields.headerLength);
    assert.deepEqual(Array.from(out.subarray(0, n)), c.bytes);
  }
  assert.throws(() => readAudioTagHeader(new Uint8Array(0)), (e) => isGatewayError(e, ErrorCode.FlvTag));
  assert.throws(() => readAudioTagHeader(Uint8Array.of(0xaf)), (e) => isGatewayError(e, ErrorCode.FlvTag));
});

const VIDEO_CASES: { key: boolean; type: 0 | 1 | 2; cts: number; bytes: number[] }[] = [
  { key: true, type: 0, cts: 0, bytes: [0x17, 0x00, 0x00, 0x00, 0x00] }, // sequence header
  { key: true, type: 1, cts: 66, bytes: [0x17, 0x01, 0x00, 0x00, 0x42] }, // keyframe, CTS +66 ms
  { key: false, type: 1, cts: -33, bytes: [0x27, 0x01, 0xff, 0xff, 0xdf] }, // inter frame, CTS −33 ms (two's complement)
  { key: false, type: 1, cts: SI24_MAX, bytes: [0x27, 0x01, 0x7f, 0xff, 0xff] },
  { key: false, type: 1, cts: SI24_MIN, bytes: [0x27, 0x01, 0x80, 0x00, 0x00] },
  { key: false, type: 2, cts: 0, bytes: [0x27, 0x02, 0x00, 0x00, 0x00] }, // end of sequence
];

test('AVC video tag header: signed SI24 CompositionTime written and read back', () => {
  for (const c of VIDEO_CASES) {
    const out = new Uint8Array(5);
    writeAvcVideoTagHeader(out, c.key, c.type, c.cts);
    assert.deepEqual(Array.from(out), c.bytes, `cts ${c.cts}`);
    const h = readVideoTagHeader(out);
    assert.deepEqual(h, { isExHeader: false, frameType: c.key ? 1 : 2, codecId: 7, avcPacketType: c.type, compositionTime: c.cts, headerLength: 5 });
  }
});

test('writeSi24 clamps out-of-range values; readSi24 sign-extends', () => {
  const out = new Uint8Array(3);
  writeSi24(out, 0, 9_000_000);
  assert.equal(readSi24(out, 0), SI24_MAX);
  writeSi24(out, 0, -9_000_000);
  assert.equal(readSi24(out, 0), SI24_MIN);
  fc.assert(fc.property(fc.integer({ min: SI24_MIN, max: SI24_MAX }), (v) => {
    writeSi24(out, 0, v);
    assert.equal(readSi24(out, 0), v);
  }));
});

test('readVideoTagHeader: non-AVC codec, command frame, Enhanced RTMP, truncation', () => {
  assert.deepEqual(readVideoTagHeader(Uint8Array.of(0x22, 0xaa)), { isExHeader: false, frameType: 2, codecId: 2, avcPacketType: undefined, compositionTime: 0, headerLength: 1 });
  assert.deepEqual(readVideoTagHeader(Uint8Array.of(0x57, 0x01)), { isExHeader: false, frameType: 5, codecId: 7, avcPacketType: undefined, compositionTime: 0, headerLength: 1 });
  // Enhanced RTMP: IsExHeader | FrameType 1 | PacketType 1 (CodedFrames), 'hvc1', CTS −1
  assert.deepEqual(readVideoTagHeader(Uint8Array.of(0x91, 0x68, 0x76, 0x63, 0x31, 0xff, 0xff, 0xff)), { isExHeader: true, frameType: 1, packetType: 1, fourCc: 'hvc1', compositionTime: -1, headerLength: 8 });
  // PacketType 0 (SequenceStart) 'av01'
  assert.deepEqual(readVideoTagHeader(Uint8Array.of(0x90, 0x61, 0x76, 0x30, 0x31)), { isExHeader: true, frameType: 1, packetType: 0, fourCc: 'av01', compositionTime: 0, headerLength: 5 });
  for (const bad of [[], [0x17, 0x01, 0x00], [0x91, 0x68, 0x76], [0x91, 0x68, 0x76, 0x63, 0x31, 0x00]]) {
    assert.throws(() => readVideoTagHeader(Uint8Array.from(bad)), (e) => isGatewayError(e, ErrorCode.FlvTag), JSON.stringify(bad));
  }
});

test('fuzz: readers only throw GatewayError(FlvTag)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 10 }), (b) => {
    for (const read of [readAudioTagHeader, readVideoTagHeader]) {
      try {
        const h = read(b);
        assert.ok(h.headerLength <= b.length);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.FlvTag), String(e));
      }
    }
  }), { numRuns: 500 });
});
