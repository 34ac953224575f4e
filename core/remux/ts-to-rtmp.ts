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
 */
import type { GatewayError } from '../errors.ts';
import { ErrorCode, GatewayError as GwError } from '../errors.ts';
import type { RtmpMessage } from '../media/message.ts';
import { Pts33Unwrapper } from '../media/timestamp.ts';
import { AvcPackager } from '../codec/h264/avc-packager.ts';
import { HevcPackager } from '../codec/h265/hevc-packager.ts';
import { splitAnnexB } from '../codec/h264/nalu.ts';
import { AacPackager } from '../codec/aac/aac-packager.ts';
import { MpegAudioPackager } from '../codec/mpeg-audio.ts';
import type { TsDemuxerSink, TsTrack } from '../protocol/mpegts/ts-demuxer.ts';
import { aacTrackMetadata, avcTrackMetadata, createOnMetaData, hevcTrackMetadata, mp3TrackMetadata } from './metadata.ts';

export interface TsToRtmpSink {
  onMessage(msg: RtmpMessage): void;
  /** Non-fatal problems (demux and codec); the session logs them rate-limited. */
  onDecodeError(err: GatewayError): void;
  /** Program (re)announced: for logs. */
  onProgram?(programNumber: number, tracks: readonly TsTrack[]): void;
}

export class TsToRtmp implements TsDemuxerSink {
  readonly #sink: TsToRtmpSink;
  #clock = new Pts33Unwrapper();
  #avc = new AvcPackager();
  #hevc = new HevcPackager();
  #aac = new AacPackager();
  #mp3 = new MpegAudioPackager();
  #videoPid = -1;
  #audioPid = -1;
  #reported = new Set<number>();
  #lastTimestampMs = 0;

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
    this.#reported.clear();
  }

  onProgram(programNumber: number, tracks: readonly TsTrack[]): void {
    // First video and first audio track of the program are published; others are reported once.
    this.#videoPid = -1;
    this.#audioPid = -1;
    for (const t of tracks) {
      if ((t.codec === 'h264' || t.codec === 'h265') && this.#videoPid < 0) this.#videoPid = t.pid;
      else if ((t.codec === 'aac' || t.codec === 'mp3') && this.#audioPid < 0) this.#audioPid = t.pid;
      else if (!this.#reported.has(t.pid)) {
        this.#reported.add(t.pid);
        const what = `stream_type 0x${t.streamType.toString(16)} (${t.codec}) is not published`;
        this.#sink.onDecodeError(new GwError(ErrorCode.TsUnsupportedCodec, `pid ${t.pid}: ${what}`));
      }
    }
    this.#sink.onProgram?.(programNumber, tracks);
  }

  onPes(track: TsTrack, data: Buffer, pts90k: number | undefined, dts90k: number | undefined): void {
    if (track.pid !== this.#videoPid && track.pid !== this.#audioPid) return;
    if (pts90k === undefined) {
      this.#sink.onDecodeError(new GwError(ErrorCode.TsPes, `pid ${track.pid}: PES without PTS dropped`));
      return;
    }
    const pts = this.#clock.unwrap(pts90k);
    const dts = dts90k === undefined || dts90k === pts90k ? pts : pts - wrapDiff(pts90k, dts90k);
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
