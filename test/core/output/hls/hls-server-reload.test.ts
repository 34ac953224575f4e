/**
 * HlsServer.reload: `enabled on` starts HLS on streams published now, `enabled off` ends it on them (last segment and
 * playlist written), a new hls_window shortens the running playlist from the next segment, a new hls_fragment waits
 * for the next publish (EXT-X-TARGETDURATION must not change within a playlist).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { HlsConfig } from '../../../../core/config/hls-config.ts';
import { SourceHub } from '../../../../core/hub/source-hub.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { FlvDemuxer } from '../../../../core/protocol/flv/flv-demuxer.ts';
import { HlsServer } from '../../../../core/output/hls/hls-server.ts';
import { fixture } from '../../../helpers/peers.ts';

const log = pino({ level: 'silent' });
const MESSAGES: RtmpMessage[] = [];
new FlvDemuxer({ onMessage: (m) => MESSAGES.push(m), onDecodeError: (e) => { throw e; } })
  .push(readFileSync(fixture('flv/h264-aac-320x240-10s.flv')));

function hls(dir: string, enabled: boolean, windowMs: number, fragmentMs = 1000): HlsConfig {
  return {
    enabled, fragmentMs, tdRatio: 1, aofRatio: 2.1, windowMs, onError: 'continue', path: dir,
    m3u8File: '[app]/[stream].m3u8', tsFile: '[app]/[stream]-[seq].ts', entryPrefix: '', acodec: 'aac',
    vcodec: 'h264', cleanup: true, disposeMs: 0, waitKeyframe: true, useFmp4: false, fmp4File: '[app]/[stream]-[seq].m4s',
    initFile: '[app]/[stream]/init.mp4', ll: false, partMs: 200,
  };
}

const segments = (file: string): number => readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('#EXTINF:')).length;

test('HlsServer.reload: enabled on/off on published streams, hls_window on the running muxer, hls_fragment at the next publish', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-hls-reload-'));
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  let cfg = hls(dir, false, 60_000);
  const server = new HlsServer({ hub, log, hls: () => cfg });
  server.start();
  const key = { vhost: '__defaultVhost__', app: 'live', stream: 'a' };
  const playlist = join(dir, 'live', 'a.m3u8');
  try {
    const pub = hub.publish(key, { id: 't-1', protocol: 'test' });
    const half = MESSAGES.length >> 1;
    for (const m of MESSAGES.slice(0, half)) pub.write(m);
    assert.equal(server.muxer(key), undefined);

    cfg = hls(dir, true, 60_000);
    server.reload([key]);
    const muxer = server.muxer(key);
    assert.ok(muxer !== undefined, 'enabled on: HLS starts on the published stream');
    for (const m of MESSAGES.slice(half)) pub.write(m);
    await muxer.idle;
    const before = segments(playlist);
    assert.ok(before >= 4, `${before} segments with a 60 s window`);

    // A 1 s window: applied at the next closed segment. A 5 s fragment: not on this stream.
    cfg = hls(dir, true, 1000, 5000);
    server.reload([key]);
    assert.equal(server.muxer(key), muxer, 'the running muxer is kept');
    const last = MESSAGES[MESSAGES.length - 1] as RtmpMessage;
    for (const m of MESSAGES) if (!m.isConfig) pub.write(m.withTimestamp(m.timestamp + last.timestamp + 40));
    await muxer.idle;
    assert.ok(segments(playlist) <= 3, `${segments(playlist)} segments after the window shrank`);
    assert.match(readFileSync(playlist, 'utf8'), /#EXT-X-TARGETDURATION:[12]\n/, 'segments are still cut at 1 s');

    cfg = hls(dir, false, 1000);
    server.reload([key]);
    assert.equal(server.muxer(key), undefined, 'enabled off: HLS ends on the stream');
    await muxer.idle;
    assert.ok(existsSync(playlist), 'its last playlist is written');
    pub.close();
  } finally {
    await server.close();
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
