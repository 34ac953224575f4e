/**
 * End to end: an HTTP-TS player that stops reading (its socket paused) while the stream runs on loses GOPs (the
 * hub's queue, queue_length 1 s, skips to the next keyframe); next to it a player in step. The laggard's body, read
 * once it resumes, carries discontinuity_indicator where the continuity_counters jump, so ffmpeg's demuxer finds no
 * continuity failure (`-v debug`) and decodes it with no error (`-v error`), like the player in step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { createTsPacketHeader, parseTsPacket, TS_PACKET_SIZE } from '../../core/protocol/mpegts/ts-packet.ts';
import { decodeCheck, fixture, run, startProcess, waitFor } from '../helpers/peers.ts';
import { startTestGateway } from './harness.ts';

const VHOST = 'vhost __defaultVhost__ { gop_cache on; queue_length 1; http_remux { enabled on; mount [vhost]/[app]/[stream].ts; } }\n';

/** An HTTP/1.0 GET (close-delimited body) whose socket reads nothing until `resume()`; the body once the server ends it. */
function pausedPlayer(port: number, path: string): { resume(): void; body: Promise<Buffer> } {
  const socket = connect(port, '127.0.0.1');
  socket.pause();
  socket.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const body = new Promise<Buffer>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0 || !all.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 200')) reject(new Error(`bad response: ${all.subarray(0, 80).toString('latin1')}`));
      else resolve(all.subarray(end + 4));
    });
  });
  return { resume: () => socket.resume(), body };
}

test('HTTP-TS: a paused player that lost GOPs decodes without continuity errors (discontinuity_indicator), next to a player in step', { timeout: 60_000 }, async () => {
  const t = await startTestGateway(VHOST);
  const dir = mkdtempSync(join(tmpdir(), 'castgate-ts-slow-'));
  try {
    const inStep = decodeCheck(t.httpUrl('live/x.ts'), 1000, { timeoutMs: 40_000 });
    const slow = pausedPlayer(t.httpPort, '/live/x.ts');
    await sleep(300);
    // 15 loops of the 10 s fixture as fast as ffmpeg sends: ~5 MB, 150 s of media, far past the paused socket's
    // buffers and its 1 s queue.
    const pub = startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-stream_loop', '14', '-i', fixture('flv/h264-aac-320x240-10s.flv'), '-c', 'copy', '-f', 'flv', t.rtmpUrl('live/x')], { timeoutMs: 40_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'x')), 10_000);
    const published = await pub.exited;
    assert.equal(published.code, 0, `publisher: ${published.stderr}`);
    slow.resume();
    const [bytes, normal] = await Promise.all([slow.body, inStep]);
    assert.deepEqual(normal.errors, [], 'the player in step decodes without errors');
    assert.equal(bytes.length % TS_PACKET_SIZE, 0);
    const h = createTsPacketHeader();
    let flagged = 0;
    for (let o = 0; o < bytes.length; o += TS_PACKET_SIZE) if (parseTsPacket(bytes, o, h) && h.discontinuityIndicator) flagged++;
    assert.ok(flagged >= 4, `the paused player skipped packets: ${flagged} packets flagged in ${bytes.length} bytes`);
    const file = join(dir, 'slow.ts');
    writeFileSync(file, bytes);
    const demux = await run('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'debug', '-i', file, '-map', '0', '-c', 'copy', '-f', 'null', '-'], { timeoutMs: 30_000 });
    assert.ok(/Input #0, mpegts/.test(demux.stderr), 'read as MPEG-TS');
    assert.deepEqual(demux.stderr.split('\n').filter((l) => /Continuity check failed|Packet corrupt/i.test(l)), [], 'no continuity failure');
    const decoded = await decodeCheck(file, 1000, { timeoutMs: 30_000 });
    assert.deepEqual(decoded.errors, [], 'the paused player decodes without errors');
    assert.ok(decoded.videoFrames > 0 && decoded.audioFrames > 0, `decoded ${decoded.videoFrames} video / ${decoded.audioFrames} audio frames`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await t.stop();
  }
});
