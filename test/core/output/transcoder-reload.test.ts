/**
 * TranscodeServer.reload with the real hub and the stand-in ffmpeg of transcoder.test.ts (`tee`): an unchanged block
 * keeps its engine (its output never unpublished, its lineage still stops a second pass), a changed block's engine
 * restarts, an added block starts on the streams published now, a removed block's engine stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfigText, vhostConfig, type Config } from '../../../core/config/config.ts';
import type { ConsumerTarget } from '../../../core/hub/ports.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { makeStreamKey, type StreamKey } from '../../../core/media/stream-key.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { FlvDemuxer } from '../../../core/protocol/flv/flv-demuxer.ts';
import { createPublishTargetResolver } from '../../../core/output/publish-target.ts';
import { TranscodeServer } from '../../../core/output/transcoder.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';

const MESSAGES: RtmpMessage[] = [];
new FlvDemuxer({ onMessage: (m) => MESSAGES.push(m), onDecodeError: (e) => { throw e; } })
  .push(readFileSync(fixture('flv/h264-aac-320x240-10s.flv')));
const key = (app: string, stream: string): StreamKey => makeStreamKey('__defaultVhost__', app, stream);

test('reload: unchanged block runs on, changed restarts, added starts, removed stops', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-transcode-reload-'));
  const ff = join(dir, 'ffmpeg');
  writeFileSync(ff, '#!/bin/sh\nexec cat\n');
  chmodSync(ff, 0o755);
  const block = (scope: string, engine: string, extra = ''): string =>
    `transcode ${scope} { enabled on; ffmpeg ${ff}; engine ${engine} { enabled on; vcodec copy;${extra} output rtmp://127.0.0.1/[app]/[stream]_[engine]; } }`;
  const conf = (body: string): Config => loadConfigText(`vhost __defaultVhost__ { ${body} }`, 't.conf').config;
  let config = conf(`${block('', 'sd')}\n${block('live/x', 'hd')}`);
  const log = pino({ level: 'silent' });
  const hub = new SourceHub({ log, sourceLingerMs: 0, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'full' }) });
  const server = new TranscodeServer({ hub, log, transcodes: (v) => vhostConfig(config, v)?.transcodes, minBackoffMs: 20, maxBackoffMs: 40 });
  server.start(createPublishTargetResolver({ hub, rtmpPorts: [19351], log }));
  const src = key('live', 'x');
  const events = new Map<string, string[]>();
  const watch = (stream: string): void => {
    const list: string[] = [];
    events.set(stream, list);
    const t: ConsumerTarget = { send: () => true, onSourceEvent: (e) => { list.push(e); } };
    hub.subscribe(key('live', stream), { id: `p-${stream}`, protocol: 'test' }, t);
  };
  const outputs = (): string[] => ['x_sd', 'x_hd', 'x_hd_sd', 'x_ld', 'x_ld_sd'].filter((s) => hub.isPublishing(key('live', s)));
  const publishing = (): StreamKey[] => hub.clients().filter((c) => c.publish).map((c) => c.key);
  try {
    for (const s of ['x_sd', 'x_hd', 'x_ld']) watch(s);
    const pub = hub.publish(src, { id: 'pub', protocol: 'test' });
    let next = 0;
    const feed = (n: number): void => {
      for (const m of MESSAGES.slice(next, next + n)) pub.write(m);
      next += n;
    };
    feed(100);
    // sd (vhost-wide) makes x_sd and x_hd_sd, never x_sd_sd (lineage); hd (live/x only) makes x_hd.
    await waitFor(() => outputs().length === 3, 5_000);
    const [sd, hd] = server.engines(src);
    assert.ok(sd !== undefined && hd !== undefined);

    // sd unchanged (written elsewhere), hd changed, ld added.
    config = conf(`# reloaded\n\n${block('live/x', 'hd', ' vbitrate 800;')}\n${block('', 'sd')}\n${block('live/x', 'ld')}`);
    server.reload(publishing());
    assert.equal(server.engines(src)[0], sd, 'the unchanged block keeps its engine');
    assert.ok(!server.engines(src).includes(hd), 'the changed block restarts');
    feed(100);
    await waitFor(() => outputs().length === 5 && server.engines(src).length === 3, 5_000);
    assert.deepEqual(events.get('x_sd'), ['publish'], 'the unchanged output never unpublished');
    assert.deepEqual(events.get('x_hd'), ['publish', 'unpublish', 'publish']);
    assert.deepEqual(events.get('x_ld'), ['publish']);
    assert.deepEqual(server.engines(key('live', 'x_sd')), [], 'lineage survives the reload: no second pass by the same block');
    assert.equal(server.engines(key('live', 'x_hd')).length, 1, 'the restarted x_hd is transcoded by sd again');

    // Everything removed: every engine stops, every output unpublishes; the source plays on.
    config = conf('');
    server.reload(publishing());
    await waitFor(() => outputs().length === 0, 5_000);
    assert.deepEqual(server.stats(), {});
    assert.ok(hub.isPublishing(src));
    pub.close('done');
  } finally {
    await server.close();
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
