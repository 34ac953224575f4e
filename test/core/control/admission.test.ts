/**
 * GatewayAdmission over a real SourceHub and a local hook server: security before hooks, SRS 5 body fields,
 * on_unpublish / on_stop from the hub's session ends (and only for admitted sessions), on_connect / on_close,
 * on_dvr / on_hls, config read per call.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText, vhostConfig, type Config } from '../../../core/config/config.ts';
import { clientIp, GatewayAdmission } from '../../../core/control/admission.ts';
import { isGatewayError } from '../../../core/errors.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { ALLOW, DENY_CODE, startHookServer } from '../../helpers/hook-server.ts';
import { CaptureTarget, silentLog } from '../hub/hub-vectors.ts';

const hooks = await startHookServer();
after(() => hooks.close());

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };

function conf(body: string): Config {
  return loadConfigText(`vhost __defaultVhost__ { ${body} }`, 't.conf').config;
}

const ALL_HOOKS = (base: string): string =>
  `http_hooks { enabled on; on_connect ${base}/c; on_close ${base}/c; on_publish ${base}/s; on_unpublish ${base}/s; ` +
  `on_play ${base}/p; on_stop ${base}/p; on_dvr ${base}/d; on_hls ${base}/h; timeout 2; }`;

function setup(initial: string, admitGraceMs?: number): { hub: SourceHub; admission: GatewayAdmission; setConf(body: string): void } {
  let config = conf(initial);
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const admission = new GatewayAdmission({
    log: silentLog,
    hub,
    vhost: (name) => vhostConfig(config, name),
    serverIds: () => ({ serverId: 'vid-server', serviceId: 'svc12345' }),
    cwd: '/srv/castgate',
    ...(admitGraceMs !== undefined ? { admitGraceMs } : {}),
  });
  return { hub, admission, setConf: (body) => (config = conf(body)) };
}

async function code(p: Promise<void>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isGatewayError(err), String(err));
    return err.code;
  }
  return 'allowed';
}

test('clientIp: ports, brackets and IPv4-mapped addresses', () => {
  assert.equal(clientIp('127.0.0.1:5000'), '127.0.0.1');
  assert.equal(clientIp('::ffff:127.0.0.1:5000'), '127.0.0.1');
  assert.equal(clientIp('[::1]:5000'), '::1');
  assert.equal(clientIp('::1:5000'), '::1');
  assert.equal(clientIp('2001:db8::5'), '2001:db8::5');
  assert.equal(clientIp(undefined), '');
});

test('publish: on_publish body with SRS 5 fields, then on_unpublish when the hub unpublishes', async () => {
  const { hub, admission } = setup(ALL_HOOKS(hooks.base));
  const who = { id: 'rtmp-7', protocol: 'rtmp', remote: '::ffff:127.0.0.1:40000', query: 'token=abc' };
  const before = hooks.received.length;
  await admission.admit({ action: 'publish', key: KEY, who, tcUrl: 'rtmp://127.0.0.1:1935/live' });
  const pub = hooks.received.slice(before).map((r) => r.body);
  assert.deepEqual(pub, [{
    server_id: 'vid-server', service_id: 'svc12345', action: 'on_publish', client_id: 'rtmp-7', ip: '127.0.0.1',
    vhost: '__defaultVhost__', app: 'live', tcUrl: 'rtmp://127.0.0.1:1935/live', stream: 'cam', param: '?token=abc',
    stream_url: '/live/cam',
  }]);
  const publisher = hub.publish(KEY, who);
  const streamId = hub.streamId(KEY);
  assert.match(streamId ?? '', /^vid-/);
  publisher.close();
  const [unpub] = await hooks.waitFor('on_unpublish');
  assert.deepEqual(unpub?.body, { ...pub[0], action: 'on_unpublish', stream_id: streamId });
  assert.equal(admission.pendingSessions, 0);
  admission.close();
});

test('play: on_play carries pageUrl; on_stop when the consumer detaches; a second end is ignored', async () => {
  const { hub, admission } = setup(ALL_HOOKS(hooks.base));
  const who = { id: 'http-flv-3', protocol: 'http-flv', remote: '[::1]:41000' };
  await admission.admit({ action: 'play', key: KEY, who });
  const play = hooks.bodies('on_play').at(-1);
  assert.equal(play?.ip, '::1');
  assert.equal(play?.pageUrl, '');
  assert.equal(play?.param, '');
  assert.equal(play?.tcUrl, 'rtmp://localhost/live');
  const sub = hub.subscribe(KEY, who, new CaptureTarget());
  const stops = hooks.bodies('on_stop').length;
  sub.close();
  await hooks.waitFor('on_stop', stops + 1);
  sub.close();
  admission.end({ action: 'play', key: KEY, who, streamId: 'x' });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(hooks.bodies('on_stop').length, stops + 1, 'one on_stop per admitted play');
  admission.close();
});

test('security is checked first: a denied client reaches no hook', async () => {
  const { admission } = setup(`security { enabled on; allow publish 10.0.0.0/8; deny play all; } ${ALL_HOOKS(hooks.base)}`);
  const before = hooks.received.length;
  assert.equal(await code(admission.admit({ action: 'publish', key: KEY, who: { id: 'a', protocol: 'rtmp', remote: '127.0.0.1:1' } })), 'GW_ERR_SECURITY_DENIED');
  assert.equal(await code(admission.admit({ action: 'play', key: KEY, who: { id: 'b', protocol: 'rtmp', remote: '10.0.0.1:1' } })), 'GW_ERR_SECURITY_DENIED');
  assert.equal(hooks.received.length, before);
  assert.equal(await code(admission.admit({ action: 'publish', key: KEY, who: { id: 'c', protocol: 'rtsp', remote: '10.9.9.9:1' } })), 'allowed');
  assert.equal(hooks.received.length, before + 1);
  admission.close();
});

test('a refusing hook rejects with GW_ERR_HOOK_REJECTED and nothing is remembered; a reload applies to the next call', async () => {
  const { hub, admission, setConf } = setup(ALL_HOOKS(hooks.base));
  hooks.answer('/s', DENY_CODE);
  const who = { id: 'rtsp-1', protocol: 'rtsp', remote: '127.0.0.1:2' };
  assert.equal(await code(admission.admit({ action: 'publish', key: KEY, who })), 'GW_ERR_HOOK_REJECTED');
  assert.equal(admission.pendingSessions, 0);
  hooks.answer('/s', ALLOW);
  setConf('security { enabled on; deny publish 127.0.0.1; allow play all; }');
  assert.equal(await code(admission.admit({ action: 'publish', key: KEY, who })), 'GW_ERR_SECURITY_DENIED');
  setConf('');
  assert.equal(await code(admission.admit({ action: 'publish', key: KEY, who })), 'allowed');
  // hooks off: nothing remembered, no on_unpublish
  const n = hooks.received.length;
  hub.publish(KEY, who).close();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(hooks.received.length, n);
  admission.close();
});

test('connect / disconnect: on_connect then on_close with bytes; a refused connect gets no on_close', async () => {
  const { admission } = setup(ALL_HOOKS(hooks.base));
  const info = { who: { id: 'rtmp-9', protocol: 'rtmp', remote: '127.0.0.1:3', query: 'k=v' }, vhost: '__defaultVhost__', app: 'live', tcUrl: 'rtmp://127.0.0.1/live?k=v', pageUrl: 'http://page/' };
  await admission.connect(info);
  assert.deepEqual(hooks.bodies('on_connect').at(-1), {
    server_id: 'vid-server', service_id: 'svc12345', action: 'on_connect', client_id: 'rtmp-9', ip: '127.0.0.1', vhost: '__defaultVhost__',
    app: 'live', stream: '', param: '?k=v', tcUrl: 'rtmp://127.0.0.1/live?k=v', pageUrl: 'http://page/',
  });
  const closes = hooks.bodies('on_close').length;
  admission.disconnect(info, 1234, 5678);
  const got = await hooks.waitFor('on_close', closes + 1);
  assert.deepEqual(got.at(-1)?.body, {
    server_id: 'vid-server', service_id: 'svc12345', action: 'on_close', client_id: 'rtmp-9', ip: '127.0.0.1', vhost: '__defaultVhost__',
    app: 'live', send_bytes: 1234, recv_bytes: 5678,
  });
  hooks.answer('/c', DENY_CODE);
  const refused = { ...info, who: { ...info.who, id: 'rtmp-10' } };
  assert.equal(await code(admission.connect(refused)), 'GW_ERR_HOOK_REJECTED');
  hooks.answer('/c', ALLOW);
  admission.disconnect(refused, 1, 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(hooks.bodies('on_close').filter((b) => b.client_id === 'rtmp-10').length, 0);
  admission.close();
});

test('on_dvr and on_hls carry the publisher and the file fields', async () => {
  const { hub, admission } = setup(ALL_HOOKS(hooks.base));
  const who = { id: 'rtmp-11', protocol: 'rtmp', remote: '127.0.0.1:4', query: 'token=t' };
  await admission.admit({ action: 'publish', key: KEY, who, tcUrl: 'rtmp://127.0.0.1/live' });
  const p = hub.publish(KEY, who);
  admission.onDvr({ key: KEY, file: './objs/live/cam.123.flv' });
  const [dvr] = (await hooks.waitFor('on_dvr')).map((r) => r.body);
  assert.deepEqual(dvr, {
    server_id: 'vid-server', service_id: 'svc12345', action: 'on_dvr', client_id: 'rtmp-11', ip: '127.0.0.1', vhost: '__defaultVhost__',
    app: 'live', tcUrl: 'rtmp://127.0.0.1/live', stream: 'cam', param: '?token=t', cwd: '/srv/castgate', file: './objs/live/cam.123.flv',
    stream_url: '/live/cam', stream_id: hub.streamId(KEY),
  });
  admission.onHls({ key: KEY, file: './objs/live/cam-5.ts', url: 'cam-5.ts', m3u8: './objs/live/cam.m3u8', m3u8Url: 'live/cam.m3u8', seqNo: 5, durationMs: 2040 });
  const [hls] = (await hooks.waitFor('on_hls')).map((r) => r.body);
  assert.equal(hls?.url, 'live/cam-5.ts');
  assert.equal(hls?.duration, 2.04);
  assert.equal(hls?.seq_no, 5);
  assert.equal(hls?.m3u8_url, 'live/cam.m3u8');
  assert.equal(hls?.client_id, 'rtmp-11');
  p.close();
  admission.close();
});

test('a hook slower than the vhost timeout refuses', async () => {
  const { admission } = setup(ALL_HOOKS(hooks.base).replace('timeout 2;', 'timeout 0.3;'));
  hooks.answer('/p', 'hang');
  try {
    const t0 = Date.now();
    assert.equal(await code(admission.admit({ action: 'play', key: KEY, who: { id: 'slow-1', protocol: 'http-flv', remote: '127.0.0.1:9' } })), 'GW_ERR_HOOK_REJECTED');
    const took = Date.now() - t0;
    assert.ok(took >= 280 && took < 2000, `refused after ${took} ms`);
  } finally {
    hooks.answer('/p', ALLOW);
    admission.close();
  }
});

test('an admitted session that never reaches the hub is forgotten after the grace time, with no hook', async () => {
  const { hub, admission } = setup(ALL_HOOKS(hooks.base), 100);
  const gone = { id: 'busy-1', protocol: 'rtmp', remote: '127.0.0.1:10' };
  const kept = { id: 'pub-2', protocol: 'rtmp', remote: '127.0.0.1:11' };
  await admission.admit({ action: 'publish', key: KEY, who: gone });
  await admission.admit({ action: 'publish', key: { ...KEY, stream: 'other' }, who: kept });
  const p = hub.publish({ ...KEY, stream: 'other' }, kept);
  assert.equal(admission.pendingSessions, 2);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(admission.pendingSessions, 1, 'the one publishing is kept');
  const unpublishes = hooks.bodies('on_unpublish').length;
  p.close();
  await hooks.waitFor('on_unpublish', unpublishes + 1);
  assert.equal(hooks.bodies('on_unpublish').filter((b) => b.client_id === 'busy-1').length, 0);
  admission.close();
});

test('a publish that bypassed admit (ingest, transcode, forward) is announced: on_publish with ip 127.0.0.1 (answer not enforced), on_unpublish at its end', async () => {
  const { hub, admission } = setup(ALL_HOOKS(hooks.base));
  hooks.answer('/s', DENY_CODE);
  try {
    const before = hooks.bodies('on_publish').length;
    const who = { id: 'ingest-demo/0', protocol: 'ingest' };
    const publisher = hub.publish(KEY, who);
    const [pub] = (await hooks.waitFor('on_publish', before + 1)).slice(before);
    assert.deepEqual(pub?.body, {
      server_id: 'vid-server', service_id: 'svc12345', action: 'on_publish', client_id: 'ingest-demo/0', ip: '127.0.0.1',
      vhost: '__defaultVhost__', app: 'live', tcUrl: 'rtmp://localhost/live', stream: 'cam', param: '',
      stream_url: '/live/cam', stream_id: hub.streamId(KEY),
    });
    assert.equal(hub.isPublishing(KEY), true, 'a refusing answer is not enforced on the operator\'s own publish');
    const unpublishes = hooks.bodies('on_unpublish').length;
    publisher.close();
    const unpub = (await hooks.waitFor('on_unpublish', unpublishes + 1)).at(-1);
    assert.equal(unpub?.body.client_id, 'ingest-demo/0');
    // An admitted publish is not announced a second time.
    hooks.answer('/s', ALLOW);
    const count = hooks.bodies('on_publish').length;
    const rtmp = { id: 'rtmp-9', protocol: 'rtmp', remote: '127.0.0.1:4000' };
    await admission.admit({ action: 'publish', key: KEY, who: rtmp });
    const ends = hooks.bodies('on_unpublish').length;
    hub.publish(KEY, rtmp).close();
    await hooks.waitFor('on_unpublish', ends + 1);
    assert.equal(hooks.bodies('on_publish').length, count + 1, 'one on_publish for an admitted publish');
  } finally {
    hooks.answer('/s', ALLOW);
    admission.close();
  }
});
