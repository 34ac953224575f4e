import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import HLS from 'hls-parser';
import { pino } from 'pino';
import type { HlsConfig } from '../../../../core/config/hls-config.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { FlvDemuxer } from '../../../../core/protocol/flv/flv-demuxer.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { NaluType, splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import { HlsMuxer, type HlsMuxerOptions } from '../../../../core/output/hls/hls-muxer.ts';
import { fixture } from '../../../helpers/peers.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 's' };
const log = pino({ level: 'silent' });

/** Every message of the 10 s FLV fixture (H.264 320x240 25 fps, 1 s GOP; AAC), as the hub would deliver them. */
const MESSAGES: readonly RtmpMessage[] = (() => {
  const out: RtmpMessage[] = [];
  const d = new FlvDemuxer({ onMessage: (m) => out.push(m), onDecodeError: (e) => { throw e; } });
  d.push(readFileSync(fixture('flv/h264-aac-320x240-10s.flv')));
  return out;
})();
const VIDEO_ONLY = MESSAGES.filter((m) => m.type !== MessageType.Audio);
const AUDIO_ONLY = MESSAGES.filter((m) => m.type !== MessageType.Video);

function config(dir: string, over: Partial<HlsConfig> = {}): HlsConfig {
  return {
    enabled: true, fragmentMs: 2000, tdRatio: 1, aofRatio: 2.1, windowMs: 60_000, onError: 'continue', path: dir,
    m3u8File: '[app]/[stream].m3u8', tsFile: '[app]/[stream]-[seq].ts', entryPrefix: '', acodec: 'aac', vcodec: 'h264',
    cleanup: true, disposeMs: 0, waitKeyframe: true, useFmp4: false, fmp4File: '[app]/[stream]-[seq].m4s',
    initFile: '[app]/[stream]/init.mp4', ll: false, partMs: 200, ...over,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-hls-unit-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function muxer(dir: string, over: Partial<HlsConfig> = {}, opts: Partial<HlsMuxerOptions> = {}): HlsMuxer {
  return new HlsMuxer({ key: KEY, config: config(dir, over), log, now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6), ...opts });
}

function feed(m: HlsMuxer, msgs: readonly RtmpMessage[], offsetMs = 0): void {
  for (const msg of msgs) m.send(offsetMs === 0 ? msg : msg.withTimestamp(msg.timestamp + offsetMs));
}

function readPlaylist(dir: string): HLS.types.MediaPlaylist {
  const p = HLS.parse(readFileSync(join(dir, 'live', 's.m3u8'), 'utf8'));
  assert.ok(p instanceof HLS.types.MediaPlaylist);
  return p;
}

/** Elementary streams found by the project's TS demuxer in a segment file; whether the first video PES holds an IDR. */
function demuxKinds(file: string): { h264: number; adts: number; firstIsKey: boolean | undefined } {
  const r = { h264: 0, adts: 0, firstIsKey: undefined as boolean | undefined };
  const d = new TsDemuxer({
    onProgram: () => undefined,
    onPes: (track, data) => {
      if (track.codec === 'h264') {
        if (r.h264++ === 0) r.firstIsKey = splitAnnexB(data).some((n) => ((n[0] as number) & 0x1f) === NaluType.Idr);
      } else if (track.codec === 'aac') r.adts++;
    },
    onDecodeError: (e) => { throw e; },
  });
  d.push(readFileSync(file));
  d.flush();
  return r;
}

test('A/V stream: 2 s segments cut at keyframes, valid playlist, every segment starts with PAT/PMT and an IDR', async () => {
  await withDir(async (dir) => {
    const m = muxer(dir);
    feed(m, MESSAGES);
    m.onSourceEvent('unpublish');
    await m.idle;
    const p = readPlaylist(dir);
    assert.equal(p.mediaSequenceBase ?? 0, 0);
    assert.ok(p.segments.length >= 4 && p.segments.length <= 6, `segments ${p.segments.length}`);
    for (const s of p.segments.slice(0, -1)) assert.ok(Math.abs(s.duration - 2) < 0.05, `duration ${s.duration}`);
    for (const s of p.segments) assert.ok(Math.round(s.duration) <= p.targetDuration);
    const total = p.segments.reduce((a, s) => a + s.duration, 0);
    assert.ok(Math.abs(total - 10) < 0.2, `total ${total}`);
    for (const s of p.segments) {
      const bytes = readFileSync(join(dir, 'live', s.uri));
      assert.equal(bytes.length % 188, 0);
      assert.equal(bytes[0], 0x47);
      assert.equal(((bytes[1] as number) & 0x1f) << 8 | (bytes[2] as number), 0, 'PAT first');
      const k = demuxKinds(join(dir, 'live', s.uri));
      assert.ok(k.h264 > 0 && k.adts > 0, `${s.uri}: ${k.h264} video, ${k.adts} audio`);
      assert.equal(k.firstIsKey, true, `${s.uri} starts with an IDR`);
    }
    assert.deepEqual(readdirSync(join(dir, 'live')).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
    assert.equal(m.stats().pendingBytes, 0);
    await m.close();
  });
});

test('video-only and audio-only streams: audio-only cuts at hls_fragment × hls_aof_ratio', async () => {
  await withDir(async (dir) => {
    const v = muxer(dir);
    feed(v, VIDEO_ONLY);
    v.onSourceEvent('unpublish');
    await v.close();
    const pv = readPlaylist(dir);
    assert.ok(pv.segments.length >= 4);
    const kv = demuxKinds(join(dir, 'live', pv.segments[0]?.uri ?? ''));
    assert.ok(kv.h264 > 0 && kv.adts === 0);
  });
  await withDir(async (dir) => {
    const a = muxer(dir, { fragmentMs: 1000, aofRatio: 2 });
    feed(a, AUDIO_ONLY);
    a.onSourceEvent('unpublish');
    await a.close();
    const pa = readPlaylist(dir);
    assert.ok(pa.segments.length >= 4, `segments ${pa.segments.length}`);
    for (const s of pa.segments.slice(0, -1)) assert.ok(Math.abs(s.duration - 2) < 0.1, `audio-only duration ${s.duration}`);
    const ka = demuxKinds(join(dir, 'live', pa.segments[0]?.uri ?? ''));
    assert.ok(ka.adts > 0 && ka.h264 === 0);
  });
});

test('window expiry: hls_cleanup on deletes expired segments, off keeps them; MEDIA-SEQUENCE grows', async () => {
  for (const cleanup of [true, false]) {
    await withDir(async (dir) => {
      const m = muxer(dir, { windowMs: 4000, cleanup });
      feed(m, MESSAGES);
      await m.idle;
      const p = readPlaylist(dir);
      assert.ok((p.mediaSequenceBase ?? 0) >= 1, `MEDIA-SEQUENCE ${p.mediaSequenceBase}`);
      assert.ok(p.segments.reduce((a, s) => a + s.duration, 0) <= 6.1);
      assert.equal(existsSync(join(dir, 'live', 's-0.ts')), !cleanup);
      await m.close();
    });
  }
});

test('republish with a timestamp jump → EXT-X-DISCONTINUITY; hls_dispose removes every file, a republish cancels it', async () => {
  await withDir(async (dir) => {
    // hls_dispose 400 ms: long enough that a loaded machine still republishes and checks within it.
    const m = muxer(dir, { disposeMs: 400 });
    feed(m, MESSAGES.slice(0, MESSAGES.length / 2));
    m.onSourceEvent('unpublish');
    await sleep(20);
    m.onSourceEvent('publish'); // within hls_dispose: cancelled
    feed(m, MESSAGES, 1_000_000);
    m.onSourceEvent('unpublish');
    await m.idle;
    const p = readPlaylist(dir);
    const disc = p.segments.findIndex((s) => s.discontinuity === true);
    assert.ok(disc > 0, 'discontinuity after the republish');
    p.segments.forEach((s, i) => assert.equal(s.mediaSequenceNumber, i, 'sequence continues'));
    await sleep(40);
    assert.ok(existsSync(join(dir, 'live', 's.m3u8')), 'not disposed: the first dispose was cancelled');
    let ended = false;
    await sleep(800);
    ended = m.ended;
    await m.idle;
    assert.equal(ended, true, 'muxer ended after hls_dispose');
    assert.equal(existsSync(join(dir, 'live')), false, 'playlist, segments and folder removed');
  });
});

test('overflow: segment bytes over maxPendingBytes drop to the next keyframe (counted), never throw', async () => {
  await withDir(async (dir) => {
    const m = muxer(dir, {}, { maxPendingBytes: 60_000 });
    feed(m, MESSAGES);
    assert.ok(m.stats().droppedMessages > 0, 'drops counted');
    m.onSourceEvent('unpublish');
    await m.close();
    const p = readPlaylist(dir);
    for (const s of p.segments) assert.equal(demuxKinds(join(dir, 'live', s.uri)).firstIsKey, true, 'resumed at a keyframe');
  });
});

test('path variables: [duration] known at close, date variables from the wall clock, entry prefix', async () => {
  await withDir(async (dir) => {
    const m = muxer(dir, { tsFile: '[app]/[2006][01][02]/[stream]-[seq]-[duration].ts', entryPrefix: 'http://cdn/x' });
    feed(m, MESSAGES.filter((msg) => msg.timestamp < 4500));
    m.onSourceEvent('unpublish');
    await m.close();
    const p = readPlaylist(dir);
    assert.match(p.segments[0]?.uri ?? '', /^http:\/\/cdn\/x\/20260102\/s-0-2000\.ts$/);
    assert.ok(existsSync(join(dir, 'live', '20260102', 's-0-2000.ts')));
  });
});

test('hls_on_error: continue counts and skips a bad message; ignore stops HLS for the publish', async () => {
  const hevc = createMessage(MessageType.Video, 5000, Buffer.from([0x1c, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x26]));
  assert.ok(hevc !== undefined);
  for (const onError of ['continue', 'ignore'] as const) {
    await withDir(async (dir) => {
      let ends = 0;
      const m = muxer(dir, { onError }, { onEnd: () => { ends++; } });
      feed(m, MESSAGES.filter((msg) => msg.timestamp < 4000));
      m.send(hevc);
      assert.equal(m.stats().errors, 1);
      assert.equal(m.ended, onError === 'ignore');
      assert.equal(ends, onError === 'ignore' ? 1 : 0);
      await m.close();
    });
  }
});
