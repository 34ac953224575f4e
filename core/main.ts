/**
 * Composition root (SRS srs_main_server.cpp): load the config, build the hub, start the RTMP server, the HTTP
 * server, the casters and the ingesters; stop them all cleanly on SIGINT/SIGTERM. The only core/ file that may import casters/ and ingest/.
 *
 * CLI (SRS/nginx style):
 *   castgate -c FILE        run in the foreground
 *   castgate -t -c FILE     check the config: exit 0, or 1 with `file:line:col: message`
 *   castgate --help | --version
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Logger } from './log.ts';
import { createLogger } from './log.ts';
import { isGatewayError } from './errors.ts';
import { loadConfig, vhostConfig, type Config } from './config/config.ts';
import { SourceHub } from './hub/source-hub.ts';
import { allowAllAdmission, type Admission, type ConsumerOptions } from './hub/ports.ts';
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
import { createCaster, type Caster } from '../casters/index.ts';
import { createIngesters, type Ingester } from '../ingest/index.ts';

export interface Gateway {
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
  readonly casters: readonly Caster[];
  /** One per enabled `vhost { ingest { } }` block, started after the casters. */
  readonly ingesters: readonly Ingester[];
  /** The HTTP API (`http_api`), Prometheus /metrics and the exporter (`exporter`); started last. */
  readonly api: HttpApi;
  /** Close listeners, unpublish every stream, end every player. Idempotent. */
  stop(): Promise<void>;
}

/** Start every part of the gateway from a loaded config. On a start error, what started is stopped again. */
export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
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
  const rtmp = new RtmpServer({
    hub,
    listen: config.listen,
    maxConnections: config.maxConnections,
    log,
    consumerOptions,
    mwLatencyMs: (key) => vhostConfig(config, key.vhost)?.mwLatencyMs ?? 0,
    vhostAllowed: (vhost) => vhostConfig(config, vhost) !== undefined,
  });
  const hls = new HlsServer({ hub, log, hls: (vhost) => vhostConfig(config, vhost)?.hls });
  const transcode = new TranscodeServer({ hub, log, transcodes: (vhost) => vhostConfig(config, vhost)?.transcodes, consumerOptions });
  const dvr = new DvrServer({ hub, log, dvr: (vhost) => vhostConfig(config, vhost)?.dvr });
  const forward = new ForwardServer({ hub, log, forward: (vhost) => vhostConfig(config, vhost)?.forward });
  const fastCache = new AudioFastCacheServer({
    hub,
    log,
    fastCacheMs: (vhost) => {
      const remux = vhostConfig(config, vhost)?.httpRemux;
      return config.httpServer.enabled && remux?.enabled === true ? remux.fastCacheMs : 0;
    },
  });
  // Security and http_hooks before every publish and play (core/control); read per call, so a reload applies.
  const admission: Admission = allowAllAdmission;
  let http: HttpServer | undefined;
  const casters: Caster[] = [];
  const ingesters: Ingester[] = [];
  const api = new HttpApi({
    hub,
    config: () => config,
    log,
    version: packageVersion(),
    casters: () => casters.map((c) => c.stats()),
    ingesters: () => ingesters.map((i) => i.stats()),
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
    const publishTarget = createPublishTargetResolver({ hub, rtmpPorts: rtmp.ports, log, admission });
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
      });
      await http.start();
    }
    for (const cfg of config.streamCasters) {
      if (!cfg.enabled) continue;
      const caster = createCaster(cfg, { log, publishTarget, maxConnections: config.maxConnections });
      await caster.start();
      casters.push(caster);
    }
    for (const ingester of createIngesters(config.vhosts.values(), { log, publishTarget })) {
      ingesters.push(ingester);
      ingester.start();
    }
    await api.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return { config, hub, rtmp, get http() { return http; }, hls, transcode, dvr, forward, casters, ingesters, api, stop };
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
Signals: SIGINT/SIGTERM stop the gateway cleanly.`;

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
  return undefined;
}
