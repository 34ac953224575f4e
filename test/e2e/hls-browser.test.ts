/**
 * End to end: a browser plays the gateway's HLS. Debian's headless Chromium (driven by playwright-core) loads a
 * minimal page with hls.js from the gateway's `http_server dir`; the stream is a UDP MPEG-TS push.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, freeUdpPort, sendTsOverUdp, waitFor } from '../helpers/peers.ts';
import { launchChromium, waitForPlayback } from '../helpers/browser.ts';
import { startTestGateway } from './harness.ts';

const PAGE = `<!doctype html><meta charset="utf-8"><title>castgate hls</title>
<video id="v" muted autoplay playsinline></video>
<script src="hls.min.js"></script>
<script>
  window.hlsErrors = [];
  const video = document.getElementById('v');
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_e, d) => window.hlsErrors.push(d.details + (d.fatal ? ' (fatal)' : '')));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource('/live/b.m3u8');
  hls.attachMedia(video);
</script>`;

test('headless Chromium + hls.js plays the HLS stream: currentTime advances, 320 px wide', { timeout: 55_000 }, async () => {
  const hlsDir = mkdtempSync(join(tmpdir(), 'castgate-hls-'));
  const udp = await freeUdpPort();
  const t = await startTestGateway(
    `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:{RTMP}/live/b; listen ${udp}; idle_timeout 1; }\n`
      + `vhost __defaultVhost__ { hls { enabled on; hls_fragment 2; hls_window 10; hls_path ${hlsDir}; } }\n`,
  );
  const dir = t.gw.config.httpServer.dir;
  assert.ok(dir !== undefined);
  writeFileSync(join(dir, 'index.html'), PAGE);
  copyFileSync(createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js'), join(dir, 'hls.min.js'));
  const sender = sendTsOverUdp(fixture('ts/h264-aac-320x240-25fps-10s.ts'), udp, { loops: 2, timeoutMs: 45_000 });
  const browser = await launchChromium();
  try {
    // two segments listed, so hls.js has a live edge to start from
    await waitFor(async () => {
      const r = await fetch(t.httpUrl('live/b.m3u8'));
      return r.status === 200 && (await r.text()).split('#EXTINF').length > 2;
    }, 15_000, 200);
    const page = await browser.newPage();
    await page.goto(t.httpUrl('index.html'));
    const last = await waitForPlayback(page, 'hlsErrors', 1.5, 20_000);
    assert.equal(last.videoWidth, 320);
    assert.deepEqual(last.errors.filter((e) => e.includes('fatal')), [], 'no fatal hls.js error');
  } finally {
    await browser.close();
    await sender.stop();
    await t.stop();
    rmSync(hlsDir, { recursive: true, force: true });
  }
});
