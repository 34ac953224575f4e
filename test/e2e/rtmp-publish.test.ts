/**
 * End to end: ffmpeg publishes RTMP into the gateway → RTMP play and HTTP-FLV decode cleanly; a second publisher
 * of the same stream is refused while the first keeps streaming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'node:http';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, probeStreams, publishRtmp, waitFor } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

const FIXTURE_FLV = 'flv/h264-aac-320x240-10s.flv';

test('RTMP publish by ffmpeg → HTTP-FLV and RTMP play decode with zero errors', { timeout: 60_000 }, async () => {
  const t = await startTestGateway(HTTP_FLV_VHOST);
  try {
    const flvPlay = decodeCheck(t.httpUrl('live/pub.flv'), 30, { timeoutMs: 40_000 });
    await sleep(300);
    const pub = publishRtmp(fixture(FIXTURE_FLV), t.rtmpUrl('live/pub'), { timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'pub')), 10_000);
    const streams = await probeStreams(t.httpUrl('live/pub.flv'), { timeoutMs: 15_000 });
    assert.equal(streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.equal(streams.find((s) => s.codec_type === 'video')?.width, 320);
    assert.equal(streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    const rtmp = await decodeCheck(t.rtmpUrl('live/pub'), 3, { timeoutMs: 20_000 });
    assert.deepEqual(rtmp.errors, []);
    assert.ok(rtmp.videoFrames >= 60, `RTMP frames ${rtmp.videoFrames}`);
    const done = await pub.exited;
    assert.equal(done.code, 0, done.stderr);
    const f = await flvPlay;
    assert.deepEqual(f.errors, []);
    assert.equal(f.code, 0);
    assert.ok(f.videoFrames >= 225, `HTTP-FLV frames ${f.videoFrames} of 250`);
  } finally {
    await t.stop();
  }
});

test('HTTP-FLV: CORS headers, 404 for unknown paths, bad names rejected', { timeout: 20_000 }, async () => {
  const t = await startTestGateway(HTTP_FLV_VHOST);
  try {
    const get = (path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> =>
      new Promise((ok, fail) => {
        const req = request({ host: '127.0.0.1', port: t.httpPort, path, method }, (res) => {
          ok({ status: res.statusCode ?? 0, headers: res.headers });
          res.destroy();
        });
        req.on('error', fail);
        req.end();
      });
    const live = await get('/live/nobody.flv', 'HEAD');
    assert.equal(live.status, 200);
    assert.equal(live.headers['content-type'], 'video/x-flv');
    assert.equal(live.headers['access-control-allow-origin'], '*');
    assert.equal((await get('/nothing/here.txt')).status, 404);
    assert.equal((await get('/live/..%2f..%2fetc%2fpasswd.flv')).status, 400);
    assert.equal((await get('/live/x.flv', 'OPTIONS')).status, 204);
  } finally {
    await t.stop();
  }
});
