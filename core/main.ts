/**
 * Composition root (SRS srs_main_server.cpp): load the config, build the hub, start the RTMP server, the HTTP
 * server, the casters and the ingesters; stop them all cleanly on SIGINT/SIGTERM. The only core/ file that may import casters/ and ingest/.
 *
 * CLI (SRS/nginx style):
 *   castgate -c FILE        run in the foreground
 *   castgate -t -c FILE     check the config: exit 0, or 1 with `file:line:col: message`
 *   castgate --help | --version
 *
 * Reload (SIGHUP, or `GET /api/v1/raw?rpc=reload` with `http_api { raw_api { enabled on; allow_reload on; } }`;
 * SRS SrsServer::on_signal/SrsConfig::reload): the config file is loaded again. An invalid file is refused with its
 * `file:line:col: message` (logged; the API answers code 1023 ERROR_SYSTEM_CONFIG_INVALID with it) and the running
 * config stays. A valid one replaces the config every per-call lookup reads, then (core/config/config-diff.ts):
 * - vhost settings (play, http_remux, hls, dvr, forward, security, http_hooks, transcode) apply to sessions and
 *   publishes that start after the reload; running players and publishers go on untouched;
 * - `stream_caster` blocks are compared by content: a removed or changed one stops (its sessions end), an added or
 *   changed one starts (a start failure, e.g. a port in use, is logged, the rest still applies, and the next reload
 *   tries it again), an unchanged one keeps its sockets and sessions (SRS cannot reload casters);
 * - an ingester restarts only when its own `ingest` block changed (or its vhost was removed or disabled);
 * - transcode engines of a removed or changed `transcode` block stop, new or changed blocks start on the streams
 *   published now, engines of unchanged blocks run on;
 * - HLS: a new `hls_window` applies to the running muxers from their next segment on; every other hls setting
 *   (`hls_fragment` too: EXT-X-TARGETDURATION must not change within a playlist) applies from the stream's next
 *   publish; `hls { enabled on; }` starts HLS on the streams published now, `enabled off` ends it on them;
 * - dvr and forward settings apply from a stream's next publish (running recordings and forwarders go on);
 * - `srs_log_level` applies to loggers made after the reload (new sessions);
 * - settings read at start need a restart and are logged as such: RTMP `listen`, `max_connections`, `http_server`
 *   enabled/listen/dir, `http_api` enabled/listen, `exporter` (SRS reloads its listeners; castgate does not yet).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Logger } from './log.ts';
import { createLogger } from './log.ts';
import { isGatewayError } from './errors.ts';
import { loadConfig, vhostConfig, type Config, type StreamCasterConfig } from './config/config.ts';
import { changedVhosts, diffBlocks, ingestIdentity, restartNeeded, runningCasters, runningIngests, type VhostIngest } from './config/config-diff.ts';
import { SourceHub } from './hub/source-hub.ts';
import { type ConsumerOptions, type PublishTargetResolver } from './hub/ports.ts';
import type { StreamKey } from './media/stream-key.ts';
import { RtmpServer } from './output/rtmp-server.ts';
import { HttpServer } from './output/http-server.ts';
import { HlsServer } from './output/hls/hls-server.ts';
import { TranscodeServer } from './output/transcoder.ts';
import { DvrServer } from './output/dvr/dvr-server.ts';
import { ForwardServer } from './output/forward-server.ts';
import { AudioFastCacheServer } from './output/audio-fast-cache.ts';
import { createPublishTargetResolver } from './output/publish-target.ts';
import { HttpApi } from './http/http-api.ts';
import { GatewayAdmission } from './control/admission.ts';
import { createCaster, type Caster } from '../casters/index.ts';
import { Ingester } from '../ingest/index.ts';

/** What a reload did (Gateway.reload). */
export type ReloadResult =
  | {
    readonly ok: true;
    /** `listen` of the casters stopped and started (a changed one is in both). */
    readonly castersStopped: readonly number[];
    readonly castersStarted: readonly number[];
    /** Casters whose start failed (logged), e.g. a port in use. */
    readonly castersFailed: readonly number[];
    /** `vhost/id` of the ingesters stopped and started. */
    readonly ingestersStopped: readonly string[];
    readonly ingestersStarted: readonly string[];
    /** Vhosts whose settings changed. */
    readonly vhosts: readonly string[];
    /** Changed directives that only a restart applies (logged). */
    readonly restartNeeded: readonly string[];
  }
  | {
    readonly ok: false;
    /** `file:line:col: message` of the refused config (or why it could not be read). */
    readonly error: string;
  };

export interface Gateway {
  /** The running config: the one started with, or the last one a reload accepted. */
  readonly config: Config;
  readonly hub: SourceHub;
  readonly rtmp: RtmpServer;
  readonly http: HttpServer | undefined;
  /** HLS muxers of every stream whose vhost has `hls { enabled on; }`. */
  readonly hls: HlsServer;
  /** ffmpeg transcodes of every stream a `transcode { }` block of its vhost matches. */
  readonly transcode: TranscodeServer;
  /** DVR recordings of every stream whose vhost has `dvr { enabled on; }`. */
  readonly dvr: DvrServer;
  /** Forwarders of every stream whose vhost has `forward { enabled on; }`. */
  readonly forward: ForwardServer;
  /** One per enabled `stream_caster` block now running (a reload adds and removes). */
  readonly casters: readonly Caster[];
  /** One per enabled `vhost { ingest { } }` block, started after the casters (a reload adds and removes). */
  readonly ingesters: readonly Ingester[];
  /** The HTTP API (`http_api`), Prometheus /metrics and the exporter (`exporter`); started last. */
  readonly api: HttpApi;
  /**
   * Load `config.file` again and apply what changed (see the module doc). Reloads run one at a time, in call order.
   * Never throws: an invalid file is `{ ok: false, error }` and the running config stays.
   */
  reload(): Promise<ReloadResult>;
  /** Close listeners, unpublish every stream, end every player. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Start every part of the gateway from a loaded config. On a start error, what started is stopped again.
 * `reload()` reads `initial.file` again.
 */
export async function startGateway(initial: Config, log: Logger): Promise<Gateway> {
  /** The running config: every per-call lookup below reads this variable, so a reload swaps it in one place. */
  let config = initial;
  const hub = new SourceHub({
    log,
    vhost: (name) => {
      const v = vhostConfig(config, name);
      return { gopCache: v?.gopCache ?? true, queueLengthMs: v?.queueLengthMs ?? 10_000, timeJitter: v?.timeJitter ?? 'full' };
    },
  });
  const consumerOptions = (key: StreamKey): ConsumerOptions | undefined => {
    const v = vhostConfig(config, key.vhost);
    return v === undefined ? undefined : { queueLengthMs: v.queueLengthMs, useGopCache: v.gopCache };
  };
  // Security and http_hooks before every publish and play (core/control); read per call, so a reload applies.
  // Ends (on_unpublish / on_stop) come from the hub's SessionEvents; ids are the HTTP API's (api is built below).
  const admission = new GatewayAdmission({
    log,
    hub,
    vhost: (name) => vhostConfig(config, name),
    serverIds: () => ({ serverId: api.statistics.serverId, serviceId: api.statistics.serviceId }),
  });
  const rtmp = new RtmpServer({
    hub,
    listen: config.listen,
    maxConnections: config.maxConnections,
    log,
    consumerOptions,
    mwLatencyMs: (key) => vhostConfig(config, key.vhost)?.mwLatencyMs ?? 0,
    vhostAllowed: (vhost) => vhostConfig(config, vhost) !== undefined,
    admission,
    connections: admission,
  });
  const hls = new HlsServer({ hub, log, hls: (vhost) => vhostConfig(config, vhost)?.hls, events: admission, admission, clients: hub });
  const transcode = new TranscodeServer({ hub, log, transcodes: (vhost) => vhostConfig(config, vhost)?.transcodes, consumerOptions });
  const dvr = new DvrServer({ hub, log, dvr: (vhost) => vhostConfig(config, vhost)?.dvr, events: admission });
  const forward = new ForwardServer({ hub, log, forward: (vhost) => vhostConfig(config, vhost)?.forward });
  const fastCache = new AudioFastCacheServer({
    hub,
    log,
    fastCacheMs: (vhost) => {
      const remux = vhostConfig(config, vhost)?.httpRemux;
      return config.httpServer.enabled && remux?.enabled === true ? remux.fastCacheMs : 0;
    },
  });
  let http: HttpServer | undefined;
  const casters: Caster[] = [];
  const ingesters: Ingester[] = [];
  /** The block each running caster / ingester was made from (what a reload compares). */
  const casterBlocks = new Map<Caster, StreamCasterConfig>();
  const ingesterBlocks = new Map<Ingester, VhostIngest>();
  let publishTarget: PublishTargetResolver | undefined;
  const api = new HttpApi({
    hub,
    config: () => config,
    log,
    version: packageVersion(),
    casters: () => casters.map((c) => c.stats()),
    ingesters: () => ingesters.map((i) => i.stats()),
    reload: async () => {
      const r = await reload();
      return r.ok ? {} : { error: r.error };
    },
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled(ingesters.map((i) => i.stop()));
    await Promise.allSettled(casters.map((c) => c.stop()));
    await transcode.close();
    await hls.close();
    await dvr.close();
    forward.close();
    fastCache.close();
    hub.close();
    await Promise.allSettled([rtmp.close(), http?.close(), api.close()]);
    log.info('gateway stopped');
  };
  try {
    hls.start();
    dvr.start();
    fastCache.start();
    await rtmp.start();
    // One resolver of output URLs (this hub, or an RTMP push to a foreign server) for every caster, ingester and
    // forwarder. Forwarders follow publishes from here on: no await since rtmp.start(), so none is missed.
    publishTarget = createPublishTargetResolver({ hub, rtmpPorts: rtmp.ports, log, admission });
    forward.start(publishTarget, rtmp.ports);
    transcode.start(publishTarget);
    if (config.httpServer.enabled) {
      http = new HttpServer({
        hub,
        listen: config.httpServer.listen,
        dir: config.httpServer.dir,
        log,
        remux: (vhost) => vhostConfig(config, vhost)?.httpRemux,
        hlsRoot: (vhost) => {
          const h = vhostConfig(config, vhost)?.hls;
          return h?.enabled === true ? h.path : undefined;
        },
        hlsLive: (req, res, vhost, path, query) => hls.serveLive(req, res, vhost, path, query),
        vhostNames: () => [...config.vhosts.keys()],
        consumerOptions,
        fastCache: (key) => fastCache.snapshot(key),
        mwLatencyMs: (key) => vhostConfig(config, key.vhost)?.mwLatencyMs ?? 0,
        maxConnections: config.maxConnections,
        admission,
        hlsPlay: (req, vhost, path, search) => hls.admitPlaylist(req, vhost, path, search),
        hlsServed: (req, path, bytes) => hls.segmentServed(req, path, bytes),
        hlsSegmentAllowed: (req, vhost) => admission.securityAllows(vhost, 'play', req.socket.remoteAddress),
      });
      await http.start();
    }
    for (const cfg of config.streamCasters) {
      if (!cfg.enabled) continue;
      const caster = newCaster(cfg, publishTarget);
      await caster.start();
      casters.push(caster);
      casterBlocks.set(caster, cfg);
    }
    for (const block of runningIngests(config)) startIngester(block, publishTarget);
    await api.start();
  } catch (err) {
    await stop();
    throw err;
  }

  function newCaster(cfg: StreamCasterConfig, target: PublishTargetResolver): Caster {
    return createCaster(cfg, { log, publishTarget: target, maxConnections: config.maxConnections });
  }

  /** Build and start the ingester of one block. @throws GatewayError as the Ingester constructor. */
  function startIngester(block: VhostIngest, target: PublishTargetResolver): void {
    const ingester = new Ingester(block.ingest, { log, publishTarget: target, vhost: block.vhost });
    ingesters.push(ingester);
    ingesterBlocks.set(ingester, block);
    ingester.start();
  }

  let reloads: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadResult> => {
    const next = reloads.then(() => applyReload());
    reloads = next.catch(() => undefined);
    return next;
  };

  async function applyReload(): Promise<ReloadResult> {
    const file = config.file;
    if (stopped || publishTarget === undefined) return { ok: false, error: 'the gateway is not running' };
    let after: Config;
    try {
      const loaded = loadConfig(file);
      for (const w of loaded.warnings) log.warn(`${w.file}:${w.line}:${w.col}: warning: ${w.message}`);
      after = loaded.config;
    } catch (err) {
      const error = isGatewayError(err) ? err.message : String(err);
      log.error({ conf: file, error }, `reload refused, the running config is kept: ${error}`);
      return { ok: false, error };
    }
    const before = config;
    // Compared with what runs (not with the old config): a block whose start failed last time is tried again.
    const casterDiff = diffBlocks([...casterBlocks.values()], runningCasters(after));
    const ingestDiff = diffBlocks([...ingesterBlocks.values()], runningIngests(after), ingestIdentity);
    const restart = restartNeeded(before, after);
    const vhosts = changedVhosts(before, after);
    config = after;
    if (before.logLevel !== after.logLevel) log.level = after.logLevel;
    for (const r of restart) {
      log.warn({ directive: r.directive, running: r.before, wanted: r.after }, `reload: '${r.directive}' changed, a restart is needed to apply it`);
    }
    // Stop first: a changed block's new listener or stream may need the port or stream key of its old one.
    const stoppingIngesters = [...ingesterBlocks].filter(([, b]) => ingestDiff.stopped.includes(b)).map(([i]) => i);
    const stoppingCasters = [...casterBlocks].filter(([, b]) => casterDiff.stopped.includes(b)).map(([c]) => c);
    for (const i of stoppingIngesters) {
      ingesters.splice(ingesters.indexOf(i), 1);
      ingesterBlocks.delete(i);
    }
    for (const c of stoppingCasters) {
      casters.splice(casters.indexOf(c), 1);
      casterBlocks.delete(c);
    }
    await Promise.allSettled([...stoppingIngesters.map((i) => i.stop()), ...stoppingCasters.map((c) => c.stop())]);
    // Unchanged blocks: the running ones now belong to the new config's block.
    for (const { before: b, after: a } of casterDiff.kept) {
      for (const [c, cfg] of casterBlocks) if (cfg === b) casterBlocks.set(c, a);
    }
    for (const { before: b, after: a } of ingestDiff.kept) {
      for (const [i, blk] of ingesterBlocks) if (blk === b) ingesterBlocks.set(i, a);
    }
    const castersFailed: number[] = [];
    for (const cfg of casterDiff.started) {
      if (stopped) break;
      const where = `${cfg.file}:${cfg.line}`;
      let caster: Caster | undefined;
      try {
        caster = newCaster(cfg, publishTarget);
        await caster.start();
      } catch (err) {
        castersFailed.push(cfg.listen.port);
        log.error({ err, caster: cfg.caster, listen: cfg.listen.port, where }, `reload: stream_caster at ${where} not started: ${isGatewayError(err) ? err.message : String(err)}`);
        await caster?.stop().catch(() => undefined);
        continue;
      }
      if (stopped) {
        await caster.stop();
        break;
      }
      casters.push(caster);
      casterBlocks.set(caster, cfg);
      log.info({ caster: cfg.caster, listen: cfg.listen.port, where }, 'reload: stream_caster started');
    }
    for (const block of ingestDiff.started) {
      if (stopped) break;
      try {
        startIngester(block, publishTarget);
      } catch (err) {
        log.error({ err, ingest: block.ingest.id, vhost: block.vhost }, `reload: ingest '${block.ingest.id}' not started: ${isGatewayError(err) ? err.message : String(err)}`);
      }
    }
    if (!stopped) {
      const publishing = hub.clients().filter((c) => c.publish).map((c) => c.key);
      transcode.reload(publishing);
      hls.reload(publishing);
    }
    const result: ReloadResult = {
      ok: true,
      castersStopped: casterDiff.stopped.map((c) => c.listen.port),
      castersStarted: casterDiff.started.map((c) => c.listen.port).filter((p) => !castersFailed.includes(p)),
      castersFailed,
      ingestersStopped: ingestDiff.stopped.map((b) => `${b.vhost}/${b.ingest.id}`),
      ingestersStarted: ingestDiff.started.map((b) => `${b.vhost}/${b.ingest.id}`),
      vhosts,
      restartNeeded: restart.map((r) => r.directive),
    };
    log.info({ conf: file, ...result }, 'config reloaded');
    return result;
  }

  return {
    get config() {
      return config;
    },
    hub, rtmp, get http() { return http; }, hls, transcode, dvr, forward, casters, ingesters, api, reload, stop,
  };
}

function packageVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, '..', 'package.json'), join(here, '..', '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'castgate' && pkg.version !== undefined) return pkg.version;
    } catch {
      // try the next location (sources vs dist/)
    }
  }
  return 'unknown';
}

const HELP = `Usage: castgate [-t] -c FILE
  -c, --conf FILE   configuration file (SRS syntax), e.g. conf/castgate.conf
  -t, --test        check the configuration file and exit (0 = ok, 1 = error with file:line:col)
  -v, --version     print the version and exit
  -h, --help        print this help and exit
Signals: SIGINT/SIGTERM stop the gateway cleanly; SIGHUP reloads the configuration file.`;

/** Run the command line. Resolves with the process exit code for -t/--help/--version; otherwise runs until a signal. */
export async function runCli(argv: readonly string[]): Promise<number | undefined> {
  let values: { conf?: string | undefined; test?: boolean | undefined; help?: boolean | undefined; version?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { conf: { type: 'string', short: 'c' }, test: { type: 'boolean', short: 't' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`castgate: ${(err as Error).message}\n${HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.version === true) {
    process.stdout.write(`castgate ${packageVersion()}\n`);
    return 0;
  }
  const file = values.conf ?? 'conf/castgate.conf';
  let config: Config;
  try {
    const loaded = loadConfig(file);
    for (const w of loaded.warnings) process.stderr.write(`${w.file}:${w.line}:${w.col}: warning: ${w.message}\n`);
    config = loaded.config;
  } catch (err) {
    process.stderr.write(`${isGatewayError(err) ? err.message : String(err)}\n`);
    if (values.test === true) process.stderr.write(`castgate: configuration file ${file} test failed\n`);
    return 1;
  }
  if (values.test === true) {
    process.stdout.write(`castgate: the configuration file ${file} syntax is ok\ncastgate: configuration file ${file} test is successful\n`);
    return 0;
  }
  const log = createLogger(config.logLevel);
  let gw: Gateway;
  try {
    gw = await startGateway(config, log);
  } catch (err) {
    log.fatal({ err }, 'gateway failed to start');
    process.stderr.write(`castgate: ${isGatewayError(err) ? err.message : String(err)}\n`);
    return 1;
  }
  log.info({ version: packageVersion(), conf: file, rtmp: gw.rtmp.ports, http: gw.http?.ports ?? [] }, 'castgate started');
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'stopping');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    void gw.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP reloads (SRS SRS_SIGNAL_RELOAD); the outcome is logged by reload().
  process.on('SIGHUP', () => void gw.reload());
  return undefined;
}
