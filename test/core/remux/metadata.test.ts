/**
 * The one onMetaData builder (core/remux/metadata.ts): byte-exact against what the MPEG-TS caster
 * (casters/mpegts-udp/to-rtmp.ts #emitMetadata) and the RTSP caster (rtsp-media-out.ts #sendMetadata over
 * track-codecs.ts describe()) produced before they shared it. Those two builders are kept below verbatim as
 * reference models, and the golden bodies are the bytes the TS caster published for the committed fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aacTrackMetadata,
  avcTrackMetadata,
  createOnMetaData,
  encodeOnMetaData,
  g711TrackMetadata,
  hevcTrackMetadata,
  mp3TrackMetadata,
  onMetaDataFields,
  videoTrackMetadata,
  type TrackMetadata,
} from '../../../core/remux/metadata.ts';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0, type Amf0Value } from '../../../core/protocol/amf0.ts';
import { HEVC_FOURCC_ID } from '../../../core/codec/h265/hevc-packager.ts';
import type { AudioSpecificConfig } from '../../../core/codec/aac/audio-specific-config.ts';
import type { MpegAudioHeader } from '../../../core/codec/mpeg-audio.ts';
import { MessageType } from '../../../core/media/message.ts';

type Picture = { width: number; height: number; fps?: number | undefined };

const SPS_320x240_25 = { width: 320, height: 240, fps: 25 };
const SPS_160x120_25 = { width: 160, height: 120, fps: 25 };
const SPS_1920x1080_NO_VUI = { width: 1920, height: 1080, fps: undefined };
const ASC_LC_44100_STEREO: AudioSpecificConfig = { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 2 };
const ASC_LC_48000_MONO: AudioSpecificConfig = { audioObjectType: 2, samplingFrequencyIndex: 3, samplingFrequency: 48000, channelConfiguration: 1 };
const MP3_44100_STEREO: MpegAudioHeader = { version: 1, layer: 3, bitrateKbps: 64, sampleRate: 44100, channels: 2, frameLength: 208, samplesPerFrame: 1152, padding: false };

/** The TS caster's builder before core/remux/metadata.ts (casters/mpegts-udp/to-rtmp.ts #emitMetadata). */
function legacyTsBody(sps: Picture | undefined, hevc: Picture | undefined, asc: AudioSpecificConfig | undefined, mp3: MpegAudioHeader | undefined): Buffer {
  const meta: Record<string, Amf0Value> = {};
  if (sps !== undefined) {
    meta.width = sps.width;
    meta.height = sps.height;
    meta.videocodecid = 7;
    if (sps.fps !== undefined) meta.framerate = sps.fps;
  } else if (hevc !== undefined) {
    meta.width = hevc.width;
    meta.height = hevc.height;
    meta.videocodecid = HEVC_FOURCC_ID;
    if (hevc.fps !== undefined) meta.framerate = hevc.fps;
  }
  if (asc !== undefined) {
    meta.audiocodecid = 10;
    meta.audiosamplerate = asc.samplingFrequency;
    meta.audiochannels = asc.channelConfiguration;
    meta.stereo = asc.channelConfiguration === 2;
  } else if (mp3 !== undefined) {
    meta.audiocodecid = 2;
    meta.audiosamplerate = mp3.sampleRate;
    meta.audiochannels = mp3.channels;
    meta.stereo = mp3.channels === 2;
  }
  meta.encoder = 'castgate';
  return encodeAmf0(['onMetaData', new Amf0EcmaArray(meta)]);
}

/** One RTSP track as track-codecs.ts described it before core/remux/metadata.ts. */
type LegacyRtspTrack =
  | { kind: 'video'; videocodecid: number; sps: Picture | undefined }
  | { kind: 'aac'; asc: AudioSpecificConfig | undefined }
  | { kind: 'g711'; codec: 'pcma' | 'pcmu'; clockRate: number; channels: number }
  | undefined; // SETUP'd track whose codec is not publishable

/** The RTSP caster's builder before core/remux/metadata.ts (rtsp-media-out.ts #sendMetadata + describe()). */
function legacyRtspBody(tracks: readonly LegacyRtspTrack[]): Buffer {
  const meta: Record<string, Amf0Value> = {};
  for (const t of tracks) {
    if (t === undefined) continue;
    if (t.kind === 'video') {
      if (t.sps === undefined) continue;
      meta.width = t.sps.width;
      meta.height = t.sps.height;
      meta.videocodecid = t.videocodecid;
      if (t.sps.fps !== undefined) meta.framerate = t.sps.fps;
    } else if (t.kind === 'aac') {
      if (t.asc === undefined) continue;
      meta.audiocodecid = 10;
      meta.audiosamplerate = t.asc.samplingFrequency;
      meta.audiochannels = t.asc.channelConfiguration;
      meta.stereo = t.asc.channelConfiguration === 2;
    } else {
      meta.audiocodecid = t.codec === 'pcma' ? 7 : 8;
      meta.audiosamplerate = t.clockRate;
      meta.audiochannels = t.channels;
      meta.stereo = t.channels === 2;
    }
  }
  meta.encoder = 'castgate';
  return encodeAmf0(['onMetaData', new Amf0EcmaArray(meta)]);
}

/** The same RTSP track as codec facts for the shared builder. */
function rtspFacts(t: LegacyRtspTrack): TrackMetadata | undefined {
  if (t === undefined) return undefined;
  if (t.kind === 'video') return videoTrackMetadata(t.videocodecid, t.sps);
  if (t.kind === 'aac') return aacTrackMetadata(t.asc);
  return g711TrackMetadata(t.codec, t.channels, t.clockRate);
}

test('golden bodies: what the TS caster published for fixtures/ts/h264-aac-320x240-25fps-10s.ts and demux-h265-1s.ts', () => {
  // 'onMetaData' (02 000a ...), ECMA array (08) of 9 entries: width 320, height 240, videocodecid 7, framerate 25,
  // audiocodecid 10, audiosamplerate 44100, audiochannels 2, stereo true, encoder 'castgate', end (000009).
  const h264Aac =
    '02000a6f6e4d65746144617461' + '0800000009' +
    '0005776964746800' + '4074000000000000' +
    '00066865696768740040' + '6e000000000000' +
    '000c766964656f636f646563696400' + '401c000000000000' +
    '00096672616d657261746500' + '4039000000000000' +
    '000c617564696f636f646563696400' + '4024000000000000' +
    '000f617564696f73616d706c657261746500' + '40e5888000000000' +
    '000d617564696f6368616e6e656c7300' + '4000000000000000' +
    '000673746572656f' + '0101' +
    '0007656e636f646572' + '0200086361737467617465' + '000009';
  assert.equal(encodeOnMetaData([avcTrackMetadata(SPS_320x240_25), aacTrackMetadata(ASC_LC_44100_STEREO)]).toString('hex'), h264Aac);
  // H.265 160x120 25 fps, no audio: videocodecid = 'hvc1' as a number (41da1d98cc400000 = 1752589105).
  const h265 =
    '02000a6f6e4d65746144617461' + '0800000005' +
    '00057769647468004064000000000000' + '000668656967687400405e000000000000' +
    '000c766964656f636f6465636964' + '0041da1d98cc400000' +
    '00096672616d6572617465004039000000000000' + '0007656e636f6465720200086361737467617465000009';
  assert.equal(encodeOnMetaData([hevcTrackMetadata(SPS_160x120_25)]).toString('hex'), h265);
});

test('TS caster cases: byte-for-byte the former to-rtmp.ts builder (video first, H.264 before H.265, AAC before MP3)', () => {
  const pictures = [undefined, SPS_320x240_25, SPS_1920x1080_NO_VUI];
  const ascs = [undefined, ASC_LC_44100_STEREO, ASC_LC_48000_MONO];
  const mp3s = [undefined, MP3_44100_STEREO, { ...MP3_44100_STEREO, channels: 1 as const, sampleRate: 22050 }];
  let cases = 0;
  for (const sps of pictures) for (const hevc of pictures) for (const asc of ascs) for (const mp3 of mp3s) {
    // The caster's own choice, as core/remux/ts-to-rtmp.ts makes it now.
    const tracks = [avcTrackMetadata(sps) ?? hevcTrackMetadata(hevc), aacTrackMetadata(asc) ?? mp3TrackMetadata(mp3)];
    assert.deepEqual(encodeOnMetaData(tracks), legacyTsBody(sps, hevc, asc, mp3), JSON.stringify({ sps, hevc, asc, mp3 }));
    cases++;
  }
  assert.equal(cases, 81);
});

test('RTSP caster cases: byte-for-byte the former rtsp-media-out.ts + describe() builder, in SDP track order', () => {
  const h264: LegacyRtspTrack = { kind: 'video', videocodecid: 7, sps: SPS_320x240_25 };
  const h264NoSps: LegacyRtspTrack = { kind: 'video', videocodecid: 7, sps: undefined };
  const h265: LegacyRtspTrack = { kind: 'video', videocodecid: HEVC_FOURCC_ID, sps: SPS_1920x1080_NO_VUI };
  const aac: LegacyRtspTrack = { kind: 'aac', asc: ASC_LC_48000_MONO };
  const aacNoAsc: LegacyRtspTrack = { kind: 'aac', asc: undefined };
  const pcma: LegacyRtspTrack = { kind: 'g711', codec: 'pcma', clockRate: 8000, channels: 1 };
  const pcmu: LegacyRtspTrack = { kind: 'g711', codec: 'pcmu', clockRate: 8000, channels: 2 };
  const sessions: LegacyRtspTrack[][] = [
    [],
    [h264],
    [h264, aac],
    [aac, h264], // audio first in the SDP: audio fields first
    [h264NoSps, aac],
    [h264, aacNoAsc],
    [h265, pcma],
    [pcmu, h265],
    [undefined, h264, undefined, pcma],
    [h264, h265], // two video tracks: keys keep the first position, values are the last track's; framerate stays
    [h265, h264],
    [pcma, aac, pcmu],
  ];
  for (const tracks of sessions) {
    assert.deepEqual(encodeOnMetaData(tracks.map(rtspFacts)), legacyRtspBody(tracks), JSON.stringify(tracks));
  }
});

test('fields: names, values and order as decoded; stereo from channels; framerate only when known', () => {
  const [name, obj] = decodeAmf0(encodeOnMetaData([g711TrackMetadata('pcmu', 1), videoTrackMetadata(7, SPS_1920x1080_NO_VUI)]));
  assert.equal(name, 'onMetaData');
  assert.ok(obj instanceof Amf0EcmaArray);
  assert.deepEqual(Object.entries(obj.entries), [
    ['audiocodecid', 8],
    ['audiosamplerate', 8000],
    ['audiochannels', 1],
    ['stereo', false],
    ['width', 1920],
    ['height', 1080],
    ['videocodecid', 7],
    ['encoder', 'castgate'],
  ]);
  assert.deepEqual(onMetaDataFields([]), { encoder: 'castgate' });
  assert.equal(g711TrackMetadata('pcma', 2).audiocodecid, 7);
  assert.equal(avcTrackMetadata(undefined), undefined);
  assert.equal(hevcTrackMetadata(undefined), undefined);
  assert.equal(aacTrackMetadata(undefined), undefined);
  assert.equal(mp3TrackMetadata(undefined), undefined);
});

test('createOnMetaData: a data message of kind metadata at the given timestamp with the encoded body', () => {
  const tracks = [avcTrackMetadata(SPS_320x240_25)];
  const msg = createOnMetaData(tracks, 1423);
  assert.ok(msg !== undefined);
  assert.equal(msg.type, MessageType.Data);
  assert.equal(msg.kind, 'metadata');
  assert.equal(msg.timestamp, 1423);
  assert.deepEqual(msg.payload, encodeOnMetaData(tracks));
});
