/**
 * End to end: MPEG-TS over UDP (ffmpeg, GStreamer) → mpegts_over_udp caster → hub → RTMP play and HTTP-FLV,
 * checked the way a user would: ffmpeg decodes with zero errors, frame counts, ffprobe codec parameters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { assertStreams, decodeCheck, fixture, freeUdpPort, probePackets, probeStreams, sendTsOverUdp, sendTsWithGstreamer, startProcess, waitFor } from '../helpers/peers.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

const FIXTURE_AAC = 'ts/h264-aac-320x240-25fps-10s.ts';
const FIXTURE_BFRAMES = 'ts/h264-bframes-aac-320x240-10s.ts';
const FIXTURE_MP3 = 'ts/h264-mp3-320x240-10s.ts';
/** 10 s at 25 fps. */
const SOURCE_VIDEO_FRAMES = 250;

function caster(port: number, output: string, idleSeconds = 1): string {
  return `stream_caster { enabled on; caster mpegts_over_udp; output ${output}; listen ${port}; idle_timeout ${idleSeconds}; }\n`;
}

test('ffmpeg TS over UDP plays as RTMP and HTTP-FLV with zero decode errors and ≥90% of the frames', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const t = await startTestGateway(caster(udp, 'rtmp://127.0.0.1:{RTMP}/live/livestream') + HTTP_FLV_VHOST);
  try {
    // Players first: they wait for the publisher, so they see the whole stream from its first keyframe.
    const rtmpPlay = decodeCheck(t.rtmpUrl('live/livestream'), 30, { timeoutMs: 40_000 });
    const flvPlay = decodeCheck(t.httpUrl('live/livestream.flv'), 30, { timeoutMs: 40_000 });
    await sleep(500);
    const sender = sendTsOverUdp(fixture(FIXTURE_AAC), udp, { loops: 0, timeoutMs: 30_000 });
    const key = makeStreamKey('__defaultVhost__', 'live', 'livestream');
    await waitFor(() => t.gw.hub.isPublishing(key), 10_000);
    const streams = await probeStreams(t.rtmpUrl('live/livestream'), { timeoutMs: 15_000 });
    assertStreams(streams, { video: 'h264', width: 320, height: 240, audio: 'aac' });
    assert.equal(Number(streams.find((s) => s.codec_type === 'audio')?.sample_rate), 44100);
    await sender.exited;
    const [r, f] = await Promise.all([rtmpPlay, flvPlay]);
    assert.deepEqual(r.errors, [], 'RTMP play decodes without errors');
    assert.deepEqual(f.errors, [], 'HTTP-FLV play decodes without errors');
    assert.equal(r.code, 0);
    assert.equal(f.code, 0);
    assert.ok(r.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `RTMP frames ${r.videoFrames}`);
    assert.ok(f.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `HTTP-FLV frames ${f.videoFrames}`);
    assert.ok(r.audioFrames > 0 && f.audioFrames > 0, 'audio decoded');
    // After idle_timeout the stream is unpublished.
    await waitFor(() => !t.gw.hub.isPublishing(key), 5_000);
  } finally {
    await t.stop();
  }
});

test('B-frames keep PTS ≠ DTS on RTMP and HTTP-FLV output, timestamps rise', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const t = await startTestGateway(caster(udp, 'rtmp://127.0.0.1:{RTMP}/live/bframes') + HTTP_FLV_VHOST);
  try {
    const sender = sendTsOverUdp(fixture(FIXTURE_BFRAMES), udp, { loops: 0, timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'bframes')), 10_000);
    for (const url of [t.rtmpUrl('live/bframes'), t.httpUrl('live/bframes.flv')]) {
      const packets = await probePackets(url, 3, { timeoutMs: 20_000 });
      const video = packets.filter((p) => p.codec_type === 'video');
      assert.ok(video.length >= 40, `${url}: ${video.length} video packets`);
      const reordered = video.filter((p) => p.pts !== p.dts);
      assert.ok(reordered.length > video.length / 4, `${url}: only ${reordered.length}/${video.length} packets have PTS≠DTS`);
      for (let i = 1; i < video.length; i++) {
        assert.ok(Number(video[i].dts) > Number(video[i - 1].dts), `${url}: DTS rises at packet ${i}`);
      }
      const streams = await probeStreams(url, { timeoutMs: 15_000 });
      assert.ok(streams.some((s) => s.codec_type === 'video' && Number(s.has_b_frames) > 0), `${url}: has_b_frames`);
    }
    await sender.stop();
  } finally {
    await t.stop();
  }
});

test('GStreamer mpegtsmux ! udpsink is received and decodes', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const t = await startTestGateway(caster(udp, 'rtmp://127.0.0.1:{RTMP}/live/gst') + HTTP_FLV_VHOST);
  try {
    const sender = sendTsWithGstreamer(udp, { seconds: 12 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'gst')), 15_000);
    const r = await decodeCheck(t.rtmpUrl('live/gst'), 4, { timeoutMs: 20_000 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.code, 0);
    assert.ok(r.videoFrames >= 90, `frames ${r.videoFrames}`);
    const streams = await probeStreams(t.httpUrl('live/gst.flv'), { timeoutMs: 15_000 });
    assert.equal(streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.equal(streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    await sender.stop();
  } finally {
    await t.stop();
  }
});

test('garbage datagrams between valid ones (same sender) and from a stranger: the stream still decodes', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const relayPort = await freeUdpPort();
  const t = await startTestGateway(caster(udp, 'rtmp://127.0.0.1:{RTMP}/live/garbage') + HTTP_FLV_VHOST);
  // A relay forwards ffmpeg's datagrams to the caster from ONE socket and slips garbage in between.
  const relay = createSocket('udp4');
  const stranger = createSocket('udp4');
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  let garbageSent = 0;
  relay.on('message', (msg) => {
    relay.send(msg, udp, '127.0.0.1');
    if (rand() < 0.05) {
      const junk = Buffer.alloc(1 + Math.floor(rand() * 1400));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
      if (rand() < 0.3) junk[0] = 0x47; // looks like a TS packet start
      relay.send(junk, udp, '127.0.0.1');
      garbageSent++;
    }
  });
  await new Promise<void>((ok) => relay.bind(relayPort, '127.0.0.1', ok));
  const strangerTimer = setInterval(() => stranger.send(Buffer.from('not a transport stream'), udp, '127.0.0.1'), 50);
  try {
    const play = decodeCheck(t.rtmpUrl('live/garbage'), 30, { timeoutMs: 40_000 });
    await sleep(300);
    const sender = sendTsOverUdp(fixture(FIXTURE_AAC), relayPort, { loops: 0, timeoutMs: 30_000 });
    await sender.exited;
    const r = await play;
    assert.ok(garbageSent > 5, `garbage datagrams sent: ${garbageSent}`);
    assert.equal(r.code, 0);
    // Garbage lands between datagrams; a junk packet on a live PID costs at most the PES it breaks.
    assert.ok(r.videoFrames >= SOURCE_VIDEO_FRAMES * 0.8, `frames ${r.videoFrames}`);
    const stats = t.gw.casters[0].stats();
    assert.ok(Number(stats.datagrams) > 100);
    assert.ok(Number(stats.decodeErrors) > 0, 'the garbage was seen and reported');
    assert.equal(Number(stats.publishes), 1, 'the stranger never took the stream');
  } finally {
    clearInterval(strangerTimer);
    relay.close();
    stranger.close();
    await t.stop();
  }
});

test('two UDP casters at once publish two independent streams', { timeout: 60_000 }, async () => {
  const udpA = await freeUdpPort();
  const udpB = await freeUdpPort();
  const t = await startTestGateway(caster(udpA, 'rtmp://127.0.0.1:{RTMP}/live/a') + caster(udpB, 'rtmp://127.0.0.1:{RTMP}/live/b') + HTTP_FLV_VHOST);
  try {
    const a = sendTsOverUdp(fixture(FIXTURE_AAC), udpA, { loops: 1, timeoutMs: 40_000 });
    const b = sendTsOverUdp(fixture(FIXTURE_MP3), udpB, { loops: 1, timeoutMs: 40_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'a')) && t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'b')), 10_000);
    const [sa, sb] = await Promise.all([probeStreams(t.rtmpUrl('live/a'), { timeoutMs: 15_000 }), probeStreams(t.httpUrl('live/b.flv'), { timeoutMs: 15_000 })]);
    assert.equal(sa.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    assert.equal(sb.find((s) => s.codec_type === 'audio')?.codec_name, 'mp3');
    const [ra, rb] = await Promise.all([decodeCheck(t.rtmpUrl('live/a'), 3, { timeoutMs: 20_000 }), decodeCheck(t.rtmpUrl('live/b'), 3, { timeoutMs: 20_000 })]);
    assert.deepEqual(ra.errors, []);
    assert.deepEqual(rb.errors, []);
    assert.ok(ra.videoFrames >= 60 && rb.videoFrames >= 60, `frames ${ra.videoFrames} ${rb.videoFrames}`);
    // Stopping one sender unpublishes only its stream.
    await a.stop();
    await waitFor(() => !t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'a')), 5_000);
    assert.ok(t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'b')));
    await b.stop();
  } finally {
    await t.stop();
  }
});

test('idle timeout unpublishes; packets returning republish and play again', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const t = await startTestGateway(caster(udp, 'rtmp://127.0.0.1:{RTMP}/live/idle') + HTTP_FLV_VHOST);
  const key = makeStreamKey('__defaultVhost__', 'live', 'idle');
  try {
    const first = sendTsOverUdp(fixture(FIXTURE_AAC), udp, { loops: 0, timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(key), 10_000);
    await sleep(2000);
    await first.stop();
    await waitFor(() => !t.gw.hub.isPublishing(key), 5_000);
    const second = sendTsOverUdp(fixture(FIXTURE_AAC), udp, { loops: 0, timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(key), 10_000);
    const r = await decodeCheck(t.httpUrl('live/idle.flv'), 3, { timeoutMs: 20_000 });
    assert.deepEqual(r.errors, []);
    assert.ok(r.videoFrames >= 60, `frames ${r.videoFrames}`);
    assert.equal(Number(t.gw.casters[0].stats().publishes), 2);
    await second.stop();
  } finally {
    await t.stop();
  }
});

test('multicast: the caster joins the group on the configured interface; ffmpeg multicast sender plays', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const group = `239.255.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const t = await startTestGateway(
    `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/mc; listen ${group}:${udp}; multicast_interface 127.0.0.1; idle_timeout 1; }\n` + HTTP_FLV_VHOST,
  );
  try {
    const play = decodeCheck(t.httpUrl('live/mc.flv'), 30, { timeoutMs: 40_000 });
    await sleep(300);
    // ttl=0 keeps the datagrams on this host; localaddr picks the loopback interface for sending.
    const sender = startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-i', fixture(FIXTURE_AAC), '-c', 'copy',
      '-f', 'mpegts', `udp://${group}:${udp}?pkt_size=1316&localaddr=127.0.0.1&ttl=0`], { timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'mc')), 10_000);
    await sender.exited;
    const r = await play;
    assert.deepEqual(r.errors, []);
    assert.equal(r.code, 0);
    assert.ok(r.videoFrames >= SOURCE_VIDEO_FRAMES * 0.9, `frames ${r.videoFrames}`);
    assert.equal(t.gw.casters[0].stats().listen, udp);
  } finally {
    await t.stop();
  }
});

test('H.265 TS over UDP (B-frames) is published (Enhanced RTMP hvc1) and plays back as HTTP-TS hevc with zero errors', { timeout: 60_000 }, async () => {
  const udp = await freeUdpPort();
  const t = await startTestGateway(caster(udp, 'rtmp://127.0.0.1:{RTMP}/live/hevc') + HTTP_FLV_VHOST);
  try {
    const play = decodeCheck(t.httpUrl('live/hevc.ts'), 20, { timeoutMs: 40_000 });
    await sleep(500);
    // Not looped: the fixture ends inside an open GOP, so a looped copy does not decode cleanly even without us.
    const sender = sendTsOverUdp(fixture('h265/testsrc2-320x240-bf3-2s.ts'), udp, { loops: 0, timeoutMs: 30_000 });
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'hevc')), 10_000);
    const streams = await probeStreams(t.httpUrl('live/hevc.ts'), { timeoutMs: 15_000 });
    const video = streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'hevc');
    assert.equal(Number(video?.width), 320);
    await sender.exited;
    const r = await play;
    assert.deepEqual(r.errors, [], 'HTTP-TS decodes without errors');
    assert.ok(r.videoFrames >= 50 * 0.9, `frames ${r.videoFrames}`);
  } finally {
    await t.stop();
  }
});
