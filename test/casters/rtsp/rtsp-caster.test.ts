/**
 * The RTSP caster's protocol handling, driven by a scripted client against a fake hub: status codes of the
 * state machine (RFC 2326 §A.1), garbage and oversized input, port-pair accounting, busy streams, idle timeout,
 * and 200 sessions opened and closed leaving nothing behind. Real pushers are in test/e2e/rtsp.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseRtcpCompound, parseRtcpReceiverReport } from '../../../core/protocol/rtp/rtcp.ts';
import { parseRtpPacket } from '../../../core/protocol/rtp/rtp-packet.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestRtspCaster } from '../../helpers/rtsp-caster.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';
import { h264AacSdp, RtspTestClient } from '../../helpers/rtsp-client.ts';
import { readRtpCapture } from '../../helpers/rtp-capture.ts';


const ANNOUNCE_HEADERS = { 'Content-Type': 'application/sdp' };

/** ANNOUNCE + SETUP of both tracks (UDP or TCP) + RECORD; returns the session id. */
async function pushSession(c: RtspTestClient, url: string, transport: 'udp' | 'tcp', clientPortBase = 5000): Promise<string> {
  assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 200);
  let session = '';
  for (const i of [0, 1]) {
    const t = transport === 'tcp'
      ? `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1};mode=record`
      : `RTP/AVP/UDP;unicast;client_port=${clientPortBase + 2 * i}-${clientPortBase + 2 * i + 1};mode=record`;
    const headers: Record<string, string> = { Transport: t };
    if (session !== '') headers['Session'] = session;
    const r = await c.request('SETUP', `${url}/streamid=${i}`, headers);
    assert.equal(r.status, 200, `SETUP ${i}`);
    session = (r.headers.get('session') ?? '').split(';')[0] as string;
  }
  assert.equal((await c.request('RECORD', url, { Session: session, Range: 'npt=0.000-' })).status, 200);
  return session;
}

test('OPTIONS lists the methods; pipelined requests are answered in order with their CSeq', async () => {
  const { caster, port } = await startTestRtspCaster();
  const c = await RtspTestClient.connect(port);
  try {
    c.write('OPTIONS rtsp://127.0.0.1/live/a RTSP/1.0\r\nCSeq: 7\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 8\r\n\r\nGET_PARAMETER rtsp://127.0.0.1/live/a RTSP/1.0\r\nCSeq: 9\r\n\r\n');
    const r1 = await c.response();
    const r2 = await c.response();
    const r3 = await c.response();
    assert.deepEqual([r1.status, r2.status, r3.status], [200, 200, 200]);
    assert.deepEqual([r1.headers.get('cseq'), r2.headers.get('cseq'), r3.headers.get('cseq')], ['7', '8', '9']);
    assert.match(r1.headers.get('public') ?? '', /ANNOUNCE.*SETUP.*RECORD.*TEARDOWN/);
  } finally {
    c.close();
    await caster.stop();
  }
});

test('state machine: SETUP before ANNOUNCE 455, RECORD before SETUP 455, unknown session 454, DESCRIBE/PLAY 405, unknown method 501, Require 551', async () => {
  const { caster, port, hub } = await startTestRtspCaster();
  const c = await RtspTestClient.connect(port);
  const url = `rtsp://127.0.0.1:${port}/live/state`;
  try {
    assert.equal((await c.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record' })).status, 455);
    assert.equal((await c.request('RECORD', url)).status, 455);
    assert.equal((await c.request('DESCRIBE', url)).status, 405);
    assert.equal((await c.request('PLAY', url)).status, 405);
    assert.equal((await c.request('FROBNICATE', url)).status, 501);
    const required = await c.request('OPTIONS', url, { Require: 'funky-feature' });
    assert.equal(required.status, 551, 'Require of an option we lack (RFC 2326 §12.32)');
    assert.equal(required.headers.get('unsupported'), 'funky-feature');
    assert.equal((await c.request('ANNOUNCE', url, { 'Content-Type': 'text/plain' }, 'hello')).status, 415);
    assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, 'v=0\r\nthis is not sdp\r\n')).status, 400);
    assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 200);
    assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 455, 'second ANNOUNCE');
    assert.equal((await c.request('RECORD', url)).status, 455, 'RECORD before SETUP');
    assert.equal((await c.request('SETUP', `${url}/streamid=9`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status, 404);
    assert.equal((await c.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP;multicast' })).status, 461);
    assert.equal((await c.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=play' })).status, 461);
    const ok = await c.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=RECORD' });
    assert.equal(ok.status, 200, 'mode=RECORD (GStreamer) accepted');
    const session = (ok.headers.get('session') ?? '').split(';')[0] as string;
    assert.match(ok.headers.get('session') ?? '', /^[0-9a-f]{16};timeout=60$/);
    assert.match(ok.headers.get('transport') ?? '', /interleaved=0-1/);
    assert.equal((await c.request('RECORD', url, { Session: 'deadbeef' })).status, 454);
    assert.equal((await c.request('SETUP', `${url}/streamid=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: session })).status, 461, 'channels in use');
    assert.equal((await c.request('RECORD', url, { Session: session })).status, 200);
    assert.deepEqual(hub.events, [`publish __defaultVhost__/live/state ${hub.events[0]?.split(' ')[2]}`]);
    assert.equal((await c.request('TEARDOWN', url, { Session: session })).status, 200);
    assert.match(hub.events[1] ?? '', /^unpublish __defaultVhost__\/live\/state .*TEARDOWN/);
    assert.equal((await c.request('GET_PARAMETER', url, { Session: session })).status, 454, 'session gone after TEARDOWN');
  } finally {
    c.close();
    await caster.stop();
  }
});

test('garbage on the RTSP port gets 400 and a closed connection; other sessions are unaffected', async () => {
  const { caster, port, hub } = await startTestRtspCaster();
  const good = await RtspTestClient.connect(port);
  const bad = await RtspTestClient.connect(port);
  const huge = await RtspTestClient.connect(port);
  try {
    await pushSession(good, `rtsp://127.0.0.1:${port}/live/good`, 'tcp');
    bad.write(Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage that is not RTSP\r\n\r\n', 'latin1'));
    const r = await bad.response();
    assert.equal(r.status, 400);
    await bad.waitClosed();
    huge.write(`OPTIONS rtsp://127.0.0.1/${'x'.repeat(70_000)} RTSP/1.0\r\n`);
    const r2 = await huge.response();
    assert.ok(r2.status === 414 || r2.status === 400, `oversized request line → ${r2.status}`);
    await huge.waitClosed();
    // The good session is still there and answers.
    assert.equal((await good.request('GET_PARAMETER', `rtsp://127.0.0.1:${port}/live/good`)).status, 200);
    assert.ok(hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'good' }));
  } finally {
    good.close();
    bad.close();
    huge.close();
    await caster.stop();
  }
});

test('a second pusher to a stream being published gets 403; the first keeps publishing', async () => {
  const { caster, port, hub } = await startTestRtspCaster();
  const first = await RtspTestClient.connect(port);
  const second = await RtspTestClient.connect(port);
  const url = `rtsp://127.0.0.1:${port}/live/busy`;
  try {
    await pushSession(first, url, 'tcp');
    assert.equal((await second.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 403);
    assert.ok(hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'busy' }));
    assert.equal((await first.request('GET_PARAMETER', url)).status, 200);
  } finally {
    first.close();
    second.close();
    await caster.stop();
  }
});

test('UDP SETUP takes an even/odd server port pair; 453 when the range is exhausted; disconnect gives them back', async () => {
  const base = 30000 + 2 * Math.floor(Math.random() * 10000);
  const { caster, port } = await startTestRtspCaster({ rtpPortMin: base, rtpPortMax: base + 4 }); // two pairs
  const a = await RtspTestClient.connect(port);
  const b = await RtspTestClient.connect(port);
  try {
    const url = `rtsp://127.0.0.1:${port}/live/ports`;
    assert.equal((await a.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 200);
    const s0 = await a.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/UDP;unicast;client_port=5000-5001;mode=record' });
    assert.equal(s0.status, 200);
    const m = /server_port=(\d+)-(\d+)/.exec(s0.headers.get('transport') ?? '');
    assert.ok(m !== null, s0.headers.get('transport'));
    assert.equal(Number(m[1]) % 2, 0, 'RTP port even');
    assert.equal(Number(m[2]), Number(m[1]) + 1, 'RTCP port = RTP + 1');
    assert.ok(Number(m[1]) >= base && Number(m[2]) < base + 4);
    const session = (s0.headers.get('session') ?? '').split(';')[0] as string;
    assert.equal((await a.request('SETUP', `${url}/streamid=1`, { Transport: 'RTP/AVP/UDP;unicast;client_port=5002-5003;mode=record', Session: session })).status, 200);
    assert.equal(caster.portsInUse, 2);
    assert.equal((await b.request('ANNOUNCE', `rtsp://127.0.0.1:${port}/live/other`, ANNOUNCE_HEADERS, h264AacSdp())).status, 200);
    assert.equal((await b.request('SETUP', `rtsp://127.0.0.1:${port}/live/other/streamid=0`, { Transport: 'RTP/AVP;unicast;client_port=5004-5005;mode=record' })).status, 453);
    a.close();
    await waitFor(() => caster.portsInUse === 0, 3000);
  } finally {
    a.close();
    b.close();
    await caster.stop();
  }
});

test('RTP from a foreign address is dropped and counted; idle_timeout without RTP ends the session', async () => {
  const { caster, port, hub } = await startTestRtspCaster({ idleTimeoutMs: 600 });
  const c = await RtspTestClient.connect(port);
  const url = `rtsp://127.0.0.1:${port}/live/idle`;
  const stranger = createSocket('udp4');
  try {
    assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 200);
    const s0 = await c.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/UDP;unicast;client_port=5000-5001;mode=record' });
    const serverRtp = Number(/server_port=(\d+)/.exec(s0.headers.get('transport') ?? '')?.[1]);
    const session = (s0.headers.get('session') ?? '').split(';')[0] as string;
    assert.equal((await c.request('RECORD', url, { Session: session })).status, 200);
    await new Promise<void>((ok) => stranger.bind(0, '127.0.0.2', () => ok()));
    const rtp = Buffer.from('80e000010000000012345678' + '65888000', 'hex');
    for (let i = 0; i < 5; i++) stranger.send(rtp, serverRtp, '127.0.0.1');
    await waitFor(() => (caster.stats()['foreignPackets'] as number) >= 5, 2000);
    assert.equal(hub.published.get('__defaultVhost__/live/idle'), undefined, 'nothing published from the stranger');
    // No RTP from the pusher: the session times out, unpublishes, the connection closes, the ports come back.
    await c.waitClosed(3000);
    assert.match(hub.events.at(-1) ?? '', /^unpublish .*idle_timeout/);
    await waitFor(() => caster.portsInUse === 0 && caster.connections === 0, 2000);
  } finally {
    stranger.close();
    c.close();
    await caster.stop();
  }
});

test('200 sessions opened and closed (UDP and TCP, TEARDOWN or disconnect) leave no port, socket or stream behind', { timeout: 60_000 }, async () => {
  const base = 30000 + 2 * Math.floor(Math.random() * 10000);
  const { caster, port, hub } = await startTestRtspCaster({ rtpPortMin: base, rtpPortMax: base + 400 });
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 200; i++) {
    const c = await RtspTestClient.connect(port);
    const url = `rtsp://127.0.0.1:${port}/live/s${i % 7}`;
    const session = await pushSession(c, url, i % 2 === 0 ? 'udp' : 'tcp', 6000 + (i % 50) * 4);
    if (i % 3 === 0) assert.equal((await c.request('TEARDOWN', url, { Session: session })).status, 200);
    c.close();
    await waitFor(() => caster.connections === 0, 3000, 5);
  }
  await waitFor(() => caster.portsInUse === 0 && caster.connections === 0, 3000);
  for (let i = 0; i < 7; i++) assert.equal(hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: `s${i}` }), false);
  assert.equal(caster.stats()['publishes'], 200);
  const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  assert.ok(heapGrowthMb < 50, `heap grew ${heapGrowthMb.toFixed(1)} MB`);
  await caster.stop();
  await sleep(10);
});

function bindUdp(port: number, host = '127.0.0.1'): Promise<Socket> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((ok, fail) => {
    s.once('error', fail);
    s.bind(port, host, () => ok(s));
  });
}

// IPv6: the caster listens on all interfaces (no host, as `listen 8554;` does) and gives a client that connected
// over ::1 a udp6 port pair; RTP from ::1 is the pusher's, and the receiver reports go back over IPv6.
for (const [listenHost, clientHost] of [['127.0.0.1', '127.0.0.1'], [undefined, '::1']] as const) {
  test(`UDP push of real RTP (ffmpeg capture) from ${clientHost}: frames reach the hub, and RTCP receiver reports come back to client_port+1`, { timeout: 20_000 }, async () => {
    const { caster, port, hub } = await startTestRtspCaster({ listenHost });
    const c = await RtspTestClient.connect(port, clientHost);
    const clientRtp = await bindUdp(0, clientHost);
    const clientRtpPort = clientRtp.address().port;
    let clientRtcp: Socket;
    try {
      clientRtcp = await bindUdp(clientRtpPort + 1, clientHost);
    } catch {
      clientRtcp = await bindUdp(0, clientHost); // the neighbour port is taken: the RR then goes to the port we announce
    }
    const reports: Buffer[] = [];
    clientRtcp.on('message', (m) => reports.push(m));
    const url = `rtsp://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${port}/live/rr`;
    const sdp = readFileSync(fixture('rtp/h264-320x240-25fps-2s.sdp'), 'utf8').replace(/a=control:[^\r\n]*\r?\n/g, '') + 'a=control:streamid=0\r\n';
    try {
      assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, sdp)).status, 200);
      const s0 = await c.request('SETUP', `${url}/streamid=0`, {
        Transport: `RTP/AVP/UDP;unicast;client_port=${clientRtpPort}-${clientRtcp.address().port};mode=record`,
      });
      assert.equal(s0.status, 200);
      const serverRtp = Number(/server_port=(\d+)/.exec(s0.headers.get('transport') ?? '')?.[1]);
      const session = (s0.headers.get('session') ?? '').split(';')[0] as string;
      assert.equal((await c.request('RECORD', url, { Session: session })).status, 200);
      const datagrams = readRtpCapture(fixture('rtp/h264-320x240-25fps-2s.rtp.bin'));
      const senderSsrc = parseRtpPacket(datagrams[0] as Buffer).ssrc;
      for (const d of datagrams) {
        clientRtp.send(d, serverRtp, clientHost);
        await sleep(2);
      }
      await waitFor(() => (hub.published.get('__defaultVhost__/live/rr') ?? []).filter((m) => m.type === 9 && !m.isConfig).length >= 45, 5000);
      const video = (hub.published.get('__defaultVhost__/live/rr') ?? []).filter((m) => m.type === 9 && !m.isConfig);
      assert.equal(video[0]?.kind, 'keyframe');
      await waitFor(() => reports.length > 0, 5000);
      const rr = parseRtcpReceiverReport(reports[0] as Buffer);
      assert.equal(rr.blocks[0]?.ssrc, senderSsrc, 'the report is about the pusher\'s SSRC');
      assert.equal(rr.blocks[0]?.cumulativeLost, 0);
      assert.ok(parseRtcpCompound(reports[0] as Buffer).length >= 2, 'compound RR + SDES');
      assert.equal(caster.stats()['foreignPackets'] ?? 0, 0, 'every packet came from the pusher');
    } finally {
      clientRtp.close();
      clientRtcp.close();
      c.close();
      await caster.stop();
    }
  });
}

test('two rtsp casters sharing one RTP port range hand out distinct pairs (a taken pair is skipped)', async () => {
  const base = 30000 + 2 * Math.floor(Math.random() * 10000);
  const a = await startTestRtspCaster({ rtpPortMin: base, rtpPortMax: base + 8 });
  const b = await startTestRtspCaster({ rtpPortMin: base, rtpPortMax: base + 8 });
  const ca = await RtspTestClient.connect(a.port);
  const cb = await RtspTestClient.connect(b.port);
  try {
    const ports: string[] = [];
    for (const [c, port] of [[ca, a.port], [cb, b.port]] as const) {
      const url = `rtsp://127.0.0.1:${port}/live/x`;
      assert.equal((await c.request('ANNOUNCE', url, ANNOUNCE_HEADERS, h264AacSdp())).status, 200);
      const r = await c.request('SETUP', `${url}/streamid=0`, { Transport: 'RTP/AVP/UDP;unicast;client_port=5000-5001;mode=record' });
      assert.equal(r.status, 200);
      ports.push(/server_port=(\d+-\d+)/.exec(r.headers.get('transport') ?? '')?.[1] ?? '');
    }
    assert.notEqual(ports[0], ports[1]);
  } finally {
    ca.close();
    cb.close();
    await a.caster.stop();
    await b.caster.stop();
  }
});
