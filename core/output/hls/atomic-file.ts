/**
 * Atomic HLS file writes: bytes go to a temporary file in the destination folder, which is renamed over the
 * final name once complete (rename(2) is atomic within a filesystem), so a player never reads a half-written
 * playlist or segment. Plus cleanup of expired segments and of a whole stream on hls_dispose
 * (SRS SrsHlsMuxer::segment_close/shrink, SrsHlsController::dispose; write-then-rename as nginx-rtmp does).
 *
 * Temporary files end in `.tmp`, an extension the HLS file server never serves.
 * Filesystem failures are thrown as GatewayError(CasterOutput) with the fs error as `cause`.
 */
import { mkdir, open, rename, rm, rmdir, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { ErrorCode, GatewayError } from '../../errors.ts';

let tempCounter = 0;

/** A fresh temporary name next to `file`: `<file>.<pid>.<n>.tmp`. */
export function tempPathFor(file: string): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${file}.${process.pid}.${tempCounter}.tmp`;
}

function fsError(action: string, file: string, cause: unknown): GatewayError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new GatewayError(ErrorCode.CasterOutput, `HLS ${action} ${file}: ${why}`, { cause });
}

const isNotFound = (e: unknown): boolean => (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/**
 * Writes `data` to `file` atomically, creating its folder. A reader sees the old content or the new, never part.
 * @throws GatewayError(CasterOutput) when the folder cannot be made or the write or rename fails (the
 *   temporary file is removed).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fsError('write', file, e);
  }
}

/**
 * A file written in pieces (a segment while it is muxed), visible under its final name only after commit().
 * write() queues chunks in order without awaiting; the first write failure is reported by commit().
 */
export class AtomicFileWriter {
  readonly #file: string;
  readonly #tmp: string;
  #handle: Promise<FileHandle> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #error: unknown = undefined;
  #bytes = 0;
  #done = false;

  /** `file`: the intended final path (its folder holds the temporary file). Nothing touches the disk yet. */
  constructor(file: string) {
    this.#file = file;
    this.#tmp = tempPathFor(file);
  }

  /** The temporary file's path. */
  get tempPath(): string {
    return this.#tmp;
  }

  /** Bytes queued so far. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  #open(): Promise<FileHandle> {
    this.#handle ??= mkdir(dirname(this.#tmp), { recursive: true }).then(() => open(this.#tmp, 'w'));
    return this.#handle;
  }

  /** Appends chunks (not copied: they must not change until written; TS muxer output is fresh). */
  write(chunks: readonly Uint8Array[]): void {
    if (this.#done) throw new GatewayError(ErrorCode.CasterOutput, `HLS write after close: ${this.#file}`);
    if (chunks.length === 0) return;
    for (const c of chunks) this.#bytes += c.byteLength;
    const list = [...chunks];
    this.#queue = this.#queue.then(async () => {
      if (this.#error !== undefined) return;
      try {
        const fh = await this.#open();
        await fh.writev(list);
      } catch (e) {
        this.#error = e;
      }
    });
  }

  /**
   * Flushes, closes and renames the temporary file to `finalPath` (default: the constructor's path; differs when
   * the name holds [duration]), creating its folder.
   * @throws GatewayError(CasterOutput) on any write, close or rename failure; the temporary file is removed.
   */
  async commit(finalPath: string = this.#file): Promise<void> {
    if (this.#done) throw new GatewayError(ErrorCode.CasterOutput, `HLS file already closed: ${this.#file}`);
    this.#done = true;
    await this.#queue;
    try {
      const fh = await this.#open(); // an empty segment is still a file
      if (this.#error !== undefined) throw this.#error;
      await fh.close();
      if (dirname(finalPath) !== dirname(this.#tmp)) await mkdir(dirname(finalPath), { recursive: true });
      await rename(this.#tmp, finalPath);
    } catch (e) {
      await this.#discard();
      throw fsError('write', finalPath, e);
    }
  }

  /** Drops the temporary file (publisher gone mid-segment, write error). Never throws. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#queue;
    await this.#discard();
  }

  async #discard(): Promise<void> {
    if (this.#handle !== undefined) await this.#handle.then((fh) => fh.close()).catch(() => undefined);
    await rm(this.#tmp, { force: true }).catch(() => undefined);
  }
}

/**
 * Deletes files (expired segments with hls_cleanup on). Missing files are not an error.
 * @returns the files that existed and were deleted.
 * @throws GatewayError(CasterOutput) for the first other failure, after trying every file.
 */
export async function removeFiles(files: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  let failure: GatewayError | undefined;
  for (const f of files) {
    try {
      await unlink(f);
      removed.push(f);
    } catch (e) {
      if (!isNotFound(e)) failure ??= fsError('delete', f, e);
    }
  }
  if (failure !== undefined) throw failure;
  return removed;
}

/**
 * Removes `folder` and then its parents while they are empty, stopping at (and keeping) `root`.
 * Folders outside root are left alone. Never throws.
 */
export async function removeEmptyFolders(folder: string, root: string): Promise<void> {
  const top = resolve(root);
  let dir = resolve(folder);
  while (dir !== top && !relative(top, dir).startsWith('..') && dir.startsWith(top + sep)) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty, gone, or not ours
    }
    dir = dirname(dir);
  }
}

/**
 * hls_dispose: deletes a stream's playlist and every segment, then the folders they leave empty under `root`.
 * The playlist goes first so no player is sent to segments that are about to disappear.
 * @returns the files deleted. @throws as removeFiles.
 */
export async function disposeStreamFiles(root: string, m3u8File: string, segmentFiles: readonly string[]): Promise<string[]> {
  const removed = await removeFiles([m3u8File, ...segmentFiles]);
  const folders = new Set([m3u8File, ...segmentFiles].map((f) => dirname(f)));
  // deepest first, so a child folder goes before its parent
  for (const d of [...folders].sort((a, b) => b.length - a.length)) await removeEmptyFolders(d, root);
  return removed;
}
