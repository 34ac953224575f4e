/**
 * End to end: `transcode { engine { } }` with the real ffmpeg, checked the way a user would with ffprobe/ffmpeg:
 * a 640x360 RTMP source → engine sd (320x180 H.264 + AAC), a copy engine, vn (audio only) and an (video only),
 * each output published back in-process and played over RTMP/HTTP-FLV with zero decode errors; outputs are not
 * transcoded again; ffmpeg SIGKILLed is restarted and its output plays again; unpublish stops every ffmpeg. Then
 * a G.711 (PCMA) camera pushed over RTSP with `vcodec copy; acodec aac;` becomes an HLS stream with AAC sound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { makeStreamKey, type StreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, freeTcpPort, probeStreams, processAlive, run, startProcess, waitFor, type ProbeStream } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway, type TestGateway } from './harness.ts';

const FFMPEG_QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
const key = (stream: string): StreamKey => makeStreamKey('__defaultVhost__', 'live', stream);
const OUT = 'rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]';

function codecs(streams: readonly ProbeStream[]): string[] {
  return streams.map((s) => `${s.codec_type}:${s.codec_name}${s.width !== undefined ? `:${s.width}x${s.height}` : ''}`).sort();
}

/** `ffmpeg -v error -i URL -t SECONDS -f null -`: what it prints is every decode error. */
async function decodeErrors(url: string, seconds: number): Promise<string> {
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', url, '-t', String(seconds), '-f', 'null', '-'], { timeoutMs: seconds * 1000 + 20_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stderr;
}

function pidOf(t: TestGateway, engine: string): number | undefined {
  return t.gw.transcode.engines(key('src')).find((e) => e.stats().engine === engine)?.stats().ffmpeg.process.pid;
}

test('640x360 → sd 320x180, copy, vn, an, push to another server: every output plays clean; not transcoded again; SIGKILL → restart; unpublish stops ffmpeg', { timeout: 75_000 }, async () => {
  const other = await startTestGateway('');
  const t = await startTestGateway(HTTP_FLV_VHOST.replace(/ }\n$/, ` transcode { enabled on; ffmpeg ffmpeg;
    engine sd { enabled on; vcodec libx264; vbitrate 300; vfps 25; vwidth 320; vheight 180; vprofile main; vpreset ultrafast; vthreads 1;
      vparams { g 25; bf 0; } acodec aac; abitrate 64; asample_rate 44100; achannels 2; output ${OUT}; }
    engine copy { enabled on; vcodec copy; acodec copy; output ${OUT}; }
    engine vn { enabled on; vcodec vn; acodec aac; abitrate 48; output ${OUT}; }
    engine an { enabled on; vcodec copy; acodec an; output ${OUT}; }
    engine push { enabled on; vcodec copy; acodec copy; output rtmp://127.0.0.1:${other.rtmpPort}/live/[stream]_pushed; } } }\n`));
  const source = startProcess('ffmpeg', [
    ...FFMPEG_QUIET, '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=44100',
    '-t', '45', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-bf', '0', '-threads', '1', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', t.rtmpUrl('live/src'),
  ], { timeoutMs: 60_000 });
  try {
    const startedAt = Date.now();
    await waitFor(() => ['sd', 'copy', 'vn', 'an'].every((e) => t.gw.hub.isPublishing(key(`src_${e}`))), 20_000, 100);
    const firstOutputMs = Date.now() - startedAt;
    await waitFor(() => other.gw.hub.isPublishing(key('src_pushed')), 10_000, 100);
    const [sd, copy, vn, an, sdErrors, sdFlv, copyPlay, pushed] = await Promise.all([
      probeStreams(t.rtmpUrl('live/src_sd')),
      probeStreams(t.rtmpUrl('live/src_copy')),
      probeStreams(t.rtmpUrl('live/src_vn')),
      probeStreams(t.rtmpUrl('live/src_an')),
      decodeErrors(t.rtmpUrl('live/src_sd'), 4),
      decodeCheck(t.httpUrl('live/src_sd.flv'), 4),
      decodeCheck(t.rtmpUrl('live/src_copy'), 3),
      decodeCheck(other.rtmpUrl('live/src_pushed'), 3),
    ]);
    assert.deepEqual(codecs(sd), ['audio:aac', 'video:h264:320x180']);
    assert.deepEqual(codecs(copy), ['audio:aac', 'video:h264:640x360']);
    assert.deepEqual(codecs(vn), ['audio:aac'], 'vn: audio only');
    assert.deepEqual(codecs(an), ['video:h264:640x360'], 'an: video only');
    assert.equal(sdErrors, '', 'ffmpeg -v error prints nothing for the 320x180 rendition');
    assert.deepEqual(sdFlv.errors, []);
    assert.ok(sdFlv.videoFrames >= 4 * 25 * 0.9 && sdFlv.audioFrames > 0, `sd frames ${sdFlv.videoFrames}/${sdFlv.audioFrames}`);
    assert.deepEqual(copyPlay.errors, []);
    assert.ok(copyPlay.videoFrames >= 3 * 25 * 0.9, `copy frames ${copyPlay.videoFrames}`);
    // A foreign output (another server's port) is pushed to by ffmpeg itself over RTMP.
    assert.deepEqual(pushed.errors, []);
    assert.ok(pushed.videoFrames >= 3 * 25 * 0.9 && pushed.audioFrames > 0, `pushed frames ${pushed.videoFrames}/${pushed.audioFrames}`);
    assert.equal(t.gw.hub.isPublishing(key('src_pushed')), false, 'not published on this gateway');

    // The outputs are streams of their own, not transcoded again by the block that made them.
    for (const e of ['sd', 'copy', 'vn', 'an']) assert.deepEqual(t.gw.transcode.engines(key(`src_${e}`)), [], e);
    assert.equal(t.gw.hub.isPublishing(key('src_sd_sd')), false);
    const stats = t.gw.transcode.stats()['__defaultVhost__/live/src'] ?? [];
    assert.deepEqual(stats.map((s) => [s.engine, s.local, s.ffmpeg.mode, s.ffmpeg.decodeErrors]), [
      ['sd', true, 'ffmpeg-pipe', 0], ['copy', true, 'ffmpeg-pipe', 0], ['vn', true, 'ffmpeg-pipe', 0], ['an', true, 'ffmpeg-pipe', 0],
      ['push', false, 'ffmpeg-push', 0],
    ]);
    const sdStats = stats[0];
    assert.ok(sdStats !== undefined && (sdStats.ffmpeg.process.progress.frame ?? 0) > 0, 'ffmpeg progress parsed');

    // SIGKILL the sd ffmpeg: the supervisor restarts it (backoff 1 s) and the rendition plays again.
    const pid = pidOf(t, 'sd') as number;
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    const sdEngine = () => t.gw.transcode.engines(key('src')).find((e) => e.stats().engine === 'sd');
    await waitFor(() => sdEngine()?.stats().ffmpeg.process.restarts === 1 && sdEngine()?.stats().ffmpeg.publishing === true, 15_000, 100);
    const backMs = Date.now() - killedAt;
    assert.deepEqual(sdEngine()?.stats().ffmpeg.process.lastExit, { code: null, signal: 'SIGKILL' });
    assert.notEqual(pidOf(t, 'sd'), pid);
    const again = await decodeCheck(t.httpUrl('live/src_sd.flv'), 3);
    assert.deepEqual(again.errors, []);
    assert.ok(again.videoFrames >= 3 * 25 * 0.9, `frames after the restart ${again.videoFrames}`);
    const after = await probeStreams(t.rtmpUrl('live/src_sd'));
    assert.deepEqual(codecs(after), ['audio:aac', 'video:h264:320x180']);

    // Unpublish: every engine ends, its ffmpeg is gone, its output unpublished.
    const pids = t.gw.transcode.engines(key('src')).map((e) => e.stats().ffmpeg.process.pid as number);
    assert.equal(pids.length, 5);
    await source.stop();
    await waitFor(() => t.gw.transcode.engines(key('src')).length === 0 && pids.every((p) => !processAlive(p)), 10_000, 100);
    await waitFor(() => ['sd', 'copy', 'vn', 'an'].every((e) => !t.gw.hub.isPublishing(key(`src_${e}`))), 10_000, 100);
    await waitFor(() => !other.gw.hub.isPublishing(key('src_pushed')), 10_000, 100);
    console.log(`# transcode: first output published ${firstOutputMs} ms after the source started; sd back ${backMs} ms after SIGKILL`);
  } finally {
    await source.stop();
    await t.stop();
    await other.stop();
  }
});

test('G.711 camera (H.264 + PCMA over RTSP) with vcodec copy; acodec aac; → HLS of the output decodes with AAC sound', { timeout: 60_000 }, async () => {
  const hlsDir = mkdtempSync(join(tmpdir(), 'castgate-transcode-hls-'));
  const rtspPort = await freeTcpPort();
  const base = 40000 + 2 * Math.floor(Math.random() * 10000);
  const t = await startTestGateway(
    `stream_caster { enabled on; caster rtsp; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${rtspPort}; rtp_port_min ${base}; rtp_port_max ${base + 200}; }\n`
      + `vhost __defaultVhost__ { hls { enabled on; hls_fragment 1; hls_window 20; hls_path ${hlsDir}; } `
      + 'transcode live { enabled on; engine aac { enabled on; vcodec copy; acodec aac; abitrate 64; asample_rate 44100; '
      + `output rtmp://127.0.0.1/[app]/[stream]_[engine]; } } }\n`,
  );
  const camera = startProcess('ffmpeg', [
    ...FFMPEG_QUIET, '-re', '-stream_loop', '2', '-i', fixture('flv/h264-aac-320x240-10s.flv'),
    '-c:v', 'copy', '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1', '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${rtspPort}/live/cam`,
  ], { timeoutMs: 50_000 });
  try {
    const url = t.httpUrl('live/cam_aac.m3u8');
    await waitFor(async () => {
      const res = await fetch(url);
      if (res.status !== 200) return false;
      const p = HLS.parse(await res.text());
      return p instanceof HLS.types.MediaPlaylist && p.segments.length >= 4;
    }, 30_000, 250);
    const source = await probeStreams(t.rtmpUrl('live/cam'));
    assert.deepEqual(codecs(source), ['audio:pcm_alaw', 'video:h264:320x240'], 'the camera itself sends G.711 A-law');
    const streams = await probeStreams(url);
    assert.deepEqual(codecs(streams), ['audio:aac', 'video:h264:320x240']);
    const play = await decodeCheck(url, 3, { timeoutMs: 25_000 });
    assert.deepEqual(play.errors, [], 'the output HLS decodes with zero errors');
    assert.ok(play.audioFrames > 0, `AAC frames decoded: ${play.audioFrames}`);
    assert.ok(play.videoFrames >= 3 * 25 * 0.9, `video frames ${play.videoFrames}`);
  } finally {
    await camera.stop();
    await t.stop();
    rmSync(hlsDir, { recursive: true, force: true });
  }
});
