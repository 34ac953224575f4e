/**
 * End to end: FLV over HTTP POST/PUT (curl fed by ffmpeg, ffmpeg's own HTTP POST) → flv caster → hub → RTMP play
 * and HTTP-FLV, checked the way a user would: ffmpeg decodes with zero errors, frame counts, ffprobe codec
 * parameters, the HTTP statuses curl sees. Also: a templated output naming another server pushes there over RTMP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../core/config/config.ts';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { assertStreams, decodeCheck, fixture, freeTcpPort, probeStreams, run, startProcess, waitFor } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

const FIXTURE = 'flv/h264-aac-320x240-10s.flv';
/** 10 s at 25 fps. */
const SOURCE_VIDEO_FRAMES = 250;
const FFMPEG_QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];

function flvCaster(port: number, output = 'rtmp://127.0.0.1/[app]/[stream]'): string {
  return `stream_caster { enabled on; caster flv; output ${output}; listen 127.0.0.1:${port}; }\n`;
}

interface PipePush {
  /** curl's exit code and what it printed (`-w '\n%{http_code}'` after the response body). */
  readonly done: Promise<{ ffmpegCode: number | null; curlCode: number | null; status: number; body: string; stderr: string }>;
  stop(): void;
}

/**
 * `ffmpeg -re -i FILE -c copy -f flv -` piped into `curl -sS -T - -H 'Transfer-Encoding: chunked' URL`: a
 * real-time chunked upload. Both children are SIGKILLed by stop() and after a hard timeout.
 */
function pipePush(file: string, url: string, timeoutMs = 40_000): PipePush {
  const ffmpeg = spawn('ffmpeg', [...FFMPEG_QUIET, '-re', '-i', file, '-c', 'copy', '-f', 'flv', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const curl = spawn('curl', ['-sS', '-T', '-', '-H', 'Transfer-Encoding: chunked', '-H', 'Content-Type: video/x-flv', '-w', '\\n%{http_code}', url], { stdio: ['pipe', 'pipe', 'pipe'] });
  ffmpeg.stdout.pipe(curl.stdin);
  curl.stdin.on('error', () => {});
  let out = '';
  let stderr = '';
  curl.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  curl.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exit = (c: ChildProcess): Promise<number | null> => new Promise((ok) => (c.exitCode !== null ? ok(c.exitCode) : c.once('close', (code) => ok(code))));
  const stop = (): void => {
    ffmpeg.kill('SIGKILL');
    curl.kill('SIGKILL');
  };
  const timer = setTimeout(stop, timeoutMs);
  const done = Promise.all([exit(ffmpeg), exit(curl)]).then(([ffmpegCode, curlCode]) => {
    clearTimeout(timer);
    const nl = out.lastIndexOf('\n');
    return { ffmpegCode, curlCode, status: Number(out.slice(nl + 1)), body: out.slice(0, Math.max(nl, 0)), stderr };
  });
  return { done, stop };
}

test('conf/push.flv.conf loads with zero warnings and declares the flv caster on 8936', () => {
  const { config, warnings } = loadConfig('conf/push.flv.conf');
  assert.deepEqual(warnings, []);
  assert.equal(config.streamCasters[0]?.caster, 'flv');
  assert.equal(config.streamCasters[0]?.listen.port, 8936);
  assert.equal(config.httpServer.enabled, true);
});

test('curl chunked upload fed by ffmpeg -re: RTMP and HTTP-FLV decode cleanly, a second POSTer gets 409, curl gets 200', { timeout: 60_000 }, async () => {
  const port = await freeTcpPort();
  const t = await startTestGateway(flvCaster(port) + HTTP_FLV_VHOST);
  const key = makeStreamKey('__defaultVhost__', 'live', 'sea');
  let push: PipePush | undefined;
  try {
    // Players first: they wait for the publisher, so they see the whole stream from its first keyframe.
    const rtmpPlay = decodeCheck(t.rtmpUrl('live/sea'), 30, { timeoutMs: 40_000 });
    const flvPlay = decodeCheck(t.httpUrl('live/sea.flv'), 30, { timeoutMs: 40_000 });
    await sleep(500);
    push = pipePush(fixture(FIXTURE), `http://127.0.0.1:${port}/live/sea.flv?token=abc`);
    await waitFor(() => t.gw.hub.isPublishing(key), 10_000);
    const streams = await probeStreams(t.rtmpUrl('live/sea'), { timeoutMs: 15_000 });
    assertStreams(streams, { video: 'h264', width: 320, height: 240, audio: 'aac' });
    // A second, concurrent POSTer of the same stream is refused; the first keeps streaming.
    const second = await run('curl', ['-sS', '--data-binary', `@${fixture(FIXTURE)}`, '-H', 'Content-Type: video/x-flv', '-w', '\\n%{http_code}', `http://127.0.0.1:${port}/live/sea.flv`], { timeoutMs: 10_000 });
    const secondOut = second.stdout.toString();
    assert.equal(second.code, 0, second.stderr);
    assert.match(secondOut, /GW_ERR_STREAM_BUSY/);
    assert.equal(secondOut.slice(secondOut.lastIndexOf('\n') + 1), '409');
    assert.ok(t.gw.hub.isPublishing(key), 'the first publisher keeps streaming');
    const pushed = await push.done;
    assert.equal(pushed.ffmpegCode, 0);
    assert.equal(pushed.curlCode, 0, pushed.stderr);
    assert.equal(pushed.status, 200, pushed.body);
    assert.match(pushed.body, /^OK: \d+ tags/);
    const [r, f] = await Promise.all([rtmpPlay, flvPlay]);
    assert.deepEqual(r.errors, [], 'RTMP play decodes without errors');
    assert.deepEqual(f.errors, [], 'HTTP-FLV play decodes without errors');
    assert.ok(r.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `RTMP frames ${r.videoFrames}`);
    assert.ok(f.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `HTTP-FLV frames ${f.videoFrames}`);
    assert.ok(r.audioFrames > 0 && f.audioFrames > 0, 'audio decoded');
    assert.equal(t.gw.hub.isPublishing(key), false, 'unpublished at the end of the body');
    const stats = t.gw.casters[0]?.stats();
    assert.equal(stats?.errors, 0);
    assert.equal((stats?.responses as Record<string, number>)['409'], 1);
  } finally {
    push?.stop();
    await t.stop();
  }
});

test('ffmpeg -method POST -f flv http://…: RTMP and HTTP-FLV decode with zero errors and ≥90% of the frames', { timeout: 60_000 }, async () => {
  const port = await freeTcpPort();
  const t = await startTestGateway(flvCaster(port) + HTTP_FLV_VHOST);
  try {
    const rtmpPlay = decodeCheck(t.rtmpUrl('live/x'), 30, { timeoutMs: 40_000 });
    const flvPlay = decodeCheck(t.httpUrl('live/x.flv'), 30, { timeoutMs: 40_000 });
    await sleep(500);
    const sender = startProcess('ffmpeg', [...FFMPEG_QUIET, '-re', '-i', fixture(FIXTURE), '-c', 'copy', '-f', 'flv',
      '-method', 'POST', '-content_type', 'video/x-flv', `http://127.0.0.1:${port}/live/x.flv`], { timeoutMs: 30_000 });
    const sent = await sender.exited;
    assert.equal(sent.code, 0, sent.stderr);
    const [r, f] = await Promise.all([rtmpPlay, flvPlay]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(f.errors, []);
    assert.equal(r.code, 0);
    assert.equal(f.code, 0);
    assert.ok(r.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `RTMP frames ${r.videoFrames}`);
    assert.ok(f.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `HTTP-FLV frames ${f.videoFrames}`);
    assert.ok(r.audioFrames > 0 && f.audioFrames > 0, 'audio decoded');
    assert.equal((t.gw.casters[0]?.stats().responses as Record<string, number>)['200'], 1);
  } finally {
    await t.stop();
  }
});

test('an output naming another server: the POSTed stream is pushed there over RTMP and plays from it', { timeout: 60_000 }, async () => {
  const origin = await startTestGateway(HTTP_FLV_VHOST);
  const port = await freeTcpPort();
  const edge = await startTestGateway(flvCaster(port, `rtmp://127.0.0.1:${origin.rtmpPort}/[app]/[stream]`) + HTTP_FLV_VHOST);
  try {
    const play = decodeCheck(origin.rtmpUrl('push/y'), 5, { timeoutMs: 30_000 });
    await sleep(300);
    const sender = startProcess('ffmpeg', [...FFMPEG_QUIET, '-re', '-i', fixture(FIXTURE), '-c', 'copy', '-f', 'flv',
      '-method', 'PUT', `http://127.0.0.1:${port}/push/y.flv`], { timeoutMs: 30_000 });
    const key = makeStreamKey('__defaultVhost__', 'push', 'y');
    await waitFor(() => origin.gw.hub.isPublishing(key), 10_000);
    assert.equal(edge.gw.hub.isPublishing(key), false, 'not published in the edge itself');
    const r = await play;
    assert.deepEqual(r.errors, []);
    assert.ok(r.videoFrames >= 100, `frames ${r.videoFrames}`);
    await sender.stop();
  } finally {
    await edge.stop();
    await origin.stop();
  }
});
