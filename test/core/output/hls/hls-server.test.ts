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

function hlsConfig(dir: string, enabled: boolean): HlsConfig {
  return {
    enabled, fragmentMs: 2000, tdRatio: 1, aofRatio: 2.1, windowMs: 60_000, onError: 'continue', path: dir,
    m3u8File: '[vhost]/[app]/[stream].m3u8', tsFile: '[vhost]/[app]/[stream]-[seq].ts', entryPrefix: '', acodec: 'aac',
    vcodec: 'h264', cleanup: true, disposeMs: 0, waitKeyframe: true, useFmp4: false, fmp4File: '[app]/[stream]-[seq].m4s',
    initFile: '[app]/[stream]/init.mp4', ll: false, partMs: 200,
  };
}

test('HlsServer: a muxer per publish on HLS vhosts only, kept across a republish, closed (files kept) on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-hls-server-'));
  try {
    const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
    const server = new HlsServer({ hub, log, hls: (vhost) => (vhost === 'off' ? hlsConfig(dir, false) : vhost === 'on' ? hlsConfig(dir, true) : undefined) });
    server.start();
    const on = { vhost: 'on', app: 'live', stream: 'a' };
    const off = { vhost: 'off', app: 'live', stream: 'b' };
    const pubOn = hub.publish(on, { id: 't-1', protocol: 'test' });
    hub.publish(off, { id: 't-2', protocol: 'test' });
    hub.publish({ vhost: 'unknown', app: 'live', stream: 'c' }, { id: 't-3', protocol: 'test' });
    assert.ok(server.muxer(on) !== undefined);
    assert.equal(server.muxer(off), undefined);
    const first = server.muxer(on);
    for (const m of MESSAGES) pubOn.write(m);
    pubOn.close();
    const again = hub.publish(on, { id: 't-4', protocol: 'test' });
    assert.equal(server.muxer(on), first, 'same muxer after a republish (hls_dispose pending)');
    again.close();
    await server.close();
    assert.equal(server.muxer(on), undefined);
    const playlist = readFileSync(join(dir, 'on', 'live', 'a.m3u8'), 'utf8');
    assert.match(playlist, /#EXTINF:2\.000,\na-0\.ts/);
    assert.ok(existsSync(join(dir, 'on', 'live', 'a-0.ts')));
    hub.publish({ vhost: 'on', app: 'live', stream: 'late' }, { id: 't-5', protocol: 'test' });
    assert.equal(server.muxer({ vhost: 'on', app: 'live', stream: 'late' }), undefined, 'no muxers after close');
    hub.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
