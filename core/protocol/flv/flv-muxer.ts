/**
 * FLV file header and tag serializer (Adobe FLV spec v10.1, Annex E.2 "The FLV header", E.3 "The FLV File
 * Body", E.4.1 "FLV Tag").
 *
 * Used by HTTP-FLV, DVR and transcode stdin. A tag is serialized once per message and cached on it
 * (`msg.cache.flvTag`), so N HTTP-FLV players share one Buffer (STYLE habit 14).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { RtmpMessage } from '../../media/message.ts';

/** E.2: Signature 'FLV' (3) + Version (1) + TypeFlags (1) + DataOffset UI32 (4). */
export const FLV_HEADER_SIZE = 9;
/** E.4.1: TagType (1) + DataSize UI24 (3) + Timestamp UI24 (3) + TimestampExtended UI8 (1) + StreamID UI24 (3). */
export const FLV_TAG_HEADER_SIZE = 11;
/** E.3: PreviousTagSize UI32 after the header (PreviousTagSize0, always 0) and after every tag. */
export const FLV_PREVIOUS_TAG_SIZE_LENGTH = 4;
/** E.4.1 DataSize is UI24: the largest tag body the format can describe. */
export const FLV_MAX_DATA_SIZE = 0xffffff;
/** E.2 Version: always 1. */
export const FLV_VERSION = 1;
/** E.2 TypeFlagsAudio (bit 2) and TypeFlagsVideo (bit 0) of the TypeFlags byte. */
export const FlvTypeFlags = { Audio: 0x04, Video: 0x01 } as const;

/**
 * The 9-byte FLV header (E.2) followed by PreviousTagSize0 = 0 (E.3): 13 bytes, a fresh Buffer.
 * DataOffset is 9 (the header size, version 1).
 */
export function flvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const out = Buffer.allocUnsafe(FLV_HEADER_SIZE + FLV_PREVIOUS_TAG_SIZE_LENGTH);
  out[0] = 0x46; // 'F'
  out[1] = 0x4c; // 'L'
  out[2] = 0x56; // 'V'
  out[3] = FLV_VERSION;
  out[4] = (hasAudio ? FlvTypeFlags.Audio : 0) | (hasVideo ? FlvTypeFlags.Video : 0); // reserved bits 0
  out.writeUInt32BE(FLV_HEADER_SIZE, 5); // DataOffset
  out.writeUInt32BE(0, FLV_HEADER_SIZE); // PreviousTagSize0
  return out;
}

/**
 * One FLV tag (E.4.1): 11-byte tag header + body (the message payload) + PreviousTagSize UI32 (11 + DataSize).
 * Timestamp carries the low 24 bits of the 32-bit ms DTS, TimestampExtended the high 8 bits; Filter 0,
 * StreamID 0. Serialized once (one allocUnsafe, one copy) and cached in `msg.cache.flvTag`; the returned
 * Buffer is shared and must not be written by callers.
 * @throws GatewayError GW_ERR_TOO_LARGE when the payload exceeds DataSize's UI24 range.
 */
export function flvTag(msg: RtmpMessage): Buffer {
  const cached = msg.cache.flvTag;
  if (cached !== undefined) return cached;
  const dataSize = msg.payload.length;
  if (dataSize > FLV_MAX_DATA_SIZE) {
    throw new GatewayError(
      ErrorCode.TooLarge,
      `FLV tag body of ${dataSize} bytes exceeds the UI24 DataSize limit ${FLV_MAX_DATA_SIZE}`,
    );
  }
  const tagSize = FLV_TAG_HEADER_SIZE + dataSize;
  const out = Buffer.allocUnsafe(tagSize + FLV_PREVIOUS_TAG_SIZE_LENGTH);
  const timestampMs = msg.timestamp >>> 0;
  out[0] = msg.type; // Reserved UB2 = 0, Filter UB1 = 0, TagType UB5
  out.writeUIntBE(dataSize, 1, 3); // DataSize
  out.writeUIntBE(timestampMs & 0xffffff, 4, 3); // Timestamp (low 24 bits)
  out[7] = timestampMs >>> 24; // TimestampExtended (high 8 bits)
  out[8] = 0; // StreamID UI24, always 0
  out[9] = 0;
  out[10] = 0;
  msg.payload.copy(out, FLV_TAG_HEADER_SIZE);
  out.writeUInt32BE(tagSize, tagSize); // PreviousTagSize
  msg.cache.flvTag = out;
  return out;
}
