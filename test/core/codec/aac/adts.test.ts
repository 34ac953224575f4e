import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAdtsSyncAt, parseAdtsHeader, writeAdtsHeader } from '../../../../core/codec/aac/adts.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { ADTS_SILENT_44K_STEREO, ADTS_SILENT_44K_STEREO_FRAME_LENGTHS, ADTS_VECTORS, hex } from '../../../helpers/vectors.ts';

const ADTS_LC_48K_STEREO = Uint8Array.of(
  0xff, 0xf1, // syncword 0xFFF, ID 0 (MPEG-4), layer 00, protection_absent 1
  0x4c, // profile 01 (AAC LC), sampling_frequency_index 0011 (48000), private 0, channel_config[2] 0
  0x80, 0x2e, 0x3f, 0xfc, // channel_config[1:0] 10 (stereo), frame_length 0x171 (369), buffer fullness 0x7FF
);

test('parses an AAC-LC 48 kHz stereo ADTS header (STYLE example)', () => {
  assert.deepEqual(parseAdtsHeader(ADTS_LC_48K_STEREO, 0), { objectType: 2, samplingFrequencyIndex: 3, channelConfiguration: 2, frameLength: 0x171, headerLength: 7, numRawDataBlocks: 0 });
});

for (const v of ADTS_VECTORS) {
  test(`parses real ffmpeg ADTS: ${v.label}`, () => {
    const h = parseAdtsHeader(hex(v.header), 0)!;
    assert.equal(h.objectType, v.objectType);
    assert.equal(h.samplingFrequencyIndex, v.samplingFrequencyIndex);
    assert.equal(h.channelConfiguration, v.channelConfiguration);
    assert.equal(h.frameLength, v.frameLength);
    assert.equal(h.headerLength, 7);
  });
}

test('walks a whole real ADTS stream frame by frame (ffprobe packet sizes)', () => {
  const data = hex(ADTS_SILENT_44K_STEREO);
  const lengths: number[] = [];
  for (let o = 0; o < data.length;) {
    const h = parseAdtsHeader(data, o)!;
    lengths.push(h.frameLength);
    o += h.frameLength;
  }
  assert.deepEqual(lengths, ADTS_SILENT_44K_STEREO_FRAME_LENGTHS);
});

test('CRC header (protection_absent 0) is 9 bytes; fewer bytes → undefined', () => {
  const crc = Uint8Array.of(0xff, 0xf0, 0x50, 0x80, 0x02, 0x1f, 0xfc, 0xab, 0xcd); // frame_length 16
  assert.equal(parseAdtsHeader(crc, 0)?.headerLength, 9);
  assert.equal(parseAdtsHeader(crc.subarray(0, 8), 0), undefined);
  for (let n = 0; n < 7; n++) assert.equal(parseAdtsHeader(ADTS_LC_48K_STEREO.subarray(0, n), 0), undefined, `${n} bytes`);
});

test('bad syncword, layer, reserved frequency and short frame_length throw GatewayError(AacAdts)', () => {
  const bad = (bytes: number[]) => assert.throws(() => parseAdtsHeader(Uint8Array.from(bytes), 0), (e) => isGatewayError(e, ErrorCode.AacAdts), JSON.stringify(bytes));
  bad([0xfe]);
  bad([0xff, 0xe1]);
  bad([0xff, 0xf3, 0x4c, 0x80, 0x2e, 0x3f, 0xfc]); // layer 01 (an MP3 header)
  bad([0xff, 0xf1, 0x74, 0x80, 0x2e, 0x3f, 0xfc]); // sampling_frequency_index 13 (reserved)
  bad([0xff, 0xf1, 0x4c, 0x80, 0x00, 0xdf, 0xfc]); // frame_length 6 < 7
  bad([0xff, 0xf0, 0x4c, 0x80, 0x01, 0x1f, 0xfc, 0, 0]); // frame_length 8 < 9 with CRC
});

test('writeAdtsHeader writes what parseAdtsHeader reads; rejects what ADTS cannot express', () => {
  const out = new Uint8Array(8);
  writeAdtsHeader(out, 1, { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 2 }, 338);
  assert.equal(Buffer.from(out.subarray(1)).toString('hex'), ADTS_VECTORS[0].header, 'same bytes as ffmpeg');
  assert.ok(isAdtsSyncAt(out, 1));
  const asc = { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 2 };
  for (const fn of [
    () => writeAdtsHeader(out, 0, asc, 8185),
    () => writeAdtsHeader(out, 0, { ...asc, audioObjectType: 5 }, 10),
    () => writeAdtsHeader(out, 0, { ...asc, samplingFrequencyIndex: 15, samplingFrequency: 37800 }, 10),
  ]) assert.throws(fn, (e) => isGatewayError(e, ErrorCode.AacAdts));
  fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 8184 }), (aot, sfi, ch, len) => {
    const b = new Uint8Array(7);
    writeAdtsHeader(b, 0, { audioObjectType: aot, samplingFrequencyIndex: sfi, samplingFrequency: 0, channelConfiguration: ch }, len);
    assert.deepEqual(parseAdtsHeader(b, 0), { objectType: aot, samplingFrequencyIndex: sfi, channelConfiguration: ch, frameLength: len + 7, headerLength: 7, numRawDataBlocks: 0 });
  }), { numRuns: 200 });
});

test('fuzz: parseAdtsHeader only throws GatewayError(AacAdts), never mutates its input', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 12 }), fc.nat(12), (b, off) => {
    const before = Uint8Array.from(b);
    try {
      const h = parseAdtsHeader(b, Math.min(off, b.length));
      if (h) assert.ok(h.frameLength >= h.headerLength);
    } catch (e) {
      assert.ok(isGatewayError(e, ErrorCode.AacAdts), String(e));
    }
    assert.deepEqual(b, before);
  }), { numRuns: 500 });
});
