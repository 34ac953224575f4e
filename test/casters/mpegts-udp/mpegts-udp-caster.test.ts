/**
 * mpegts_over_udp caster in-process: real UDP datagrams on loopback from ONE socket (one sender address/port) into
 * the caster, publishing into the fake hub. The datagrams are the fixture's own 7×188-byte packets, with bad
 * datagrams slipped in between: a bad datagram must never damage the next one (issue 12 §1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { MpegtsUdpCaster } from '../../../casters/mpegts-udp/mpegts-udp-caster.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { makeStreamKey } from '../../../core/media/stream-key.ts';
import { TsDemuxer } from '../../../core/protocol/mpegts/ts-demuxer.ts';
import { TsToRtmp } from '../../../core/remux/ts-to-rtmp.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';

const log = pino({ level: 'silent' });
const TS = readFileSync(fixture('ts/h264-aac-320x240-25fps-10s.ts'));
const KEY = makeStreamKey('__defaultVhost__', 'live', 'udp');
const KEY_STRING = '__defaultVhost__/live/udp';
/** What `ffmpeg -f mpegts udp://...?pkt_size=1316` sends: 7 whole packets per datagram. */
const DATAGRAM_SIZE = 7 * 188;

function datagramsOf(bytes: Buffer, size = DATAGRAM_SIZE): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, Math.min(i + size, bytes.length)));
  return out;
}

/** What the hub receives for the clean stream: the fixture demuxed in one go. */
function expectedMessages(): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const d = new TsDemuxer(new TsToRtmp({ onMessage: (m) => out.push(m), onDecodeError: () => {} }));
  d.push(TS);
  d.flush();
  return out;
}
const EXPECTED = expectedMessages();
const isFrame = (m: RtmpMessage): boolean => m.kind === 'keyframe' || m.kind === 'interframe' || m.kind === 'audio';
const EXPECTED_VIDEO = EXPECTED.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe').length;

/** Deterministic PRNG (LCG) so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

interface Harness {
  readonly caster: MpegtsUdpCaster;
  readonly hub: FakeHub;
  readonly sender: Socket;
  send(d: Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

async function start(idleTimeoutMs = 60_000): Promise<Harness> {
  const hub = fakeHub();
  const caster = new MpegtsUdpCaster({
    target: { hub, key: KEY, url: 'rtmp://127.0.0.1/live/udp', local: true, admit: () => Promise.resolve() },
    listen: { host: '127.0.0.1', port: 0 },
    idleTimeoutMs,
    log,
  });
  await caster.start();
  const sender = createSocket('udp4');
  await new Promise<void>((ok) => sender.bind(0, '127.0.0.1', ok));
  let sent = 0;
  return {
    caster,
    hub,
    sender,
    async send(d) {
      await new Promise<void>((ok, fail) => sender.send(d, caster.port, '127.0.0.1', (err) => (err ? fail(err) : ok())));
      // Let the caster read its socket now and then: loopback never drops, but the receive buffer is finite.
      if (++sent % 32 === 0) await sleep(1);
    },
    async stop() {
      sender.close();
      await caster.stop();
    },
  };
}

/** The demuxer's counters of the last pushWithJunk, read before the caster stopped. */
let demuxStats: Record<string, number> = {};

/** Send the fixture datagram by datagram, with `junk()` datagrams before some of them, and stop the caster. */
async function pushWithJunk(h: Harness, junk: (i: number) => Uint8Array[]): Promise<RtmpMessage[]> {
  const datagrams = datagramsOf(TS);
  let sent = 0;
  for (let i = 0; i < datagrams.length; i++) {
    for (const j of junk(i)) {
      await h.send(j);
      sent++;
    }
    await h.send(datagrams[i]!);
    sent++;
  }
  await waitFor(() => Number(h.caster.stats().datagrams) >= sent, 5_000);
  demuxStats = h.caster.stats().demux as Record<string, number>;
  await h.stop(); // ends the session: the last PES is flushed
  return h.hub.published.get(KEY_STRING) ?? [];
}

/** A 0x47-led datagram of `size` bytes made of TS packets on PID 0x1abc (unused) with random payload, cut ragged. */
function raggedJunk(size: number, rand: () => number): Uint8Array {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = Math.floor(rand() * 256);
  for (let p = 0; p < size; p += 188) {
    d[p] = 0x47; //                 sync_byte
    d[p + 1] = 0x1a; //             TEI 0, PUSI 0, PID[12:8]
    if (p + 2 < size) d[p + 2] = 0xbc; // PID[7:0] → 0x1abc
    if (p + 3 < size) d[p + 3] = 0x10 | (d[p + 3]! & 0x0f); // payload only, any continuity_counter
  }
  return d;
}

test('clean push: every message of the fixture reaches the hub', { timeout: 30_000 }, async () => {
  const h = await start();
  const got = await pushWithJunk(h, () => []);
  assert.equal(got.filter(isFrame).length, EXPECTED.filter(isFrame).length);
  assert.equal(Number(h.caster.stats().decodeErrors), 0);
});

test('0x47-led datagrams of 200, 700 and 1000 bytes from the same sender do not damage the next datagram', { timeout: 30_000 }, async () => {
  // The user's report (issue 12 §1): with these between the valid datagrams, the stream never published.
  const h = await start();
  const rand = prng(1);
  const sizes = [200, 700, 1000];
  const got = await pushWithJunk(h, (i) => [raggedJunk(sizes[i % 3]!, rand)]);
  const video = got.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe').length;
  assert.ok(h.hub.events.some((e) => e.startsWith(`publish ${KEY_STRING}`)), `published (events: ${h.hub.events.join(', ')})`);
  assert.equal(video, EXPECTED_VIDEO, 'every video frame');
  assert.equal(got.filter((m) => m.kind === 'audio').length, EXPECTED.filter((m) => m.kind === 'audio').length, 'every audio frame');
  assert.equal(demuxStats['ccErrors'], 0, 'no continuity error: no valid packet was lost or misread');
  assert.equal(demuxStats['datagramsRagged'], 325, 'every junk datagram counted as ragged');
});

test('junk the sender keeps sending after its stream stopped does not keep the stream published', { timeout: 30_000 }, async () => {
  const h = await start(400);
  try {
    for (const d of datagramsOf(TS.subarray(0, 188 * 700))) await h.send(d);
    await waitFor(() => h.hub.events.some((e) => e.startsWith(`publish ${KEY_STRING}`)), 5_000);
    const rand = prng(9);
    const started = Date.now();
    let junkSent = 0;
    // Junk every 20 ms, far more often than idle_timeout (400 ms): were it activity, the stream would stay.
    while (!h.hub.events.some((e) => e.startsWith(`unpublish ${KEY_STRING}`)) && Date.now() - started < 8_000) {
      await h.send(raggedJunk(700, rand));
      junkSent++;
      await sleep(20);
    }
    assert.ok(h.hub.events.some((e) => e.startsWith(`unpublish ${KEY_STRING}`)), `unpublished while junk kept coming (${h.hub.events.join(', ')})`);
    assert.ok(junkSent >= 5, `junk sent until the unpublish: ${junkSent}`);
    assert.equal((h.caster.stats().demux as Record<string, number>)['pesEmitted']! > 0, true, 'the ended session\'s counters stay in the stats');
  } finally {
    await h.stop();
  }
});
