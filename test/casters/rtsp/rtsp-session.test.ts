/**
 * RtspSession, the request state machine of one RTSP push connection (RFC 2326 §A.1, record side), on an in-memory
 * socket: status codes out of state (455) and for a session that is not ours (454), SETUP over TCP (interleaved
 * channels) and UDP (a port pair of a real RtpPortPool on loopback) then RECORD, what TEARDOWN and the timers give
 * back, and what happens to a client that stops reading. End-to-end pushes by ffmpeg/GStreamer are in
 * test/e2e/rtsp.test.ts; the same state machine over real TCP in rtsp-caster.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createLogger } from '../../../core/log.ts';
import { parseRtcpReceiverReport } from '../../../core/protocol/rtp/rtcp.ts';
import { parseRtpPacket } from '../../../core/protocol/rtp/rtp-packet.ts';
import type { CasterOutput } from '../../../casters/caster.ts';
import { RtpPortPool } from '../../../casters/rtsp/rtp-port-pool.ts';
import { RtspSession, type RtspCasterCounters } from '../../../casters/rtsp/rtsp-session.ts';
import { MAX_PENDING_WRITE_BYTES } from '../../../casters/rtsp/rtsp-connection-writer.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';
import { FakeRtspSocket, type FakeRtspResponse } from '../../helpers/rtsp-fake-socket.ts';
import { h264AacSdp } from '../../helpers/rtsp-client.ts';

const URL_ = 'rtsp://127.0.0.1:8554/live/cam';
const KEY = '__defaultVhost__/live/cam';
const SDP_HEADERS = { 'Content-Type': 'application/sdp' };
const TCP = (i: number): string => `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1};mode=record`;

interface Harness {
  readonly sock: FakeRtspSocket;
  readonly session: RtspSession;
  readonly hub: FakeHub;
  readonly ports: RtpPortPool;
  readonly counters: RtspCasterCounters;
  /** Set when the session reported itself done (closed). */
  done: boolean;
  /** Send a request and wait for its response. */
  call(method: string, uri: string, headers?: Record<string, string>, body?: string): Promise<FakeRtspResponse>;
}

function start(opts: { remoteAddress?: string; idleTimeoutMs?: number } = {}): Harness {
  const sock = new FakeRtspSocket(opts.remoteAddress);
  const hub = fakeHub();
  const base = 30000 + 2 * Math.floor(Math.random() * 10000);
  const ports = new RtpPortPool(base, base + 20, '127.0.0.1');
  const counters: RtspCasterCounters = { sessions: 0, publishes: 0, packets: 0, bytes: 0, lost: 0, foreignPackets: 0, protocolErrors: 0 };
  const output: CasterOutput = ({ app, stream }) => ({ hub, key: { vhost: '__defaultVhost__', app, stream }, url: `rtmp://127.0.0.1/${app}/${stream}`, local: true, admit: () => Promise.resolve() });
  const h: Harness = {
    sock,
    hub,
    ports,
    counters,
    done: false,
    session: undefined as unknown as RtspSession,
    call: (method, uri, headers, body) => sock.call(method, uri, headers, body),
  };
  (h as { session: RtspSession }).session = new RtspSession({
    socket: sock.asSocket(),
    id: 'rtsp-test',
    log: createLogger('silent'),
    output,
    ports,
    idleTimeoutMs: opts.idleTimeoutMs ?? 10_000,
    counters,
    onDone: () => {
      h.done = true;
    },
  });
  return h;
}

const sessionOf = (r: FakeRtspResponse): string => (r.headers.get('session') ?? '').split(';')[0] as string;

test('out-of-state requests get 455 and a Session that is not ours 454; OPTIONS is valid anywhere', async () => {
  const h = start();
  try {
    assert.equal((await h.call('SETUP', `${URL_}/streamid=0`, { Transport: TCP(0) })).status, 455, 'SETUP before ANNOUNCE');
    assert.equal((await h.call('RECORD', URL_)).status, 455, 'RECORD before ANNOUNCE');
    assert.equal((await h.call('GET_PARAMETER', URL_, { Session: '0123456789abcdef' })).status, 454, 'no session yet');
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 200);
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 455, 'second ANNOUNCE');
    assert.equal((await h.call('RECORD', URL_)).status, 455, 'RECORD before SETUP');
    const setup = await h.call('SETUP', `${URL_}/streamid=0`, { Transport: TCP(0) });
    assert.equal(setup.status, 200);
    const sid = sessionOf(setup);
    assert.match(setup.headers.get('session') ?? '', /^[0-9a-f]{16};timeout=60$/);
    assert.equal((await h.call('SETUP', `${URL_}/streamid=0`, { Transport: TCP(1), Session: sid })).status, 455, 'same track twice');
    assert.equal((await h.call('RECORD', URL_, { Session: 'deadbeefdeadbeef' })).status, 454);
    assert.equal((await h.call('TEARDOWN', URL_, { Session: `${sid}x` })).status, 454);
    assert.equal((await h.call('OPTIONS', URL_, { Session: 'deadbeefdeadbeef' })).status, 200, 'OPTIONS ignores Session');
    assert.equal((await h.call('RECORD', URL_, { Session: sid })).status, 200);
    assert.equal((await h.call('RECORD', URL_, { Session: sid })).status, 455, 'already recording');
    assert.equal((await h.call('SETUP', `${URL_}/streamid=1`, { Transport: TCP(1), Session: sid })).status, 455, 'SETUP while recording');
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 455, 'ANNOUNCE while recording');
    assert.deepEqual(h.sock.responses.map((r) => r.headers.get('cseq')), h.sock.responses.map((_, i) => String(i + 1)), 'every response echoes its CSeq');
    assert.equal(h.counters.protocolErrors, h.sock.responses.filter((r) => r.status >= 400).length, 'each failure counted once');
    assert.equal(h.session.recording, true);
    assert.equal(h.done, false, 'errors in state do not close the connection');
  } finally {
    h.session.close('test end');
  }
});

test('SETUP over TCP and RECORD: a real ffmpeg push reaches the hub; receiver reports go back on the RTCP channels', async () => {
  const h = start();
  const transcript = readFileSync(fixture('rtsp/ffmpeg-tcp-h264-aac.txt'), 'latin1');
  const sdp = /\r?\n\r?\n(v=0[\s\S]*?a=control:streamid=1\r?\n)/.exec(transcript)?.[1] ?? '';
  try {
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, sdp)).status, 200);
    const s0 = await h.call('SETUP', `${URL_}/streamid=0`, { Transport: TCP(0) });
    assert.equal(s0.headers.get('transport'), 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record');
    const sid = sessionOf(s0);
    // No interleaved= offered: the lowest free pair.
    const s1 = await h.call('SETUP', `${URL_}/streamid=1`, { Transport: 'RTP/AVP/TCP;unicast;mode=record', Session: sid });
    assert.equal(s1.headers.get('transport'), 'RTP/AVP/TCP;unicast;interleaved=2-3;mode=record');
    assert.equal(sessionOf(s1), sid, 'one session id for both tracks');
    assert.equal(h.hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'cam' }), false, 'nothing published before RECORD');
    assert.equal((await h.call('RECORD', URL_, { Session: sid })).status, 200);
    assert.deepEqual(h.hub.events, ['publish __defaultVhost__/live/cam rtsp-test']);
    const media = readFileSync(fixture('rtsp/ffmpeg-tcp-h264-aac-after-record.bin'));
    h.sock.send(Buffer.concat([Buffer.from([0x24, 7, 0, 2, 1, 2]), media])); // channel 7: nobody's, dropped
    await waitFor(() => (h.hub.published.get(KEY) ?? []).some((m) => m.kind === 'audio'), 3000, 1);
    const msgs = h.hub.published.get(KEY) ?? [];
    assert.equal(msgs[0]?.kind, 'metadata', 'onMetaData first');
    assert.ok(msgs.some((m) => m.kind === 'video-config') && msgs.some((m) => m.kind === 'audio-config'));
    assert.equal(msgs.find((m) => m.type === 9 && !m.isConfig)?.kind, 'keyframe');
    let frames = 0;
    for (let o = 0; o + 4 <= media.length && media[o] === 0x24; o += 4 + media.readUInt16BE(o + 2)) frames++;
    assert.equal(h.counters.packets, frames, 'every frame of a set-up channel counted, the stray one not');
    // The first RR is due 1 s after RECORD: one per track, each on its RTCP channel, about the pusher's SSRC.
    h.session.tick(Date.now() + 1500);
    const rrs = h.sock.frames;
    assert.deepEqual(rrs.map((f) => f.channel).sort(), [1, 3]);
    const ssrcOf = (channel: number): number => {
      for (let o = 0; ; o += 4 + media.readUInt16BE(o + 2)) if (media[o + 1] === channel) return parseRtpPacket(media.subarray(o + 4, o + 4 + media.readUInt16BE(o + 2))).ssrc;
    };
    for (const f of rrs) assert.equal(parseRtcpReceiverReport(f.payload).blocks[0]?.ssrc, ssrcOf(f.channel - 1));
    h.session.tick(Date.now() + 2000);
    assert.equal(h.sock.frames.length, 2, 'the next report waits RTCP_RR_INTERVAL_MS');
    const stats = h.session.stats();
    assert.deepEqual(stats.tracks.map((t) => t.codec), ['h264', 'aac']);
  } finally {
    h.session.close('test end');
  }
});

test('SETUP over UDP takes a port pair per track; TEARDOWN unpublishes, gives the ports back, and the connection may ANNOUNCE again', async () => {
  const h = start();
  try {
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 200);
    let sid = '';
    for (const i of [0, 1]) {
      const headers: Record<string, string> = { Transport: `RTP/AVP/UDP;unicast;client_port=${5000 + 2 * i}-${5001 + 2 * i};mode=record` };
      if (sid !== '') headers['Session'] = sid;
      const r = await h.call('SETUP', `${URL_}/streamid=${i}`, headers);
      assert.equal(r.status, 200);
      const m = /^RTP\/AVP\/UDP;unicast;client_port=(\d+)-(\d+);server_port=(\d+)-(\d+);mode=record$/.exec(r.headers.get('transport') ?? '');
      assert.ok(m !== null, r.headers.get('transport'));
      assert.deepEqual([Number(m[1]), Number(m[2])], [5000 + 2 * i, 5001 + 2 * i]);
      assert.equal(Number(m[3]) % 2, 0);
      assert.equal(Number(m[4]), Number(m[3]) + 1);
      sid = sessionOf(r);
    }
    assert.equal(h.ports.inUse, 2);
    assert.equal((await h.call('RECORD', URL_, { Session: sid })).status, 200);
    const teardown = await h.call('TEARDOWN', URL_, { Session: sid });
    assert.equal(teardown.status, 200);
    assert.equal(sessionOf(teardown), sid);
    assert.equal(h.ports.inUse, 0, 'both pairs released');
    assert.match(h.hub.events.at(-1) ?? '', /^unpublish __defaultVhost__\/live\/cam rtsp-test \(TEARDOWN\)$/);
    assert.equal(h.session.recording, false);
    assert.equal((await h.call('GET_PARAMETER', URL_, { Session: sid })).status, 454, 'the session is gone');
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 200, 'back in init');
    assert.equal(h.done, false);
  } finally {
    h.session.close('test end');
  }
  assert.equal(h.ports.inUse, 0);
});

test('UDP: datagrams from an address other than the pusher\'s are dropped and counted', async () => {
  const h = start({ remoteAddress: '192.0.2.7' }); // the pusher (TEST-NET-1); our datagrams come from 127.0.0.1
  const stranger = createSocket('udp4');
  try {
    assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 200);
    const r = await h.call('SETUP', `${URL_}/streamid=0`, { Transport: 'RTP/AVP;unicast;client_port=5000-5001;mode=record' });
    const serverRtp = Number(/server_port=(\d+)/.exec(r.headers.get('transport') ?? '')?.[1]);
    const rtp = Buffer.from('80e000010000000012345678' + '65888000', 'hex');
    stranger.send(rtp, serverRtp, '127.0.0.1');
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(h.counters.foreignPackets, 0, 'before RECORD nothing is looked at');
    assert.equal((await h.call('RECORD', URL_, { Session: sessionOf(r) })).status, 200);
    for (let i = 0; i < 3; i++) stranger.send(rtp, serverRtp, '127.0.0.1');
    await waitFor(() => h.counters.foreignPackets === 3, 2000);
    assert.equal(h.counters.packets, 0);
    assert.equal(h.hub.published.get(KEY), undefined);
  } finally {
    stranger.close();
    h.session.close('test end');
  }
});

test('timers: no request for 60 s before RECORD closes; no RTP for idle_timeout after RECORD unpublishes and releases the ports', async () => {
  const idle = start();
  idle.session.tick(Date.now() + 59_000);
  assert.equal(idle.done, false);
  idle.session.tick(Date.now() + 60_001);
  assert.equal(idle.done, true);
  assert.equal(idle.sock.writableEnded, true, 'the connection is closed');

  const h = start({ idleTimeoutMs: 600 });
  assert.equal((await h.call('ANNOUNCE', URL_, SDP_HEADERS, h264AacSdp())).status, 200);
  const r = await h.call('SETUP', `${URL_}/streamid=0`, { Transport: 'RTP/AVP;unicast;client_port=5000-5001;mode=record' });
  assert.equal((await h.call('RECORD', URL_, { Session: sessionOf(r) })).status, 200);
  assert.equal(h.ports.inUse, 1);
  h.session.tick(Date.now() + 500);
  assert.equal(h.done, false);
  h.session.tick(Date.now() + 700);
  assert.equal(h.done, true);
  assert.equal(h.ports.inUse, 0);
  assert.match(h.hub.events.at(-1) ?? '', /^unpublish .*idle_timeout/);
  h.session.close('again'); // idempotent
});

test('a client that stops reading its responses is dropped; garbage gets 400 and a close', async () => {
  const slow = start();
  slow.sock.stalled = true;
  slow.sock.write(Buffer.alloc(MAX_PENDING_WRITE_BYTES + 1)); // earlier output the client never read
  slow.sock.request('OPTIONS', URL_);
  await waitFor(() => slow.done, 2000, 1);
  assert.deepEqual(slow.sock.responses, [], 'nothing more is queued on it');

  const bad = start();
  bad.sock.send('\x16\x03\x01 this is TLS, not RTSP\r\n\r\n');
  await waitFor(() => bad.done, 2000, 1);
  assert.deepEqual(bad.sock.responses.map((r) => r.status), [400]);
  assert.equal(bad.counters.protocolErrors >= 1, true);
  await nextTurn();
});
