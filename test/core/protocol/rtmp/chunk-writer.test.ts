import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acknowledgementMessage,
  chunkCacheKey,
  chunkedSize,
  encodeChunks,
  mediaChunks,
  PeerBandwidthLimit,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from '../../../../core/protocol/rtmp/chunk-writer.ts';
import { UserControlEvent } from '../../../../core/protocol/rtmp/chunk-reader.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';

test('fmt 0 header then fmt 3 continuation chunks', () => {
  const payload = Buffer.alloc(5, 0xee);
  const out = encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 40 }, payload, 2);
  assert.deepEqual(
    [...out],
    [
      0x06, // fmt 0, csid 6
      0x00, 0x00, 0x28, // timestamp 40
      0x00, 0x00, 0x05, // length 5
      0x09, // type video
      0x01, 0x00, 0x00, 0x00, // message stream id 1, little-endian
      0xee, 0xee,
      0xc6, 0xee, 0xee, // fmt 3 csid 6
      0xc6, 0xee,
    ],
  );
  assert.equal(out.length, chunkedSize({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 40 }, 5, 2));
});

test('2- and 3-byte basic headers on the writer side', () => {
  const a = encodeChunks({ chunkStreamId: 100, messageStreamId: 0, typeId: 20, timestampMs: 0 }, Buffer.alloc(0), 128);
  assert.deepEqual([...a.subarray(0, 2)], [0x00, 36]);
  const b = encodeChunks({ chunkStreamId: 65599, messageStreamId: 0, typeId: 20, timestampMs: 0 }, Buffer.alloc(0), 128);
  assert.deepEqual([...b.subarray(0, 3)], [0x01, 0xff, 0xff]);
  assert.throws(
    () => encodeChunks({ chunkStreamId: 1, messageStreamId: 0, typeId: 20, timestampMs: 0 }, Buffer.alloc(0), 128),
    (e) => isGatewayError(e, ErrorCode.RtmpChunk),
  );
  assert.throws(() => encodeChunks({ chunkStreamId: 3, messageStreamId: 0, typeId: 20, timestampMs: 0 }, Buffer.alloc(0), 0), /chunk size/);
});

test('protocol control and user control messages (spec 5.4, 7.1.7)', () => {
  assert.deepEqual([...setChunkSizeMessage(60000)], [0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x00, 0x00, 0xea, 0x60]);
  assert.deepEqual([...acknowledgementMessage(0x1_0000_0005).subarray(12)], [0, 0, 0, 5]);
  assert.deepEqual([...windowAckSizeMessage(2_500_000).subarray(6, 8)], [4, 5]);
  assert.deepEqual([...setPeerBandwidthMessage(2_500_000, PeerBandwidthLimit.Dynamic).subarray(12)], [0x00, 0x26, 0x25, 0xa0, 2]);
  assert.deepEqual([...userControlMessage(UserControlEvent.StreamBegin, 1).subarray(7, 18)], [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
});

test('media chunks are cached on the message: one serialization shared by every player', () => {
  const msg = createMessage(MessageType.Video, 1000, Buffer.concat([Buffer.of(0x17, 1, 0, 0, 0), Buffer.alloc(200_000, 1)])) as RtmpMessage;
  const first = mediaChunks(msg, 60000, 1, 6);
  const second = mediaChunks(msg, 60000, 1, 6);
  assert.equal(first, second, 'same Buffer object');
  assert.equal(msg.cache.rtmpChunks, first);
  assert.equal(msg.cache.rtmpChunksKey, chunkCacheKey(60000, 1, 6));
  const other = mediaChunks(msg, 4096, 1, 6);
  assert.notEqual(other, first);
  assert.deepEqual(other, encodeChunks({ chunkStreamId: 6, messageStreamId: 1, typeId: 9, timestampMs: 1000 }, msg.payload, 4096));
  assert.equal(chunkCacheKey(60000, 40, 6), undefined, 'unusual stream ids are not cached');
});
