/**
 * The transcoder (SRS app/srs_app_encoder.cpp SrsEncoder, one per source): on every publish of a stream, each
 * enabled `transcode [scope] { }` block of its vhost whose scope matches runs its enabled engines, one ffmpeg per
 * engine (transcode-engine.ts). Started at publish (SourceEvents.onPublish, as the HLS server), stopped at
 * unpublish, ffmpeg restarted with backoff while the source lives.
 *
 * Scope (SRS SrsEncoder::parse_scope_engines): a block without an argument matches every stream of the vhost,
 * `transcode live` every stream of app live, `transcode live/cam` that stream; every matching block applies.
 *
 * Output: the engine's `output` with [vhost] [app] [stream] (the source's) and [engine] (the engine id) expanded
 * here, then the gateway's one PublishTargetResolver ([port], SRS's `app?vhost=v/stream` form): a URL naming this
 * gateway is fed in-process (ffmpeg's FLV stdout published on the hub, no RTMP loopback), any other is pushed to by
 * ffmpeg itself.
 *
 * No loops. Every engine output remembers its lineage — the block that makes it, plus the lineage of the stream it
 * is made from — for as long as the engine runs, and a publish of that output skips every block of its lineage.
 * So a block never transcodes what it made (`[stream]_[engine]` outputs of a vhost-wide block are not transcoded
 * again, by that engine or a sibling), and blocks that feed each other stop after one pass each, while a chain
 * across different blocks stays possible (app live → app hd by one block, hd → its renditions by another). SRS
 * keeps every output URL ever made and never transcodes those at all. An engine whose output is its own source
 * (a loop of one) is refused with an error.
 *
 * ffmpeg is found as the block's `ffmpeg`, else $FFMPEG_PATH, else on PATH, checked once per binary: a missing
 * binary is ONE error, and every stream plays on untranscoded (no spawn attempts, no retry loop).
 */
import type { EngineConfig, TranscodeConfig } from '../config/config.ts';
import { blockIdentity } from '../config/config-diff.ts';
import { isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ConsumerOptions, HubPort, PublishTarget, PublishTargetResolver, SourceEvents } from '../hub/ports.ts';
import { resolveTemplate, streamKeyString, type StreamKey } from '../media/stream-key.ts';
import { findExecutable, resolveFfmpegPath } from '../process/executable.ts';
import { engineDirectives } from '../process/ffmpeg-args.ts';
import { SOURCE_UNPUBLISHED, TranscodeEngine, type TranscodeEngineStats } from './transcode-engine.ts';

export interface TranscodeServerOptions {
  readonly hub: HubPort & SourceEvents;
  readonly log: Logger;
  /** The vhost's transcode blocks; undefined for an unknown or disabled vhost. Read at each publish. */
  readonly transcodes: (vhost: string) => readonly TranscodeConfig[] | undefined;
  /** The source's consumer settings (queue_length); default: the vhost's, as the hub applies them. */
  readonly consumerOptions?: (key: StreamKey) => ConsumerOptions | undefined;
  /** Environment for FFMPEG_PATH and the PATH lookup; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Tests: shorter restart backoffs. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** Does a block's scope ('' | app | app/stream) cover `key`? (SRS: vhost scope, then app, then app/stream.) */
export function transcodeScopeMatches(scope: string, key: StreamKey): boolean {
  return scope === '' || scope === key.app || scope === `${key.app}/${key.stream}`;
}

/** An engine's output URL for one source: [vhost] [app] [stream] of the source, [engine] the engine id ('' without). */
export function transcodeOutputUrl(engine: EngineConfig, source: StreamKey): string {
  return resolveTemplate(engine.output, source).replaceAll('[engine]', engine.id ?? '');
}

interface Running {
  readonly engine: TranscodeEngine;
  /** The block that runs it (transcodeBlockKey). */
  readonly block: string;
  /** The blocks the engine's output descends from (its own included), as transcodeBlockKey. */
  readonly lineage: ReadonlySet<string>;
}

/**
 * A transcode block's identity across config reloads: its vhost and its content without line/file (config-diff
 * blockIdentity), so an unchanged block keeps its engines and its outputs' lineage after a reload.
 */
export function transcodeBlockKey(vhost: string, block: TranscodeConfig): string {
  return `${vhost}\n${blockIdentity(block)}`;
}

export class TranscodeServer {
  readonly #opts: TranscodeServerOptions;
  readonly #log: Logger;
  /** Running engines per source stream. */
  readonly #engines = new Map<string, Running[]>();
  /** Lineage per output stream key, while the engine making it runs. */
  readonly #outputs = new Map<string, Running>();
  /** Engines stopping, per source: a republish starts its engines after these are gone. */
  readonly #stopping = new Map<string, Promise<void>>();
  /** ffmpeg binaries checked: path → found. */
  readonly #binaries = new Map<string, boolean>();
  #publishTarget: PublishTargetResolver | undefined;
  #off: (() => void) | undefined;
  #closed = false;

  constructor(opts: TranscodeServerOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ output: 'transcode' });
  }

  /**
   * Follow publishes from now on. Idempotent.
   * @param publishTarget the gateway's one resolver of output URLs (core/main.ts builds it once the RTMP
   *   listeners are bound: `[port]` and "this gateway" depend on them).
   */
  start(publishTarget: PublishTargetResolver): void {
    if (this.#off !== undefined || this.#closed) return;
    this.#publishTarget = publishTarget;
    this.#off = this.#opts.hub.onPublish((key) => this.#onPublish(key));
  }

  /** The running engines of a source stream, in block and engine order. */
  engines(source: StreamKey): readonly TranscodeEngine[] {
    return (this.#engines.get(streamKeyString(source)) ?? []).map((r) => r.engine);
  }

  /** Per source stream: its engines' stats. */
  stats(): Record<string, TranscodeEngineStats[]> {
    const out: Record<string, TranscodeEngineStats[]> = {};
    for (const [k, list] of this.#engines) out[k] = list.map((r) => r.engine.stats());
    return out;
  }

  /** Stop following publishes; stop every engine (ffmpeg gone, outputs unpublished). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#off?.();
    this.#off = undefined;
    const running = [...this.#engines.values()].flat();
    this.#engines.clear();
    this.#outputs.clear();
    await Promise.allSettled([...running.map((r) => r.engine.stop()), ...this.#stopping.values()]);
  }

  /**
   * Apply a reloaded config (the `transcodes` option now answers the new blocks): engines of a block that is gone,
   * disabled or changed stop (their outputs unpublish); blocks that are new or changed start for every stream in
   * `publishing` they match. Engines of unchanged blocks run on untouched. ffmpeg binaries are checked again.
   * No-op once closed.
   * @param publishing the streams published now (the hub's publishers).
   */
  reload(publishing: readonly StreamKey[]): void {
    if (this.#closed || this.#publishTarget === undefined) return;
    this.#binaries.clear(); // an ffmpeg missing before is looked for again (the reload may name another one)
    for (const list of [...this.#engines.values()]) {
      const source = list[0]?.engine.source;
      if (source === undefined) continue;
      const wanted = new Set(this.#blocksFor(source).map((b) => transcodeBlockKey(source.vhost, b)));
      for (const r of [...list]) {
        if (wanted.has(r.block)) continue;
        this.#log.info({ stream: streamKeyString(source), target: r.engine.target.url }, 'transcode: block changed or removed by a reload, engine stopped');
        this.#ended(source, r.engine, 'config reloaded');
      }
    }
    for (const key of publishing) this.#start(key, true);
  }

  /** The enabled blocks with engines whose scope covers `key`, from the current config. */
  #blocksFor(key: StreamKey): readonly TranscodeConfig[] {
    return this.#opts.transcodes(key.vhost)?.filter((b) => b.enabled && b.engines.length > 0 && transcodeScopeMatches(b.scope, key)) ?? [];
  }

  #onPublish(key: StreamKey): void {
    this.#start(key, false);
  }

  /**
   * Start the engines of the blocks covering `key`. `adding` (a reload): the stream already has engines; start only
   * the blocks none of them runs. Otherwise (a publish) nothing starts while engines of the last publish still run.
   */
  #start(key: StreamKey, adding: boolean): void {
    const resolve = this.#publishTarget;
    if (this.#closed || resolve === undefined) return;
    const blocks = this.#blocksFor(key);
    if (blocks.length === 0) return;
    const k = streamKeyString(key);
    const existing = this.#engines.get(k);
    if (existing !== undefined && !adding) return; // engines of the last publish still ending their run
    const runningBlocks = new Set(existing?.map((r) => r.block));
    const from = this.#outputs.get(k)?.lineage;
    const log = this.#log.child({ stream: k });
    const running: Running[] = [];
    for (const block of blocks) {
      const id = transcodeBlockKey(key.vhost, block);
      if (runningBlocks.has(id)) continue;
      if (from?.has(id)) {
        log.debug({ scope: block.scope, line: block.line }, 'not transcoded again by the block that made it');
        continue;
      }
      const ffmpegPath = this.#ffmpeg(block);
      if (ffmpegPath === undefined) continue;
      const lineage = new Set(from);
      lineage.add(id);
      block.engines.forEach((e, i) => {
        const r = this.#createEngine(resolve, key, e, i, ffmpegPath, id, lineage, log);
        if (r !== undefined) running.push(r);
      });
    }
    if (running.length === 0) return;
    this.#engines.set(k, [...existing ?? [], ...running]);
    for (const r of running) this.#outputs.set(streamKeyString(r.engine.target.key), r);
    const before = this.#stopping.get(k);
    if (before === undefined) {
      for (const r of running) r.engine.start();
    } else {
      void before.then(() => {
        for (const r of running) if (this.#engines.get(k)?.includes(r) === true) r.engine.start();
      });
    }
  }

  /** The block's ffmpeg, checked once per binary; undefined (after one error) when it cannot run. */
  #ffmpeg(block: TranscodeConfig): string | undefined {
    const env = this.#opts.env ?? process.env;
    const path = resolveFfmpegPath(block.ffmpeg, env);
    let found = this.#binaries.get(path);
    if (found === undefined) {
      found = findExecutable(path, env) !== undefined;
      this.#binaries.set(path, found);
      if (!found) {
        this.#log.error(
          { ffmpeg: path, file: block.file, line: block.line },
          `transcode: cannot run ffmpeg '${path}': not found or not executable; streams play untranscoded`,
        );
      }
    }
    return found ? path : undefined;
  }

  #createEngine(
    resolve: PublishTargetResolver,
    source: StreamKey, e: EngineConfig, index: number, ffmpegPath: string, block: string, lineage: ReadonlySet<string>, parentLog: Logger,
  ): Running | undefined {
    const name = e.id ?? String(index);
    const log = parentLog.child({ engine: name });
    let target: PublishTarget;
    try {
      target = resolve(transcodeOutputUrl(e, source));
    } catch (err) {
      log.error({ err, file: e.file, line: e.line }, `transcode output not usable: ${isGatewayError(err) ? err.message : String(err)}`);
      return undefined;
    }
    if (target.local && streamKeyString(target.key) === streamKeyString(source)) {
      log.error({ target: target.url, file: e.file, line: e.line }, 'transcode output is its own source: engine skipped');
      return undefined;
    }
    const running: Running = {
      block,
      lineage,
      engine: new TranscodeEngine({
        source,
        name,
        directives: engineDirectives(e),
        ffmpegPath,
        target,
        hub: this.#opts.hub,
        log: log.child({ target: target.url }),
        consumerOptions: this.#opts.consumerOptions?.(source),
        ...(this.#opts.minBackoffMs !== undefined ? { minBackoffMs: this.#opts.minBackoffMs } : {}),
        ...(this.#opts.maxBackoffMs !== undefined ? { maxBackoffMs: this.#opts.maxBackoffMs } : {}),
        // The supervisor logged the spawn failure; later publishes do not try this binary again.
        onFatal: () => this.#binaries.set(ffmpegPath, false),
        onEnd: (engine, reason) => this.#ended(source, engine, reason),
      }),
    };
    log.info({ target: target.url, mode: target.local ? 'pipe' : 'push' }, 'transcode engine');
    return running;
  }

  /**
   * An engine ended (source unpublished, consumer detached, ffmpeg unavailable): stop and forget it. An unpublish
   * its consumer told late (it held queued media) may come after the next publish, which then found the old
   * engines still listed: that publish is served once the last of them is gone.
   */
  #ended(source: StreamKey, engine: TranscodeEngine, reason: string): void {
    const k = streamKeyString(source);
    const list = this.#engines.get(k);
    const i = list?.findIndex((r) => r.engine === engine) ?? -1;
    if (list !== undefined && i >= 0) {
      const [r] = list.splice(i, 1);
      const out = streamKeyString(engine.target.key);
      if (this.#outputs.get(out) === r) this.#outputs.delete(out);
      if (list.length === 0) this.#engines.delete(k);
    }
    const prev = this.#stopping.get(k) ?? Promise.resolve();
    const done: Promise<void> = Promise.all([prev, engine.stop()]).then(() => {
      if (this.#stopping.get(k) === done) this.#stopping.delete(k);
    });
    this.#stopping.set(k, done);
    if (reason === SOURCE_UNPUBLISHED && !this.#engines.has(k) && this.#opts.hub.isPublishing(source)) this.#onPublish(source);
  }
}
