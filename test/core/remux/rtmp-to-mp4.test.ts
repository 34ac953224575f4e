/**
 * RTMP messages → MP4 tracks and samples: codec strings (RFC 6381, ISO/IEC 14496-15 E.3 examples), track configs
 * from real sequence headers (x264 via ffmpeg's FLV, libx265 via the HevcPackager, ffmpeg AAC and MP3), samples as
 * views with PTS = DTS + CTS, the messages that carry no sample, and the codecs MP4 refuses (G.711, others).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError } from '../../../core/errors.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import {
  avcCodecString,
  hevcCodecString,
  mp4AudioSample,
  mp4AudioTrack,
  mp4VideoSample,
  mp4VideoTrack,
} from '../../../core/remux/rtmp-to-mp4.ts';
import { readVideoTagHeader } from '../../../core/protocol/flv/flv-tag.ts';
import { AVCC_X264_HIGH_1080P, AVCC_X264_MAIN_720P, MP3_VECTORS, hex } from '../../helpers/vectors.ts';
import { ffmpegFlvMessages, h264AacMessages, hevcMessages } from '../../helpers/dvr-media.ts';
import { fixture } from '../../helpers/peers.ts';

const msg = (type: MessageType, ts: number, body: Buffer): RtmpMessage => createMessage(type, ts, body) as RtmpMessage;
/** HEVCDecoderConfigurationRecord fixed part up to general_level_idc (8.3.3.1.2). */
const hvcc = (profileByte: number, compat: number[], constraints: number[], level: number): Buffer =>
  Buffer.from([1, profileByte, ...compat, ...constraints, level]);

test('avc1 codec strings: profile_idc, constraint flags, level_idc from the record (RFC 6381 3.3)', () => {
  assert.equal(avcCodecString(hex(AVCC_X264_HIGH_1080P)), 'avc1.64002a');
  assert.equal(avcCodecString(hex(AVCC_X264_MAIN_720P)), 'avc1.4d401f');
  assert.throws(() => avcCodecString(Buffer.from([1, 0x64])), (e) => isGatewayError(e, 'GW_ERR_AVC_CONFIG'));
});

test('hvc1 codec strings: the ISO/IEC 14496-15 E.3 examples', () => {
  // Main profile, Main tier, level 3.1, progressive source flag only: hev1.1.6.L93.B0
  assert.equal(hevcCodecString(hvcc(0x01, [0x60, 0, 0, 0], [0xb0, 0, 0, 0, 0, 0], 93)), 'hvc1.1.6.L93.B0');
  // Main 10, level 4: hev1.2.4.L120.B0 (compatibility flag 2 → bit-reversed 0x4)
  assert.equal(hevcCodecString(hvcc(0x02, [0x20, 0, 0, 0], [0xb0, 0, 0, 0, 0, 0], 120)), 'hvc1.2.4.L120.B0');
  // profile_space 1, High tier, profile 4, compatibility 0x82000000 → 0x41, two constraint bytes: hev1.A4.41.H120.B0.23
  assert.equal(hevcCodecString(hvcc(0x64, [0x82, 0, 0, 0], [0xb0, 0x23, 0, 0, 0, 0], 120)), 'hvc1.A4.41.H120.B0.23');
  // no constraint bytes at all
  assert.equal(hevcCodecString(hvcc(0x01, [0x60, 0, 0, 0], [0, 0, 0, 0, 0, 0], 60)), 'hvc1.1.6.L60');
  assert.throws(() => hevcCodecString(Buffer.alloc(12)), (e) => isGatewayError(e, 'GW_ERR_HEVC_CONFIG'));
});

test('H.264 track and samples from x264 via ffmpeg FLV: avcC as sent, size from the SPS, samples are views', () => {
  const msgs = h264AacMessages();
  const config = msgs.find((m) => m.kind === 'video-config') as RtmpMessage;
  const t = mp4VideoTrack(config);
  assert.deepEqual([t.codec, t.width, t.height], ['avc', 320, 240]);
  assert.match(t.codecString, /^avc1\.4d[0-9a-f]{4}$/, 'Main profile');
  assert.deepEqual(t.description, config.payload.subarray(5));
  assert.equal(t.description.buffer, config.payload.buffer, 'a view, not a copy');
  const key = msgs.find((m) => m.kind === 'keyframe') as RtmpMessage;
  const s = mp4VideoSample(key, 1000);
  assert.ok(s !== undefined);
  assert.deepEqual([s.dtsMs, s.ptsMs, s.key], [1000, 1000, true]);
  assert.deepEqual(s.data, key.payload.subarray(5));
  assert.equal(s.data.buffer, key.payload.buffer);
  const inter = msgs.find((m) => m.kind === 'interframe') as RtmpMessage;
  assert.equal(mp4VideoSample(inter, 40)?.key, false);
  assert.equal(mp4VideoSample(config, 0), undefined, 'a sequence header is no sample');
  // AVC end of sequence (AVCPacketType 2) and a command frame carry no picture
  assert.equal(mp4VideoSample(msg(MessageType.Video, 0, Buffer.from([0x17, 2, 0, 0, 0])), 0), undefined);
  assert.equal(mp4VideoSample(msg(MessageType.Video, 0, Buffer.from([0x57, 0])), 0), undefined);
});

test('CompositionTime: PTS = DTS + CTS (signed), from ffmpeg B-frame FLV and Enhanced RTMP hvc1', () => {
  const avc = ffmpegFlvMessages(['-i', fixture('ts/h264-bframes-aac-320x240-10s.ts')]).filter((m) => m.type === MessageType.Video && !m.isConfig);
  let reordered = 0;
  for (const m of avc) {
    const s = mp4VideoSample(m, m.timestamp);
    if (s === undefined) continue;
    assert.equal(s.ptsMs - s.dtsMs, readVideoTagHeader(m.payload).compositionTime);
    if (s.ptsMs !== s.dtsMs) reordered++;
  }
  assert.ok(reordered > 100, `${reordered} frames with CTS`);
  const hevc = hevcMessages();
  const t = mp4VideoTrack(hevc[0] as RtmpMessage);
  assert.deepEqual([t.codec, t.width, t.height], ['hevc', 320, 240]);
  assert.match(t.codecString, /^hvc1\.1\.6\.L\d+/);
  const frames = hevc.slice(1).map((m) => ({ m, s: mp4VideoSample(m, m.timestamp) }));
  assert.equal(frames.filter((f) => f.s !== undefined).length, 50);
  for (const { m, s } of frames) {
    const h = readVideoTagHeader(m.payload);
    assert.deepEqual(s?.data, m.payload.subarray(h.headerLength), 'CodedFrames (8-byte header) and CodedFramesX (5)');
    assert.equal(s?.ptsMs, m.timestamp + h.compositionTime);
  }
  // legacy CodecID 12 HEVC sequence header (5-byte header, record at 5)
  const legacy = Buffer.from(hevc[0]!.payload);
  legacy[0] = 0x1c;
  legacy[1] = 0;
  legacy[2] = legacy[3] = legacy[4] = 0;
  assert.equal(mp4VideoTrack(msg(MessageType.Video, 0, legacy)).codec, 'hevc');
});

test('AAC track from the AudioSpecificConfig, MP3 track from the first frame; samples without the FLV header', () => {
  const msgs = h264AacMessages();
  const asc = msgs.find((m) => m.kind === 'audio-config') as RtmpMessage;
  const aac = mp4AudioTrack(asc);
  assert.deepEqual(aac, {
    codec: 'aac', codecString: 'mp4a.40.2', sampleRate: 44100, channels: 2, description: asc.payload.subarray(2), samplesPerFrame: 1024,
  });
  const frame = msgs.find((m) => m.kind === 'audio' && m.timestamp > 0) as RtmpMessage;
  assert.deepEqual(mp4AudioSample(frame, 23), { data: frame.payload.subarray(2), dtsMs: 23, ptsMs: 23, key: true });
  assert.equal(mp4AudioSample(asc, 0), undefined);
  // HE-AAC (explicit SBR: AOT 5, core 22.05 kHz, extension 44.1 kHz) and HE-AAC v2 (AOT 29)
  assert.equal(mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0xaf, 0, 0x2b, 0x92, 0x08, 0x00]))).codecString, 'mp4a.40.5');
  assert.equal(mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0xaf, 0, 0xeb, 0x8a, 0x08, 0x00]))).codecString, 'mp4a.40.29');
  // channelConfiguration 0 (PCE): the FLV SoundType (stereo) stands in
  assert.equal(mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0xaf, 0, 0x12, 0x00]))).channels, 2);
  for (const v of MP3_VECTORS) {
    const mp3 = msg(MessageType.Audio, 0, Buffer.concat([Buffer.from([0x2f]), hex(v.header), Buffer.alloc(16)]));
    assert.deepEqual(mp4AudioTrack(mp3), { codec: 'mp3', codecString: 'mp3', sampleRate: v.sampleRate, channels: v.channels, samplesPerFrame: v.samplesPerFrame }, v.label);
    assert.deepEqual(mp4AudioSample(mp3, 7)?.data, mp3.payload.subarray(1), 'the whole MPEG audio frame');
  }
});

test('refused: G.711 (no ISO sample entry), other codecs, AAC frames without their config, truncated headers', () => {
  const unsupported = (e: unknown): boolean => isGatewayError(e, 'GW_ERR_MP4_UNSUPPORTED_CODEC');
  assert.throws(() => mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0x72, 0xd5, 0xd5]))), (e) => unsupported(e) && /G\.711 A-law/.test((e as Error).message));
  assert.throws(() => mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0x82, 0xff]))), (e) => unsupported(e) && /G\.711 µ-law/.test((e as Error).message));
  assert.throws(() => mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0xb2, 0]))), (e) => unsupported(e) && /SoundFormat 11/.test((e as Error).message));
  assert.throws(() => mp4AudioTrack(msg(MessageType.Audio, 0, Buffer.from([0xaf, 1, 0x21]))), unsupported);
  assert.throws(() => mp4VideoTrack(msg(MessageType.Video, 0, Buffer.from([0x12, 0, 0, 0, 0]))), unsupported, 'H.263');
  assert.throws(() => mp4VideoTrack(msg(MessageType.Video, 0, Buffer.from([0x90, 0x61, 0x76, 0x30, 0x31, 1]))), unsupported, 'Enhanced av01');
  const key = h264AacMessages().find((m) => m.kind === 'keyframe') as RtmpMessage;
  assert.throws(() => mp4VideoTrack(key), unsupported, 'a frame is no sequence header');
  assert.throws(() => mp4VideoSample(msg(MessageType.Video, 0, Buffer.from([0x17, 1, 0])), 0), (e) => isGatewayError(e, 'GW_ERR_FLV_TAG'));
  assert.throws(() => mp4VideoTrack(msg(MessageType.Video, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64]))), (e) => isGatewayError(e, 'GW_ERR_AVC_CONFIG'));
});

test('inputs are never written', () => {
  const msgs = [...h264AacMessages().slice(0, 40), ...hevcMessages().slice(0, 10)];
  const before = msgs.map((m) => Buffer.from(m.payload));
  for (const m of msgs) {
    if (m.kind === 'video-config') mp4VideoTrack(m);
    else if (m.kind === 'audio-config') mp4AudioTrack(m);
    else if (m.type === MessageType.Video) mp4VideoSample(m, m.timestamp);
    else if (m.type === MessageType.Audio) mp4AudioSample(m, m.timestamp);
  }
  msgs.forEach((m, i) => assert.deepEqual(m.payload, before[i]));
});
