/**
 * One ingest engine run by ffmpeg (SRS app/srs_app_ingest.cpp SrsIngesterFFMPEG, minus the RTMP loopback).
 *
 * When the engine's output is this gateway, ffmpeg writes FLV to stdout (`-f flv pipe:1`) and the bytes go
 * through the same FlvDemuxer as the HTTP-POST caster into a hub Publisher (STYLE habit 16): the stream is
 * published at the first message and unpublished when ffmpeg exits, so players wait across a restart. Otherwise
 * ffmpeg pushes to the RTMP URL itself and castgate only supervises it. Supervision (restart backoff, SIGTERM then
 * SIGKILL, stderr log, progress stats, a missing binary) is core/process/child-process.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { isGatewayError, type GatewayError } from '../core/errors.ts';
import { PithyLog, type Logger } from '../core/log.ts';
import type { Publisher, PublishTarget, SessionInfo } from '../core/hub/ports.ts';
import type { RtmpMessage } from '../core/media/message.ts';
import { streamKeyString } from '../core/media/stream-key.ts';
import { FlvDemuxer } from '../core/protocol/flv/flv-demuxer.ts';
import { SupervisedProcess, type SupervisedProcessStats } from '../core/process/child-process.ts';

/**
 * Publishes lazily: the stream is taken at the first message and given back by `close()`, so a source that is
 * down (ffmpeg restarting, a file being retried) does not hold the key. A busy key is reported once per attempt.
 */
export class LazyPublisher {
  readonly #target: PublishTarget;
  readonly #who: SessionInfo;
  readonly #log: Logger;
  #publisher: Publisher | undefined;
  #refused = false;
  messages = 0;

  constructor(target: PublishTarget, who: SessionInfo, log: Logger) {
    this.#target = target;
    this.#who = who;
    this.#log = log;
  }

  get publishing(): boolean {
    return this.#publisher !== undefined;
  }

  /**
   * Hand on one message, publishing first if needed.
   * @returns false when the key is held by another publisher (the message is dropped).
   */
  write(msg: RtmpMessage): boolean {
    if (this.#publisher === undefined) {
      if (this.#refused) return false;
      try {
        this.#publisher = this.#target.hub.publish(this.#target.key, this.#who);
        this.#log.info('ingest publishing');
      } catch (err) {
        this.#refused = true;
        this.#log.error({ err, stream: streamKeyString(this.#target.key) }, `ingest cannot publish: ${(err as Error).message}`);
        return false;
      }
    }
    this.messages++;
    this.#publisher.write(msg);
    return true;
  }

  /** Unpublish (idempotent); the next write publishes again. */
  close(reason: string): void {
    this.#refused = false;
    const p = this.#publisher;
    this.#publisher = undefined;
    p?.close(reason);
  }
}

export interface FfmpegIngestOptions {
  /** For logs and session ids: `ingest id/engine id`. */
  readonly name: string;
  readonly ffmpegPath: string;
  readonly args: readonly string[];
  /** Where the FLV from ffmpeg's stdout is published; undefined: ffmpeg pushes to its output URL itself. */
  readonly target: PublishTarget | undefined;
  readonly log: Logger;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly healthyMs?: number;
  readonly stopTimeoutMs?: number;
  /** Called once after stop (remove a temporary concat list). */
  readonly cleanup?: () => void;
}

export interface FfmpegIngestStats {
  readonly mode: 'ffmpeg-pipe' | 'ffmpeg-push';
  readonly stream: string | undefined;
  readonly publishing: boolean;
  readonly messages: number;
  readonly decodeErrors: number;
  readonly process: SupervisedProcessStats;
}

export class FfmpegIngest {
  readonly #opts: FfmpegIngestOptions;
  readonly #log: Logger;
  readonly #process: SupervisedProcess;
  readonly #publisher: LazyPublisher | undefined;
  readonly #decodeErrors: PithyLog;
  #stopped = false;

  constructor(opts: FfmpegIngestOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#decodeErrors = new PithyLog(opts.log, 'FLV decode errors from ffmpeg');
    this.#publisher = opts.target === undefined
      ? undefined
      : new LazyPublisher(opts.target, { id: `ingest-${opts.name}`, protocol: 'ingest' }, opts.log);
    this.#process = new SupervisedProcess({
      command: opts.ffmpegPath,
      args: opts.args,
      log: opts.log,
      ...(opts.minBackoffMs !== undefined ? { minBackoffMs: opts.minBackoffMs } : {}),
      ...(opts.maxBackoffMs !== undefined ? { maxBackoffMs: opts.maxBackoffMs } : {}),
      ...(opts.healthyMs !== undefined ? { healthyMs: opts.healthyMs } : {}),
      ...(opts.stopTimeoutMs !== undefined ? { stopTimeoutMs: opts.stopTimeoutMs } : {}),
      onSpawn: (child) => this.#attach(child),
      onExit: () => this.#publisher?.close('ffmpeg exited'),
    });
  }

  /** The supervised ffmpeg (tests kill its child to check restarts). */
  get process(): SupervisedProcess {
    return this.#process;
  }

  start(): void {
    this.#process.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#process.stop();
    this.#publisher?.close('ingest stopped');
    this.#opts.cleanup?.();
  }

  stats(): FfmpegIngestStats {
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
