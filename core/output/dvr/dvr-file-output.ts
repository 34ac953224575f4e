/**
 * The file side shared by the FLV and MP4 DVR writers: the temporary file (opened on the first write), one serial
 * async job chain, the byte counters the recorder's backpressure reads, the first error, and the final
 * close + rename (or removal after a failure); and DvrFileWriterBase, the writers' common class. See
 * dvr-file-writer.ts for the contract.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { RtmpMessage } from '../../media/message.ts';
import { dvrWriteError, nodeDvrFileSystem, type DvrFileHandle, type DvrFileSystem } from './dvr-file-system.ts';
import { dvrTempFile, type DvrFileFormat, type DvrFileInfo, type DvrFileWriter } from './dvr-file-writer.ts';

export interface DvrFileOutputOptions {
  readonly file: string;
  readonly fs?: DvrFileSystem | undefined;
  readonly onFlushed?: (() => void) | undefined;
  readonly onError?: ((err: GatewayError) => void) | undefined;
}

export class DvrFileOutput {
  readonly file: string;
  readonly tempFile: string;
  readonly #fs: DvrFileSystem;
  readonly #onFlushed: (() => void) | undefined;
  readonly #onError: ((err: GatewayError) => void) | undefined;
  #handle: Promise<DvrFileHandle> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #error: GatewayError | undefined;
  #pending = 0;
  #written = 0;
  #ended = false;
  /** After a failure, keep the temporary file cut to this many bytes (a playable prefix) instead of removing it. */
  #keepBytes = 0;
  #kept = false;

  constructor(opts: DvrFileOutputOptions) {
    this.file = opts.file;
    this.tempFile = dvrTempFile(opts.file);
    this.#fs = opts.fs ?? nodeDvrFileSystem;
    this.#onFlushed = opts.onFlushed;
    this.#onError = opts.onError;
  }

  /** Bytes queued and not yet written; 0 after a failure (nothing more will be written). */
  get pendingBytes(): number {
    return this.#error === undefined ? this.#pending : 0;
  }

  get bytesWritten(): number {
    return this.#written;
  }

  get error(): GatewayError | undefined {
    return this.#error;
  }

  /** True once close/abort started or a failure happened: writes are dropped. */
  get stopped(): boolean {
    return this.#ended || this.#error !== undefined;
  }

  /** `bytes` were queued (counted in pendingBytes until `settled`). */
  queued(bytes: number): void {
    this.#pending += bytes;
  }

  /** `bytes` queued earlier are done with (written, or dropped after a failure). */
  settled(bytes: number): void {
    this.#pending -= bytes;
    this.#onFlushed?.();
  }

  /**
   * The first `bytes` of the file are a playable whole (FLV: ends on a tag boundary): if the file fails later, its
   * temporary file is cut to that size and kept (named .tmp: unfinished) instead of removed.
   */
  keepOnFailure(bytes: number): void {
    this.#keepBytes = bytes;
  }

  /** Runs `job` after every earlier job; a throw becomes the file's error. Jobs after a failure do not run. */
  run(job: () => Promise<void>): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#error !== undefined) return;
      try {
        await job();
      } catch (err) {
        this.fail(err);
      }
    });
  }

  /** Creates the folder and opens the temporary file (once); a failure is the file's error. Queued as a job. */
  open(): void {
    this.run(async () => {
      await this.#open();
    });
  }

  /** Writes `chunks` at `position` of the temporary file (opened, with its folder, on the first call). */
  async writeAt(chunks: readonly Uint8Array[], position: number): Promise<void> {
    const handle = await this.#open();
    await handle.writev(chunks, position);
    for (const c of chunks) this.#written += c.byteLength;
  }

  #open(): Promise<DvrFileHandle> {
    this.#handle ??= this.#fs.open(this.tempFile);
    return this.#handle;
  }

  /**
   * Record the first failure (as GatewayError DvrWrite) and report it once; later failures are ignored. Queued
   * bytes stop counting as pending.
   */
  fail(err: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = dvrWriteError('write', this.tempFile, err);
    this.#onError?.(this.#error);
    this.#onFlushed?.(); // nothing is pending any more
  }

  /**
   * After every queued job: close the temporary file and rename it to `file`.
   * @throws GatewayError(DvrWrite) with the first failure (also one from close/rename); the temporary file is
   *   removed then.
   */
  async commit(): Promise<void> {
    this.#ended = true;
    await this.#chain;
    if (this.#error === undefined) {
      try {
        await (await this.#open()).close(); // a file with nothing written is still a file
        await this.#fs.rename(this.tempFile, this.file);
        return;
      } catch (err) {
        this.fail(err);
      }
    }
    await this.#discard(this.#keepBytes);
    throw this.#error as GatewayError;
  }

  /** After a failed commit: the temporary file kept (cut to its playable prefix), or undefined when it was removed. */
  get keptFile(): string | undefined {
    return this.#kept ? this.tempFile : undefined;
  }

  /** Stop after the queued jobs and delete the temporary file. Never throws. */
  async abort(): Promise<void> {
    this.#ended = true;
    await this.#chain;
    await this.#discard(0);
  }

  /** Close the handle; keep the first `keepBytes` bytes of the temporary file, or remove it when 0 (or on error). */
  async #discard(keepBytes: number): Promise<void> {
    if (this.#handle !== undefined && keepBytes > 0) {
      try {
        const h = await this.#handle;
        await h.truncate(keepBytes);
        await h.close();
        this.#kept = true;
        return;
      } catch {
        // cannot even cut it: remove it below
      }
    }
    if (this.#handle !== undefined) await this.#handle.then((h) => h.close()).catch(() => undefined);
    await this.#fs.remove(this.tempFile);
  }
}

/**
 * What the FLV and MP4 writers share: the DvrFileOutput, the DvrFileWriter getters, and close()/abort() run once.
 * A subclass turns messages into bytes (`write`), finishes its format (`finish`) and forgets what it queued
 * (`dropQueued`).
 */
export abstract class DvrFileWriterBase implements DvrFileWriter {
  abstract readonly format: DvrFileFormat;
  abstract readonly notes: readonly GatewayError[];
  protected readonly out: DvrFileOutput;
  #closing: Promise<DvrFileInfo> | undefined;

  constructor(opts: DvrFileOutputOptions) {
    this.out = new DvrFileOutput(opts);
  }

  get file(): string {
    return this.out.file;
  }
  get tempFile(): string {
    return this.out.tempFile;
  }
  get pendingBytes(): number {
    return this.out.pendingBytes;
  }
  get bytesWritten(): number {
    return this.out.bytesWritten;
  }
  get error(): GatewayError | undefined {
    return this.out.error;
  }
  get keptFile(): string | undefined {
    return this.out.keptFile;
  }

  /** Writes are taken: not closing, not aborted, not failed. */
  protected get accepting(): boolean {
    return this.#closing === undefined && !this.out.stopped;
  }

  abstract write(msg: RtmpMessage): void;

  close(): Promise<DvrFileInfo> {
    this.#closing ??= this.finish();
    return this.#closing;
  }

  async abort(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = Promise.reject(new GatewayError(ErrorCode.DvrWrite, `DVR ${this.file}: aborted`));
      this.#closing.catch(() => undefined);
    }
    this.dropQueued();
    await this.out.abort();
  }

  /** Write what is held, end the format, then `out.commit()`. Called once, by close(). */
  protected abstract finish(): Promise<DvrFileInfo>;
  /** Forget what is queued and not written yet (abort). */
  protected abstract dropQueued(): void;
}
