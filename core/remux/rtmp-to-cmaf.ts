/**
 * RTMP messages → CMAF fragments (fragmented MP4, ISO/IEC 23000-19) for HLS with `hls_use_fmp4` and the parts of
 * Low-Latency HLS (RFC 8216bis 4.4.4.9 EXT-X-PART). Tracks and samples come from rtmp-to-mp4.ts (the same mapping
 * the MP4 DVR uses: avcC/hvcC/ASC descriptions, length-prefixed NAL units as samples); boxes from cmaf-boxes.ts.
 *
 * - One fragment (`moof` + `mdat`, both tracks) per part. A part closes as soon as its duration reached the part
 *   target: with video, when a video sample arrives more than `partTargetMs` after the part's start, the part ends
 *   at the previous video sample (whose duration this sample gives), so a part never exceeds the target unless one
 *   frame alone does; audio samples before that point go with it. Audio-only: before the sample that would make it
 *   longer than the target. `partTargetMs` Infinity: one fragment per `flush` (a whole segment).
 * - `flush(endMs)` ends the open part where the next segment starts (the keyframe that cut it).
 * - Timescales: video 90 kHz (RTMP ms × 90, exact), audio its sample rate (AAC frames last exactly 1024 ticks,
 *   decode times accumulate and follow the RTMP clock again after a gap of more than one frame).
 * - A part is independent (EXT-X-PART INDEPENDENT=YES) when it starts with a video keyframe, or has no video.
 * Pure: no I/O.
 */
import type { RtmpMessage } from '../media/message.ts';
import { MessageType } from '../media/message.ts';
import {
  CMAF_AUDIO_TRACK_ID, CMAF_VIDEO_TIMESCALE, CMAF_VIDEO_TRACK_ID, cmafAudioTimescale, cmafFragment, cmafInitSegment,
  SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, type CmafSample, type CmafTrackRun,
} from './cmaf-boxes.ts';
import { mp4AudioSample, mp4VideoSample, type Mp4AudioTrack, type Mp4VideoTrack } from './rtmp-to-mp4.ts';

/** RTMP ms → 90 kHz video ticks. */
const VIDEO_TICKS_PER_MS = CMAF_VIDEO_TIMESCALE / 1000;
/** Duration of the last video sample of a stream that ended (no successor), when no step is known, ms. */
const FALLBACK_FRAME_MS = 40;

export interface CmafPart {
  /** `moof` + `mdat`. */
  readonly bytes: Buffer;
  /** DTS (RTMP ms) where it starts. */
  readonly startMs: number;
  /** Media time it covers, ms. */
  readonly durationMs: number;
  /** Starts with a video keyframe, or the stream has no video: a player may start here. */
  readonly independent: boolean;
}

export interface CmafMuxerOptions {
  readonly video?: Mp4VideoTrack | undefined;
  readonly audio?: Mp4AudioTrack | undefined;
  /** Close parts at this duration, ms (hls_part × 1000); Infinity = one fragment per flush. */
  readonly partTargetMs: number;
}

interface PendingVideo {
  readonly data: Uint8Array;
  readonly dtsMs: number;
  readonly ctsMs: number;
  readonly key: boolean;
}

interface PendingAudio {
  readonly data: Uint8Array;
  readonly dtsMs: number;
  readonly ticks: number;
}

export class CmafMuxer {
  readonly video: Mp4VideoTrack | undefined;
  readonly audio: Mp4AudioTrack | undefined;
  /** The init segment (`ftyp` + `moov`) for these tracks. */
  readonly initSegment: Buffer;
  readonly #partTargetMs: number;
  readonly #audioTimescale: number;
  readonly #video: PendingVideo[] = [];
  readonly #audio: PendingAudio[] = [];
  #partStartMs: number | undefined;
  #audioNextTicks: number | undefined;
  #lastVideoStepMs = FALLBACK_FRAME_MS;
  #sequence = 0;

  constructor(opts: CmafMuxerOptions) {
    this.video = opts.video;
    this.audio = opts.audio;
    this.#partTargetMs = opts.partTargetMs;
    this.#audioTimescale = opts.audio !== undefined ? cmafAudioTimescale(opts.audio) : 1;
    this.initSegment = cmafInitSegment(opts.video, opts.audio);
  }

  /** Media held for the open part, bytes. */
  get pendingBytes(): number {
    let n = 0;
    for (const v of this.#video) n += v.data.length;
    for (const a of this.#audio) n += a.data.length;
    return n;
  }

  /**
   * Add one message's sample (configs, metadata and frames of absent tracks are ignored).
   * @returns the part this message closed (made of the samples before it), if any.
   * @throws GatewayError(FlvTag) on a truncated frame header.
   */
  write(msg: RtmpMessage): CmafPart | undefined {
    if (msg.type === MessageType.Video) return this.#writeVideo(msg);
    if (msg.type === MessageType.Audio) return this.#writeAudio(msg);
    return undefined;
  }

  /**
   * Close the open part at `endMs` (the DTS where the next segment starts; undefined: the stream ended, the last
   * video sample lasts the previous frame step).
   * @returns the part, or undefined when nothing was pending.
   */
  flush(endMs?: number): CmafPart | undefined {
    const lastVideo = this.#video[this.#video.length - 1];
    const end = endMs ?? (lastVideo !== undefined ? lastVideo.dtsMs + this.#lastVideoStepMs : undefined);
    return this.#closePart(end, true);
  }

  #writeVideo(msg: RtmpMessage): CmafPart | undefined {
    if (this.video === undefined) return undefined;
    const sample = mp4VideoSample(msg, msg.timestamp);
    if (sample === undefined) return undefined;
    const pending = this.#video;
    const last = pending[pending.length - 1];
    if (last === undefined && this.#partStartMs === undefined && !sample.key) return undefined; // not decodable yet
    let dtsMs = sample.dtsMs;
    if (last !== undefined && dtsMs <= last.dtsMs) dtsMs = last.dtsMs + 1; // decode times must rise
    let part: CmafPart | undefined;
    const start = this.#partStartMs;
    if (start !== undefined && last !== undefined && dtsMs - start > this.#partTargetMs) {
      // end at the held sample (this one gives its duration) unless it is the only one
      part = this.#closePart(pending.length >= 2 ? last.dtsMs : dtsMs, false);
    }
    if (this.#partStartMs === undefined) this.#partStartMs = dtsMs;
    if (last !== undefined && dtsMs > last.dtsMs) this.#lastVideoStepMs = dtsMs - last.dtsMs;
    pending.push({ data: sample.data, dtsMs, ctsMs: sample.ptsMs - sample.dtsMs, key: sample.key });
    return part;
  }

  #writeAudio(msg: RtmpMessage): CmafPart | undefined {
    const track = this.audio;
    if (track === undefined) return undefined;
    const sample = mp4AudioSample(msg, msg.timestamp);
    if (sample === undefined) return undefined;
    const frameTicks = track.samplesPerFrame * (this.#audioTimescale / track.sampleRate);
    const clockTicks = Math.round((msg.timestamp * this.#audioTimescale) / 1000);
    let ticks = this.#audioNextTicks ?? clockTicks;
    if (Math.abs(clockTicks - ticks) > frameTicks) ticks = clockTicks; // a gap or a jump: follow the RTMP clock
    this.#audioNextTicks = ticks + frameTicks;
    let part: CmafPart | undefined;
    if (this.video === undefined) {
      const start = this.#partStartMs;
      const endMs = ((ticks + frameTicks) * 1000) / this.#audioTimescale;
      if (start !== undefined && this.#audio.length > 0 && endMs - start > this.#partTargetMs) {
        part = this.#closePart(msg.timestamp, false);
      }
      if (this.#partStartMs === undefined) this.#partStartMs = (ticks * 1000) / this.#audioTimescale;
    } else if (this.#partStartMs === undefined) {
      return undefined; // audio before the first video keyframe: not in the stream yet
    }
    this.#audio.push({ data: sample.data, dtsMs: msg.timestamp, ticks });
    return part;
  }

  /** Fragment of the pending samples before `endMs` (all of them when `all`); the rest opens the next part. */
  #closePart(endMs: number | undefined, all: boolean): CmafPart | undefined {
    const startMs = this.#partStartMs;
    if (startMs === undefined) return undefined;
    const runs: CmafTrackRun[] = [];
    const video = this.#video;
    let nVideo = 0;
    while (nVideo < video.length && (all || (video[nVideo] as PendingVideo).dtsMs < (endMs as number))) nVideo++;
    let independent = this.video === undefined;
    if (nVideo > 0) {
      const samples: CmafSample[] = [];
      for (let i = 0; i < nVideo; i++) {
        const v = video[i] as PendingVideo;
        const nextMs = i + 1 < video.length ? (video[i + 1] as PendingVideo).dtsMs : (endMs ?? v.dtsMs + this.#lastVideoStepMs);
        samples.push({
          data: v.data,
          duration: Math.max(1, Math.round((nextMs - v.dtsMs) * VIDEO_TICKS_PER_MS)),
          compositionOffset: Math.round(v.ctsMs * VIDEO_TICKS_PER_MS),
          flags: v.key ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC,
        });
      }
      independent = (video[0] as PendingVideo).key;
      runs.push({ trackId: CMAF_VIDEO_TRACK_ID, baseMediaDecodeTime: Math.round((video[0] as PendingVideo).dtsMs * VIDEO_TICKS_PER_MS), samples });
      video.splice(0, nVideo);
    }
    const audio = this.#audio;
    let nAudio = 0;
    while (nAudio < audio.length && (all || (audio[nAudio] as PendingAudio).dtsMs < (endMs as number))) nAudio++;
    let audioEndMs = startMs;
    if (nAudio > 0 && this.audio !== undefined) {
      const frameTicks = this.audio.samplesPerFrame * (this.#audioTimescale / this.audio.sampleRate);
      const samples: CmafSample[] = [];
      for (let i = 0; i < nAudio; i++) {
        samples.push({ data: (audio[i] as PendingAudio).data, duration: frameTicks, compositionOffset: 0, flags: SAMPLE_FLAGS_SYNC });
      }
      const first = audio[0] as PendingAudio;
      runs.push({ trackId: CMAF_AUDIO_TRACK_ID, baseMediaDecodeTime: first.ticks, samples });
      audioEndMs = (((audio[nAudio - 1] as PendingAudio).ticks + frameTicks) * 1000) / this.#audioTimescale;
      audio.splice(0, nAudio);
    }
    if (runs.length === 0) return undefined;
    const end = this.video !== undefined ? (endMs ?? startMs) : audioEndMs;
    this.#partStartMs = this.video !== undefined ? (video[0]?.dtsMs ?? endMs) : (audio[0] !== undefined ? (audio[0].ticks * 1000) / this.#audioTimescale : undefined);
    return { bytes: cmafFragment(++this.#sequence, runs), startMs, durationMs: Math.max(0, end - startMs), independent };
  }
}
