/**
 * Owns the DVR recordings of the gateway (SRS SrsDvr per SrsLiveSource): on every publish of a stream whose vhost
 * has `dvr { enabled on; }` and whose app/stream `dvr_apply` selects, it attaches one DvrRecorder as a hub
 * consumer. A recorder lives for one publish; the next publish gets a new one. A recorder still busy with the
 * previous publish of the same stream (its consumer has not drained yet: a slow disk) is finished first, so two
 * publishes never share a file.
 */
import type { DvrConfig } from '../../config/dvr-config.ts';
import { dvrApplies } from '../../config/dvr-config.ts';
import type { Logger } from '../../log.ts';
import { nextSessionId } from '../../log.ts';
import { streamKeyString, type StreamKey } from '../../media/stream-key.ts';
import type { HubPort, RecordingEvents, SourceEvents } from '../../hub/ports.ts';
import type { DvrFileSystem } from './dvr-file-system.ts';
import { DvrRecorder, type DvrRecorderStats } from './dvr-recorder.ts';

/** Counters over every recording since the server started. */
export interface DvrTotals {
  readonly files: number;
  readonly failedFiles: number;
  readonly bytes: number;
  readonly droppedMessages: number;
}

/** Media time a recorder's hub consumer may queue while the disk is busy before it drops GOPs, ms. */
export const DVR_QUEUE_LENGTH_MS = 30_000;

export interface DvrServerOptions {
  readonly hub: HubPort & SourceEvents;
  readonly log: Logger;
  /** The vhost's dvr section; undefined for an unknown vhost. Read at each publish. */
  readonly dvr: (vhost: string) => DvrConfig | undefined;
  /** Told about each finished file (http_hooks on_dvr). */
  readonly events?: Pick<RecordingEvents, 'onDvr'>;
  /** Wall clock for path variables; default Date.now. */
  readonly now?: () => number;
  /** Default node:fs/promises. */
  readonly fs?: DvrFileSystem;
  /** The recorders' consumer queue bounds: default DVR_QUEUE_LENGTH_MS and the hub's byte cap. */
  readonly queueLengthMs?: number;
  readonly queueMaxBytes?: number;
  /** Disk-queue marks of each recorder (DvrRecorder defaults). */
  readonly highWaterBytes?: number;
  readonly lowWaterBytes?: number;
}

export class DvrServer {
  readonly #opts: DvrServerOptions;
  readonly #recorders = new Map<string, DvrRecorder>();
  /** Recorders that ended and are still finishing files (awaited by close). */
  readonly #finishing = new Set<Promise<void>>();
  /** Counters of recordings that ended. */
  #ended = { files: 0, failedFiles: 0, bytes: 0, droppedMessages: 0 };
  /** Recordings that ended and still finish their last file: counted into #ended when done. */
  readonly #endedLive = new Set<DvrRecorder>();
  #off: (() => void) | undefined;
  #closed = false;

  constructor(opts: DvrServerOptions) {
    this.#opts = opts;
  }

  /** Follow publishes. Idempotent. */
  start(): void {
    if (this.#off !== undefined || this.#closed) return;
    this.#off = this.#opts.hub.onPublish((key) => this.#onPublish(key));
  }

  /** The recorder of a stream while it records. */
  recorder(key: StreamKey): DvrRecorder | undefined {
    return this.#recorders.get(streamKeyString(key));
  }

  stats(): Record<string, DvrRecorderStats> {
    const out: Record<string, DvrRecorderStats> = {};
    for (const [k, r] of this.#recorders) out[k] = r.stats();
    return out;
  }

  /** Files, failed files, bytes and dropped messages of every recording so far (live and ended). */
  totals(): DvrTotals {
    const t = { ...this.#ended };
    for (const r of [...this.#recorders.values(), ...this.#endedLive]) {
      const s = r.stats();
      t.files += s.files;
      t.failedFiles += s.failedFiles;
      t.bytes += s.bytes;
      t.droppedMessages += s.droppedMessages;
    }
    return t;
  }

  /** Resolves when every file finished so far is closed and renamed (or failed). */
  async idle(): Promise<void> {
    while (this.#finishing.size > 0) await Promise.allSettled([...this.#finishing]);
  }

  /** Stop following publishes and finish every recording (open files are closed and renamed). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#off?.();
    this.#off = undefined;
    const recorders = [...this.#recorders.values()];
    this.#recorders.clear();
    await Promise.allSettled(recorders.map((r) => r.close()));
    await this.idle();
  }

  #onPublish(key: StreamKey): void {
    if (this.#closed) return;
    const cfg = this.#opts.dvr(key.vhost);
    if (cfg?.enabled !== true || !dvrApplies(cfg, key.app, key.stream)) return;
    const k = streamKeyString(key);
    this.#recorders.get(k)?.onSourceEvent('unpublish'); // the previous publish's recorder, not drained yet
    const log = this.#opts.log.child({ stream: k, output: 'dvr' });
    const o = this.#opts;
    const recorder = new DvrRecorder({
      key,
      config: cfg,
      log,
      ...(o.now !== undefined ? { now: o.now } : {}),
      ...(o.fs !== undefined ? { fs: o.fs } : {}),
      ...(o.highWaterBytes !== undefined ? { highWaterBytes: o.highWaterBytes } : {}),
      ...(o.lowWaterBytes !== undefined ? { lowWaterBytes: o.lowWaterBytes } : {}),
      onEnd: (r) => this.#onEnded(k, r),
      ...(o.events !== undefined ? { onFile: (file: string) => this.#fileDone(key, file) } : {}),
    });
    this.#recorders.set(k, recorder);
    const queue = { queueLengthMs: o.queueLengthMs ?? DVR_QUEUE_LENGTH_MS, ...(o.queueMaxBytes !== undefined ? { queueMaxBytes: o.queueMaxBytes } : {}) };
    recorder.attach(o.hub.subscribe(key, { id: nextSessionId('dvr'), protocol: 'dvr' }, recorder, { ...queue, useGopCache: true }));
    log.info({ plan: cfg.plan, path: cfg.path }, 'DVR started');
  }

  /** on_dvr (SRS SrsDvrPlan::on_reap_segment → on_dvr); a throwing listener is logged. */
  #fileDone(key: StreamKey, file: string): void {
    try {
      this.#opts.events?.onDvr({ key, file });
    } catch (err) {
      this.#opts.log.warn({ err, file }, 'on_dvr notification failed');
    }
  }

  #onEnded(k: string, r: DvrRecorder): void {
    if (this.#recorders.get(k) === r) this.#recorders.delete(k);
    this.#endedLive.add(r);
    const done = r.close().then(() => {
      this.#endedLive.delete(r);
      const s = r.stats();
      this.#ended.files += s.files;
      this.#ended.failedFiles += s.failedFiles;
      this.#ended.bytes += s.bytes;
      this.#ended.droppedMessages += s.droppedMessages;
    });
    this.#finishing.add(done);
    void done.finally(() => this.#finishing.delete(done));
  }
}
