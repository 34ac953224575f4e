/**
 * FlvFileWriter against ffmpeg/ffprobe: a file that decodes with zero errors and says its duration; onMetaData
 * patched in place; the temporary name until close; disk full (one error, the playable start kept and cut on a tag
 * boundary); a folder that cannot be created (one error, nothing left); a writer killed mid-file leaves a temporary
 * file that plays up to its last tag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGatewayError, type GatewayError } from '../../../../core/errors.ts';
import { MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { Amf0EcmaArray, decodeAmf0 } from '../../../../core/protocol/amf0.ts';
import { createMessage } from '../../../../core/media/message.ts';
import { encodeAmf0 } from '../../../../core/protocol/amf0.ts';
import { dvrOnMetaData, FlvFileWriter } from '../../../../core/output/dvr/flv-file-writer.ts';
import { fileStartOf, flvMessages, framesOf, fullDiskFs, h264AacMessages } from '../../../helpers/dvr-media.ts';
import { run, startProcess, waitFor } from '../../../helpers/peers.ts';

async function decodeErrors(file: string): Promise<string> {
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  assert.equal(r.code, 0, r.stderr);
  return r.stderr;
}

async function probeDuration(file: string): Promise<number> {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.toString().trim());
}

function metadataOf(file: string): Record<string, unknown> {
  const meta = flvMessages(readFileSync(file)).find((m) => m.kind === 'metadata');
  assert.ok(meta !== undefined, 'onMetaData');
  const [name, value] = decodeAmf0(meta.payload);
  assert.equal(name, 'onMetaData');
  assert.ok(value instanceof Amf0EcmaArray);
  return value.entries;
}

test('dvrOnMetaData: the stream fields kept, duration and filesize last, offsets at their doubles', () => {
  const source = createMessage(MessageType.Data, 0, encodeAmf0(['onMetaData', new Amf0EcmaArray({ duration: 99, width: 320, filesize: 5, encoder: 'Lavf' })]));
  const m = dvrOnMetaData(source);
  const [, value] = decodeAmf0(m.body);
  assert.ok(value instanceof Amf0EcmaArray);
  assert.deepEqual(Object.keys(value.entries), ['width', 'encoder', 'duration', 'filesize']);
  assert.deepEqual(value.entries, { width: 320, encoder: 'Lavf', duration: 0, filesize: 0 });
  const patched = Buffer.from(m.body);
  patched.writeDoubleBE(12.5, m.durationOffset);
  patched.writeDoubleBE(4096, m.filesizeOffset);
  assert.deepEqual((decodeAmf0(patched)[1] as Amf0EcmaArray).entries, { width: 320, encoder: 'Lavf', duration: 12.5, filesize: 4096 });
  // an AMF0 object (marker 0x03) is taken too; no or broken metadata gives castgate's own
  const object = dvrOnMetaData(createMessage(MessageType.Data, 0, encodeAmf0(['onMetaData', { width: 640 }])));
  assert.deepEqual((decodeAmf0(object.body)[1] as Amf0EcmaArray).entries, { width: 640, duration: 0, filesize: 0 });
  for (const bad of [undefined, createMessage(MessageType.Data, 0, Buffer.from([0x02, 0x00, 0x09]))]) {
    assert.deepEqual((decodeAmf0(dvrOnMetaData(bad).body)[1] as Amf0EcmaArray).entries, { encoder: 'castgate', duration: 0, filesize: 0 });
  }
});

test('a 10 s stream: temporary name, then a file ffmpeg decodes with zero errors, duration in onMetaData', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-flv-'));
  try {
    const msgs = h264AacMessages();
    const file = join(dir, 'live', 'a.flv');
    const errors: GatewayError[] = [];
    const w = new FlvFileWriter({ file, start: fileStartOf(msgs), onError: (e) => errors.push(e) });
    assert.equal(w.tempFile, `${file}.tmp`);
    const frames = framesOf(msgs);
    for (const m of frames.slice(0, 100)) w.write(m);
    await waitFor(() => w.pendingBytes === 0, 10_000);
    assert.ok(existsSync(w.tempFile) && !existsSync(file), 'written under the temporary name');
    for (const m of frames.slice(100)) w.write(m);
    const info = await w.close();
    assert.deepEqual(errors, []);
    assert.ok(existsSync(file) && !existsSync(w.tempFile), 'renamed when complete');
    assert.equal(info.bytes, statSync(file).size);
    assert.equal(info.durationMs, Math.max(...frames.map((m) => m.timestamp)));
    assert.equal(await decodeErrors(file), '');
    assert.ok(Math.abs((await probeDuration(file)) - 10) < 0.1);
    const meta = metadataOf(file);
    assert.equal(meta.duration, info.durationMs / 1000);
    assert.equal(meta.filesize, info.bytes);
    assert.equal(meta.width, 320, 'the stream metadata is kept');
    // header, onMetaData, AVC and AAC sequence headers, then every frame
    const back = flvMessages(readFileSync(file));
    assert.deepEqual(back.slice(0, 3).map((m) => m.kind), ['metadata', 'video-config', 'audio-config']);
    assert.equal(back.length, 3 + frames.length);
    assert.deepEqual(readFileSync(file).subarray(0, 5), Buffer.from('FLV\x01\x05', 'latin1'));
    assert.equal(await w.close(), info, 'close is idempotent');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disk full: one error, the temporary file kept, cut on a tag boundary, playing without errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-flv-'));
  try {
    const msgs = h264AacMessages();
    const file = join(dir, 'full.flv');
    const errors: GatewayError[] = [];
    const fs = fullDiskFs(150_000);
    const w = new FlvFileWriter({ file, start: fileStartOf(msgs), fs, onError: (e) => errors.push(e) });
    for (const m of framesOf(msgs)) {
      w.write(m);
      if (m.kind === 'keyframe') while (w.pendingBytes > 0) await sleep(1); // a batch per GOP
    }
    await assert.rejects(w.close(), (e) => isGatewayError(e, 'GW_ERR_DVR_WRITE') && /ENOSPC/.test((e as Error).message));
    assert.equal(errors.length, 1, 'one error for the file');
    assert.equal(w.pendingBytes, 0);
    assert.ok(!existsSync(file), 'never renamed: it is not complete');
    assert.equal(w.keptFile, w.tempFile);
    const kept = readFileSync(w.tempFile);
    assert.ok(kept.length > 20_000 && kept.length <= 150_000, `${kept.length} bytes kept`);
    assert.equal(kept.readUInt32BE(kept.length - 4) + 4 <= kept.length, true);
    assert.ok(flvMessages(kept).length > 3, 'whole tags to the end (the demuxer throws on a torn one)');
    assert.equal(await decodeErrors(w.tempFile), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder that cannot be made: one error, no file and no temporary file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-flv-'));
  try {
    writeFileSync(join(dir, 'plain'), 'a file where a folder should be');
    const file = join(dir, 'plain', 'live', 'x.flv');
    const errors: GatewayError[] = [];
    const msgs = h264AacMessages();
    const w = new FlvFileWriter({ file, start: fileStartOf(msgs), onError: (e) => errors.push(e) });
    for (const m of framesOf(msgs)) w.write(m);
    await assert.rejects(w.close(), (e) => isGatewayError(e, 'GW_ERR_DVR_WRITE') && /ENOTDIR|EEXIST/.test((e as Error).message));
    assert.equal(errors.length, 1);
    assert.equal(w.keptFile, undefined);
    assert.ok(!existsSync(file) && !existsSync(w.tempFile));
    w.write(framesOf(msgs)[0] as RtmpMessage); // ignored after the failure
    assert.equal(w.pendingBytes, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a recorder killed mid-file leaves a temporary file that plays up to its last tag', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-flv-'));
  try {
    const file = join(dir, 'crash.flv');
    const child = join(dir, 'record.mts'); // an ES module: top-level await
    const here = new URL('.', import.meta.url).pathname;
    // the child writes the fixture stream in real time and is SIGKILLed part way
    writeFileSync(child, `
      import { FlvFileWriter } from '${here}../../../../core/output/dvr/flv-file-writer.ts';
      import { fileStartOf, framesOf, h264AacMessages } from '${here}../../../helpers/dvr-media.ts';
      const msgs = h264AacMessages();
      const w = new FlvFileWriter({ file: ${JSON.stringify(file)}, start: fileStartOf(msgs) });
      const t0 = Date.now();
      for (const m of framesOf(msgs)) {
        while (Date.now() - t0 < m.timestamp) await new Promise((r) => setTimeout(r, 5));
        w.write(m);
      }
      await w.close();
    `);
    const p = startProcess(process.execPath, ['--import', 'tsx', child]);
    // a few seconds into the 10 s stream (the file grows by about 36 kB/s)
    await waitFor(() => existsSync(`${file}.tmp`) && statSync(`${file}.tmp`).size > 100_000, 20_000);
    p.child.kill('SIGKILL');
    const exit = await p.exited;
    assert.equal(exit.signal, 'SIGKILL', exit.stderr);
    assert.ok(!existsSync(file), 'not finished');
    const tmp = readFileSync(`${file}.tmp`);
    const tags = flvMessages(tmp);
    assert.ok(tags.filter((m) => m.kind === 'keyframe').length >= 1, `${tags.length} tags`);
    assert.equal(await decodeErrors(`${file}.tmp`), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
