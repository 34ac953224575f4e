import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { pino } from 'pino';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { AudioFastCache, AudioFastCacheServer, MAX_FAST_CACHE_BYTES } from '../../../core/output/audio-fast-cache.ts';
import { HttpServer } from '../../../core/output/http-server.ts';
import { audioConfig, interframe, keyframe, metadata, videoConfig } from '../hub/hub-vectors.ts';

const log = pino({ level: 'silent' });
/** AAC LC frame duration at 44.1 kHz: 1024 samples ≈ 23 ms. */
const FRAME_MS = 23;

/** AAC raw frame whose first two body bytes carry its index (read back from the ADTS stream). */
function aacFrame(index: number, ts: number, size = 40): RtmpMessage {
  const body = Buffer.alloc(2 + size, 0x21);
  body[0] = 0xaf; // SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo
  body[1] = 0x01; // AACPacketType 1: raw
  body.writeUInt16BE(index, 2);
  const m = createMessage(MessageType.Audio, ts, body);
  assert.ok(m !== undefined);
  return m;
}

/** MP3 frame stand-in (SoundFormat 2): only the tag header byte matters to the cache. */
function mp3Frame(ts: number): RtmpMessage {
  const m = createMessage(MessageType.Audio, ts, Buffer.from([0x2f, 0xff, 0xfb, 0x90, 0x00]));
  assert.ok(m !== undefined);
  return m;
}

const tsOf = (msgs: readonly RtmpMessage[]): number[] => msgs.map((m) => m.timestamp);

test('AudioFastCache: keeps the last N ms of audio (sliding window), sequence header first, video and metadata ignored', () => {
  const cache = new AudioFastCache({ windowMs: 1000 });
  const asc = audioConfig(0);
  cache.send(metadata(0));
  cache.send(videoConfig(0));
  cache.send(asc);
  for (let i = 0; i < 200; i++) {
    cache.send(aacFrame(i, i * FRAME_MS));
    if (i % 25 === 0) cache.send(keyframe(i * FRAME_MS));
    else if (i % 5 === 0) cache.send(interframe(i * FRAME_MS));
  }
  const snap = cache.snapshot();
  assert.equal(snap[0], asc, 'sequence header first');
  const audio = snap.slice(1);
  assert.ok(audio.every((m) => m.kind === 'audio'));
  const ts = tsOf(audio);
  assert.equal(ts.at(-1), 199 * FRAME_MS, 'newest kept');
  assert.ok((ts.at(-1) as number) - (ts[0] as number) <= 1000, 'span within the window');
  assert.ok((ts.at(-1) as number) - (ts[0] as number) > 1000 - FRAME_MS, 'the window is full, not emptied');
  assert.deepEqual(ts, [...ts].sort((a, b) => a - b), 'oldest first');
  assert.equal(new Set(ts).size, ts.length, 'no duplicates');
  assert.equal(cache.length, audio.length);
  assert.equal(cache.spanMs, (ts.at(-1) as number) - (ts[0] as number));
  assert.equal(cache.bytes, audio.reduce((n, m) => n + m.payload.length, 0));
});

test('AudioFastCache: the byte cap evicts the oldest first and always keeps the newest; default cap is MAX_FAST_CACHE_BYTES', () => {
  const cache = new AudioFastCache({ windowMs: 3_600_000, maxBytes: 1000 });
  for (let i = 0; i < 100; i++) cache.send(aacFrame(i, i * FRAME_MS, 98)); // 100 bytes each
  assert.ok(cache.bytes <= 1000);
  assert.equal(cache.length, 10);
  assert.deepEqual(tsOf(cache.snapshot()), Array.from({ length: 10 }, (_, k) => (90 + k) * FRAME_MS));
  const big = new AudioFastCache({ windowMs: 1000, maxBytes: 10 });
  big.send(aacFrame(0, 0, 98));
  assert.equal(big.length, 1, 'one frame larger than the cap still stays (the newest)');
  big.send(aacFrame(1, FRAME_MS, 98));
  assert.deepEqual(tsOf(big.snapshot()), [FRAME_MS]);
  assert.ok(MAX_FAST_CACHE_BYTES >= 2_400_000, '60 s of 320 kbit/s fits');
  // a long run: the ring compacts and stays bounded
  const long = new AudioFastCache({ windowMs: 500 });
  for (let i = 0; i < 20_000; i++) long.send(mp3Frame(i * 26));
  assert.ok(long.length <= 21 && long.spanMs <= 500, `${long.length} frames over ${long.spanMs} ms`);
});

test('AudioFastCache: a timestamp going back or a new AudioSpecificConfig restarts it; a repeated one does not', () => {
  const cache = new AudioFastCache({ windowMs: 5000 });
  cache.send(audioConfig(0));
  for (let i = 0; i < 10; i++) cache.send(aacFrame(i, 1000 + i * FRAME_MS));
  cache.send(audioConfig(1200)); // same bytes: kept
  assert.equal(cache.length, 10);
  cache.send(aacFrame(10, 500)); // backwards: a discontinuity
  assert.deepEqual(tsOf(cache.snapshot()), [0, 500]);
  const other = createMessage(MessageType.Audio, 600, Buffer.from([0xaf, 0x00, 0x11, 0x90])); // AAC LC 48 kHz stereo
  assert.ok(other !== undefined);
  cache.send(other);
  assert.deepEqual(cache.snapshot(), [other], 'new ASC: older frames dropped');
  cache.onSourceEvent('publish');
  assert.deepEqual(cache.snapshot(), []);
});

test('AudioFastCacheServer: one cache per published stream of a fast_cache vhost; unpublish clears and detaches it; republish starts empty', () => {
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const server = new AudioFastCacheServer({ hub, log, fastCacheMs: (vhost) => (vhost === 'fast' ? 2000 : 0) });
  server.start();
  const key = { vhost: 'fast', app: 'live', stream: 'a' };
  const plain = { vhost: 'plain', app: 'live', stream: 'b' };
  assert.deepEqual(server.snapshot(key), [], 'enabled, nothing published yet');
  assert.equal(server.snapshot(plain), undefined, 'fast_cache 0: no cache');
  const pub = hub.publish(key, { id: 't-1', protocol: 'test' });
  const pubPlain = hub.publish(plain, { id: 't-2', protocol: 'test' });
  assert.equal(server.cache(plain), undefined);
  pubPlain.write(aacFrame(0, 0));
  assert.equal(server.snapshot(plain), undefined);
  pub.write(audioConfig(0));
  for (let i = 0; i < 150; i++) pub.write(aacFrame(i, i * FRAME_MS));
  const snap = server.snapshot(key) ?? [];
  assert.equal(snap[0]?.kind, 'audio-config');
  assert.ok(snap.length > 80 && snap.length < 90, `≈2 s of 23 ms frames: ${snap.length}`);
  assert.equal(hub.streams().find((s) => s.key === 'fast/live/a')?.consumers, 1, 'one cache for the stream, whatever the players');
  pub.close();
  assert.equal(server.cache(key), undefined, 'detached at unpublish');
  assert.deepEqual(server.snapshot(key), []);
  assert.equal(hub.streams().find((s) => s.key === 'fast/live/a'), undefined, 'the cache does not keep the source alive');
  const again = hub.publish(key, { id: 't-3', protocol: 'test' });
  assert.deepEqual(server.snapshot(key), [], 'republish: empty, nothing from the old stream');
  again.write(aacFrame(0, 0));
  assert.equal(server.snapshot(key)?.length, 1);
  server.close();
  assert.equal(server.cache(key), undefined);
  hub.publish({ vhost: 'fast', app: 'live', stream: 'late' }, { id: 't-4', protocol: 'test' });
  assert.equal(server.cache({ vhost: 'fast', app: 'live', stream: 'late' }), undefined, 'no caches after close');
  hub.close();
});

test('AudioFastCacheServer: the hub stopping detaches the cache', () => {
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const server = new AudioFastCacheServer({ hub, log, fastCacheMs: () => 1000 });
  server.start();
  const key = { vhost: 'v', app: 'live', stream: 'a' };
  hub.publish(key, { id: 't-1', protocol: 'test' }).write(aacFrame(0, 0));
  assert.equal(server.snapshot(key)?.length, 1);
  hub.close();
  assert.equal(server.cache(key), undefined);
  server.close();
});

/** GET a live .aac for `ms`, return the frame indices carried by the ADTS frames received. */
function readAdtsIndices(port: number, path: string, whileOpen: () => void, ms: number): Promise<number[]> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.on('data', (d: Buffer) => chunks.push(d));
      setImmediate(whileOpen);
      setTimeout(() => {
        req.destroy();
        const body = Buffer.concat(chunks);
        const out: number[] = [];
        for (let o = 0; o + 7 <= body.length;) {
          assert.equal(body[o], 0xff, 'ADTS syncword');
          const len = ((body[o + 3] & 0x03) << 11) | (body[o + 4] << 3) | (body[o + 5] >> 5); // aac_frame_length
          out.push(body.readUInt16BE(o + 7));
          o += len;
        }
        ok(out);
      }, ms);
    });
    req.on('error', fail);
    req.end();
  });
}

test('HTTP .aac: the cached audio first, in order, then live, with no duplicate of the GOP replay; fast_cache 0 as before', async () => {
  for (const fastCacheMs of [1000, 0]) {
    const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
    const fast = new AudioFastCacheServer({ hub, log, fastCacheMs: () => fastCacheMs });
    fast.start();
    const http = new HttpServer({
      hub,
      listen: [{ host: '127.0.0.1', port: 0 }],
      dir: undefined,
      log,
      remux: () => ({ enabled: true, mount: '[vhost]/[app]/[stream].flv' }),
      vhostNames: () => [],
      fastCache: (key) => fast.snapshot(key),
    });
    await http.start();
    try {
      const pub = hub.publish({ vhost: '__defaultVhost__', app: 'live', stream: 'x' }, { id: 't-1', protocol: 'test' });
      pub.write(videoConfig(0));
      pub.write(audioConfig(0));
      // 100 frames (2.3 s); keyframes at frames 0 and 80 (the hub's consumers take audio of a stream with video
      // from its first keyframe on); the GOP cache replays frames 80..99 to a new player
      for (let i = 0; i < 100; i++) {
        if (i === 0 || i === 80) pub.write(keyframe(i * FRAME_MS));
        pub.write(aacFrame(i, i * FRAME_MS));
      }
      const got = await readAdtsIndices(http.ports[0] as number, '/live/x.aac', () => {
        for (let i = 100; i < 105; i++) pub.write(aacFrame(i, i * FRAME_MS));
      }, 150);
      const live = [100, 101, 102, 103, 104];
      if (fastCacheMs > 0) {
        const first = 99 - Math.floor(1000 / FRAME_MS); // the 1 s window ends at frame 99
        assert.deepEqual(got, [...Array.from({ length: 100 - first }, (_, k) => first + k), ...live]);
      } else {
        assert.deepEqual(got, [...Array.from({ length: 20 }, (_, k) => 80 + k), ...live], 'GOP replay, then live');
      }
    } finally {
      await http.close();
      fast.close();
      hub.close();
    }
  }
});
