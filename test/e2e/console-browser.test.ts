/**
 * End to end: the web console (html/, served by http_server at `/`) in Debian's headless Chromium, and HTTP-TS
 * players in the HTTP API. One gateway with an RTMP publisher (ffmpeg lavfi testsrc H.264 + AAC, live/demo), a
 * UDP MPEG-TS caster (live/udpcam) and the native demo ingest (fixtures/flv/demo.flv looped, live/loop):
 * - a curl HTTP-TS player is listed in /api/v1/clients (flv-play, http-ts, send bytes rising) and DELETE ends it;
 * - the console lists the streams (codec, size, the inputs' QoS) and the caster and ingester, plays live/demo in the page with mpegts.js
 *   (the video's currentTime passes 1 s) and with hls.js (HLS button), lists its clients, and its Kick button ends
 *   the RTMP publish; an ingester's Restart makes its player reconnect and play on.
 * A screenshot is written to test/artifacts/console.png (path printed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { fixture, freeTcpPort, freeUdpPort, sendTsOverUdp, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

const root = new URL('../..', import.meta.url).pathname;
const ARTIFACTS = join(root, 'test/artifacts');

type Json = Record<string, unknown>;

let t: TestGateway;
let apiPort: number;
let publisher: Running;
let udpSender: Running;
let browser: Browser | undefined;
let hlsDir: string;

async function api(path: string, method = 'GET'): Promise<Json> {
  const r = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method });
  assert.equal(r.status, 200, `${method} ${path}`);
  return (await r.json()) as Json;
}

async function clients(): Promise<Json[]> {
  return (await api('/api/v1/clients?count=100')).clients as Json[];
}

async function streamNamed(name: string): Promise<Json | undefined> {
  return ((await api('/api/v1/streams')).streams as Json[]).find((s) => s.name === name);
}

before(async () => {
  apiPort = await freeTcpPort();
  const udpPort = await freeUdpPort();
  hlsDir = mkdtempSync(join(tmpdir(), 'castgate-console-hls-'));
  t = await startTestGateway(
    `http_api { enabled on; listen 127.0.0.1:${apiPort}; crossdomain on; }\n`
      + `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:{RTMP}/live/udpcam; listen ${udpPort}; idle_timeout 2; }\n`
      + `vhost __defaultVhost__ { gop_cache on; queue_length 10; time_jitter full; http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }\n`
      + `  hls { enabled on; hls_fragment 1; hls_window 6; hls_dispose 1; hls_path ${hlsDir}; }\n`
      + `  ingest demo { enabled on; input { type file; url ${fixture('flv/demo.flv')}; } engine { enabled off; output rtmp://127.0.0.1:[port]/live/loop; } } }\n`,
  );
  const dir = t.gw.config.httpServer.dir;
  assert.ok(dir !== undefined);
  cpSync(join(root, 'html'), dir, { recursive: true }); // the console exactly as shipped
  publisher = startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', t.rtmpUrl('live/demo')], { timeoutMs: 60_000 });
  udpSender = sendTsOverUdp(fixture('ts/h264-aac-320x240-25fps-10s.ts'), udpPort, { loops: -1, timeoutMs: 60_000 });
  await waitFor(async () => {
    const [demo, udp] = [await streamNamed('demo'), await streamNamed('udpcam')];
    return (demo?.publish as Json | undefined)?.active === true && (udp?.publish as Json | undefined)?.active === true
      && (demo?.video as Json | null)?.width === 320;
  }, 15_000, 200);
});

after(async () => {
  await browser?.close();
  await Promise.all([publisher?.stop(), udpSender?.stop()]);
  await t?.stop();
  if (hlsDir !== undefined) rmSync(hlsDir, { recursive: true, force: true });
});

test('an HTTP-TS player is listed in /api/v1/clients with its send bytes, and DELETE ends it', { timeout: 20_000 }, async () => {
  const curl = startProcess('curl', ['-sS', '-N', '-o', '/dev/null', '-w', '%{size_download}', t.httpUrl('live/demo.ts')], { timeoutMs: 15_000 });
  try {
    let listed: Json | undefined;
    await waitFor(async () => {
      listed = (await clients()).find((x) => x.protocol === 'http-ts');
      return listed !== undefined && (listed.send_bytes as number) > 0;
    }, 8_000, 100);
    assert.ok(listed !== undefined);
    assert.equal(listed.type, 'flv-play', 'SRS names every HTTP live stream player flv-play');
    assert.equal(listed.publish, false);
    assert.equal(listed.name, 'demo');
    assert.equal(listed.stream, (await streamNamed('demo'))?.id);
    const id = listed.id as string;
    const r = await api(`/api/v1/clients/${id}`, 'DELETE');
    assert.equal(r.code, 0);
    const result = await Promise.race([curl.exited, new Promise<undefined>((res) => setTimeout(res, 5_000, undefined))]);
    assert.ok(result !== undefined, 'curl ends after the kick');
    assert.equal(result.code, 0, `curl: the response ends cleanly (${result.stderr})`);
    assert.ok(Number(result.stdout.toString()) > 188 * 10, `curl received TS before the kick (${result.stdout.toString()} bytes)`);
    assert.equal((await clients()).find((x) => x.id === id), undefined, 'gone from the list');
    assert.equal((await api(`/api/v1/clients/${id}`)).code, 2049, 'client not found');
  } finally {
    await curl.stop();
  }
});

test('the console lists the streams with input QoS, plays one in the page, shows its clients and kicks the publisher', { timeout: 40_000 }, async () => {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  /** The page's last console lines (mpegts.js/hls.js logs), shown when a playback check fails. */
  const pageLog: string[] = [];
  page.on('console', (m) => {
    pageLog.push(`${m.type()} ${m.text().slice(0, 200)}`);
    if (pageLog.length > 30) pageLog.shift();
    if (process.env.CONSOLE_DEBUG) console.log(`[page] ${m.type()} ${m.text()}`);
  });
  await page.goto(t.httpUrl(`?api=${apiPort}${process.env.CONSOLE_DEBUG ? "&debug" : ""}`));

  // the list: both streams, codec facts, the UDP input's QoS from /api/v1/casters
  const demoRow = page.locator('#streams tbody tr', { hasText: 'live/demo' });
  const udpRow = page.locator('#streams tbody tr', { hasText: 'live/udpcam' });
  await demoRow.waitFor({ timeout: 8_000 });
  await udpRow.waitFor({ timeout: 8_000 });
  const demoText = await demoRow.innerText();
  assert.match(demoText, /live \(rtmp-\d+\)/);
  assert.match(demoText, /H264 \w+ 320×240/);
  assert.match(demoText, /AAC 44\.1 kHz mono/);
  await waitFor(async () => /mpegts_over_udp from 127\.0\.0\.1:\d+, publishing, CC errors \d+, resyncs \d+, \d+ kbps/.test(await udpRow.innerText()), 8_000, 250)
    .catch(async () => assert.fail(`no input QoS on the UDP stream's row: ${await udpRow.innerText()}`));
  const loopRow = page.locator('#streams tbody tr', { hasText: 'live/loop' });
  await loopRow.waitFor({ timeout: 8_000 });
  assert.match(await loopRow.innerText(), /ingest demo \(native\), running/);
  assert.match(await page.locator('#casters tbody tr').innerText(), /mpegts_over_udp :\d+\s+udp-\d+\s+127\.0\.0\.1:\d+\s+__defaultVhost__\/live\/udpcam\s+publishing/);
  assert.match(await page.locator('#ingesters tbody tr').innerText(), /demo\s+native\s+__defaultVhost__\/live\/loop\s+running/);
  assert.equal(await page.locator('#ingesters tbody tr').getByRole('button', { name: 'Restart' }).isVisible(), true);
  assert.match(await page.locator('#status').innerText(), new RegExp(`API http://127\\.0\\.0\\.1:${apiPort}`));

  interface Playback { player: string | undefined; currentTime: number; readyState: number; width: number; info: string }
  const playback = async (): Promise<Playback> =>
    (await page.evaluate(`(() => { const v = document.getElementById('video');
      return { player: v.dataset.player, currentTime: v.currentTime, readyState: v.readyState, width: v.videoWidth,
        info: document.getElementById('player-info').textContent }; })()`)) as Playback;
  /** Wait until `kind` plays: a first frame shown, then currentTime 1 s further (HLS starts near the live edge, not 0). */
  const playsFor1s = async (kind: string, timeoutMs: number): Promise<Playback> => {
    let last = await playback();
    let startTime: number | undefined;
    await waitFor(async () => {
      last = await playback();
      if (last.player !== kind || last.readyState < 2) return false;
      startTime ??= last.currentTime;
      return last.currentTime > startTime + 1;
    }, timeoutMs, 200).catch(() => assert.fail(`${kind}: the video did not play 1 s: ${JSON.stringify(last)} from ${startTime}\n${pageLog.join('\n')}`));
    return last;
  };

  // click → mpegts.js plays HTTP-FLV in the page
  await demoRow.click();
  const flv = await playsFor1s('flv', 20_000);
  assert.ok(flv.currentTime > 1, `FLV playback starts at 0 and passes 1 s (${flv.currentTime})`);
  assert.equal(flv.width, 320);
  assert.match(flv.info, /HTTP-FLV \(mpegts\.js\): \/live\/demo\.flv/);

  // its clients: the RTMP publisher and the page's own HTTP-FLV player
  const publisherRow = page.locator('#clients tbody tr', { hasText: 'fmle-publish' });
  await publisherRow.waitFor({ timeout: 6_000 });
  await page.locator('#clients tbody tr', { hasText: 'flv-play' }).waitFor({ timeout: 6_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'console.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`console screenshot: ${shot}`);

  // the vhost has HLS on: the HLS button plays the same stream with hls.js
  await page.locator('#play-hls').click();
  const hls = await playsFor1s('hls', 20_000);
  assert.equal(hls.width, 320);
  assert.match(hls.info, /HLS \(hls\.js\): \/live\/demo\.m3u8/);

  // back to HTTP-FLV, then Kick the publisher: ffmpeg's publish ends, it leaves the clients, the player stops, and
  // the stream leaves the list (or waits for a publisher while an HLS viewer's session lasts)
  await page.locator('#play-flv').click();
  await playsFor1s('flv', 15_000);
  await publisherRow.getByRole('button', { name: 'Kick' }).click();
  const exited = await Promise.race([publisher.exited, new Promise<undefined>((res) => setTimeout(res, 8_000, undefined))]);
  assert.ok(exited !== undefined, 'the kicked RTMP publisher (ffmpeg) ends');
  await publisherRow.waitFor({ state: 'detached', timeout: 6_000 });
  await waitFor(async () => (await demoRow.count()) === 0 || (await demoRow.innerText()).includes('waiting for a publisher'), 8_000, 250)
    .catch(async () => assert.fail(`the stream is still listed as live: ${await demoRow.innerText()}`));
  assert.equal(((await streamNamed('demo'))?.publish as Json | undefined)?.active ?? false, false);
  await waitFor(async () => (await playback()).info === 'The stream ended.', 8_000, 250)
    .catch(async () => assert.fail(`the player did not stop: ${JSON.stringify(await playback())}`));
  assert.equal(await udpRow.count(), 1, 'the other streams stay');

  // an ingester's Restart kicks its publisher; the native loop republishes at once and the player reconnects
  await loopRow.click();
  await playsFor1s('flv', 20_000);
  const starts = async (): Promise<string> => (await page.evaluate(`document.getElementById('video').dataset.starts`)) as string;
  const startsBefore = await starts();
  await page.locator('#ingesters tbody tr').getByRole('button', { name: 'Restart' }).click();
  await waitFor(async () => (await starts()) !== startsBefore, 8_000, 100)
    .catch(async () => assert.fail(`no reconnection after the restart: ${JSON.stringify(await playback())}`));
  const again = await playsFor1s('flv', 15_000);
  assert.equal(again.width, 640, 'the demo loop is 640x360');
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
});
