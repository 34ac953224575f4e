/**
 * Faults on the datagram and RTSP ingests (issue 12 §3), whole gateway in-process on loopback, real ffmpeg peers:
 * - MPEG-TS over UDP through a relay that drops 1 % and swaps 1 % of the datagrams (seeded PRNG): an HTTP-FLV
 *   player's frames keep coming (no gap longer than one GOP + slack), every GOP after a loss starts with a
 *   keyframe that arrives, and the caster counts the continuity errors (about as many as were injected);
 * - the publisher killed in the middle of a GOP: ffmpeg `-f rtsp -rtsp_transport tcp` (the TCP close unpublishes at
 *   once) and ffmpeg `-f mpegts udp://` (UDP has no close: the unpublish comes after the caster's idle_timeout).
 *   HTTP-FLV players end, RTMP players get NetStream.Play.UnpublishNotify, and a republish within 1 s plays again
 *   for the same RTMP player with rising timestamps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { fixture, freeUdpPort, run, startProcess, waitFor } from '../helpers/peers.ts';
import { playHttpFlv } from '../helpers/http-flv-player.ts';
import { AT_ONCE_MS, checkKillAndRepublish, exited } from '../helpers/kill-republish.ts';
import { prng, startUdpRelay } from '../helpers/udp-relay.ts';
import { HTTP_FLV_VHOST, startTestGateway } from './harness.ts';
import { startRobustGateway } from './robustness-harness.ts';

const FLV = fixture('flv/h264-aac-320x240-10s.flv');
const TS = fixture('ts/h264-aac-320x240-25fps-10s.ts');
const QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
/** One GOP of every source here (keyframe each second at 25 fps). */
const GOP_MS = 1_000;
/** Timer, scheduling and loopback slack on a loaded 2-core machine. */
const SLACK_MS = 500;
/** The UDP caster's idle_timeout in the kill test, seconds (the conf directive's unit). */
const UDP_IDLE_TIMEOUT_S = 1;
const keyOf = (stream: string) => makeStreamKey('__defaultVhost__', 'live', stream);

function udpCaster(port: number, stream: string): string {
  return `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:{RTMP}/live/${stream}; listen 127.0.0.1:${port}; idle_timeout ${UDP_IDLE_TIMEOUT_S}; }\n`;
}

/** ffmpeg with `args` (after -nostdin etc.), SIGKILLed after `seconds` + 30 at the latest. */
function killableFfmpeg(args: string[], seconds: number): ChildProcess {
  const child = spawn('ffmpeg', [...QUIET, ...args], { stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  child.once('exit', () => clearTimeout(timer));
  return child;
}

/** Largest difference between consecutive values. */
function maxGap(values: readonly number[]): number {
  let gap = 0;
  for (let i = 1; i < values.length; i++) gap = Math.max(gap, (values[i] as number) - (values[i - 1] as number));
  return gap;
}

test('UDP TS through a relay dropping 1 % and swapping 1 % of datagrams: frames keep coming (no stall over one GOP), recovery at each next keyframe, CC errors counted', { timeout: 60_000 }, async (t) => {
  const seconds = 14;
  const dir = mkdtempSync(join(tmpdir(), 'castgate-loss-'));
  // ~1 Mbit/s CBR (x264 filler): ~110 datagrams a second, so 1 % makes a dozen losses and swaps.
  const file = join(dir, 'cbr.ts');
  const made = await run('ffmpeg', [...QUIET, '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=700:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M', '-minrate', '1M', '-maxrate', '1M', '-bufsize', '1M', '-x264-params', 'nal-hrd=cbr',
    '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-bf', '0', '-threads', '1', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', file], { timeoutMs: 30_000 });
  assert.equal(made.code, 0, made.stderr.toString());
  const udp = await freeUdpPort();
  const g = await startTestGateway(udpCaster(udp, 'loss') + HTTP_FLV_VHOST);
  // Seeded: 1 % of the datagrams dropped, 1 % held back and sent after the next one.
  const rand = prng(12);
  const relay = await startUdpRelay(udp, () => {
    const r = rand();
    return r < 0.01 ? 'drop' : r < 0.02 ? 'hold' : 'forward';
  });
  const pusher = startProcess('ffmpeg', [...QUIET, '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', `udp://127.0.0.1:${relay.port}?pkt_size=1316`], { timeoutMs: 40_000 });
  let player: ReturnType<typeof playHttpFlv> | undefined;
  try {
    await waitFor(() => g.gw.hub.isPublishing(keyOf('loss')), 10_000);
    player = playHttpFlv(g.httpPort, '/live/loss.flv');
    const joinedAt = Date.now();
    await pusher.exited;
    const pushedAt = Date.now();
    const p = player;
    // Frames that came in real time: after the GOP cache burst at join, up to the pusher's end.
    const live = p.video.filter((v) => v.atMs >= joinedAt + 200 && v.atMs <= pushedAt);
    assert.ok(live.length >= (seconds - 3) * 25 * 0.9, `the player got ${live.length} live video frames`);
    const arrivalGap = maxGap(live.map((v) => v.atMs));
    const timestampGap = maxGap(live.map((v) => v.timestampMs));
    const keys = p.video.filter((v) => v.keyframe && v.atMs >= joinedAt + 200 && v.atMs <= pushedAt).map((v) => v.timestampMs);
    const keyGap = maxGap(keys);
    const stats = g.gw.casters[0]!.stats();
    const demux = stats.demux as Record<string, number>;
    const injected = relay.dropped() + relay.reordered();
    const summary = `relay received ${relay.received()}, dropped ${relay.dropped()}, swapped ${relay.reordered()}; player ${live.length} live frames, `
      + `longest gap ${arrivalGap} ms (arrival) / ${timestampGap} ms (timestamps), longest keyframe interval ${keyGap} ms over ${keys.length} keyframes; demux ${JSON.stringify(demux)}`;
    t.diagnostic(summary);
    assert.ok(relay.dropped() >= 5 && relay.reordered() >= 5, `enough faults injected: ${summary}`);
    assert.ok(arrivalGap <= GOP_MS + SLACK_MS, `no stall over one GOP + ${SLACK_MS} ms: ${summary}`);
    assert.ok(timestampGap <= GOP_MS + SLACK_MS, `no hole over one GOP + ${SLACK_MS} ms in the timestamps: ${summary}`);
    // A loss inside a keyframe costs that keyframe; the next one must arrive (recovery at the next keyframe).
    assert.ok(keyGap <= 2 * GOP_MS + SLACK_MS, `the next keyframe after a loss arrives: ${summary}`);
    assert.ok(keys.length >= (seconds - 3) * 0.75, `keyframes keep coming: ${summary}`);
    assert.equal(Number(stats.publishes), 1, 'losses do not republish the stream');
    // Each drop is a jump on every PID it carried; each swap a jump forward and one back: at least one error per
    // fault, a few per fault at most.
    assert.ok(demux['ccErrors']! >= injected && demux['ccErrors']! <= 6 * injected, `CC errors counted (${demux['ccErrors']}) match the ${injected} injected faults: ${summary}`);
    assert.equal(p.endedAt(), undefined, 'the player was not cut');
  } finally {
    player?.stop();
    pusher.stop();
    await pusher.exited;
    relay.close();
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RTSP publisher (ffmpeg -rtsp_transport tcp) SIGKILLed mid-GOP: the TCP close unpublishes at once; a republish within 1 s plays again for the same RTMP player with rising timestamps', { timeout: 60_000 }, async (t) => {
  const g = await startRobustGateway({ maxConnections: 100 });
  const publish = (): ChildProcess => killableFfmpeg(['-re', '-stream_loop', '-1', '-i', FLV, '-t', '30', '-c', 'copy', '-rtsp_transport', 'tcp', '-f', 'rtsp', `rtsp://127.0.0.1:${g.ports.rtsp}/live/rtspkill`], 30);
  let first: ChildProcess | undefined;
  let second: ChildProcess | undefined;
  try {
    first = publish();
    await waitFor(() => g.gw.hub.isPublishing(keyOf('rtspkill')), 15_000);
    await checkKillAndRepublish(t, g.ports, 'rtspkill', () => first?.kill('SIGKILL'), () => {
      second = publish();
    }, { unpublishWithinMs: AT_ONCE_MS });
  } finally {
    first?.kill('SIGKILL');
    second?.kill('SIGKILL');
    await Promise.all([first, second].filter((c): c is ChildProcess => c !== undefined).map(exited));
    await g.stop();
  }
});

test(`UDP TS publisher (ffmpeg -f mpegts udp://) SIGKILLed mid-GOP: unpublished within idle_timeout (${UDP_IDLE_TIMEOUT_S} s) + 1 s; a republish within 1 s plays again for the same RTMP player with rising timestamps`, { timeout: 60_000 }, async (t) => {
  const udp = await freeUdpPort();
  const g = await startTestGateway(udpCaster(udp, 'udpkill') + HTTP_FLV_VHOST);
  const publish = (): ChildProcess => killableFfmpeg(['-re', '-stream_loop', '-1', '-i', TS, '-t', '30', '-c', 'copy', '-f', 'mpegts', `udp://127.0.0.1:${udp}?pkt_size=1316`], 30);
  let first: ChildProcess | undefined;
  let second: ChildProcess | undefined;
  try {
    first = publish();
    await waitFor(() => g.gw.hub.isPublishing(keyOf('udpkill')), 15_000);
    await checkKillAndRepublish(t, { rtmp: g.rtmpPort, http: g.httpPort }, 'udpkill', () => first?.kill('SIGKILL'), () => {
      second = publish();
    }, { unpublishWithinMs: UDP_IDLE_TIMEOUT_S * 1000 + 1000 });
    assert.equal(Number(g.gw.casters[0]!.stats().publishes), 2, 'the new sender published the stream again');
  } finally {
    first?.kill('SIGKILL');
    second?.kill('SIGKILL');
    await Promise.all([first, second].filter((c): c is ChildProcess => c !== undefined).map(exited));
    await g.stop();
  }
});
