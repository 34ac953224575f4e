/**
 * One HLS output for one published stream (SRS SrsHls + SrsHlsController + SrsHlsMuxer): a hub consumer that
 * muxes RtmpMessages to MPEG-TS or, with `hls_use_fmp4`, CMAF fragments (hls-container.ts), cuts segments
 * (hls-segmenter.ts), writes each closed segment and then the playlist atomically (atomic-file.ts, m3u8.ts),
 * deletes expired segments (hls_cleanup) and every file of the stream hls_dispose after the publisher left
 * (cancelled by a republish). fMP4: each program (the tracks; a new one after a track appears) has its init
 * segment, hls_init_file (`-1`, `-2`, ... before the extension for later programs), listed as EXT-X-MAP, and each
 * segment its EXT-X-PROGRAM-DATE-TIME.
 *
 * Low-Latency HLS (`hls_ll on`, always fMP4): nothing is written to disk; the init segments, segments, parts of
 * `hls_part` seconds and the playlist live in memory (hls-live.ts), which HlsServer serves with blocking playlist
 * reload and preload hints.
 *
 * Never blocks the hub: `send` always returns true. The open segment's bytes are kept in memory and written when
 * it closes, through one serial async job chain (segment, then playlist, then cleanup). Bytes held (open segment
 * + closed segments not yet on disk) are bounded by `maxPendingBytes`; on overflow the message is dropped, and so
 * is every message until the next keyframe (any audio frame for audio-only), which starts a new discontinuous
 * segment. Drops are counted.
 *
 * Program start: the TS program is configured from the sequence headers seen (AVC config → H.264; AAC config or
 * an MP3 frame → audio). Media is held until both tracks are known (hls_vcodec vn / hls_acodec an: not expected)
 * or for TRACK_WAIT_MS of media time, then the program starts with the tracks seen: video-only, audio-only or
 * both. With video the first segment starts at the first keyframe (audio queued before it is dropped). A track
 * that appears later restarts the program at a discontinuity.
 *
 * hls_on_error: `continue` logs (rate-limited) and keeps going (a bad message is skipped; a segment that could
 * not be written stays listed). `ignore` (SRS: disable HLS, keep the publish) and `disconnect` (SRS: also kick the
 * publisher; a hub consumer has no handle to do that, so it is logged at error level and handled as ignore) stop
 * this muxer until the next publish.
 */
import type { HlsConfig } from '../../config/hls-config.ts';
import { isGatewayError } from '../../errors.ts';
import { PithyLog, type Logger } from '../../log.ts';
import { MessageType, SoundFormat, type RtmpMessage } from '../../media/message.ts';
import type { StreamKey } from '../../media/stream-key.ts';
import type { ConsumerTarget, SourceEvent, Subscriber } from '../../hub/ports.ts';
import { readAudioTagHeader } from '../../protocol/flv/flv-tag.ts';
import type { TsAudioCodec, TsVideoCodec } from '../../remux/rtmp-to-ts.ts';
import type { CmafPart } from '../../remux/rtmp-to-cmaf.ts';
import { AtomicFileWriter, disposeStreamFiles, removeFiles, writeFileAtomic } from './atomic-file.ts';
import { CmafHlsContainer, TsHlsContainer, type HlsContainer } from './hls-container.ts';
import { HlsLivePlaylist } from './hls-live.ts';
import { expandHlsPath, resolveHlsFile, segmentUri } from './hls-path.ts';
import { HlsSegmenter, type HlsSegmentInfo } from './hls-segmenter.ts';
import { writeMediaPlaylist } from './m3u8.ts';

/** Default cap of segment bytes held in memory per stream (open segment + segments waiting for the disk). */
export const HLS_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Before the first segment, wait this long (media time) for the other track's first config or frame. */
export const TRACK_WAIT_MS = 1500;

export interface HlsMuxerOptions {
  readonly key: StreamKey;
  readonly config: HlsConfig;
  /** Logger bound to the stream. */
  readonly log: Logger;
  /** Wall clock (ms since 1970) for [timestamp] and the date variables; default Date.now. */
  readonly now?: () => number;
  /** Default HLS_MAX_PENDING_BYTES. */
  readonly maxPendingBytes?: number;
  /** File work of a previous muxer of the same stream that must finish first (its dispose). */
  readonly after?: Promise<void>;
  /** Called once when the muxer ends (disposed, stopped by hls_on_error, closed). */
  readonly onEnd?: (muxer: HlsMuxer) => void;
  /**
   * Called after a segment file and the playlist listing it are written (http_hooks on_hls); not for LL-HLS,
   * whose segments stay in memory. Must not throw.
   */
  readonly onSegment?: (segment: HlsWrittenSegment) => void;
}

/** A segment on disk and listed (HlsMuxerOptions.onSegment). */
export interface HlsWrittenSegment {
  /** Segment file path. */
  readonly file: string;
  /** Its URI in the playlist (relative to the playlist, or with hls_entry_prefix). */
  readonly uri: string;
  readonly sequence: number;
  readonly durationMs: number;
}

export interface HlsMuxerStats {
  /** Segments closed (written or being written). */
  readonly segments: number;
  /** Messages dropped on overflow. */
  readonly droppedMessages: number;
  readonly errors: number;
  readonly pendingBytes: number;
}

interface OpenFile {
  readonly sequence: number;
  readonly startWallMs: number;
  chunks: Buffer[];
  bytes: number;
}

interface WrittenFile {
  readonly file: string;
  readonly uri: string;
  /** fMP4: the init segment's URI (EXT-X-MAP) and the wall-clock start (EXT-X-PROGRAM-DATE-TIME). */
  readonly mapUri: string | undefined;
  readonly startWallMs: number;
}

/** The URI of part `index` of a segment: `s-12.m4s` → `s-12.3.m4s`. */
export function hlsPartUri(segmentUri: string, index: number): string {
  const dot = segmentUri.lastIndexOf('.');
  return dot > segmentUri.lastIndexOf('/') ? `${segmentUri.slice(0, dot)}.${index}${segmentUri.slice(dot)}` : `${segmentUri}.${index}`;
}

export class HlsMuxer implements ConsumerTarget {
  readonly #key: StreamKey;
  readonly #cfg: HlsConfig;
  readonly #log: Logger;
  readonly #pithy: PithyLog;
  readonly #now: () => number;
  readonly #maxPendingBytes: number;
  readonly #onEnd: ((muxer: HlsMuxer) => void) | undefined;
  readonly #onSegment: ((segment: HlsWrittenSegment) => void) | undefined;
  readonly #m3u8Rel: string;
  readonly #m3u8File: string;
  readonly #container: HlsContainer;
  /** LL-HLS in memory (hls_ll on); undefined: files on disk. */
  readonly #live: HlsLivePlaylist | undefined;
  readonly #segmenter: HlsSegmenter;
  /** Segment files on disk (or being written) by sequence number. */
  readonly #files = new Map<number, WrittenFile>();
  #chain: Promise<void>;
  #sub: Subscriber | undefined;
  #video: TsVideoCodec | undefined;
  #audio: TsAudioCodec | undefined;
  /** The last video sequence header; the last AAC sequence header or the first MP3 frame (fMP4 sample entries). */
  #videoConfig: RtmpMessage | undefined;
  #audioConfig: RtmpMessage | undefined;
  /** Programs started (fMP4: init segments written) and the current init segment's URI. */
  #programs = 0;
  #mapUri: string | undefined;
  #started = false;
  #preroll: RtmpMessage[] = [];
  #open: OpenFile | undefined;
  #waitKeyframe = false;
  #pendingBytes = 0;
  #segments = 0;
  #dropped = 0;
  #errors = 0;
  #disposeTimer: NodeJS.Timeout | undefined;
  #ended = false;

  /** @throws GatewayError(StreamKeyInvalid) when hls_m3u8_file expands outside hls_path. */
  constructor(opts: HlsMuxerOptions) {
    this.#key = opts.key;
    this.#cfg = opts.config;
    this.#log = opts.log;
    this.#pithy = new PithyLog(opts.log, 'HLS errors');
    this.#now = opts.now ?? Date.now;
    this.#maxPendingBytes = opts.maxPendingBytes ?? HLS_MAX_PENDING_BYTES;
    this.#onEnd = opts.onEnd;
    this.#onSegment = opts.onSegment;
    this.#chain = (opts.after ?? Promise.resolve()).catch(() => undefined);
    this.#m3u8Rel = expandHlsPath(this.#cfg.m3u8File, { ...this.#key, timestampMs: this.#now() });
    this.#m3u8File = resolveHlsFile(this.#cfg.path, this.#m3u8Rel);
    this.#segmenter = new HlsSegmenter({
      fragmentMs: this.#cfg.fragmentMs,
      aofRatio: this.#cfg.aofRatio,
      windowMs: this.#cfg.windowMs,
      waitKeyframe: this.#cfg.waitKeyframe,
    });
    const ll = this.#cfg.ll;
    this.#container = ll || this.#cfg.useFmp4 ? new CmafHlsContainer(ll ? this.#cfg.partMs : Number.POSITIVE_INFINITY) : new TsHlsContainer();
    this.#live = ll
      ? new HlsLivePlaylist({
        partTargetMs: this.#cfg.partMs,
        targetDurationFloorMs: this.#cfg.fragmentMs * this.#cfg.tdRatio,
        entryPrefix: this.#cfg.entryPrefix,
        partUri: hlsPartUri,
      })
      : undefined;
  }

  /** The hls settings the muxer was started with. */
  get config(): HlsConfig {
    return this.#cfg;
  }

  /** A config reload's new `hls_window`, ms: the playlist keeps that much from the next closed segment on. */
  setWindow(windowMs: number): void {
    this.#segmenter.setWindow(windowMs);
  }

  /** The playlist's path relative to hls_path (its URL path on the HTTP server without the leading '/'). */
  get playlistPath(): string {
    return this.#m3u8Rel;
  }

  /** The in-memory LL-HLS playlist and its files (hls_ll on), else undefined. */
  get live(): HlsLivePlaylist | undefined {
    return this.#live;
  }

  /** The stream this muxer writes. */
  get key(): StreamKey {
    return this.#key;
  }

  /** Absolute path of the playlist. */
  get playlistFile(): string {
    return this.#m3u8File;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Resolves when every queued file operation has finished. */
  get idle(): Promise<void> {
    return this.#chain;
  }

  stats(): HlsMuxerStats {
    return { segments: this.#segments, droppedMessages: this.#dropped, errors: this.#errors, pendingBytes: this.#pendingBytes };
  }

  /** The hub subscription feeding this muxer (closed when the muxer ends). */
  attach(sub: Subscriber): void {
    if (this.#ended) sub.close();
    else this.#sub = sub;
  }

  send(msg: RtmpMessage): boolean {
    if (this.#ended) return true;
    try {
      this.#onMessage(msg);
    } catch (err) {
      this.#fail(err);
    }
    return true;
  }

  onSourceEvent(event: SourceEvent): void {
    if (this.#ended) return;
    if (event === 'publish') {
      this.#cancelDispose();
      return;
    }
    this.#finishSegment();
    this.#reset();
    this.#cancelDispose();
    if (this.#cfg.disposeMs > 0) {
      this.#disposeTimer = setTimeout(() => this.#dispose(), this.#cfg.disposeMs);
      this.#disposeTimer.unref();
    }
  }

  onClose(): void {
    this.#sub = undefined;
    void this.close();
  }

  /** Gateway stop: close the open segment, write the playlist, detach; files stay. Idempotent. */
  async close(): Promise<void> {
    if (!this.#ended) {
      this.#cancelDispose();
      this.#finishSegment();
      this.#end();
    }
    await this.#chain;
  }

  #onMessage(msg: RtmpMessage): void {
    const isVideo = msg.type === MessageType.Video;
    const isAudio = msg.type === MessageType.Audio;
    if ((isVideo && this.#cfg.vcodec === 'vn') || (isAudio && this.#cfg.acodec === 'an') || (!isVideo && !isAudio)) return;
    if (msg.kind === 'video-config' || msg.kind === 'audio-config') {
      this.#container.config(msg);
      const newTrack = msg.kind === 'video-config' ? this.#video === undefined : this.#audio === undefined;
      if (msg.kind === 'video-config') {
        this.#video = 'h264';
        this.#videoConfig = msg;
      } else {
        this.#audio = 'aac';
        this.#audioConfig = msg;
      }
      if (newTrack && this.#started) this.#restart();
      return;
    }
    if (isAudio && this.#audio === undefined && readAudioTagHeader(msg.payload).soundFormat === SoundFormat.Mp3) {
      this.#audio = 'mp3';
      this.#audioConfig = msg;
      if (this.#started) this.#restart();
    }
    if (this.#started) return this.#feed(msg);
    this.#prerollPush(msg, isVideo);
  }

  /**
   * Before the program starts: hold media (from the first keyframe for video) until every expected track is
   * known, or TRACK_WAIT_MS of media passed; then start with the tracks seen. Bounded by TRACK_WAIT_MS.
   */
  #prerollPush(msg: RtmpMessage, isVideo: boolean): void {
    if (isVideo ? this.#video === undefined : this.#audio === undefined) return; // no config yet
    const preroll = this.#preroll;
    const hasKeyframe = (): boolean => preroll.some((m) => m.kind === 'keyframe');
    if (isVideo && msg.kind !== 'keyframe' && !hasKeyframe()) return; // not decodable
    preroll.push(msg);
    const videoReady = this.#cfg.vcodec === 'vn' || (this.#video !== undefined && hasKeyframe());
    const audioReady = this.#cfg.acodec === 'an' || this.#audio !== undefined;
    const spanMs = msg.timestamp - (preroll[0] as RtmpMessage).timestamp;
    const waited = spanMs >= TRACK_WAIT_MS;
    if ((videoReady && audioReady) || (waited && (this.#video === undefined || hasKeyframe()))) {
      this.#preroll = [];
      this.#start();
      // with video, the first segment starts at the first keyframe; audio queued before it is dropped
      const from = this.#video !== undefined ? preroll.findIndex((m) => m.kind === 'keyframe') : 0;
      for (let i = Math.max(0, from); i < preroll.length; i++) this.#feed(preroll[i] as RtmpMessage);
      return;
    }
    // still waiting for a keyframe: keep only the last TRACK_WAIT_MS (bounded)
    while (preroll.length > 1 && msg.timestamp - (preroll[0] as RtmpMessage).timestamp > TRACK_WAIT_MS) preroll.shift();
  }

  /** @throws GatewayError when fMP4 cannot carry the tracks (hls_on_error decides). */
  #start(): void {
    const init = this.#container.start({ video: this.#video, audio: this.#audio, videoConfig: this.#videoConfig, audioConfig: this.#audioConfig });
    this.#started = true;
    if (init === undefined) return;
    const n = this.#programs++;
    let rel = expandHlsPath(this.#cfg.initFile, { ...this.#key, timestampMs: this.#now() });
    if (n > 0) rel = hlsPartUri(rel, n).replace(/\.(\d+)(\.[^./]*)?$/, '-$1$2'); // init.mp4 → init-1.mp4
    const uri = segmentUri(this.#m3u8Rel, rel);
    this.#mapUri = uri;
    if (this.#live !== undefined) {
      this.#live.setInit(uri, init);
      return;
    }
    const file = resolveHlsFile(this.#cfg.path, rel);
    this.#enqueue(() => writeFileAtomic(file, init));
  }

  /** A track appeared mid-stream: end the segment, reconfigure at the next start point, discontinuous. */
  #restart(): void {
    this.#started = false;
    this.#preroll = [];
    this.#segmenter.markDiscontinuity();
  }

  #feed(msg: RtmpMessage): void {
    const isMedia = msg.kind === 'audio' || msg.kind === 'keyframe' || msg.kind === 'interframe';
    if (!isMedia) return;
    if (this.#waitKeyframe) {
      const resumes = this.#video !== undefined ? msg.kind === 'keyframe' : msg.kind === 'audio';
      if (!resumes) {
        this.#dropped++;
        return;
      }
      this.#waitKeyframe = false;
      this.#segmenter.markDiscontinuity();
    }
    if (this.#pendingBytes + msg.payload.length > this.#maxPendingBytes) {
      this.#dropped++;
      this.#waitKeyframe = true;
      this.#pithy.hit(`HLS writes too slow: ${this.#pendingBytes} bytes pending, dropping to the next keyframe`);
      return;
    }
    const step = this.#segmenter.push(msg.timestamp, msg.kind);
    if (step.cut) {
      const closing = this.#open;
      if (closing !== undefined) this.#addPart(closing, (out) => this.#container.closeSegment(msg.timestamp, out));
      const open = this.#segmenter.open;
      const next = open === undefined ? undefined : { sequence: open.sequence, startWallMs: this.#now(), chunks: [] as Buffer[], bytes: 0 };
      if (step.closed !== undefined) this.#closeSegment(step.closed, step.expired, next);
      else if (next !== undefined) this.#live?.openSegment(this.#liveStart(next, open?.discontinuity ?? false));
      if (next !== undefined) {
        this.#open = next;
        this.#container.openSegment(next.chunks);
        this.#account(next, next.chunks, 0);
      }
    }
    const seg = this.#open;
    if (seg === undefined) return;
    this.#addPart(seg, (out) => this.#container.write(msg, out));
  }

  /** Run a container write into `seg`, account its bytes, and hand a completed part to the LL playlist. */
  #addPart(seg: OpenFile, write: (out: Buffer[]) => CmafPart | undefined): void {
    const n = seg.chunks.length;
    let part: CmafPart | undefined;
    try {
      part = write(seg.chunks);
    } finally {
      this.#account(seg, seg.chunks, n);
    }
    if (part !== undefined) this.#live?.addPart(part.bytes, part.durationMs, part.independent);
  }

  /** The name and facts of a segment as it opens (LL-HLS lists it, with its parts, before it is complete). */
  #liveStart(seg: OpenFile, discontinuity: boolean): { sequence: number; uri: string; discontinuity: boolean; mapUri: string; programDateTimeMs: number } {
    return {
      sequence: seg.sequence,
      uri: this.#segmentName(seg.sequence, seg.startWallMs, undefined).uri,
      discontinuity,
      mapUri: this.#mapUri ?? '',
      programDateTimeMs: seg.startWallMs,
    };
  }

  /** The file and URI of segment `sequence` (hls_ts_file, or hls_fmp4_file for fMP4). */
  #segmentName(sequence: number, startWallMs: number, durationMs: number | undefined): { file: string; uri: string } {
    const template = this.#container.format === 'fmp4' ? this.#cfg.fmp4File : this.#cfg.tsFile;
    const rel = expandHlsPath(template, { ...this.#key, sequence, timestampMs: startWallMs, ...(durationMs !== undefined ? { durationMs } : {}) });
    return { file: resolveHlsFile(this.#cfg.path, rel), uri: segmentUri(this.#m3u8Rel, rel) };
  }

  #account(seg: OpenFile, chunks: readonly Buffer[], from: number): void {
    for (let i = from; i < chunks.length; i++) {
      const b = (chunks[i] as Buffer).length;
      seg.bytes += b;
      this.#pendingBytes += b;
    }
  }

  /** The publisher left or the muxer stops: close the open segment (its duration is estimated). */
  #finishSegment(): void {
    const seg = this.#open;
    if (seg === undefined) return;
    this.#addPart(seg, (out) => this.#container.closeSegment(undefined, out));
    const { closed, expired } = this.#segmenter.close();
    if (closed !== undefined) this.#closeSegment(closed, expired, undefined);
    this.#open = undefined;
  }

  /** @param next the segment that opens now (LL-HLS lists it in the same playlist update); undefined: none. */
  #closeSegment(info: HlsSegmentInfo, expired: readonly HlsSegmentInfo[], next: OpenFile | undefined): void {
    const seg = this.#open;
    this.#open = undefined;
    if (seg === undefined || seg.sequence !== info.sequence) {
      if (seg !== undefined) this.#pendingBytes -= seg.bytes;
      return;
    }
    this.#segments++;
    const live = this.#live;
    if (live !== undefined) {
      this.#pendingBytes -= seg.bytes; // kept by the playlist's window, not queued for the disk
      const then = next === undefined ? 'end' as const : this.#liveStart(next, this.#segmenter.open?.discontinuity ?? false);
      live.closeSegment(info.durationMs, this.#segmenter.mediaSequence, this.#segmenter.discontinuitySequence, then);
      return;
    }
    const { file, uri } = this.#segmentName(info.sequence, seg.startWallMs, info.durationMs);
    this.#files.set(info.sequence, { file, uri, mapUri: this.#mapUri, startWallMs: seg.startWallMs });
    const gone: string[] = [];
    if (this.#cfg.cleanup) {
      for (const s of expired) {
        const f = this.#files.get(s.sequence);
        if (f === undefined) continue;
        gone.push(f.file);
        this.#files.delete(s.sequence);
      }
    }
    const playlist = writeMediaPlaylist({
      mediaSequence: this.#segmenter.mediaSequence,
      discontinuitySequence: this.#segmenter.discontinuitySequence,
      segments: this.#segmenter.window.map((s) => {
        const f = this.#files.get(s.sequence);
        return {
          uri: f?.uri ?? `${s.sequence}.ts`,
          durationMs: s.durationMs,
          discontinuity: s.discontinuity,
          ...(f?.mapUri !== undefined ? { mapUri: f.mapUri, programDateTimeMs: f.startWallMs } : {}),
        };
      }),
      targetDurationFloorMs: this.#cfg.fragmentMs * this.#cfg.tdRatio,
      entryPrefix: this.#cfg.entryPrefix,
    });
    const { chunks, bytes } = seg;
    seg.chunks = [];
    this.#enqueue(async () => {
      try {
        const writer = new AtomicFileWriter(file);
        writer.write(chunks);
        await writer.commit();
      } finally {
        this.#pendingBytes -= bytes;
      }
      await writeFileAtomic(this.#m3u8File, playlist);
      if (gone.length > 0) await removeFiles(gone);
      this.#onSegment?.({ file, uri, sequence: info.sequence, durationMs: info.durationMs });
    });
  }

  /** Runs `job` after every earlier one; its failure goes to hls_on_error. */
  #enqueue(job: () => Promise<void>): void {
    this.#chain = this.#chain.then(job).catch((err: unknown) => this.#fail(err));
  }

  #reset(): void {
    this.#started = false;
    this.#preroll = [];
    this.#video = undefined;
    this.#audio = undefined;
    this.#waitKeyframe = false;
    this.#segmenter.markDiscontinuity();
  }

  #dispose(): void {
    this.#disposeTimer = undefined;
    if (this.#ended) return;
    const files = [...this.#files.values()].map((f) => f.file);
    this.#files.clear();
    this.#log.info({ files: files.length + 1 }, 'HLS dispose: removing the stream files');
    this.#enqueue(async () => {
      await disposeStreamFiles(this.#cfg.path, this.#m3u8File, files);
    });
    this.#end();
  }

  #cancelDispose(): void {
    if (this.#disposeTimer === undefined) return;
    clearTimeout(this.#disposeTimer);
    this.#disposeTimer = undefined;
  }

  #fail(err: unknown): void {
    this.#errors++;
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.#cfg.onError === 'continue' || this.#ended) {
      this.#pithy.hit(error);
      return;
    }
    const code = isGatewayError(err) ? err.code : undefined;
    this.#log.error({ err, code, hlsOnError: this.#cfg.onError }, 'HLS error: HLS stopped for this publish');
    this.#cancelDispose();
    this.#open = undefined;
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#preroll = [];
    const sub = this.#sub;
    this.#sub = undefined;
    sub?.close();
    this.#onEnd?.(this);
  }
}
