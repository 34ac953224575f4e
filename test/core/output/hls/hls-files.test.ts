import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseByteRange, serveHlsFile } from '../../../../core/output/hls/hls-files.ts';

const base = mkdtempSync(join(tmpdir(), 'castgate-hls-files-'));
const root = join(base, 'html');
const outside = join(base, 'outside');
const SECRET = 'TOP-SECRET-BYTES';
const PLAYLIST = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.000,\ns-0.ts\n';
const SEGMENT = Buffer.from(Array.from({ length: 1880 }, (_, i) => i & 0xff));

let server: Server;
let port = 0;

before(async () => {
  mkdirSync(join(root, 'live/deep'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(root, 'live/s.m3u8'), PLAYLIST);
  writeFileSync(join(root, 'live/s-0.ts'), SEGMENT);
  writeFileSync(join(root, 'live/a b.ts'), 'spaced');
  writeFileSync(join(root, 'live/empty.ts'), '');
  writeFileSync(join(root, 'live/s.flv'), 'not hls');
  mkdirSync(join(root, 'live/dir.ts'));
  writeFileSync(join(outside, 'secret.ts'), SECRET);
  writeFileSync(join(outside, 'secret.m3u8'), SECRET);
  writeFileSync(join(base, 'secret.ts'), SECRET);
  symlinkSync(join(outside, 'secret.ts'), join(root, 'live/escape.ts'));
  symlinkSync(outside, join(root, 'escape-dir'));
  symlinkSync(join(root, 'live/s-0.ts'), join(root, 'live/inside-link.ts'));
  server = createServer((req, res) => {
    const onNotFound = req.headers['x-fallback'] === '1' ? () => res.writeHead(299).end('fallback') : undefined;
    if (!serveHlsFile(req, res, root, onNotFound === undefined ? {} : { onNotFound })) res.writeHead(418).end('not hls');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(base, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('playlist: MIME type, no-cache, CORS, whole file; query strings are ignored', async () => {
  for (const path of ['/live/s.m3u8', '/live/s.m3u8?t=1']) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['content-type'], 'application/vnd.apple.mpegurl');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.body.toString(), PLAYLIST);
  }
  // ranges are not applied to playlists
  const ranged = await get('/live/s.m3u8', { Range: 'bytes=0-3' });
  assert.equal(ranged.status, 200);
  assert.equal(ranged.body.toString(), PLAYLIST);
});

test('segment: MIME type, Accept-Ranges, HEAD, percent-decoded names, inside symlinks allowed', async () => {
  const r = await get('/live/s-0.ts');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'video/mp2t');
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.equal(r.headers['content-length'], String(SEGMENT.length));
  assert.equal(r.headers['cache-control'], undefined);
  assert.ok(r.body.equals(SEGMENT));
  const head = await get('/live/s-0.ts', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(SEGMENT.length));
  assert.equal(head.body.length, 0);
  assert.equal((await get('/live/a%20b.ts')).body.toString(), 'spaced');
  assert.ok((await get('/live/inside-link.ts')).body.equals(SEGMENT));
  const empty = await get('/live/empty.ts');
  assert.equal(empty.status, 200);
  assert.equal(empty.body.length, 0);
});

test('byte ranges on segments: 206 with Content-Range, 416 when unsatisfiable', async () => {
  const table: [string, number, string | undefined, Buffer][] = [
    ['bytes=0-187', 206, 'bytes 0-187/1880', SEGMENT.subarray(0, 188)],
    ['bytes=188-', 206, 'bytes 188-1879/1880', SEGMENT.subarray(188)],
    ['bytes=-188', 206, 'bytes 1692-1879/1880', SEGMENT.subarray(1692)],
    ['bytes=1800-99999', 206, 'bytes 1800-1879/1880', SEGMENT.subarray(1800)],
    ['bytes=-99999', 206, 'bytes 0-1879/1880', SEGMENT],
    ['bytes=1880-', 416, 'bytes */1880', Buffer.alloc(0)],
    ['bytes=-0', 416, 'bytes */1880', Buffer.alloc(0)],
    ['bytes=0-1,5-6', 200, undefined, SEGMENT],
    ['bytes=5-1', 200, undefined, SEGMENT],
    ['items=0-1', 200, undefined, SEGMENT],
  ];
  for (const [range, status, contentRange, body] of table) {
    const r = await get('/live/s-0.ts', { Range: range });
    assert.equal(r.status, status, range);
    assert.equal(r.headers['content-range'], contentRange, range);
    assert.ok(r.body.equals(body), range);
  }
  assert.equal(parseByteRange(undefined, 10), undefined);
  assert.equal(parseByteRange('bytes=0-', 0), 'unsatisfiable');
  assert.deepEqual(parseByteRange(' bytes=2-4 ', 10), { start: 2, end: 4 });
});

test('path traversal table: every attempt is 404 and never leaks the outside file', async () => {
  const abs = encodeURIComponent(join(outside, 'secret.ts'));
  const attempts = [
    '/../secret.ts',
    '/../outside/secret.ts',
    '/live/../../secret.ts',
    '/live/../../outside/secret.m3u8',
    '/%2e%2e/secret.ts',
    '/%2E%2E/outside/secret.ts',
    '/%2e%2e%2fsecret.ts',
    '/live/..%2f..%2fsecret.ts',
    '/live%2f..%2f..%2fsecret.ts',
    '/..%5csecret.ts',
    '/live/..\\..\\secret.ts',
    '/%252e%252e/secret.ts',
    `/${abs}`,
    `/${join(outside, 'secret.ts')}`.replace(/^\/+/, '//'),
    '/./live/s-0.ts',
    '/live//s-0.ts',
    '/live/s-0.ts%00.ts',
    '/live/%ff.ts',
    '/live/escape.ts',
    '/escape-dir/secret.ts',
    '/escape-dir/secret.m3u8',
    '/live/dir.ts',
    '/live/missing.ts',
    '/nothere/x.m3u8',
  ];
  for (const path of attempts) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.ok(!r.body.toString().includes(SECRET), path);
    assert.equal(r.headers['access-control-allow-origin'], '*', path);
  }
});

test('not an HLS path: returns false; other methods: 405; OPTIONS: CORS preflight', async () => {
  assert.equal((await get('/live/s.flv')).status, 418);
  assert.equal((await get('/')).status, 418);
  assert.equal((await get('/live/s.m3u8.bak')).status, 418);
  const post = await get('/live/s.m3u8', {}, 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD, OPTIONS');
  const pre = await get('/live/s-0.ts', {}, 'OPTIONS');
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-headers'], 'Range');
});

test('onNotFound takes missing files only; refused paths still get 404', async () => {
  assert.equal((await get('/live/missing.ts', { 'x-fallback': '1' })).status, 299);
  assert.equal((await get('/live/s-0.ts', { 'x-fallback': '1' })).status, 200);
  assert.equal((await get('/live/escape.ts', { 'x-fallback': '1' })).status, 404);
  assert.equal((await get('/../secret.ts', { 'x-fallback': '1' })).status, 404);
});

test('a missing root answers 404', async () => {
  const s = createServer((req, res) => {
    serveHlsFile(req, res, join(base, 'no-such-root'));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  const status = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port: p, path: '/live/s.m3u8', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
  await new Promise((r) => s.close(r));
  assert.equal(status, 404);
});
