/**
 * RTSP ANNOUNCE asks admission (PublishTarget.admit: security, then http_hooks on_publish) before its 200, on an
 * in-memory socket: what the question carries (real ip:port, the URL's query as param, tcUrl), 403 for
 * GW_ERR_SECURITY_DENIED and 401 for GW_ERR_HOOK_REJECTED with the request's CSeq and the connection closed,
 * pipelined SETUP/RECORD held in CSeq order behind a pending answer, and nothing published when the answer is a
 * refusal or comes after the session closed. Real pushes against a real hook server: test/e2e/hooks-casters.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../core/log.ts';
import type { SessionInfo } from '../../../core/hub/ports.ts';
import type { CasterOutput } from '../../../casters/caster.ts';
import { RtpPortPool } from '../../../casters/rtsp/rtp-port-pool.ts';
import { RtspSession, type RtspCasterCounters } from '../../../casters/rtsp/rtsp-session.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { controlledAdmission, type AdmitAnswer, type ControlledAdmission } from '../../helpers/fake-admission.ts';
import { waitFor } from '../../helpers/peers.ts';
import { FakeRtspSocket, type FakeRtspResponse } from '../../helpers/rtsp-fake-socket.ts';
import { h264AacSdp } from '../../helpers/rtsp-client.ts';

const URL_ = 'rtsp://127.0.0.1:8554/live/cam';
const TCP0 = 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record';

interface Harness {
  readonly sock: FakeRtspSocket;
  readonly session: RtspSession;
  readonly hub: FakeHub;
  readonly admission: ControlledAdmission;
  /** SessionInfo of every hub.publish. */
  readonly published: SessionInfo[];
  done: boolean;
  call(method: string, uri: string, headers?: Record<string, string>, body?: string): Promise<FakeRtspResponse>;
}

function start(answer: AdmitAnswer): Harness {
  const sock = new FakeRtspSocket('::ffff:127.0.0.1');
  const hub = fakeHub();
  const published: SessionInfo[] = [];
  const publish = hub.publish.bind(hub);
  hub.publish = (key, who, events) => {
    published.push(who);
    return publish(key, who, events);
  };
  const admission = controlledAdmission(answer);
  const output: CasterOutput = ({ app, stream }) => ({
    hub, key: { vhost: '__defaultVhost__', app, stream }, url: `rtmp://127.0.0.1/${app}/${stream}`, local: true, admit: admission.admit,
  });
  const counters: RtspCasterCounters = { sessions: 0, publishes: 0, packets: 0, bytes: 0, lost: 0, foreignPackets: 0, protocolErrors: 0 };
  const base = 30000 + 2 * Math.floor(Math.random() * 10000);
  const h: Harness = {
    sock, hub, admission, published, done: false,
    session: undefined as unknown as RtspSession,
    call: (method, uri, headers, body) => sock.call(method, uri, headers, body),
  };
  (h as { session: RtspSession }).session = new RtspSession({
    socket: sock.asSocket(), id: 'rtsp-adm', log: createLogger('silent'), output, ports: new RtpPortPool(base, base + 4, '127.0.0.1'),
    idleTimeoutMs: 10_000, counters, onDone: () => { h.done = true; },
  });
  return h;
}

/** ANNOUNCE, SETUP and RECORD of one push in one write (CSeq 1, 2, 3), as a pipelining client sends them. */
function pipelined(uri: string): string {
  const sdp = h264AacSdp();
  return `ANNOUNCE ${uri} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`
    + `SETUP ${URL_}/streamid=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: ${TCP0}\r\n\r\n`
    + `RECORD ${URL_} RTSP/1.0\r\nCSeq: 3\r\n\r\n`;
}

test('allowed: the question carries the real ip:port, the ANNOUNCE query as param and tcUrl; RECORD publishes as the same client', async () => {
  const h = start('allow');
  try {
    const a = await h.call('ANNOUNCE', `${URL_}?token=abc&x=1`, { 'Content-Type': 'application/sdp' }, h264AacSdp());
    assert.equal(a.status, 200);
    assert.deepEqual(h.admission.asked.map((q) => [q.who, q.extra]), [[
      { id: 'rtsp-adm', protocol: 'rtsp', remote: '127.0.0.1:50000', query: 'token=abc&x=1' },
      { tcUrl: 'rtsp://127.0.0.1:8554/live' },
    ]]);
    const setup = await h.call('SETUP', `${URL_}/streamid=0`, { Transport: TCP0 });
    const sid = (setup.headers.get('session') ?? '').split(';')[0] as string;
    assert.equal((await h.call('RECORD', URL_, { Session: sid })).status, 200);
    assert.deepEqual(h.published, [{ id: 'rtsp-adm', protocol: 'rtsp', remote: '127.0.0.1:50000', query: 'token=abc&x=1' }]);
    assert.equal(h.admission.asked.length, 1, 'asked once per ANNOUNCE, not again at RECORD');
  } finally {
    h.session.close('test end');
  }
  // No query: none in the question (the hook's param is empty).
  const h2 = start('allow');
  try {
    assert.equal((await h2.call('ANNOUNCE', URL_, { 'Content-Type': 'application/sdp' }, h264AacSdp())).status, 200);
    assert.equal(h2.admission.asked[0]?.who.query, undefined);
  } finally {
    h2.session.close('test end');
  }
});

for (const [answer, status] of [['security', 403], ['hook', 401], ['error', 500]] as const) {
  test(`refused (${answer}): ANNOUNCE answered ${status} with its CSeq, no WWW-Authenticate, connection closed, nothing published`, async () => {
    const h = start(answer);
    try {
      assert.equal((await h.call('OPTIONS', URL_)).status, 200);
      const a = await h.call('ANNOUNCE', `${URL_}?token=bad`, { 'Content-Type': 'application/sdp' }, h264AacSdp());
      assert.equal(a.status, status);
      assert.equal(a.headers.get('cseq'), '2');
      assert.equal(a.headers.has('www-authenticate'), false, 'castgate has no RTSP auth challenge');
      assert.equal(h.done, true, 'the session closed');
      assert.deepEqual(h.hub.events, []);
      assert.deepEqual(h.published, []);
    } finally {
      h.session.close('test end');
    }
  });
}

test('pipelined ANNOUNCE+SETUP+RECORD while admission is pending: nothing answered or published until allowed, then 200 ×3 in CSeq order', async () => {
  const h = start('pending');
  try {
    h.sock.send(pipelined(`${URL_}?token=abc`));
    await waitFor(() => h.admission.pending === 1, 3000, 1);
    await sleep(50);
    assert.equal(h.sock.responses.length, 0, 'SETUP and RECORD wait behind the ANNOUNCE');
    assert.equal(h.session.recording, false, 'RECORD cannot publish before admission');
    assert.deepEqual(h.hub.events, []);
    h.admission.settle('allow');
    await waitFor(() => h.sock.responses.length === 3, 3000, 1);
    assert.deepEqual(h.sock.responses.map((r) => [r.headers.get('cseq'), r.status]), [['1', 200], ['2', 200], ['3', 200]]);
    assert.deepEqual(h.hub.events, ['publish __defaultVhost__/live/cam rtsp-adm']);
    assert.equal(h.session.recording, true);
  } finally {
    h.session.close('test end');
  }
});

for (const [outcome, status] of [['hook', 401], ['security', 403]] as const) {
  test(`pipelined ANNOUNCE+SETUP+RECORD then refused (${outcome}): one ${status} for CSeq 1, the rest dropped, nothing published`, async () => {
    const h = start('pending');
    try {
      h.sock.send(pipelined(URL_));
      await waitFor(() => h.admission.pending === 1, 3000, 1);
      h.admission.settle(outcome);
      await waitFor(() => h.done, 3000, 1);
      await sleep(50);
      assert.deepEqual(h.sock.responses.map((r) => [r.headers.get('cseq'), r.status]), [['1', status]]);
      assert.deepEqual(h.hub.events, []);
      assert.equal(h.session.recording, false);
    } finally {
      h.session.close('test end');
    }
  });
}

test('the session closes while admission is pending: an allow afterwards answers and publishes nothing', async () => {
  const h = start('pending');
  h.sock.send(pipelined(URL_));
  await waitFor(() => h.admission.pending === 1, 3000, 1);
  h.session.close('caster stopping');
  assert.equal(h.done, true);
  h.admission.settle('allow');
  await sleep(50);
  assert.deepEqual(h.sock.responses, []);
  assert.deepEqual(h.hub.events, []);
  assert.equal(h.session.recording, false);
  assert.equal(h.session.stats().state, 'init');
});

test('a connection that ANNOUNCEs again after TEARDOWN is asked again', async () => {
  const h = start('allow');
  try {
    assert.equal((await h.call('ANNOUNCE', URL_, { 'Content-Type': 'application/sdp' }, h264AacSdp())).status, 200);
    const setup = await h.call('SETUP', `${URL_}/streamid=0`, { Transport: TCP0 });
    const sid = (setup.headers.get('session') ?? '').split(';')[0] as string;
    assert.equal((await h.call('TEARDOWN', URL_, { Session: sid })).status, 200);
    h.admission.answer = 'security';
    assert.equal((await h.call('ANNOUNCE', URL_, { 'Content-Type': 'application/sdp' }, h264AacSdp())).status, 403);
    assert.equal(h.admission.asked.length, 2);
  } finally {
    h.session.close('test end');
  }
});
