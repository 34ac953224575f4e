/**
 * One DVR file in FLV (Adobe FLV spec v10.1 Annex E; SRS SrsDvrFlvSegmenter): the FLV header, an onMetaData tag,
 * the sequence headers, then every frame as one tag (core/protocol/flv/flv-muxer.ts), appended in order.
 *
 * The onMetaData tag is the stream's own with `duration` and `filesize` set last, as 0 while recording and
 * patched in place on close (SRS SrsDvrFlvSegmenter::refresh_metadata), so a finished file tells players its
 * length. Tags are written whole and in order, so after a crash the temporary file plays up to its last complete
 * tag; after a write failure (disk full) the temporary file is cut back to the last batch written whole and kept.
 * Tags queued while a write is in flight are written together with one writev.
 */
import type { GatewayError } from '../../errors.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../media/message.ts';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0, type Amf0Value } from '../../protocol/amf0.ts';
import { FLV_HEADER_SIZE, FLV_PREVIOUS_TAG_SIZE_LENGTH, FLV_TAG_HEADER_SIZE, flvFileHeader, flvTag } from '../../protocol/flv/flv-muxer.ts';
import { onMetaDataFields } from '../../remux/metadata.ts';
import { DvrFileWriterBase } from './dvr-file-output.ts';
import type { DvrFileInfo, DvrFileWriterOptions } from './dvr-file-writer.ts';

/** AMF0 layout of the two trailing number properties: u16 name length + 8-byte name + marker + 8-byte double. */
const AMF0_NUMBER_PROPERTY_SIZE = 2 + 8 + 1 + 8;
/** AMF0 object end: empty name (u16 0) + marker 0x09. */
const AMF0_OBJECT_END_SIZE = 3;
/** Fields SRS rewrites (and a stale copy of either would mislead a player). */
const PATCHED_FIELDS = ['duration', 'filesize'] as const;

/** The onMetaData body of a DVR file and where its `duration` and `filesize` doubles are. */
export interface DvrOnMetaData {
  readonly body: Buffer;
  /** Byte offset in `body` of the 8-byte double of `duration` (seconds). */
  readonly durationOffset: number;
  /** Byte offset in `body` of the 8-byte double of `filesize` (bytes). */
  readonly filesizeOffset: number;
}

/**
 * The stream's onMetaData (an `onMetaData` + object/ECMA array body) with `duration` and `filesize` moved to the
 * end and set to 0; without a usable source (none, not onMetaData, undecodable) the castgate fields alone.
 */
export function dvrOnMetaData(source: RtmpMessage | undefined): DvrOnMetaData {
  let fields: Record<string, Amf0Value> | undefined;
  if (source !== undefined) {
    try {
      const [name, value] = decodeAmf0(source.payload);
      if (name === 'onMetaData' && value instanceof Amf0EcmaArray) fields = { ...value.entries };
      else if (name === 'onMetaData' && typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)) {
        fields = { ...value };
      }
    } catch {
      fields = undefined; // a broken onMetaData is replaced, not copied
    }
  }
  fields ??= onMetaDataFields([]);
  for (const f of PATCHED_FIELDS) delete fields[f];
  fields.duration = 0;
  fields.filesize = 0;
  const body = encodeAmf0(['onMetaData', new Amf0EcmaArray(fields)]);
  const filesizeOffset = body.length - AMF0_OBJECT_END_SIZE - 8;
  return { body, filesizeOffset, durationOffset: filesizeOffset - AMF0_NUMBER_PROPERTY_SIZE };
}

const double = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(v, 0);
  return b;
};

export class FlvFileWriter extends DvrFileWriterBase {
  readonly format = 'flv' as const;
  readonly notes: readonly GatewayError[] = [];
  /** File offsets of the onMetaData `duration` and `filesize` doubles. */
  readonly #durationPos: number;
  readonly #filesizePos: number;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #flushQueued = false;
  /** Where the next write goes (bytes already written or in flight). */
  #position = 0;
  #maxTimestampMs = 0;
  /** Bytes of the header, onMetaData and sequence headers: a file no longer than this holds no media. */
  #headerBytes = 0;

  /** Queues the FLV header, onMetaData and the sequence headers (all at timestamp 0). Nothing throws here. */
  constructor(opts: DvrFileWriterOptions) {
    super(opts);
    const { start } = opts;
    const meta = dvrOnMetaData(start.metadata);
    const metaAt = FLV_HEADER_SIZE + FLV_PREVIOUS_TAG_SIZE_LENGTH + FLV_TAG_HEADER_SIZE;
    this.#durationPos = metaAt + meta.durationOffset;
    this.#filesizePos = metaAt + meta.filesizeOffset;
    this.#append(flvFileHeader(start.hasAudio, start.hasVideo));
    this.#appendTag(createMessage(MessageType.Data, 0, meta.body) as RtmpMessage);
    if (start.videoConfig !== undefined) this.#appendTag(start.videoConfig.withTimestamp(0));
    if (start.audioConfig !== undefined) this.#appendTag(start.audioConfig.withTimestamp(0));
    this.#headerBytes = this.#batchBytes;
  }

  write(msg: RtmpMessage): void {
    if (!this.accepting) return;
    if (msg.timestamp > this.#maxTimestampMs) this.#maxTimestampMs = msg.timestamp;
    this.#appendTag(msg);
  }

  protected async finish(): Promise<DvrFileInfo> {
    const durationMs = this.#maxTimestampMs;
    this.out.run(async () => {
      const size = this.#position;
      await this.out.writeAt([double(durationMs / 1000)], this.#durationPos);
      await this.out.writeAt([double(size)], this.#filesizePos);
    });
    try {
      await this.out.commit();
    } finally {
      this.dropQueued();
    }
    return { file: this.file, bytes: this.#position, durationMs };
  }

  #appendTag(msg: RtmpMessage): void {
    let tag: Buffer;
    try {
      tag = flvTag(msg);
    } catch (err) {
      this.out.fail(err); // a body over the UI24 DataSize limit
      return;
    }
    this.#append(tag);
  }

  #append(bytes: Buffer): void {
    this.#batch.push(bytes);
    this.#batchBytes += bytes.length;
    this.out.queued(bytes.length);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    this.out.run(() => this.#flush());
  }

  /** Writes whatever is batched, in one writev per round, until the batch stays empty. */
  async #flush(): Promise<void> {
    while (this.#batch.length > 0) {
      const chunks = this.#batch;
      const bytes = this.#batchBytes;
      this.#batch = [];
      this.#batchBytes = 0;
      const at = this.#position;
      this.#position += bytes;
      try {
        await this.out.writeAt(chunks, at);
      } finally {
        this.out.settled(bytes);
      }
      // every batch ends on a tag boundary: if the file fails later, this much of it still plays
      if (this.#position > this.#headerBytes) this.out.keepOnFailure(this.#position);
    }
    this.#flushQueued = false;
  }

  /** After a failure or an abort: forget the batch (its bytes no longer count as pending). */
  protected dropQueued(): void {
    if (this.#batchBytes > 0) this.out.settled(this.#batchBytes);
    this.#batch = [];
    this.#batchBytes = 0;
  }
}
