/**
 * TranscodeServer + TranscodeEngine with the real hub and a stand-in ffmpeg (`tee FILE`: what the hub writes to
 * stdin comes back on stdout unchanged and is kept in FILE), so the plumbing is checked byte for byte without a
 * codec: FLV start of each run, the output published under its key, no loops, restart after a kill, stop on
 * unpublish, backpressure, a missing ffmpeg. test/e2e/transcode.test.ts runs the real ffmpeg.
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
import { TranscodeServer, transcodeOutputUrl, transcodeScopeMatches } from '../../../core/output/transcoder.ts';
import { fixture, processAlive, waitFor } from '../../helpers/peers.ts';

const RTMP_PORT = 19350;
const MESSAGES: RtmpMessage[] = [];
new FlvDemuxer({ onMessage: (m) => MESSAGES.push(m), onDecodeError: (e) => { throw e; } })
  .push(readFileSync(fixture('flv/h264-aac-320x240-10s.flv')));
const MEDIA = MESSAGES.filter((m) => !m.isConfig);

interface LogLine { level: number; msg: string; [k: string]: unknown }
function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { log: pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } }), lines };
}
const ERROR = 50;
const key = (app: string, stream: string): StreamKey => makeStreamKey('__defaultVhost__', app, stream);
const who = { id: 'test-pub', protocol: 'test' };

/** A stand-in ffmpeg: `tee stdin.N.flv` per run (N counts runs), so stdout is stdin and each run's input is kept. */
function teeFfmpeg(dir: string): string {
  const path = join(dir, 'ffmpeg');
  writeFileSync(path, `#!/bin/sh\nn=$(ls ${dir} | grep -c '^stdin')\nexec tee ${dir}/stdin.$n.flv\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A gateway's hub + transcoder from conf text (vhost __defaultVhost__ body). */
function setup(vhostBody: string, log: pino.Logger = pino({ level: 'silent' })) {
  const config: Config = loadConfigText(`vhost __defaultVhost__ { ${vhostBody} }`, 't.conf').config;
  const hub = new SourceHub({
    log,
    sourceLingerMs: 0,
    vhost: (v) => {
      const c = vhostConfig(config, v);
      return { gopCache: c?.gopCache ?? true, queueLengthMs: c?.queueLengthMs ?? 10_000, timeJitter: c?.timeJitter ?? 'full' };
    },
  });
  const server = new TranscodeServer({ hub, log, transcodes: (v) => vhostConfig(config, v)?.transcodes, minBackoffMs: 20, maxBackoffMs: 40 });
  server.start(createPublishTargetResolver({ hub, rtmpPorts: [RTMP_PORT], log }));
  return { hub, server };
}

/** A player that keeps what it gets. */
function capture(): ConsumerTarget & { got: RtmpMessage[]; events: string[] } {
  const got: RtmpMessage[] = [];
  const events: string[] = [];
  return { got, events, send: (m) => { got.push(m); return true; }, onSourceEvent: (e) => { events.push(e); } };
}

/** The messages of an FLV file, with the header's flags. */
function readFlv(file: string): { flags: number; messages: RtmpMessage[] } {
  const bytes = readFileSync(file);
  const messages: RtmpMessage[] = [];
  new FlvDemuxer({ onMessage: (m) => messages.push(m), onDecodeError: (e) => { throw e; } }).push(bytes);
  return { flags: bytes[4] as number, messages };
}

test('scope: none = every stream of the vhost, app, app/stream; output variables [vhost] [app] [stream] [engine]', () => {
  const k = key('live', 'cam');
  assert.ok(transcodeScopeMatches('', k));
  assert.ok(transcodeScopeMatches('live', k));
  assert.ok(transcodeScopeMatches('live/cam', k));
  assert.ok(!transcodeScopeMatches('vod', k));
  assert.ok(!transcodeScopeMatches('live/cam2', k));
  assert.ok(!transcodeScopeMatches('live/ca', k));
  const { config } = loadConfigText('vhost v { transcode { enabled on; engine sd { enabled on; output rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]; } '
    + 'engine { enabled on; output rtmp://127.0.0.1/[app]/[stream]_[engine]x; } } }', 't.conf');
  const [sd, anon] = config.vhosts.get('v')?.transcodes[0]?.engines ?? [];
  assert.ok(sd !== undefined && anon !== undefined);
  assert.equal(transcodeOutputUrl(sd, makeStreamKey('v', 'live', 'cam')), 'rtmp://127.0.0.1:[port]/live?vhost=v/cam_sd', '[port] is the resolver\'s');
  assert.equal(transcodeOutputUrl(anon, makeStreamKey('v', 'live', 'cam')), 'rtmp://127.0.0.1/live/cam_x');
});

test('publish → ffmpeg fed FLV on stdin → its stdout published as [stream]_[engine]; not transcoded again; kill → restart; unpublish → stopped', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-transcode-'));
  const { hub, server } = setup(`transcode { enabled on; ffmpeg ${teeFfmpeg(dir)}; engine sd { enabled on; vcodec libx264; vwidth 320; vheight 180;
    output rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]; } }`);
  const src = key('live', 'src');
  const out = key('live', 'src_sd');
  try {
    const player = capture();
    hub.subscribe(out, { id: 'p', protocol: 'test' }, player);
    const pub = hub.publish(src, who);
    const engines = server.engines(src);
    assert.equal(engines.length, 1);
    const engine = engines[0];
    assert.ok(engine !== undefined);
    assert.equal(engine.target.local, true);
    assert.equal(engine.target.url, `rtmp://127.0.0.1:${RTMP_PORT}/live/src_sd?vhost=__defaultVhost__`);
    for (const m of MESSAGES.slice(0, 200)) pub.write(m);
    await waitFor(() => player.got.filter((m) => !m.isConfig).length >= 150, 5_000);
    assert.ok(hub.isPublishing(out), 'the output is published in-process');
    assert.deepEqual(server.engines(out), [], 'the output is not transcoded again by the block that made it');
    assert.equal(hub.isPublishing(key('live', 'src_sd_sd')), false);

    // Run 1's stdin: FLV header (audio + video), metadata and both sequence headers, then media from a keyframe.
    const run1 = readFlv(join(dir, 'stdin.0.flv'));
    assert.equal(run1.flags, 0x05);
    assert.deepEqual(run1.messages.slice(0, 3).map((m) => m.kind), ['metadata', 'video-config', 'audio-config']);
    assert.equal(run1.messages.find((m) => !m.isConfig)?.kind, 'keyframe');
    // What ffmpeg (here: tee) printed is what the output's players get: the source's media, byte for byte.
    const media = player.got.filter((m) => !m.isConfig);
    const start = MEDIA.findIndex((m) => m.payload.equals(media[0]?.payload as Buffer));
    assert.ok(start >= 0);
    media.forEach((m, i) => assert.ok(m.payload.equals(MEDIA[start + i]?.payload as Buffer), `media ${i}`));
    const s = engine.stats();
    assert.equal(s.source, '__defaultVhost__/live/src');
    assert.equal(s.ffmpeg.mode, 'ffmpeg-pipe');
    assert.equal(s.ffmpeg.stream, '__defaultVhost__/live/src_sd');
    assert.ok(s.fedMessages >= 150 && s.fedBytes > s.fedMessages * 11, JSON.stringify(s));

    // ffmpeg killed: the output is unpublished, the supervisor restarts it, and the new run starts afresh.
    const pid = s.ffmpeg.process.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => engine.stats().ffmpeg.process.restarts === 1 && engine.stats().ffmpeg.process.state === 'running', 5_000);
    assert.ok(player.events.includes('unpublish'), 'the output was unpublished while ffmpeg was down');
    for (const m of MESSAGES.slice(200, 400)) pub.write(m);
    await waitFor(() => hub.isPublishing(out), 5_000);
    const run2 = readFlv(join(dir, 'stdin.1.flv'));
    assert.deepEqual(run2.messages.slice(0, 3).map((m) => m.kind), ['metadata', 'video-config', 'audio-config']);
    assert.equal(run2.messages[3]?.kind, 'keyframe', 'a restarted run starts at a keyframe');
    assert.ok(engine.stats().skippedMessages > 0, 'media before that keyframe was skipped');

    // Unpublish: the engine ends, ffmpeg is stopped, the output unpublished, nothing is left running.
    const pid2 = engine.stats().ffmpeg.process.pid as number;
    pub.close('done');
    assert.deepEqual(server.engines(src), []);
    await waitFor(() => !processAlive(pid2) && !hub.isPublishing(out), 5_000);
    assert.deepEqual(server.stats(), {});

    // A republish gets new engines.
    const pub2 = hub.publish(src, who);
    assert.equal(server.engines(src).length, 1);
    pub2.close('done');
  } finally {
    await server.close();
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('blocks feeding each other stop after one pass each (lineage); an output naming its own source is refused', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-transcode-'));
  const ff = teeFfmpeg(dir);
  const { log, lines } = captureLog();
  const { hub, server } = setup(`
    transcode live { enabled on; ffmpeg ${ff}; engine { enabled on; vcodec copy; output rtmp://127.0.0.1/hd/[stream]; } }
    transcode hd { enabled on; ffmpeg ${ff}; engine b { enabled on; vcodec copy; output rtmp://127.0.0.1/live/[stream]_[engine]; } }
    transcode loop/self { enabled on; ffmpeg ${ff}; engine { enabled on; output rtmp://127.0.0.1/loop/self; } }`, log);
  try {
    const pub = hub.publish(key('live', 'x'), who);
    for (const m of MESSAGES.slice(0, 100)) pub.write(m);
    await waitFor(() => hub.isPublishing(key('live', 'x_b')), 5_000);
    assert.equal(server.engines(key('live', 'x')).length, 1, 'live/x → hd/x');
    assert.equal(server.engines(key('hd', 'x')).length, 1, 'hd/x → live/x_b');
    assert.equal(server.engines(key('live', 'x_b')).length, 0, "live/x_b descends from the live block: not transcoded again");
    assert.equal(hub.isPublishing(key('hd', 'x_b')), false);

    hub.publish(key('loop', 'self'), who);
    assert.equal(server.engines(key('loop', 'self')).length, 0);
    assert.ok(lines.some((l) => l.level === ERROR && l.msg === 'transcode output is its own source: engine skipped'));
    pub.close('done');
    await waitFor(() => !hub.isPublishing(key('live', 'x_b')) && !hub.isPublishing(key('hd', 'x')), 5_000);
  } finally {
    await server.close();
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing ffmpeg is ONE error; the stream plays on untranscoded; no engine on later publishes', async () => {
  const { log, lines } = captureLog();
  const { hub, server } = setup(`transcode { enabled on; ffmpeg /nonexistent/ffmpeg; engine a { enabled on; vcodec libx264; output rtmp://127.0.0.1/[app]/[stream]_a; }
    engine b { enabled on; acodec aac; output rtmp://127.0.0.1/[app]/[stream]_b; } }`, log);
  try {
    const player = capture();
    hub.subscribe(key('live', 'cam'), { id: 'p', protocol: 'test' }, player);
    for (let run = 0; run < 2; run++) {
      const pub = hub.publish(key('live', 'cam'), who);
      assert.deepEqual(server.engines(key('live', 'cam')), []);
      for (const m of MESSAGES.slice(0, 50)) pub.write(m);
      pub.close('done');
    }
    const keyframes = MESSAGES.slice(0, 50).filter((m) => m.kind === 'keyframe').length;
    assert.equal(player.got.filter((m) => m.kind === 'keyframe').length, 2 * keyframes, 'played untranscoded, twice');
    const errors = lines.filter((l) => l.level >= ERROR);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]?.msg, "transcode: cannot run ffmpeg '/nonexistent/ffmpeg': not found or not executable; streams play untranscoded");
  } finally {
    await server.close();
    hub.close();
  }
});

test('an ffmpeg that does not read its stdin: the consumer queue drops whole GOPs, the publisher is never slowed', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-transcode-'));
  const stuck = join(dir, 'ffmpeg');
  writeFileSync(stuck, '#!/bin/sh\nexec sleep 30\n');
  chmodSync(stuck, 0o755);
  const { hub, server } = setup(`play { queue_length 2; } transcode { enabled on; ffmpeg ${stuck}; engine { enabled on; vcodec copy; acodec copy; output rtmp://127.0.0.1/[app]/[stream]_c; } }`);
  try {
    const pub = hub.publish(key('live', 'big'), who);
    const engine = server.engines(key('live', 'big'))[0];
    assert.ok(engine !== undefined);
    // 10 s of media, five times over (rising timestamps): ~3.5 MB, more than the pipe (64 KiB) + our stdin mark (1 MiB).
    const t0 = Date.now();
    for (let loop = 0; loop < 5; loop++) for (const m of MEDIA) pub.write(m.withTimestamp(m.timestamp + loop * 10_000));
    const tookMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
    const c = engine.stats().consumer;
    assert.ok(c !== undefined);
    assert.ok(c.droppedMessages > 0, `dropped ${c.droppedMessages}`);
    assert.ok(c.queuedMessages < MEDIA.length, `queued ${c.queuedMessages}`);
    assert.ok(tookMs < 2_000, `publishing took ${tookMs} ms`);
    pub.close('done');
  } finally {
    await server.close();
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
