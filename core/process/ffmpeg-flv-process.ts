/**
 * One supervised ffmpeg whose output is a live stream (SRS app/srs_app_ingest.cpp SrsIngesterFFMPEG and
 * app/srs_app_encoder.cpp SrsEncoder, minus their RTMP loopback). Used by every ingest engine and every transcode
 * engine.
 *
 * When the output is this gateway, ffmpeg writes FLV to stdout (`-f flv pipe:1`) and the bytes go through the same
 * FlvDemuxer as the HTTP-POST caster into a LazyPublisher (STYLE habit 16): the stream is published at the first
 * message and unpublished when ffmpeg exits, so players wait across a restart. A refused publish (the key is busy)
 * restarts ffmpeg after the backoff. Otherwise ffmpeg pushes to the RTMP URL itself and castgate only supervises
 * it. Supervision (restart backoff, SIGTERM then SIGKILL, stderr log, progress stats, a missing binary) is
 * child-process.ts; a transcode feeds stdin itself through `onSpawn` (`stdin: 'pipe'`).
 */
import type { ChildProcess } from 'node:child_process';
import { isGatewayError, type GatewayError } from '../errors.ts';
import { PithyLog, type Logger } from '../log.ts';
import { LazyPublisher } from '../hub/lazy-publisher.ts';
import type { PublishTarget, SessionInfo } from '../hub/ports.ts';
import { streamKeyString } from '../media/stream-key.ts';
import { FlvDemuxer } from '../protocol/flv/flv-demuxer.ts';
import { SupervisedProcess, type SupervisedProcessOptions, type SupervisedProcessStats } from './child-process.ts';

/**
 * Supervision as SupervisedProcessOptions says: `stdin: 'pipe'` when the owner writes ffmpeg's input in `onSpawn`
 * (transcode), restart backoffs, the stop timeout, and `onFatal` when the binary cannot be spawned (ENOENT/EACCES:
 * logged once by the supervisor, the process disabled).
 */
export interface FfmpegFlvProcessOptions
  extends Pick<SupervisedProcessOptions, 'stdin' | 'minBackoffMs' | 'maxBackoffMs' | 'healthyMs' | 'stopTimeoutMs' | 'onFatal'> {
  /** Who publishes the output stream (logs, stats, the hub's busy errors), e.g. `{ id: 'ingest-cam/0', protocol: 'ingest' }`. */
  readonly who: SessionInfo;
  readonly ffmpegPath: string;
  readonly args: readonly string[];
  /** Where the FLV from ffmpeg's stdout is published; undefined: ffmpeg pushes to its output URL itself. */
  readonly target: PublishTarget | undefined;
  readonly log: Logger;
  /** A child was spawned (after its stdout is attached). */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** The child exited (its output stream is unpublished already). */
  readonly onExit?: () => void;
  /** Called once after stop (remove a temporary concat list). */
  readonly cleanup?: () => void;
}

export interface FfmpegFlvProcessStats {
  readonly mode: 'ffmpeg-pipe' | 'ffmpeg-push';
  /** The published stream (pipe mode). */
  readonly stream: string | undefined;
  readonly publishing: boolean;
  /** Messages published from ffmpeg's stdout. */
  readonly messages: number;
  /** FLV decode errors in ffmpeg's stdout. */
  readonly decodeErrors: number;
  readonly process: SupervisedProcessStats;
}

export class FfmpegFlvProcess {
  readonly #opts: FfmpegFlvProcessOptions;
  readonly #log: Logger;
  readonly #process: SupervisedProcess;
  readonly #publisher: LazyPublisher | undefined;
  readonly #decodeErrors: PithyLog;
  #stopped = false;

  constructor(opts: FfmpegFlvProcessOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#decodeErrors = new PithyLog(opts.log, 'FLV decode errors from ffmpeg');
    // A publish ended by the hub (kicked through the HTTP API) restarts ffmpeg, as SRS's ingester restarts an ffmpeg
    // whose RTMP connection was kicked.
    this.#publisher = opts.target === undefined ? undefined : new LazyPublisher(opts.target, opts.who, opts.log, () => this.#process.restartChild());
    const { who: _who, ffmpegPath, target: _target, cleanup: _cleanup, onSpawn, onExit, ...supervision } = opts;
    this.#process = new SupervisedProcess({
      ...supervision,
      command: ffmpegPath,
      onSpawn: (child) => {
        this.#attach(child);
        onSpawn?.(child);
      },
      onExit: () => {
        this.#publisher?.close('ffmpeg exited');
        onExit?.();
      },
    });
  }

  /** The supervised ffmpeg (tests kill its child to check restarts). */
  get process(): SupervisedProcess {
    return this.#process;
  }

  start(): void {
    this.#process.start();
  }

  /** Stop ffmpeg (SIGTERM, then SIGKILL), unpublish its stream. Idempotent; resolves once the child is gone. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#process.stop();
    this.#publisher?.close('ffmpeg stopped');
    this.#opts.cleanup?.();
  }

  stats(): FfmpegFlvProcessStats {
    return {
      mode: this.#publisher === undefined ? 'ffmpeg-push' : 'ffmpeg-pipe',
      stream: this.#opts.target === undefined ? undefined : streamKeyString(this.#opts.target.key),
      publishing: this.#publisher?.publishing ?? false,
      messages: this.#publisher?.messages ?? 0,
      decodeErrors: this.#decodeErrors.total,
      process: this.#process.stats(),
    };
  }

  /** stdout FLV → demuxer → publisher, one demuxer per ffmpeg run. */
  #attach(child: ChildProcess): void {
    const publisher = this.#publisher;
    const stdout = child.stdout;
    if (stdout === null) return;
    if (publisher === undefined) {
      stdout.resume(); // push mode: ffmpeg writes nothing useful here; never let the pipe fill
      return;
    }
    const demuxer = new FlvDemuxer({
      onMessage: (msg) => {
        if (!publisher.write(msg)) this.#process.restartChild();
      },
      onDecodeError: (err: GatewayError) => this.#decodeErrors.hit(err),
    });
    stdout.on('data', (chunk: Buffer) => demuxer.push(chunk));
    stdout.once('end', () => demuxer.end());
    stdout.on('error', (err) => {
      if (!isGatewayError(err)) this.#log.debug({ err }, 'ffmpeg stdout error');
    });
  }
}
