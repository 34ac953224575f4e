/**
 * Owns the forwarders of the gateway (SRS SrsOriginHub::create_forwarders): on every publish of a stream whose vhost
 * has `forward { enabled on; destination ...; }`, one Forwarder per destination subscribes to the stream
 * (core/output/forwarder.ts); they end when the stream is unpublished, and the next publish gets new ones.
 *
 * Destinations are resolved per stream by the gateway's one PublishTargetResolver (core/output/publish-target.ts:
 * `[port]`, SRS's `app?vhost=v/stream` form, "is this gateway?"). A foreign server gets its own RtmpPushPublisher
 * (not the resolver's shared push port: a forward needs its own backoff 1 s → 30 s, the congestion signal for its
 * hub queue and per-destination stats); this gateway under another key gets an in-process publish.
 *
 * Loops (SRS SrsForwarder::on_publish refuses a destination equal to the server and vhost the stream came in on,
 * ERROR_SYSTEM_FORWARD_LOOP). A destination that names this gateway (a loopback or unspecified address, or an
 * address of one of this host's interfaces, with one of our RTMP ports; or a loopback host without a port) is:
 * - refused when it would publish the same vhost/app/stream (the stream would feed itself);
 * - refused when the stream itself was published by a forwarder of this gateway (protocol `forward`): one in-process
 *   hop at most, so vhosts that forward to each other inside one gateway cannot cycle;
 * - otherwise published in-process under the other key.
 * Between gateways, a forwarded stream is an ordinary RTMP publish (no marker travels with it); a cycle A → B → A
 * of the same key stops at A, which refuses the second publisher of a key it already has (GW_ERR_STREAM_BUSY), and
 * B keeps retrying with backoff until the stream ends.
 */
import { networkInterfaces } from 'node:os';
import type { ForwardConfig, ForwardDestination } from '../config/forward-config.ts';
import { isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { nextSessionId } from '../log.ts';
import { parseRtmpUrl, streamKeyString, type StreamKey } from '../media/stream-key.ts';
import type { ConsumerOptions, HubPort, PublishTarget, PublishTargetResolver, SessionInfo, SourceEvents } from '../hub/ports.ts';
import { FORWARD_PROTOCOL, Forwarder, forwardUrl, HubForwardSink, type ForwardSink, type ForwardStats } from './forwarder.ts';
import { RtmpPushPublisher, type RtmpPushOptions } from './rtmp-push.ts';

/** Reconnect backoff of a forward push: 1 s, doubled per failure, capped at 30 s (reset once publishing). */
export const FORWARD_MIN_BACKOFF_MS = 1_000;
export const FORWARD_MAX_BACKOFF_MS = 30_000;

export interface ForwardServerOptions {
  readonly hub: HubPort & SourceEvents;
  readonly log: Logger;
  /** The vhost's forward section; undefined for an unknown vhost. Read at each publish. */
  readonly forward: (vhost: string) => ForwardConfig | undefined;
  /** Push reconnect backoff, ms: default FORWARD_MIN_BACKOFF_MS → FORWARD_MAX_BACKOFF_MS. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Push connect timeout and socket high-water mark (RtmpPushPublisher defaults). */
  readonly connectTimeoutMs?: number;
  readonly highWaterBytes?: number;
  /** Hub queue bounds per forwarder; default the vhost's queue_length and the hub's byte cap (SRS: queue_length). */
  readonly queueLengthMs?: number;
  readonly queueMaxBytes?: number;
  /** This host's interface addresses, for the loop check; default those of os.networkInterfaces(). */
  readonly ownAddresses?: readonly string[];
  /** The sink of a foreign destination; default an RtmpPushPublisher with these options (a test seam). */
  readonly openPush?: (opts: RtmpPushOptions) => ForwardSink;
}

function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address.toLowerCase());
  return out;
}

function sameKey(a: StreamKey, b: StreamKey): boolean {
  return a.vhost === b.vhost && a.app === b.app && a.stream === b.stream;
}

export class ForwardServer {
  readonly #opts: ForwardServerOptions;
  /** Forwarders per stream key string, in destination order, while the stream is published. */
  readonly #streams = new Map<string, { readonly key: StreamKey; readonly list: Forwarder[] }>();
  #resolve: PublishTargetResolver | undefined;
  #rtmpPorts: readonly number[] = [];
  #ownAddresses: ReadonlySet<string> = new Set();
  #off: (() => void) | undefined;
  #closed = false;

  constructor(opts: ForwardServerOptions) {
    this.#opts = opts;
  }

  /**
   * Follow publishes. Idempotent.
   * @param resolve the gateway's one resolver of output URLs.
   * @param rtmpPorts our bound RTMP ports (a destination on one of them at one of our addresses is this gateway).
   */
  start(resolve: PublishTargetResolver, rtmpPorts: readonly number[]): void {
    if (this.#off !== undefined || this.#closed) return;
    this.#resolve = resolve;
    this.#rtmpPorts = rtmpPorts;
    this.#ownAddresses = new Set(this.#opts.ownAddresses ?? interfaceAddresses());
    this.#off = this.#opts.hub.onPublish((key, who) => this.#onPublish(key, who));
  }

  /** The forwarders of a stream while it is published (refused ones included, for their stats). */
  forwarders(key: StreamKey): readonly Forwarder[] {
    this.#prune();
    return this.#streams.get(streamKeyString(key))?.list ?? [];
  }

  /** Per stream key string, one entry per destination. */
  stats(): Record<string, ForwardStats[]> {
    this.#prune();
    const out: Record<string, ForwardStats[]> = {};
    for (const [k, { list }] of this.#streams) out[k] = list.map((f) => f.stats());
    return out;
  }

  /** Stop following publishes and end every forward (pushes unpublish). Idempotent. */
  close(): void {
    this.#closed = true;
    this.#off?.();
    this.#off = undefined;
    const all = [...this.#streams.values()].flatMap((s) => s.list);
    this.#streams.clear();
    for (const f of all) f.close('gateway stopping');
  }

  #onPublish(key: StreamKey, who: SessionInfo): void {
    if (this.#closed) return;
    const cfg = this.#opts.forward(key.vhost);
    if (cfg?.enabled !== true || cfg.destinations.length === 0) return;
    const k = streamKeyString(key);
    this.#prune();
    // Forwarders of the previous publish whose hub queue has not delivered the unpublish yet (slow destination).
    for (const f of this.#streams.get(k)?.list ?? []) f.close('republished');
    const list: Forwarder[] = [];
    this.#streams.set(k, { key, list });
    for (const dest of cfg.destinations) list.push(this.#open(key, who, dest, list));
  }

  #open(key: StreamKey, who: SessionInfo, dest: ForwardDestination, list: Forwarder[]): Forwarder {
    const id = nextSessionId('forward');
    const log = this.#opts.log.child({ stream: streamKeyString(key), output: 'forward', destination: dest.text, session: id });
    let url = '';
    let target: PublishTarget | undefined;
    let error: unknown;
    try {
      url = forwardUrl(dest, key, who.query ?? '');
      target = (this.#resolve as PublishTargetResolver)(url);
      url = target.url;
    } catch (err) {
      error = err;
    }
    const local = target !== undefined && (target.local || this.#isOwnInterface(target.url));
    const f = new Forwarder({ key, destination: dest, url, local, log, onEnd: () => this.#ended(key, list) });
    if (target === undefined) {
      f.refuse('error', error instanceof Error ? error.message : String(error));
      return f;
    }
    const forwarderWho: SessionInfo = { id, protocol: FORWARD_PROTOCOL };
    let sink: ForwardSink;
    if (local) {
      if (sameKey(target.key, key)) {
        f.refuse('loop', `${url} is this gateway and the same stream ${streamKeyString(key)}: a forward loop`);
        return f;
      }
      if (who.protocol === FORWARD_PROTOCOL) {
        f.refuse('loop', `${streamKeyString(key)} was itself forwarded in by this gateway; not forwarded into it again`);
        return f;
      }
      try {
        sink = new HubForwardSink(this.#opts.hub.publish(target.key, forwarderWho));
      } catch (err) {
        if (!isGatewayError(err)) throw err;
        f.refuse('error', err.message);
        return f;
      }
    } else {
      const o = this.#opts;
      const pushOpts: RtmpPushOptions = {
        url: target.url,
        key: target.key,
        log,
        minBackoffMs: o.minBackoffMs ?? FORWARD_MIN_BACKOFF_MS,
        maxBackoffMs: o.maxBackoffMs ?? FORWARD_MAX_BACKOFF_MS,
        ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
        ...(o.highWaterBytes !== undefined ? { highWaterBytes: o.highWaterBytes } : {}),
        onWritable: f.onWritable,
      };
      sink = o.openPush !== undefined ? o.openPush(pushOpts) : new RtmpPushPublisher(pushOpts);
    }
    f.open(sink);
    const queue: ConsumerOptions = {
      useGopCache: true,
      ...(this.#opts.queueLengthMs !== undefined ? { queueLengthMs: this.#opts.queueLengthMs } : {}),
      ...(this.#opts.queueMaxBytes !== undefined ? { queueMaxBytes: this.#opts.queueMaxBytes } : {}),
    };
    f.attach(this.#opts.hub.subscribe(key, forwarderWho, f, queue));
    return f;
  }

  /** A URL at one of this host's interface addresses with one of our RTMP ports (loopback is the resolver's). */
  #isOwnInterface(url: string): boolean {
    const { host, port } = parseRtmpUrl(url);
    return this.#rtmpPorts.includes(port) && this.#ownAddresses.has(host.toLowerCase());
  }

  /** A forwarder ended: forget the stream once all of its forwarders have. */
  #ended(key: StreamKey, list: Forwarder[]): void {
    const k = streamKeyString(key);
    if (this.#streams.get(k)?.list === list && list.every((f) => f.ended)) this.#streams.delete(k);
  }

  /** Forget streams no longer published whose forwarders were all refused (nothing attached to see the unpublish). */
  #prune(): void {
    for (const [k, s] of this.#streams) {
      if (!this.#opts.hub.isPublishing(s.key) && s.list.every((f) => f.ended)) this.#streams.delete(k);
    }
  }
}
