/**
 * FLV push demuxer (Adobe FLV spec v10.1, Annex E.2 "The FLV header", E.3 "The FLV File Body", E.4.1 "FLV Tag").
 *
 * Bytes in any chunking (HTTP POST body chunks, ffmpeg `-f flv pipe:1` reads) → one RtmpMessage per audio (8),
 * video (9) and script data (18) tag, via a typed sink. Small headers are gathered in a fixed 11-byte scratch
 * buffer; a tag body is copied once, straight from the chunks into its own Buffer, so messages never pin a chunk.
 *
 * Outcomes (STYLE habit 12): a bad signature, bad DataOffset or oversized DataSize is reported and puts the
 * demuxer in a failed state that ignores further input (there is no resync marker in FLV); a PreviousTagSize
 * mismatch, an unknown TagType or an encrypted (Filter) tag is reported and parsing goes on. Nothing throws.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { createMessage, MessageType } from '../../media/message.ts';
import type { RtmpMessage } from '../../media/message.ts';
import { FLV_HEADER_SIZE, FLV_PREVIOUS_TAG_SIZE_LENGTH, FLV_TAG_HEADER_SIZE, FlvTypeFlags } from './flv-muxer.ts';

/** Default bound on a tag's DataSize: 16 MiB (the UI24 field's range; real streams stay far below). */
export const FLV_MAX_TAG_SIZE = 16 * 1024 * 1024;
/**
 * Bound on the header's DataOffset. Version 1 headers are 9 bytes; a larger offset means bytes to skip
 * before PreviousTagSize0, which no known writer uses, so a huge value is treated as a corrupt header.
 */
export const FLV_MAX_DATA_OFFSET = 1024;

export interface FlvDemuxerSink {
  /** The FLV header was read: its TypeFlagsAudio / TypeFlagsVideo bits (advisory; many writers set both). */
  onHeader?(hasAudio: boolean, hasVideo: boolean): void;
  /** One tag as a message: timestamp = Timestamp | TimestampExtended << 24 (ms), payload = owned tag body. */
  onMessage(msg: RtmpMessage): void;
  /** Non-fatal (or, for header/size errors, terminal) decode error; the caller decides whether to log. */
  onDecodeError(err: GatewayError): void;
}

export interface FlvDemuxerStats {
  /** Tags fully read (delivered, skipped or empty). */
  tags: number;
  /** Input bytes pushed. */
  bytes: number;
  /** onDecodeError calls. */
  errors: number;
}

export interface FlvDemuxerOptions {
  /** Largest accepted DataSize in bytes; bigger → GW_ERR_TOO_LARGE and the demuxer fails. Default FLV_MAX_TAG_SIZE. */
  maxTagSize?: number;
}

/** Parser states, in stream order. */
const State = {
  Header: 0, // gathering the 9-byte header
  HeaderSkip: 1, // skipping DataOffset - 9 bytes
  PreviousTagSize: 2, // gathering 4 bytes
  TagHeader: 3, // gathering 11 bytes
  TagBody: 4, // copying DataSize bytes into #body
  TagSkip: 5, // skipping DataSize bytes of a tag that is not delivered
  Failed: 6,
  Ended: 7,
} as const;
type State = (typeof State)[keyof typeof State];

const SCRATCH_SIZE = Math.max(FLV_HEADER_SIZE, FLV_TAG_HEADER_SIZE, FLV_PREVIOUS_TAG_SIZE_LENGTH);

export class FlvDemuxer {
  readonly #sink: FlvDemuxerSink;
  readonly #maxTagSize: number;
  readonly #scratch = Buffer.alloc(SCRATCH_SIZE);
  #scratchFill = 0;
  #state: State = State.Header;
  /** Absolute input offset of the structure being parsed (for error messages). */
  #structStart = 0;
  #position = 0;
  #expectedPreviousTagSize = 0;
  #skipRemaining = 0;
  #tagType: MessageType = MessageType.Data;
  #timestampMs = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #tags = 0;
  #errors = 0;

  constructor(sink: FlvDemuxerSink, opts?: FlvDemuxerOptions) {
    this.#sink = sink;
    const max = opts?.maxTagSize ?? FLV_MAX_TAG_SIZE;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxTagSize must be a non-negative integer, got ${max}`);
    this.#maxTagSize = max;
  }

  get stats(): FlvDemuxerStats {
    return { tags: this.#tags, bytes: this.#position, errors: this.#errors };
  }

  /** Feed bytes in any chunking. The chunk is only read, never kept: bodies are copied out. */
  push(chunk: Uint8Array): void {
    if (this.#state === State.Failed || this.#state === State.Ended) return;
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      switch (this.#state) {
        case State.Header:
          off = this.#gather(chunk, off, FLV_HEADER_SIZE);
          if (this.#scratchFill === FLV_HEADER_SIZE) this.#onFileHeader();
          break;
        case State.PreviousTagSize:
          off = this.#gather(chunk, off, FLV_PREVIOUS_TAG_SIZE_LENGTH);
          if (this.#scratchFill === FLV_PREVIOUS_TAG_SIZE_LENGTH) this.#onPreviousTagSize();
          break;
        case State.TagHeader:
          off = this.#gather(chunk, off, FLV_TAG_HEADER_SIZE);
          if (this.#scratchFill === FLV_TAG_HEADER_SIZE) this.#onTagHeader();
          break;
        case State.TagBody: {
          const body = this.#body as Buffer;
          const n = Math.min(body.length - this.#bodyFill, len - off);
          body.set(chunk.subarray(off, off + n), this.#bodyFill);
          this.#bodyFill += n;
          off += n;
          this.#position += n;
          if (this.#bodyFill === body.length) this.#onTagBody();
          break;
        }
        case State.HeaderSkip:
        case State.TagSkip: {
          const n = Math.min(this.#skipRemaining, len - off);
          this.#skipRemaining -= n;
          off += n;
          this.#position += n;
          if (this.#skipRemaining === 0) {
            if (this.#state === State.TagSkip) this.#tags++;
            this.#enter(State.PreviousTagSize);
          }
          break;
        }
        default:
          return; // Failed: ignore the rest of this chunk and all later input
      }
    }
  }

  /** End of input. A partial header, tag or PreviousTagSize is reported as GW_ERR_TRUNCATED. Idempotent. */
  end(): void {
    const state = this.#state;
    if (state === State.Failed || state === State.Ended) {
      this.#state = State.Ended;
      return;
    }
    let what: string | undefined;
    if (state === State.Header) what = `FLV header: ${this.#scratchFill} of ${FLV_HEADER_SIZE} bytes`;
    else if (state === State.HeaderSkip) what = `FLV header: ${this.#skipRemaining} bytes of DataOffset missing`;
    else if (state === State.PreviousTagSize && this.#scratchFill > 0) {
      what = `PreviousTagSize: ${this.#scratchFill} of ${FLV_PREVIOUS_TAG_SIZE_LENGTH} bytes`;
    } else if (state === State.TagHeader && this.#scratchFill > 0) {
      what = `tag header: ${this.#scratchFill} of ${FLV_TAG_HEADER_SIZE} bytes`;
    } else if (state === State.TagBody) {
      what = `tag body: ${this.#bodyFill} of ${(this.#body as Buffer).length} bytes`;
    } else if (state === State.TagSkip) what = `skipped tag body: ${this.#skipRemaining} bytes missing`;
    if (what !== undefined) {
      this.#report(ErrorCode.Truncated, `FLV input ended inside the structure at byte ${this.#structStart}: ${what}`);
    }
    this.#body = undefined;
    this.#state = State.Ended;
  }

  /** Copy up to `need - scratchFill` bytes into the scratch buffer; returns the new chunk offset. */
  #gather(chunk: Uint8Array, off: number, need: number): number {
    const n = Math.min(need - this.#scratchFill, chunk.length - off);
    this.#scratch.set(chunk.subarray(off, off + n), this.#scratchFill);
    this.#scratchFill += n;
    this.#position += n;
    return off + n;
  }

  #enter(state: State): void {
    this.#state = state;
    this.#scratchFill = 0;
    this.#structStart = this.#position;
  }

  #report(code: ErrorCode, message: string): void {
    this.#errors++;
    this.#sink.onDecodeError(new GatewayError(code, message));
  }

  #fail(code: ErrorCode, message: string): void {
    this.#report(code, message);
    this.#body = undefined;
    this.#state = State.Failed;
  }

  /** E.2: Signature 'FLV', Version, TypeFlags, DataOffset. */
  #onFileHeader(): void {
    const h = this.#scratch;
    if (h[0] !== 0x46 || h[1] !== 0x4c || h[2] !== 0x56) {
      const sig = h.subarray(0, 3).toString('hex');
      return this.#fail(ErrorCode.FlvHeader, `FLV header: signature 0x${sig} is not 'FLV' (0x464c56)`);
    }
    const dataOffset = h.readUInt32BE(5);
    if (dataOffset < FLV_HEADER_SIZE || dataOffset > FLV_MAX_DATA_OFFSET) {
      return this.#fail(
        ErrorCode.FlvHeader,
        `FLV header: DataOffset ${dataOffset} outside ${FLV_HEADER_SIZE}..${FLV_MAX_DATA_OFFSET}`,
      );
    }
    const typeFlags = h[4];
    this.#expectedPreviousTagSize = 0; // PreviousTagSize0
    this.#skipRemaining = dataOffset - FLV_HEADER_SIZE;
    this.#enter(this.#skipRemaining > 0 ? State.HeaderSkip : State.PreviousTagSize);
    this.#sink.onHeader?.((typeFlags & FlvTypeFlags.Audio) !== 0, (typeFlags & FlvTypeFlags.Video) !== 0);
  }

  /** E.3: PreviousTagSize must equal 11 + DataSize of the previous tag (0 after the header). */
  #onPreviousTagSize(): void {
    const previousTagSize = this.#scratch.readUInt32BE(0);
    if (previousTagSize !== this.#expectedPreviousTagSize) {
      this.#report(
        ErrorCode.FlvPreviousTagSize,
        `FLV PreviousTagSize ${previousTagSize} at byte ${this.#structStart}, expected ${this.#expectedPreviousTagSize}`,
      );
    }
    this.#enter(State.TagHeader);
  }

  /** E.4.1: Reserved UB2, Filter UB1, TagType UB5, DataSize UI24, Timestamp UI24, TimestampExtended UI8, StreamID UI24. */
  #onTagHeader(): void {
    const h = this.#scratch;
    const filter = (h[0] >> 5) & 1;
    const tagType = h[0] & 0x1f;
    const dataSize = h.readUIntBE(1, 3);
    const timestampMs = (h.readUIntBE(4, 3) | (h[7] << 24)) >>> 0;
    const tagStart = this.#structStart;
    this.#expectedPreviousTagSize = FLV_TAG_HEADER_SIZE + dataSize;
    if (dataSize > this.#maxTagSize) {
      return this.#fail(
        ErrorCode.TooLarge,
        `FLV tag at byte ${tagStart}: DataSize ${dataSize} exceeds the limit ${this.#maxTagSize}`,
      );
    }
    const known = tagType === MessageType.Audio || tagType === MessageType.Video || tagType === MessageType.Data;
    if (!known || filter !== 0) {
      this.#report(
        ErrorCode.FlvTag,
        known
          ? `FLV tag at byte ${tagStart}: Filter bit set (encrypted ${tagType} tag), ${dataSize} bytes skipped`
          : `FLV tag at byte ${tagStart}: unknown TagType ${tagType}, ${dataSize} bytes skipped`,
      );
      this.#skipRemaining = dataSize;
      this.#enter(State.TagSkip);
      if (dataSize === 0) {
        this.#tags++;
        this.#enter(State.PreviousTagSize);
      }
      return;
    }
    this.#tagType = tagType;
    this.#timestampMs = timestampMs;
    this.#body = Buffer.allocUnsafe(dataSize);
    this.#bodyFill = 0;
    this.#enter(State.TagBody);
    this.#structStart = tagStart;
    if (dataSize === 0) this.#onTagBody();
  }

  #onTagBody(): void {
    const body = this.#body as Buffer;
    this.#body = undefined;
    this.#tags++;
    this.#enter(State.PreviousTagSize);
    // An empty audio/video body classifies as nothing: createMessage returns undefined and the tag is dropped.
    const msg = createMessage(this.#tagType, this.#timestampMs, body);
    if (msg !== undefined) this.#sink.onMessage(msg);
  }
}
