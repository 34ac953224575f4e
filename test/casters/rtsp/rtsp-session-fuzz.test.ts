/**
 * The RTSP caster under random sessions (fast-check): sequences of valid, out-of-order and broken requests
 * (methods, URLs, CSeq, Session, Transport, SDP bodies cut or garbled), interleaved `$` frames carrying real,
 * truncated or random RTP, and raw garbage, each on its own connection. Whatever arrives, the process does not
 * throw, every request that gets an answer gets a valid status line with its CSeq, a session publishing next to
 * the fuzzed ones keeps being served, and when the connections are gone no port pair, connection or stream is
 * left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestRtspCaster } from '../../helpers/rtsp-caster.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';
import { readRtpCapture } from '../../helpers/rtp-capture.ts';
import { h264AacSdp, RtspTestClient } from '../../helpers/rtsp-client.ts';

const RTP = readRtpCapture(fixture('rtp/h264-320x240-25fps-2s.rtp.bin'));

/** One step of a fuzzed connection. `session` placeholders are replaced by the id the server handed out. */
type Step =
  | { kind: 'request'; method: string; path: string; headers: Array<[string, string]>; body: string; cseq: 'ok' | 'missing' | 'garbage' }
  | { kind: 'frame'; channel: number; payload: Uint8Array }
  | { kind: 'garbage'; bytes: Uint8Array };

const SESSION = '\u0000session\u0000';

// SETUP and RECORD more often: they are the ones with state behind them.
const methodArb = fc.constantFrom('OPTIONS', 'ANNOUNCE', 'SETUP', 'SETUP', 'SETUP', 'RECORD', 'RECORD', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'DESCRIBE', 'PLAY', 'PAUSE', 'REDIRECT', 'GET', 'X');
const pathArb = fc.constantFrom('/live/fz', '/live/fz/streamid=0', '/live/fz/streamid=1', '/live/fz/streamid=0', '/live/fz/streamid=1', '/live/fz/streamid=9', '/live/fz.sdp', '/', '/a', '/live/good', '*', '/%zz/..');
const transportArb = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((c) => `RTP/AVP/TCP;unicast;interleaved=${c}-${c + 1};mode=record`),
  fc.constant('RTP/AVP/TCP;unicast;mode=RECORD'),
  fc.integer({ min: 1024, max: 65000 }).map((p) => `RTP/AVP/UDP;unicast;client_port=${p}-${p + 1};mode=record`),
  fc.constant('RTP/AVP;multicast;mode=record'),
  fc.constant('RTP/AVP/UDP;unicast;client_port=5000-5001;mode=play'),
  fc.string({ maxLength: 40 }),
);
const sdpArb = fc.oneof(
  fc.constant(h264AacSdp()),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => {
    const sdp = h264AacSdp();
    const from = a % sdp.length;
    return sdp.slice(0, from) + sdp.slice(from + (b % 40));
  }),
  fc.string({ maxLength: 200 }),
);
const headersArb = fc.record({
  session: fc.constantFrom('real', 'wrong', 'none'),
  transport: fc.option(transportArb, { nil: undefined }),
  contentType: fc.constantFrom('application/sdp', 'text/plain', undefined),
});
const requestArb: fc.Arbitrary<Step> = fc
  .tuple(methodArb, pathArb, headersArb, fc.option(sdpArb, { nil: undefined }), fc.constantFrom('ok', 'ok', 'ok', 'missing', 'garbage'))
  .map(([method, path, h, body, cseq]) => {
    const headers: Array<[string, string]> = [];
    if (h.session === 'real') headers.push(['Session', SESSION]);
    if (h.session === 'wrong') headers.push(['Session', 'deadbeef']);
    if (h.transport !== undefined) headers.push(['Transport', h.transport.replace(/[\r\n]/g, '')]);
    if (h.contentType !== undefined) headers.push(['Content-Type', h.contentType]);
    return { kind: 'request', method, path, headers, body: body ?? '', cseq } as const;
  });
const frameArb: fc.Arbitrary<Step> = fc.oneof(
  fc.tuple(fc.nat(3), fc.nat(RTP.length - 1), fc.nat(1500)).map(([channel, i, cut]) => {
    const packet = RTP[i] as Buffer;
    return { kind: 'frame', channel, payload: packet.subarray(0, Math.min(packet.length, cut + 1)) } as const;
  }),
  fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 300 })).map(([channel, payload]) => ({ kind: 'frame', channel, payload }) as const),
);
const garbageArb: fc.Arbitrary<Step> = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => ({ kind: 'garbage', bytes }) as const);
const randomStepsArb = fc.array(fc.oneof({ weight: 6, arbitrary: requestArb }, { weight: 3, arbitrary: frameArb }, { weight: 1, arbitrary: garbageArb }), {
  minLength: 1,
  maxLength: 14,
});

/** The first 0–3 steps of a good push (ANNOUNCE, SETUP over TCP or UDP, RECORD), so the random steps also hit later states. */
function prelude(n: number, udp: boolean): Step[] {
  const ok = { cseq: 'ok' } as const;
  const steps: Step[] = [
    { kind: 'request', method: 'ANNOUNCE', path: '/live/fz', headers: [['Content-Type', 'application/sdp']], body: h264AacSdp(), ...ok },
    {
      kind: 'request', method: 'SETUP', path: '/live/fz/streamid=0', body: '', ...ok,
      headers: [['Transport', udp ? 'RTP/AVP/UDP;unicast;client_port=5000-5001;mode=record' : 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record']],
    },
    { kind: 'request', method: 'RECORD', path: '/live/fz', headers: [['Session', SESSION]], body: '', ...ok },
  ];
  return steps.slice(0, n);
}
const stepsArb = fc
  .tuple(fc.nat(3), fc.boolean(), randomStepsArb)
  .map(([n, udp, steps]) => [...prelude(n, udp), ...steps]);

/** Replies within this time or not at all (a request cut by garbage may never be complete). */
const STEP_REPLY_MS = 300;

/** Runs the steps on a new connection; adds every status received to `statuses`. */
async function runSteps(port: number, steps: readonly Step[], statuses: Set<number>): Promise<void> {
  const c = await RtspTestClient.connect(port);
  let session = '';
  let cseq = 0;
  try {
    for (const step of steps) {
      if (c.closed) break;
      if (step.kind === 'garbage') {
        c.write(Buffer.from(step.bytes));
        continue;
      }
      if (step.kind === 'frame') {
        const head = Buffer.from([0x24, step.channel, step.payload.length >> 8, step.payload.length & 0xff]);
        c.write(Buffer.concat([head, step.payload]));
        continue;
      }
      cseq++;
      let text = `${step.method} rtsp://127.0.0.1:${port}${step.path} RTSP/1.0\r\n`;
      if (step.cseq === 'ok') text += `CSeq: ${cseq}\r\n`;
      if (step.cseq === 'garbage') text += 'CSeq: x1\r\n';
      for (const [k, v] of step.headers) text += `${k}: ${v === SESSION ? session || 'none' : v}\r\n`;
      if (step.body.length > 0) text += `Content-Length: ${Buffer.byteLength(step.body)}\r\n`;
      c.write(`${text}\r\n${step.body}`);
      const reply = await Promise.race([
        c.response().catch(() => undefined),
        new Promise<undefined>((ok) => setTimeout(() => ok(undefined), STEP_REPLY_MS)),
      ]);
      if (reply === undefined) continue;
      assert.ok(reply.status >= 200 && reply.status < 600, `a status line: ${reply.status}`);
      statuses.add(reply.status);
      const echoed = reply.headers.get('cseq');
      if (step.cseq === 'ok' && echoed !== undefined && reply.status !== 400) assert.equal(echoed, String(cseq), `${step.method} CSeq echoed`);
      const id = reply.headers.get('session')?.split(';')[0];
      if (reply.status === 200 && id !== undefined) session = id;
    }
  } finally {
    c.close();
  }
}

test('random RTSP sessions (requests, $ frames, garbage) never crash the caster, keep a good session served and leave nothing behind', { timeout: 120_000 }, async () => {
  const { caster, hub, port } = await startTestRtspCaster();
  const good = await RtspTestClient.connect(port);
  const goodUrl = `rtsp://127.0.0.1:${port}/live/good`;
  try {
    assert.equal((await good.request('ANNOUNCE', goodUrl, { 'Content-Type': 'application/sdp' }, h264AacSdp())).status, 200);
    const setup = await good.request('SETUP', `${goodUrl}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record' });
    const session = (setup.headers.get('session') ?? '').split(';')[0] as string;
    assert.equal((await good.request('RECORD', goodUrl, { Session: session })).status, 200);

    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(stepsArb, async (steps) => {
        await runSteps(port, steps, statuses);
        // The good session is still served, and its stream still belongs to it.
        assert.equal((await good.request('GET_PARAMETER', goodUrl, { Session: session })).status, 200);
      }),
      { numRuns: 150, seed: Number(process.env['FUZZ_SEED'] ?? 20261121) },
    );
    assert.equal(good.closed, false);
    // The random sessions went through the whole state machine, not only its front door.
    for (const status of [200, 400, 405, 415, 454, 455, 461, 501]) assert.ok(statuses.has(status), `saw ${status}: ${[...statuses].sort().join(' ')}`);
    await waitFor(() => caster.connections === 1 && caster.portsInUse === 0, 5_000);
    // Every publish of a fuzzed session was followed by its unpublish: only the good stream is left.
    const live = new Map<string, number>();
    for (const e of hub.events) {
      const [verb = '', key = '', who = ''] = e.split(' ');
      if (verb === 'publish') live.set(`${key} ${who}`, (live.get(`${key} ${who}`) ?? 0) + 1);
      if (verb === 'unpublish') live.set(`${key} ${who}`, (live.get(`${key} ${who}`) ?? 0) - 1);
    }
    assert.deepEqual([...live].filter(([, n]) => n !== 0).map(([k]) => k.split(' ')[0]), ['__defaultVhost__/live/good']);
    assert.ok(hub.events.filter((e) => e.startsWith('publish ')).length > 1, 'some fuzzed sessions got as far as RECORD');
  } finally {
    good.close();
    await caster.stop();
  }
});

