/**
 * HTTP-TS players that skip packets (core/output/http-stream.ts HttpTsStream, core/output/http-ts-fanout.ts): a
 * player whose connection stalls while more than a GOP is published has its hub queue drop GOPs; when it resumes,
 * the stream's continuity_counters jump on every PID, and each jump must be on a packet whose adaptation field has
 * discontinuity_indicator = 1 (ISO/IEC 13818-1 2.4.3.5), on a copy: the shared packets a player in step writes are
 * unchanged (equal to a fresh serialization of the same messages). ffmpeg's demuxer, fed the laggard's bytes,
 * logs no "Continuity check failed".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { createHttpLiveStream, type HttpLiveStream } from '../../../core/output/http-stream.ts';
import { TsStreamSerializer } from '../../../core/remux/rtmp-to-ts-stream.ts';
import { TsDemuxer } from '../../../core/protocol/mpegts/ts-demuxer.ts';
import { createTsPacketHeader, parseTsPacket, TS_PACKET_SIZE } from '../../../core/protocol/mpegts/ts-packet.ts';
import { aac, audioConfig, interframe, keyframe, metadata, silentLog, videoConfig } from '../hub/hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };
const PUB = { id: 'rtmp-1', protocol: 'rtmp' };

interface Connection {
  readonly socket: Writable;
  /** Each Buffer written, and a copy of it taken when it was written. */
  readonly chunks: Buffer[];
  readonly copies: Buffer[];
  /** Hold write callbacks from now on: the socket's buffer fills, write() reports full. */
  hold(): void;
  /** Complete the held writes ('drain' follows). */
  release(): void;
}

function connection(): Connection {
  const chunks: Buffer[] = [];
  const copies: Buffer[] = [];
  let held: (() => void)[] | undefined;
  const socket = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      chunks.push(chunk);
      copies.push(Buffer.from(chunk));
      if (held !== undefined) held.push(callback);
      else callback();
    },
  });
  return {
    socket, chunks, copies,
    hold: () => { held = []; },
    release: () => {
      const h = held ?? [];
      held = undefined;
      for (const cb of h) cb();
    },
  };
}

function play(hub: SourceHub, n: number): { conn: Connection; live: HttpLiveStream; bytes: () => Buffer } {
  const conn = connection();
  const live = createHttpLiveStream('ts', { transport: 'http', socket: conn.socket, chunked: false }, { mwLatencyMs: 0 });
  live.play(hub, KEY, { id: `http-ts-${n}`, protocol: 'http-ts' });
  return { conn, live, bytes: () => Buffer.concat(conn.chunks) };
}

interface CcReport {
  /** Packets with discontinuity_indicator = 1, as `pid@index`. */
  readonly flagged: string[];
  /** Counter jumps on packets without the flag, as `pid@index: expected → got`. */
  readonly unflaggedJumps: string[];
  /** Flagged packets that do not start a PES/section (2.4.3.5: the first ES byte after a CC discontinuity is an access point). */
  readonly flaggedMidUnit: string[];
}

/** continuity_counter per PID (2.4.3.3: packets without payload do not increment it). */
function checkCounters(bytes: Buffer): CcReport {
  assert.equal(bytes.length % TS_PACKET_SIZE, 0, 'whole packets');
  const h = createTsPacketHeader();
  const last = new Map<number, number>();
  const report: CcReport = { flagged: [], unflaggedJumps: [], flaggedMidUnit: [] };
  for (let o = 0, i = 0; o < bytes.length; o += TS_PACKET_SIZE, i++) {
    assert.equal(bytes[o], 0x47, `sync byte of packet ${i}`);
    assert.ok(parseTsPacket(bytes, o, h), `packet ${i} parses`);
    const hasPayload = (h.adaptationFieldControl & 1) !== 0;
    const prev = last.get(h.pid);
    if (h.discontinuityIndicator) {
      report.flagged.push(`${h.pid}@${i}`);
      if (!h.payloadUnitStartIndicator) report.flaggedMidUnit.push(`${h.pid}@${i}`);
    } else if (prev !== undefined) {
      const expected = hasPayload ? (prev + 1) & 0x0f : prev;
      if (h.continuityCounter !== expected) report.unflaggedJumps.push(`${h.pid}@${i}: ${expected} → ${h.continuityCounter}`);
    }
    last.set(h.pid, h.continuityCounter);
  }
  return report;
}

test('HTTP-TS: a player whose queue dropped GOPs gets discontinuity_indicator on the first packet of every PID after each gap, on copies; shared packets unchanged', async () => {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 2000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const pub = hub.publish(KEY, PUB);
  const sent: RtmpMessage[] = [metadata(0), videoConfig(0), audioConfig(0)];
  for (const m of sent) pub.write(m);
  const normal = play(hub, 1);
  const slow = play(hub, 2);
  let ts = 0;
  const second = async (): Promise<void> => {
    for (let f = 0; f < 25; f++, ts += 40) {
      const frames = [f === 0 ? keyframe(ts, 60_000) : interframe(ts, 12_000), aac(ts, 300 + f)];
      for (const m of frames) {
        pub.write(m);
        sent.push(m);
      }
    }
    await tick();
  };
  await second(); // both in step
  slow.conn.hold();
  for (let s = 0; s < 6; s++) await second(); // 6 GOPs: the slow player's 2 s queue overflows, GOPs dropped
  assert.ok(slow.live.droppedMessages > 0, 'the slow player dropped frames');
  assert.equal(normal.live.droppedMessages, 0);
  slow.conn.release();
  for (let i = 0; i < 20; i++) await tick();
  await second();
  slow.conn.hold(); // a second gap
  for (let s = 0; s < 6; s++) await second();
  slow.conn.release();
  for (let i = 0; i < 20; i++) await tick();
  await second();
  await second();

  const r = checkCounters(slow.bytes());
  assert.deepEqual(r.unflaggedJumps, [], 'every counter jump is flagged');
  assert.deepEqual(r.flaggedMidUnit, [], 'flags only on unit starts');
  const pids = new Set(r.flagged.map((f) => f.split('@')[0]));
  assert.deepEqual([...pids].sort(), ['0', '256', '257', '4096'], `PAT, PMT, video and audio flagged (${r.flagged.join(' ')})`);
  assert.ok(r.flagged.length >= 8, `two gaps, four PIDs each: ${r.flagged.join(' ')}`);

  // Our demuxer: no continuity error, video PES after each gap start at a keyframe (random_access_indicator).
  const errors: string[] = [];
  const d = new TsDemuxer({ onProgram: () => undefined, onPes: () => undefined, onDecodeError: (e) => errors.push(e.message) });
  d.push(slow.bytes());
  assert.deepEqual(errors, []);

  // The player in step: no flag, counters continuous, and its bytes are a fresh serialization of the same messages.
  const n = checkCounters(normal.bytes());
  assert.deepEqual([n.flagged, n.unflaggedJumps], [[], []]);
  const ser = new TsStreamSerializer();
  const fresh = Buffer.concat(sent.flatMap((m) => {
    const c = ser.write(m);
    return c === undefined ? [] : [c.bytes];
  }));
  assert.ok(normal.bytes().equals(fresh), 'shared packets as serialized');
  for (const conn of [normal.conn, slow.conn]) {
    conn.chunks.forEach((c, i) => assert.ok(c.equals(conn.copies[i] as Buffer), `written Buffer ${i} unchanged since it was written`));
  }
  // Without the flags the slow player's bytes would have jumps: the check above can fail.
  const stripped = Buffer.from(slow.bytes());
  for (let o = 0; o < stripped.length; o += TS_PACKET_SIZE) if ((stripped[o + 3] & 0x20) !== 0 && stripped[o + 4] > 0) stripped[o + 5] &= 0x7f;
  assert.ok(checkCounters(stripped).unflaggedJumps.length >= 8, 'unflagged, the gaps are counter jumps');

  // A real peer: ffmpeg's TS demuxer reports continuity failures at debug level.
  const dir = mkdtempSync(join(tmpdir(), 'castgate-ts-cc-'));
  try {
    const file = join(dir, 'slow.ts');
    const check = (bytes: Buffer): string => {
      writeFileSync(file, bytes);
      const res = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'debug', '-i', file, '-map', '0', '-c', 'copy', '-f', 'null', '-'], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(res.error, undefined, 'ffmpeg runs');
      return res.stderr;
    };
    const log = check(slow.bytes());
    assert.ok(/Input #0, mpegts/.test(log), 'ffmpeg read it as MPEG-TS');
    assert.deepEqual(log.split('\n').filter((l) => /Continuity check failed|Packet corrupt/i.test(l)), []);
    assert.ok(/Continuity check failed/.test(check(stripped)), 'ffmpeg does report the unflagged jumps');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  normal.live.stop('test');
  slow.live.stop('test');
  hub.close();
});

test('HTTP-TS audio-only: after a drop the player resumes at any frame; audio is flagged at once, PAT/PMT at the next tables', async () => {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 2000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const pub = hub.publish(KEY, PUB);
  pub.write(audioConfig(0));
  const slow = play(hub, 1);
  let ts = 0;
  const frames = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++, ts += 23) pub.write(aac(ts, 1500));
    await tick();
  };
  await frames(50);
  slow.conn.hold();
  await frames(2000); // ~3.4 MB, 46 s of audio: past the 1 MB high-water mark and the 2 s queue
  assert.ok(slow.live.droppedMessages > 0, 'the slow player dropped frames');
  slow.conn.release();
  for (let i = 0; i < 20; i++) await tick();
  await frames(100); // more than TS_AUDIO_ONLY_TABLE_INTERVAL: tables again
  const r = checkCounters(slow.bytes());
  assert.deepEqual(r.unflaggedJumps, [], 'every counter jump is flagged');
  assert.deepEqual(r.flaggedMidUnit, []);
  assert.deepEqual([...new Set(r.flagged.map((f) => f.split('@')[0]))].sort(), ['0', '257', '4096'], `PAT, PMT, audio (${r.flagged.join(' ')})`);
  const errors: string[] = [];
  new TsDemuxer({ onProgram: () => undefined, onPes: () => undefined, onDecodeError: (e) => errors.push(e.message) }).push(slow.bytes());
  assert.deepEqual(errors, []);
  slow.live.stop('test');
  hub.close();
});
