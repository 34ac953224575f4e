/**
 * TS framed per datagram (TsDatagramFramer, TsDemuxer.pushDatagram): aligned 188- and 204-byte datagrams, ffmpeg's
 * default byte-stream datagrams (packets split over two datagrams), and every kind of junk datagram from the same
 * sender — a bad datagram never damages the next one (issue 12 §1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import { alignedStride, findSync, MAX_TAIL_AGE, TsDatagramFramer } from '../../../../core/protocol/mpegts/ts-datagram-framer.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { crc32Mpeg2 } from '../../../../core/protocol/mpegts/psi.ts';
import { AUDIO_PID, PMT_PID, patSection, psiPacket, recorder, tsPacket, VIDEO_PID } from './ts-builder.ts';

const REAL = readFileSync(fileURLToPath(new URL('../../../../fixtures/ts/demux-h264-aac-2s.ts', import.meta.url)));
const packetsOf = (b: Uint8Array): Uint8Array[] => Array.from({ length: b.length / 188 }, (_, i) => b.subarray(i * 188, i * 188 + 188));
const PACKETS = packetsOf(REAL);

function slices(bytes: Uint8Array, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(Buffer.from(bytes.subarray(i, i + size)));
  return out;
}

function demuxDatagrams(datagrams: readonly Uint8Array[]): ReturnType<typeof recorder> & { demuxer: TsDemuxer } {
  const sink = recorder();
  const demuxer = new TsDemuxer(sink);
  for (const d of datagrams) demuxer.pushDatagram(d);
  demuxer.flush();
  return Object.assign(sink, { demuxer });
}
const summary = (r: ReturnType<typeof recorder>): string[] => r.pes.map((p) => `${p.pid}/${p.pts}/${p.dts}/${p.data.toString('base64')}`);
const CLEAN = demuxDatagrams(slices(REAL, 1316));
const CLEAN_SUMMARY = summary(CLEAN);

/** Same PES as the clean stream; on a difference, names the first one (a deepEqual diff of 138 PES is unusable). */
function assertCleanPes(r: ReturnType<typeof recorder>): void {
  const got = summary(r);
  const at = CLEAN_SUMMARY.findIndex((s, i) => s !== got[i]);
  const short = (s: string | undefined): string => (s === undefined ? 'nothing' : s.slice(0, 40));
  assert.ok(at < 0 && got.length === CLEAN_SUMMARY.length, `PES ${at < 0 ? got.length : at} differs: got ${short(got[at])}, want ${short(CLEAN_SUMMARY[at])} (${got.length} vs ${CLEAN_SUMMARY.length} PES)`);
}

/** Deterministic PRNG (xorshift32) for junk. */
function prng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}
function randomBytes(n: number, rand: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** The kinds of junk of issue 12 §1, none of which may cost a frame. */
const JUNK_KINDS = ['random', 'ragged', 'tei', 'bad-af', 'bad-crc-pat', 'unused-pid'] as const;
type JunkKind = (typeof JUNK_KINDS)[number];
const UNUSED_PID = 0x1abc;

function junk(kind: JunkKind, rand: () => number): Uint8Array {
  const packets = (n: number, make: (i: number) => Uint8Array): Uint8Array => Buffer.concat(Array.from({ length: n }, (_, i) => make(i)));
  switch (kind) {
    case 'random': {
      // odd sizes up to 65000 bytes; no sync byte at all half the time, a leading one otherwise
      const d = randomBytes(1 + Math.floor(rand() * (rand() < 0.2 ? 65000 : 2000)), rand);
      for (let i = 0; i < d.length; i++) if (d[i] === 0x47) d[i] = 0x46;
      if (rand() < 0.5) d[0] = 0x47;
      return d;
    }
    case 'ragged': {
      // 0x47-led packets on an unused PID cut at a length that is not a multiple of 188
      const sizes = [200, 700, 1000, 189, 1315, 1317, 1500];
      const size = sizes[Math.floor(rand() * sizes.length)]!;
      return packets(Math.ceil(size / 188), (i) => tsPacket({ pid: UNUSED_PID, cc: i, payload: randomBytes(184, rand) })).subarray(0, size);
    }
    case 'tei':
      // transport_error_indicator set, on the live PIDs, counters and payload random
      return packets(7, (i) => tsPacket({ pid: i % 2 === 0 ? VIDEO_PID : AUDIO_PID, pusi: rand() < 0.5, cc: Math.floor(rand() * 16), payload: randomBytes(184, rand), transportError: true }));
    case 'bad-af':
      // adaptation_field_length beyond 182 with a payload on the live PIDs: impossible, the packet is discarded
      return packets(7, (i) => {
        const p = tsPacket({ pid: i % 2 === 0 ? VIDEO_PID : AUDIO_PID, cc: Math.floor(rand() * 16), payload: randomBytes(184, rand) });
        p[3] = 0x30 | (p[3]! & 0x0f); // adaptation_field_control '11'
        p[4] = 183 + Math.floor(rand() * 73); // adaptation_field_length 183..255
        return p;
      });
    case 'bad-crc-pat': {
      const section = patSection([[1, 0x1ff0], [2, 0x1ff1]]);
      section[section.length - 1]! ^= 0xff; // CRC_32 broken
      return psiPacket(0, section, Math.floor(rand() * 16));
    }
    case 'unused-pid':
      return packets(7, (i) => tsPacket({ pid: UNUSED_PID + i, pusi: i === 0, cc: Math.floor(rand() * 16), payload: randomBytes(184, rand) }));
  }
}

test('alignedStride and findSync: 188, 204, ragged and unaligned datagrams', () => {
  const d188 = Buffer.concat(PACKETS.slice(0, 7));
  assert.equal(alignedStride(d188), 188);
  assert.equal(alignedStride(d188.subarray(0, 188)), 188, 'one packet');
  assert.equal(alignedStride(d188.subarray(0, 1000)), 188, 'ragged');
  assert.equal(alignedStride(d188.subarray(10)), 0, 'starts mid-packet');
  assert.equal(alignedStride(d188.subarray(0, 100)), 0, 'shorter than a packet');
  const rs = withReedSolomon(PACKETS.slice(0, 7));
  assert.equal(alignedStride(rs), 204);
  assert.equal(alignedStride(rs.subarray(0, 204)), 204, 'one 204-byte packet');
  assert.equal(findSync(d188, 1), 188);
  assert.equal(findSync(d188.subarray(10), 0), 178);
  assert.equal(findSync(d188.subarray(0, 187), 0), -1);
  assert.equal(findSync(Buffer.alloc(1000, 0x47), 0), 0);
  assert.equal(findSync(Buffer.alloc(0), 0), -1);
});

/** Packets with 16 Reed-Solomon bytes each (random: only their presence matters here). */
function withReedSolomon(packets: readonly Uint8Array[]): Buffer {
  const rand = prng(7);
  return Buffer.concat(packets.map((p) => Buffer.concat([p, randomBytes(16, rand)])));
}

test('1316-byte datagrams give the same PES as the byte stream; no framing counters move', () => {
  const sink = recorder();
  const d = new TsDemuxer(sink);
  d.push(REAL);
  d.flush();
  assertCleanPes(sink);
  assert.deepEqual(CLEAN.errors, []);
  const s = CLEAN.demuxer.stats;
  assert.equal(s.datagrams, Math.ceil(REAL.length / 1316));
  assert.deepEqual([s.datagramsDropped, s.datagramsRagged, s.datagramsRs, s.bytesDropped, s.packetsJoined], [0, 0, 0, 0, 0]);
});

test('204-byte packets (Reed-Solomon bytes) are detected per datagram, mixed with 188-byte datagrams', () => {
  const datagrams: Uint8Array[] = [];
  for (let i = 0; i < PACKETS.length; i += 7) {
    const group = PACKETS.slice(i, i + 7);
    datagrams.push(i % 14 === 0 ? withReedSolomon(group) : Buffer.concat(group));
  }
  const r = demuxDatagrams(datagrams);
  assertCleanPes(r);
  assert.deepEqual(r.errors, []);
  assert.equal(r.demuxer.stats.datagramsRs, Math.ceil(datagrams.length / 2));
});

test("ffmpeg's default datagrams (1472 bytes = 7.8 packets, short completions): packets split over two datagrams are joined", () => {
  // What ffmpeg 5.1 `-f mpegts udp://host:port` (no pkt_size) sends (captured: 1472@0 32@156 1128@0 1472@0
  // 1472@156 64@124 ...): its byte stream in 1472-byte datagrams, and at each flush point (a packet boundary) a
  // shorter one with what is left, e.g. 32 bytes completing a packet.
  const rand = prng(5);
  const datagrams: Buffer[] = [];
  for (let packet = 0; packet < PACKETS.length;) {
    const flushAfter = Math.min(PACKETS.length, packet + 3 + Math.floor(rand() * 20));
    const segment = REAL.subarray(packet * 188, flushAfter * 188);
    for (let i = 0; i < segment.length; i += 1472) datagrams.push(Buffer.from(segment.subarray(i, i + 1472)));
    packet = flushAfter;
  }
  assert.ok(datagrams.some((d) => d.length < 188), 'some datagrams only complete a packet');
  const r = demuxDatagrams(datagrams);
  assertCleanPes(r);
  assert.deepEqual(r.errors, []);
  assert.ok(r.demuxer.stats.packetsJoined > 30, `joined ${r.demuxer.stats.packetsJoined}`);
  assert.equal(r.demuxer.stats.bytesDropped, 0);
});

test('0x47-led ragged datagrams (200, 700, 1000 bytes) between valid ones: identical PES, nothing lost', () => {
  const rand = prng(3);
  const datagrams: Uint8Array[] = [];
  const sizes = [200, 700, 1000];
  slices(REAL, 1316).forEach((d, i) => {
    datagrams.push(Buffer.concat(Array.from({ length: 6 }, () => tsPacket({ pid: UNUSED_PID, cc: 0, payload: randomBytes(184, rand) }))).subarray(0, sizes[i % 3]));
    datagrams.push(d);
  });
  const r = demuxDatagrams(datagrams);
  assertCleanPes(r);
  assert.equal(r.demuxer.stats.ccErrors, 0);
  assert.equal(r.demuxer.stats.datagramsRagged, Math.ceil(REAL.length / 1316));
  assert.ok(r.demuxer.stats.bytesDropped > 0);
});

for (const kind of JUNK_KINDS) {
  test(`junk datagrams of kind '${kind}' after every valid one: identical PES output`, () => {
    const rand = prng(kind.length * 7919);
    const datagrams: Uint8Array[] = [];
    for (const d of slices(REAL, 1316)) datagrams.push(junk(kind, rand), d);
    const r = demuxDatagrams(datagrams);
    assertCleanPes(r);
    assert.equal(r.demuxer.stats.pesDropped, 0);
    assert.ok(r.errors.every((e) => e instanceof GatewayError));
  });
}

test('byte-stream datagrams with junk of every kind slipped between the halves of split packets: identical PES', () => {
  const rand = prng(11);
  const datagrams: Uint8Array[] = [];
  for (const d of slices(REAL, 1472)) {
    datagrams.push(d);
    for (let k = Math.floor(rand() * 4); k > 0; k--) datagrams.push(junk(JUNK_KINDS[Math.floor(rand() * JUNK_KINDS.length)]!, rand));
  }
  const r = demuxDatagrams(datagrams);
  assertCleanPes(r);
});

test('a tail can be joined by the next MAX_TAIL_AGE datagrams; the oldest matching tail wins; unused tails are counted', () => {
  const packets: { buf: Buffer; transient: boolean }[] = [];
  const f = new TsDatagramFramer({ onPacket: (buf, offset, transient) => packets.push({ buf: Buffer.from(buf.subarray(offset, offset + 188)), transient }), onDecodeError: () => {} });
  const stream = Buffer.concat(PACKETS.slice(0, 4));
  const junkTail = Buffer.concat([PACKETS[5]!.subarray(0, 112)]); // same length as the real tail: a competing match
  f.push(stream.subarray(0, 300)); //                  packet 0 + 112-byte tail of packet 1
  for (let i = 0; i < MAX_TAIL_AGE - 1; i++) f.push(i === 0 ? junkTail : Buffer.from([0x47, 1, 2])); // newer junk tails
  f.push(stream.subarray(300)); //                     76 bytes completing packet 1, then packets 2, 3
  assert.deepEqual(packets.map((p) => p.buf), PACKETS.slice(0, 4).map((p) => Buffer.from(p)));
  assert.equal(packets[1]!.transient, true, 'the joined packet comes from the scratch buffer');
  assert.equal(f.stats.packetsJoined, 1);
  assert.equal(f.stats.bytesDropped, 112 + (MAX_TAIL_AGE - 2) * 3, 'the join dropped the junk tails');
  // One datagram too many in between: the tail has expired when its continuation comes.
  packets.length = 0;
  f.push(stream.subarray(0, 300));
  for (let i = 0; i < MAX_TAIL_AGE; i++) f.push(Buffer.from([0x47, 1, 2]));
  const dropped = f.stats.bytesDropped;
  f.push(stream.subarray(300));
  assert.equal(packets.length, 3, 'packet 0, then 2 and 3; packet 1 lost');
  assert.equal(f.stats.bytesDropped, dropped + 112 + 76, 'the expired tail and the 76 bytes before the first packet');
  f.flush();
  assert.equal(f.stats.bytesDropped, dropped + 112 + 76 + MAX_TAIL_AGE * 3, 'flush drops the tails still kept');
});

test('an aligned datagram never takes a tail, whatever came before it', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.integer({ min: 0, max: PACKETS.length - 7 }), (junkBytes, at) => {
      const delivered: Buffer[] = [];
      const f = new TsDatagramFramer({ onPacket: (buf, offset) => delivered.push(Buffer.from(buf.subarray(offset, offset + 188))), onDecodeError: () => {} });
      f.push(junkBytes);
      delivered.length = 0;
      const d = Buffer.concat(PACKETS.slice(at, at + 7));
      f.push(d);
      assert.deepEqual(delivered, PACKETS.slice(at, at + 7).map((p) => Buffer.from(p)));
    }),
    { numRuns: 500, seed: 12 },
  );
});

test('fast-check: arbitrary datagrams never throw, are not mutated, and the counters add up', () => {
  const datagram = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 3000 }),
    fc.uint8Array({ minLength: 0, maxLength: 400 }).map((b) => (b.length > 0 ? (b[0] = 0x47, b) : b)),
    fc.tuple(fc.integer({ min: 0, max: PACKETS.length - 8 }), fc.integer({ min: 0, max: 1600 }), fc.integer({ min: 0, max: 1600 }))
      .map(([at, from, to]) => Uint8Array.from(Buffer.concat(PACKETS.slice(at, at + 8)).subarray(Math.min(from, to), Math.max(from, to)))),
  );
  fc.assert(
    fc.property(fc.array(datagram, { maxLength: 40 }), (datagrams) => {
      const sink = recorder();
      const d = new TsDemuxer(sink);
      const copies = datagrams.map((x) => Uint8Array.from(x));
      for (const x of datagrams) d.pushDatagram(x);
      d.flush();
      assert.deepEqual(datagrams, copies, 'input integrity');
      const s = d.stats;
      const total = datagrams.reduce((n, x) => n + x.length, 0);
      assert.equal(s.datagrams, datagrams.length);
      assert.ok(s.packets * 188 + s.bytesDropped <= total + s.packetsJoined * 188, 'no byte counted twice');
      assert.ok(s.datagramsDropped <= s.datagrams && s.datagramsRagged <= s.datagrams);
      assert.ok(sink.errors.every((e) => e instanceof GatewayError));
    }),
    { numRuns: 300, seed: 42 },
  );
});

test('a PAT with a wrong CRC between datagrams is reported and ignored', () => {
  const bad = patSection([[1, PMT_PID + 1]]);
  bad[bad.length - 2]! ^= 0x01;
  assert.notEqual(crc32Mpeg2(bad), 0);
  const datagrams: Uint8Array[] = [];
  for (const d of slices(REAL, 1316)) datagrams.push(psiPacket(0, bad, 5), d);
  const r = demuxDatagrams(datagrams);
  assertCleanPes(r);
  // the bad PAT packet is identical each time: after a real PAT packet it counts as a new packet, after another bad
  // one as a duplicate (same continuity_counter, same bytes)
  assert.ok(r.demuxer.stats.crcErrors > 0);
  assert.ok(r.errors.some((e) => e.message.includes('CRC_32 mismatch')));
  assert.deepEqual(r.programs.length, 1, 'the program was announced once');
});

test('activity moves with PES and good PAT/PMT sections, never with junk datagrams', () => {
  const d = new TsDemuxer(recorder());
  for (const x of slices(REAL, 1316).slice(0, 20)) d.pushDatagram(x);
  const before = d.activity;
  assert.ok(before > 0);
  const rand = prng(21);
  for (let i = 0; i < 300; i++) d.pushDatagram(junk(JUNK_KINDS[i % JUNK_KINDS.length]!, rand));
  assert.equal(d.activity, before, 'junk of every kind');
  for (const x of slices(REAL, 1316).slice(20, 30)) d.pushDatagram(x);
  assert.ok(d.activity > before, 'the stream again');
});
