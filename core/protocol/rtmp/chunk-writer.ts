/**
 * RTMP chunk writer (Adobe RTMP spec 1.0, section 5.3): message → chunks, fmt 0 first then fmt 3.
 *
 * Every message starts with a full fmt 0 header (absolute timestamp), so its bytes do not depend on what was
 * sent before on the chunk stream: the encoding of a media message can be computed once and shared by every
 * player with the same (chunk size, message stream id, chunk stream id). It is cached on the message
 * (`msg.cache.rtmpChunks`), so N players cost one serialization (SRS SrsSharedPtrMessage, NMS createMessage).
 * A timestamp >= 0xFFFFFF goes into the extended timestamp field, repeated on every fmt 3 chunk (5.3.1.3, as
 * ffmpeg, librtmp and SRS write and read it).
 *
 * Also builds the protocol control messages (5.4) and User Control messages (7.1.7).
 */
import type { RtmpMessage } from '../../media/message.ts';
import { ErrorCode, GatewayError } from '../../errors.ts';
import { RTMP_MAX_CHUNK_SIZE, RTMP_MAX_MESSAGE_SIZE, RtmpTypeId, UserControlEvent } from './chunk-reader.ts';

/** Protocol control messages use chunk stream 2 and message stream 0 (5.4). */
export const PROTOCOL_CONTROL_CHUNK_STREAM_ID = 2;
/** Lowest/highest chunk stream id (1-byte form from 2, 3-byte form up to 65599; 5.3.1.1). */
const MIN_CHUNK_STREAM_ID = 2;
const MAX_CHUNK_STREAM_ID = 65599;

export interface ChunkHeader {
  readonly chunkStreamId: number;
  readonly messageStreamId: number;
  readonly typeId: number;
  /** Absolute timestamp in ms; taken modulo 2^32. */
  readonly timestampMs: number;
}

function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasicHeader(out: Buffer, pos: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[pos] = (fmt << 6) | csid;
    return pos + 1;
  }
  if (csid < 320) {
    out[pos] = fmt << 6;
    out[pos + 1] = csid - 64;
    return pos + 2;
  }
  out[pos] = (fmt << 6) | 1;
  out[pos + 1] = (csid - 64) & 0xff;
  out[pos + 2] = (csid - 64) >> 8;
  return pos + 3;
}

/** Size of the chunked encoding of a `payloadLength`-byte message. */
export function chunkedSize(h: ChunkHeader, payloadLength: number, chunkSize: number): number {
  const extended = h.timestampMs >>> 0 >= 0xffffff ? 4 : 0;
  const chunks = Math.max(1, Math.ceil(payloadLength / chunkSize));
  const basic = basicHeaderSize(h.chunkStreamId);
  return basic + 11 + extended + (chunks - 1) * (basic + extended) + payloadLength;
}

/**
 * Split one message into chunks.
 * @param chunkSize our outgoing chunk size (what we announced with Set Chunk Size), 1..0x7fffffff.
 * @throws GatewayError GW_ERR_RTMP_CHUNK on a chunk stream id outside 2..65599, a bad chunk size or a payload
 *   over the 3-byte length field.
 */
export function encodeChunks(h: ChunkHeader, payload: Uint8Array, chunkSize: number): Buffer {
  const csid = h.chunkStreamId;
  if (csid < MIN_CHUNK_STREAM_ID || csid > MAX_CHUNK_STREAM_ID) {
    throw new GatewayError(ErrorCode.RtmpChunk, `chunk stream id ${csid} outside ${MIN_CHUNK_STREAM_ID}..${MAX_CHUNK_STREAM_ID}`);
  }
  if (!(chunkSize >= 1 && chunkSize <= RTMP_MAX_CHUNK_SIZE)) throw new GatewayError(ErrorCode.RtmpChunk, `chunk size ${chunkSize}`);
  if (payload.length >= RTMP_MAX_MESSAGE_SIZE) {
    throw new GatewayError(ErrorCode.RtmpChunk, `message of ${payload.length} bytes does not fit the 24-bit length`);
  }
  const ts = h.timestampMs >>> 0;
  const extended = ts >= 0xffffff;
  const out = Buffer.allocUnsafe(chunkedSize(h, payload.length, chunkSize));
  let pos = writeBasicHeader(out, 0, 0, csid);
  out.writeUIntBE(extended ? 0xffffff : ts, pos, 3);
  out.writeUIntBE(payload.length, pos + 3, 3);
  out[pos + 6] = h.typeId;
  out.writeUInt32LE(h.messageStreamId >>> 0, pos + 7);
  pos += 11;
  if (extended) pos = out.writeUInt32BE(ts, pos);
  let sent = 0;
  for (;;) {
    const n = Math.min(chunkSize, payload.length - sent);
    out.set(payload.subarray(sent, sent + n), pos);
    pos += n;
    sent += n;
    if (sent >= payload.length) break;
    pos = writeBasicHeader(out, pos, 3, csid);
    if (extended) pos = out.writeUInt32BE(ts, pos);
  }
  return out;
}

/**
 * Cache key for (chunk size, message stream id, chunk stream id), or undefined when the ids are outside the
 * cacheable range (message stream id < 32, chunk stream id < 64: what servers use).
 */
export function chunkCacheKey(chunkSize: number, messageStreamId: number, chunkStreamId: number): number | undefined {
  if (messageStreamId >= 32 || chunkStreamId >= 64 || messageStreamId < 0) return undefined;
  return chunkSize * 2048 + messageStreamId * 64 + chunkStreamId;
}

/**
 * The chunks of a media message, computed once per (chunk size, stream ids) and cached on the message
 * (`msg.cache.rtmpChunks` / `rtmpChunksKey`), so every player shares one serialization. The returned Buffer is
 * shared: never mutate it.
 */
export function mediaChunks(msg: RtmpMessage, chunkSize: number, messageStreamId: number, chunkStreamId: number): Buffer {
  const key = chunkCacheKey(chunkSize, messageStreamId, chunkStreamId);
  if (key !== undefined && msg.cache.rtmpChunksKey === key && msg.cache.rtmpChunks !== undefined) return msg.cache.rtmpChunks;
  const chunks = encodeChunks({ chunkStreamId, messageStreamId, typeId: msg.type, timestampMs: msg.timestamp }, msg.payload, chunkSize);
  if (key !== undefined) {
    msg.cache.rtmpChunks = chunks;
    msg.cache.rtmpChunksKey = key;
  }
  return chunks;
}

function controlMessage(typeId: number, body: Buffer): Buffer {
  return encodeChunks({ chunkStreamId: PROTOCOL_CONTROL_CHUNK_STREAM_ID, messageStreamId: 0, typeId, timestampMs: 0 }, body, RTMP_MAX_CHUNK_SIZE);
}

function u32Body(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** Set Chunk Size (5.4.1); 31-bit value. */
export function setChunkSizeMessage(chunkSize: number): Buffer {
  return controlMessage(RtmpTypeId.SetChunkSize, u32Body(chunkSize & 0x7fffffff));
}

/** Acknowledgement (5.4.3): sequence number = bytes received so far (mod 2^32). */
export function acknowledgementMessage(sequenceNumber: number): Buffer {
  return controlMessage(RtmpTypeId.Acknowledgement, u32Body(sequenceNumber));
}

/** Window Acknowledgement Size (5.4.4). */
export function windowAckSizeMessage(windowSize: number): Buffer {
  return controlMessage(RtmpTypeId.WindowAckSize, u32Body(windowSize));
}

/** Set Peer Bandwidth limit type (5.4.5). */
export const PeerBandwidthLimit = { Hard: 0, Soft: 1, Dynamic: 2 } as const;
export type PeerBandwidthLimit = (typeof PeerBandwidthLimit)[keyof typeof PeerBandwidthLimit];

/** Set Peer Bandwidth (5.4.5). */
export function setPeerBandwidthMessage(windowSize: number, limitType: PeerBandwidthLimit): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(windowSize >>> 0, 0);
  b[4] = limitType;
  return controlMessage(RtmpTypeId.SetPeerBandwidth, b);
}

/** User Control message (7.1.7): event type + one 32-bit value (stream id or ping timestamp). */
export function userControlMessage(event: UserControlEvent, value: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt16BE(event, 0);
  b.writeUInt32BE(value >>> 0, 2);
  return controlMessage(RtmpTypeId.UserControl, b);
}
