/**
 * End to end: HLS from a UDP MPEG-TS push (1 s GOP fixture, looped) and from an RTMP push, played by ffmpeg from
 * the gateway's HTTP server, the playlist checked with hls-parser (RFC 8216 rules), window expiry with
 * hls_cleanup, hls_dispose after the publisher leaves, and path traversal against the HLS route; audio-only and
 * video-only streams (ffmpeg lavfi sources) cut and played the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, freeUdpPort, probeStreams, publishRtmp, sendTsOverUdp, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { startTestGateway } from './harness.ts';

function hlsVhost(dir: string): string {
  return `vhost __defaultVhost__ { hls { enabled on; hls_fragment 2; hls_window 10; hls_dispose 1; hls_path ${dir}; `
    + 'hls_m3u8_file [app]/[stream].m3u8; hls_ts_file [app]/[stream]-[seq].ts; } '
    + 'http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n';
}

/** GET with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(port: number, path: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

async function playlist(url: string): Promise<HLS.types.MediaPlaylist | undefined> {
  const res = await fetch(url);
  if (res.status !== 200) return undefined;
  const p = HLS.parse(await res.text());
  return p instanceof HLS.types.MediaPlaylist ? p : undefined;
}

/** RFC 8216 4.3.3.1 and 6.2.1: TARGETDURATION ≥ every EXTINF rounded; media sequence numbers contiguous. */
function assertValid(p: HLS.types.MediaPlaylist): void {
  assert.ok(p.segments.length > 0, 'segments listed');
  for (const s of p.segments) assert.ok(Math.round(s.duration) <= p.targetDuration, `EXTINF ${s.duration} > TARGETDURATION ${p.targetDuration}`);
  const base = p.mediaSequenceBase ?? 0;
  p.segments.forEach((s, i) => assert.equal(s.mediaSequenceNumber, base + i, 'contiguous sequence numbers'));
}

test('UDP TS push (1 s GOP) → HLS: ffmpeg plays the m3u8, playlist valid, 2 s segments, window cleanup, dispose, no traversal', { timeout: 55_000 }, async () => {
  const hlsDir = mkdtempSync(join(tmpdir(), 'castgate-hls-'));
  const udp = await freeUdpPort();
  const t = await startTestGateway(
    `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:{RTMP}/live/x; listen ${udp}; idle_timeout 1; }\n` + hlsVhost(hlsDir),
  );
  const sender = sendTsOverUdp(fixture('ts/h264-aac-320x240-25fps-10s.ts'), udp, { loops: 1, timeoutMs: 40_000 });
  try {
    const url = t.httpUrl('live/x.m3u8');
    await waitFor(async () => (await playlist(url)) !== undefined, 10_000, 200);
    const head = await fetch(url);
    assert.equal(head.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(head.headers.get('cache-control'), 'no-cache');
    const first = HLS.parse(await head.text()) as HLS.types.MediaPlaylist;
    const seg = await fetch(new URL(first.segments[0]?.uri ?? '', url));
    assert.equal(seg.status, 200);
    assert.equal(seg.headers.get('content-type'), 'video/mp2t');

    const play = await decodeCheck(url, 4, { timeoutMs: 25_000 });
    assert.deepEqual(play.errors, [], 'HLS decodes without errors');
    assert.equal(play.code, 0);
    assert.ok(play.videoFrames >= 90, `video frames ${play.videoFrames}`);
    assert.ok(play.audioFrames > 0, 'audio decoded');

    // window: 10 s of 2 s segments; older ones leave the playlist and the disk (hls_cleanup on)
    let expired: HLS.types.MediaPlaylist | undefined;
    await waitFor(async () => {
      expired = await playlist(url);
      return expired !== undefined && (expired.mediaSequenceBase ?? 0) >= 2;
    }, 20_000, 250);
    assert.ok(expired !== undefined);
    assertValid(expired);
    const inner = expired.segments.slice(1, -1);
    assert.ok(inner.length >= 3, `segments ${expired.segments.length}`);
    for (const s of inner) assert.ok(Math.abs(s.duration - 2) <= 0.5, `segment duration ${s.duration} s (hls_fragment 2)`);
    assert.ok(expired.targetDuration >= 2, 'TARGETDURATION ≥ hls_fragment × hls_td_ratio');
    assert.equal(existsSync(join(hlsDir, 'live', 'x-0.ts')), false, 'expired segment deleted');
    const onDisk = readdirSync(join(hlsDir, 'live')).filter((f) => f.endsWith('.ts'));
    assert.ok(onDisk.length <= expired.segments.length + 1, `segments on disk ${onDisk.join(',')}`);
    for (const s of expired.segments) assert.ok(existsSync(join(hlsDir, 'live', s.uri)), `${s.uri} on disk`);

    // path traversal against the HLS route
    for (const p of ['/live/../../../../etc/passwd.m3u8', '/live/..%2f..%2f..%2fetc%2fpasswd.m3u8', '/%2e%2e/%2e%2e/x.ts', '/live/x.m3u8%00.ts']) {
      const status = await rawGet(t.httpPort, p);
      assert.ok(status === 404 || status === 400, `${p} → ${status}`);
    }

    // publisher leaves → caster idle_timeout 1 s → unpublish → hls_dispose 1 s → every file removed
    await sender.stop();
    await waitFor(() => !t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'x')), 10_000);
    await waitFor(() => !existsSync(join(hlsDir, 'live', 'x.m3u8')) && !existsSync(join(hlsDir, 'live')), 8_000, 100);
  } finally {
    await sender.stop();
    await t.stop();
    rmSync(hlsDir, { recursive: true, force: true });
  }
});

test('RTMP push → HLS: ffmpeg plays the m3u8 with zero errors; the playlist validates', { timeout: 40_000 }, async () => {
  const hlsDir = mkdtempSync(join(tmpdir(), 'castgate-hls-'));
  const t = await startTestGateway(hlsVhost(hlsDir));
  const pub = publishRtmp(fixture('flv/h264-aac-320x240-10s.flv'), t.rtmpUrl('live/r'), { timeoutMs: 30_000 });
  try {
    const url = t.httpUrl('live/r.m3u8');
    await waitFor(async () => (await playlist(url)) !== undefined, 10_000, 200);
    const play = await decodeCheck(url, 4, { timeoutMs: 25_000 });
    assert.deepEqual(play.errors, [], 'HLS decodes without errors');
    assert.equal(play.code, 0);
    assert.ok(play.videoFrames >= 90, `video frames ${play.videoFrames}`);
    assert.ok(play.audioFrames > 0, 'audio decoded');
    const p = await playlist(url);
    assert.ok(p !== undefined);
    assertValid(p);
    // a .ts that is no HLS file still reaches the live mount
    const live = await fetch(t.httpUrl('live/r.ts'), { method: 'HEAD' });
    assert.equal(live.status, 200);
    await pub.stop();
  } finally {
    await pub.stop();
    await t.stop();
    rmSync(hlsDir, { recursive: true, force: true });
  }
});

/** `ffmpeg -re` of a lavfi source for `seconds`, pushed as RTMP: audio only (sine → AAC) or video only (testsrc2 → H.264, 1 s GOP). */
function publishLavfi(url: string, only: 'audio' | 'video', seconds: number): Running {
  const input = only === 'audio'
    ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`, '-c:a', 'aac', '-b:a', '64k']
    : ['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25'];
  return startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', ...input, '-f', 'flv', url], { timeoutMs: seconds * 1000 + 15_000 });
}

test('audio-only and video-only RTMP pushes → HLS: playlists validate, audio cut at hls_fragment × hls_aof_ratio, video at keyframes, ffmpeg decodes with zero errors', { timeout: 40_000 }, async () => {
  const hlsDir = mkdtempSync(join(tmpdir(), 'castgate-hls-'));
  // hls_fragment 1 s, hls_aof_ratio 2.1 (the default): audio-only segments of 2.1 s; video (1 s GOP) cut at each keyframe.
  const t = await startTestGateway(
    `vhost __defaultVhost__ { hls { enabled on; hls_fragment 1; hls_aof_ratio 2.1; hls_window 30; hls_dispose 1; hls_path ${hlsDir}; `
    + 'hls_m3u8_file [app]/[stream].m3u8; hls_ts_file [app]/[stream]-[seq].ts; } }\n',
  );
  const pubs = [publishLavfi(t.rtmpUrl('live/aonly'), 'audio', 14), publishLavfi(t.rtmpUrl('live/vonly'), 'video', 14)];
  try {
    const audioUrl = t.httpUrl('live/aonly.m3u8');
    const videoUrl = t.httpUrl('live/vonly.m3u8');
    const enough = async (url: string, n: number): Promise<HLS.types.MediaPlaylist | undefined> => {
      const p = await playlist(url);
      return p !== undefined && p.segments.length >= n ? p : undefined;
    };
    const lists = await Promise.all([waitFor(() => enough(audioUrl, 3), 15_000, 200), waitFor(() => enough(videoUrl, 4), 15_000, 200)]);
    const [audioList, videoList] = lists as [HLS.types.MediaPlaylist, HLS.types.MediaPlaylist]; // waitFor returns truthy values only
    assertValid(audioList);
    assertValid(videoList);
    for (const s of audioList.segments) assert.ok(Math.abs(s.duration - 2.1) <= 0.5, `audio-only segment ${s.duration} s (hls_fragment 1 × hls_aof_ratio 2.1)`);
    for (const s of videoList.segments) assert.ok(Math.abs(s.duration - 1) <= 0.5, `video-only segment ${s.duration} s (hls_fragment 1, 1 s GOP)`);
    assert.ok(audioList.targetDuration >= 3, `TARGETDURATION ${audioList.targetDuration} ≥ ceil(2.1)`);

    const [audioProbe, videoProbe] = await Promise.all([
      probeStreams(new URL(audioList.segments[0]?.uri ?? '', audioUrl).href),
      probeStreams(new URL(videoList.segments[0]?.uri ?? '', videoUrl).href),
    ]);
    assert.deepEqual(audioProbe.map((s) => s.codec_name), ['aac'], 'audio-only segment: one AAC stream');
    assert.deepEqual(videoProbe.map((s) => s.codec_name), ['h264'], 'video-only segment: one H.264 stream');

    const [audioPlay, videoPlay] = await Promise.all([decodeCheck(audioUrl, 4, { timeoutMs: 20_000 }), decodeCheck(videoUrl, 3, { timeoutMs: 20_000 })]);
    assert.deepEqual(audioPlay.errors, [], 'audio-only HLS decodes without errors');
    assert.equal(audioPlay.code, 0);
    assert.equal(audioPlay.videoFrames, 0);
    assert.ok(audioPlay.audioFrames >= 150, `audio frames ${audioPlay.audioFrames} (4 s ≈ 172)`);
    assert.deepEqual(videoPlay.errors, [], 'video-only HLS decodes without errors');
    assert.equal(videoPlay.code, 0);
    assert.equal(videoPlay.audioFrames, 0);
    assert.ok(videoPlay.videoFrames >= 70, `video frames ${videoPlay.videoFrames} (3 s = 75)`);
  } finally {
    await Promise.all(pubs.map((p) => p.stop()));
    await t.stop();
    rmSync(hlsDir, { recursive: true, force: true });
  }
});
