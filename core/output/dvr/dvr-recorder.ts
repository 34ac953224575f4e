/**
 * One DVR recording of one published stream (SRS SrsDvr + SrsDvrSegmenter): a hub consumer whose messages go
 * through the plan (dvr-plan.ts: which file, which timestamps) into FLV or MP4 file writers chosen by the path's
 * extension (flv-file-writer.ts, mp4-file-writer.ts).
 *
 * Backpressure: `send` returns false while the open file has more than `highWaterBytes` queued for the disk; the
 * hub's consumer then queues (bounded by time and bytes) and, when that overflows, drops whole GOPs and counts
 * them (core/hub/consumer.ts). Once the file's queue falls to `lowWaterBytes` the recorder resumes the consumer.
 * A slow disk therefore costs recorded GOPs, never the publisher's pace or other players.
 *
 * Failures: a file that cannot be opened, written, finished or renamed (disk full, missing or read-only folder) is
 * logged once, at error level, with its path; the rest of that file's media is dropped and the next file (segment
 * plan, next publish) tries again. Its temporary file is removed, or kept when its start still plays (an FLV cut
 * back to its last whole tag; logged at info level). Codec notes (G.711 refused by MP4) are logged once per
 * publish. Nothing here throws into the hub.
 *
 * Ends with the publish: on unpublish the open file is finished and the consumer detached (`onEnd`).
 */
import type { DvrConfig } from '../../config/dvr-config.ts';
import type { GatewayError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { RtmpMessage } from '../../media/message.ts';
import type { StreamKey } from '../../media/stream-key.ts';
import type { ConsumerTarget, SourceEvent, Subscriber } from '../../hub/ports.ts';
import { expandPathTemplate, resolveUnderRoot } from '../path-template.ts';
import type { DvrFileSystem } from './dvr-file-system.ts';
import { dvrFileFormat, type DvrFileInfo, type DvrFileStart, type DvrFileWriter, type DvrFileWriterOptions } from './dvr-file-writer.ts';
import { DvrPlan, type DvrCutReason } from './dvr-plan.ts';
import { FlvFileWriter } from './flv-file-writer.ts';
import { Mp4FileWriter } from './mp4-file-writer.ts';

/** Bytes queued for the disk above which the recorder stops taking messages (the consumer queues them). */
export const DVR_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** ... and below which it takes them again. */
export const DVR_LOW_WATER_BYTES = 1024 * 1024;

export interface DvrRecorderOptions {
  readonly key: StreamKey;
  readonly config: DvrConfig;
  /** Logger bound to the stream. */
  readonly log: Logger;
  /** Wall clock (ms since 1970) for [timestamp] and the date variables; default Date.now. */
  readonly now?: () => number;
  /** Default node:fs/promises. */
  readonly fs?: DvrFileSystem;
  /** Default DVR_HIGH_WATER_BYTES / DVR_LOW_WATER_BYTES. */
  readonly highWaterBytes?: number;
  readonly lowWaterBytes?: number;
  /** Called once when the recording ends (unpublish, hub detach, close). */
  readonly onEnd?: (recorder: DvrRecorder) => void;
  /** Called when a file is finished and renamed to its final path (http_hooks on_dvr). Must not throw. */
  readonly onFile?: (file: string) => void;
}

export interface DvrRecorderStats {
  /** Files finished and renamed. */
  readonly files: number;
  /** Files that failed (each logged once). */
  readonly failedFiles: number;
  /** Bytes written to disk, all files. */
  readonly bytes: number;
  /** Messages the hub's consumer dropped (whole GOPs) because the disk was too slow. */
  readonly droppedMessages: number;
  /** The file being written, if any. */
  readonly currentFile: string | undefined;
}

/** A dvr_path template split into the folder it cannot leave and the part with the variables. */
export function splitDvrPath(template: string): { root: string; relative: string } {
  const firstVariable = template.indexOf('[');
  const fixed = firstVariable < 0 ? template : template.slice(0, firstVariable);
  const slash = Math.max(fixed.lastIndexOf('/'), fixed.lastIndexOf('\\'));
  if (slash < 0) return { root: '.', relative: template };
  return { root: slash === 0 ? template.slice(0, 1) : template.slice(0, slash), relative: template.slice(slash + 1) };
}

/** A writer for `file` by its extension. */
export function createDvrFileWriter(opts: DvrFileWriterOptions): DvrFileWriter {
  return dvrFileFormat(opts.file) === 'mp4' ? new Mp4FileWriter(opts) : new FlvFileWriter(opts);
}

export class DvrRecorder implements ConsumerTarget {
  readonly key: StreamKey;
  readonly #cfg: DvrConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #fs: DvrFileSystem | undefined;
  readonly #high: number;
  readonly #low: number;
  readonly #onEnd: ((recorder: DvrRecorder) => void) | undefined;
  readonly #onFile: ((file: string) => void) | undefined;
  readonly #root: string;
  readonly #relative: string;
  readonly #plan: DvrPlan;
  /** Finishing files (close in flight), awaited by close(). */
  readonly #finishing = new Set<Promise<unknown>>();
  /** Codec notes already logged in this publish. */
  readonly #notesLogged = new Set<string>();
  #sub: Subscriber | undefined;
  #file: DvrFileWriter | undefined;
  #blocked = false;
  #ended = false;
  #files = 0;
  #failedFiles = 0;
  #bytes = 0;
  #droppedBeforeDetach = 0;

  constructor(opts: DvrRecorderOptions) {
    this.key = opts.key;
    this.#cfg = opts.config;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#fs = opts.fs;
    this.#high = opts.highWaterBytes ?? DVR_HIGH_WATER_BYTES;
    this.#low = opts.lowWaterBytes ?? DVR_LOW_WATER_BYTES;
    this.#onEnd = opts.onEnd;
    this.#onFile = opts.onFile;
    ({ root: this.#root, relative: this.#relative } = splitDvrPath(this.#cfg.path));
    this.#plan = new DvrPlan(this.#cfg, {
      openFile: (start) => this.#openFile(start),
      writeFrame: (msg) => this.#file?.write(msg),
      closeFile: (reason) => this.#closeFile(reason),
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The file being written (its final path), if any. */
  get currentFile(): string | undefined {
    return this.#file?.file;
  }

  stats(): DvrRecorderStats {
    return {
      files: this.#files,
      failedFiles: this.#failedFiles,
      bytes: this.#bytes + (this.#file?.bytesWritten ?? 0),
      droppedMessages: this.#droppedBeforeDetach + (this.#sub?.stats().droppedMessages ?? 0),
      currentFile: this.#file?.file,
    };
  }

  /** The hub subscription feeding this recorder (closed when the recording ends). */
  attach(sub: Subscriber): void {
    if (this.#ended) sub.close();
    else this.#sub = sub;
  }

  send(msg: RtmpMessage): boolean {
    if (this.#ended) return true;
    try {
      this.#plan.push(msg);
    } catch (err) {
      this.#log.error({ err }, 'DVR: message not recorded'); // a bug, not an input: the plan does not throw on media
    }
    const file = this.#file;
    if (file !== undefined && file.pendingBytes > this.#high) this.#blocked = true;
    return !this.#blocked;
  }

  onSourceEvent(event: SourceEvent): void {
    if (this.#ended) return;
    if (event === 'unpublish') this.#end('unpublish');
    else this.#plan.end('stop'); // a publish seen by an attached recorder: a new session starts
  }

  onClose(): void {
    this.#sub = undefined;
    void this.close();
  }

  /** Finish the open file and detach. Resolves when every file is closed and renamed (or failed). Idempotent. */
  async close(): Promise<void> {
    this.#end('stop');
    while (this.#finishing.size > 0) await Promise.allSettled([...this.#finishing]);
  }

  #end(reason: 'unpublish' | 'stop'): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#plan.end(reason);
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub !== undefined) {
      this.#droppedBeforeDetach += sub.stats().droppedMessages;
      sub.close();
    }
    this.#onEnd?.(this);
  }

  #openFile(start: DvrFileStart): void {
    const startMs = this.#now();
    let file: string;
    try {
      const rel = expandPathTemplate(this.#relative, { ...this.key, timestampMs: startMs });
      file = resolveUnderRoot(this.#root, rel, 'DVR');
    } catch (err) {
      this.#failedFiles++;
      this.#log.error({ err, dvrPath: this.#cfg.path }, 'DVR file not started: bad path');
      return;
    }
    const writer = createDvrFileWriter({
      file,
      start,
      ...(this.#fs !== undefined ? { fs: this.#fs } : {}),
      onFlushed: () => this.#onFlushed(writer),
      onError: (err) => this.#onFileError(writer, err),
    });
    this.#file = writer;
    for (const note of writer.notes) {
      if (this.#notesLogged.has(note.message)) continue;
      this.#notesLogged.add(note.message);
      this.#log.error({ code: note.code, file }, `DVR: ${note.message}`);
    }
    if (writer.error === undefined) this.#log.info({ file: writer.tempFile, plan: this.#cfg.plan }, 'DVR file started');
  }

  #closeFile(reason: DvrCutReason): void {
    const writer = this.#file;
    this.#file = undefined;
    this.#unblock();
    if (writer === undefined) return;
    const done = writer.close().then(
      (info: DvrFileInfo) => {
        this.#files++;
        this.#bytes += info.bytes;
        this.#log.info({ file: info.file, bytes: info.bytes, durationMs: info.durationMs, reason }, 'DVR file done');
        this.#onFile?.(info.file);
      },
      () => {
        this.#bytes += writer.bytesWritten; // the failure itself was logged by onError
        const kept = writer.keptFile;
        if (kept !== undefined) this.#log.info({ file: kept, reason }, 'DVR unfinished file kept: it plays up to its last complete tag');
      },
    );
    this.#finishing.add(done);
    void done.finally(() => this.#finishing.delete(done));
  }

  #onFileError(writer: DvrFileWriter, err: GatewayError): void {
    this.#failedFiles++;
    const cause = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    this.#log.error({ err, code: err.code, cause, file: writer.file }, 'DVR file failed; the stream goes on');
  }

  #onFlushed(writer: DvrFileWriter): void {
    if (writer === this.#file && writer.pendingBytes <= this.#low) this.#unblock();
  }

  /** Take messages again. The consumer is resumed from a microtask: never from inside `send` (no re-entry). */
  #unblock(): void {
    if (!this.#blocked) return;
    this.#blocked = false;
    queueMicrotask(() => {
      if (!this.#blocked) this.#sub?.resume();
    });
  }
}
