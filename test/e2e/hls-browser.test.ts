/**
 * End to end: a browser plays the gateway's HLS. Debian's headless Chromium (driven by playwright-core) loads a
 * minimal page with hls.js from the gateway's `http_server dir`; the stream is a UDP MPEG-TS push.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { fixture, freeUdpPort, sendTsOverUdp, waitFor } from '../helpers/peers.ts';
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
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium']).toString().trim();
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    // two segments listed, so hls.js has a live edge to start from
    await waitFor(async () => {
      const r = await fetch(t.httpUrl('live/b.m3u8'));
      return r.status === 200 && (await r.text()).split('#EXTINF').length > 2;
    }, 15_000, 200);
    const page = await browser.newPage();
    await page.goto(t.httpUrl('index.html'));
    type PlayerState = { currentTime: number; videoWidth: number; errors: string[] };
    // a page expression (this project compiles without the DOM lib)
    const state = async (): Promise<PlayerState> => (await page.evaluate(
      '({ currentTime: document.getElementById("v").currentTime, videoWidth: document.getElementById("v").videoWidth, errors: window.hlsErrors })',
    )) as PlayerState;
    let last = await state();
    await waitFor(async () => {
      last = await state();
      return last.currentTime > 1.5;
    }, 20_000, 250).catch((err: unknown) => {
      throw new Error(`video did not play: ${JSON.stringify(last)}`, { cause: err });
    });
    assert.equal(last.videoWidth, 320);
    assert.deepEqual(last.errors.filter((e) => e.includes('fatal')), [], 'no fatal hls.js error');
  } finally {
    await browser.close();
    await sender.stop();
    await t.stop();
    rmSync(hlsDir, { recursive: true, force: true });
  }
});
