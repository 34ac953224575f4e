/**
 * The routes of the HTTP API: SRS's `/api/v1/` (trunk/src/app/srs_app_http_api.cpp SrsGoApi*: versions, summaries,
 * vhosts, streams, clients with kick-off, raw) and castgate's own (`/api/v1/casters`, `/api/v1/ingesters`), plus
 * `/metrics`. Handlers are pure over an ApiRequest and the statistics (no socket), so they are tested directly.
 *
 * castgate differs from SRS: `/api/v1/versions` reports castgate's version (major/minor/revision of its
 * package.json); `/api/v1/raw?rpc=reload` answers once the reload is done (SRS answers at once and reloads
 * later): code 0, or 1023 (ERROR_SYSTEM_CONFIG_INVALID) with `error: "file:line:col: message"` when the new config
 * was refused and the old one kept (1062 when no reload was given, as in unit tests);
 * `/metrics` is served whether or not the exporter is enabled (SRS answers code 1090 when it is off).
 */
import type { CasterJson, IngesterJson } from '../stats/inputs.ts';
import type { Statistics } from '../stats/statistics.ts';
import {
  codeResponse,
  effectiveMethod,
  httpError,
  jsonResponse,
  listWindow,
  okResponse,
  SrsErrorCode,
  textResponse,
  type ApiRequest,
  type ApiResponse,
} from './api-response.ts';
import { ApiRouter } from './api-router.ts';

/** What the routes read; functions are called per request, so a reloaded config shows at once. */
export interface ApiRoutesDeps {
  readonly statistics: Statistics;
  /** castgate's version, `MAJOR.MINOR.REVISION`. */
  readonly version: string;
  /** `http_api { }` as `/api/v1/raw?rpc=raw` reports it and rpc=reload checks it. */
  readonly httpApi: () => {
    readonly enabled: boolean;
    readonly listen: string;
    readonly crossdomain: boolean;
    readonly rawApi: { readonly enabled: boolean; readonly allowReload: boolean };
  };
  /** Reload the config (SIGHUP's work); undefined: rpc=reload answers 1062. */
  readonly reload?: (() => ReloadOutcome | Promise<ReloadOutcome>) | undefined;
  readonly casters: () => readonly CasterJson[];
  readonly ingesters: () => readonly IngesterJson[];
  /** The Prometheus text and its MIME type. */
  readonly metrics: () => Promise<{ readonly body: string; readonly contentType: string }>;
}

export type ApiResult = ApiResponse | Promise<ApiResponse>;

/** What a reload answers the RAW API: `error` (`file:line:col: message`) when the new config was refused. */
export interface ReloadOutcome {
  readonly error?: string | undefined;
}

/** The API's self-description (SrsGoApiV1 urls), castgate's endpoints included. */
const V1_URLS = {
  versions: 'the version of castgate',
  summaries: 'the summary(pid, argv, pwd, cpu, mem) of castgate',
  vhosts: 'manage all vhosts or specified vhost',
  streams: 'manage all streams or specified stream',
  clients: 'manage all clients or specified client, default query top 10 clients',
  raw: 'raw api for castgate, rpc=raw|reload',
  casters: 'castgate: every stream_caster and its sessions with per-input QoS',
  ingesters: 'castgate: every ingest block and its engines (ffmpeg state, restarts, fps, speed)',
} as const;

/** `MAJOR.MINOR.REVISION[-x]` → numbers (0 for what is missing). */
export function versionParts(version: string): { major: number; minor: number; revision: number } {
  const [major, minor, revision] = version.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const n = (v: number | undefined): number => (v !== undefined && Number.isFinite(v) ? v : 0);
  return { major: n(major), minor: n(minor), revision: n(revision) };
}

/** GET, or HEAD (answered as GET, the body left out by the server). */
function isGet(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** A page of a list (SRS dumps_streams/dumps_clients with start and count). */
function page<T>(items: readonly T[], query: URLSearchParams): T[] {
  const { start, count } = listWindow(query);
  return items.slice(start, start + count);
}

/** Build the API's router. */
export function buildApiRouter(deps: ApiRoutesDeps): ApiRouter<ApiRequest, ApiResult> {
  const stats = deps.statistics;
  const ids = { server: stats.serverId, service: stats.serviceId, pid: stats.pid };
  const router = new ApiRouter<ApiRequest, ApiResult>();
  /** A GET (and HEAD) route; SRS answers other methods 405. */
  const get = (pattern: string, handler: (req: ApiRequest, rest: string) => ApiResult): void => {
    router.add(pattern, (req, rest) => (isGet(effectiveMethod(req)) ? handler(req, rest) : httpError(405)));
  };

  get('/', (req, rest) => (rest === '' ? okResponse(req, ids, { urls: { api: 'the api root' } }) : httpError(404)));
  get('/api/', (req, rest) => (rest === '' ? okResponse(req, ids, { urls: { v1: 'the api version 1.0' } }) : httpError(404)));
  get('/api/v1/', (req, rest) => (rest === '' ? okResponse(req, ids, { urls: V1_URLS }) : httpError(404)));
  get('/api/v1/versions', (req) => okResponse(req, ids, { data: { ...versionParts(deps.version), version: deps.version } }));
  get('/api/v1/summaries', (req) => okResponse(req, ids, { data: stats.summaries() }));

  get('/api/v1/vhosts/', (req, id) => {
    if (id === '') return okResponse(req, ids, { vhosts: stats.vhosts() });
    const vhost = stats.vhost(id);
    return vhost === undefined ? codeResponse(req, SrsErrorCode.VhostNotFound) : okResponse(req, ids, { vhost });
  });
  get('/api/v1/streams/', (req, id) => {
    if (id === '') return okResponse(req, ids, { streams: page(stats.streams(), req.query) });
    const stream = stats.stream(id);
    return stream === undefined ? codeResponse(req, SrsErrorCode.StreamNotFound) : okResponse(req, ids, { stream });
  });
  router.add('/api/v1/clients/', (req, id) => {
    const method = effectiveMethod(req);
    if (isGet(method)) {
      if (id === '') return okResponse(req, ids, { clients: page(stats.clients(), req.query) });
      const client = stats.client(id);
      return client === undefined ? codeResponse(req, SrsErrorCode.ClientNotFound) : okResponse(req, ids, { client });
    }
    if (method === 'DELETE') {
      // SRS: DELETE without an id is "client not found" too.
      return id !== '' && stats.kick(id) ? okResponse(req, ids) : codeResponse(req, SrsErrorCode.ClientNotFound);
    }
    return httpError(405);
  });

  get('/api/v1/raw', (req) => {
    const rpc = req.query.get('rpc') ?? '';
    const api = deps.httpApi();
    if (rpc === 'raw') {
      return okResponse(req, ids, {
        http_api: {
          enabled: api.enabled,
          listen: api.listen,
          crossdomain: api.crossdomain,
          raw_api: { enabled: api.rawApi.enabled, allow_reload: api.rawApi.allowReload, allow_query: false, allow_update: false },
        },
      });
    }
    if (!api.rawApi.enabled) return codeResponse(req, SrsErrorCode.ConfigRawDisabled);
    if (rpc !== 'reload') return codeResponse(req, SrsErrorCode.ConfigRaw);
    if (!api.rawApi.allowReload) return codeResponse(req, SrsErrorCode.ConfigRawDisabled);
    if (deps.reload === undefined) return codeResponse(req, SrsErrorCode.ConfigRawNotAllowed);
    const reload = deps.reload;
    return (async () => {
      const r = await reload();
      return r.error === undefined ? codeResponse(req, SrsErrorCode.Success) : jsonResponse(req, { code: SrsErrorCode.ConfigInvalid, error: r.error });
    })();
  });

  get('/api/v1/casters', (req) => okResponse(req, ids, { casters: deps.casters() }));
  get('/api/v1/ingesters', (req) => okResponse(req, ids, { ingesters: deps.ingesters() }));
  get('/metrics', async () => {
    const m = await deps.metrics();
    return textResponse(m.body, m.contentType);
  });
  return router;
}
