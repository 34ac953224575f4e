/**
 * HlsServer.serveLive (core/output/hls/hls-server.ts) over real HTTP on loopback, for an LL-HLS stream fed from the
 * H.264 + AAC FLV fixture (20 s: the fixture twice): the full playlist advertises CAN-SKIP-UNTIL (6 × target
 * duration), `_HLS_skip=YES` answers a Playlist Delta Update that hls-parser (strict) reads as the full playlist's
 * tail with the same media sequence numbers; Cache-Control of playlists, blocking answers and errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import HLS from 'hls-parser';
import { pino } from 'pino';
import type { HlsConfig } from '../../../../core/config/hls-config.ts';
import { SourceHub } from '../../../../core/hub/source-hub.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { FlvDemuxer } from '../../../../core/protocol/flv/flv-demuxer.ts';
import { HlsServer } from '../../../../core/output/hls/hls-server.ts';
import { fixture } from '../../../helpers/peers.ts';

HLS.setOptions({ strictMode: true });

const log = pino({ level: 'silent' });
const MESSAGES: RtmpMessage[] = [];
new FlvDemuxer({ onMessage: (m) => MESSAGES.push(m), onDecodeError: (e) => { throw e; } })
  .push(readFileSync(fixture('flv/h264-aac-320x240-10s.flv')));

const LL: HlsConfig = {
  enabled: true, fragmentMs: 1000, tdRatio: 1, aofRatio: 2.1, windowMs: 60_000, onError: 'continue', path: '/nonexistent',
  m3u8File: '[app]/[stream].m3u8', tsFile: '[app]/[stream]-[seq].ts', entryPrefix: '', acodec: 'aac', vcodec: 'h264',
  cleanup: true, disposeMs: 0, waitKeyframe: true, useFmp4: true, fmp4File: '[app]/[stream]-[seq].m4s',
  initFile: '[app]/[stream]/init.mp4', ll: true, partMs: 200,
};

function parse(text: string): HLS.types.MediaPlaylist {
  const p = HLS.parse(text);
  assert.ok(p instanceof HLS.types.MediaPlaylist);
  return p;
}

test('serveLive: _HLS_skip=YES is a delta playlist whose skipped count + segments equal the full playlist; Cache-Control', { timeout: 20_000 }, async () => {
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const hls = new HlsServer({ hub, log, hls: () => LL });
  hls.start();
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!hls.serveLive(req, res, 'v', decodeURIComponent(url.pathname), url.searchParams)) res.writeHead(404).end();
  });
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  try {
    const pub = hub.publish({ vhost: 'v', app: 'live', stream: 's' }, { id: 't-1', protocol: 'test' });
    for (const m of MESSAGES) pub.write(m);
    const last = MESSAGES[MESSAGES.length - 1]?.timestamp ?? 0;
    for (const m of MESSAGES) if (!m.isConfig) pub.write(m.withTimestamp(m.timestamp + last + 40));
    const fullRes = await fetch(`${base}/live/s.m3u8`);
    assert.equal(fullRes.status, 200);
    assert.equal(fullRes.headers.get('cache-control'), 'no-cache');
    const fullText = await fullRes.text();
    const full = parse(fullText);
    const boundary = 6 * full.targetDuration;
    assert.equal(full.lowLatencyCompatibility?.canSkipUntil, boundary, 'CAN-SKIP-UNTIL = 6 × target duration');
    assert.ok(full.segments.filter((s) => s.uri !== undefined && s.duration !== undefined).length >= 15, fullText);
    const deltaText = await (await fetch(`${base}/live/s.m3u8?_HLS_skip=YES`)).text();
    const delta = parse(deltaText);
    assert.ok(delta.skip > 0, deltaText);
    assert.equal(delta.mediaSequenceBase, full.mediaSequenceBase);
    assert.equal(delta.skip + delta.segments.length, full.segments.length);
    assert.deepEqual(delta.segments.map((s) => [s.uri, s.mediaSequenceNumber, s.map?.uri]), full.segments.slice(delta.skip).map((s) => [s.uri, s.mediaSequenceNumber, s.map?.uri]));
    // the skip boundary: what is kept (complete segments) lasts at least 6 target durations, one more would not be needed
    const kept = delta.segments.filter((s) => typeof s.duration === 'number').reduce((t, s) => t + s.duration, 0);
    assert.ok(kept >= boundary - 1e-6, `kept ${kept} s ≥ ${boundary} s`);
    assert.ok(kept - (delta.segments[0]?.duration ?? 0) < boundary, 'the oldest kept segment is needed');
    // a blocking answer: cacheable for one target duration; errors: no-cache
    const msn = full.segments.filter((s) => typeof s.duration === 'number').at(-1)?.mediaSequenceNumber ?? 0; // complete: at once
    const blocked = await fetch(`${base}/live/s.m3u8?_HLS_msn=${msn}&_HLS_skip=YES`);
    assert.equal(blocked.status, 200);
    assert.equal(blocked.headers.get('cache-control'), `max-age=${full.targetDuration}`);
    assert.match(await blocked.text(), /#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+\n/);
    const tooFar = await fetch(`${base}/live/s.m3u8?_HLS_msn=${msn + 10}`);
    assert.equal(tooFar.status, 400);
    assert.equal(tooFar.headers.get('cache-control'), 'no-cache');
    assert.equal((await fetch(`${base}/live/s.m3u8?_HLS_part=1`)).status, 400, '_HLS_part without _HLS_msn');
    pub.close();
  } finally {
    await hls.close();
    hub.close();
    await new Promise((ok) => http.close(ok));
  }
});
