import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import { parseLatmFmtp, parseStreamMuxConfig, RtpMp4aLatmDepacketizer } from '../../../../core/codec/aac/rtp-mp4a-latm.ts';
import type { LatmFmtp } from '../../../../core/codec/aac/rtp-mp4a-latm.ts';
import { parseRtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { splitRtpCapture } from '../../../helpers/rtp-capture.ts';
import {
  adtsRawFrames, depacketizeWithLoss, fmtpFromSdpOrCaps, makeAudioFrames, loasAudioMuxElements, packetizeLatm, writeAudioMuxElement,
  writeLoas, writeStreamMuxConfig, pushFrames,
} from '../../../helpers/rtp-audio-packetizer.ts';
import type { LatmPacketizerInit, StreamMuxConfigInit } from '../../../helpers/rtp-audio-packetizer.ts';

const FIXTURES = new URL('../../../../fixtures/rtp/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const ASC_48K_STEREO = Buffer.from('1190', 'hex'); // AAC LC, index 3 (48 kHz), 2 channels, GASpecificConfig 000
const LC_48K_STEREO = { audioObjectType: 2, samplingFrequencyIndex: 3, samplingFrequency: 48000, channelConfiguration: 2 };
const LC_44K_MONO = { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 1 };
const isLatmError = (e: unknown): boolean => e instanceof GatewayError && e.code === 'GW_ERR_AAC_LATM';

function fmtpOf(config: Buffer | string, cpresent = '0'): LatmFmtp {
  const hex = typeof config === 'string' ? config : config.toString('hex');
  return parseLatmFmtp(new Map([['cpresent', cpresent], ['config', hex]]), 48000, 2);
}

function depacketizer(fmtp: LatmFmtp): { d: RtpMp4aLatmDepacketizer; errors: GatewayError[] } {
  const errors: GatewayError[] = [];
  return { d: new RtpMp4aLatmDepacketizer(fmtp, (e) => errors.push(e)), errors };
}

test('StreamMuxConfig vectors from ffmpeg, GStreamer and RFC 6416', () => {
  const cases: Array<[string, string, object, string]> = [
    ['ffmpeg 48 kHz stereo', '400023203fc0', LC_48K_STEREO, '1190'],
    ['ffmpeg 44.1 kHz mono', '400024103fc0', LC_44K_MONO, '1208'],
    ['ffmpeg 22.05 kHz stereo', '400027203fc0', { audioObjectType: 2, samplingFrequencyIndex: 7, samplingFrequency: 22050, channelConfiguration: 2 }, '1390'],
    // rtpmp4apay copies avenc_aac's codec_data (with the 0x2B7 SBR sync extension, sbrPresentFlag 0) and stops.
    ['GStreamer 44.1 kHz mono', '40002410adca00', LC_44K_MONO, '120856e500'],
    ['GStreamer 48 kHz stereo', '40002320adca00', LC_48K_STEREO, '119056e500'],
    ['GStreamer style, plain ASC, 44.1 kHz stereo', '40002420', { ...LC_44K_MONO, channelConfiguration: 2 }, '1210'],
    ['RFC 6416 §7.4 example, 24 kHz mono', '400026103fc0', { audioObjectType: 2, samplingFrequencyIndex: 6, samplingFrequency: 24000, channelConfiguration: 1 }, '1308'],
  ];
  for (const [label, hex, asc, ascHex] of cases) {
    const c = parseStreamMuxConfig(Buffer.from(hex, 'hex'));
    assert.deepEqual(c.asc, asc, label);
    assert.equal(c.ascBytes.toString('hex'), ascHex, label);
    assert.deepEqual([c.audioMuxVersion, c.allStreamsSameTimeFraming, c.numSubFrames, c.frameLengthType, c.otherDataLenBits, c.crcCheckPresent], [0, true, 0, 0, 0, false], label);
    assert.equal(c.latmBufferFullness, 0xff, label);
    assert.equal(c.samplesPerFrame, 1024, label);
  }
});

test('StreamMuxConfig: audioMuxVersion 1 (LatmGetValue, ascLen with fill bits), sub-frames, otherData, CRC, 960', () => {
  const v1 = parseStreamMuxConfig(writeStreamMuxConfig({ audioMuxVersion: 1, asc: ASC_48K_STEREO, fillBits: 5, numSubFrames: 3, otherDataLenBits: 24, crcCheckPresent: true, latmValueBytesMinus1: 2 }), false);
  assert.deepEqual(v1.asc, LC_48K_STEREO);
  assert.deepEqual([v1.audioMuxVersion, v1.numSubFrames, v1.otherDataLenBits, v1.crcCheckPresent], [1, 3, 24, true]);
  const v0 = parseStreamMuxConfig(writeStreamMuxConfig({ asc: ASC_48K_STEREO, otherDataLenBits: 300 }), false);
  assert.equal(v0.otherDataLenBits, 300); // escape loop: 1|0x01, 0|0x2C
  const f960 = parseStreamMuxConfig(writeStreamMuxConfig({ asc: Buffer.from('1194', 'hex') }));
  assert.equal(f960.samplesPerFrame, 960);
  // audioMuxVersion 1 lets an object type without a GASpecificConfig through (its ascLen is known).
  const als = parseStreamMuxConfig(writeStreamMuxConfig({ audioMuxVersion: 1, asc: Buffer.from('f886400000', 'hex') }));
  assert.equal(als.asc.audioObjectType, 36);
});

test('StreamMuxConfig: unsupported or corrupt configs throw GatewayError(AacLatm)', () => {
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['two programs', Buffer.from('40102320', 'hex')],
    ['two layers', Buffer.from('40024640', 'hex')],
    ['allStreamsSameTimeFraming 0', Buffer.from('00002320', 'hex')],
    ['audioMuxVersionA 1', Buffer.from('c0', 'hex')],
    ['frameLengthType 1', writeStreamMuxConfig({ asc: ASC_48K_STEREO, frameLengthType: 1 })],
    ['channelConfiguration 0 (PCE)', writeStreamMuxConfig({ asc: Buffer.from('1180', 'hex') })],
    ['AOT 36 in audioMuxVersion 0', writeStreamMuxConfig({ asc: Buffer.from('f886400000', 'hex') })],
    ['truncated ASC', Buffer.from('400023', 'hex')],
    ['ascLen past the end (version 1)', Buffer.from('80004ff000', 'hex')],
  ];
  for (const [label, config] of cases) assert.throws(() => parseStreamMuxConfig(config), isLatmError, label);
});

test('fmtp: cpresent, config, object', () => {
  const ff = parseLatmFmtp(fmtpFromSdpOrCaps(fixture('aac-latm-ffmpeg.sdp').toString()), 48000, 2);
  assert.equal(ff.cpresent, false);
  assert.deepEqual(ff.asc, LC_48K_STEREO);
  assert.deepEqual(ff.ascBytes, ASC_48K_STEREO);
  const gst = parseLatmFmtp(fmtpFromSdpOrCaps(fixture('aac-latm-gstreamer.caps').toString()), 44100, 1);
  assert.deepEqual(gst.asc, LC_44K_MONO);
  const inBand = parseLatmFmtp(new Map([['object', '2']]), 48000, 2); // cpresent defaults to 1
  assert.deepEqual([inBand.cpresent, inBand.asc, inBand.object], [true, undefined, 2]);
  assert.throws(() => parseLatmFmtp(new Map([['cpresent', '0']]), 48000, 2), isLatmError, 'cpresent=0 without config');
  assert.throws(() => parseLatmFmtp(new Map([['cpresent', '2'], ['config', '400023203fc0']]), 48000, 2), isLatmError);
  assert.throws(() => parseLatmFmtp(new Map([['cpresent', '0'], ['config', '40002x']]), 48000, 2), isLatmError);
  assert.throws(() => parseLatmFmtp(new Map([['cpresent', '0'], ['config', '40102320']]), 48000, 2), isLatmError);
});

for (const [name, meta] of [['aac-latm-ffmpeg', 'sdp'], ['aac-latm-fragmented-ffmpeg', 'sdp'], ['aac-latm-gstreamer', 'caps']] as const) {
  test(`real capture ${name}: frames equal the encoder's raw AAC frames`, () => {
    const fmtp = parseLatmFmtp(fmtpFromSdpOrCaps(fixture(`${name}.${meta}`).toString()), 48000, 2);
    const { d, errors } = depacketizer(fmtp);
    const packets = splitRtpCapture(fixture(`${name}.rtp`)).map(parseRtpPacket);
    const frames: Buffer[] = [];
    const timestamps: number[] = [];
    for (const p of packets) {
      const r = pushFrames(d, p);
      if (r === undefined) continue;
      timestamps.push(r.rtpTimestamp);
      for (const f of r.frames) frames.push(Buffer.from(f));
    }
    assert.deepEqual(errors, []);
    const want = adtsRawFrames(fixture(name.endsWith('gstreamer') ? 'aac-44k-mono-gstreamer.adts' : 'aac-48k-stereo-2s.adts'));
    assert.equal(frames.length, want.length);
    assert.deepEqual(frames, want);
    if (name.endsWith('gstreamer')) {
      assert.ok(frames.some((f) => f.length >= 255), 'PayloadLengthInfo with 0xFF runs');
    } else {
      timestamps.forEach((t, i) => assert.equal((t - timestamps[0]!) >>> 0, i * 1024));
    }
    if (name === 'aac-latm-fragmented-ffmpeg') assert.ok(packets.length > 1.5 * frames.length, 'elements were fragmented');
  });
}

test('real in-band StreamMuxConfig (cpresent=1): ffmpeg latmenc AudioMuxElements, unaligned payloads', () => {
  const { d, errors } = depacketizer(parseLatmFmtp(new Map([['cpresent', '1']]), 48000, 2));
  assert.equal(d.asc, undefined);
  const elements = loasAudioMuxElements(fixture('aac-48k-stereo-2s.loas'));
  const frames: Buffer[] = [];
  elements.forEach((payload, i) => {
    const r = pushFrames(d, { marker: true, payloadType: 96, sequenceNumber: i, timestamp: i * 1024, ssrc: 1, csrcs: [], payload });
    for (const f of r?.frames ?? []) frames.push(Buffer.from(f));
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(d.asc, LC_48K_STEREO);
  assert.deepEqual(frames, adtsRawFrames(fixture('aac-48k-stereo-2s.adts')));
});

test('the test packetizer\'s in-band AudioMuxElements (versions 0 and 1) decode with ffmpeg like the original', () => {
  const frames = adtsRawFrames(fixture('aac-48k-stereo-2s.adts')).slice(0, 30);
  const dir = mkdtempSync(join(tmpdir(), 'latm-'));
  try {
    const pcm = (file: string): Buffer => execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 's16le', '-'], { maxBuffer: 1 << 24 });
    const adts = join(dir, 'ref.aac');
    // Reference: the same 30 frames in ADTS (the first 30 frames of the fixture file, header included).
    let end = 0;
    const file = fixture('aac-48k-stereo-2s.adts');
    for (let i = 0; i < 30; i++) end += ((file[end + 3]! & 3) << 11) | (file[end + 4]! << 3) | (file[end + 5]! >> 5);
    writeFileSync(adts, file.subarray(0, end));
    const reference = pcm(adts);
    for (const config of [{ asc: ASC_48K_STEREO }, { audioMuxVersion: 1, asc: ASC_48K_STEREO, fillBits: 3, crcCheckPresent: true }] as StreamMuxConfigInit[]) {
      const loas = join(dir, `v${config.audioMuxVersion ?? 0}.loas`);
      writeFileSync(loas, writeLoas(frames.map((f) => writeAudioMuxElement([f], { inBandConfig: config }, true))));
      assert.deepEqual(pcm(loas), reference, `audioMuxVersion ${config.audioMuxVersion ?? 0}`);
      // And our depacketizer reads the same bytes back.
      const { d, errors } = depacketizer(parseLatmFmtp(new Map(), 48000, 2));
      const back = loasAudioMuxElements(readFileSync(loas)).map((payload, i) => pushFrames(d, { marker: true, payloadType: 96, sequenceNumber: i, timestamp: i, ssrc: 1, csrcs: [], payload }));
      assert.deepEqual(errors, []);
      assert.deepEqual(back.map((r) => Buffer.from(r!.frames[0]!)), frames);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Case {
  label: string;
  sizes: number[];
  config?: StreamMuxConfigInit;
  cpresent?: '0' | '1';
  init?: LatmPacketizerInit;
  lose?: number;
  want: number[];
  errors: number;
}

const V1_CONFIG: StreamMuxConfigInit = { audioMuxVersion: 1, asc: ASC_48K_STEREO, fillBits: 2 };
const CASES: Case[] = [
  { label: 'one element per packet', sizes: [200, 201, 202], want: [0, 1, 2], errors: 0 },
  { label: 'PayloadLengthInfo runs ≥ 255', sizes: [254, 255, 256, 509, 510, 511, 1000, 8191], init: { maxPayloadSize: 9000 }, want: [0, 1, 2, 3, 4, 5, 6, 7], errors: 0 },
  { label: 'several AudioMuxElements per packet', sizes: [100, 300, 120, 130, 140], init: { elementsPerPacket: 3 }, want: [0, 1, 2, 3, 4], errors: 0 },
  { label: 'element fragmented over 3 packets', sizes: [100, 2600, 100], init: { maxPayloadSize: 1000 }, want: [0, 1, 2], errors: 0 },
  { label: 'numSubFrames 2 (3 frames per element)', sizes: [100, 200, 300, 110, 210, 310], config: { asc: ASC_48K_STEREO, numSubFrames: 2 }, init: { framesPerElement: 3 }, want: [0, 1, 2, 3, 4, 5], errors: 0 },
  { label: 'otherData skipped', sizes: [100, 200], config: { asc: ASC_48K_STEREO, otherDataLenBits: 13 }, init: { otherDataLenBits: 13, elementsPerPacket: 2 }, want: [0, 1], errors: 0 },
  { label: 'audioMuxVersion 1 out of band', sizes: [100, 200], config: V1_CONFIG, want: [0, 1], errors: 0 },
  { label: 'cpresent=1 in-band version 1, elements sharing the config', sizes: [100, 257, 300, 90], cpresent: '1', init: { inBandConfig: V1_CONFIG, elementsPerPacket: 2 }, want: [0, 1, 2, 3], errors: 0 },
  { label: 'cpresent=1 fragmented unaligned element', sizes: [3000, 10], cpresent: '1', init: { inBandConfig: { asc: ASC_48K_STEREO }, maxPayloadSize: 1100 }, want: [0, 1], errors: 0 },
  { label: 'loss of the middle fragment drops the element only', sizes: [100, 2600, 100], init: { maxPayloadSize: 1000 }, lose: 2, want: [0, 2], errors: 0 },
  { label: 'loss of the first fragment: the rest does not parse and is dropped', sizes: [100, 3500, 100], init: { maxPayloadSize: 1000 }, lose: 1, want: [0, 2], errors: 1 },
  { label: 'loss of the last fragment: the next timestamp drops it', sizes: [100, 2600, 100], init: { maxPayloadSize: 1000 }, lose: 3, want: [0, 2], errors: 0 },
];

for (const c of CASES) {
  test(`packetizer → depacketizer: ${c.label}`, () => {
    const cpresent = c.cpresent ?? '0';
    const fmtp = cpresent === '1' ? parseLatmFmtp(new Map([['cpresent', '1']]), 48000, 2) : fmtpOf(writeStreamMuxConfig(c.config ?? { asc: ASC_48K_STEREO }), '0');
    const { d, errors } = depacketizer(fmtp);
    const frames = makeAudioFrames(c.sizes);
    const packets = packetizeLatm(frames, c.init);
    const got = depacketizeWithLoss(d, packets, c.lose, frames);
    assert.deepEqual(got, c.want.map((i) => frames[i]));
    assert.equal(errors.length, c.errors, errors.map((e) => e.message).join('; '));
  });
}

function rawPacket(payload: Buffer, marker = true, timestamp = 1000): RtpPacket {
  return { marker, payloadType: 96, sequenceNumber: 1, timestamp, ssrc: 1, csrcs: [], payload };
}

test('malformed AudioMuxElements are reported and dropped; the depacketizer stays usable', () => {
  const bad: Array<[string, Buffer, '0' | '1']> = [
    ['empty payload', Buffer.alloc(0), '0'],
    ['length run cut off', Buffer.from([0xff, 0xff]), '0'],
    ['length past the end', Buffer.from([0x05, 0x01, 0x02]), '0'],
    ['length 0', Buffer.from([0x00]), '0'],
    ['length run above 8191', Buffer.alloc(40, 0xff), '0'],
    ['useSameStreamMux before any config', Buffer.from([0x80, 0x01, 0xaa]), '1'],
    ['in-band config with two programs', Buffer.from([0x20, 0x08, 0x11, 0x90]), '1'],
  ];
  for (const [label, payload, cpresent] of bad) {
    const fmtp = cpresent === '1' ? parseLatmFmtp(new Map(), 48000, 2) : fmtpOf('400023203fc0');
    const { d, errors } = depacketizer(fmtp);
    assert.equal(pushFrames(d, rawPacket(payload)), undefined, label);
    assert.equal(errors.length, 1, label);
    assert.ok(['GW_ERR_RTP_PAYLOAD', 'GW_ERR_AAC_LATM'].includes(errors[0]!.code), label);
    const good = cpresent === '1' ? writeAudioMuxElement([Buffer.from([7, 8])], { inBandConfig: { asc: ASC_48K_STEREO } }, true) : Buffer.from([0x02, 7, 8]);
    assert.deepEqual(pushFrames(d, rawPacket(good))?.frames.map((f) => Buffer.from(f)), [Buffer.from([7, 8])], label);
  }
});

test('a packet whose last element is corrupt is dropped whole (all or nothing)', () => {
  const { d, errors } = depacketizer(fmtpOf('400023203fc0'));
  assert.equal(pushFrames(d, rawPacket(Buffer.from([0x02, 1, 2, 0x01, 3, 0x09, 4]))), undefined);
  assert.equal(errors.length, 1);
});

test('after a loss mid-element, the rest of its fragments (same timestamp) are dropped silently', () => {
  const { d, errors } = depacketizer(fmtpOf('400023203fc0'));
  assert.equal(pushFrames(d, rawPacket(Buffer.from([0x05, 1, 2]), false, 10)), undefined);
  d.onPacketLoss();
  // The last fragment happens to parse as an element ([0x01, 4]): it must not come out.
  assert.equal(pushFrames(d, rawPacket(Buffer.from([0x01, 4]), true, 10)), undefined);
  assert.deepEqual(pushFrames(d, rawPacket(Buffer.from([0x01, 9]), true, 11))?.frames.map((f) => Buffer.from(f)), [Buffer.from([9])]);
  assert.deepEqual(errors, []);
});

test('frames of a whole, aligned element are views into the payload', () => {
  const { d } = depacketizer(fmtpOf('400023203fc0'));
  const payload = Buffer.alloc(4);
  payload.set([0x03, 9, 8, 7]);
  const r = pushFrames(d, rawPacket(payload))!;
  assert.equal(r.frames[0]!.buffer, payload.buffer);
  assert.equal(r.frames[0]!.byteOffset, payload.byteOffset + 1);
});

test('property: push never throws, whatever the payload (cpresent 0 and 1)', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.record({ payload: fc.uint8Array({ maxLength: 64 }), marker: fc.boolean(), timestamp: fc.integer({ min: 0, max: 3 }), loss: fc.boolean() }), { maxLength: 12 }),
      (inBand, packets) => {
        const fmtp = inBand ? parseLatmFmtp(new Map(), 48000, 2) : fmtpOf('400023203fc0');
        const d = new RtpMp4aLatmDepacketizer(fmtp, (e) => assert.ok(e instanceof GatewayError));
        for (const p of packets) {
          if (p.loss) d.onPacketLoss();
          const payload = Buffer.from(p.payload);
          const r = pushFrames(d, rawPacket(payload, p.marker, p.timestamp));
          assert.deepEqual(payload, Buffer.from(p.payload));
          if (r !== undefined) for (const f of r.frames) assert.ok(f.length > 0 && f.length <= 8191);
        }
      },
    ),
    { numRuns: 400 },
  );
});
