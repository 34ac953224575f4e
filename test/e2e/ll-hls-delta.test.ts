/**
 * End to end: LL-HLS Playlist Delta Updates (RFC 8216bis 6.2.5.1) from a live RTMP publisher, with a window longer
 * than the Skip Boundary (`hls_window 30`):
 * - once six target durations of segments are old, the playlist advertises CAN-SKIP-UNTIL; the `_HLS_skip=YES`
 *   playlist fetched right after the full one validates with hls-parser (strict) and, with its skipped count, lists
 *   the same segments under the same media sequence numbers;
 * - hls.js (`lowLatencyMode: true`) in headless Chromium asks for delta playlists (`_HLS_skip=YES`), merges them and
 *   keeps playing with no fatal error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { fixture, startProcess, waitFor } from '../helpers/peers.ts';
import { launchChromium, waitForPlayback } from '../helpers/browser.ts';
import { writeHlsJsPage } from '../helpers/hls-page.ts';
import { startTestGateway } from './harness.ts';

HLS.setOptions({ strictMode: true });

function parse(text: string): HLS.types.MediaPlaylist {
  const p = HLS.parse(text);
  assert.ok(p instanceof HLS.types.MediaPlaylist);
  return p;
}

test('LL-HLS delta playlists: _HLS_skip=YES parses to the full playlist, hls.js plays on them', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-llhls-delta-'));
  const t = await startTestGateway(
    `vhost __defaultVhost__ { hls { enabled on; hls_fragment 1; hls_window 30; hls_path ${dir}; hls_ll on; hls_part 0.2; } }\n`,
  );
  const httpDir = t.gw.config.httpServer.dir;
  assert.ok(httpDir !== undefined);
  writeHlsJsPage(httpDir, '/live/d.m3u8', { lowLatencyMode: true });
  const pub = startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '2',
    '-i', fixture('flv/h264-aac-320x240-10s.flv'), '-c', 'copy', '-f', 'flv', t.rtmpUrl('live/d')], { timeoutMs: 50_000 });
  const browser = await launchChromium();
  try {
    // a playlist holding only the open segment's parts is "empty" to hls.js (levelEmptyError): start after one segment
    await waitFor(async () => (await (await fetch(t.httpUrl('live/d.m3u8'))).text()).includes('#EXTINF'), 15_000, 100);
    const page = await browser.newPage();
    await page.goto(t.httpUrl('index.html'));
    await waitForPlayback(page, 'hlsErrors', 1, 20_000);
    await waitFor(async () => (await (await fetch(t.httpUrl('live/d.m3u8'))).text()).includes('CAN-SKIP-UNTIL='), 30_000, 250);
    // the full and the delta playlist of one moment: retry if a part arrived in between
    let checked = false;
    for (let i = 0; i < 10 && !checked; i++) {
      const fullText = await (await fetch(t.httpUrl('live/d.m3u8'))).text();
      const deltaText = await (await fetch(t.httpUrl('live/d.m3u8?_HLS_skip=YES'))).text();
      const full = parse(fullText);
      const delta = parse(deltaText);
      if (full.segments.length !== delta.skip + delta.segments.length) continue; // a segment closed in between
      assert.ok(delta.skip > 0, deltaText);
      assert.equal(full.lowLatencyCompatibility?.canSkipUntil, 6 * full.targetDuration);
      assert.equal(delta.mediaSequenceBase, full.mediaSequenceBase);
      const complete = (p: HLS.types.MediaPlaylist): [string, number][] => p.segments.filter((s) => typeof s.duration === 'number').map((s) => [s.uri, s.mediaSequenceNumber]);
      assert.deepEqual(complete(delta), complete(full).slice(delta.skip));
      assert.equal(delta.segments[0]?.map?.uri, 'd/init.mp4', 'EXT-X-MAP before the first segment listed');
      checked = true;
    }
    assert.ok(checked, 'a full and a delta playlist of the same segments');
    // hls.js switches to delta updates once it has seen CAN-SKIP-UNTIL; it keeps playing on them
    await waitFor(async () => (await page.evaluate(`performance.getEntriesByType('resource').some((e) => e.name.includes('_HLS_skip=YES'))`)) === true, 15_000, 250);
    const before = (await page.evaluate('document.getElementById("v").currentTime')) as number;
    await new Promise((ok) => setTimeout(ok, 3000));
    const after = (await page.evaluate('document.getElementById("v").currentTime')) as number;
    const deltas = (await page.evaluate(`performance.getEntriesByType('resource').filter((e) => e.name.includes('_HLS_skip=YES')).length`)) as number;
    const errors = (await page.evaluate('window.hlsErrors')) as string[];
    console.log(`hls.js delta playlist requests: ${deltas}; played ${(after - before).toFixed(2)} s in 3 s after; errors ${JSON.stringify(errors)}`);
    assert.ok(after - before > 2, `playing on delta updates: ${before} → ${after}`);
    assert.deepEqual(errors.filter((e) => e.includes('fatal') || e.includes('_HLS_skip')), [], 'no fatal hls.js error, none on a delta playlist');
  } finally {
    await browser.close();
    await pub.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
