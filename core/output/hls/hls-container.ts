/**
 * The segment container of an HLS stream, one interface for both formats the HLS muxer writes:
 * - MPEG-TS (RFC 8216 3.2; SRS's default): PAT/PMT at each segment start, packets per message (rtmp-to-ts.ts);
 * - fragmented MP4 / CMAF (RFC 8216 3.3; SRS 7 `hls_use_fmp4`): an init segment (EXT-X-MAP) per program, then
 *   `moof` + `mdat` fragments (rtmp-to-cmaf.ts); with Low-Latency HLS each fragment is one part (EXT-X-PART) of
 *   `hls_part` seconds and the segment is its parts concatenated.
 * The muxer decides programs (which tracks) and segment cuts; the container turns messages into bytes.
 */
import type { RtmpMessage } from '../../media/message.ts';
import { CmafMuxer, type CmafPart } from '../../remux/rtmp-to-cmaf.ts';
import { mp4AudioTrack, mp4VideoTrack } from '../../remux/rtmp-to-mp4.ts';
import { TsMuxer, type TsAudioCodec, type TsVideoCodec } from '../../remux/rtmp-to-ts.ts';

export type HlsSegmentFormat = 'ts' | 'fmp4';

/** The tracks of a program, as the muxer found them. */
export interface HlsProgram {
  readonly video: TsVideoCodec | undefined;
  readonly audio: TsAudioCodec | undefined;
  /** The last video sequence header (fMP4 needs its avcC/hvcC). */
  readonly videoConfig: RtmpMessage | undefined;
  /** The last AAC sequence header, or the first MP3 frame (fMP4 needs the sample entry's facts). */
  readonly audioConfig: RtmpMessage | undefined;
}

export interface HlsContainer {
  readonly format: HlsSegmentFormat;
  /**
   * A program starts (stream start, or a track appeared: after a discontinuity).
   * @returns the init segment (fMP4) or undefined (TS).
   * @throws GatewayError (Mp4UnsupportedCodec, AvcConfig, ...) when fMP4 cannot carry the tracks.
   */
  start(program: HlsProgram): Buffer | undefined;
  /** A sequence header: update the codec state (TS). */
  config(msg: RtmpMessage): void;
  /** A segment starts: its leading bytes (TS: PAT + PMT). */
  openSegment(out: Buffer[]): void;
  /**
   * Write one media message; bytes go to `out`.
   * @returns the part this message completed (fMP4), whose bytes were appended to `out`.
   * @throws GatewayError on a malformed message (the message is skipped).
   */
  write(msg: RtmpMessage, out: Buffer[]): CmafPart | undefined;
  /**
   * The segment ends where the next one starts (`nextMs`, its first DTS; undefined: the stream ended).
   * @returns the last part (fMP4), appended to `out`.
   */
  closeSegment(nextMs: number | undefined, out: Buffer[]): CmafPart | undefined;
}

/** MPEG-TS segments: one muxer for the stream's life (continuity counters run across segments). */
export class TsHlsContainer implements HlsContainer {
  readonly format = 'ts';
  readonly #ts = new TsMuxer();

  start(program: HlsProgram): undefined {
    this.#ts.configure(program.video, program.audio);
    return undefined;
  }

  config(msg: RtmpMessage): void {
    this.#ts.writeMessage(msg, []); // codec state only; writes nothing
  }

  openSegment(out: Buffer[]): void {
    this.#ts.writeTables(out);
  }

  write(msg: RtmpMessage, out: Buffer[]): undefined {
    this.#ts.writeMessage(msg, out);
    return undefined;
  }

  closeSegment(): undefined {
    return undefined;
  }
}

/** CMAF segments: fragments of `partTargetMs` (Infinity: one per segment). */
export class CmafHlsContainer implements HlsContainer {
  readonly format = 'fmp4';
  readonly #partTargetMs: number;
  #muxer: CmafMuxer | undefined;

  constructor(partTargetMs: number) {
    this.#partTargetMs = partTargetMs;
  }

  start(program: HlsProgram): Buffer {
    const video = program.video !== undefined && program.videoConfig !== undefined ? mp4VideoTrack(program.videoConfig) : undefined;
    const audio = program.audio !== undefined && program.audioConfig !== undefined ? mp4AudioTrack(program.audioConfig) : undefined;
    this.#muxer = new CmafMuxer({ video, audio, partTargetMs: this.#partTargetMs });
    return this.#muxer.initSegment;
  }

  config(): void {}

  openSegment(): void {}

  write(msg: RtmpMessage, out: Buffer[]): CmafPart | undefined {
    const part = this.#muxer?.write(msg);
    if (part !== undefined) out.push(part.bytes);
    return part;
  }

  closeSegment(nextMs: number | undefined, out: Buffer[]): CmafPart | undefined {
    const part = this.#muxer?.flush(nextMs);
    if (part !== undefined) out.push(part.bytes);
    return part;
  }
}
