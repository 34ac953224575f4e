/**
 * The writer interface of one DVR file (SRS SrsDvrSegmenter / SrsFragment), implemented for FLV
 * (flv-file-writer.ts) and MP4 (mp4-file-writer.ts). The recorder (dvr-recorder.ts) decides when a file starts
 * and ends; a writer only turns messages into bytes on disk.
 *
 * Contract shared by both formats:
 * - The file is written under `tempFile` (`file` + ".tmp", SRS SrsFragment::tmppath) and renamed to `file` by
 *   `close()` once complete, so a finished name is always a complete file.
 * - `write()` never blocks and never throws: bytes are queued and written in order by one async job chain. The
 *   caller watches `pendingBytes` (queued, not yet handed to the OS) to apply backpressure.
 * - The first failure (open, write, muxer) is kept in `error` and reported once through `onError`; every later
 *   write is dropped, and `close()` rejects with that error. The temporary file is removed, unless its start is
 *   a playable whole (FLV up to the last batch written whole): then it is cut to that and kept as `keptFile`.
 */
import type { GatewayError } from '../../errors.ts';
import type { RtmpMessage } from '../../media/message.ts';
import type { DvrFileSystem } from './dvr-file-system.ts';

export type DvrFileFormat = 'flv' | 'mp4';

/** What a file starts with: the stream's latest metadata and sequence headers (SRS SrsDvrSegmenter::open). */
export interface DvrFileStart {
  readonly metadata: RtmpMessage | undefined;
  readonly videoConfig: RtmpMessage | undefined;
  readonly audioConfig: RtmpMessage | undefined;
  /** The stream's first audio frame when its codec has no sequence header (MP3, G.711): names the audio track. */
  readonly audioFrame: RtmpMessage | undefined;
  readonly hasVideo: boolean;
  readonly hasAudio: boolean;
}

export interface DvrFileWriterOptions {
  /** Final path (absolute). */
  readonly file: string;
  readonly start: DvrFileStart;
  /** Default: node:fs/promises. */
  readonly fs?: DvrFileSystem;
  /** Called after each completed disk write (the caller re-checks `pendingBytes`). */
  readonly onFlushed?: () => void;
  /** Called once, with the first failure. */
  readonly onError?: (err: GatewayError) => void;
}

/** A finished file. */
export interface DvrFileInfo {
  readonly file: string;
  readonly bytes: number;
  /** Media time spanned by the file's messages, ms. */
  readonly durationMs: number;
}

export interface DvrFileWriter {
  readonly format: DvrFileFormat;
  /** Final path. */
  readonly file: string;
  /** Where the bytes go until `close()` renames the file. */
  readonly tempFile: string;
  /** Bytes queued and not yet written to the file. */
  readonly pendingBytes: number;
  /** Bytes written to the file so far. */
  readonly bytesWritten: number;
  /** The first failure, once there is one. */
  readonly error: GatewayError | undefined;
  /** After a failed close: the temporary file kept because its start still plays (FLV), else undefined. */
  readonly keptFile: string | undefined;
  /**
   * Non-fatal problems found when the file was set up, e.g. an audio codec MP4 cannot carry (the file goes on
   * with its other track). The caller logs them once per file.
   */
  readonly notes: readonly GatewayError[];
  /** One media message (audio or video frame) whose timestamp is already the file's time, ms. Never throws. */
  write(msg: RtmpMessage): void;
  /**
   * Finish the file (FLV: duration and filesize into onMetaData; MP4: the moov box), close it and rename it to
   * `file`. Idempotent (later calls return the first call's promise).
   * @throws GatewayError(DvrWrite) with the first failure; the temporary file is removed or kept (`keptFile`).
   */
  close(): Promise<DvrFileInfo>;
  /** Stop and delete the temporary file. Never throws. Idempotent. */
  abort(): Promise<void>;
}

/** The temporary name of a DVR file while it is written (SRS SrsFragment::tmppath). */
export function dvrTempFile(file: string): string {
  return `${file}.tmp`;
}

/** The file format of a dvr_path: by extension, `.mp4` (any case) or else FLV. */
export function dvrFileFormat(file: string): DvrFileFormat {
  return /\.mp4$/i.test(file) ? 'mp4' : 'flv';
}
