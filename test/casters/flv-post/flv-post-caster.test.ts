/**
 * FLV POST caster in-process: a real node:http client against the caster on 127.0.0.1:0, publishing into the
 * fake hub. Covers the documented responses (200/400/404/405/408/409), truncated, non-FLV and corrupt bodies,
 * client abort, the held-tag rule, the kept query string, and garbage never crashing anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { pino } from 'pino';
import { FlvPostCaster, streamFromPath } from '../../../casters/flv-post/flv-post-caster.ts';
import { casterOutput, createCaster } from '../../../casters/index.ts';
import type { SessionInfo } from '../../../core/hub/ports.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { FlvDemuxer } from '../../../core/protocol/flv/flv-demuxer.ts';
import type { StreamCasterConfig } from '../../../core/config/config.ts';
import { createPublishTargetResolver } from '../../../core/output/publish-target.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';

const log = pino({ level: 'silent' });
const FLV = readFileSync(fixture('flv/h264-aac-320x240-10s.flv'));
const KEY = '__defaultVhost__/live/sea';

/** The fixture demuxed directly: what the hub must receive for a clean POST. */
function demuxAll(bytes: Buffer): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const d = new FlvDemuxer({ onMessage: (m) => out.push(m), onDecodeError: (e) => assert.fail(e) });
  d.push(bytes);
  d.end();
  return out;
}
const EXPECTED = demuxAll(FLV);

/** Byte offsets of every tag in an FLV file (header 9 + PreviousTagSize0 4, then tag + PreviousTagSize). */
function tagOffsets(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let off = 13; off + 11 <= bytes.length; off += 11 + bytes.readUIntBE(off + 1, 3) + 4) out.push(off);
  return out;
}

interface Setup {
  hub: FakeHub;
  caster: FlvPostCaster;
  port: number;
  who: SessionInfo[];
}

async function setup(opts?: { idleTimeoutMs?: number; headersTimeoutMs?: number; maxConnections?: number }): Promise<Setup> {
  const hub = fakeHub();
  const who: SessionInfo[] = [];
  const publish = hub.publish.bind(hub);
  hub.publish = (key, info) => {
    who.push(info);
    return publish(key, info);
  };
  const output = casterOutput('rtmp://127.0.0.1/[app]/[stream]', { log, publishTarget: createPublishTargetResolver({ hub, log, rtmpPorts: [1935] }) });
  const caster = new FlvPostCaster({
    output, listen: { host: '127.0.0.1', port: 0 }, idleTimeoutMs: opts?.idleTimeoutMs ?? 5_000, lingerMs: 150, log,
    ...(opts?.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: opts.headersTimeoutMs }),
    ...(opts?.maxConnections === undefined ? {} : { maxConnections: opts.maxConnections }),
  });
  await caster.start();
  return { hub, caster, port: caster.port, who };
}

interface Reply {
  status: number;
  text: string;
  headers: IncomingHttpHeaders;
}

/**
 * Send a request; `body` chunks are written one per event-loop turn (chunked unless Content-Length is given).
 * Resolves with the response even when the server answers before the body is sent (writes then fail: ignored).
 */
function send(port: number, method: string, path: string, body: Buffer[] = [], headers: Record<string, string | number> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    let i = 0;
    const next = (): void => {
      if (answered || req.destroyed) return;
      if (i < body.length) {
        req.write(body[i++]);
        setImmediate(next);
      } else req.end();
    };
    next();
  });
}

function slices(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

function assertSameMessages(got: readonly RtmpMessage[], want: readonly RtmpMessage[]): void {
  assert.equal(got.length, want.length, 'message count');
  for (let i = 0; i < want.length; i++) {
    const g = got[i] as RtmpMessage;
    const w = want[i] as RtmpMessage;
    assert.equal(g.type, w.type, `type of message ${i}`);
    assert.equal(g.timestamp, w.timestamp, `timestamp of message ${i}`);
    assert.ok(g.payload.equals(w.payload), `payload of message ${i}`);
  }
}

test('streamFromPath: app may have several segments, .flv is optional, bad paths are refused', () => {
  assert.deepEqual(streamFromPath('/live/sea.flv'), { app: 'live', stream: 'sea' });
  assert.deepEqual(streamFromPath('/live/sea'), { app: 'live', stream: 'sea' });
  assert.deepEqual(streamFromPath('/a/b/s.FLV'), { app: 'a/b', stream: 's' });
  assert.deepEqual(streamFromPath('//live//sea.flv'), { app: 'live', stream: 'sea' });
  assert.deepEqual(streamFromPath('/live/se%61.flv'), { app: 'live', stream: 'sea' });
  for (const bad of ['/', '/sea.flv', '/live/', '/live/.flv', '/live/a%ZZ.flv', '/live/a%3Fvhost%3Dx.flv', '/../x/s.flv', '/live/a b.flv', `/live/${'x'.repeat(2000)}.flv`]) {
    assert.equal(streamFromPath(bad), undefined, bad);
  }
});

test('chunked POST of a whole FLV: 200, every tag published in order, query kept, unpublished at the end', async () => {
  const { hub, caster, port, who } = await setup();
  try {
    const r = await send(port, 'POST', '/live/sea.flv?token=abc&x=1', slices(FLV, 4096), { 'Content-Type': 'video/x-flv' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, new RegExp(`^OK: ${EXPECTED.length} tags, ${FLV.length} bytes`));
    assertSameMessages(hub.published.get(KEY) ?? [], EXPECTED);
    assert.equal(who.length, 1);
    assert.equal((who[0] as SessionInfo & { query: string }).query, 'token=abc&x=1');
    assert.equal(who[0]?.protocol, 'http-flv-post');
    assert.match(who[0]?.id ?? '', /^flv-\d+$/);
    assert.ok(hub.events.some((e) => e.startsWith(`unpublish ${KEY}`)));
    assert.equal(hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }), false);
    const s = caster.stats();
    assert.equal(s.caster, 'flv');
    assert.equal(s.bytes, FLV.length);
    assert.equal(s.tags, EXPECTED.length);
    assert.equal(s.errors, 0);
    assert.equal(s.connections, 0);
  } finally {
    await caster.stop();
  }
});

test('PUT with Content-Length, in odd 1-byte-to-7-KiB pieces, into a multi-segment app', async () => {
  const { hub, caster, port } = await setup();
  try {
    const pieces = [FLV.subarray(0, 1), FLV.subarray(1, 10), ...slices(FLV.subarray(10), 7001)];
    const r = await send(port, 'PUT', '/a/b/s', pieces, { 'Content-Length': FLV.length });
    assert.equal(r.status, 200, r.text);
    assertSameMessages(hub.published.get('__defaultVhost__/a/b/s') ?? [], EXPECTED);
  } finally {
    await caster.stop();
  }
});

test('404 for a path without app/stream, 405 for other methods; nothing published', async () => {
  const { hub, caster, port } = await setup();
  try {
    for (const path of ['/', '/sea.flv', '/live/', '/live/.flv', '/live/a%ZZ.flv', '/live/x.flv?vhost=a%2Fb']) {
      const r = await send(port, 'POST', path, [FLV.subarray(0, 1000)]);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    }
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH']) {
      const r = await send(port, method, '/live/sea.flv');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers['allow'], 'POST, PUT');
    }
    assert.deepEqual(hub.events, []);
    assert.equal((caster.stats().responses as Record<string, number>)['404'], 6);
  } finally {
    await caster.stop();
  }
});

test('a body that is not FLV: 400 GW_ERR_FLV_HEADER, never published; an empty body: 400 GW_ERR_TRUNCATED', async () => {
  const { hub, caster, port } = await setup();
  try {
    const r = await send(port, 'POST', '/live/sea.flv', [Buffer.from('GIF89a this is not a flv stream at all....')]);
    assert.equal(r.status, 400);
    assert.match(r.text, /^GW_ERR_FLV_HEADER: /);
    const e = await send(port, 'POST', '/live/sea.flv', [], { 'Content-Length': 0 });
    assert.equal(e.status, 400);
    assert.match(e.text, /^GW_ERR_TRUNCATED: /);
    assert.deepEqual(hub.events, []);
  } finally {
    await caster.stop();
  }
});

test('truncated body: what was complete stays published, then 400 GW_ERR_TRUNCATED and unpublish', async () => {
  const { hub, caster, port } = await setup();
  try {
    const offsets = tagOffsets(FLV);
    const cut = (offsets[100] as number) + 20; // inside tag 100's body
    const r = await send(port, 'POST', '/live/sea.flv', slices(FLV.subarray(0, cut), 3000), { 'Content-Length': cut });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /^GW_ERR_TRUNCATED: .*tag body/);
    assertSameMessages(hub.published.get(KEY) ?? [], EXPECTED.slice(0, 100));
    assert.ok(hub.events.some((e) => e.startsWith(`unpublish ${KEY}`)));
  } finally {
    await caster.stop();
  }
});

test('corrupt DataSize: the tags before it stay published, the broken one is not, 400 and unpublish; the rest is dropped', async () => {
  const { hub, caster, port } = await setup();
  try {
    const bad = Buffer.from(FLV);
    const at = tagOffsets(FLV)[50] as number;
    bad.writeUIntBE(bad.readUIntBE(at + 1, 3) + 7, at + 1, 3); // DataSize 7 bytes too long
    const r = await send(port, 'POST', '/live/sea.flv', slices(bad, 4096));
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /^GW_ERR_FLV_PREVIOUS_TAG_SIZE: FLV PreviousTagSize/);
    assertSameMessages(hub.published.get(KEY) ?? [], EXPECTED.slice(0, 50));
    assert.equal(hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }), false);

    const huge = Buffer.from(FLV);
    huge.writeUIntBE(0xffffff, (tagOffsets(FLV)[10] as number) + 1, 3); // over FLV_MAX_TAG_SIZE
    const r2 = await send(port, 'POST', '/live/huge.flv', slices(huge, 4096));
    assert.equal(r2.status, 400);
    assert.match(r2.text, /^GW_ERR_TOO_LARGE: /);
    assert.equal(hub.published.get('__defaultVhost__/live/huge')?.length, 10);
  } finally {
    await caster.stop();
  }
});

test('an unknown TagType is skipped and counted; the push still ends 200', async () => {
  const { hub, caster, port } = await setup();
  try {
    const at = tagOffsets(FLV)[5] as number;
    const odd = Buffer.from([15, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 14]); // TagType 15, 3 bytes, PreviousTagSize 14
    const body = Buffer.concat([FLV.subarray(0, at), odd, FLV.subarray(at)]);
    const r = await send(port, 'POST', '/live/sea.flv', slices(body, 4096));
    assert.equal(r.status, 200, r.text);
    assertSameMessages(hub.published.get(KEY) ?? [], EXPECTED);
    assert.equal(caster.stats().errors, 1);
  } finally {
    await caster.stop();
  }
});

test('second POSTer of a stream gets 409 GW_ERR_STREAM_BUSY; the first keeps streaming and ends 200', async () => {
  const { hub, caster, port } = await setup();
  try {
    const pieces = slices(FLV, 2048);
    const half = Math.floor(pieces.length / 2);
    // The first upload is paused halfway (a gate) while a second one tries the same stream.
    let open!: () => void;
    const gate = new Promise<void>((ok) => (open = ok));
    const first = new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/live/sea.flv', agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString(), headers: res.headers }));
      });
      req.on('error', reject);
      for (const p of pieces.slice(0, half)) req.write(p);
      void gate.then(() => {
        for (const p of pieces.slice(half)) req.write(p);
        req.end();
      });
    });
    await waitFor(() => hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }), 2_000);
    const second = await send(port, 'POST', '/live/sea.flv', slices(FLV, 4096));
    assert.equal(second.status, 409);
    assert.match(second.text, /^GW_ERR_STREAM_BUSY: /);
    // Expect: 100-continue is refused before any body byte is sent.
    const third = await send(port, 'PUT', '/live/sea.flv', [], { Expect: '100-continue', 'Content-Length': FLV.length });
    assert.equal(third.status, 409);
    open();
    const r = await first;
    assert.equal(r.status, 200, r.text);
    assertSameMessages(hub.published.get(KEY) ?? [], EXPECTED);
    assert.equal(hub.events.filter((e) => e.startsWith('publish')).length, 1);
  } finally {
    await caster.stop();
  }
});

test('a refused uploader that keeps sending reads its 409, then the server closes the connection (lingering close)', async () => {
  const { hub, caster, port } = await setup();
  try {
    hub.publish({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }, { id: 'rtmp-1', protocol: 'rtmp' });
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    let received = '';
    socket.setEncoding('latin1').on('data', (s: string) => (received += s));
    const closed = new Promise<void>((ok) => socket.once('close', () => ok()));
    socket.write('POST /live/sea.flv HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.concat([Buffer.from('4000\r\n'), Buffer.alloc(0x4000, 0x41), Buffer.from('\r\n')]);
    const pump = setInterval(() => {
      if (!socket.destroyed && socket.writable) socket.write(chunk);
    }, 5);
    const t0 = Date.now();
    await closed;
    clearInterval(pump);
    assert.match(received, /^HTTP\/1\.1 409 /);
    assert.match(received, /GW_ERR_STREAM_BUSY/);
    assert.ok(Date.now() - t0 < 1_000, 'closed after the linger time');
  } finally {
    await caster.stop();
  }
});

test('busy detected at the FLV header (both passed the early check): the later one gets 409', async () => {
  const { hub, caster, port } = await setup();
  try {
    // Both send headers without body first: neither publishes yet, so both pass the isPublishing check.
    const a = sendHeld(port, '/live/sea.flv');
    const b = sendHeld(port, '/live/sea.flv');
    await waitFor(() => caster.stats().connections === 2, 2_000);
    a.write(FLV.subarray(0, 13));
    await waitFor(() => hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }), 2_000);
    b.write(FLV.subarray(0, 13));
    assert.equal((await b.reply).status, 409);
    a.end(FLV.subarray(13));
    assert.equal((await a.reply).status, 200);
    assertSameMessages(hub.published.get(KEY) ?? [], EXPECTED);
  } finally {
    await caster.stop();
  }
});

function sendHeld(port: number, path: string): { write(b: Buffer): void; end(b: Buffer): void; reply: Promise<Reply> } {
  let req!: ReturnType<typeof request>;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = request({ host: '127.0.0.1', port, method: 'POST', path, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  return { write: (b) => req.write(b), end: (b) => req.end(b), reply };
}

test('client disconnects mid-stream: unpublished cleanly, connection count back to 0, a new POST works', async () => {
  const { hub, caster, port } = await setup();
  try {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/live/sea.flv', agent: false });
    req.on('error', () => {});
    req.write(FLV.subarray(0, 100_000));
    await waitFor(() => (hub.published.get(KEY)?.length ?? 0) > 10, 2_000);
    req.destroy();
    await waitFor(() => hub.events.some((e) => e.startsWith(`unpublish ${KEY}`)), 2_000);
    assert.match(hub.events.find((e) => e.startsWith('unpublish')) ?? '', /client disconnected|client connection error/);
    await waitFor(() => caster.stats().connections === 0, 2_000);
    const r = await send(port, 'POST', '/live/sea.flv', slices(FLV, 8192));
    assert.equal(r.status, 200);
  } finally {
    await caster.stop();
  }
});

test('a body that stalls longer than idle_timeout: 408 and unpublished', async () => {
  const { hub, caster, port } = await setup({ idleTimeoutMs: 200 });
  try {
    const held = sendHeld(port, '/live/sea.flv');
    held.write(FLV.subarray(0, 50_000));
    const r = await held.reply;
    assert.equal(r.status, 408);
    assert.ok(hub.events.some((e) => e.startsWith(`unpublish ${KEY}`)));
  } finally {
    await caster.stop();
  }
});

test('stop() unpublishes live uploads and closes; a stopped caster can be stopped again', async () => {
  const { hub, caster, port } = await setup();
  const held = sendHeld(port, '/live/sea.flv');
  held.write(FLV.subarray(0, 50_000));
  held.reply.catch(() => {});
  await waitFor(() => hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }), 2_000);
  await caster.stop();
  await caster.stop();
  assert.equal(hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'sea' }), false);
});

test('garbage bodies and paths never crash the caster; answers stay within the documented set', async () => {
  const { caster, port } = await setup();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.boolean(),
        fc.constantFrom('/live/g.flv', '/live/g', '/x', '/a/b/c.flv?vhost=v', '/%%%/x.flv'),
        async (junk, flvStart, path) => {
          const body = flvStart ? Buffer.concat([FLV.subarray(0, 13), junk]) : Buffer.from(junk);
          const r = await send(port, 'POST', path, slices(body, 700));
          assert.ok([200, 400, 404].includes(r.status), `${r.status} ${r.text}`);
        },
      ),
      { numRuns: 60, seed: 42 },
    );
    const r = await send(port, 'POST', '/live/after.flv', [FLV]);
    assert.equal(r.status, 200);
    await sleep(10);
  } finally {
    await caster.stop();
  }
});

test("createCaster builds the 'flv' and 'rtsp' casters; outputs to another server get an RTMP push port", () => {
  const hub = fakeHub();
  const ctx = { log, publishTarget: createPublishTargetResolver({ hub, log, rtmpPorts: [19350] }) };
  const cfg = (caster: 'flv' | 'rtsp', output: string): StreamCasterConfig => ({
    enabled: true, caster, output, listen: { host: '127.0.0.1', port: 0 }, idleTimeoutMs: 1000, rtpPortMin: 0, rtpPortMax: 0,
    multicastInterface: undefined, line: 3, file: 't.conf',
  });
  assert.equal(createCaster(cfg('flv', 'rtmp://127.0.0.1/[app]/[stream]'), ctx).stats().caster, 'flv');
  assert.equal(createCaster(cfg('rtsp', 'rtmp://127.0.0.1/[app]/[stream]'), ctx).stats().caster, 'rtsp');
  assert.throws(() => createCaster(cfg('flv', 'http://127.0.0.1/[app]/[stream]'), ctx), { code: 'GW_ERR_STREAM_KEY_INVALID' });

  const own = casterOutput('rtmp://127.0.0.1:[port]/[app]/[stream]?vhost=[vhost]', ctx);
  const t = own({ app: 'a/b', stream: 's', vhost: 'v1' });
  assert.equal(t.hub, hub);
  assert.equal(t.local, true);
  assert.deepEqual(t.key, { vhost: 'v1', app: 'a/b', stream: 's' });
  const remote = casterOutput('rtmp://10.0.0.9/[app]/[stream]', ctx);
  const r1 = remote({ app: 'live', stream: 'x' });
  assert.notEqual(r1.hub, hub);
  assert.equal(r1.local, false);
  assert.equal(remote({ app: 'live', stream: 'x' }).hub, r1.hub, 'same URL, same push port (so a second publisher is busy)');
  assert.notEqual(remote({ app: 'live', stream: 'y' }).hub, r1.hub);
  assert.equal(r1.url, 'rtmp://10.0.0.9/live/x');
});

test('headers deadline: an idle connection and a slowloris head (one byte per 100 ms) are closed with 408; a prompt POST is unaffected', async () => {
  const { caster, port } = await setup({ headersTimeoutMs: 800 });
  const open = (): { socket: ReturnType<typeof connect>; text: () => string; closed: Promise<number> } => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => (text += d));
    socket.on('error', () => {});
    const t0 = Date.now();
    return { socket, text: () => text, closed: new Promise((ok) => socket.once('close', () => ok(Date.now() - t0))) };
  };
  const idle = open();
  const slow = open();
  const head = `POST /live/slow.flv HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(100)}`;
  let i = 0;
  const timer = setInterval(() => slow.socket.write(head[i++ % head.length] as string), 100);
  try {
    const good = send(port, 'POST', '/live/good.flv', [readFileSync(fixture('flv/h264-aac-320x240-10s.flv')).subarray(0, 9 + 4)]);
    const [idleMs, slowMs] = await Promise.all([idle.closed, slow.closed]);
    for (const [name, ms] of [['idle', idleMs], ['slowloris', slowMs]] as const) {
      assert.ok(ms >= 700 && ms < 5_000, `${name} closed after ${ms} ms (deadline 800 ms)`);
    }
    assert.match(slow.text(), /^HTTP\/1\.1 408 /, 'the slowloris peer is told why');
    assert.equal((await good).status, 200, 'a request whose head came at once is served');
    assert.equal(caster.stats().connections, 0);
  } finally {
    clearInterval(timer);
    idle.socket.destroy();
    slow.socket.destroy();
    await caster.stop();
  }
});
