/**
 * One DVR file in MP4 (ISO/IEC 14496-12/14/15; SRS SrsDvrMp4Segmenter) through mediabunny's ISOBMFF muxer (pinned
 * 1.61.0, LIBRARIES.md), kept behind castgate's DvrFileWriter interface. Samples stream into one `mdat` while
 * recording; the `moov` (sample tables) is written on close, so a finished file is seekable. A crash leaves a
 * temporary file without `moov`, which players cannot read (use FLV where that matters).
 *
 * Tracks are fixed when the file starts: video from the sequence header (H.264 / H.265), audio from the AAC
 * sequence header or the first MP3 frame (core/remux/rtmp-to-mp4.ts). A track MP4 cannot carry (G.711) is left
 * out with a note (one logged error); a file with no track left fails. Video is written from its first keyframe.
 *
 * Timing: PTS = DTS + CompositionTime; mediabunny derives the decode times. A video sample's duration is the DTS
 * step to the next sample (so one sample is held back); an audio sample lasts samplesPerFrame / sampleRate. A
 * timestamp that would go below the previous GOP's largest (mediabunny refuses those) is raised to it.
 */
import { EncodedAudioPacketSource, EncodedPacket, EncodedVideoPacketSource, Mp4OutputFormat, Output, StreamTarget, type StreamTargetChunk } from 'mediabunny';
import { ErrorCode, GatewayError } from '../../errors.ts';
import { MessageType, type RtmpMessage } from '../../media/message.ts';
import { mp4AudioSample, mp4AudioTrack, mp4VideoSample, mp4VideoTrack, type Mp4AudioTrack, type Mp4Sample, type Mp4VideoTrack } from '../../remux/rtmp-to-mp4.ts';
import { DvrFileWriterBase } from './dvr-file-output.ts';
import type { DvrFileInfo, DvrFileWriterOptions } from './dvr-file-writer.ts';

/** mediabunny's write chunk: large enough for few syscalls, small enough to bound memory per recording. */
export const MP4_WRITE_CHUNK_BYTES = 1024 * 1024;
/** Duration of a video sample whose successor is unknown (the last one, or one after a non-rising DTS), ms. */
const FALLBACK_FRAME_MS = 40;

interface TrackState {
  /** Timestamps (s) must not go below the largest of the previous GOP (mediabunny Muxer.validateTimestamp). */
  maxTimestampS: number;
  maxBeforeLastKeyS: number;
  started: boolean;
}

export class Mp4FileWriter extends DvrFileWriterBase {
  readonly format = 'mp4' as const;
  readonly notes: GatewayError[] = [];
  readonly #output: Output;
  readonly #video: { track: Mp4VideoTrack; source: EncodedVideoPacketSource; state: TrackState } | undefined;
  readonly #audio: { track: Mp4AudioTrack; source: EncodedAudioPacketSource; state: TrackState } | undefined;
  /** The last video sample, written once the next one gives its duration. */
  #heldVideo: Mp4Sample | undefined;
  #lastVideoStepMs = FALLBACK_FRAME_MS;
  #maxTimestampMs = 0;

  /** Sets the tracks up and starts the muxer; a file no track of which MP4 can carry fails at once (`error`). */
  constructor(opts: DvrFileWriterOptions) {
    super(opts);
    const { start } = opts;
    const writable = new WritableStream<StreamTargetChunk>({
      write: (chunk) => this.out.writeAt([chunk.data], chunk.position),
    });
    this.#output = new Output({
      format: new Mp4OutputFormat({ fastStart: false }),
      target: new StreamTarget(writable, { chunked: true, chunkSize: MP4_WRITE_CHUNK_BYTES }),
    });
    const video = start.videoConfig !== undefined ? this.#try(() => mp4VideoTrack(start.videoConfig as RtmpMessage)) : undefined;
    const audioFrom = start.audioConfig ?? start.audioFrame;
    const audio = audioFrom !== undefined ? this.#try(() => mp4AudioTrack(audioFrom)) : undefined;
    const fresh = (): TrackState => ({ maxTimestampS: 0, maxBeforeLastKeyS: 0, started: false });
    if (video !== undefined) {
      const source = new EncodedVideoPacketSource(video.codec);
      this.#output.addVideoTrack(source);
      this.#video = { track: video, source, state: fresh() };
    }
    if (audio !== undefined) {
      const source = new EncodedAudioPacketSource(audio.codec);
      this.#output.addAudioTrack(source);
      this.#audio = { track: audio, source, state: fresh() };
    }
    if (video === undefined && audio === undefined) {
      const why = this.notes.map((n) => n.message).join('; ');
      this.out.fail(new GatewayError(ErrorCode.Mp4UnsupportedCodec, `no track MP4 can carry${why === '' ? '' : `: ${why}`}`));
      return;
    }
    this.out.open(); // a folder or disk problem shows now, not when the file closes
    this.out.run(() => this.#output.start());
  }

  write(msg: RtmpMessage): void {
    if (!this.accepting) return;
    try {
      if (msg.type === MessageType.Video) this.#writeVideo(msg);
      else if (msg.type === MessageType.Audio) this.#writeAudio(msg);
    } catch (err) {
      this.out.fail(err); // a malformed frame header
    }
  }

  protected dropQueued(): void {
    this.#heldVideo = undefined;
    this.out.run(() => this.#output.cancel());
  }

  #try<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.notes.push(err instanceof GatewayError ? err : new GatewayError(ErrorCode.Mp4UnsupportedCodec, String(err)));
      return undefined;
    }
  }

  #writeVideo(msg: RtmpMessage): void {
    const v = this.#video;
    if (v === undefined) return;
    const sample = mp4VideoSample(msg, msg.timestamp);
    if (sample === undefined) return;
    if (!v.state.started && this.#heldVideo === undefined && !sample.key) return; // not decodable without its keyframe
    const held = this.#heldVideo;
    this.#heldVideo = sample;
    if (held === undefined) return;
    const stepMs = sample.dtsMs - held.dtsMs;
    if (stepMs > 0) this.#lastVideoStepMs = stepMs;
    this.#submit(v.source, v.state, held, this.#lastVideoStepMs / 1000, v.state.started ? undefined : videoMeta(v.track));
  }

  #writeAudio(msg: RtmpMessage): void {
    const a = this.#audio;
    if (a === undefined) return;
    const sample = mp4AudioSample(msg, msg.timestamp);
    if (sample === undefined) return;
    const durationS = a.track.samplesPerFrame / a.track.sampleRate;
    this.#submit(a.source, a.state, sample, durationS, a.state.started ? undefined : audioMeta(a.track));
  }

  #submit(
    source: EncodedVideoPacketSource | EncodedAudioPacketSource,
    state: TrackState,
    sample: Mp4Sample,
    durationS: number,
    meta: EncodedVideoChunkMetadata | EncodedAudioChunkMetadata | undefined,
  ): void {
    state.started = true;
    let ptsS = sample.ptsMs / 1000;
    if (ptsS < state.maxBeforeLastKeyS) ptsS = state.maxBeforeLastKeyS;
    if (sample.key) state.maxBeforeLastKeyS = state.maxTimestampS;
    if (ptsS > state.maxTimestampS) state.maxTimestampS = ptsS;
    if (sample.dtsMs > this.#maxTimestampMs) this.#maxTimestampMs = sample.dtsMs;
    const packet = new EncodedPacket(sample.data, sample.key ? 'key' : 'delta', ptsS, durationS);
    const bytes = sample.data.byteLength;
    this.out.queued(bytes);
    this.out.run(async () => {
      try {
        if (source instanceof EncodedVideoPacketSource) await source.add(packet, meta as EncodedVideoChunkMetadata | undefined);
        else await source.add(packet, meta as EncodedAudioChunkMetadata | undefined);
      } finally {
        this.out.settled(bytes);
      }
    });
  }

  protected async finish(): Promise<DvrFileInfo> {
    const v = this.#video;
    const held = this.#heldVideo;
    this.#heldVideo = undefined;
    if (v !== undefined && held !== undefined) this.#submit(v.source, v.state, held, this.#lastVideoStepMs / 1000, v.state.started ? undefined : videoMeta(v.track));
    const durationMs = this.#maxTimestampMs + (held !== undefined ? this.#lastVideoStepMs : 0);
    this.out.run(async () => {
      if (this.#video?.state.started !== true && this.#audio?.state.started !== true) {
        throw new GatewayError(ErrorCode.DvrWrite, 'no frame was recorded (an MP4 needs one to start)');
      }
      await this.#output.finalize();
    });
    try {
      await this.out.commit();
    } catch (err) {
      await this.#output.cancel().catch(() => undefined);
      throw err;
    }
    return { file: this.file, bytes: this.bytesWritten, durationMs };
  }
}

function videoMeta(t: Mp4VideoTrack): EncodedVideoChunkMetadata {
  return { decoderConfig: { codec: t.codecString, codedWidth: t.width, codedHeight: t.height, description: t.description } };
}

function audioMeta(t: Mp4AudioTrack): EncodedAudioChunkMetadata {
  const config: AudioDecoderConfig = { codec: t.codecString, sampleRate: t.sampleRate, numberOfChannels: t.channels };
  if (t.description !== undefined) config.description = t.description;
  return { decoderConfig: config };
}
