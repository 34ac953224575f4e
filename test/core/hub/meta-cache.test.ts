import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMessage, MessageType } from '../../../core/media/message.ts';
import { audioInfo, MetaCache, videoInfo } from '../../../core/hub/meta-cache.ts';
import { aac, audioConfig, interframe, keyframe, metadata, videoConfig } from './hub-vectors.ts';

test('keeps the latest metadata and sequence headers and reads codec facts from them', () => {
  const m = new MetaCache();
  const md = metadata();
  const vc = videoConfig();
  const ac = audioConfig();
  m.update(md);
  m.update(vc);
  m.update(ac);
  m.update(keyframe(0));
  m.update(aac(0));
  assert.equal(m.metadata, md);
  assert.equal(m.videoConfig, vc);
  assert.equal(m.audioConfig, ac);
  assert.deepEqual(m.video, { codec: 'h264', profile: 100, level: 31 });
  assert.deepEqual(m.audio, { codec: 'aac', objectType: 2, sampleRateHz: 44100, channels: 2 });
  const vc2 = videoConfig(1000);
  m.update(vc2);
  assert.equal(m.videoConfig, vc2, 'latest wins');
  m.clear();
  assert.equal(m.metadata, undefined);
  assert.equal(m.videoConfig, undefined);
  assert.equal(m.video, undefined);
});

test('formats without a sequence header are noted from the first frame', () => {
  const m = new MetaCache();
  // MP3 (SoundFormat 2), 44 kHz (SoundRate 3), 16-bit, stereo: 0x2F
  const mp3 = createMessage(MessageType.Audio, 0, Buffer.from([0x2f, 0xff, 0xfb]));
  assert.ok(mp3 !== undefined);
  m.update(mp3);
  assert.deepEqual(m.audio, { codec: 'mp3', sampleRateHz: 44100, channels: 2 });
  m.update(interframe(0));
  assert.deepEqual(m.video, { codec: 'h264' });
});

test('codec facts: HEVC records, Enhanced RTMP FourCC, truncated and unknown bodies', () => {
  // Legacy HEVC (CodecID 12) sequence header: record byte 1 = Main profile (1), byte 12 = level 93 (3.1).
  const hevc = Buffer.alloc(5 + 23);
  hevc[0] = 0x1c;
  hevc[1] = 0x00;
  hevc[5] = 0x01;
  hevc[6] = 0x01;
  hevc[5 + 12] = 93;
  assert.deepEqual(videoInfo(hevc), { codec: 'hevc', profile: 1, level: 93 });
  // Enhanced RTMP: IsExHeader | FrameType 1 | PacketType 0 (SequenceStart), FourCC 'hvc1'.
  const ex = Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), hevc.subarray(5)]);
  assert.deepEqual(videoInfo(ex), { codec: 'hevc', profile: 1, level: 93 });
  assert.deepEqual(videoInfo(Buffer.from([0x91, 0x61, 0x76])), { codec: 'fourcc-' });
  assert.deepEqual(videoInfo(Buffer.from([0x17, 0x00, 0, 0, 0, 1])), { codec: 'h264' }, 'truncated record');
  assert.deepEqual(videoInfo(Buffer.from([0x1f])), { codec: 'codec-15' });
  assert.deepEqual(audioInfo(Buffer.from([0xaf, 0x00, 0x12])), { codec: 'aac' }, 'truncated ASC');
  assert.deepEqual(audioInfo(Buffer.from([0xaf, 0x00, 0x17, 0x90])).sampleRateHz, undefined, 'reserved frequency index 15');
  assert.deepEqual(audioInfo(Buffer.from([0x9f])), { codec: 'soundformat-9', sampleRateHz: 44100, channels: 2 });
});
