import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { createPublishTargetResolver, normalizeSrsRtmpUrl } from '../../../core/output/publish-target.ts';
import { ErrorCode, GatewayError, isGatewayError } from '../../../core/errors.ts';
import type { Admission, AdmissionRequest, PublishTarget } from '../../../core/hub/ports.ts';
import { fakeHub } from '../../helpers/fake-hub.ts';

const log = pino({ level: 'silent' });
const who = { id: 'test-1', protocol: 'test' };

/** A loopback TCP port nobody listens on (a push there is refused and retried until closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const a = srv.address();
  await new Promise<void>((ok) => srv.close(() => ok()));
  return typeof a === 'object' && a !== null ? a.port : assert.fail('no port');
}

test('normalizeSrsRtmpUrl moves SRS\'s app?vhost=v/stream query behind the stream', () => {
  const cases: [string, string][] = [
    ['rtmp://127.0.0.1:1935/live?vhost=__defaultVhost__/livestream', 'rtmp://127.0.0.1:1935/live/livestream?vhost=__defaultVhost__'],
    ['rtmp://h/live?vhost=a.com/s?token=x', 'rtmp://h/live/s?vhost=a.com&token=x'],
    ['rtmp://h/live/s', 'rtmp://h/live/s'],
    ['rtmp://h/live/s?vhost=a.com', 'rtmp://h/live/s?vhost=a.com'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeSrsRtmpUrl(input), want, input);
});

test('an own address with one of our RTMP ports, or a loopback host without a port, is this hub', () => {
  const hub = fakeHub();
  const resolve = createPublishTargetResolver({ hub, log, rtmpPorts: [19350, 19351] });
  const cases: [string, { vhost: string; app: string; stream: string }][] = [
    ['rtmp://127.0.0.1:19350/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
    ['rtmp://127.0.0.1:19351/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
    ['rtmp://127.0.0.1/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
    ['rtmp://127.1.2.3/a/b/s', { vhost: '__defaultVhost__', app: 'a/b', stream: 's' }],
    ['rtmp://localhost:19350/live/s?vhost=v1', { vhost: 'v1', app: 'live', stream: 's' }],
    ['rtmp://0.0.0.0/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
    ['rtmp://[::1]:19350/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
    ['rtmp://[::1]/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
    ['rtmp://[::]:19351/live/s', { vhost: '__defaultVhost__', app: 'live', stream: 's' }],
  ];
  for (const [url, key] of cases) {
    const t = resolve(url);
    assert.equal(t.hub, hub, url);
    assert.equal(t.local, true, url);
    assert.deepEqual(t.key, key, url);
    assert.equal(t.url, url);
  }
});

test('[port] is our first RTMP port; SRS\'s app?vhost=v/stream form is normalized before deciding', () => {
  const hub = fakeHub();
  const resolve = createPublishTargetResolver({ hub, log, rtmpPorts: [19350, 19351] });
  const t = resolve('rtmp://127.0.0.1:[port]/live/s');
  const { admit, ...shape } = t;
  assert.equal(typeof admit, 'function');
  assert.deepEqual(shape, { hub, key: { vhost: '__defaultVhost__', app: 'live', stream: 's' }, url: 'rtmp://127.0.0.1:19350/live/s', local: true });
  const srs = resolve('rtmp://127.0.0.1:[port]/live?vhost=v.example/cam');
  assert.equal(srs.url, 'rtmp://127.0.0.1:19350/live/cam?vhost=v.example');
  assert.deepEqual(srs.key, { vhost: 'v.example', app: 'live', stream: 'cam' });
  assert.equal(srs.local, true);
  // Without RTMP listeners [port] is RTMP's default port, and nothing is this gateway.
  const none = createPublishTargetResolver({ hub, log, rtmpPorts: [] });
  const r = none('rtmp://127.0.0.1:[port]/live/s');
  assert.equal(r.url, 'rtmp://127.0.0.1:1935/live/s');
  assert.equal(r.local, false);
  assert.notEqual(r.hub, hub);
  assert.equal(none('rtmp://127.0.0.1/live/s').local, false);
});

test('a foreign host, or a loopback host on a port that is not ours, gets one RTMP push port per URL', () => {
  const hub = fakeHub();
  const resolve = createPublishTargetResolver({ hub, log, rtmpPorts: [19350] });
  const r1 = resolve('rtmp://10.0.0.9/live/x');
  assert.equal(r1.local, false);
  assert.notEqual(r1.hub, hub);
  assert.deepEqual(r1.key, { vhost: '__defaultVhost__', app: 'live', stream: 'x' });
  assert.equal(r1.url, 'rtmp://10.0.0.9/live/x');
  assert.equal(r1.hub.isPublishing(r1.key), false, 'resolving opens no push');
  assert.throws(() => r1.hub.subscribe(r1.key, who, { send: () => true }), (err: unknown) => isGatewayError(err, ErrorCode.CasterOutput));
  assert.equal(resolve('rtmp://10.0.0.9/live/x').hub, r1.hub, 'same URL, same push port');
  assert.notEqual(resolve('rtmp://10.0.0.9/live/y').hub, r1.hub, 'another URL, another push port');
  assert.notEqual(resolve('rtmp://10.0.0.9:1936/live/x').hub, r1.hub);
  const named = resolve('rtmp://cdn.example.com:19350/live/x');
  assert.equal(named.local, false, 'a host name that is not loopback is foreign even on our port');
  assert.deepEqual(named.key, { vhost: 'cdn.example.com', app: 'live', stream: 'x' });
  const otherPort = resolve('rtmp://127.0.0.1:19352/live/x');
  assert.equal(otherPort.local, false);
  assert.notEqual(otherPort.hub, hub);
  const v6 = resolve('rtmp://[::1]:19352/live/x');
  assert.equal(v6.local, false);
});

test('the same foreign URL twice: the second publisher is refused with GW_ERR_STREAM_BUSY', async () => {
  const port = await closedPort();
  const resolve = createPublishTargetResolver({ hub: fakeHub(), log, rtmpPorts: [19350] });
  const url = `rtmp://127.0.0.1:${port}/live/busy`;
  const first = resolve(url);
  const p1 = first.hub.publish(first.key, who);
  try {
    const second = resolve(url);
    assert.equal(second.hub, first.hub);
    assert.equal(second.hub.isPublishing(second.key), true);
    assert.throws(() => second.hub.publish(second.key, { id: 'test-2', protocol: 'test' }), (err: unknown) => isGatewayError(err, ErrorCode.StreamBusy));
  } finally {
    p1.close('test over');
  }
  const again = resolve(url);
  assert.equal(again.hub.isPublishing(again.key), false);
  again.hub.publish(again.key, who).close('test over');
});

test('remembered foreign URLs are bounded: past the bound those not pushing are forgotten', async () => {
  const port = await closedPort();
  const resolve = createPublishTargetResolver({ hub: fakeHub(), log, rtmpPorts: [19350], maxRemoteOutputs: 2 });
  const pushing = resolve(`rtmp://127.0.0.1:${port}/live/a`);
  const publisher = pushing.hub.publish(pushing.key, who);
  try {
    const idle: PublishTarget = resolve('rtmp://10.0.0.9/live/b');
    assert.equal(resolve('rtmp://10.0.0.9/live/b').hub, idle.hub, 'within the bound: remembered');
    resolve('rtmp://10.0.0.9/live/c'); // the bound is reached: b (idle) is forgotten, a (pushing) kept
    assert.equal(resolve(`rtmp://127.0.0.1:${port}/live/a`).hub, pushing.hub);
    assert.notEqual(resolve('rtmp://10.0.0.9/live/b').hub, idle.hub);
  } finally {
    publisher.close('test over');
  }
});

test('a malformed output URL is GW_ERR_STREAM_KEY_INVALID', () => {
  const resolve = createPublishTargetResolver({ hub: fakeHub(), log, rtmpPorts: [19350] });
  for (const url of ['http://127.0.0.1/live/s', 'rtmp://127.0.0.1/live', 'rtmp://127.0.0.1/', 'not a url', '', 'rtmp://10.0.0.9/live/a..b', 'rtmp://127.0.0.1/live/s s']) {
    assert.throws(() => resolve(url), (err: unknown) => isGatewayError(err, ErrorCode.StreamKeyInvalid), url);
  }
});

test('a local target asks the gateway Admission for a publish of its key; a foreign target is allowed here', async () => {
  const hub = fakeHub();
  const asked: AdmissionRequest[] = [];
  const admission: Admission = {
    admit: (req) => {
      asked.push(req);
      return req.who.remote?.startsWith('10.') === true ? Promise.reject(new GatewayError(ErrorCode.SecurityDenied, 'denied')) : Promise.resolve();
    },
  };
  const resolve = createPublishTargetResolver({ hub, log, rtmpPorts: [19350], admission });
  const local = resolve('rtmp://127.0.0.1/live/cam?token=1');
  await local.admit({ id: 'rtsp-1', protocol: 'rtsp', remote: '127.0.0.1:5000', query: 'token=1' }, { tcUrl: 'rtsp://127.0.0.1:8554/live' });
  assert.equal(asked.length, 1);
  assert.deepEqual(asked[0], {
    action: 'publish',
    key: { vhost: '__defaultVhost__', app: 'live', stream: 'cam' },
    who: { id: 'rtsp-1', protocol: 'rtsp', remote: '127.0.0.1:5000', query: 'token=1' },
    tcUrl: 'rtsp://127.0.0.1:8554/live',
  });
  await assert.rejects(local.admit({ id: 'udp-1', protocol: 'mpegts_over_udp', remote: '10.0.0.1:1234' }), (err: unknown) => isGatewayError(err) && err.code === ErrorCode.SecurityDenied);
  const foreign = resolve('rtmp://192.0.2.7/live/cam');
  await foreign.admit({ id: 'udp-2', protocol: 'mpegts_over_udp', remote: '10.0.0.1:1234' });
  assert.equal(asked.length, 2, 'a foreign server decides on its own publishes');
});
