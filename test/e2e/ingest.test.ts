/**
 * End to end: the ingester (vhost `ingest` blocks) → hub → RTMP play and HTTP-FLV, checked with ffmpeg/ffprobe:
 * native FLV looping across loop boundaries, ffmpeg pulling a stream of this gateway, a lavfi "device"
 * transcoded to H.264, ffmpeg killed and restarted, a missing file and a missing ffmpeg binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import type { FfmpegIngestStats, NativeIngestStats } from '../../ingest/index.ts';
import { decodeCheck, fixture, probePackets, probeStreams, publishRtmp, run, waitFor, type ProbePacket } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway, type TestGateway } from './harness.ts';

const VIDEO_INTERVAL_S = 0.04;
const key = (stream: string) => makeStreamKey('__defaultVhost__', 'live', stream);

/** A vhost with HTTP-FLV on and the given ingest blocks. */
function vhost(ingests: string): string {
  return HTTP_FLV_VHOST.replace(/ }\n$/, ` ${ingests} }\n`);
}

function engineStats(t: TestGateway, i: number): NativeIngestStats | FfmpegIngestStats {
  return t.gw.ingesters[i]?.stats().engines[0] as NativeIngestStats | FfmpegIngestStats;
}

/** Per stream: DTS never goes back and never steps more than one video frame interval (+1 ms rounding). */
function checkRising(packets: readonly ProbePacket[]): void {
  for (const type of ['video', 'audio']) {
    const dts = packets.filter((p) => p.codec_type === type).map((p) => p.dts_time as number);
    assert.ok(dts.length > 10, `${type} packets: ${dts.length}`);
    for (let i = 1; i < dts.length; i++) {
      const step = (dts[i] as number) - (dts[i - 1] as number);
      assert.ok(step >= 0, `${type}: dts ${dts[i - 1]} → ${dts[i]} goes back`);
      assert.ok(step <= VIDEO_INTERVAL_S + 0.0011, `${type}: dts ${dts[i - 1]} → ${dts[i]}: gap ${step} s`);
    }
  }
}

test('a 3 s FLV loops natively: RTMP and HTTP-FLV across loop boundaries, zero decode errors, rising DTS', { timeout: 40_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-ingest-'));
  const file = join(dir, 'short.flv');
  // 75 video frames (DTS 23…2983 ms) and 129 AAC frames (0…2972 ms + 23): both tracks end within one frame.
  const made = await run('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=44100',
    '-t', '3', '-frames:a', '129', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-bf', '0', '-threads', '1',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', file]);
  assert.equal(made.code, 0, made.stderr);
  const t = await startTestGateway(vhost(
    `ingest short { enabled on; input { type file; url ${file}; } engine { enabled off; output rtmp://127.0.0.1:[port]/live/short; } }`,
  ));
  try {
    await waitFor(() => t.gw.hub.isPublishing(key('short')), 5_000);
    const stats = engineStats(t, 0);
    assert.equal(stats.mode, 'native');
    const [packets, flv] = await Promise.all([
      probePackets(t.rtmpUrl('live/short'), 7, { timeoutMs: 20_000 }),
      decodeCheck(t.httpUrl('live/short.flv'), 7, { timeoutMs: 20_000 }),
    ]);
    checkRising(packets);
    const video = packets.filter((p) => p.codec_type === 'video');
    const spanS = (video[video.length - 1]?.dts_time as number) - (video[0]?.dts_time as number);
    assert.ok(spanS >= 6, `RTMP covered ${spanS} s, i.e. at least two loop boundaries of a 3 s file`);
    assert.deepEqual(flv.errors, [], 'HTTP-FLV decodes without errors');
    assert.ok(flv.videoFrames >= 7 * 25 * 0.9, `HTTP-FLV frames ${flv.videoFrames}`);
    assert.ok(flv.audioFrames > 0);
    const after = engineStats(t, 0) as NativeIngestStats;
    assert.ok((after.looper?.loops ?? 0) >= 2, `loops ${after.looper?.loops}`);
    assert.equal(after.decodeErrors, 0);
  } finally {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('type stream: ffmpeg pulls live/src from this gateway into live/pulled', { timeout: 40_000 }, async () => {
  const t = await startTestGateway(vhost(
    'ingest pull { enabled on; input { type stream; url rtmp://127.0.0.1:{RTMP}/live/src; } engine { enabled off; output rtmp://127.0.0.1/live/pulled; } }',
  ));
  const sender = publishRtmp(fixture('flv/h264-aac-320x240-10s.flv'), t.rtmpUrl('live/src'), { timeoutMs: 30_000 });
  try {
    await waitFor(() => t.gw.hub.isPublishing(key('pulled')), 15_000);
    const stats = engineStats(t, 0) as FfmpegIngestStats;
    assert.equal(stats.mode, 'ffmpeg-pipe');
    assert.equal(stats.stream, '__defaultVhost__/live/pulled');
    const r = await decodeCheck(t.httpUrl('live/pulled.flv'), 3, { timeoutMs: 15_000 });
    assert.deepEqual(r.errors, []);
    assert.ok(r.videoFrames >= 50, `frames ${r.videoFrames}`);
    assert.ok(r.audioFrames > 0);
  } finally {
    await sender.stop();
    await t.stop();
  }
});

test('type device (lavfi) transcoded to H.264; killing ffmpeg restarts it and the stream resumes', { timeout: 60_000 }, async () => {
  const t = await startTestGateway(vhost(
    'ingest bars { enabled on; input { type device; url testsrc2=size=320x240:rate=25; } '
      + 'engine cam { enabled on; iformat lavfi; vcodec libx264; vpreset ultrafast; vthreads 1; vparams { g 25; bf 0; } acodec aac; '
      + 'output rtmp://127.0.0.1:[port]/live/[engine]; } }',
  ));
  try {
    await waitFor(() => t.gw.hub.isPublishing(key('cam')), 15_000);
    const streams = await probeStreams(t.rtmpUrl('live/cam'), { timeoutMs: 15_000 });
    const video = streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'h264');
    assert.equal(video?.width, 320);
    const first = await decodeCheck(t.rtmpUrl('live/cam'), 2, { timeoutMs: 15_000 });
    assert.deepEqual(first.errors, []);
    assert.ok(first.videoFrames >= 40, `frames ${first.videoFrames}`);
    const before = engineStats(t, 0) as FfmpegIngestStats;
    assert.equal(before.process.state, 'running');
    assert.ok((before.process.progress.frame ?? 0) > 0, 'progress parsed from -progress pipe:2');
    const pid = before.process.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => (engineStats(t, 0) as FfmpegIngestStats).process.restarts === 1
      && (engineStats(t, 0) as FfmpegIngestStats).process.state === 'running', 5_000);
    const after = engineStats(t, 0) as FfmpegIngestStats;
    assert.deepEqual(after.process.lastExit, { code: null, signal: 'SIGKILL' });
    assert.notEqual(after.process.pid, pid);
    await waitFor(() => t.gw.hub.isPublishing(key('cam')), 10_000);
    const again = await decodeCheck(t.httpUrl('live/cam.flv'), 2, { timeoutMs: 15_000 });
    assert.deepEqual(again.errors, []);
    assert.ok(again.videoFrames >= 40, `frames after restart ${again.videoFrames}`);
  } finally {
    await t.stop();
  }
  // stop() leaves no ffmpeg behind
  const pids = t.gw.ingesters[0]?.processes.map((p) => p?.stats().pid);
  assert.deepEqual(pids, [undefined]);
});

test('a missing file: one clear error and a bounded retry rhythm; a missing ffmpeg: one error, no retries', { timeout: 30_000 }, async () => {
  const t = await startTestGateway(vhost(
    'ingest gone { enabled on; input { type file; url /nonexistent/missing.flv; } engine { output rtmp://127.0.0.1/live/gone; } } '
      + 'ingest noff { enabled on; input { type stream; url rtmp://127.0.0.1:{RTMP}/live/x; } ffmpeg /nonexistent/ffmpeg; '
      + 'engine { output rtmp://127.0.0.1/live/noff; } }',
  ));
  try {
    await sleep(3_600);
    const gone = engineStats(t, 0) as NativeIngestStats;
    assert.equal(gone.mode, 'native');
    assert.equal(gone.error, "cannot open ingest file '/nonexistent/missing.flv': no such file");
    // backoff 1 s, 2 s, ...: tries at 0, 1 and 3 s
    assert.equal(gone.starts, 3);
    assert.equal(gone.publishing, false);
    const noff = engineStats(t, 1) as FfmpegIngestStats;
    assert.equal(noff.process.state, 'failed');
    assert.equal(noff.process.starts, 1);
    assert.equal(noff.process.error, "cannot run '/nonexistent/ffmpeg': not found (ENOENT)");
  } finally {
    await t.stop();
  }
});
