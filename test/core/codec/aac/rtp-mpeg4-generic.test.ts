import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import {
  parseMpeg4GenericFmtp, readAudioSpecificConfig, RtpMpeg4GenericDepacketizer,
} from '../../../../core/codec/aac/rtp-mpeg4-generic.ts';
import type { Mpeg4GenericFmtp } from '../../../../core/codec/aac/rtp-mpeg4-generic.ts';
import { writeAudioSpecificConfig } from '../../../../core/codec/aac/audio-specific-config.ts';
import { parseRtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { splitRtpCapture } from '../../../helpers/rtp-capture.ts';
import {
  adtsRawFrames, depacketizeWithLoss, fmtpFromSdpOrCaps, makeAudioFrames, packetizeMpeg4Generic, pushFrames,
} from '../../../helpers/rtp-audio-packetizer.ts';
import type { AudioFrames, Mpeg4GenericPacketizerInit } from '../../../helpers/rtp-audio-packetizer.ts';

const FIXTURES = new URL('../../../../fixtures/rtp/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

/** AAC-hbr as ffmpeg and GStreamer announce it; config 1190 = AAC LC (2), 48 kHz (index 3), stereo. */
const HBR_48K_STEREO = new Map([['mode', 'AAC-hbr'], ['config', '1190'], ['sizelength', '13'], ['indexlength', '3'], ['indexdeltalength', '3']]);

function collect(d: RtpMpeg4GenericDepacketizer, packets: readonly RtpPacket[]): { frames: Buffer[]; results: AudioFrames[] } {
  const frames: Buffer[] = [];
  const results: AudioFrames[] = [];
  for (const p of packets) {
    const r = pushFrames(d, p);
    if (r === undefined) continue;
    results.push(r);
    for (const f of r.frames) frames.push(Buffer.from(f));
  }
  return { frames, results };
}

function depacketizer(fmtp: Mpeg4GenericFmtp): { d: RtpMpeg4GenericDepacketizer; errors: GatewayError[] } {
  const errors: GatewayError[] = [];
  return { d: new RtpMpeg4GenericDepacketizer(fmtp, (e) => errors.push(e)), errors };
}

/** Frames with recognisable content: frame i is `size(i)` bytes of (i + offset) & 0xff. */
test('fmtp: ffmpeg and GStreamer announcements give the ASC and the AU-header layout', () => {
  const ff = parseMpeg4GenericFmtp(fmtpFromSdpOrCaps(fixture('aac-mpeg4-generic-ffmpeg.sdp').toString()));
  assert.equal(ff.mode, 'AAC-hbr');
  assert.deepEqual(ff.asc, { audioObjectType: 2, samplingFrequencyIndex: 3, samplingFrequency: 48000, channelConfiguration: 2 });
  assert.deepEqual(ff.ascBytes, Buffer.from('119056e500', 'hex')); // with the 0x2B7 sync extension, sbrPresentFlag 0
  assert.deepEqual([ff.sizeLength, ff.indexLength, ff.indexDeltaLength, ff.ctsDeltaLength, ff.dtsDeltaLength], [13, 3, 3, 0, 0]);
  assert.equal(ff.samplesPerFrame, 1024);
  assert.equal(ff.randomAccessIndication, false);
  const gst = parseMpeg4GenericFmtp(fmtpFromSdpOrCaps(fixture('aac-mpeg4-generic-gstreamer.caps').toString()));
  assert.deepEqual(gst.asc, { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 1 });
  assert.equal(gst.sizeLength, 13);
});

test('fmtp: AAC-lbr, optional fields, frameLengthFlag (960) and SBR signaling', () => {
  const f = parseMpeg4GenericFmtp(new Map([
    ['mode', 'aac-lbr'], ['config', '1194'], ['sizelength', '6'], ['indexlength', '2'], ['indexdeltalength', '2'],
    ['ctsdeltalength', '4'], ['dtsdeltalength', '5'], ['randomaccessindication', '1'], ['streamstateindication', '3'],
    ['auxiliarydatasizelength', '8'],
  ]));
  // 0x1194: AOT 2, index 3, channels 2, frameLengthFlag 1.
  assert.equal(f.samplesPerFrame, 960);
  assert.deepEqual([f.sizeLength, f.indexLength, f.indexDeltaLength, f.ctsDeltaLength, f.dtsDeltaLength], [6, 2, 2, 4, 5]);
  assert.equal(f.randomAccessIndication, true);
  assert.equal(f.streamStateIndication, 3);
  assert.equal(f.auxiliaryDataSizeLength, 8);
  // Explicit HE-AAC (AOT 5): extension frequency and core AOT.
  const he = writeAudioSpecificConfig({ audioObjectType: 2, samplingFrequencyIndex: 6, samplingFrequency: 24000, channelConfiguration: 2, extensionAudioObjectType: 5, extensionSamplingFrequency: 48000 });
  const heFmtp = parseMpeg4GenericFmtp(new Map([...HBR_48K_STEREO, ['config', he.toString('hex')]]));
  assert.deepEqual(heFmtp.asc, { audioObjectType: 2, samplingFrequencyIndex: 6, samplingFrequency: 24000, channelConfiguration: 2, extensionAudioObjectType: 5, extensionSamplingFrequency: 48000 });
  // Backward-compatible SBR (0x2B7 sync extension with sbrPresentFlag 1, extension index 3 = 48 kHz).
  const implicit = parseMpeg4GenericFmtp(new Map([...HBR_48K_STEREO, ['config', '131056e598']]));
  assert.equal(implicit.asc.samplingFrequency, 24000);
  assert.equal(implicit.asc.extensionAudioObjectType, 5);
  assert.equal(implicit.asc.extensionSamplingFrequency, 48000);
});

test('fmtp: missing or unsupported parameters throw GatewayError(AacConfig)', () => {
  const cases: Array<[string, Array<[string, string | undefined]>]> = [
    ['no mode', [['mode', undefined]]],
    ['mode=generic', [['mode', 'generic']]],
    ['mode=CELP-cbr', [['mode', 'CELP-cbr']]],
    ['no config', [['config', undefined]]],
    ['config not hex', [['config', '11z0']]],
    ['config odd length', [['config', '119']]],
    ['config AOT 0', [['config', '0190']]],
    ['config truncated', [['config', '11']]],
    ['config reserved frequency index', [['config', '16a0']]],
    ['no sizelength', [['sizelength', undefined]]],
    ['sizelength 0', [['sizelength', '0']]],
    ['sizelength 17', [['sizelength', '17']]],
    ['sizelength negative', [['sizelength', '-3']]],
    ['indexlength 99', [['indexlength', '99']]],
  ];
  for (const [label, edits] of cases) {
    const m = new Map(HBR_48K_STEREO);
    for (const [k, v] of edits) {
      if (v === undefined) m.delete(k);
      else m.set(k, v);
    }
    assert.throws(() => parseMpeg4GenericFmtp(m), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_AAC_CONFIG', label);
  }
});

test('ASC walker: bit length and ascBytes at a bit offset', () => {
  // 0x1190 shifted right by 3 bits inside a larger buffer.
  const data = Buffer.from([0b101_00010, 0b001_10010, 0b000_11111]);
  const w = readAudioSpecificConfig(data, 3, undefined, 'GW_ERR_AAC_LATM');
  assert.equal(w.bitLength, 16);
  assert.deepEqual(w.ascBytes, Buffer.from('1190', 'hex'));
  assert.equal(w.frameLengthFlag, false);
});

for (const [name, meta] of [['aac-mpeg4-generic-ffmpeg', 'sdp'], ['aac-mpeg4-generic-fragmented-ffmpeg', 'sdp'], ['aac-mpeg4-generic-gstreamer', 'caps']] as const) {
  test(`real capture ${name}: frames equal the encoder's raw AAC frames`, () => {
    const fmtp = parseMpeg4GenericFmtp(fmtpFromSdpOrCaps(fixture(`${name}.${meta}`).toString()));
    const { d, errors } = depacketizer(fmtp);
    const packets = splitRtpCapture(fixture(`${name}.rtp`)).map(parseRtpPacket);
    const { frames, results } = collect(d, packets);
    assert.deepEqual(errors, []);
    const want = adtsRawFrames(fixture(name.endsWith('gstreamer') ? 'aac-44k-mono-gstreamer.adts' : 'aac-48k-stereo-2s.adts'));
    if (name === 'aac-mpeg4-generic-ffmpeg') {
      // ffmpeg's rtpenc_aac aggregates up to ~1400 bytes and does not flush its last partial packet at the end.
      assert.equal(frames.length, 87);
      assert.deepEqual(frames, want.slice(0, frames.length));
    } else {
      assert.equal(frames.length, want.length);
      assert.deepEqual(frames, want);
    }
    if (!name.endsWith('gstreamer')) {
      // ffmpeg stamps exactly 1024 ticks per frame: frame i of a packet is at rtpTimestamp + i·1024.
      const first = results[0]!.rtpTimestamp;
      let index = 0;
      for (const r of results) {
        assert.equal((r.rtpTimestamp - first) >>> 0, index * d.samplesPerFrame);
        index += r.frames.length;
      }
    }
    if (name === 'aac-mpeg4-generic-fragmented-ffmpeg') assert.ok(frames.length < packets.length, 'some AUs were fragmented');
  });
}

interface Case {
  label: string;
  sizes: number[];
  init?: Mpeg4GenericPacketizerInit;
  fmtp?: Array<[string, string]>;
  /** Index of the packet to drop (onPacketLoss is called before the next). */
  lose?: number;
  /** Frames expected (indices into the input frames). */
  want: number[];
  errors: number;
}

const CASES: Case[] = [
  { label: 'one AU per packet', sizes: [300, 301, 302], init: { maxFramesPerPacket: 1 }, want: [0, 1, 2], errors: 0 },
  { label: 'several AUs per packet', sizes: [200, 210, 220, 230, 240, 250, 260], init: { maxPayloadSize: 700 }, want: [0, 1, 2, 3, 4, 5, 6], errors: 0 },
  { label: 'AU fragmented over 3 packets', sizes: [2500], init: { maxPayloadSize: 1000 }, want: [0], errors: 0 },
  { label: 'fragmented AU between aggregated packets', sizes: [100, 120, 3000, 90, 80], init: { maxPayloadSize: 1200 }, want: [0, 1, 2, 3, 4], errors: 0 },
  { label: 'largest AU (8191 bytes) over 9 packets', sizes: [8191], init: { maxPayloadSize: 1000 }, want: [0], errors: 0 },
  { label: 'AAC-lbr 6/2/2 field lengths', sizes: [40, 50, 63], init: { sizeLength: 6, indexLength: 2, indexDeltaLength: 2 }, fmtp: [['sizelength', '6'], ['indexlength', '2'], ['indexdeltalength', '2']], want: [0, 1, 2], errors: 0 },
  { label: 'no index fields (indexlength 0)', sizes: [100, 100], init: { indexLength: 0, indexDeltaLength: 0 }, fmtp: [['indexlength', '0'], ['indexdeltalength', '0']], want: [0, 1], errors: 0 },
  { label: 'CTS/DTS flags, RAP flag, stream state', sizes: [100, 110, 120], init: { ctsDeltaLength: 6, dtsDeltaLength: 4, randomAccessIndication: true, streamStateIndication: 2 }, fmtp: [['ctsdeltalength', '6'], ['dtsdeltalength', '4'], ['randomaccessindication', '1'], ['streamstateindication', '2']], want: [0, 1, 2], errors: 0 },
  { label: 'auxiliary section skipped', sizes: [100, 110], init: { auxiliaryDataSizeLength: 8, auxiliaryDataSizeBits: 21 }, fmtp: [['auxiliarydatasizelength', '8']], want: [0, 1], errors: 0 },
  { label: 'AU-Index-delta ≠ 0 (interleaving) is dropped', sizes: [100, 110, 120], init: { auIndexDelta: 2 }, want: [], errors: 1 },
  { label: 'loss of the middle fragment drops the AU only', sizes: [100, 2500, 100], init: { maxPayloadSize: 1000, maxFramesPerPacket: 1 }, lose: 2, want: [0, 2], errors: 1 },
  { label: 'loss of the first fragment drops the AU only', sizes: [100, 3500, 100], init: { maxPayloadSize: 1000, maxFramesPerPacket: 1 }, lose: 1, want: [0, 2], errors: 1 },
  { label: 'loss of a whole packet costs its AUs', sizes: [100, 100, 100, 100], init: { maxFramesPerPacket: 2 }, lose: 0, want: [2, 3], errors: 0 },
];

for (const c of CASES) {
  test(`packetizer → depacketizer: ${c.label}`, () => {
    const fmtp = parseMpeg4GenericFmtp(new Map([...HBR_48K_STEREO, ...(c.fmtp ?? [])]));
    const { d, errors } = depacketizer(fmtp);
    const frames = makeAudioFrames(c.sizes);
    const packets = packetizeMpeg4Generic(frames, c.init);
    const got = depacketizeWithLoss(d, packets, c.lose, frames);
    assert.deepEqual(got, c.want.map((i) => frames[i]));
    assert.equal(errors.length, c.errors, errors.map((e) => e.message).join('; '));
    for (const e of errors) assert.equal(e.code, 'GW_ERR_RTP_PAYLOAD');
  });
}

function rawPacket(payload: Buffer, marker = true, timestamp = 1000): RtpPacket {
  return { marker, payloadType: 96, sequenceNumber: 1, timestamp, ssrc: 1, csrcs: [], payload };
}

test('malformed payloads are reported and dropped; the depacketizer stays usable', () => {
  const fmtp = parseMpeg4GenericFmtp(HBR_48K_STEREO);
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['1 byte', Buffer.from([0x00])],
    ['AU-headers-length 0', Buffer.from([0x00, 0x00, 0xaa])],
    ['AU-headers-length past the end', Buffer.from([0x00, 0x40, 0x00, 0x10])],
    ['AU-headers-length not a whole header', Buffer.from([0x00, 0x0c, 0x00, 0x10, 0xaa, 0xbb])],
    ['AU-size 0', Buffer.from([0x00, 0x10, 0x00, 0x00])],
    ['two AUs, second runs past the data', Buffer.from([0x00, 0x20, 0x00, 0x10, 0x00, 0x20, 0xaa, 0xbb, 0xcc])],
    ['single AU larger than data with marker (truncated)', Buffer.from([0x00, 0x10, 0x00, 0x50, 0xaa])],
  ];
  for (const [label, payload] of bad) {
    const { d, errors } = depacketizer(fmtp);
    assert.equal(pushFrames(d, rawPacket(payload)), undefined, label);
    assert.equal(errors.length, 1, label);
    assert.equal(errors[0]!.code, 'GW_ERR_RTP_PAYLOAD');
    // Still usable: a good packet (one 2-byte AU) decodes.
    const ok = pushFrames(d, rawPacket(Buffer.from([0x00, 0x10, 0x00, 0x10, 0x12, 0x34])));
    assert.deepEqual(ok?.frames.map((f) => Buffer.from(f)), [Buffer.from([0x12, 0x34])], label);
  }
});

test('a fragment whose AU-size changes, or a new timestamp mid-AU, drops the AU', () => {
  const fmtp = parseMpeg4GenericFmtp(HBR_48K_STEREO);
  const { d, errors } = depacketizer(fmtp);
  const frag = (size: number, bytes: number[], marker: boolean, ts: number): RtpPacket =>
    rawPacket(Buffer.from([0x00, 0x10, size >> 5, (size & 0x1f) << 3, ...bytes]), marker, ts);
  assert.equal(pushFrames(d, frag(4, [1, 2], false, 10)), undefined);
  assert.equal(pushFrames(d, frag(5, [3, 4], true, 10)), undefined);
  assert.equal(errors.length, 1);
  assert.equal(pushFrames(d, frag(4, [1, 2], false, 20)), undefined);
  const r = pushFrames(d, frag(4, [9, 9, 9, 9], true, 30)); // new timestamp: old AU dropped, this one stands alone
  assert.deepEqual(r, { frames: [Buffer.from([9, 9, 9, 9])], rtpTimestamp: 30 });
  assert.equal(errors.length, 2);
  // Fragments past the AU-size.
  assert.equal(pushFrames(d, frag(4, [1, 2, 3], false, 40)), undefined);
  assert.equal(pushFrames(d, frag(4, [4, 5], true, 40)), undefined);
  assert.equal(errors.length, 3);
});

test('single-packet AUs are views into the payload; reassembled AUs are copies', () => {
  const { d } = depacketizer(parseMpeg4GenericFmtp(HBR_48K_STEREO));
  // Unpooled payloads (Buffer.alloc), so a shared ArrayBuffer means a view.
  const unpooled = (q: RtpPacket): RtpPacket => {
    const payload = Buffer.alloc(q.payload.length);
    q.payload.copy(payload);
    return { ...q, payload };
  };
  const [p] = packetizeMpeg4Generic(makeAudioFrames([50])).map(unpooled);
  const r = pushFrames(d, p!)!;
  assert.equal(r.frames[0]!.buffer, p!.payload.buffer);
  assert.equal(r.frames[0]!.byteOffset, p!.payload.byteOffset + 4);
  const packets = packetizeMpeg4Generic(makeAudioFrames([3000]), { maxPayloadSize: 1000 }).map(unpooled);
  let out: AudioFrames | undefined;
  for (const q of packets) out = pushFrames(d, q);
  assert.notEqual(out!.frames[0]!.buffer, packets.at(-1)!.payload.buffer);
});

test('property: push never throws, whatever the payload and field lengths', () => {
  fc.assert(
    fc.property(
      fc.record({ sizeLength: fc.integer({ min: 1, max: 16 }), indexLength: fc.integer({ min: 0, max: 8 }), cts: fc.integer({ min: 0, max: 8 }), aux: fc.integer({ min: 0, max: 16 }) }),
      fc.array(fc.record({ payload: fc.uint8Array({ maxLength: 80 }), marker: fc.boolean(), timestamp: fc.integer({ min: 0, max: 3 }), loss: fc.boolean() }), { maxLength: 12 }),
      (lengths, packets) => {
        const fmtp = parseMpeg4GenericFmtp(new Map([
          ['mode', 'AAC-hbr'], ['config', '1190'], ['sizelength', String(lengths.sizeLength)], ['indexlength', String(lengths.indexLength)],
          ['indexdeltalength', String(lengths.indexLength)], ['ctsdeltalength', String(lengths.cts)], ['auxiliarydatasizelength', String(lengths.aux)],
        ]));
        const d = new RtpMpeg4GenericDepacketizer(fmtp, (e) => assert.ok(e instanceof GatewayError));
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
