/**
 * One transcode engine for one published stream (SRS app/srs_app_encoder.cpp SrsEncoder + SrsFFMPEG, minus the
 * RTMP loopback). The source is read through a hub consumer (a bounded queue that drops whole GOPs, never slows the
 * publisher; STYLE habit 13) and written to ffmpeg's stdin as FLV (`-f flv -i pipe:0`, the FLV muxer's cached tags);
 * ffmpeg's output is published under the engine's output stream by FfmpegFlvProcess: FLV on its stdout straight
 * into this hub when the output names this gateway, or ffmpeg's own RTMP push to a foreign server.
 *
 * Each ffmpeg run gets a stdin stream of its own: the FLV header (flags from the stream's tracks), the latest
 * metadata and sequence headers, then media from a keyframe (the first run starts from the hub's GOP cache). While
 * no ffmpeg runs (restart backoff) media is skipped; while stdin is full the consumer queues (bounded by
 * `queue_length`) and resumes on 'drain'. The engine ends when the source unpublishes, the hub detaches its
 * consumer, or ffmpeg cannot be run at all; its owner (TranscodeServer) then stops it.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ConsumerOptions, ConsumerStats, ConsumerTarget, HubPort, PublishTarget, SourceEvent, Subscriber } from '../hub/ports.ts';
import { MessageType, type RtmpMessage } from '../media/message.ts';
import { streamKeyString, type StreamKey } from '../media/stream-key.ts';
import { Amf0EcmaArray, decodeAmf0, type Amf0Value } from '../protocol/amf0.ts';
import { flvFileHeader, flvTag } from '../protocol/flv/flv-muxer.ts';
import { buildFfmpegArgs, type EngineDirectives } from '../process/ffmpeg-args.ts';
import { FfmpegFlvProcess, type FfmpegFlvProcessStats } from '../process/ffmpeg-flv-process.ts';
import { MergedSocketWriter } from './merged-write.ts';

/**
 * Bytes held for ffmpeg's stdin (the pipe's buffer plus this tick's batch) before the hub's consumer must queue
 * instead: about 4 s of a 2 Mbit/s source. Above the pipe's own high-water mark, so a full stdin always emits 'drain'.
 */
export const TRANSCODE_STDIN_HIGH_WATER_BYTES = 1024 * 1024;

/** The `onEnd` reason when the source was unpublished. */
export const SOURCE_UNPUBLISHED = 'source unpublished';

export interface TranscodeEngineOptions {
  /** The stream read. */
  readonly source: StreamKey;
  /** For logs and stats: the engine id, or its index in the block when it has none. */
  readonly name: string;
  readonly directives: EngineDirectives;
  readonly ffmpegPath: string;
  /** The resolved output (local: this hub, ffmpeg writes FLV to stdout; foreign: ffmpeg pushes to `url`). */
  readonly target: PublishTarget;
  readonly hub: HubPort;
  readonly log: Logger;
  readonly consumerOptions?: ConsumerOptions | undefined;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** The engine cannot go on (unpublish, consumer detached, ffmpeg unavailable): its owner stops and forgets it. */
  readonly onEnd: (engine: TranscodeEngine, reason: string) => void;
  /** The ffmpeg binary cannot be spawned (called before onEnd). */
  readonly onFatal?: (err: GatewayError) => void;
}

export interface TranscodeEngineStats {
  readonly engine: string;
  readonly source: string;
  /** The resolved output URL. */
  readonly output: string;
  /** True when the output is this gateway (ffmpeg's stdout is published in-process). */
  readonly local: boolean;
  /** FLV tags written to ffmpeg's stdin, and their bytes. */
  readonly fedMessages: number;
  readonly fedBytes: number;
  /** Media not written: no ffmpeg running (restart backoff), or a run waiting for its first keyframe. */
  readonly skippedMessages: number;
  /** The hub consumer (queue, GOP drops); undefined once detached. */
  readonly consumer: ConsumerStats | undefined;
  readonly ffmpeg: FfmpegFlvProcessStats;
}

/** Tracks an onMetaData names (`videocodecid` / `audiocodecid`, or `hasVideo` / `hasAudio` true). */
function metadataTracks(msg: RtmpMessage | undefined): { audio: boolean; video: boolean } {
  const none = { audio: false, video: false };
  if (msg === undefined) return none;
  let fields: Record<string, Amf0Value> | undefined;
  try {
    for (const v of decodeAmf0(msg.payload)) {
      if (v instanceof Amf0EcmaArray) fields = v.entries;
      else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)) fields = v;
      if (fields !== undefined) break;
    }
  } catch {
    return none; // undecodable metadata names no track
  }
  if (fields === undefined) return none;
  return {
    audio: fields['audiocodecid'] !== undefined || fields['hasAudio'] === true,
    video: fields['videocodecid'] !== undefined || fields['hasVideo'] === true,
  };
}

export class TranscodeEngine implements ConsumerTarget {
  readonly source: StreamKey;
  readonly target: PublishTarget;
  readonly #opts: TranscodeEngineOptions;
  readonly #log: Logger;
  readonly #process: FfmpegFlvProcess;
  #sub: Subscriber | undefined;
  /** The current run's stdin, batched per tick; undefined while no ffmpeg runs. */
  #writer: MergedSocketWriter | undefined;
  #headerWritten = false;
  #metadata: RtmpMessage | undefined;
  #videoConfig: RtmpMessage | undefined;
  #audioConfig: RtmpMessage | undefined;
  #fedMessages = 0;
  #fedBytes = 0;
  #skipped = 0;
  #ended = false;
  #stopped: Promise<void> | undefined;
  readonly #onDrain = (): void => this.#sub?.resume();
  /** `transcode-vhost/app/stream/engine`: the consumer of the source and the publisher of the output. */
  readonly #id: string;

  constructor(opts: TranscodeEngineOptions) {
    this.source = opts.source;
    this.target = opts.target;
    this.#opts = opts;
    this.#log = opts.log;
    this.#id = `transcode-${streamKeyString(opts.source)}/${opts.name}`;
    const local = opts.target.local;
    this.#process = new FfmpegFlvProcess({
      who: { id: this.#id, protocol: 'transcode' },
      ffmpegPath: opts.ffmpegPath,
      args: buildFfmpegArgs({
        input: { type: 'pipe' },
        engine: opts.directives,
        output: local ? { pipe: true } : { pipe: false, url: opts.target.url },
      }),
      target: local ? opts.target : undefined,
      log: opts.log,
      stdin: 'pipe',
      ...(opts.minBackoffMs !== undefined ? { minBackoffMs: opts.minBackoffMs } : {}),
      ...(opts.maxBackoffMs !== undefined ? { maxBackoffMs: opts.maxBackoffMs } : {}),
      onSpawn: (child) => this.#onSpawn(child),
      onExit: () => this.#onExit(),
      onFatal: (err) => {
        this.#opts.onFatal?.(err);
        this.#end(err.message);
      },
    });
  }

  /** The ffmpeg supervisor and its output (tests kill its child to check restarts). */
  get ffmpeg(): FfmpegFlvProcess {
    return this.#process;
  }

  /** Spawn ffmpeg, then attach to the source: the first run is fed from the GOP cache at once. */
  start(): void {
    if (this.#ended) return;
    this.#process.start();
    try {
      this.#sub = this.#opts.hub.subscribe(this.source, { id: this.#id, protocol: 'transcode' }, this, {
        ...this.#opts.consumerOptions,
        useGopCache: true,
      });
    } catch (err) {
      this.#log.warn({ err }, 'transcode cannot read its source');
      this.#end('source unavailable');
    }
  }

  /** Detach from the source, stop ffmpeg (SIGTERM, then SIGKILL), unpublish the output. Idempotent. */
  stop(): Promise<void> {
    this.#ended = true;
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#sub?.close();
    this.#sub = undefined;
    await this.#process.stop();
  }

  stats(): TranscodeEngineStats {
    return {
      engine: this.#opts.name,
      source: streamKeyString(this.source),
      output: this.target.url,
      local: this.target.local,
      fedMessages: this.#fedMessages,
      fedBytes: this.#fedBytes,
      skippedMessages: this.#skipped,
      consumer: this.#sub?.stats(),
      ffmpeg: this.#process.stats(),
    };
  }

  /** ConsumerTarget: one message of the source, in order. */
  send(msg: RtmpMessage): boolean {
    if (msg.kind === 'metadata') this.#metadata = msg;
    else if (msg.kind === 'video-config') this.#videoConfig = msg;
    else if (msg.kind === 'audio-config') this.#audioConfig = msg;
    const writer = this.#writer;
    if (writer === undefined) {
      if (!msg.isConfig) this.#skipped++;
      return true;
    }
    if (!this.#headerWritten) {
      if (msg.isConfig) return true; // written with the header
      if (msg.kind !== 'keyframe' && (this.#videoConfig !== undefined || msg.type === MessageType.Video)) {
        this.#skipped++; // a run starts at a keyframe
        return true;
      }
      this.#writeStart(writer, msg);
    }
    this.#write(writer, msg);
    return writer.underHighWater(TRANSCODE_STDIN_HIGH_WATER_BYTES);
  }

  /** ConsumerTarget: the source was unpublished (a republish gets a new engine). */
  onSourceEvent(event: SourceEvent): void {
    if (event === 'unpublish') this.#end(SOURCE_UNPUBLISHED);
  }

  /** ConsumerTarget: the hub detached the consumer (gateway stopping). */
  onClose(reason: string): void {
    this.#sub = undefined;
    this.#end(reason);
  }

  /** FLV header, then the latest metadata and sequence headers: what ffmpeg needs before `first`. */
  #writeStart(writer: MergedSocketWriter, first: RtmpMessage): void {
    const named = metadataTracks(this.#metadata);
    const hasVideo = this.#videoConfig !== undefined || first.type === MessageType.Video || named.video;
    const hasAudio = this.#audioConfig !== undefined || first.type === MessageType.Audio || named.audio;
    const header = flvFileHeader(hasAudio, hasVideo);
    writer.writeMedia(header);
    this.#fedBytes += header.length;
    this.#headerWritten = true;
    for (const m of [this.#metadata, this.#videoConfig, this.#audioConfig]) if (m !== undefined) this.#write(writer, m);
  }

  #write(writer: MergedSocketWriter, msg: RtmpMessage): void {
    const tag = flvTag(msg);
    writer.writeMedia(tag);
    this.#fedMessages++;
    this.#fedBytes += tag.length;
  }

  #onSpawn(child: ChildProcess): void {
    const stdin: Writable | null = child.stdin;
    if (stdin === null) return;
    // ffmpeg exiting while we write gives EPIPE on its stdin: the exit itself is what the supervisor reports.
    stdin.on('error', (err) => this.#log.debug({ err }, 'ffmpeg stdin error'));
    stdin.on('drain', this.#onDrain);
    this.#writer = new MergedSocketWriter(stdin, { latencyMs: 0 });
    this.#headerWritten = false;
  }

  /** The run ended: what the consumer queued for it is skipped, and the next run starts at a keyframe. */
  #onExit(): void {
    this.#writer?.end();
    this.#writer = undefined;
    this.#headerWritten = false;
    this.#sub?.resume();
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#log.info({ reason }, 'transcode engine ends');
    this.#opts.onEnd(this, reason);
  }
}
