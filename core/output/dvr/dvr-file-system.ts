/**
 * The file operations DVR writers use, behind an interface so tests can inject failures (disk full after N bytes, a
 * slow disk) without a real full disk. The Node implementation is node:fs/promises.
 *
 * Every failure is thrown as GatewayError(DvrWrite) naming the file, with the fs error (ENOSPC, EACCES, EROFS,
 * ENOENT...) as `cause`.
 */
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, GatewayError } from '../../errors.ts';

/** One open file. Calls are not concurrent: the writer awaits each before the next. */
export interface DvrFileHandle {
  /** Write `chunks` back to back starting at byte `position`. Resolves when the bytes are with the OS. */
  writev(chunks: readonly Uint8Array[], position: number): Promise<void>;
  /** Cut the file to `size` bytes. */
  truncate(size: number): Promise<void>;
  /** Close the file (its bytes stay). Idempotent. */
  close(): Promise<void>;
}

export interface DvrFileSystem {
  /** Create the folder of `file` (recursively) and open `file` for writing, truncating it. */
  open(file: string): Promise<DvrFileHandle>;
  /** Rename `from` to `to` (same folder: atomic). */
  rename(from: string, to: string): Promise<void>;
  /** Delete `file`; a missing file is not an error. Never throws. */
  remove(file: string): Promise<void>;
}

/** The GatewayError(DvrWrite) of a failed file operation. */
export function dvrWriteError(action: string, file: string, cause: unknown): GatewayError {
  if (cause instanceof GatewayError && cause.code === ErrorCode.DvrWrite) return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new GatewayError(ErrorCode.DvrWrite, `DVR ${action} ${file}: ${why}`, { cause });
}

class NodeFileHandle implements DvrFileHandle {
  readonly #fh: FileHandle;
  readonly #file: string;
  #closed = false;

  constructor(fh: FileHandle, file: string) {
    this.#fh = fh;
    this.#file = file;
  }

  async writev(chunks: readonly Uint8Array[], position: number): Promise<void> {
    try {
      let pos = position;
      let list = [...chunks];
      // writev may write fewer bytes than asked (a signal, a nearly full disk that still took some): continue
      while (list.length > 0) {
        const { bytesWritten } = await this.#fh.writev(list, pos);
        let left = bytesWritten;
        pos += bytesWritten;
        while (list.length > 0 && left >= (list[0] as Uint8Array).byteLength) left -= (list.shift() as Uint8Array).byteLength;
        if (list.length > 0 && left > 0) list[0] = (list[0] as Uint8Array).subarray(left);
        if (bytesWritten === 0 && list.length > 0) throw new Error('write returned 0 bytes');
      }
    } catch (e) {
      throw dvrWriteError('write', this.#file, e);
    }
  }

  async truncate(size: number): Promise<void> {
    try {
      await this.#fh.truncate(size);
    } catch (e) {
      throw dvrWriteError('truncate', this.#file, e);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#fh.close();
    } catch (e) {
      throw dvrWriteError('close', this.#file, e);
    }
  }
}

/** node:fs/promises. */
export const nodeDvrFileSystem: DvrFileSystem = {
  async open(file) {
    try {
      await mkdir(dirname(file), { recursive: true });
      return new NodeFileHandle(await open(file, 'w'), file);
    } catch (e) {
      throw dvrWriteError('open', file, e);
    }
  },
  async rename(from, to) {
    try {
      await rename(from, to);
    } catch (e) {
      throw dvrWriteError('rename', from, e);
    }
  },
  async remove(file) {
    await rm(file, { force: true }).catch(() => undefined);
  },
};
