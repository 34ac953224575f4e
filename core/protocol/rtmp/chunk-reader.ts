/**
 * RTMP chunk stream reader (Adobe RTMP spec 1.0, section 5.3 "Chunking" and 5.4.1/5.4.2).
 *
 * Demultiplexes chunks (basic header fmt 0–3 with 1/2/3-byte forms, chunk stream id 2..65599, message header,
 * extended timestamp) into whole messages. Each message is assembled into ONE owned Buffer (allocated when its
 * first chunk arrives, filled as chunks arrive; no concat), so payloads can live on in caches.
 * Set Chunk Size (type 1) and Abort (type 2) change the parse state and are applied here; every other message,
 * including the remaining protocol control messages, goes to the sink.
 *
 * Timestamps: fmt 0 is absolute; fmt 1/2 carry a delta; fmt 3 starting a new message repeats the previous
 * delta (for a fmt 0 predecessor the delta is its timestamp, as ffmpeg and SRS read it). Sums wrap at 32 bits.
 * Extended timestamp (5.3.1.3) follows a 0xFFFFFF field and is repeated on fmt 3 chunks of such a header.
 * Reference: SRS SrsProtocol::recv_interlaced_message / read_message_header; NMS rtmp.js parserData.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** RTMP message type ids (spec 5.4, 7.1). */
export const RtmpTypeId = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  SharedObjectAmf3: 16,
  CommandAmf3: 17,
  DataAmf0: 18,
  SharedObjectAmf0: 19,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;
export type RtmpTypeId = (typeof RtmpTypeId)[keyof typeof RtmpTypeId];

/** User Control Message event types (spec 7.1.7). */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEof: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;
export type UserControlEvent = (typeof UserControlEvent)[keyof typeof UserControlEvent];

/** Spec default chunk size before any Set Chunk Size (5.4.1). */
export const RTMP_DEFAULT_CHUNK_SIZE = 128;
/** Set Chunk Size range (5.4.1: 31 bits, at least 1). */
export const RTMP_MAX_CHUNK_SIZE = 0x7fffffff;
/**
 * Max message size we assemble. The 3-byte length field already stops at 16 MiB - 1; the constant names the
 * limit the buffering relies on.
 */
export const RTMP_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** Max bytes allocated for messages still being assembled, over all chunk streams (memory cap per connection). */
export const RTMP_MAX_PENDING_BYTES = 32 * 1024 * 1024;
/** Max distinct chunk stream ids one peer may use (clients use fewer than ten). */
export const RTMP_MAX_CHUNK_STREAMS = 256;
/** Basic header (3) + message header (11) + extended timestamp (4). */
const MAX_CHUNK_HEADER_SIZE = 18;
/** Message header size by fmt (5.3.1.2). */
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;

/** One complete RTMP message. */
export interface RtmpChunkMessage {
  readonly chunkStreamId: number;
  readonly messageStreamId: number;
  readonly typeId: number;
  /** Absolute timestamp in ms on the 32-bit RTMP clock. */
  readonly timestampMs: number;
  /** Owned bytes (allocated for this message only). */
  readonly payload: Buffer;
}

export interface ChunkReaderSink {
  onMessage(msg: RtmpChunkMessage): void;
}

interface ChunkStreamState {
  readonly chunkStreamId: number;
  timestampMs: number;
  timestampDeltaMs: number;
  messageLength: number;
  typeId: number;
  messageStreamId: number;
  /** The last fmt 0/1/2 header carried an extended timestamp, so fmt 3 chunks repeat it. */
  extendedTimestamp: boolean;
  /** Message being assembled, undefined between messages. */
  buf: Buffer | undefined;
  received: number;
}

function chunkError(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtmpChunk, message);
}

export class ChunkReader {
  readonly #sink: ChunkReaderSink;
  readonly #streams = new Map<number, ChunkStreamState>();
  readonly #hdr = Buffer.alloc(MAX_CHUNK_HEADER_SIZE);
  #hdrLen = 0;
  #hdrNeed = 1;
  /** Stream whose chunk payload is being read, and the bytes left in this chunk. */
  #current: ChunkStreamState | undefined;
  #chunkLeft = 0;
  #chunkSize = RTMP_DEFAULT_CHUNK_SIZE;
  #pendingBytes = 0;
  #bytesRead = 0;

  constructor(sink: ChunkReaderSink) {
    this.#sink = sink;
  }

  /** Chunk size the peer announced (Set Chunk Size), default 128. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Bytes pushed so far (for Acknowledgement sequence numbers). */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /**
   * Feed bytes from the socket. Complete messages go to the sink synchronously.
   * @throws GatewayError GW_ERR_RTMP_CHUNK on a protocol violation (fmt 1–3 on an unknown chunk stream, a new
   *   fmt 0–2 header in the middle of a message, bad Set Chunk Size, too many chunk streams, memory cap).
   */
  push(data: Buffer): void {
    this.#bytesRead += data.length;
    let off = 0;
    const len = data.length;
    while (off < len) {
      if (this.#current === undefined) {
        const take = Math.min(this.#hdrNeed - this.#hdrLen, len - off);
        data.copy(this.#hdr, this.#hdrLen, off, off + take);
        this.#hdrLen += take;
        off += take;
        if (this.#hdrLen < this.#hdrNeed) return;
        const need = this.#headerSize();
        if (need > this.#hdrLen) {
          this.#hdrNeed = need;
          continue;
        }
        this.#startChunk();
        this.#hdrLen = 0;
        this.#hdrNeed = 1;
        if (this.#current !== undefined && this.#chunkLeft === 0) this.#endChunk();
        continue;
      }
      const st = this.#current;
      const take = Math.min(this.#chunkLeft, len - off);
      data.copy(st.buf as Buffer, st.received, off, off + take);
      st.received += take;
      this.#chunkLeft -= take;
      off += take;
      if (this.#chunkLeft === 0) this.#endChunk();
    }
  }

  /** Header size known from the bytes in #hdr so far (grows as more is known). */
  #headerSize(): number {
    const b0 = this.#hdr[0];
    const low = b0 & 0x3f;
    const basic = low === 0 ? 2 : low === 1 ? 3 : 1;
    if (this.#hdrLen < basic) return basic;
    const fmt = b0 >> 6;
    const base = basic + MESSAGE_HEADER_SIZE[fmt];
    if (this.#hdrLen < base) return base;
    let extended: boolean;
    if (fmt < 3) extended = this.#hdr.readUIntBE(basic, 3) === 0xffffff;
    else extended = this.#streams.get(this.#csid(basic))?.extendedTimestamp ?? false;
    return base + (extended ? 4 : 0);
  }

  #csid(basic: number): number {
    if (basic === 1) return this.#hdr[0] & 0x3f;
    if (basic === 2) return this.#hdr[1] + 64;
    return this.#hdr[2] * 256 + this.#hdr[1] + 64;
  }

  #startChunk(): void {
    const basic = (this.#hdr[0] & 0x3f) === 0 ? 2 : (this.#hdr[0] & 0x3f) === 1 ? 3 : 1;
    const fmt = this.#hdr[0] >> 6;
    const csid = this.#csid(basic);
    let st = this.#streams.get(csid);
    if (st === undefined) {
      if (fmt !== 0) throw chunkError(`fmt ${fmt} chunk on new chunk stream ${csid} (needs fmt 0 first)`);
      if (this.#streams.size >= RTMP_MAX_CHUNK_STREAMS) throw chunkError(`more than ${RTMP_MAX_CHUNK_STREAMS} chunk streams`);
      st = {
        chunkStreamId: csid,
        timestampMs: 0,
        timestampDeltaMs: 0,
        messageLength: 0,
        typeId: 0,
        messageStreamId: 0,
        extendedTimestamp: false,
        buf: undefined,
        received: 0,
      };
      this.#streams.set(csid, st);
    }
    const h = this.#hdr;
    const first = st.buf === undefined;
    if (fmt < 3) {
      if (!first) throw chunkError(`fmt ${fmt} header on chunk stream ${csid} in the middle of a message`);
      let ts = h.readUIntBE(basic, 3);
      st.extendedTimestamp = ts === 0xffffff;
      if (st.extendedTimestamp) ts = h.readUInt32BE(basic + MESSAGE_HEADER_SIZE[fmt]);
      if (fmt <= 1) {
        st.messageLength = h.readUIntBE(basic + 3, 3);
        st.typeId = h[basic + 6];
      }
      if (fmt === 0) {
        st.messageStreamId = h.readUInt32LE(basic + 7);
        st.timestampMs = ts;
      } else {
        st.timestampMs = (st.timestampMs + ts) >>> 0;
      }
      st.timestampDeltaMs = ts;
    } else if (first) {
      // fmt 3 starting a new message: same header, timestamp advances by the previous delta (5.3.1.2.4).
      st.timestampMs = (st.timestampMs + st.timestampDeltaMs) >>> 0;
    }
    if (first) {
      const n = st.messageLength;
      if (n > RTMP_MAX_MESSAGE_SIZE) throw chunkError(`message of ${n} bytes exceeds ${RTMP_MAX_MESSAGE_SIZE}`);
      if (this.#pendingBytes + n > RTMP_MAX_PENDING_BYTES) {
        throw chunkError(`more than ${RTMP_MAX_PENDING_BYTES} bytes of partial messages`);
      }
      this.#pendingBytes += n;
      st.buf = Buffer.allocUnsafeSlow(n); // not from the shared pool: the message may live long in caches
      st.received = 0;
    }
    this.#current = st;
    this.#chunkLeft = Math.min(this.#chunkSize, st.messageLength - st.received);
  }

  #endChunk(): void {
    const st = this.#current as ChunkStreamState;
    this.#current = undefined;
    if (st.received < st.messageLength) return;
    const payload = st.buf as Buffer;
    st.buf = undefined;
    this.#pendingBytes -= payload.length;
    if (st.typeId === RtmpTypeId.SetChunkSize) return this.#onSetChunkSize(payload);
    if (st.typeId === RtmpTypeId.Abort) return this.#onAbort(payload);
    this.#sink.onMessage({
      chunkStreamId: st.chunkStreamId,
      messageStreamId: st.messageStreamId,
      typeId: st.typeId,
      timestampMs: st.timestampMs,
      payload,
    });
  }

  #onSetChunkSize(payload: Buffer): void {
    if (payload.length < 4) throw chunkError(`Set Chunk Size of ${payload.length} bytes`);
    const size = payload.readUInt32BE(0);
    if (size < 1 || size > RTMP_MAX_CHUNK_SIZE) throw chunkError(`Set Chunk Size ${size} out of 1..${RTMP_MAX_CHUNK_SIZE}`);
    this.#chunkSize = size;
  }

  #onAbort(payload: Buffer): void {
    if (payload.length < 4) throw chunkError(`Abort of ${payload.length} bytes`);
    const st = this.#streams.get(payload.readUInt32BE(0));
    if (st === undefined || st.buf === undefined) return;
    this.#pendingBytes -= st.buf.length;
    st.buf = undefined;
    st.received = 0;
  }
}
