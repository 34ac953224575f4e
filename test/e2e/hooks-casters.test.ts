/**
 * End to end: every caster asks the gateway's admission before publishing (issue 11, HTTP hooks and security).
 * A local hook server (test/helpers/hook-server.ts) records each POST and allows or refuses as each step sets it
 * (`{"code":1}`, HTTP 500, `0\n`); real peers push: ffmpeg `-f rtsp` over TCP, ffmpeg TS over UDP, curl POSTing
 * FLV. Checked: a refused RTSP push makes ffmpeg fail with 401 (hook) or 403 (`security { deny publish
 * 127.0.0.1; }`) and nothing is published; a refused UDP sender is not published and is asked again after the
 * caster's retry interval (ADMISSION_RETRY_MS); a refused FLV POST gets 403; the hook bodies carry the device's
 * real ip (127.0.0.1), the request's query as `param`, app and stream; and on_unpublish arrives when the publisher
 * stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { ADMISSION_RETRY_MS } from '../../casters/mpegts-udp/mpegts-udp-caster.ts';
import { fixture, freeTcpPort, freeUdpPort, run, sendTsOverUdp, startProcess, waitFor } from '../helpers/peers.ts';
import { ALLOW, DENY_500, DENY_CODE, DENY_NEWLINE, startHookServer, type HookServer, type RecordedHook } from '../helpers/hook-server.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

const FFMPEG_QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
/** MP4: ffmpeg's RTP muxer needs the codecs' global headers. */
const RTSP_SOURCE = fixture('mp4/h264-bframes-aac-320x240-10s.mp4');
const FLV_SOURCE = fixture('flv/h264-aac-320x240-10s.flv');
const TS_SOURCE = fixture('ts/h264-aac-320x240-25fps-10s.ts');

interface Ports {
  readonly rtsp: number;
  readonly flv: number;
  readonly udp: number;
}

/** One gateway with the three casters; `vhostBody` goes inside `vhost __defaultVhost__ { }`. */
async function gateway(vhostBody: string): Promise<{ t: TestGateway; ports: Ports }> {
  const ports: Ports = { rtsp: await freeTcpPort(), flv: await freeTcpPort(), udp: await freeUdpPort() };
  const base = 40000 + 2 * Math.floor(Math.random() * 10000);
  const t = await startTestGateway(
    `stream_caster { enabled on; caster rtsp; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${ports.rtsp}; rtp_port_min ${base}; rtp_port_max ${base + 20}; idle_timeout 3; }\n`
      + `stream_caster { enabled on; caster flv; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${ports.flv}; }\n`
      + `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/udp; listen 127.0.0.1:${ports.udp}; idle_timeout 1; }\n`
      + `vhost __defaultVhost__ { ${vhostBody} }\n`,
  );
  return { t, ports };
}

function hooksBlock(hooks: HookServer): string {
  return `http_hooks { enabled on; on_publish ${hooks.base}/on_publish; on_unpublish ${hooks.base}/on_unpublish; timeout 5; }`;
}

/** The bodies `hooks` received for one event and stream. */
function callsOf(hooks: HookServer, event: 'on_publish' | 'on_unpublish', stream: string): RecordedHook[] {
  return hooks.received.filter((r) => r.path === `/${event}` && r.body['stream'] === stream);
}

/** `ffmpeg -re -t SECONDS -i MP4 -c copy -f rtsp -rtsp_transport tcp URL`. */
function rtspPush(url: string, seconds: number) {
  return startProcess('ffmpeg', [...FFMPEG_QUIET, '-re', '-t', String(seconds), '-i', RTSP_SOURCE, '-c', 'copy', '-f', 'rtsp', '-rtsp_transport', 'tcp', url], { timeoutMs: 30_000 });
}

/** `curl -sS --data-binary @FLV URL`: resolves with the HTTP status and the response body. */
async function curlPost(url: string): Promise<{ status: number; body: string }> {
  const r = await run('curl', ['-sS', '--data-binary', `@${FLV_SOURCE}`, '-H', 'Content-Type: video/x-flv', '-w', '\n%{http_code}', url], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, `curl: ${r.stderr}`);
  const out = r.stdout.toString('utf8');
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, Math.max(nl, 0)) };
}

/** The fields every on_publish / on_unpublish body must carry for a device on loopback. */
function assertBody(call: RecordedHook | undefined, want: { action: string; stream: string; param: string; tcUrl?: string }): void {
  assert.ok(call !== undefined, `${want.action} for ${want.stream} arrived`);
  const b = call.body;
  assert.equal(b['action'], want.action);
  assert.equal(b['ip'], '127.0.0.1', 'the device\'s real address');
  assert.equal(b['vhost'], '__defaultVhost__');
  assert.equal(b['app'], 'live');
  assert.equal(b['stream'], want.stream);
  assert.equal(b['param'], want.param);
  assert.equal(typeof b['client_id'], 'string');
  if (want.tcUrl !== undefined) assert.equal(b['tcUrl'], want.tcUrl);
}

test('RTSP push: allowed (hook body with ip, ?token param, tcUrl; on_unpublish at TEARDOWN), then refused by the hook → ffmpeg fails with 401, nothing published', { timeout: 40_000 }, async () => {
  const hooks = await startHookServer();
  const { t, ports } = await gateway(hooksBlock(hooks));
  try {
    const ok = rtspPush(`rtsp://127.0.0.1:${ports.rtsp}/live/cam?token=abc`, 2);
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'cam')), 10_000);
    const pushed = await ok.exited;
    assert.equal(pushed.code, 0, `ffmpeg push: ${pushed.stderr}`);
    await waitFor(() => callsOf(hooks, 'on_unpublish', 'cam').length === 1, 5_000);
    const [publish] = callsOf(hooks, 'on_publish', 'cam');
    assertBody(publish, { action: 'on_publish', stream: 'cam', param: '?token=abc', tcUrl: `rtsp://127.0.0.1:${ports.rtsp}/live` });
    const [unpublish] = callsOf(hooks, 'on_unpublish', 'cam');
    assertBody(unpublish, { action: 'on_unpublish', stream: 'cam', param: '?token=abc' });
    assert.equal(unpublish?.body['client_id'], publish?.body['client_id'], 'the same client');

    // {"code":1}: a JSON answer whose code is not 0 refuses.
    hooks.answer('/on_publish', DENY_CODE);
    const refused = await rtspPush(`rtsp://127.0.0.1:${ports.rtsp}/live/denied?token=bad`, 2).exited;
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /\b401 Unauthorized\b/, `ffmpeg's error names the status: ${refused.stderr}`);
    assertBody(callsOf(hooks, 'on_publish', 'denied')[0], { action: 'on_publish', stream: 'denied', param: '?token=bad' });
    await sleep(200);
    assert.equal(t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'denied')), false);
    assert.deepEqual(callsOf(hooks, 'on_unpublish', 'denied'), [], 'never published, so never unpublished');
  } finally {
    await t.stop();
    await hooks.close();
  }
});

test('UDP TS sender refused by the hook (HTTP 500) is not published, asked again after the retry interval, then published; on_unpublish when it stops', { timeout: 40_000 }, async () => {
  const hooks = await startHookServer();
  const { t, ports } = await gateway(hooksBlock(hooks));
  const key = makeStreamKey('__defaultVhost__', 'live', 'udp');
  hooks.answer('/on_publish', DENY_500);
  const sender = sendTsOverUdp(TS_SOURCE, ports.udp, { loops: 0, timeoutMs: 30_000 });
  try {
    await waitFor(() => callsOf(hooks, 'on_publish', 'udp').length === 1, 10_000);
    hooks.answer('/on_publish', ALLOW);
    const [first] = callsOf(hooks, 'on_publish', 'udp');
    assertBody(first, { action: 'on_publish', stream: 'udp', param: '' });
    await sleep(1000);
    assert.equal(t.gw.hub.isPublishing(key), false, 'refused: not published');
    assert.ok(Number(t.gw.casters[2]?.stats()['admissionDropped']) > 0, 'its datagrams dropped and counted');
    await waitFor(() => t.gw.hub.isPublishing(key), ADMISSION_RETRY_MS + 5_000);
    const calls = callsOf(hooks, 'on_publish', 'udp');
    assert.equal(calls.length, 2);
    const gapMs = calls[1]!.atMs - calls[0]!.atMs;
    assert.ok(gapMs >= ADMISSION_RETRY_MS - 50 && gapMs < ADMISSION_RETRY_MS + 1500, `asked again after ${gapMs} ms`);
    await sender.stop();
    await waitFor(() => callsOf(hooks, 'on_unpublish', 'udp').length === 1, 5_000);
    assertBody(callsOf(hooks, 'on_unpublish', 'udp')[0], { action: 'on_unpublish', stream: 'udp', param: '' });
    assert.equal(callsOf(hooks, 'on_unpublish', 'udp')[0]?.body['client_id'], calls[1]?.body['client_id']);
  } finally {
    await sender.stop();
    await t.stop();
    await hooks.close();
  }
});

test('FLV POST with curl: refused by the hook (body `0\\n`) → 403, nothing published; allowed → 200, published, on_unpublish at the end', { timeout: 30_000 }, async () => {
  const hooks = await startHookServer();
  const { t, ports } = await gateway(hooksBlock(hooks));
  try {
    // `0\n` is not exactly `0`: refused (SRS compares the body with "0").
    hooks.answer('/on_publish', DENY_NEWLINE);
    const refused = await curlPost(`http://127.0.0.1:${ports.flv}/live/flvdeny.flv?token=x1`);
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /GW_ERR_HOOK_REJECTED/);
    assertBody(callsOf(hooks, 'on_publish', 'flvdeny')[0], { action: 'on_publish', stream: 'flvdeny', param: '?token=x1', tcUrl: `http://127.0.0.1:${ports.flv}/live` });
    assert.deepEqual(callsOf(hooks, 'on_unpublish', 'flvdeny'), []);

    hooks.answer('/on_publish', ALLOW);
    const allowed = await curlPost(`http://127.0.0.1:${ports.flv}/live/flvok.flv?token=y2`);
    assert.equal(allowed.status, 200, allowed.body);
    assert.match(allowed.body, /^OK: \d+ tags/);
    assertBody(callsOf(hooks, 'on_publish', 'flvok')[0], { action: 'on_publish', stream: 'flvok', param: '?token=y2' });
    await waitFor(() => callsOf(hooks, 'on_unpublish', 'flvok').length === 1, 5_000);
    assertBody(callsOf(hooks, 'on_unpublish', 'flvok')[0], { action: 'on_unpublish', stream: 'flvok', param: '?token=y2' });
  } finally {
    await t.stop();
    await hooks.close();
  }
});

test('security { deny publish 127.0.0.1; }: an RTSP push fails with 403 before any hook is asked', { timeout: 30_000 }, async () => {
  const hooks = await startHookServer();
  const { t, ports } = await gateway(`security { enabled on; deny publish 127.0.0.1; allow publish all; allow play all; } ${hooksBlock(hooks)}`);
  try {
    const refused = await rtspPush(`rtsp://127.0.0.1:${ports.rtsp}/live/sec?token=abc`, 2).exited;
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /\b403 Forbidden\b/, `ffmpeg's error names the status: ${refused.stderr}`);
    assert.equal(t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'sec')), false);
    assert.deepEqual(hooks.received, [], 'security refuses first: no hook asked');
  } finally {
    await t.stop();
    await hooks.close();
  }
});
