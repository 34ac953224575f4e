/**
 * End to end: WebSocket-FLV (`ws://host/live/s.flv`, every HTTP-FLV mount) from an RTMP push of the FLV fixture.
 * - Node side: a raw WebSocket client (test/helpers/ws-client.ts) checks that every binary message is one whole
 *   FLV piece (the 13-byte header, then one tag each), and ffmpeg decodes the concatenated payloads with no error.
 * - Browser: mpegts.js in Debian's headless Chromium (playwright-core) plays the ws:// URL; the video's currentTime
 *   advances and videoWidth is the fixture's 320.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { fixture, run, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { closeStatusOf, connectWebSocket } from '../helpers/ws-client.ts';
import { launchChromium, waitForPlayback } from '../helpers/browser.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';

const FIXTURE = fixture('flv/h264-aac-320x240-10s.flv');
/** FLV spec E.4.1: 11-byte tag header; E.3: 4-byte PreviousTagSize after each tag. */
const TAG_HEADER = 11;
const PREVIOUS_TAG_SIZE = 4;

/** `ffmpeg -re -stream_loop LOOPS -i FIXTURE -c copy -f flv URL`. */
function publish(url: string, loops: number): Running {
  return startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', String(loops), '-i', FIXTURE,
    '-c', 'copy', '-f', 'flv', url], { timeoutMs: (loops + 1) * 10_000 + 20_000 });
}

test('ws:// FLV: one binary message per FLV header/tag, ffmpeg decodes the payloads with zero errors', { timeout: 60_000 }, async () => {
  const t = await startTestGateway(HTTP_FLV_VHOST);
  const pub = publish(t.rtmpUrl('live/w'), 0);
  try {
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'w')), 10_000);
    const ws = await connectWebSocket(t.httpPort, '/live/w.flv');
    assert.match(ws.responseHead, /^HTTP\/1\.1 101 /);
    await new Promise((ok) => setTimeout(ok, 4000));
    ws.send(0x8, Buffer.from([0x03, 0xe8]));
    await ws.closed;
    assert.equal(ws.violation(), undefined);
    const binary = ws.frames.filter((f) => f.opcode === 0x2);
    assert.equal(closeStatusOf(ws.frames.at(-1)), 1000, 'our Close echoed');
    assert.ok(binary.length > 100, `${binary.length} binary messages`);
    assert.ok(binary.every((f) => f.fin), 'unfragmented messages');
    const [header, ...tags] = binary;
    assert.equal(header?.payload.length, 13, 'the first message is the FLV header + PreviousTagSize0');
    assert.equal(header?.payload.subarray(0, 3).toString(), 'FLV');
    for (const [i, tag] of tags.entries()) {
      const dataSize = tag.payload.readUIntBE(1, 3);
      assert.equal(tag.payload.length, TAG_HEADER + dataSize + PREVIOUS_TAG_SIZE, `message ${i + 1} is exactly one tag`);
      assert.equal(tag.payload.readUInt32BE(tag.payload.length - PREVIOUS_TAG_SIZE), TAG_HEADER + dataSize);
    }
    const flv = Buffer.concat(binary.map((f) => f.payload));
    const decoded = await run('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-f', 'flv', '-i', 'pipe:0', '-f', 'framecrc', 'pipe:1'],
      { input: flv, timeoutMs: 20_000 });
    assert.equal(decoded.stderr.trim(), '', 'ffmpeg reports no error');
    assert.equal(decoded.code, 0);
    const lines = decoded.stdout.toString('latin1').split('\n');
    const videoIndex = /^#media_type (\d+): video/m.exec(lines.join('\n'))?.[1];
    assert.ok(videoIndex !== undefined, 'a video stream');
    const frames = lines.filter((l) => l.startsWith(`${videoIndex},`)).length;
    assert.ok(frames >= 75, `${frames} video frames decoded from ~4 s at 25 fps`);
  } finally {
    await pub.stop();
    await t.stop();
  }
});

const PAGE = `<!doctype html><meta charset="utf-8"><title>castgate ws-flv</title>
<video id="v" muted autoplay playsinline></video>
<script src="mpegts.js"></script>
<script>
  window.playerErrors = [];
  const video = document.getElementById('v');
  const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: 'ws://' + location.host + '/live/b.flv' });
  player.on(mpegts.Events.ERROR, (type, detail) => window.playerErrors.push(type + ': ' + detail));
  player.attachMediaElement(video);
  player.load();
  player.play();
</script>`;

test('headless Chromium + mpegts.js plays ws:// FLV: currentTime advances, 320 px wide', { timeout: 60_000 }, async () => {
  const t = await startTestGateway(HTTP_FLV_VHOST);
  const pub = publish(t.rtmpUrl('live/b'), 2);
  const dir = t.gw.config.httpServer.dir;
  assert.ok(dir !== undefined);
  writeFileSync(join(dir, 'index.html'), PAGE);
  copyFileSync(createRequire(import.meta.url).resolve('mpegts.js/dist/mpegts.js'), join(dir, 'mpegts.js'));
  const browser = await launchChromium();
  try {
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'b')), 10_000);
    const page = await browser.newPage();
    await page.goto(t.httpUrl('index.html'));
    const last = await waitForPlayback(page, 'playerErrors', 2, 25_000);
    assert.equal(last.videoWidth, 320);
    assert.deepEqual(last.errors, [], 'no mpegts.js error');
    assert.equal(t.gw.http?.stats().webSocketPlayers, 1, 'played over WebSocket');
  } finally {
    await browser.close();
    await pub.stop();
    await t.stop();
  }
});
