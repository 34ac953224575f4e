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

test('shared buffers queued together are joined once: the first player writes them as they are, every other in-step player one write of the same joined Buffer; a player-own buffer keeps the writev', async () => {
  const { Writable } = await import('node:stream');
  const sink = (): { w: InstanceType<typeof Writable>; chunks: Buffer[]; writes: number } => {
    const s = {
      chunks: [] as Buffer[],
      writes: 0,
      w: new Writable({
        write(c: Buffer, _e, cb) { s.writes++; s.chunks.push(c); cb(); },
        writev(list, cb) { s.writes++; for (const x of list) s.chunks.push(x.chunk as Buffer); cb(); },
      }),
    };
    return s;
  };
  const tag1 = Buffer.alloc(100, 1);
  const tag2 = Buffer.alloc(200, 2);
  const [a, b, c, d] = [sink(), sink(), sink(), sink()];
  const [wa, wb, wc, wd] = [a, b, c, d].map((x) => new MergedSocketWriter(x.w, { latencyMs: 0, framing: 'http-chunked' })) as MergedSocketWriter[];
  wc.writeMedia(Buffer.from('own')); // e.g. a player's FLV file header
  for (const w of [wa, wb, wc, wd]) {
    w.writeMedia(tag1, true);
    w.writeMedia(tag2, true);
  }
  await sleep(10);
  const chunk1 = Buffer.concat([Buffer.from('64\r\n'), tag1, Buffer.from('\r\n')]);
  const chunk2 = Buffer.concat([Buffer.from('c8\r\n'), tag2, Buffer.from('\r\n')]);
  assert.deepEqual([a.writes, a.chunks.length], [1, 2], 'the first player: one writev of the two framed tags');
  assert.deepEqual([b.writes, b.chunks.length], [1, 1], 'the second: one write');
  assert.deepEqual(b.chunks[0], Buffer.concat([chunk1, chunk2]));
  assert.equal(d.chunks[0], b.chunks[0], 'one joined Buffer for every player after the first');
  assert.deepEqual([c.writes, c.chunks.length], [1, 3], 'not joined: it holds a buffer of its own');
  assert.deepEqual(Buffer.concat(c.chunks), Buffer.concat([Buffer.from('3\r\nown\r\n'), chunk1, chunk2]));
  // the next flush with the same tags in another order is joined anew, not served from the old join
  for (const w of [wa, wb]) {
    w.writeMedia(tag2, true);
    w.writeMedia(tag1, true);
  }
  await sleep(10);
  assert.deepEqual(b.chunks[1], Buffer.concat([chunk2, chunk1]));
  assert.deepEqual(Buffer.concat(a.chunks.slice(2)), b.chunks[1]);
});

test('a flush the socket takes at once (no drain will come) calls onWritable after underHighWater said full; a socket that needs a drain leaves it to the drain', async () => {
  const p = await socketPair();
  try {
    p.b.pause(); // the kernel still takes ~1 MB on loopback: the first write completes at once
    let writable = 0;
    const w = new MergedSocketWriter(p.a, { latencyMs: 0, onWritable: () => writable++ });
    const tag = Buffer.alloc(200 * 1024, 1);
    w.writeMedia(Buffer.alloc(600 * 1024, 1), true); // one buffer: one write
    assert.equal(w.underHighWater(512 * 1024), false, 'full: 600 KiB queued');
    await sleep(20);
    assert.equal(p.a.writableNeedDrain, false, 'the socket took the flush at once');
    assert.equal(writable, 1, 'so the owner is told here (no drain event follows)');
    // now fill the socket until it buffers: the owner then waits for the socket's drain, not onWritable
    for (let i = 0; i < 200 && !p.a.writableNeedDrain; i++) {
      w.writeMedia(tag, true);
      w.underHighWater(0);
      await sleep(1);
    }
    assert.equal(p.a.writableNeedDrain, true);
    const before = writable;
    w.writeMedia(tag, true);
    assert.equal(w.underHighWater(0), false);
    await sleep(20);
    assert.equal(writable, before, 'no onWritable while a drain is due');
    const drained = once(p.a, 'drain');
    p.b.resume();
    await drained;
  } finally {
    p.close();
  }
});
