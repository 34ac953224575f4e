/**
 * End to end: HTTP live TS / MP3 / AAC (http_remux by extension) next to HTTP-FLV, from an RTMP push of the FLV
 * fixture and from MPEG-TS over UDP (MP3 audio), checked with ffmpeg/ffprobe as a user would; and the audio fast
 * cache (http_remux fast_cache) of .aac/.mp3 players.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, freeUdpPort, probeStreams, publishRtmp, run, sendTsOverUdp, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

test('RTMP push → .ts decodes with zero errors (≥90 frames in 4 s, and for a late joiner), .aac probes as aac, .flv keeps working', { timeout: 50_000 }, async () => {
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
    // a player that joins later shares the stream's one TS serialization (from the GOP's keyframe, PAT/PMT first)
    const lateTs = await decodeCheck(t.httpUrl('live/x.ts'), 2, { timeoutMs: 20_000 });
    assert.deepEqual(lateTs.errors, [], 'a late HTTP-TS player decodes without errors');
    assert.ok(lateTs.videoFrames >= 40, `late HTTP-TS video frames ${lateTs.videoFrames}`);
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

/** `ffmpeg -re` of a 440 Hz sine, 44.1 kHz mono, 64 kbit/s AAC or MP3, pushed as RTMP for `seconds`. */
function publishSine(url: string, codec: 'aac' | 'mp3', seconds: number): Running {
  return startProcess('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:a', codec === 'aac' ? 'aac' : 'libmp3lame', '-b:a', '64k', '-f', 'flv', url,
  ], { timeoutMs: seconds * 1000 + 15_000 });
}

/** Seconds of audio in the ADTS frames of a live .aac received during the first `windowMs` after the headers. */
function adtsSecondsIn(url: string, windowMs: number): Promise<number> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    const req = request(url, (res) => {
      res.on('data', (d: Buffer) => chunks.push(d));
      setTimeout(() => {
        req.destroy();
        const body = Buffer.concat(chunks);
        let frames = 0;
        let rate = 44_100;
        for (let o = 0; o + 7 <= body.length;) {
          if (body[o] !== 0xff || (body[o + 1] & 0xf0) !== 0xf0) return fail(new Error(`no ADTS syncword at ${o}`));
          rate = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000][(body[o + 2] >> 2) & 0x0f] ?? rate;
          const len = ((body[o + 3] & 0x03) << 11) | (body[o + 4] << 3) | (body[o + 5] >> 5); // aac_frame_length
          if (o + len > body.length) break; // the last frame is partial
          frames++;
          o += len;
        }
        ok((frames * 1024) / rate); // 1024 samples per AAC LC frame
      }, windowMs);
    });
    req.on('error', fail);
    req.end();
  });
}

/** `ffmpeg -v error -i URL -t SECONDS -f null -`: its wall time and error lines. */
async function timedDecode(url: string, seconds: number): Promise<{ wallMs: number; errors: string[]; code: number | null }> {
  const t0 = Date.now();
  const r = await run('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-i', url, '-t', String(seconds), '-f', 'null', '-'], { timeoutMs: 15_000 });
  return { wallMs: Date.now() - t0, errors: r.stderr.split('\n').filter((l) => l.trim().length > 0), code: r.code };
}

test('http_remux fast_cache 5: a .aac/.mp3 player joining 4 s in gets ≈4 s of audio at once; fast_cache 0 does not', { timeout: 30_000 }, async () => {
  const vhost = (fastCache: number): string =>
    `vhost __defaultVhost__ { http_remux { enabled on; fast_cache ${fastCache}; mount [vhost]/[app]/[stream].flv; } }\n`;
  const [fast, slow] = await Promise.all([startTestGateway(vhost(5)), startTestGateway(vhost(0))]);
  const pubs = [
    publishSine(fast.rtmpUrl('live/a'), 'aac', 12),
    publishSine(fast.rtmpUrl('live/m'), 'mp3', 12),
    publishSine(slow.rtmpUrl('live/a'), 'aac', 12),
  ];
  try {
    const key = (s: string): ReturnType<typeof makeStreamKey> => makeStreamKey('__defaultVhost__', 'live', s);
    await waitFor(() => fast.gw.hub.isPublishing(key('a')) && fast.gw.hub.isPublishing(key('m')) && slow.gw.hub.isPublishing(key('a')), 10_000);
    await sleep(4000);
    const [fastAac, slowAac, fastMp3, fastAacDecode, slowAacDecode] = await Promise.all([
      adtsSecondsIn(fast.httpUrl('live/a.aac'), 300),
      adtsSecondsIn(slow.httpUrl('live/a.aac'), 300),
      timedDecode(fast.httpUrl('live/m.mp3'), 3),
      timedDecode(fast.httpUrl('live/a.aac'), 3),
      timedDecode(slow.httpUrl('live/a.aac'), 3),
    ]);
    assert.ok(fastAac >= 3.3 && fastAac <= 5.5, `fast_cache 5: ${fastAac.toFixed(2)} s of AAC in the first 300 ms`);
    assert.ok(slowAac < 1, `fast_cache 0: ${slowAac.toFixed(2)} s of AAC in the first 300 ms`);
    for (const [name, d] of [['mp3', fastMp3], ['aac', fastAacDecode]] as const) {
      assert.deepEqual(d.errors, [], `.${name} decodes without errors`);
      assert.equal(d.code, 0);
      assert.ok(d.wallMs < 2000, `fast_cache 5: 3 s of .${name} decoded in ${d.wallMs} ms`);
    }
    assert.deepEqual(slowAacDecode.errors, []);
    assert.ok(slowAacDecode.wallMs >= 2500, `fast_cache 0: 3 s of .aac took ${slowAacDecode.wallMs} ms (live pace)`);
  } finally {
    await Promise.all(pubs.map((p) => p.stop()));
    await Promise.all([fast.stop(), slow.stop()]);
  }
});
