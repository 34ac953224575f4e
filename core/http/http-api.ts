/**
 * The control plane's HTTP side: SRS's HTTP API on `http_api { listen 1985; }` (SrsHttpApi: CORS → auth → mux,
 * trunk/src/app/srs_app_http_conn.cpp) and the Prometheus exporter on `exporter { listen 9972; }` (SRS 5). Both
 * read one Statistics over the hub (core/stats), so every caster, ingester, RTMP and HTTP session is listed and
 * can be kicked without code of its own.
 *
 * Settings that apply per request (crossdomain, auth, raw_api) are read from `config()` at each request; the
 * listen addresses are read once at start.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Config, ListenAddress } from '../config/config.ts';
import { ErrorCode, GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { casterViews, ingesterViews, sampleCasterRates, type CasterJson, type CasterStatsView, type IngesterJson, type IngesterStatsView } from '../stats/inputs.ts';
import { createMetricsRegistry } from '../stats/metrics.ts';
import { Statistics, type StatsHub } from '../stats/statistics.ts';
import { checkBasicAuth, httpError, jsonpCallback, optionsResponse, withCors, type ApiRequest, type ApiResponse } from './api-response.ts';
import type { ApiRouter } from './api-router.ts';
import { buildApiRouter, type ApiResult, type ReloadOutcome } from './api-routes.ts';

/** A request must send its head within this time (slowloris guard, as the gateway's other listeners). */
const API_HEADERS_TIMEOUT_MS = 10_000;
/** How often Node checks that timeout. */
const API_TIMEOUT_CHECK_INTERVAL_MS = 500;
/** Concurrent API connections per listener; more are refused at accept. */
export const HTTP_API_MAX_CONNECTIONS = 256;

export interface HttpApiOptions {
  readonly hub: StatsHub;
  /** The running config, read per request (crossdomain, auth, raw_api) and at start (listen addresses). */
  readonly config: () => Config;
  readonly log: Logger;
  /** castgate's version (`/api/v1/versions`, srs_build_info). */
  readonly version: string;
  /** The running casters' stats() (casters/caster.ts CasterStats). */
  readonly casters?: () => readonly CasterStatsView[];
  /** The running ingesters' stats() (ingest/index.ts IngesterStats). */
  readonly ingesters?: () => readonly IngesterStatsView[];
  /** Config reload for `/api/v1/raw?rpc=reload` (answered when done); undefined: code 1062. */
  readonly reload?: () => ReloadOutcome | Promise<ReloadOutcome>;
  /** Statistics sampling period, ms (tests shorten it). */
  readonly sampleIntervalMs?: number;
}

export class HttpApi {
  readonly statistics: Statistics;
  /** The Prometheus registry behind /metrics. */
  readonly metrics: Registry;
  readonly #opts: HttpApiOptions;
  readonly #log: Logger;
  readonly #router: ApiRouter<ApiRequest, ApiResult>;
  readonly #apiServers: Server[] = [];
  readonly #exporterServers: Server[] = [];
  #apiPorts: number[] = [];
  #exporterPorts: number[] = [];

  constructor(opts: HttpApiOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'http-api' });
    const casters = (): readonly CasterStatsView[] => opts.casters?.() ?? [];
    this.statistics = new Statistics({
      hub: opts.hub,
      version: opts.version,
      vhosts: () => [...opts.config().vhosts.values()].map((v) => ({ name: v.name, enabled: v.enabled, hls: { enabled: v.hls.enabled, fragmentMs: v.hls.fragmentMs } })),
      onSample: (nowMs) => sampleCasterRates(casters(), this.statistics.rates, nowMs),
      ...(opts.sampleIntervalMs !== undefined ? { sampleIntervalMs: opts.sampleIntervalMs } : {}),
    });
    const exporter = opts.config().exporter;
    this.metrics = createMetricsRegistry({
      statistics: this.statistics,
      version: opts.version,
      label: exporter.label,
      tag: exporter.tag,
      casters: () => this.casters(),
      ingesters: () => this.ingesters(),
    });
    this.#router = buildApiRouter({
      statistics: this.statistics,
      version: opts.version,
      httpApi: () => {
        const api = opts.config().httpApi;
        return { ...api, listen: api.listen.map(formatListen).join(' ') };
      },
      reload: opts.reload,
      casters: () => this.casters(),
      ingesters: () => this.ingesters(),
      metrics: async () => ({ body: await this.metrics.metrics(), contentType: this.metrics.contentType }),
    });
  }

  /** Bound HTTP API ports (empty when `http_api` is off). */
  get apiPorts(): readonly number[] {
    return this.#apiPorts;
  }

  /** Bound exporter ports (empty when `exporter` is off). */
  get exporterPorts(): readonly number[] {
    return this.#exporterPorts;
  }

  /** `/api/v1/casters` entries now. */
  casters(): CasterJson[] {
    return casterViews(this.#opts.casters?.() ?? [], this.statistics.rates, Date.now());
  }

  /** `/api/v1/ingesters` entries now. */
  ingesters(): IngesterJson[] {
    const publishers = new Map<string, string>();
    for (const c of this.#opts.hub.clients()) if (c.publish) publishers.set(`${c.key.vhost}/${c.key.app}/${c.key.stream}`, c.who.id);
    return ingesterViews(this.#opts.ingesters?.() ?? [], (stream) => publishers.get(stream));
  }

  /**
   * Listen on `http_api listen` when enabled and on `exporter listen` when enabled; sample statistics when either is.
   * @throws GatewayError GW_ERR_LISTEN (e.g. EADDRINUSE); what was opened is closed again.
   */
  async start(): Promise<void> {
    const cfg = this.#opts.config();
    try {
      if (cfg.httpApi.enabled) this.#apiPorts = await this.#listen(cfg.httpApi.listen, this.#apiServers, 'HTTP API', false);
      if (cfg.exporter.enabled) this.#exporterPorts = await this.#listen(cfg.exporter.listen, this.#exporterServers, 'exporter', true);
    } catch (err) {
      await this.close();
      throw err;
    }
    if (cfg.httpApi.enabled || cfg.exporter.enabled) {
      this.statistics.sample();
      this.statistics.start();
      this.#log.info({ api: this.#apiPorts, exporter: this.#exporterPorts }, 'HTTP API listening');
    }
  }

  /** Close the listeners and their connections, stop sampling. Idempotent. */
  async close(): Promise<void> {
    this.statistics.stop();
    const servers = [...this.#apiServers.splice(0), ...this.#exporterServers.splice(0)];
    await Promise.all(servers.map((s) => new Promise<void>((ok) => {
      s.close(() => ok());
      s.closeAllConnections();
    })));
  }

  /**
   * Answer one request (SRS order: CORS, OPTIONS, authentication, route). `exporterOnly`: the exporter's listener,
   * which serves /metrics alone.
   */
  async handle(req: ApiRequest, exporterOnly = false): Promise<ApiResponse> {
    const api = this.#opts.config().httpApi;
    if (req.method === 'OPTIONS') return withCors(optionsResponse(api.crossdomain), req, api.crossdomain);
    const denied = checkBasicAuth(req, api.auth);
    if (denied !== undefined) return withCors(denied, req, api.crossdomain);
    if (jsonpCallback(req) === null) return withCors(httpError(400), req, api.crossdomain);
    const route = exporterOnly && req.path !== '/metrics' ? undefined : this.#router.match(req.path);
    let res: ApiResponse;
    try {
      res = route === undefined ? httpError(404) : await route.handler(req, route.rest);
    } catch (err) {
      this.#log.error({ err, path: req.path }, 'HTTP API handler failed');
      res = httpError(500);
    }
    return withCors(res, req, api.crossdomain);
  }

  async #listen(addrs: readonly ListenAddress[], servers: Server[], what: string, exporterOnly: boolean): Promise<number[]> {
    const ports: number[] = [];
    for (const addr of addrs) {
      const server = createServer(
        { headersTimeout: API_HEADERS_TIMEOUT_MS, requestTimeout: API_HEADERS_TIMEOUT_MS * 3, connectionsCheckingInterval: API_TIMEOUT_CHECK_INTERVAL_MS },
        (req, res) => void this.#serve(req, res, exporterOnly),
      );
      server.maxConnections = HTTP_API_MAX_CONNECTIONS;
      await new Promise<void>((ok, fail) => {
        server.once('error', (err) => fail(new GatewayError(ErrorCode.Listen, `${what} listen ${formatListen(addr)}: ${err.message}`, { cause: err })));
        server.listen(addr.port, addr.host, () => ok());
      });
      server.on('error', (err) => this.#log.error({ err }, `${what} server error`));
      servers.push(server);
      const a = server.address();
      ports.push(typeof a === 'object' && a !== null ? a.port : addr.port);
    }
    return ports;
  }

  async #serve(req: IncomingMessage, res: ServerResponse, exporterOnly: boolean): Promise<void> {
    req.resume(); // no API request has a body castgate reads
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://api.invalid');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const origin = req.headers.origin;
    const authorization = req.headers.authorization;
    const out = await this.handle(
      { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, origin, authorization },
      exporterOnly,
    );
    if (res.destroyed) return;
    const body = Buffer.from(out.body, 'utf8');
    res.writeHead(out.status, { ...out.headers, 'Content-Length': String(body.length), Server: `castgate/${this.#opts.version}` });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

function formatListen(a: ListenAddress): string {
  if (a.host === undefined) return String(a.port);
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
