/**
 * End to end: HTTP live TS / MP3 / AAC (http_remux by extension) next to HTTP-FLV, from an RTMP push of the FLV
 * fixture and from MPEG-TS over UDP (MP3 audio), checked with ffmpeg/ffprobe as a user would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, freeUdpPort, probeStreams, publishRtmp, sendTsOverUdp, waitFor } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

test('RTMP push → .ts decodes with zero errors (≥90 frames in 4 s), .aac probes as aac, .flv keeps working', { timeout: 50_000 }, async () => {
  const t = await startTestGateway(HTTP_FLV_VHOST);
  try {
    const tsPlay = decodeCheck(t.httpUrl('live/x.ts'), 4, { timeoutMs: 30_000 });
    const flvPlay = decodeCheck(t.httpUrl('live/x.flv'), 4, { timeoutMs: 30_000 });
    await sleep(300);
    const pub = publishRtmp(fixture('flv/h264-aac-320x240-10s.flv'), t.rtmpUrl('live/x'), { timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'x')), 10_000);
    const head = await fetch(t.httpUrl('live/x.ts'), { method: 'HEAD' });
    assert.equal(head.headers.get('content-type'), 'video/MP2T');
    const aac = await probeStreams(t.httpUrl('live/x.aac'), { timeoutMs: 15_000 });
    assert.deepEqual(aac.map((s) => s.codec_name), ['aac']);
    const tsStreams = await probeStreams(t.httpUrl('live/x.ts'), { timeoutMs: 15_000 });
    const v = tsStreams.find((s) => s.codec_type === 'video');
    assert.equal(v?.codec_name, 'h264');
    assert.equal(v?.width, 320);
    assert.ok(tsStreams.some((s) => s.codec_name === 'aac'));
    const [ts, flv] = await Promise.all([tsPlay, flvPlay]);
    assert.deepEqual(ts.errors, [], 'HTTP-TS decodes without errors');
    assert.equal(ts.code, 0);
    assert.ok(ts.videoFrames >= 90, `HTTP-TS video frames ${ts.videoFrames}`);
    assert.ok(ts.audioFrames > 0, 'HTTP-TS audio decoded');
    assert.deepEqual(flv.errors, [], 'HTTP-FLV decodes without errors');
    assert.ok(flv.videoFrames >= 90, `HTTP-FLV video frames ${flv.videoFrames}`);
    await pub.stop();
  } finally {
    await t.stop();
  }
});

test('MPEG-TS over UDP with MP3 audio → .mp3 probes as mp3, .ts carries h264 + mp3', { timeout: 40_000 }, async () => {
  const udp = await freeUdpPort();
  const t = await startTestGateway(
    `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:{RTMP}/live/m; listen ${udp}; idle_timeout 1; }\n` + HTTP_FLV_VHOST,
  );
  try {
    const sender = sendTsOverUdp(fixture('ts/h264-mp3-320x240-10s.ts'), udp, { loops: 0, timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'm')), 10_000);
    const head = await fetch(t.httpUrl('live/m.mp3'), { method: 'HEAD' });
    assert.equal(head.headers.get('content-type'), 'audio/mpeg');
    const mp3 = await probeStreams(t.httpUrl('live/m.mp3'), { timeoutMs: 15_000 });
    assert.deepEqual(mp3.map((s) => s.codec_name), ['mp3']);
    const ts = await decodeCheck(t.httpUrl('live/m.ts'), 2, { timeoutMs: 20_000 });
    assert.deepEqual(ts.errors, []);
    assert.ok(ts.videoFrames > 20 && ts.audioFrames > 20, `frames ${ts.videoFrames}/${ts.audioFrames}`);
    await sender.stop();
  } finally {
    await t.stop();
  }
});
