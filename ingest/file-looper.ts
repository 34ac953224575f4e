/**
 * Native virtual live (SRS `ingest { input { type file; } }` without ffmpeg): castgate reads FLV or MPEG-TS
 * files with its own demuxers (core/protocol/flv/flv-demuxer.ts; core/protocol/mpegts/ts-demuxer.ts with the
 * TsToRtmp of core/remux/ts-to-rtmp.ts), paces the messages in real time by their timestamps and loops forever.
 *
 * Timeline (`LoopTimeline`, pure): every pass over a file is shifted so that it starts right after the previous
 * pass: offset += the pass's length, where the length is, over its tracks, the largest (last timestamp − first
 * timestamp of that track + that track's frame interval); one offset for all tracks keeps A/V in sync. Timestamps therefore keep rising across loops
 * with no gap beyond one frame interval (SRS restarts ffmpeg and leaves a gap at every loop). Sequence headers
 * and onMetaData identical to those already sent are not repeated; AVC end-of-sequence tags are dropped (a
 * player must not see the stream end at every loop). Several files play in order, then the list starts again.
 *
 * Pacing (`FileLooper`): a message is handed on when the wall clock reaches (its timestamp − the first one) after
 * the start. File bytes are read ahead in chunks only while less than `leadMs` of media is queued.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCode, GatewayError } from '../core/errors.ts';
import { MessageType, VideoCodecId, type RtmpMessage } from '../core/media/message.ts';
import { FlvDemuxer } from '../core/protocol/flv/flv-demuxer.ts';
import { TsDemuxer } from '../core/protocol/mpegts/ts-demuxer.ts';
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from '../core/protocol/mpegts/ts-packet.ts';
import { TsToRtmp } from '../core/remux/ts-to-rtmp.ts';

/** Frame interval assumed for a track with a single frame per pass (25 fps video; AAC 1024 samples at 44.1 kHz). */
export const DEFAULT_VIDEO_INTERVAL_MS = 40;
export const DEFAULT_AUDIO_INTERVAL_MS = 23;
/** Bytes read from the file per read. */
export const READ_CHUNK_BYTES = 64 * 1024;
/** Media read ahead of the wall clock, ms. */
export const DEFAULT_LEAD_MS = 1_000;
/** A message whose gap to the next exceeds this is not waited for in full (a hole in the file): ms. */
export const MAX_PACING_GAP_MS = 5_000;

interface TrackState {
  /** First and last timestamp relative to the pass start (ms), -1 = none in this pass. */
  firstRelMs: number;
  lastRelMs: number;
  /** Last positive step between two frames of this track (ms), 0 = unknown. */
  intervalMs: number;
  /** Last output timestamp (ms), across passes. */
  lastOutMs: number;
}

/** Rebases messages of successive passes over files onto one continuous, rising timeline. Pure. */
export class LoopTimeline {
  #offsetMs = 0;
  #passFirstMs: number | undefined;
  #passMessages = 0;
  #passes = 0;
  readonly #video: TrackState = { firstRelMs: -1, lastRelMs: -1, intervalMs: 0, lastOutMs: -1 };
  readonly #audio: TrackState = { firstRelMs: -1, lastRelMs: -1, intervalMs: 0, lastOutMs: -1 };
  readonly #lastConfig = new Map<string, Buffer>();

  /** Output time where the current pass starts, ms. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Completed passes. */
  get passes(): number {
    return this.#passes;
  }

  /** Start a pass over a file (from its beginning). */
  beginPass(): void {
    this.#passFirstMs = undefined;
    this.#passMessages = 0;
    for (const t of [this.#video, this.#audio]) {
      t.firstRelMs = -1;
      t.lastRelMs = -1;
    }
  }

  /** The message on the output timeline, or undefined when it is dropped (repeated config, end of sequence). */
  map(msg: RtmpMessage): RtmpMessage | undefined {
    if (msg.type === MessageType.Video && isEndOfSequence(msg.payload)) return undefined;
    if (msg.isConfig) {
      const last = this.#lastConfig.get(msg.kind);
      if (last !== undefined && last.equals(msg.payload)) return undefined;
      this.#lastConfig.set(msg.kind, msg.payload);
      return msg.withTimestamp(this.#positionMs(msg));
    }
    const track = msg.type === MessageType.Video ? this.#video : this.#audio;
    if (this.#passFirstMs === undefined) this.#passFirstMs = msg.timestamp;
    const relMs = Math.max(0, msg.timestamp - this.#passFirstMs);
    if (track.firstRelMs < 0) track.firstRelMs = relMs;
    if (track.lastRelMs >= 0 && relMs > track.lastRelMs) track.intervalMs = relMs - track.lastRelMs;
    track.lastRelMs = Math.max(track.lastRelMs, relMs);
    const outMs = Math.max(this.#offsetMs + relMs, track.lastOutMs);
    track.lastOutMs = outMs;
    this.#passMessages++;
    return msg.withTimestamp(outMs);
  }

  /**
   * End the pass: the next one starts one frame interval after this one's last frame.
   * @returns false when the pass had no audio/video message (nothing advanced).
   */
  endPass(): boolean {
    if (this.#passMessages === 0) return false;
    // Each track repeats with period (last − first + interval); the pass length is the longest, so no track
    // overlaps itself and the longest one joins with exactly one frame interval.
    let lengthMs = 0;
    const v = this.#video;
    if (v.lastRelMs >= 0) lengthMs = Math.max(lengthMs, v.lastRelMs - v.firstRelMs + (v.intervalMs || DEFAULT_VIDEO_INTERVAL_MS));
    const a = this.#audio;
    if (a.lastRelMs >= 0) lengthMs = Math.max(lengthMs, a.lastRelMs - a.firstRelMs + (a.intervalMs || DEFAULT_AUDIO_INTERVAL_MS));
    this.#offsetMs += lengthMs;
    this.#passes++;
    return true;
  }

  /** Where a config message goes: the current pass position of its timestamp, never before what was sent. */
  #positionMs(msg: RtmpMessage): number {
    const relMs = this.#passFirstMs === undefined ? 0 : Math.max(0, msg.timestamp - this.#passFirstMs);
    const track = msg.type === MessageType.Audio ? this.#audio : this.#video;
    return Math.max(this.#offsetMs + relMs, track.lastOutMs, 0);
  }
}

/** AVC/HEVC VIDEODATA with AVCPacketType 2 (end of sequence), FLV spec E.4.3.1. */
function isEndOfSequence(payload: Buffer): boolean {
  if (payload.length < 2 || ((payload[0] as number) & 0x80) !== 0) return false;
  const codecId = (payload[0] as number) & 0x0f;
  return (codecId === VideoCodecId.Avc || codecId === VideoCodecId.HevcLegacy) && payload[1] === 2;
}

/** Time source for pacing (tests pass a fast or manual clock). */
export interface LooperClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: LooperClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface FileLooperSink {
  onMessage(msg: RtmpMessage): void;
  /** Non-fatal demux/codec problems (logged rate-limited by the owner). */
  onDecodeError(err: GatewayError): void;
  /** Fatal: a file cannot be opened or read, or no file yields media. The looper has stopped itself. */
  onError(err: GatewayError): void;
  /** A pass over the file list ended and the next started (`loop` = completed loops over the whole list). */
  onLoop?(loop: number): void;
}

export interface FileLooperOptions {
  readonly files: readonly string[];
  readonly sink: FileLooperSink;
  readonly clock?: LooperClock;
  readonly leadMs?: number;
  readonly readChunkBytes?: number;
}

export interface FileLooperStats {
  readonly file: string;
  readonly loops: number;
  readonly messages: number;
  readonly bytesRead: number;
  /** Output timestamp of the last message handed on, ms. */
  readonly positionMs: number;
}

interface Demux {
  push(chunk: Uint8Array): void;
  end(): void;
}

/** Reads, rebases and paces FLV/MPEG-TS files in a loop. `start()` once; `stop()` is idempotent. */
export class FileLooper {
  readonly #files: readonly string[];
  readonly #sink: FileLooperSink;
  readonly #clock: LooperClock;
  readonly #leadMs: number;
  readonly #chunkBytes: number;
  readonly #timeline = new LoopTimeline();
  readonly #queue: RtmpMessage[] = [];
  #head = 0;
  #fileIndex = 0;
  #handle: FileHandle | undefined;
  #demux: Demux | undefined;
  #reading = false;
  #stopped = false;
  #timer: unknown;
  #startWallMs: number | undefined;
  #startTsMs = 0;
  #emptyPasses = 0;
  #loops = 0;
  #messages = 0;
  #bytesRead = 0;
  #positionMs = 0;

  constructor(opts: FileLooperOptions) {
    if (opts.files.length === 0) throw new GatewayError(ErrorCode.ConfInvalid, 'file looper: no file');
    this.#files = opts.files;
    this.#sink = opts.sink;
    this.#clock = opts.clock ?? realClock;
    this.#leadMs = opts.leadMs ?? DEFAULT_LEAD_MS;
    this.#chunkBytes = opts.readChunkBytes ?? READ_CHUNK_BYTES;
  }

  /** Open the first file. Rejects (GW_ERR_INGEST_INPUT) when it cannot be opened; then nothing runs. */
  async start(): Promise<void> {
    await this.#openCurrent();
    void this.#readMore();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const h = this.#handle;
    this.#handle = undefined;
    if (h !== undefined && !this.#reading) void h.close().catch(() => undefined);
  }

  stats(): FileLooperStats {
    return {
      file: this.#files[this.#fileIndex] as string,
      loops: this.#loops,
      messages: this.#messages,
      bytesRead: this.#bytesRead,
      positionMs: this.#positionMs,
    };
  }

  async #openCurrent(): Promise<void> {
    const file = this.#files[this.#fileIndex] as string;
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new GatewayError(ErrorCode.IngestInput, `cannot open ingest file '${file}': ${why}`, { cause: err });
    }
    if (this.#stopped) {
      await handle.close().catch(() => undefined);
      return;
    }
    this.#handle = handle;
    this.#demux = undefined; // chosen from the first bytes
    this.#timeline.beginPass();
  }

  #fail(err: GatewayError): void {
    if (this.#stopped) return;
    this.stop();
    this.#sink.onError(err);
  }

  /** Build the demuxer from the file's first bytes: 'FLV' signature, else MPEG-TS (0x47 every 188 bytes). */
  #createDemux(first: Uint8Array): Demux {
    const onMessage = (m: RtmpMessage): void => {
      const out = this.#timeline.map(m);
      if (out !== undefined) this.#queue.push(out);
    };
    const onDecodeError = (e: GatewayError): void => this.#sink.onDecodeError(e);
    if (first[0] === 0x46 && first[1] === 0x4c && first[2] === 0x56) {
      const flv = new FlvDemuxer({ onMessage, onDecodeError });
      return { push: (c) => flv.push(c), end: () => flv.end() };
    }
    const isTs = first[0] === TS_SYNC_BYTE && (first.length <= TS_PACKET_SIZE || first[TS_PACKET_SIZE] === TS_SYNC_BYTE);
    if (!isTs) {
      throw new GatewayError(ErrorCode.FlvHeader, `ingest file '${this.#files[this.#fileIndex] as string}' is neither FLV nor MPEG-TS`);
    }
    const ts = new TsDemuxer(new TsToRtmp({ onMessage, onDecodeError }));
    return { push: (c) => ts.push(c), end: () => ts.flush() };
  }

  /** Media time queued ahead of the wall clock, ms. */
  #queuedAheadMs(): number {
    if (this.#head >= this.#queue.length) return 0;
    const last = (this.#queue[this.#queue.length - 1] as RtmpMessage).timestamp;
    if (this.#startWallMs === undefined) return last - (this.#queue[this.#head] as RtmpMessage).timestamp;
    return last - (this.#startTsMs + (this.#clock.now() - this.#startWallMs));
  }

  async #readMore(): Promise<void> {
    if (this.#reading || this.#stopped) return;
    this.#reading = true;
    try {
      while (!this.#stopped && this.#queuedAheadMs() < this.#leadMs) {
        const handle = this.#handle;
        if (handle === undefined) break;
        // A new buffer per read: the TS demuxer keeps views of pushed chunks until a PES completes.
        const chunk = Buffer.allocUnsafe(this.#chunkBytes);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (this.#stopped) {
          await handle.close().catch(() => undefined);
          break;
        }
        if (bytesRead > 0) {
          this.#bytesRead += bytesRead;
          const data = chunk.subarray(0, bytesRead);
          this.#demux ??= this.#createDemux(data);
          this.#demux.push(data);
          continue;
        }
        await this.#nextFile(handle);
      }
    } catch (err) {
      this.#reading = false;
      const e = err instanceof GatewayError ? err
        : new GatewayError(ErrorCode.IngestInput, `reading ingest file '${this.#files[this.#fileIndex] as string}': ${(err as Error).message}`, { cause: err });
      this.#fail(e);
      return;
    }
    this.#reading = false;
    this.#pump();
  }

  /** End of the current file: close the pass, open the next file (or the first again). */
  async #nextFile(handle: FileHandle): Promise<void> {
    this.#demux?.end();
    this.#handle = undefined;
    await handle.close().catch(() => undefined);
    if (this.#timeline.endPass()) {
      this.#emptyPasses = 0;
    } else if (++this.#emptyPasses >= this.#files.length) {
      throw new GatewayError(ErrorCode.IngestInput, `ingest files yield no audio or video: ${this.#files.join(', ')}`);
    }
    this.#fileIndex = (this.#fileIndex + 1) % this.#files.length;
    if (this.#fileIndex === 0) {
      this.#loops++;
      this.#sink.onLoop?.(this.#loops);
    }
    await this.#openCurrent();
  }

  /** Hand on every message that is due; read ahead; wait for the next one. */
  #pump(): void {
    if (this.#stopped) return;
    this.#timer = undefined;
    const now = this.#clock.now();
    while (this.#head < this.#queue.length) {
      const msg = this.#queue[this.#head] as RtmpMessage;
      if (this.#startWallMs === undefined) {
        this.#startWallMs = now;
        this.#startTsMs = msg.timestamp;
      }
      let dueMs = this.#startWallMs + (msg.timestamp - this.#startTsMs);
      if (dueMs - now > MAX_PACING_GAP_MS) {
        // A hole in the media: do not sit in it; re-anchor the clock so the message is due now.
        this.#startWallMs = now - (msg.timestamp - this.#startTsMs);
        dueMs = now;
      }
      if (dueMs > now) break;
      this.#head++;
      this.#messages++;
      this.#positionMs = msg.timestamp;
      this.#sink.onMessage(msg);
      if (this.#stopped) return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    if (!this.#reading && this.#queuedAheadMs() < this.#leadMs) void this.#readMore();
    if (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head] as RtmpMessage;
      const waitMs = Math.max(0, (this.#startWallMs as number) + (next.timestamp - this.#startTsMs) - this.#clock.now());
      this.#timer = this.#clock.setTimeout(() => this.#pump(), waitMs);
    }
  }
}
