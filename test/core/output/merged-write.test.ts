/** MergedSocketWriter on real loopback sockets: batching per mw_latency, order, HTTP chunk framing, end. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { MergedSocketWriter } from '../../../core/output/merged-write.ts';

async function socketPair(): Promise<{ a: Socket; b: Socket; received: () => Buffer; reads: () => number; close: () => void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const a = connect(port, '127.0.0.1');
  const [b] = (await once(server, 'connection')) as [Socket];
  await once(a, 'connect');
  const chunks: Buffer[] = [];
  b.on('data', (d: Buffer) => chunks.push(d));
  return {
    a,
    b,
    received: () => Buffer.concat(chunks),
    reads: () => chunks.length,
    close: () => { a.destroy(); b.destroy(); server.close(); },
  };
}

test('media is held for mw_latency and written together, in order', async () => {
  const p = await socketPair();
  try {
    const w = new MergedSocketWriter(p.a, { latencyMs: 80 });
    for (let i = 0; i < 10; i++) w.writeMedia(Buffer.from([i]));
    assert.equal(w.pendingBytes, 10);
    await sleep(30);
    assert.equal(p.received().length, 0, 'nothing written before mw_latency');
    await sleep(120);
    assert.deepEqual([...p.received()], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(w.pendingBytes, 0);
    assert.equal(w.bytesWritten, 10);
  } finally {
    p.close();
  }
});

test('writeNow flushes queued media first, keeping the order', async () => {
  const p = await socketPair();
  try {
    const w = new MergedSocketWriter(p.a, { latencyMs: 5000 });
    w.writeMedia(Buffer.from('media1,'));
    w.writeNow(Buffer.from('control'));
    await sleep(50);
    assert.equal(p.received().toString(), 'media1,control');
  } finally {
    p.close();
  }
});

test('HTTP chunked framing: one chunk per media buffer (a shared one framed once), written together, and the zero chunk at end()', async () => {
  const p = await socketPair();
  try {
    const w = new MergedSocketWriter(p.a, { latencyMs: 0, framing: 'http-chunked' });
    w.writeMedia(Buffer.from('hello '));
    w.writeMedia(Buffer.from('world'));
    await sleep(30);
    w.writeMedia(Buffer.from('!'));
    w.end();
    w.writeMedia(Buffer.from('ignored after end'));
    await sleep(50);
    assert.equal(p.received().toString(), '6\r\nhello \r\n5\r\nworld\r\n1\r\n!\r\n0\r\n\r\n');
  } finally {
    p.close();
  }
});

test('a destroyed socket drops queued media without throwing', async () => {
  const p = await socketPair();
  const w = new MergedSocketWriter(p.a, { latencyMs: 10 });
  w.writeMedia(Buffer.alloc(1000));
  p.a.destroy();
  await sleep(40);
  assert.equal(w.pendingBytes, 0);
  p.close();
});

test('a shared buffer is framed once for every writer (the same framed Buffer); WebSocket framing gives one binary message each', async () => {
  const { Writable } = await import('node:stream');
  const sink = (): { w: InstanceType<typeof Writable>; chunks: Buffer[] } => {
    const chunks: Buffer[] = [];
    return { w: new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }), chunks };
  };
  const tag = Buffer.alloc(300, 7);
  const [a, b, c] = [sink(), sink(), sink()];
  new MergedSocketWriter(a.w, { latencyMs: 0, framing: 'http-chunked' }).writeMedia(tag, true);
  new MergedSocketWriter(b.w, { latencyMs: 0, framing: 'http-chunked' }).writeMedia(tag, true);
  new MergedSocketWriter(c.w, { latencyMs: 0, framing: 'websocket' }).writeMedia(tag, true);
  await sleep(10);
  assert.equal(a.chunks.length, 1);
  assert.equal(a.chunks[0], b.chunks[0], 'one framed copy for both players');
  assert.deepEqual(a.chunks[0], Buffer.concat([Buffer.from('12c\r\n'), tag, Buffer.from('\r\n')]));
  assert.deepEqual(c.chunks[0], Buffer.concat([Buffer.from([0x82, 0x7e, 0x01, 0x2c]), tag]), 'FIN binary, 16-bit length 300');
});
