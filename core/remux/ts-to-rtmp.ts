/**
 * MPEG-TS elementary streams → RtmpMessages for one published stream (mediamtx protocols/mpegts/to_stream.go).
 * Used by the MPEG-TS over UDP caster and the ingester's file looper.
 *
 * One instance per sender: it is the TsDemuxer's sink. Timestamps of all PIDs go through ONE 33-bit unwrapper
 * (one program clock), then the shared codec packagers (core/codec) build one message per access unit:
 * H.264 Annex-B PES → AvcPackager (one PES = one AU, as SRS and mediamtx assume), ADTS PES → AacPackager,
 * MPEG audio PES → MpegAudioPackager. An onMetaData message (./metadata.ts) is emitted whenever a new sequence header
 * appears.
 * H.265 (stream_type 0x24) → HevcPackager: Enhanced RTMP `hvc1` frames (RTMP/HTTP-FLV players that speak
 * Enhanced RTMP; HTTP-TS and HLS carry it as stream_type 0x24 again).
 *
 * A PMT change mid-stream that changes a published track (new PID or new codec): the packager of that track starts
 * afresh, so a new sequence header (and onMetaData) precedes its next frame; when the new program's clock jumps
 * (an encoder restart: its timestamps start over), output timestamps continue from the last one instead. When a
 * codec changes (H.264 → H.265, AAC → MP3, a track appearing or going away) every packager starts afresh and the
 * sink's `onCodecChange` is called first: players cannot follow a codec change inside one publish, the caster
 * republishes.
 */
import type { GatewayError } from '../errors.ts';
import { ErrorCode, GatewayError as GwError } from '../errors.ts';
import type { RtmpMessage } from '../media/message.ts';
import { Pts33Unwrapper, ticks90kToMs } from '../media/timestamp.ts';
import { AvcPackager } from '../codec/h264/avc-packager.ts';
import { HevcPackager } from '../codec/h265/hevc-packager.ts';
import { splitAnnexB } from '../codec/h264/nalu.ts';
import { AacPackager } from '../codec/aac/aac-packager.ts';
import { MpegAudioPackager } from '../codec/mpeg-audio.ts';
import type { TsDemuxerSink, TsProgramSelection, TsTrack } from '../protocol/mpegts/ts-demuxer.ts';
import { aacTrackMetadata, avcTrackMetadata, createOnMetaData, hevcTrackMetadata, mp3TrackMetadata } from './metadata.ts';

export interface TsToRtmpSink {
  onMessage(msg: RtmpMessage): void;
  /** Non-fatal problems (demux and codec); the session logs them rate-limited. */
  onDecodeError(err: GatewayError): void;
  /** Program (re)announced: for logs. */
  onProgram?(programNumber: number, tracks: readonly TsTrack[]): void;
  /** Program chosen in a multi-program TS (and why): for logs. */
  onProgramSelected?(selection: TsProgramSelection): void;
  /**
   * A PMT change changed the codec of a published track (or added or removed one). Called before the first
   * message of the new tracks, whose sequence headers and onMetaData follow: republish now.
   */
  onCodecChange?(previous: PublishedCodecs, next: PublishedCodecs): void;
}

/** Codecs of the published video and audio tracks ('none' when the program has no such track). */
export interface PublishedCodecs {
  readonly video: 'h264' | 'h265' | 'none';
  readonly audio: 'aac' | 'mp3' | 'none';
}

/**
 * After a PMT change, a first timestamp more than MAX_CONTINUOUS_BACK_MS before the last output, or more than
 * MAX_CONTINUOUS_JUMP_MS after it, is a new clock (the new program's timestamps started over): output continues
 * right after the last timestamp instead. Audio and video of one TS interleave within well under 1 s; 3 s is the
 * forward jump the hub's `time_jitter full` still treats as continuous (core/media/jitter.ts).
 */
const MAX_CONTINUOUS_BACK_MS = 1000;
const MAX_CONTINUOUS_JUMP_MS = 3000;
/** Where the first message after a clock jump lands: one 25 fps frame after the last output. */
const JUMP_STEP_MS = 40;

export class TsToRtmp implements TsDemuxerSink {
  readonly #sink: TsToRtmpSink;
  #clock = new Pts33Unwrapper();
  #avc = new AvcPackager();
  #hevc = new HevcPackager();
  #aac = new AacPackager();
  #mp3 = new MpegAudioPackager();
  #videoPid = -1;
  #audioPid = -1;
  #codecs: PublishedCodecs | undefined;
  #reported = new Set<number>();
  #lastTimestampMs = 0;
  /** Added to every unwrapped PTS/DTS (90 kHz): moves a new clock after a PMT change next to the old one. */
  #offset90k = 0;
  /** Set by a PMT change that changed a published track: the next PES checks for a clock jump. */
  #checkClock = false;

  constructor(sink: TsToRtmpSink) {
    this.#sink = sink;
  }

  /** Forget codec state and the clock (after an idle gap, before a republish). */
  reset(): void {
    this.#clock = new Pts33Unwrapper();
    this.#avc = new AvcPackager();
    this.#hevc = new HevcPackager();
    this.#aac = new AacPackager();
    this.#mp3 = new MpegAudioPackager();
    this.#videoPid = -1;
    this.#audioPid = -1;
    this.#codecs = undefined;
    this.#reported.clear();
    this.#offset90k = 0;
    this.#checkClock = false;
  }

  onProgram(programNumber: number, tracks: readonly TsTrack[]): void {
    // First video and first audio track of the program are published; others are reported once.
    const previousVideoPid = this.#videoPid;
    const previousAudioPid = this.#audioPid;
    let video: TsTrack | undefined;
    let audio: TsTrack | undefined;
    for (const t of tracks) {
      if ((t.codec === 'h264' || t.codec === 'h265') && video === undefined) video = t;
      else if ((t.codec === 'aac' || t.codec === 'mp3') && audio === undefined) audio = t;
      else if (!this.#reported.has(t.pid)) {
        this.#reported.add(t.pid);
        const what = `stream_type 0x${t.streamType.toString(16)} (${t.codec}) is not published`;
        this.#sink.onDecodeError(new GwError(ErrorCode.TsUnsupportedCodec, `pid ${t.pid}: ${what}`));
      }
    }
    this.#videoPid = video?.pid ?? -1;
    this.#audioPid = audio?.pid ?? -1;
    const codecs: PublishedCodecs = { video: (video?.codec ?? 'none') as PublishedCodecs['video'], audio: (audio?.codec ?? 'none') as PublishedCodecs['audio'] };
    const previous = this.#codecs;
    this.#codecs = codecs;
    if (previous !== undefined) {
      const codecChanged = previous.video !== codecs.video || previous.audio !== codecs.audio;
      const videoChanged = codecChanged || previousVideoPid !== this.#videoPid;
      const audioChanged = codecChanged || previousAudioPid !== this.#audioPid;
      if (videoChanged) {
        this.#avc = new AvcPackager();
        this.#hevc = new HevcPackager();
      }
      if (audioChanged) {
        this.#aac = new AacPackager();
        this.#mp3 = new MpegAudioPackager();
      }
      if (videoChanged || audioChanged) this.#checkClock = true;
      if (codecChanged) this.#sink.onCodecChange?.(previous, codecs);
    }
    this.#sink.onProgram?.(programNumber, tracks);
  }

  onProgramSelected(selection: TsProgramSelection): void {
    this.#sink.onProgramSelected?.(selection);
  }

  onPes(track: TsTrack, data: Buffer, pts90k: number | undefined, dts90k: number | undefined): void {
    if (track.pid !== this.#videoPid && track.pid !== this.#audioPid) return;
    if (pts90k === undefined) {
      this.#sink.onDecodeError(new GwError(ErrorCode.TsPes, `pid ${track.pid}: PES without PTS dropped`));
      return;
    }
    let pts = this.#clock.unwrap(pts90k) + this.#offset90k;
    let dts = dts90k === undefined || dts90k === pts90k ? pts : pts - wrapDiff(pts90k, dts90k);
    if (this.#checkClock) {
      this.#checkClock = false;
      const jumpMs = ticks90kToMs(dts) - this.#lastTimestampMs;
      if (jumpMs < -MAX_CONTINUOUS_BACK_MS || jumpMs > MAX_CONTINUOUS_JUMP_MS) {
        const shift = (this.#lastTimestampMs + JUMP_STEP_MS) * 90 - dts;
        this.#offset90k += shift;
        pts += shift;
        dts += shift;
      }
    }
    let out: RtmpMessage[];
    if (track.codec === 'h264') out = this.#avc.packAccessUnit(splitAnnexB(data), pts, dts);
    else if (track.codec === 'h265') out = this.#hevc.packAccessUnit(splitAnnexB(data), pts, dts);
    else if (track.codec === 'aac') out = this.#aac.packAdts(data, pts);
    else out = this.#mp3.packFrames(data, pts);
    for (const msg of out) {
      if (msg.kind === 'video-config' || msg.kind === 'audio-config') this.#emitMetadata(msg.timestamp);
      this.#lastTimestampMs = msg.timestamp;
      this.#sink.onMessage(msg);
    }
  }

  onDecodeError(err: GatewayError): void {
    this.#sink.onDecodeError(err);
  }

  /**
   * onMetaData (core/remux/metadata.ts) from the SPS and the audio config: the published video track (H.264, else
   * H.265) first, then the audio track (AAC, else MP3). Never earlier than the last message sent.
   */
  #emitMetadata(timestampMs: number): void {
    const video = avcTrackMetadata(this.#avc.sps) ?? hevcTrackMetadata(this.#hevc.sps);
    const audio = aacTrackMetadata(this.#aac.config) ?? mp3TrackMetadata(this.#mp3.header);
    const msg = createOnMetaData([video, audio], Math.max(timestampMs, this.#lastTimestampMs));
    if (msg !== undefined) this.#sink.onMessage(msg);
  }
}

/** (pts − dts) on the 33-bit clock, as a small non-negative-or-negative number of ticks. */
function wrapDiff(pts90k: number, dts90k: number): number {
  const m = 2 ** 33;
  let d = (pts90k - dts90k + m) % m;
  if (d > m / 2) d -= m;
  return d;
}
