import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { MessageType, RtmpMessage, createMessage } from '../../../../core/media/message.ts';
import { flvFileHeader, flvTag, FLV_MAX_DATA_SIZE } from '../../../../core/protocol/flv/flv-muxer.ts';

test('flvFileHeader writes the 9-byte header and PreviousTagSize0', () => {
  assert.deepEqual(
    flvFileHeader(true, true),
    Buffer.of(
      0x46, 0x4c, 0x56, // Signature 'FLV'
      0x01, // Version 1
      0x05, // TypeFlagsReserved 0, TypeFlagsAudio 1 (bit 2), reserved 0, TypeFlagsVideo 1 (bit 0)
      0x00, 0x00, 0x00, 0x09, // DataOffset 9
      0x00, 0x00, 0x00, 0x00, // PreviousTagSize0
    ),
  );
  assert.equal(flvFileHeader(true, false)[4], 0x04, 'audio only');
  assert.equal(flvFileHeader(false, true)[4], 0x01, 'video only');
  assert.equal(flvFileHeader(false, false)[4], 0x00, 'neither');
});

test('flvTag writes tag header, body and PreviousTagSize, splitting a 32-bit timestamp into 24 + 8 bits', () => {
  const payload = Buffer.of(0xaf, 0x01, 0x21, 0x10); // AAC raw frame (SoundFormat 10, AACPacketType 1) + 2 bytes
  const msg = createMessage(MessageType.Audio, 0x12345678, payload) as RtmpMessage;
  assert.deepEqual(
    flvTag(msg),
    Buffer.of(
      0x08, // Reserved 0, Filter 0, TagType 8 (audio)
      0x00, 0x00, 0x04, // DataSize 4
      0x34, 0x56, 0x78, // Timestamp, low 24 bits
      0x12, // TimestampExtended, high 8 bits
      0x00, 0x00, 0x00, // StreamID 0
      0xaf, 0x01, 0x21, 0x10, // body
      0x00, 0x00, 0x00, 0x0f, // PreviousTagSize = 11 + 4
    ),
  );
});

test('flvTag serializes once and caches the Buffer on the message (N players share it)', () => {
  const msg = createMessage(MessageType.Video, 40, Buffer.of(0x17, 0x01, 0, 0, 0, 0xaa)) as RtmpMessage;
  const first = flvTag(msg);
  assert.equal(msg.cache.flvTag, first);
  assert.equal(flvTag(msg), first, 'same Buffer object the second time');
});

test('flvTag never writes the payload (input integrity)', () => {
  const payload = Buffer.from('02000a6f6e4d65746144617461', 'hex'); // AMF0 string "onMetaData"
  const before = Buffer.from(payload);
  const msg = createMessage(MessageType.Data, 0, payload) as RtmpMessage;
  const tag = flvTag(msg);
  assert.deepEqual(payload, before);
  assert.deepEqual(tag.subarray(11, 11 + payload.length), payload);
  assert.equal(tag[0], 18);
});

test('flvTag handles an empty script body and the largest timestamp', () => {
  const msg = new RtmpMessage(MessageType.Data, 'metadata', 0xffffffff, Buffer.alloc(0));
  assert.deepEqual(
    flvTag(msg),
    Buffer.of(18, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, /* PreviousTagSize 11 */ 0, 0, 0, 11),
  );
});

test('flvTag throws GW_ERR_TOO_LARGE beyond the UI24 DataSize', () => {
  const msg = new RtmpMessage(MessageType.Video, 'interframe', 0, Buffer.alloc(FLV_MAX_DATA_SIZE + 1));
  assert.throws(() => flvTag(msg), (err: unknown) => isGatewayError(err, ErrorCode.TooLarge));
  assert.equal(msg.cache.flvTag, undefined);
});
