/**
 * The HTTP API's routes answered by HttpApi.handle (no socket): navigation, versions, lists with pages, lookups,
 * kick, the RAW API's codes for each raw_api setting, castgate's casters/ingesters, /metrics, the exporter's
 * /metrics-only listener, a failing handler (500), and the listeners themselves on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText, type Config } from '../../../core/config/config.ts';
import type { ApiRequest } from '../../../core/http/api-response.ts';
import { versionParts } from '../../../core/http/api-routes.ts';
import { HttpApi, type HttpApiOptions } from '../../../core/http/http-api.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { CaptureTarget, keyframe, silentLog } from '../hub/hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };
type Json = Record<string, unknown>;

function conf(text: string): Config {
  return loadConfigText(text, 'conf/api.conf').config;
}

function setup(configText = 'http_api { enabled on; listen 127.0.0.1:0; }', opts: Partial<HttpApiOptions> = {}): { hub: SourceHub; api: HttpApi } {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const config = conf(configText);
  return { hub, api: new HttpApi({ hub, config: () => config, log: silentLog, version: '3.4.5', ...opts }) };
}

function req(pathAndQuery: string, method = 'GET'): ApiRequest {
  const u = new URL(pathAndQuery, 'http://x');
  return { method, path: u.pathname, query: u.searchParams, origin: undefined, authorization: undefined };
}

async function json(api: HttpApi, pathAndQuery: string, method = 'GET'): Promise<Json> {
  const r = await api.handle(req(pathAndQuery, method));
  assert.equal(r.status, 200, `${method} ${pathAndQuery}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as Json;
}

test('navigation and versions; unknown paths 404, other methods 405', async () => {
  const { api } = setup();
  const ids = { code: 0, server: api.statistics.serverId, service: api.statistics.serviceId, pid: String(process.pid) };
  assert.deepEqual(await json(api, '/'), { ...ids, urls: { api: 'the api root' } });
  assert.deepEqual(await json(api, '/api/'), { ...ids, urls: { v1: 'the api version 1.0' } });
  assert.deepEqual(Object.keys((await json(api, '/api/v1/')).urls as Json), ['versions', 'summaries', 'vhosts', 'streams', 'clients', 'raw', 'casters', 'ingesters']);
  assert.deepEqual(await json(api, '/api/v1/versions'), { ...ids, data: { major: 3, minor: 4, revision: 5, version: '3.4.5' } });
  assert.equal((await api.handle(req('/api/v1/nothing'))).status, 404);
  assert.equal((await api.handle(req('/nothing'))).status, 404);
  assert.equal((await api.handle(req('/api/v1/versions', 'POST'))).status, 405);
  assert.equal((await api.handle(req('/api/v1/clients/x', 'PUT'))).status, 405);
  assert.deepEqual(versionParts('10.2'), { major: 10, minor: 2, revision: 0 });
  assert.deepEqual(versionParts('1.2.3-rc.1'), { major: 1, minor: 2, revision: 3 });
});

test('streams and clients: lists, pages, lookups, SRS error codes; DELETE kicks (also as JSONP ?method=DELETE)', async () => {
  const { hub, api } = setup();
  const closes: string[] = [];
  const pub = hub.publish(KEY, { id: 'rtmp-1', protocol: 'rtmp', remote: '127.0.0.1:1000' }, { onClose: (r) => closes.push(r) });
  pub.write(keyframe(0));
  const players = [1, 2, 3].map((n) => {
    const t = new CaptureTarget();
    hub.subscribe(KEY, { id: `http-flv-${n + 1}`, protocol: 'http-flv' }, t);
    return t;
  });
  const streams = (await json(api, '/api/v1/streams')).streams as Json[];
  assert.deepEqual(streams.map((s) => [s.name, s.clients]), [['cam', 4]]);
  const id = streams[0]?.id as string;
  assert.equal(((await json(api, `/api/v1/streams/${id}`)).stream as Json).id, id);
  assert.deepEqual(await json(api, '/api/v1/streams/vid-nothere'), { code: 2048 });
  assert.deepEqual(((await json(api, '/api/v1/clients')).clients as Json[]).map((c) => c.id), ['rtmp-1', 'http-flv-2', 'http-flv-3', 'http-flv-4']);
  assert.deepEqual(((await json(api, '/api/v1/clients?start=1&count=2')).clients as Json[]).map((c) => c.id), ['http-flv-2', 'http-flv-3']);
  assert.deepEqual(((await json(api, '/api/v1/clients?start=9')).clients as Json[]), []);
  assert.equal(((await json(api, '/api/v1/clients/http-flv-3')).client as Json).type, 'flv-play');
  assert.deepEqual(await json(api, '/api/v1/clients/nobody'), { code: 2049 });

  assert.equal((await json(api, '/api/v1/clients/http-flv-3', 'DELETE')).code, 0);
  assert.deepEqual(players.map((p) => p.closes), [[], ['kicked by the HTTP API'], []]);
  assert.deepEqual(await json(api, '/api/v1/clients/http-flv-3', 'DELETE'), { code: 2049 });
  assert.deepEqual(await json(api, '/api/v1/clients/', 'DELETE'), { code: 2049 });
  const r = await api.handle(req('/api/v1/clients/rtmp-1?callback=cb&method=DELETE'));
  assert.match(r.body, /^cb\(\{"code":0,"server":"vid-[0-9a-z]{7}","service":"[0-9a-z]{8}","pid":"\d+"\}\)$/);
  assert.deepEqual(closes, ['kicked by the HTTP API']);
  const after = (await json(api, '/api/v1/streams')).streams as Json[];
  assert.deepEqual(after.map((s) => [s.name, s.publish, s.clients]), [['cam', { active: false }, 2]], 'its players wait on, as in SRS');
  assert.deepEqual(((await json(api, '/api/v1/vhosts')).vhosts as Json[]).map((v) => [v.name, v.clients, v.streams]), [['__defaultVhost__', 2, 0]]);
  assert.deepEqual(await json(api, '/api/v1/vhosts/vid-nothere'), { code: 2014 });
  hub.close();
});

test('RAW API: rpc=raw always; 1061 when disabled or reload not allowed; 1060 for another rpc; 1062 without a reload; 0 and the reload runs; 1023 with the error when it refused the config', async () => {
  const base = 'http_api { enabled on; listen 127.0.0.1:0; ';
  const answer = async (text: string, q: string, reload?: HttpApiOptions['reload']): Promise<Json> => json(setup(text, reload === undefined ? {} : { reload }).api, `/api/v1/raw?${q}`);
  const code = async (text: string, q: string, reload?: HttpApiOptions['reload']): Promise<unknown> => (await answer(text, q, reload)).code;
  assert.equal(await code(`${base}}`, 'rpc=reload'), 1061);
  assert.equal(await code(`${base}raw_api { enabled on; } }`, 'rpc=reload'), 1061);
  assert.equal(await code(`${base}raw_api { enabled on; allow_reload on; } }`, 'rpc=query'), 1060);
  assert.equal(await code(`${base}raw_api { enabled on; allow_reload on; } }`, ''), 1060);
  assert.equal(await code(`${base}raw_api { enabled on; allow_reload on; } }`, 'rpc=reload'), 1062);
  let reloads = 0;
  assert.equal(await code(`${base}raw_api { enabled on; allow_reload on; } }`, 'rpc=reload', () => {
    reloads++;
    return {};
  }), 0);
  assert.equal(reloads, 1);
  const refused = async (): Promise<{ error: string }> => ({ error: 'conf/api.conf:3:7: unknown value' });
  assert.deepEqual(await answer(`${base}raw_api { enabled on; allow_reload on; } }`, 'rpc=reload', refused), { code: 1023, error: 'conf/api.conf:3:7: unknown value' });
  const raw = await json(setup(`${base}crossdomain off; }`).api, '/api/v1/raw?rpc=raw');
  assert.deepEqual(raw.http_api, { enabled: true, listen: '127.0.0.1:0', crossdomain: false, raw_api: { enabled: false, allow_reload: false, allow_query: false, allow_update: false } });
});

test('castgate casters/ingesters from the stats() given; /metrics text; the exporter serves /metrics only; a throwing handler is a 500', async () => {
  const { api } = setup('http_api { enabled on; listen 127.0.0.1:0; }', {
    casters: () => [{ caster: 'rtsp', listen: 554, active: [] }],
    ingesters: () => [{ id: 'cam', vhost: '__defaultVhost__', type: 'stream', engines: [] }],
  });
  assert.deepEqual(((await json(api, '/api/v1/casters')).casters as Json[]).map((c) => [c.index, c.type, c.listen, c.state, c.sessions]), [[0, 'rtsp', 554, 'listening', []]]);
  assert.deepEqual(((await json(api, '/api/v1/ingesters')).ingesters as Json[]).map((i) => [i.id, i.engines]), [['cam', []]]);
  const m = await api.handle(req('/metrics'));
  assert.match(m.headers['Content-Type'] ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(m.body, /^srs_streams 0$/m);
  assert.equal((await api.handle(req('/metrics'), true)).status, 200);
  assert.equal((await api.handle(req('/api/v1/versions'), true)).status, 404);
  const failing = setup('http_api { enabled on; listen 127.0.0.1:0; }', {
    casters: () => {
      throw new Error('caster stats bug');
    },
  }).api;
  assert.equal((await failing.handle(req('/api/v1/casters'))).status, 500);
});

test('listeners: the API and the exporter on loopback; nothing listens when both are off; close is idempotent', async () => {
  const { api } = setup('http_api { enabled on; listen 127.0.0.1:0; }\nexporter { enabled on; listen 127.0.0.1:0; }');
  await api.start();
  try {
    assert.equal(api.apiPorts.length, 1);
    assert.equal(api.exporterPorts.length, 1);
    const r = await fetch(`http://127.0.0.1:${api.apiPorts[0]}/api/v1/versions`, { headers: { Origin: 'http://x' } });
    assert.deepEqual([r.status, r.headers.get('server'), r.headers.get('access-control-allow-origin')], [200, 'castgate/3.4.5', '*']);
    assert.equal(((await r.json()) as Json).code, 0);
    assert.equal((await fetch(`http://127.0.0.1:${api.exporterPorts[0]}/metrics`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${api.apiPorts[0]}/api/v1/versions`, { method: 'HEAD' })).status, 200);
  } finally {
    await api.close();
    await api.close();
  }
  const off = setup('http_api { enabled off; }').api;
  await off.start();
  assert.deepEqual([off.apiPorts, off.exporterPorts], [[], []]);
  await off.close();
});
