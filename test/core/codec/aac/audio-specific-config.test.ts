import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ascEquals, parseAudioSpecificConfig, SAMPLING_FREQUENCIES, writeAudioSpecificConfig,
} from '../../../../core/codec/aac/audio-specific-config.ts';
import type { AudioSpecificConfig } from '../../../../core/codec/aac/audio-specific-config.ts';
import { ascFromAdts, parseAdtsHeader } from '../../../../core/codec/aac/adts.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { ADTS_VECTORS, ASC_FFMPEG_LC_44K_STEREO, hex } from '../../../helpers/vectors.ts';

// One case table for parser and writer (habit 18). Bits are annotated field by field.
const CASES: { label: string; hex: string; asc: AudioSpecificConfig }[] = [
  {
    label: 'AAC-LC 44.1 kHz stereo', hex: '1210', // 00010 AOT 2 | 0100 sfi 4 | 0010 ch 2 | 000 GASpecificConfig
    asc: { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 2 },
  },
  {
    label: 'AAC-LC 48 kHz mono', hex: '1188', // 00010 AOT 2 | 0011 sfi 3 | 0001 ch 1 | 000
    asc: { audioObjectType: 2, samplingFrequencyIndex: 3, samplingFrequency: 48000, channelConfiguration: 1 },
  },
  {
    label: 'HE-AAC explicit SBR, 24 kHz core → 48 kHz, stereo', hex: '2b118800',
    // 00101 AOT 5 (SBR) | 0110 sfi 6 (24000) | 0010 ch 2 | 0011 extension sfi 3 (48000) | 00010 AOT 2 | 000
    asc: { audioObjectType: 2, samplingFrequencyIndex: 6, samplingFrequency: 24000, channelConfiguration: 2, extensionAudioObjectType: 5, extensionSamplingFrequency: 48000 },
  },
  {
    label: 'HE-AAC explicit SBR, 22.05 kHz core → 44.1 kHz, stereo', hex: '2b920800',
    // 00101 AOT 5 | 0111 sfi 7 (22050) | 0010 ch 2 | 0100 extension sfi 4 (44100) | 00010 AOT 2 | 000
    asc: { audioObjectType: 2, samplingFrequencyIndex: 7, samplingFrequency: 22050, channelConfiguration: 2, extensionAudioObjectType: 5, extensionSamplingFrequency: 44100 },
  },
  {
    label: 'HE-AAC v2 (PS), 22.05 kHz core → 44.1 kHz, mono core', hex: 'eb8a0800',
    // 11101 AOT 29 (PS) | 0111 sfi 7 | 0001 ch 1 | 0100 extension sfi 4 | 00010 AOT 2 | 000
    asc: { audioObjectType: 2, samplingFrequencyIndex: 7, samplingFrequency: 22050, channelConfiguration: 1, extensionAudioObjectType: 29, extensionSamplingFrequency: 44100 },
  },
  {
    label: 'escape AOT 31 → 42 (USAC), 48 kHz stereo', hex: 'f94640',
    // 11111 escape | 001010 audioObjectTypeExt 10 (32 + 10 = 42) | 0011 sfi 3 | 0010 ch 2 | 000
    asc: { audioObjectType: 42, samplingFrequencyIndex: 3, samplingFrequency: 48000, channelConfiguration: 2 },
  },
  {
    label: 'explicit sampling frequency 37800 Hz (index 0xF), stereo', hex: '178049d410',
    // 00010 AOT 2 | 1111 explicit | 0x0093A8 (37800) 24 bits | 0010 ch 2 | 000
    asc: { audioObjectType: 2, samplingFrequencyIndex: 15, samplingFrequency: 37800, channelConfiguration: 2 },
  },
];

for (const c of CASES) {
  test(`ASC ${c.label}: parse and write`, () => {
    assert.deepEqual(parseAudioSpecificConfig(hex(c.hex)), c.asc);
    assert.equal(writeAudioSpecificConfig(c.asc).toString('hex'), c.hex);
  });
}

test('parses the ASC ffmpeg writes into MP4 (trailing sync extension ignored)', () => {
  assert.deepEqual(parseAudioSpecificConfig(hex(ASC_FFMPEG_LC_44K_STEREO)), CASES[0].asc);
});

test('writer normalises a mismatched index to the table (or to explicit) from the frequency', () => {
  assert.equal(writeAudioSpecificConfig({ audioObjectType: 2, samplingFrequencyIndex: 0, samplingFrequency: 44100, channelConfiguration: 2 }).toString('hex'), '1210');
  assert.equal(writeAudioSpecificConfig({ audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 37800, channelConfiguration: 2 }).toString('hex'), '178049d410');
  assert.throws(() => writeAudioSpecificConfig({ audioObjectType: 0, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 2 }), (e) => isGatewayError(e, ErrorCode.AacConfig));
  assert.throws(() => writeAudioSpecificConfig({ audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 16 }), (e) => isGatewayError(e, ErrorCode.AacConfig));
});

test('parse rejects truncation, AOT 0, reserved index and explicit 0 Hz with GatewayError(AacConfig)', () => {
  for (const bad of ['', '12', '0210', '16a0', '2b11', 'f9', '1780000010']) {
    assert.throws(() => parseAudioSpecificConfig(hex(bad)), (e) => isGatewayError(e, ErrorCode.AacConfig), bad);
  }
});

test('ascFromAdts: real ffmpeg ADTS headers', () => {
  for (const v of ADTS_VECTORS) {
    const asc = ascFromAdts(parseAdtsHeader(hex(v.header), 0)!);
    assert.deepEqual(asc, { audioObjectType: v.objectType, samplingFrequencyIndex: v.samplingFrequencyIndex, samplingFrequency: v.sampleRate, channelConfiguration: v.channelConfiguration });
  }
  assert.equal(writeAudioSpecificConfig(ascFromAdts(parseAdtsHeader(hex(ADTS_VECTORS[0].header), 0)!)).toString('hex'), '1210');
});

test('ascEquals compares every field that changes the sequence header', () => {
  assert.ok(ascEquals(CASES[0].asc, { ...CASES[0].asc }));
  assert.ok(!ascEquals(CASES[0].asc, { ...CASES[0].asc, channelConfiguration: 1 }));
  assert.ok(!ascEquals(CASES[2].asc, { ...CASES[2].asc, extensionSamplingFrequency: 44100 }));
  assert.equal(SAMPLING_FREQUENCIES.length, 13);
});

test('fuzz: parse only throws GatewayError(AacConfig); what it parses, it writes back to an equal ASC', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), (b) => {
    let asc: AudioSpecificConfig;
    try {
      asc = parseAudioSpecificConfig(b);
    } catch (e) {
      assert.ok(isGatewayError(e, ErrorCode.AacConfig), String(e));
      return;
    }
    let written: Buffer;
    try {
      written = writeAudioSpecificConfig(asc);
    } catch (e) {
      assert.ok(isGatewayError(e, ErrorCode.AacConfig), String(e)); // e.g. an extension AOT that is itself escaped
      return;
    }
    assert.ok(ascEquals(parseAudioSpecificConfig(written), asc));
  }), { numRuns: 500 });
});
