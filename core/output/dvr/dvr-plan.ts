/**
 * When DVR files start and end, and what goes into them (SRS SrsDvrPlan, SrsDvrSessionPlan, SrsDvrSegmentPlan).
 * Pure: messages in, calls on a DvrPlanSink out; no files, timers or logs.
 *
 * - session: one file per publish, closed on unpublish (`end`). segment: a new file once the current one holds
 *   `durationMs` of media; with `waitKeyframe` at the next video keyframe (any audio frame for a stream without
 *   video), else at the next message.
 * - Every file starts with the stream's latest metadata and sequence headers (DvrFileStart) and, for a stream with
 *   video, at a keyframe. Its timestamps go through a DvrFileClock of its own (`time_jitter`).
 * - Before the first file of a publish, media is held (at most TRACK_WAIT_MS of it) until every track is known:
 *   video by its sequence header and a keyframe, audio by its sequence header or a frame (MP3/G.711 have none).
 *   Once TRACK_WAIT_MS passed the file starts with the tracks seen. Audio before the first keyframe is dropped.
 * - A file's tracks are fixed (an MP4 `moov` cannot gain one, an FLV header announces them): a track that
 *   appears later, or a sequence header whose bytes change, ends the file; the next starts at the next keyframe
 *   (any audio frame for a stream without video) with the new headers. Metadata is kept for the next file and
 *   never written mid-file (ffmpeg reads a late onMetaData as a data stream).
 */
import type { DvrPlan as DvrPlanName, DvrTimeJitter } from '../../config/dvr-config.ts';
import { MessageType, type RtmpMessage } from '../../media/message.ts';
import { AAC_AUDIO_TAG_HEADER_SIZE } from '../../protocol/flv/flv-tag.ts';
import type { DvrFileStart } from './dvr-file-writer.ts';

/** Before the first file, wait this long (media time) for the other track's first config or frame (as HLS). */
export const TRACK_WAIT_MS = 1500;

/** Why a file ended. */
export type DvrCutReason = 'segment' | 'video-config' | 'audio-config' | 'new-track' | 'unpublish' | 'stop';

export interface DvrPlanSink {
  /** Start a file with these headers; the frames that follow go into it. */
  openFile(start: DvrFileStart): void;
  /** One media frame of the open file, with the file's timestamp (ms). */
  writeFrame(msg: RtmpMessage): void;
  /** The open file ends. */
  closeFile(reason: DvrCutReason): void;
}

export interface DvrPlanOptions {
  readonly plan: DvrPlanName;
  /** Segment plan: media ms per file. */
  readonly durationMs: number;
  readonly waitKeyframe: boolean;
  readonly timeJitter: DvrTimeJitter;
}

/**
 * A file's timestamps (`time_jitter` of the dvr block). The hub has already corrected the stream's time once
 * (vhost time_jitter, core/media/jitter.ts: wraps, encoder restarts); here only the file's origin is chosen:
 * - full: the file's first frame is at 0 and no track goes back (a frame that would is held at the track's last
 *   time);
 * - zero: the file's first frame is at 0 (earlier frames of the other track at 0);
 * - off: the stream's own timestamps.
 * Gaps are kept in every mode: GOPs the recorder had to drop (a slow disk) leave the time they covered empty, so
 * a file's duration stays the wall time it spans.
 */
export class DvrFileClock {
  readonly #mode: DvrTimeJitter;
  #baseMs = -1;
  #lastVideoMs = 0;
  #lastAudioMs = 0;

  constructor(mode: DvrTimeJitter) {
    this.#mode = mode;
  }

  /** The file time (ms) of a media message. */
  fileTime(msg: RtmpMessage): number {
    if (this.#mode === 'off') return msg.timestamp;
    if (this.#baseMs < 0) this.#baseMs = msg.timestamp;
    const ms = Math.max(0, msg.timestamp - this.#baseMs);
    if (this.#mode === 'zero') return ms;
    if (msg.type === MessageType.Video) return (this.#lastVideoMs = Math.max(ms, this.#lastVideoMs));
    return (this.#lastAudioMs = Math.max(ms, this.#lastAudioMs));
  }
}

const sameBytes = (a: RtmpMessage | undefined, b: RtmpMessage): boolean => a !== undefined && a.payload.equals(b.payload);

export class DvrPlan {
  readonly #opts: DvrPlanOptions;
  readonly #sink: DvrPlanSink;
  #metadata: RtmpMessage | undefined;
  #videoConfig: RtmpMessage | undefined;
  #audioConfig: RtmpMessage | undefined;
  #audioFrame: RtmpMessage | undefined;
  #hasVideo = false;
  #hasAudio = false;
  /** The first file of this publish has started (the hold is over). */
  #started = false;
  /** Media held before the first file. */
  #hold: RtmpMessage[] = [];
  // the open file
  #open = false;
  #fileVideo = false;
  #fileAudio = false;
  #clock: DvrFileClock;
  /** File time of the file's first frame (0 with time_jitter full/zero); -1 before it. */
  #fileFirstMs = -1;
  #filesOpened = 0;

  constructor(opts: DvrPlanOptions, sink: DvrPlanSink) {
    this.#opts = opts;
    this.#sink = sink;
    this.#clock = new DvrFileClock(opts.timeJitter);
  }

  /** A file is open. */
  get fileOpen(): boolean {
    return this.#open;
  }

  /** Files started in this plan's life. */
  get filesOpened(): number {
    return this.#filesOpened;
  }

  /** One message from the hub, in order. */
  push(msg: RtmpMessage): void {
    switch (msg.kind) {
      case 'metadata':
        this.#metadata = msg;
        return;
      case 'video-config':
        if (sameBytes(this.#videoConfig, msg)) return;
        if (this.#open) this.#cut(this.#fileVideo ? 'video-config' : 'new-track');
        this.#videoConfig = msg;
        this.#hasVideo = true;
        return;
      case 'audio-config':
        // an AAC sequence header without its AudioSpecificConfig (ffmpeg remuxing ADTS sends one before the real one)
        if (msg.payload.length <= AAC_AUDIO_TAG_HEADER_SIZE || sameBytes(this.#audioConfig, msg)) return;
        if (this.#open) this.#cut(this.#fileAudio ? 'audio-config' : 'new-track');
        this.#audioConfig = msg;
        this.#hasAudio = true;
        return;
      default:
        this.#media(msg);
    }
  }

  /** The publish ended (or the recorder stops): the open file ends; the next publish starts afresh. */
  end(reason: 'unpublish' | 'stop'): void {
    if (this.#open) this.#cut(reason);
    this.#metadata = undefined;
    this.#videoConfig = undefined;
    this.#audioConfig = undefined;
    this.#audioFrame = undefined;
    this.#hasVideo = false;
    this.#hasAudio = false;
    this.#started = false;
    this.#hold = [];
  }

  #media(msg: RtmpMessage): void {
    const isVideo = msg.type === MessageType.Video;
    if (isVideo) {
      if (this.#videoConfig === undefined) return; // not decodable without its sequence header
      this.#hasVideo = true;
    } else if (msg.type === MessageType.Audio) {
      if (!this.#hasAudio) {
        this.#hasAudio = true;
        this.#audioFrame ??= msg;
      }
    } else {
      return;
    }
    if (!this.#started) {
      this.#holdPush(msg);
      return;
    }
    if (this.#open && ((isVideo && !this.#fileVideo) || (!isVideo && !this.#fileAudio))) this.#cut('new-track');
    if (!this.#open) {
      if (!this.#startsFile(msg)) return;
      this.#openFile();
      this.#write(msg);
      return;
    }
    const fileMs = this.#clock.fileTime(msg);
    const segmentFull = this.#opts.plan === 'segment' && fileMs - this.#fileFirstMs >= this.#opts.durationMs;
    if (segmentFull && (!this.#opts.waitKeyframe || this.#startsFile(msg))) {
      this.#cut('segment');
      this.#openFile();
      this.#write(msg);
      return;
    }
    this.#sink.writeFrame(msg.withTimestamp(fileMs));
  }

  /** A message a file may start with: a keyframe, or any audio frame of a stream without video. */
  #startsFile(msg: RtmpMessage): boolean {
    return msg.kind === 'keyframe' || (!this.#hasVideo && msg.type === MessageType.Audio);
  }

  /**
   * Before the first file: hold media until every track is known (or TRACK_WAIT_MS passed), then open the file
   * and write the hold from its first keyframe (with video) or from its start (audio only).
   */
  #holdPush(msg: RtmpMessage): void {
    const hold = this.#hold;
    const keyAt = (): number => hold.findIndex((m) => m.kind === 'keyframe');
    if (msg.type === MessageType.Video && msg.kind !== 'keyframe' && keyAt() < 0) return; // not decodable
    hold.push(msg);
    const first = hold[0] as RtmpMessage;
    const waited = msg.timestamp - first.timestamp >= TRACK_WAIT_MS;
    const videoReady = this.#videoConfig !== undefined && keyAt() >= 0;
    const ready = (videoReady && this.#hasAudio) || (waited && (this.#videoConfig === undefined || videoReady));
    if (!ready) {
      // still waiting (for a keyframe, or for the other track): keep only the last TRACK_WAIT_MS
      while (hold.length > 1 && msg.timestamp - (hold[0] as RtmpMessage).timestamp > TRACK_WAIT_MS) hold.shift();
      return;
    }
    this.#hold = [];
    this.#started = true;
    const from = this.#videoConfig !== undefined ? keyAt() : 0;
    this.#openFile();
    for (let i = from; i < hold.length; i++) this.#write(hold[i] as RtmpMessage);
  }

  #openFile(): void {
    this.#open = true;
    this.#filesOpened++;
    this.#fileVideo = this.#videoConfig !== undefined;
    this.#fileAudio = this.#hasAudio;
    this.#clock = new DvrFileClock(this.#opts.timeJitter);
    this.#fileFirstMs = -1;
    this.#sink.openFile({
      metadata: this.#metadata,
      videoConfig: this.#videoConfig,
      audioConfig: this.#audioConfig,
      audioFrame: this.#audioConfig === undefined ? this.#audioFrame : undefined,
      hasVideo: this.#fileVideo,
      hasAudio: this.#fileAudio,
    });
  }

  /** Writes a frame of the hold or the first frame of a file (the file's first time is noted). */
  #write(msg: RtmpMessage): void {
    if (msg.type === MessageType.Video ? !this.#fileVideo : !this.#fileAudio) return; // a track this file lacks
    const fileMs = this.#clock.fileTime(msg);
    if (this.#fileFirstMs < 0) this.#fileFirstMs = fileMs;
    this.#sink.writeFrame(msg.withTimestamp(fileMs));
  }

  #cut(reason: DvrCutReason): void {
    this.#open = false;
    this.#sink.closeFile(reason);
  }
}
