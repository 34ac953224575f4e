/**
 * createMessage / classifyPayload (core/media/message.ts): one case table of FLV tag bodies (FLV spec v10.1
 * Annex E.4.2/E.4.3, Enhanced RTMP v1 ExVideoTagHeader) → FrameKind; the message model's invariants (32-bit
 * timestamps, empty bodies, withTimestamp) and the encodings cached once per message for every consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPayload, createMessage, MessageType, type FrameKind } from '../../../core/media/message.ts';
import { flvTag } from '../../../core/protocol/flv/flv-muxer.ts';
import { mediaChunks } from '../../../core/protocol/rtmp/chunk-writer.ts';
import { ADTS_SILENT_44K_STEREO, ASC_FFMPEG_LC_44K_STEREO, AVCC_X264_MAIN_720P, MP3_VECTORS, hex } from '../../helpers/vectors.ts';

/** Enhanced RTMP VideoTagHeader byte: IsExHeader (1) | VideoFrameType (3 bits) | VideoPacketType (4 bits). */
const ex = (frameType: number, packetType: number): number => 0x80 | (frameType << 4) | packetType;
const HVC1 = [...Buffer.from('hvc1', 'latin1')]; // FourCC
const AV01 = [...Buffer.from('av01', 'latin1')];

const CASES: [label: string, type: MessageType, body: number[], kind: FrameKind | undefined][] = [
  // SCRIPTDATA: always metadata (the hub keeps the last one), whatever the body.
  ['AMF0 onMetaData', MessageType.Data, [0x02, 0x00, 0x0a, ...Buffer.from('onMetaData'), 0x08, 0, 0, 0, 0, 0, 0, 9], 'metadata'],
  ['@setDataFrame', MessageType.Data, [0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame')], 'metadata'],
  ['empty SCRIPTDATA', MessageType.Data, [], 'metadata'],
  // AUDIODATA: SoundFormat (4) | SoundRate (2) | SoundSize (1) | SoundType (1), then AACPacketType for AAC.
  ['AAC sequence header (ffmpeg ASC, LC 44.1 kHz stereo)', MessageType.Audio, [0xaf, 0x00, ...hex(ASC_FFMPEG_LC_44K_STEREO)], 'audio-config'],
  ['AAC raw frame', MessageType.Audio, [0xaf, 0x01, ...hex(ADTS_SILENT_44K_STEREO).subarray(7, 30)], 'audio'],
  ['AAC with only the header byte (no AACPacketType)', MessageType.Audio, [0xaf], 'audio'],
  ['MP3 frame (SoundFormat 2): a 0 second byte is data, not a config', MessageType.Audio, [0x2f, ...hex(MP3_VECTORS[0].header)], 'audio'],
  ['MP3 frame starting 0x00', MessageType.Audio, [0x2f, 0x00, 0x00], 'audio'],
  ['Nellymoser (SoundFormat 6)', MessageType.Audio, [0x6e, 0x12], 'audio'],
  ['empty AUDIODATA', MessageType.Audio, [], undefined],
  // VIDEODATA (legacy): FrameType (4) | CodecID (4), then AVCPacketType + CompositionTime for AVC / HEVC (12).
  ['AVC sequence header (x264 Main 720p avcC)', MessageType.Video, [0x17, 0x00, 0, 0, 0, ...hex(AVCC_X264_MAIN_720P)], 'video-config'],
  ['AVC keyframe NALUs', MessageType.Video, [0x17, 0x01, 0, 0, 0x50, 0, 0, 0, 2, 0x65, 0x88], 'keyframe'],
  ['AVC inter frame', MessageType.Video, [0x27, 0x01, 0, 0, 0x28, 0, 0, 0, 2, 0x41, 0x9a], 'interframe'],
  ['AVC disposable inter frame (FrameType 3)', MessageType.Video, [0x37, 0x01, 0, 0, 0], 'interframe'],
  ['AVC end of sequence on a key FrameType', MessageType.Video, [0x17, 0x02, 0, 0, 0], 'interframe'],
  ['AVC header byte only', MessageType.Video, [0x17], 'interframe'],
  ['legacy HEVC (CodecID 12) sequence header', MessageType.Video, [0x1c, 0x00, 0, 0, 0, 0x01], 'video-config'],
  ['legacy HEVC keyframe', MessageType.Video, [0x1c, 0x01, 0, 0, 0], 'keyframe'],
  ['legacy HEVC inter frame', MessageType.Video, [0x2c, 0x01, 0, 0, 0], 'interframe'],
  ['Sorenson H.263 key frame (CodecID 2): no packet type', MessageType.Video, [0x12, 0x00, 0x00], 'keyframe'],
  ['VP6 inter frame (CodecID 4)', MessageType.Video, [0x24, 0x00], 'interframe'],
  ['video info/command frame (FrameType 5, Sorenson)', MessageType.Video, [0x52, 0x00], 'interframe'],
  ['AVC command frame (FrameType 5, VideoCommand 0 = start seek): not a sequence header', MessageType.Video, [0x57, 0x00], 'interframe'],
  ['legacy HEVC command frame (FrameType 5)', MessageType.Video, [0x5c, 0x00], 'interframe'],
  ['empty VIDEODATA', MessageType.Video, [], undefined],
  // Enhanced RTMP: FourCC after the header byte, no AVCPacketType.
  ['hvc1 SequenceStart (HEVCDecoderConfigurationRecord follows)', MessageType.Video, [ex(1, 0), ...HVC1, 0x01, 0x01], 'video-config'],
  ['hvc1 CodedFrames key (SI24 CompositionTime follows)', MessageType.Video, [ex(1, 1), ...HVC1, 0, 0, 0x28], 'keyframe'],
  ['hvc1 CodedFramesX key (no CompositionTime)', MessageType.Video, [ex(1, 3), ...HVC1, 0, 0, 0, 2, 0x26, 0x01], 'keyframe'],
  ['hvc1 CodedFrames inter', MessageType.Video, [ex(2, 1), ...HVC1, 0, 0, 0], 'interframe'],
  ['hvc1 CodedFramesX disposable inter', MessageType.Video, [ex(3, 3), ...HVC1], 'interframe'],
  ['hvc1 SequenceEnd on a key FrameType', MessageType.Video, [ex(1, 2), ...HVC1], 'interframe'],
  ['hvc1 Metadata packet (PacketType 4)', MessageType.Video, [ex(1, 4), ...HVC1], 'interframe'],
  ['av01 SequenceStart: any FourCC', MessageType.Video, [ex(1, 0), ...AV01], 'video-config'],
  ['Enhanced RTMP command frame (FrameType 5, PacketType 0): a VideoCommand, not a SequenceStart', MessageType.Video, [ex(5, 0), ...HVC1, 0x00], 'interframe'],
];

test('createMessage classifies each FLV tag body once (case table)', () => {
  for (const [label, type, body, kind] of CASES) {
    assert.equal(classifyPayload(type, Buffer.from(body)), kind, label);
    const msg = createMessage(type, 40, Buffer.from(body));
    if (kind === undefined) {
      assert.equal(msg, undefined, `${label}: nothing to classify, no message`);
      continue;
    }
    assert.ok(msg !== undefined, label);
    assert.equal(msg.kind, kind, label);
    assert.equal(msg.type, type, label);
    assert.equal(msg.timestamp, 40, label);
    assert.deepEqual([...msg.payload], body, `${label}: payload kept as is`);
    assert.equal(msg.isConfig, kind === 'metadata' || kind === 'audio-config' || kind === 'video-config', `${label}: isConfig`);
  }
});

test('the payload is owned, not copied; timestamps are put on the 32-bit RTMP clock', () => {
  const body = Buffer.from([0x27, 0x01, 0, 0, 0]);
  const msg = createMessage(MessageType.Video, 2 ** 32 + 5, body);
  assert.ok(msg !== undefined);
  assert.equal(msg.payload, body, 'the same Buffer');
  assert.equal(msg.timestamp, 5, '2^32 + 5 wraps to 5');
  assert.equal(createMessage(MessageType.Video, -1, body)?.timestamp, 0xffffffff, '-1 is 0xFFFFFFFF');
  assert.equal(createMessage(MessageType.Video, 0xffffffff, body)?.timestamp, 0xffffffff);
});

test('withTimestamp: the same object when unchanged; else a new message sharing the payload, with its own caches', () => {
  const msg = createMessage(MessageType.Video, 1000, Buffer.from([0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65]));
  assert.ok(msg !== undefined);
  assert.equal(msg.withTimestamp(1000), msg);
  const tag = flvTag(msg);
  const moved = msg.withTimestamp(0);
  assert.notEqual(moved, msg);
  assert.equal(moved.payload, msg.payload);
  assert.equal(moved.kind, 'keyframe');
  assert.equal(moved.cache.flvTag, undefined, 'an encoding of the old timestamp is not carried over');
  assert.equal(flvTag(moved).readUIntBE(4, 3), 0);
  assert.equal(tag.readUIntBE(4, 3), 1000, 'the original keeps its own');
});

test('encodings are computed once per message and shared by every consumer (FLV tag, RTMP chunks per chunk size)', () => {
  const msg = createMessage(MessageType.Video, 80, Buffer.alloc(300, 0x41).fill(0x17, 0, 1).fill(0x01, 1, 2));
  assert.ok(msg !== undefined);
  const tag = flvTag(msg);
  assert.equal(flvTag(msg), tag, 'second FLV consumer: the cached Buffer');
  assert.equal(msg.cache.flvTag, tag);
  const chunks = mediaChunks(msg, 128, 1, 6);
  assert.equal(mediaChunks(msg, 128, 1, 6), chunks, 'same chunk size and ids: the cached Buffer');
  assert.equal(chunks.length, 12 + 300 + 2, 'fmt 0 header (12) + 300 bytes in 3 chunks of ≤128 (2 fmt 3 headers)');
  const bigger = mediaChunks(msg, 4096, 1, 6);
  assert.notEqual(bigger, chunks, 'another chunk size is another encoding');
  assert.equal(bigger.length, 12 + 300);
  assert.equal(msg.cache.rtmpChunks, bigger, 'the cache follows the last chunk size asked for');
});
