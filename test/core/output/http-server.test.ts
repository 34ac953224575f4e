import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { compileMount, HttpServer } from '../../../core/output/http-server.ts';
import { flvFileHeader, flvTag } from '../../../core/protocol/flv/flv-muxer.ts';
import { fakeHub } from '../../helpers/fake-hub.ts';
import { closeStatusOf, connectWebSocket } from '../../helpers/ws-client.ts';
import { keyframe, videoConfig } from '../hub/hub-vectors.ts';

test('http_remux mount templates compile to path patterns (SRS: [vhost]/ dropped)', () => {
  const cases: [string, string, Record<string, string> | undefined][] = [
    ['[vhost]/[app]/[stream].flv', '/live/livestream.flv', { app: 'live', stream: 'livestream' }],
    ['[vhost]/[app]/[stream].flv', '/a/b/cam1.flv', { app: 'a/b', stream: 'cam1' }],
    ['[vhost]/[app]/[stream].flv', '/live/x.ts', undefined],
    ['/[app]/[stream].flv', '/live/s.flv', { app: 'live', stream: 's' }],
    ['[vhost]/live/[stream].flv', '/live/s.flv', { stream: 's' }],
    ['[vhost]/live/[stream].flv', '/other/s.flv', undefined],
    ['[vhost]/[app]/[stream]/live.flv', '/live/s/live.flv', { app: 'live', stream: 's' }],
  ];
  for (const [mount, path, want] of cases) {
    const p = compileMount(mount);
    const m = p.regex.exec(path);
    if (want === undefined) {
      assert.equal(m, null, `${mount} must not match ${path}`);
      continue;
    }
    assert.ok(m !== null, `${mount} matches ${path}`);
    const got: Record<string, string> = {};
    p.groups.forEach((g, i) => { got[g] = m[i + 1]; });
    assert.deepEqual(got, want);
  }
});

/** One raw HTTP exchange on loopback: the request text, then everything the server sends until it closes. */
interface RawExchange {
  /** Bytes received so far. */
  readonly received: () => Buffer;
  /** Resolves with every byte once the server closed the connection. */
  readonly closed: Promise<Buffer>;
  readonly socket: Socket;
}

function rawRequest(port: number, request: string): RawExchange {
  const chunks: Buffer[] = [];
  const socket = connect(port, '127.0.0.1');
  socket.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise<Buffer>((ok, fail) => {
    socket.on('close', () => ok(Buffer.concat(chunks)));
    socket.on('error', fail);
  });
  socket.write(request);
  return { received: () => Buffer.concat(chunks), closed, socket };
}

/** Split a raw response into status line, lower-cased headers and body. */
function splitResponse(raw: Buffer): { status: string; headers: Map<string, string>; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'a complete header block');
  const [status, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: status ?? '', headers, body: raw.subarray(end + 4) };
}

/** The data of an HTTP/1.1 chunked body (RFC 9112 §7.1), up to its last-chunk. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o < body.length;) {
    const eol = body.indexOf('\r\n', o);
    const size = parseInt(body.toString('latin1', o, eol), 16);
    if (size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    o = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  assert.ok(check(), what);
}

async function startServer(dir: string | undefined): Promise<{ http: HttpServer; hub: ReturnType<typeof fakeHub>; port: number }> {
  const hub = fakeHub();
  const http = new HttpServer({
    hub,
    listen: [{ host: '127.0.0.1', port: 0 }],
    dir,
    log: pino({ level: 'silent' }),
    remux: () => ({ enabled: true, mount: '[vhost]/[app]/[stream].flv' }),
    vhostNames: () => [],
  });
  await http.start();
  return { http, hub, port: http.ports[0] as number };
}

test('static files from dir (async stat): index.html for a directory, HEAD, 404, no escape from the root; a real .ts wins over the live mount, .flv never', { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-http-'));
  mkdirSync(join(dir, 'live'));
  writeFileSync(join(dir, 'index.html'), '<p>castgate</p>\n');
  writeFileSync(join(dir, 'live', 'x-12.ts'), Buffer.alloc(376, 0x47));
  writeFileSync(join(dir, 'live', 'x-12.flv'), 'not served: .flv is always live');
  const { http, port } = await startServer(dir);
  const get = async (path: string, method = 'GET'): Promise<ReturnType<typeof splitResponse>> =>
    splitResponse(await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`).closed);
  try {
    const index = await get('/');
    assert.equal(index.status, 'HTTP/1.1 200 OK');
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.body.toString(), '<p>castgate</p>\n');
    const head = await get('/index.html', 'HEAD');
    assert.equal(head.headers.get('content-length'), '16');
    assert.equal(head.body.length, 0);
    assert.equal((await get('/missing.txt')).status, 'HTTP/1.1 404 Not Found');
    assert.equal((await get('/..%2f..%2fetc%2fpasswd')).status, 'HTTP/1.1 403 Forbidden');
    const segment = await get('/live/x-12.ts');
    assert.equal(segment.headers.get('content-type'), 'video/mp2t');
    assert.equal(segment.headers.get('content-length'), '376');
    assert.deepEqual(segment.body, Buffer.alloc(376, 0x47));

    const liveTs = rawRequest(port, 'GET /live/cam.ts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const liveFlv = rawRequest(port, 'GET /live/x-12.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => http.stats().httpFlvPlayers === 2 && [liveTs, liveFlv].every((x) => x.received().includes('\r\n\r\n')), 'both live players attached');
    assert.deepEqual(http.stats().players, { flv: 1, ts: 1, mp3: 0, aac: 0 });
    for (const [x, type] of [[liveTs, 'video/MP2T'], [liveFlv, 'video/x-flv']] as const) {
      const r = splitResponse(x.received());
      assert.equal(r.headers.get('content-type'), type);
      assert.equal(r.headers.get('transfer-encoding'), 'chunked', 'live, not the file');
      x.socket.destroy();
    }
    await until(() => http.stats().httpFlvPlayers === 0, 'players leave when their clients close');
  } finally {
    await http.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('live body framing: HTTP/1.1 gets chunks ended by the zero chunk on unpublish; HTTP/1.0 a close-delimited body', { timeout: 15_000 }, async () => {
  const { http, hub, port } = await startServer(undefined);
  try {
    const v11 = rawRequest(port, 'GET /live/cam.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const v10 = rawRequest(port, 'GET /live/cam.flv HTTP/1.0\r\n\r\n');
    await until(() => http.stats().httpFlvPlayers === 2, 'both players attached');
    const pub = hub.publish({ vhost: '__defaultVhost__', app: 'live', stream: 'cam' }, { id: 'rtmp-1', protocol: 'rtmp' });
    const kf = keyframe(0);
    pub.write(videoConfig(0));
    pub.write(kf);
    await until(() => {
      const raw = v10.received();
      const end = raw.indexOf('\r\n\r\n');
      return end > 0 && raw.length > end + 4;
    }, 'media arrived');
    pub.close('eof');
    const [r11, r10] = (await Promise.all([v11.closed, v10.closed])).map(splitResponse);
    const flv = Buffer.concat([flvFileHeader(false, true), flvTag(videoConfig(0)), flvTag(kf)]);
    assert.equal(r11.headers.get('transfer-encoding'), 'chunked');
    assert.ok(r11.body.toString('latin1').endsWith('\r\n0\r\n\r\n'), 'ends with the last-chunk');
    assert.deepEqual(dechunk(r11.body), flv, 'the FLV bytes in the chunks');
    assert.equal(r10.headers.get('transfer-encoding'), undefined);
    assert.deepEqual(r10.body, flv, 'exactly the FLV bytes, then the connection closes');
    assert.equal(http.stats().httpFlvPlayers, 0);
  } finally {
    await http.close();
  }
});

test('WebSocket-FLV: 101 handshake on the live mount, one binary message per FLV header/tag, ping → pong, unpublish → Close 1000', { timeout: 15_000 }, async () => {
  const { http, hub, port } = await startServer(undefined);
  try {
    const ws = await connectWebSocket(port, '/live/cam.flv');
    assert.match(ws.responseHead, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    await until(() => http.stats().webSocketPlayers === 1, 'the WebSocket player attached');
    assert.deepEqual(http.stats().players, { flv: 1, ts: 0, mp3: 0, aac: 0 });
    const pub = hub.publish({ vhost: '__defaultVhost__', app: 'live', stream: 'cam' }, { id: 'rtmp-1', protocol: 'rtmp' });
    const kf = keyframe(0);
    pub.write(videoConfig(0));
    pub.write(kf);
    await until(() => ws.frames.length >= 3, 'header + two tags');
    assert.deepEqual(ws.frames.map((f) => [f.fin, f.opcode]), [[true, 2], [true, 2], [true, 2]], 'final binary frames');
    assert.deepEqual(ws.frames.map((f) => f.payload), [flvFileHeader(false, true), flvTag(videoConfig(0)), flvTag(kf)]);
    ws.send(0x9, Buffer.from('are you there'));
    await until(() => ws.frames.length === 4, 'pong');
    assert.deepEqual([ws.frames[3]?.opcode, ws.frames[3]?.payload.toString()], [0xa, 'are you there']);
    pub.close('eof');
    await until(() => ws.frames.length === 5, 'close frame');
    assert.equal(closeStatusOf(ws.frames[4]), 1000);
    ws.send(0x8, Buffer.from([0x03, 0xe8])); // the client completes the closing handshake
    await ws.closed;
    assert.equal(ws.violation(), undefined);
    assert.equal(http.stats().httpFlvPlayers, 0);
  } finally {
    await http.close();
  }
});

test('WebSocket: the player’s Close is echoed; an unmasked frame is failed with 1002; both players leave', { timeout: 15_000 }, async () => {
  const { http, port } = await startServer(undefined);
  try {
    const polite = await connectWebSocket(port, '/live/cam.flv');
    const rude = await connectWebSocket(port, '/live/cam.ts');
    await until(() => http.stats().webSocketPlayers === 2, 'both attached');
    polite.send(0x8, Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('tab closed')])); // 1001 Going Away
    rude.send(0x2, Buffer.from('not masked'), { masked: false });
    await Promise.all([polite.closed, rude.closed]);
    assert.equal(closeStatusOf(polite.frames.at(-1)), 1001, 'status echoed');
    assert.equal(closeStatusOf(rude.frames.at(-1)), 1002, 'protocol error');
    await until(() => http.stats().httpFlvPlayers === 0, 'players left');
  } finally {
    await http.close();
  }
});

test('WebSocket refusals: 426 for another version, 404 off the live mounts, 400 for a bad key; gateway stop closes with 1001', { timeout: 15_000 }, async () => {
  const { http, port } = await startServer(undefined);
  let stopped: Awaited<ReturnType<typeof connectWebSocket>> | undefined;
  try {
    const raw = async (headers: string, path = '/live/cam.flv'): Promise<string> =>
      splitResponse(await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`).closed).status;
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    assert.equal(await raw(`${key}Sec-WebSocket-Version: 8\r\n`), 'HTTP/1.1 426 Upgrade Required');
    assert.equal(await raw(`${key}Sec-WebSocket-Version: 13\r\n`, '/live/cam.m4s'), 'HTTP/1.1 404 Not Found');
    assert.equal(await raw('Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n'), 'HTTP/1.1 400 Bad Request');
    assert.equal(http.stats().httpFlvPlayers, 0);
    stopped = await connectWebSocket(port, '/live/cam.flv');
    await until(() => http.stats().webSocketPlayers === 1, 'attached');
  } finally {
    await http.close();
  }
  await stopped.closed;
  assert.equal(closeStatusOf(stopped.frames.at(-1)), 1001, 'Going Away');
});
