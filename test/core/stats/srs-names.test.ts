/**
 * SRS's words for codecs, profiles, levels and client types (srs_kernel_codec.cpp, srs_protocol_rtmp_stack.cpp)
 * and the picture size read from a sequence header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { splitAnnexB } from '../../../core/codec/h264/nalu.ts';
import { buildHevcDecoderConfigurationRecord } from '../../../core/codec/h265/hevc-decoder-config.ts';
import { h265NaluType, H265NaluType } from '../../../core/codec/h265/nalu.ts';
import { videoInfo } from '../../../core/hub/meta-cache.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { srsAudio, srsClientType, srsVideo, videoSize } from '../../../core/stats/srs-names.ts';
import { fixture } from '../../helpers/peers.ts';
import { AVCC_X264_HIGH_1080P, AVCC_X264_MAIN_720P, hex } from '../../helpers/vectors.ts';

function message(body: Buffer): RtmpMessage {
  const m = createMessage(MessageType.Video, 0, body);
  if (m === undefined) throw new Error('empty body');
  return m;
}
/** FLV AVC sequence header: 0x17 (key, CodecID 7), AVCPacketType 0, CompositionTime 0, then the record. */
const avcHeader = (avcc: string): RtmpMessage => message(Buffer.concat([Buffer.from([0x17, 0x00, 0x00, 0x00, 0x00]), hex(avcc)]));

test('H.264: codec, profile and level names, size from the SPS (x264 720p Main 3.1; 1080p High level 42, which SRS\'s table lacks: Other)', () => {
  for (const [avcc, want] of [
    [AVCC_X264_HIGH_1080P, { codec: 'H264', profile: 'High', level: 'Other', width: 1920, height: 1080 }],
    [AVCC_X264_MAIN_720P, { codec: 'H264', profile: 'Main', level: '3.1', width: 1280, height: 720 }],
  ] as const) {
    const m = avcHeader(avcc);
    assert.deepEqual(srsVideo(videoInfo(m.payload), m), want);
  }
});

test('H.265 (Enhanced RTMP hvc1 sequence start): Main, general_level_idc 60 → "2", size from the SPS', () => {
  const nalus = splitAnnexB(readFileSync(fixture('h265/testsrc2-320x240-bf0-2s.hevc')));
  const ps = (t: number): Uint8Array => nalus.find((n) => h265NaluType(n) === t) as Uint8Array;
  const record = buildHevcDecoderConfigurationRecord(ps(H265NaluType.Vps), ps(H265NaluType.Sps), ps(H265NaluType.Pps));
  // 0x90: IsExHeader | FrameType 1 (key), PacketType 0 (SequenceStart); FourCC 'hvc1'.
  const m = message(Buffer.concat([Buffer.from([0x90, 0x68, 0x76, 0x63, 0x31]), record]));
  const info = videoInfo(m.payload);
  assert.deepEqual(info, { codec: 'hevc', profile: 1, level: 60 }, 'x265 for 320×240: Main, level 2');
  assert.deepEqual(srsVideo(info, m), { codec: 'HEVC', profile: 'Main', level: '2', width: 320, height: 240 });
});

test('unreadable or missing sequence header: 0×0; no video: null; other codecs: Other', () => {
  assert.deepEqual(videoSize(avcHeader('01640028ffe10003670000'), 'h264'), { width: 0, height: 0 }, 'truncated SPS');
  assert.deepEqual(videoSize(undefined, 'h264'), { width: 0, height: 0 });
  assert.equal(srsVideo(undefined, undefined), null);
  assert.deepEqual(srsVideo({ codec: 'vp6' }, undefined), { codec: 'VP6', profile: 'Other', level: 'Other', width: 0, height: 0 });
  assert.deepEqual(srsVideo({ codec: 'h263' }, undefined)?.codec, 'Other');
});

test('audio: AAC LC/HE/HEv2 from the ASC, MP3 (no AAC object: Other), none: null', () => {
  assert.deepEqual(srsAudio({ codec: 'aac', objectType: 2, sampleRateHz: 48000, channels: 1 }), { codec: 'AAC', sample_rate: 48000, channel: 1, profile: 'LC' });
  assert.equal(srsAudio({ codec: 'aac', objectType: 5 })?.profile, 'HE');
  assert.equal(srsAudio({ codec: 'aac', objectType: 29 })?.profile, 'HEv2');
  assert.deepEqual(srsAudio({ codec: 'mp3', sampleRateHz: 44100, channels: 2 }), { codec: 'MP3', sample_rate: 44100, channel: 2, profile: 'Other' });
  assert.equal(srsAudio({ codec: 'g711a' })?.codec, 'Other');
  assert.equal(srsAudio(undefined), null);
});

test('client types: SRS names where SRS has the client, castgate <protocol>-publish|play elsewhere', () => {
  const table: readonly [string, boolean, string][] = [
    ['rtmp', true, 'fmle-publish'],
    ['rtmp', false, 'rtmp-play'],
    ['http-flv', false, 'flv-play'],
    ['http-ts', false, 'flv-play'],
    ['http-aac', false, 'flv-play'],
    ['http-flv-post', true, 'http-flv-post-publish'],
    ['rtsp', true, 'rtsp-publish'],
    ['mpegts_over_udp', true, 'mpegts_over_udp-publish'],
    ['ingest', true, 'ingest-publish'],
  ];
  for (const [protocol, publish, want] of table) assert.equal(srsClientType(protocol, publish), want, `${protocol} ${publish}`);
});
