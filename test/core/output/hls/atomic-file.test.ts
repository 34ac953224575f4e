import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGatewayError } from '../../../../core/errors.ts';
import {
  AtomicFileWriter,
  disposeStreamFiles,
  removeEmptyFolders,
  removeFiles,
  writeFileAtomic,
} from '../../../../core/output/hls/atomic-file.ts';

const root = mkdtempSync(join(tmpdir(), 'castgate-hls-atomic-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('writeFileAtomic creates the folder, replaces content, leaves no temporary file', async () => {
  const f = join(root, 'w1/live/a.m3u8');
  await writeFileAtomic(f, '#EXTM3U\n');
  assert.equal(readFileSync(f, 'utf8'), '#EXTM3U\n');
  await writeFileAtomic(f, Buffer.from('#EXTM3U\n#EXT-X-VERSION:3\n'));
  assert.equal(readFileSync(f, 'utf8'), '#EXTM3U\n#EXT-X-VERSION:3\n');
  assert.deepEqual(readdirSync(join(root, 'w1/live')), ['a.m3u8']);
});

test('a concurrent reader only ever sees a whole old or whole new file', async () => {
  const f = join(root, 'w2/x.m3u8');
  const a = Buffer.alloc(256 * 1024, 0x61);
  const b = Buffer.alloc(512 * 1024, 0x62);
  await writeFileAtomic(f, a);
  let writing = true;
  const reads: Promise<void> = (async () => {
    let n = 0;
    while (writing || n < 5) {
      const got = await readFile(f);
      assert.ok(got.equals(a) || got.equals(b), `partial read of ${got.length} bytes`);
      n++;
    }
  })();
  for (let i = 0; i < 30; i++) await writeFileAtomic(f, i % 2 === 0 ? b : a);
  writing = false;
  await reads;
});

test('writeFileAtomic failure throws GatewayError(CasterOutput) and cleans up', async () => {
  const blocker = join(root, 'w3-file');
  writeFileSync(blocker, 'x');
  await assert.rejects(writeFileAtomic(join(blocker, 'a.m3u8'), 'x'), (e) => isGatewayError(e, 'GW_ERR_CASTER_OUTPUT'));
  const dirAsTarget = join(root, 'w3-dir');
  mkdirSync(join(dirAsTarget, 'sub'), { recursive: true });
  writeFileSync(join(dirAsTarget, 'sub', 'keep'), 'x');
  await assert.rejects(writeFileAtomic(join(dirAsTarget, 'sub'), 'x'), (e) => isGatewayError(e));
  assert.deepEqual(readdirSync(dirAsTarget), ['sub']);
});

test('AtomicFileWriter: invisible until commit, in order, renamed to a final name ([duration])', async () => {
  const dir = join(root, 'w4/live');
  const w = new AtomicFileWriter(join(dir, 's-1.ts'));
  w.write([Buffer.from('ab'), Buffer.from('cd')]);
  w.write([]);
  w.write([Buffer.from('ef')]);
  assert.equal(w.bytesWritten, 6);
  assert.equal(existsSync(join(dir, 's-1.ts')), false);
  await w.commit(join(dir, 'final/s-1-10000.ts'));
  assert.equal(readFileSync(join(dir, 'final/s-1-10000.ts'), 'utf8'), 'abcdef');
  assert.equal(existsSync(w.tempPath), false);
  assert.throws(() => w.write([Buffer.from('x')]), (e) => isGatewayError(e));
  await assert.rejects(w.commit(), (e) => isGatewayError(e));

  const empty = new AtomicFileWriter(join(dir, 'empty.ts'));
  await empty.commit();
  assert.equal(readFileSync(join(dir, 'empty.ts')).length, 0);
});

test('AtomicFileWriter.abort removes the temporary file; a write error surfaces at commit', async () => {
  const dir = join(root, 'w5');
  const w = new AtomicFileWriter(join(dir, 'a.ts'));
  w.write([Buffer.from('data')]);
  await w.abort();
  await w.abort();
  assert.deepEqual(readdirSync(dir), []);

  const blocker = join(root, 'w5-file');
  writeFileSync(blocker, 'x');
  const bad = new AtomicFileWriter(join(blocker, 'a.ts'));
  bad.write([Buffer.from('data')]);
  await assert.rejects(bad.commit(), (e) => isGatewayError(e, 'GW_ERR_CASTER_OUTPUT'));
});

test('removeFiles deletes expired segments and ignores missing ones', async () => {
  const dir = join(root, 'w6');
  mkdirSync(dir);
  for (const n of ['1.ts', '2.ts', '3.ts']) writeFileSync(join(dir, n), n);
  const removed = await removeFiles([join(dir, '1.ts'), join(dir, 'gone.ts'), join(dir, '2.ts')]);
  assert.deepEqual(removed, [join(dir, '1.ts'), join(dir, '2.ts')]);
  assert.deepEqual(readdirSync(dir), ['3.ts']);
  await assert.rejects(removeFiles([dir]), (e) => isGatewayError(e)); // a folder is not a segment
});

test('disposeStreamFiles removes the playlist, every segment and the folders left empty, not the root', async () => {
  const base = join(root, 'w7');
  const m3u8 = join(base, 'live/s.m3u8');
  const segs = [join(base, 'live/s/20260304/1.ts'), join(base, 'live/s/20260304/2.ts'), join(base, 'live/s/20260305/3.ts')];
  for (const f of [m3u8, ...segs]) await writeFileAtomic(f, 'x');
  writeFileSync(join(base, 'live/other.m3u8'), 'keep');
  const removed = await disposeStreamFiles(base, m3u8, [...segs, join(base, 'live/s/missing.ts')]);
  assert.deepEqual(removed, [m3u8, ...segs]);
  assert.deepEqual(readdirSync(base), ['live']);
  assert.deepEqual(readdirSync(join(base, 'live')), ['other.m3u8']);
  await removeEmptyFolders(join(root, '..'), base); // outside root: untouched, no throw
  await removeEmptyFolders(base, base);
  assert.ok(existsSync(base));
});
