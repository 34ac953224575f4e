/**
 * End to end: fMP4 HLS (`hls_use_fmp4 on`, files under hls_path) and Low-Latency HLS (`hls_ll on; hls_part 0.2;`,
 * served from memory) from real publishers:
 * - H.264 + AAC over RTMP (the FLV fixture) and H.265 + AAC over MPEG-TS/UDP (ffmpeg libx265, live);
 * - every playlist snapshot validates with hls-parser in strict mode (its LL-HLS checks: parts only in the last
 *   three segments, part durations ≤ PART-TARGET and ≥ 85 % of it, a preload hint, PART-HOLD-BACK);
 * - blocking playlist reload (`_HLS_msn`/`_HLS_part`) returns when the part appears; the hinted part is held
 *   until it exists; `_HLS_msn` too far ahead is 400; nothing is written to disk;
 * - ffmpeg decodes the playlists with zero errors;
 * - hls.js (`lowLatencyMode: true`) in headless Chromium plays with a live delay ≤ 2 s, measured as wall clock
 *   minus the EXT-X-PROGRAM-DATE-TIME of the frame being shown (`hls.playingDate`), and printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, freeUdpPort, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { launchChromium, waitForPlayback } from '../helpers/browser.ts';
import { writeHlsJsPage } from '../helpers/hls-page.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

HLS.setOptions({ strictMode: true });

const LL_HLS = (dir: string): string =>
  `vhost __defaultVhost__ { hls { enabled on; hls_fragment 1; hls_window 6; hls_path ${dir}; hls_ll on; hls_part 0.2; } }\n`;

/** `ffmpeg -re -stream_loop LOOPS -i <FLV fixture> -c copy -f flv URL`. */
function publishFixture(url: string, loops: number): Running {
  return startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', String(loops),
    '-i', fixture('flv/h264-aac-320x240-10s.flv'), '-c', 'copy', '-f', 'flv', url], { timeoutMs: (loops + 1) * 10_000 + 20_000 });
}

async function playlist(t: TestGateway, path: string): Promise<{ text: string; parsed: HLS.types.MediaPlaylist; ms: number }> {
  const t0 = Date.now();
  const r = await fetch(t.httpUrl(path));
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  assert.equal(r.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  const text = await r.text();
  const parsed = HLS.parse(text);
  assert.ok(parsed instanceof HLS.types.MediaPlaylist);
  return { text, parsed, ms: Date.now() - t0 };
}

/** The open segment's sequence and its parts so far, from a playlist text. */
function liveEdge(text: string): { msn: number; parts: number; hint: string } {
  const media = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]);
  const complete = text.split('\n').filter((l) => l.startsWith('#EXTINF')).length;
  const tail = text.slice(text.lastIndexOf('#EXTINF'));
  const parts = tail.split('\n').filter((l) => l.startsWith('#EXT-X-PART:')).length;
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)?.[1] ?? '';
  return { msn: media + complete, parts, hint };
}

test('LL-HLS, H.264 + AAC over RTMP: valid playlists, blocking reload, preload hint, 400 too far ahead, ffmpeg decodes, no disk', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-llhls-'));
  const t = await startTestGateway(LL_HLS(dir));
  const pub = publishFixture(t.rtmpUrl('live/s'), 1);
  try {
    await waitFor(async () => (await fetch(t.httpUrl('live/s.m3u8'))).status === 200, 15_000, 100);
    await waitFor(async () => (await playlist(t, 'live/s.m3u8')).parsed.segments.length >= 3, 15_000, 200);
    const first = await playlist(t, 'live/s.m3u8');
    assert.equal(first.parsed.lowLatencyCompatibility?.canBlockReload, true);
    assert.equal(first.parsed.partTargetDuration, 0.2);
    assert.match(first.text, /#EXT-X-MAP:URI="s\/init\.mp4"/);
    const init = await fetch(t.httpUrl('live/s/init.mp4'));
    assert.equal(init.headers.get('content-type'), 'video/mp4');
    assert.equal(Buffer.from(await init.arrayBuffer()).toString('latin1', 4, 8), 'ftyp');
    // blocking reload for the next part: held until it exists, then it is listed
    const edge = liveEdge(first.text);
    const blocked = await playlist(t, `live/s.m3u8?_HLS_msn=${edge.msn}&_HLS_part=${edge.parts}`);
    assert.ok(blocked.ms < 1500, `answered in ${blocked.ms} ms`);
    const after = liveEdge(blocked.text);
    assert.ok(after.msn > edge.msn || after.parts > edge.parts, `part ${edge.msn}.${edge.parts} listed: now ${after.msn}.${after.parts}`);
    // the hinted part is held until it exists
    const hintStart = Date.now();
    const hinted = await fetch(t.httpUrl(`live/${after.hint}`));
    assert.equal(hinted.status, 200);
    assert.equal(hinted.headers.get('content-type'), 'video/iso.segment');
    assert.equal(Buffer.from(await hinted.arrayBuffer()).toString('latin1', 4, 8), 'moof');
    assert.ok(Date.now() - hintStart < 1000, 'the hinted part came within a part or two');
    assert.equal((await fetch(t.httpUrl(`live/s.m3u8?_HLS_msn=${after.msn + 5}`))).status, 400, 'too far ahead');
    // more snapshots: every one validates (part durations, hint, parts only near the live edge)
    for (let i = 0; i < 8; i++) {
      const e = liveEdge((await playlist(t, 'live/s.m3u8')).text);
      await playlist(t, `live/s.m3u8?_HLS_msn=${e.msn}&_HLS_part=${e.parts}`);
    }
    const segment = first.parsed.segments[0];
    assert.ok(segment !== undefined);
    const whole = await fetch(t.httpUrl(`live/${segment.uri}`));
    assert.equal(whole.status, 200, 'complete segments are files too');
    const decoded = await decodeCheck(t.httpUrl('live/s.m3u8'), 3, { timeoutMs: 25_000 });
    assert.deepEqual(decoded.errors, [], 'ffmpeg decodes the LL-HLS playlist with no error');
    assert.ok(decoded.videoFrames >= 60 && decoded.audioFrames > 0, `frames ${decoded.videoFrames}/${decoded.audioFrames}`);
    assert.deepEqual(readdirSync(dir), [], 'nothing written to hls_path');
  } finally {
    await pub.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LL-HLS, H.265 + AAC over MPEG-TS/UDP: hvc1 init segment, valid playlists, ffmpeg decodes with zero errors', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-llhls-'));
  const udp = await freeUdpPort();
  const t = await startTestGateway(
    `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:{RTMP}/live/h; listen ${udp}; idle_timeout 2; }\n${LL_HLS(dir)}`,
  );
  const sender = startProcess('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000', '-t', '25', '-c:v', 'libx265', '-preset', 'ultrafast',
    '-x265-params', 'log-level=error:keyint=25:bframes=0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', `udp://127.0.0.1:${udp}?pkt_size=1316`],
  { timeoutMs: 45_000 });
  try {
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'h')), 15_000);
    await waitFor(async () => {
      const r = await fetch(t.httpUrl('live/h.m3u8'));
      return r.status === 200 && (await r.text()).split('#EXTINF').length > 3;
    }, 20_000, 200);
    for (let i = 0; i < 5; i++) {
      const e = liveEdge((await playlist(t, 'live/h.m3u8')).text);
      await playlist(t, `live/h.m3u8?_HLS_msn=${e.msn}&_HLS_part=${e.parts}`);
    }
    const init = Buffer.from(await (await fetch(t.httpUrl('live/h/init.mp4'))).arrayBuffer());
    assert.ok(init.includes(Buffer.from('hvc1')) && init.includes(Buffer.from('hvcC')), 'hvc1 sample entry');
    assert.ok(init.includes(Buffer.from('mp4a')), 'and AAC');
    const decoded = await decodeCheck(t.httpUrl('live/h.m3u8'), 3, { timeoutMs: 25_000 });
    assert.deepEqual(decoded.errors, []);
    assert.ok(decoded.videoFrames >= 60 && decoded.audioFrames > 0, `frames ${decoded.videoFrames}/${decoded.audioFrames}`);
  } finally {
    await sender.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hls_use_fmp4 without LL: init.mp4 and .m4s files under hls_path, EXT-X-MAP playlist validates, ffmpeg decodes', { timeout: 50_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-fmp4-'));
  const t = await startTestGateway(`vhost __defaultVhost__ { hls { enabled on; hls_fragment 2; hls_window 10; hls_path ${dir}; hls_use_fmp4 on; } }\n`);
  const pub = publishFixture(t.rtmpUrl('live/f'), 0);
  try {
    await waitFor(async () => {
      const r = await fetch(t.httpUrl('live/f.m3u8'));
      return r.status === 200 && (await r.text()).split('#EXTINF').length > 2;
    }, 20_000, 200);
    const p = await playlist(t, 'live/f.m3u8');
    assert.equal(p.parsed.version, 6);
    assert.equal(p.parsed.segments[0]?.map?.uri, 'f/init.mp4');
    assert.ok(p.parsed.segments.every((s) => s.uri.endsWith('.m4s') && s.programDateTime !== undefined));
    assert.ok(readdirSync(join(dir, 'live')).some((f) => f.endsWith('.m4s')));
    assert.deepEqual(readdirSync(join(dir, 'live', 'f')), ['init.mp4']);
    const seg = await fetch(t.httpUrl(`live/${p.parsed.segments[0]?.uri ?? ''}`));
    assert.equal(seg.headers.get('content-type'), 'video/iso.segment');
    const decoded = await decodeCheck(t.httpUrl('live/f.m3u8'), 3, { timeoutMs: 25_000 });
    assert.deepEqual(decoded.errors, []);
    assert.ok(decoded.videoFrames >= 60, `frames ${decoded.videoFrames}`);
  } finally {
    await pub.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('headless Chromium + hls.js lowLatencyMode plays LL-HLS with a live delay ≤ 2 s (wall clock − PROGRAM-DATE-TIME of the frame shown)', { timeout: 75_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-llhls-'));
  const t = await startTestGateway(LL_HLS(dir));
  const httpDir = t.gw.config.httpServer.dir;
  assert.ok(httpDir !== undefined);
  writeHlsJsPage(httpDir, '/live/b.m3u8', { lowLatencyMode: true });
  const pub = publishFixture(t.rtmpUrl('live/b'), 3);
  const browser = await launchChromium();
  try {
    await waitFor(async () => (await fetch(t.httpUrl('live/b.m3u8'))).status === 200, 15_000, 100);
    const page = await browser.newPage();
    await page.goto(t.httpUrl('index.html'));
    const played = await waitForPlayback(page, 'hlsErrors', 3, 30_000);
    assert.equal(played.videoWidth, 320);
    // sample the delay for a few seconds once playing
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((ok) => setTimeout(ok, 500));
      const d = (await page.evaluate('window.hls.playingDate ? Date.now() - window.hls.playingDate.getTime() : null')) as number | null;
      if (d !== null) delays.push(d);
    }
    const errors = (await page.evaluate('window.hlsErrors')) as string[];
    assert.ok(delays.length >= 5, 'hls.js knows the playing date (EXT-X-PROGRAM-DATE-TIME)');
    const sorted = [...delays].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    console.log(`LL-HLS live delay (hls.js lowLatencyMode, part 0.2 s, segment 1 s): median ${median} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms; hls.js latency ${String(await page.evaluate('window.hls.latency'))} s`);
    assert.ok(median <= 2000, `live delay ${median} ms`);
    assert.deepEqual(errors.filter((e) => e.includes('fatal')), [], 'no fatal hls.js error');
  } finally {
    await browser.close();
    await pub.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
