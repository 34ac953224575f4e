/**
 * End to end: the SRS-compatible HTTP API and Prometheus /metrics on a gateway with real peers. ffmpeg publishes
 * RTMP and pushes RTSP, an ffmpeg ingester runs, ffmpeg plays HTTP-FLV; the answers are compared field by field
 * (name and JSON type) with SRS's (fixtures/srs-api/, written from SRS 5.0.216's code), then a player, an RTMP
 * publisher, an RTSP session, a FLV POST, a UDP sender session and an ingester are kicked and the effect is
 * observed on the peers themselves.
 * JSONP, CORS, Basic auth (401) and the exporter port are checked; /metrics is parsed by the official Prometheus
 * Python client's parser (Debian python3-prometheus-client) and its counters rise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixture, freeTcpPort, freeUdpPort, run, sendTsOverUdp, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

const FLV = 'flv/h264-aac-320x240-10s.flv';
const QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
/** The official Prometheus text-format parser; prints every family with its type and samples as JSON. */
const PROMETHEUS_PARSE = [
  'import sys, json, math',
  'from prometheus_client.parser import text_string_to_metric_families',
  'out = {}',
  'for f in text_string_to_metric_families(sys.stdin.read()):',
  '    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)] for s in f.samples]}',
  'print(json.dumps(out, allow_nan=False))',
].join('\n');

type Json = Record<string, unknown>;
interface Family {
  readonly type: string;
  /** NaN and ±Inf (valid in the format: e.g. an event-loop histogram with no data yet) come as strings. */
  readonly samples: readonly [name: string, labels: Record<string, string>, value: number | string][];
}

function srsFixture(name: string): Json {
  return JSON.parse(readFileSync(fixture(`srs-api/${name}`), 'utf8')) as Json;
}

/** JSON type of a value as the comparison sees it: an SRS integer sample requires an integer. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * Every field of SRS's `srs` is in `ours` with the same JSON type (an SRS integer must be an integer; an SRS float
 * may be any number), recursively. @returns the fields castgate adds, as dotted paths.
 */
function compareShape(srs: unknown, ours: unknown, path: string): string[] {
  const want = jsonType(srs);
  const got = jsonType(ours);
  if (want === 'number') assert.ok(got === 'number' || got === 'integer', `${path}: SRS has a number, castgate ${got}`);
  else assert.equal(got, want, `${path}: SRS has ${want}, castgate ${got} (${JSON.stringify(ours)})`);
  if (want !== 'object') return [];
  const s = srs as Json;
  const o = ours as Json;
  const extra: string[] = [];
  for (const k of Object.keys(s)) {
    assert.ok(Object.hasOwn(o, k), `${path}.${k}: SRS field missing`);
    extra.push(...compareShape(s[k], o[k], `${path}.${k}`));
  }
  for (const k of Object.keys(o)) if (!Object.hasOwn(s, k)) extra.push(`${path}.${k}`);
  return extra;
}

async function parseMetrics(text: string): Promise<Record<string, Family>> {
  const r = await run('/usr/bin/python3', ['-c', PROMETHEUS_PARSE], { input: Buffer.from(text) });
  assert.equal(r.code, 0, `the Prometheus parser refused /metrics: ${r.stderr}`);
  return JSON.parse(r.stdout.toString('utf8')) as Record<string, Family>;
}

/** The value of the sample `name` whose labels include `labels` (undefined when absent). */
function sample(families: Record<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of Object.values(families)) {
    for (const [n, l, v] of f.samples) {
      if (n === name && Object.entries(labels).every(([k, want]) => l[k] === want)) return typeof v === 'number' ? v : Number(v);
    }
  }
  return undefined;
}

/** Resolves with the peer's exit, or rejects when it is still running after `ms`. */
async function exitsWithin(p: Running, ms: number, what: string): Promise<void> {
  const cancel = new AbortController();
  const timer = sleep(ms, undefined, { signal: cancel.signal }).then(() => {
    throw new Error(`${what} still running ${ms} ms after the kick`);
  });
  timer.catch(() => {}); // the aborted timer's rejection once the peer has exited
  try {
    await Promise.race([p.exited, timer]);
  } finally {
    cancel.abort();
  }
}

test('SRS HTTP API: shapes as SRS, castgate casters/ingesters, JSONP, CORS, /metrics, kick a player, an RTMP publisher, an RTSP session, a FLV POST, a UDP sender, an ingester', { timeout: 90_000 }, async () => {
  const apiPort = await freeTcpPort();
  const exporterPort = await freeTcpPort();
  const rtspPort = await freeTcpPort();
  const flvPort = await freeTcpPort();
  const udpPort = await freeUdpPort();
  const t = await startTestGateway(
    `http_api { enabled on; listen 127.0.0.1:${apiPort}; crossdomain on; }\n` +
      `exporter { enabled on; listen 127.0.0.1:${exporterPort}; label test; }\n` +
      `stream_caster { enabled on; caster rtsp; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${rtspPort}; }\n` +
      `stream_caster { enabled on; caster flv; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${flvPort}; }\n` +
      `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/udp; listen 127.0.0.1:${udpPort}; }\n` +
      HTTP_FLV_VHOST.replace(
        / }\n$/,
        ' ingest lavfi { enabled on; input { type device; url testsrc2=size=160x120:rate=10; } engine { enabled on; iformat lavfi; vcodec libx264; vpreset ultrafast; vparams { g 10; } acodec an; output rtmp://127.0.0.1/live/ing; } } }\n',
      ),
  );
  const api = `http://127.0.0.1:${apiPort}`;
  const getJson = async (path: string, init?: RequestInit): Promise<Json> => {
    const r = await fetch(`${api}${path}`, init);
    assert.equal(r.status, 200, `${path}: HTTP ${r.status}`);
    assert.equal(r.headers.get('content-type'), 'application/json');
    return (await r.json()) as Json;
  };
  const streams = async (): Promise<Json[]> => (await getJson('/api/v1/streams?count=100')).streams as Json[];
  const clients = async (): Promise<Json[]> => (await getJson('/api/v1/clients?count=100')).clients as Json[];
  const streamNamed = async (name: string): Promise<Json | undefined> => (await streams()).find((s) => s.name === name);
  const publisher = startProcess('ffmpeg', [...QUIET, '-re', '-stream_loop', '-1', '-i', fixture(FLV), '-c', 'copy', '-f', 'flv', t.rtmpUrl('live/one')]);
  const rtspPusher = startProcess('ffmpeg', [...QUIET, '-re', '-stream_loop', '-1', '-i', fixture(FLV), '-c', 'copy', '-rtsp_transport', 'tcp', '-f', 'rtsp', `rtsp://127.0.0.1:${rtspPort}/live/cam`]);
  const flvPoster = startProcess('ffmpeg', [...QUIET, '-re', '-stream_loop', '-1', '-i', fixture(FLV), '-c', 'copy', '-f', 'flv', '-method', 'POST', `http://127.0.0.1:${flvPort}/live/post.flv`]);
  const udpSender = sendTsOverUdp(fixture('ts/h264-aac-320x240-25fps-10s.ts'), udpPort, { loops: -1 });
  let player: Running | undefined;
  try {
    await waitFor(async () => (await streamNamed('one'))?.video !== null && (await streamNamed('one')) !== undefined, 15_000);
    player = startProcess('ffmpeg', [...QUIET, '-i', t.httpUrl('live/one.flv'), '-c', 'copy', '-f', 'null', '-']);
    await waitFor(async () => {
      const names = (await streams()).filter((s) => (s.publish as Json).active === true).map((s) => s.name);
      const players = (await clients()).filter((c) => c.type === 'flv-play');
      return ['one', 'cam', 'ing', 'post', 'udp'].every((n) => names.includes(n)) && players.length === 1;
    }, 20_000);

    // --- shapes: every SRS field with SRS's JSON type; castgate's additions are the documented ones.
    const srsStreams = srsFixture('streams.json');
    const ourStreams = await getJson('/api/v1/streams');
    const one = (ourStreams.streams as Json[]).find((s) => s.name === 'one') as Json;
    assert.deepEqual(compareShape({ ...srsStreams, streams: undefined }, { ...ourStreams, streams: undefined }, 'streams'), []);
    assert.deepEqual(compareShape((srsStreams.streams as Json[])[0], one, 'stream'), [], 'no field beyond SRS in a stream');
    assert.deepEqual([one.app, one.url, (one.video as Json).codec, (one.video as Json).width, (one.video as Json).height, (one.audio as Json).codec], ['live', '/live/one', 'H264', 320, 240, 'AAC']);
    assert.equal((one.publish as Json).cid, (await clients()).find((c) => c.name === 'one' && c.publish === true)?.id);
    assert.equal(one.clients, 2, 'publisher and player');
    const srsClients = srsFixture('clients.json');
    const ourClients = await clients();
    for (const c of ourClients) {
      assert.deepEqual(compareShape((srsClients.clients as Json[])[0], c, `client ${String(c.id)}`).sort(), [
        `client ${String(c.id)}.param`, `client ${String(c.id)}.protocol`, `client ${String(c.id)}.remote`,
      ]);
      assert.equal(c.stream, (await streams()).find((s) => s.name === c.name)?.id, 'client.stream is the stream id');
    }
    assert.deepEqual(ourClients.map((c) => `${String(c.name)}:${String(c.type)}`).sort(), [
      'cam:rtsp-publish', 'ing:ingest-publish', 'one:flv-play', 'one:fmle-publish', 'post:http-flv-post-publish', 'udp:mpegts_over_udp-publish',
    ]);
    const versions = await getJson('/api/v1/versions');
    assert.deepEqual(compareShape(srsFixture('versions.json'), versions, 'versions'), []);
    assert.equal(versions.pid, String(process.pid));
    const summaries = (await getJson('/api/v1/summaries')).data as { self: Json; system: Json };
    assert.equal(summaries.self.pid, process.pid);
    assert.ok(Number.isInteger(summaries.self.mem_kbyte) && (summaries.self.mem_kbyte as number) > 10_000, `mem_kbyte ${String(summaries.self.mem_kbyte)}`);
    assert.equal(typeof summaries.self.cpu_percent, 'number');
    assert.ok(Number.isInteger(summaries.self.srs_uptime));
    assert.ok((summaries.system.cpus as number) >= 1);
    const vhosts = (await getJson('/api/v1/vhosts')).vhosts as Json[];
    assert.deepEqual(vhosts.map((v) => [v.name, v.id === one.vhost, v.streams, v.clients]), [['__defaultVhost__', true, 5, 6]]);

    // --- lookups, pages and SRS's error bodies (HTTP 200, code alone).
    const errors = srsFixture('errors.json');
    assert.equal(((await getJson(`/api/v1/streams/${String(one.id)}`)).stream as Json).name, 'one');
    assert.deepEqual(await getJson('/api/v1/streams/vid-nothere'), errors.stream_not_found);
    assert.deepEqual(await getJson('/api/v1/clients/nobody'), errors.client_not_found);
    assert.deepEqual(await getJson('/api/v1/clients/nobody', { method: 'DELETE' }), errors.client_not_found);
    assert.deepEqual(await getJson('/api/v1/raw?rpc=reload'), errors.raw_api_disabled);
    const page = (await getJson('/api/v1/clients?start=1&count=2')).clients as Json[];
    assert.deepEqual(page.map((c) => c.id), ourClients.slice(1, 3).map((c) => c.id));
    assert.equal(((await getJson('/api/v1/clients')).clients as Json[]).length, 6, 'default count 10 covers the 6 clients');
    assert.equal((await fetch(`${api}/api/v1/nothing`)).status, 404);
    assert.equal((await fetch(`${api}/api/v1/streams`, { method: 'POST' })).status, 405);

    // --- castgate's own: casters with per-input QoS, ingesters.
    await waitFor(async () => {
      const casters = (await getJson('/api/v1/casters')).casters as Json[];
      const s = (casters[0]?.sessions as Json[] | undefined)?.[0];
      return casters[0]?.type === 'rtsp' && s?.stream === '__defaultVhost__/live/cam' && (s.packets as number) > 50 && s.lost === 0 && s.cc_errors === null;
    }, 10_000);
    const udpCaster = ((await getJson('/api/v1/casters')).casters as Json[])[2] as Json;
    const udpSession = (udpCaster.sessions as Json[])[0] as Json;
    assert.deepEqual([udpCaster.type, udpSession.id, udpSession.cc_errors, udpSession.lost], ['mpegts_over_udp', ((await streamNamed('udp'))?.publish as Json).cid, 0, null]);
    assert.ok((udpSession.packets as number) > 100, `TS packets ${String(udpSession.packets)}`);
    const ingesterOf = async (): Promise<Json> => ((await getJson('/api/v1/ingesters')).ingesters as Json[])[0] as Json;
    const engineOf = async (): Promise<Json> => ((await ingesterOf()).engines as Json[])[0] as Json;
    await waitFor(async () => typeof (await engineOf()).fps === 'number', 10_000);
    const engine = await engineOf();
    assert.deepEqual([(await ingesterOf()).state, engine.state, engine.restarts, typeof engine.pid, typeof engine.speed, typeof engine.uptime],
      ['running', 'running', 0, 'number', 'number', 'number']);

    // --- JSONP (SRS: ?callback=, and &method= for a DELETE), CORS.
    const jsonp = await fetch(`${api}/api/v1/versions?callback=jQuery_1.cb`);
    assert.equal(jsonp.headers.get('content-type'), 'text/javascript');
    const wrapped = /^jQuery_1\.cb\((.*)\)$/s.exec(await jsonp.text());
    assert.ok(wrapped !== null);
    assert.equal((JSON.parse(wrapped[1] as string) as Json).code, 0);
    assert.equal(await (await fetch(`${api}/api/v1/clients/nobody?callback=cb&method=DELETE`)).text(), 'cb({"code":2049})');
    assert.equal((await fetch(`${api}/api/v1/versions?callback=alert(1)`)).status, 400);
    const cors = await fetch(`${api}/api/v1/versions`, { headers: { Origin: 'http://console.example' } });
    assert.equal(cors.headers.get('access-control-allow-origin'), '*');
    assert.equal((await fetch(`${api}/api/v1/versions`)).headers.get('access-control-allow-origin'), null, 'no Origin, no CORS headers');
    const preflight = await fetch(`${api}/api/v1/clients/x`, { method: 'OPTIONS', headers: { Origin: 'http://console.example', 'Access-Control-Request-Method': 'DELETE' } });
    assert.deepEqual([preflight.status, preflight.headers.get('access-control-allow-methods')], [200, '*']);

    // --- /metrics: parsed by Prometheus's parser, counters rise; the exporter port serves /metrics only.
    const scrape = async (base: string): Promise<Record<string, Family>> => {
      const r = await fetch(`${base}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return parseMetrics(await r.text());
    };
    const m1 = await scrape(api);
    for (const [name, type] of [['srs_receive_bytes', 'counter'], ['srs_send_bytes', 'counter'], ['srs_streams', 'gauge'], ['srs_clients', 'gauge'],
      ['castgate_publishers', 'gauge'], ['castgate_players', 'gauge'], ['castgate_input_packets', 'counter'], ['castgate_input_lost_packets', 'counter'],
      ['castgate_ffmpeg_restarts', 'counter'], ['castgate_hub_dropped_messages', 'counter'], ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['process_resident_memory_bytes', 'gauge']] as const) {
      assert.equal(m1[name]?.type, type, `${name} is a ${type}`);
    }
    assert.deepEqual([sample(m1, 'srs_streams'), sample(m1, 'srs_clients'), sample(m1, 'castgate_players', { protocol: 'http-flv' }),
      sample(m1, 'castgate_publishers', { protocol: 'rtsp' }), sample(m1, 'srs_build_info', { label: 'test', code: 'castgate' })], [5, 6, 1, 1, 1]);
    await sleep(1500);
    const m2 = await scrape(`http://127.0.0.1:${exporterPort}`);
    for (const [name, labels] of [['srs_receive_bytes_total', {}], ['srs_send_bytes_total', {}], ['castgate_input_packets_total', { caster: 'rtsp', stream: '__defaultVhost__/live/cam' }]] as const) {
      const a = sample(m1, name, labels);
      const b = sample(m2, name, labels);
      assert.ok(a !== undefined && b !== undefined && b > a, `${name} rises: ${a} → ${b}`);
    }
    assert.equal((await fetch(`http://127.0.0.1:${exporterPort}/api/v1/versions`)).status, 404, 'the exporter port serves /metrics only');

    // --- kick a player: its ffmpeg ends, it leaves the client list, the stream plays on.
    const playerId = (await clients()).find((c) => c.type === 'flv-play')?.id as string;
    assert.deepEqual(await getJson(`/api/v1/clients/${playerId}`, { method: 'DELETE' }), { code: 0, server: versions.server, service: versions.service, pid: versions.pid });
    await exitsWithin(player, 10_000, 'the kicked HTTP-FLV player');
    assert.equal((await clients()).some((c) => c.id === playerId), false);
    assert.equal(((await streamNamed('one'))?.publish as Json).active, true);

    /** Kick the publisher of `stream` (its client id matches `idForm`): the peer ends, the stream leaves /streams. */
    const kickPublisher = async (stream: string, idForm: RegExp, peer: Running, what: string): Promise<void> => {
      const id = ((await streamNamed(stream))?.publish as Json).cid as string;
      assert.match(id, idForm);
      assert.equal((await getJson(`/api/v1/clients/${encodeURIComponent(id)}`, { method: 'DELETE' })).code, 0);
      await exitsWithin(peer, 10_000, what);
      await waitFor(async () => (await streamNamed(stream)) === undefined, 5_000);
    };
    // The RTMP publisher's connection is closed; the RTSP session and its connection end (the caster lists no
    // session); the FLV POST is answered and its connection dropped.
    await kickPublisher('one', /^rtmp-/, publisher, 'the kicked RTMP publisher');
    await kickPublisher('cam', /^rtsp-/, rtspPusher, 'the kicked RTSP pusher');
    assert.deepEqual(((await getJson('/api/v1/casters')).casters as Json[])[0]?.sessions, []);
    await kickPublisher('post', /^flv-/, flvPoster, 'the kicked FLV POST');

    // --- kick the UDP sender session: unpublished; the sender goes on sending, so a new session publishes again.
    const udpId = ((await streamNamed('udp'))?.publish as Json).cid as string;
    assert.match(udpId, /^udp-/);
    assert.equal((await getJson(`/api/v1/clients/${udpId}`, { method: 'DELETE' })).code, 0);
    await waitFor(async () => {
      const cid = ((await streamNamed('udp'))?.publish as Json | undefined)?.cid;
      return typeof cid === 'string' && cid.startsWith('udp-') && cid !== udpId;
    }, 10_000);

    // --- kick the ingester: ffmpeg is restarted (after the backoff) and publishes again under the same client id.
    const ing = await streamNamed('ing');
    const ingestId = (ing?.publish as Json).cid as string;
    assert.equal(ingestId, (await engineOf()).client);
    const pidBefore = (await engineOf()).pid;
    assert.equal((await getJson(`/api/v1/clients/${encodeURIComponent(ingestId)}`, { method: 'DELETE' })).code, 0);
    await waitFor(async () => {
      const e = await engineOf();
      return e.restarts === 1 && e.state === 'running' && e.publishing === true && e.pid !== pidBefore;
    }, 15_000);
    await waitFor(async () => ((await streamNamed('ing'))?.publish as Json | undefined)?.cid === ingestId, 10_000);
    const m3 = await scrape(api);
    assert.equal(sample(m3, 'castgate_ffmpeg_restarts_total', { ingest: 'lavfi', engine: '0' }), 1);
  } finally {
    await Promise.all([publisher.stop(), rtspPusher.stop(), flvPoster.stop(), udpSender.stop(), player?.stop()]);
    await t.stop();
  }
});

test('Basic auth on /api/ (401 without or with wrong credentials), /metrics open; crossdomain off: no CORS, OPTIONS 405', { timeout: 20_000 }, async () => {
  const apiPort = await freeTcpPort();
  const t = await startTestGateway(`http_api { enabled on; listen 127.0.0.1:${apiPort}; crossdomain off; auth { enabled on; username admin; password s3cr:et; } }\n`);
  const api = `http://127.0.0.1:${apiPort}`;
  const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  try {
    const none = await fetch(`${api}/api/v1/versions`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic\b/);
    assert.equal((await fetch(`${api}/api/v1/versions`, { headers: { Authorization: basic('admin', 'wrong') } })).status, 401);
    assert.equal((await fetch(`${api}/api/v1/clients`, { headers: { Authorization: basic('root', 's3cr:et') } })).status, 401);
    const ok = await fetch(`${api}/api/v1/versions`, { headers: { Authorization: basic('admin', 's3cr:et'), Origin: 'http://console.example' } });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as Json).code, 0);
    assert.equal(ok.headers.get('access-control-allow-origin'), null, 'crossdomain off');
    assert.equal((await fetch(`${api}/api/v1/versions`, { method: 'OPTIONS', headers: { Origin: 'http://console.example' } })).status, 405);
    const metrics = await fetch(`${api}/metrics`);
    assert.equal(metrics.status, 200, 'SRS authenticates /api/ paths only');
    assert.ok((await parseMetrics(await metrics.text())).srs_streams !== undefined);
  } finally {
    await t.stop();
  }
});
