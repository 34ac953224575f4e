/**
 * The ingester (SRS app/srs_app_ingest.cpp SrsIngester): one per `vhost { ingest id { } }` block, one engine per
 * `engine { }` inside it (SRS: several engines = several outputs, one ffmpeg each).
 *
 * Per engine the output template's [vhost] [app] [stream] [engine] are substituted here, then the context's
 * PublishTargetResolver (built once by core/main.ts, shared with the casters) substitutes [port], accepts SRS's
 * `rtmp://host/app?vhost=v/stream` form and decides where messages go: a loopback output without a port, or with
 * one of our RTMP ports, is this gateway (in-process, the hub's publish); anything else is pushed over RTMP.
 * Then how the input is read:
 * - `type file`, the engine copies, and every file is FLV or MPEG-TS: castgate loops the files itself
 *   (file-looper.ts), no ffmpeg; a file that cannot be read is one error, then retried with backoff (1 s … 30 s).
 * - everything else: ffmpeg (core/process/ffmpeg-flv-process.ts, the transcoder's too), found as the `ffmpeg`
 *   directive, else $FFMPEG_PATH, else `ffmpeg` on PATH. To this gateway it writes FLV to a pipe; to another server
 *   it pushes RTMP itself.
 * [app] and [stream] come from the input: a URL's last two path segments, a file's base name (app `live`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import type { IngestConfig, IngestEngineConfig } from '../core/config/config.ts';
import { ErrorCode, GatewayError } from '../core/errors.ts';
import { PithyLog, type Logger } from '../core/log.ts';
import { LazyPublisher } from '../core/hub/lazy-publisher.ts';
import type { PublishTarget, PublishTargetResolver } from '../core/hub/ports.ts';
import { resolveTemplate, streamKeyString } from '../core/media/stream-key.ts';
import { Backoff, type SupervisedProcess } from '../core/process/child-process.ts';
import { resolveFfmpegPath } from '../core/process/executable.ts';
import { buildFfmpegArgs, concatList, engineCopies, engineDirectives } from '../core/process/ffmpeg-args.ts';
import { FfmpegFlvProcess, type FfmpegFlvProcessStats } from '../core/process/ffmpeg-flv-process.ts';
import { FileLooper, type FileLooperStats } from './file-looper.ts';

/** Files castgate loops natively (by extension; the content is sniffed again when read). */
const NATIVE_EXTENSIONS = new Set(['.flv', '.ts', '.m2ts', '.mts', '.m2t']);

export interface IngestContext {
  readonly log: Logger;
  /** The gateway's one resolver of output URLs (core/main.ts): this hub, or an RTMP push to a foreign server. */
  readonly publishTarget: PublishTargetResolver;
  readonly vhost: string;
  /** Tests: shorter backoffs. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** An engine run by ffmpeg. */
export type FfmpegIngestStats = FfmpegFlvProcessStats;

export interface NativeIngestStats {
  readonly mode: 'native';
  readonly stream: string;
  readonly publishing: boolean;
  readonly messages: number;
  readonly decodeErrors: number;
  readonly starts: number;
  readonly error: string | undefined;
  readonly nextRetryMs: number | undefined;
  readonly looper: FileLooperStats | undefined;
}

export interface IngesterStats {
  readonly id: string;
  readonly vhost: string;
  readonly type: string;
  readonly engines: readonly (NativeIngestStats | FfmpegIngestStats)[];
}

interface Engine {
  start(): void;
  stop(): Promise<void>;
  stats(): NativeIngestStats | FfmpegIngestStats;
  readonly process?: SupervisedProcess;
}

/** [app] and [stream] of an input: the last two segments of a URL path, or `live` and a file's base name. */
export function inputNames(type: string, url: string): { app: string; stream: string } {
  if (type !== 'file' && /^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      const parts = new URL(url).pathname.split('/').filter((p) => p !== '');
      const last = parts[parts.length - 1];
      if (last !== undefined) {
        return { app: parts.length > 1 ? (parts[parts.length - 2] as string) : 'live', stream: last.replace(/\.[a-z0-9]+$/i, '') };
      }
    } catch {
      // not a parseable URL: fall through
    }
  }
  const stream = basename(url, extname(url)).replace(/[^A-Za-z0-9_\-.~@+=:]/g, '_');
  return { app: 'live', stream: stream === '' ? 'ingest' : stream };
}

/** Native looping of FLV/TS files into a publisher, restarted with backoff when a file fails. */
class NativeIngest implements Engine {
  readonly #files: readonly string[];
  readonly #target: PublishTarget;
  readonly #log: Logger;
  readonly #publisher: LazyPublisher;
  readonly #decodeErrors: PithyLog;
  readonly #backoff: Backoff;
  #looper: FileLooper | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #starts = 0;
  #error: string | undefined;
  #nextRetryMs: number | undefined;

  constructor(files: readonly string[], target: PublishTarget, name: string, log: Logger, ctx: IngestContext) {
    this.#files = files;
    this.#target = target;
    this.#log = log;
    // Kicked (DELETE /api/v1/clients/{id}): loop again from the start, so the new publish begins with the files'
    // metadata and sequence headers (the hub clears its caches at unpublish), as a kicked ffmpeg engine restarts.
    this.#publisher = new LazyPublisher(target, { id: `ingest-${name}`, protocol: 'ingest' }, log, () => this.#restart());
    this.#decodeErrors = new PithyLog(log, 'decode errors in ingest files');
    this.#backoff = new Backoff(ctx.minBackoffMs, ctx.maxBackoffMs);
  }

  start(): void {
    this.#run();
  }

  #run(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#starts++;
    let healthy = false;
    const looper = new FileLooper({
      files: this.#files,
      sink: {
        onMessage: (msg) => {
          if (!this.#publisher.write(msg)) {
            this.#retry(looper, undefined);
            return;
          }
          if (!healthy) {
            healthy = true;
            this.#backoff.reset();
            if (this.#error !== undefined) this.#log.info('ingest files readable again');
            this.#error = undefined;
          }
        },
        onDecodeError: (err) => this.#decodeErrors.hit(err),
        onError: (err) => this.#retry(looper, err),
        onLoop: (loop) => this.#log.debug({ loop }, 'ingest loop'),
      },
    });
    this.#looper = looper;
    looper.start().catch((err: unknown) => this.#retry(looper, err as GatewayError));
  }

  /** The hub ended the publish: stop the running looper and start over at once. */
  #restart(): void {
    const looper = this.#looper;
    if (this.#stopped || looper === undefined) return;
    looper.stop();
    this.#looper = undefined;
    this.#run();
  }

  /** Stop this looper, unpublish, and run again after the backoff. The same error is logged once. */
  #retry(looper: FileLooper, err: GatewayError | undefined): void {
    if (this.#stopped || this.#looper !== looper) return;
    looper.stop();
    this.#looper = undefined;
    this.#publisher.close(err?.message ?? 'stream busy');
    const delayMs = this.#backoff.next();
    this.#nextRetryMs = delayMs;
    if (err !== undefined && err.message !== this.#error) {
      this.#error = err.message;
      this.#log.error({ code: err.code, retryInMs: delayMs }, err.message);
    } else {
      this.#log.debug({ retryInMs: delayMs }, 'ingest retrying');
    }
    this.#timer = setTimeout(() => this.#run(), delayMs);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#looper?.stop();
    this.#publisher.close('ingest stopped');
  }

  stats(): NativeIngestStats {
    return {
      mode: 'native',
      stream: streamKeyString(this.#target.key),
      publishing: this.#publisher.publishing,
      messages: this.#publisher.messages,
      decodeErrors: this.#decodeErrors.total,
      starts: this.#starts,
      error: this.#error,
      nextRetryMs: this.#looper === undefined ? this.#nextRetryMs : undefined,
      looper: this.#looper?.stats(),
    };
  }
}

/** One `ingest` block: its engines, started and stopped together. */
export class Ingester {
  readonly id: string;
  readonly #cfg: IngestConfig;
  readonly #ctx: IngestContext;
  readonly #log: Logger;
  readonly #engines: Engine[] = [];
  #started = false;

  /**
   * @throws GatewayError GW_ERR_STREAM_KEY_INVALID when an engine's output is not rtmp://host[:port]/app/stream.
   */
  constructor(cfg: IngestConfig, ctx: IngestContext) {
    this.id = cfg.id;
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ ingest: cfg.id, vhost: ctx.vhost });
    cfg.engines.forEach((e, i) => this.#engines.push(this.#createEngine(e, i)));
  }

  /** The engines' ffmpeg supervisors (undefined for native engines), in engine order. */
  get processes(): readonly (SupervisedProcess | undefined)[] {
    return this.#engines.map((e) => e.process);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const e of this.#engines) e.start();
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.#engines.map((e) => e.stop()));
  }

  stats(): IngesterStats {
    return { id: this.id, vhost: this.#ctx.vhost, type: this.#cfg.input.type, engines: this.#engines.map((e) => e.stats()) };
  }

  #createEngine(e: IngestEngineConfig, index: number): Engine {
    const ctx = this.#ctx;
    const { type, urls } = this.#cfg.input;
    const names = inputNames(type, urls[0] as string);
    const target = ctx.publishTarget(
      resolveTemplate(e.output, { vhost: ctx.vhost, app: names.app, stream: names.stream }).replaceAll('[engine]', e.id ?? ''),
    );
    const name = `${this.#cfg.id}/${e.id ?? index}`;
    const log = this.#log.child({ engine: e.id ?? index, stream: streamKeyString(target.key) });
    const directives = engineDirectives(e);
    const native = type === 'file' && engineCopies(directives) && e.perfile.length === 0 && e.vfilter.length === 0
      && urls.every((f) => NATIVE_EXTENSIONS.has(extname(f).toLowerCase()));
    if (native) {
      log.info({ files: urls }, 'ingest: native file loop');
      return new NativeIngest(urls, target, name, log, ctx);
    }
    let input = urls[0] as string;
    let cleanup: (() => void) | undefined;
    let engine = directives;
    if (type === 'file' && urls.length > 1) {
      const dir = mkdtempSync(join(tmpdir(), 'castgate-ingest-'));
      input = join(dir, 'list.ffconcat');
      writeFileSync(input, concatList(urls));
      engine = { ...directives, iformat: 'concat', perfile: [...directives.perfile ?? [], { name: 'safe', args: ['0'] }] };
      cleanup = () => rmSync(dir, { recursive: true, force: true });
    } else if (type !== 'file' && urls.length > 1) {
      throw new GatewayError(ErrorCode.ConfInvalid, `${this.#cfg.file}:${this.#cfg.line}: ingest '${this.#cfg.id}': only type file takes several urls`);
    }
    const ffmpegPath = resolveFfmpegPath(this.#cfg.ffmpeg);
    const args = buildFfmpegArgs({ input: { type, url: input }, engine, output: target.local ? { pipe: true } : { pipe: false, url: target.url } });
    log.info({ ffmpeg: ffmpegPath, mode: target.local ? 'pipe' : 'push' }, 'ingest: ffmpeg');
    return new FfmpegFlvProcess({
      who: { id: `ingest-${name}`, protocol: 'ingest' },
      ffmpegPath,
      args,
      target: target.local ? target : undefined,
      log,
      ...(ctx.minBackoffMs !== undefined ? { minBackoffMs: ctx.minBackoffMs } : {}),
      ...(ctx.maxBackoffMs !== undefined ? { maxBackoffMs: ctx.maxBackoffMs } : {}),
      ...(cleanup !== undefined ? { cleanup } : {}),
    });
  }
}

/** Build the ingesters of every enabled `ingest` block of every enabled vhost (not started). */
export function createIngesters(
  vhosts: Iterable<{ readonly name: string; readonly enabled: boolean; readonly ingests: readonly IngestConfig[] }>,
  ctx: Omit<IngestContext, 'vhost'>,
): Ingester[] {
  const out: Ingester[] = [];
  for (const v of vhosts) {
    if (!v.enabled) continue;
    for (const cfg of v.ingests) if (cfg.enabled) out.push(new Ingester(cfg, { ...ctx, vhost: v.name }));
  }
  return out;
}
