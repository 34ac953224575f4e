/**
 * TsDemuxer on damaged input: hand-built packets (ts-builder.ts) and a real ffmpeg stream with bytes flipped,
 * cut, inserted, dropped and duplicated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { MAX_PES_SIZE } from '../../../../core/protocol/mpegts/pes.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import {
  AUDIO_PID, concat, patSection, pesBytes, pesPackets, PMT_PID, pmtSection, programPackets, psiPacket, recorder, tsPacket, VIDEO_PID,
} from './ts-builder.ts';

const REAL = readFileSync(fileURLToPath(new URL('../../../../fixtures/ts/demux-h264-aac-2s.ts', import.meta.url)));
const packetsOf = (b: Uint8Array): Uint8Array[] => Array.from({ length: b.length / 188 }, (_, i) => b.subarray(i * 188, i * 188 + 188));

function run(bytes: Uint8Array): ReturnType<typeof recorder> & { demuxer: TsDemuxer } {
  const sink = recorder();
  const demuxer = new TsDemuxer(sink);
  demuxer.push(bytes);
  demuxer.flush();
  return Object.assign(sink, { demuxer });
}
const codes = (r: { errors: GatewayError[] }): string[] => r.errors.map((e) => e.code);
const summary = (r: ReturnType<typeof recorder>): string[] => r.pes.map((p) => `${p.pid}/${p.pts}/${p.dts}/${p.data.toString('base64')}`);
/** Deterministic pseudo-random bytes (xorshift32), never 0x47 unless allowed. */
function garbage(n: number, seed: number, allowSync = false): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    let b = x & 0xff;
    if (!allowSync && b === 0x47) b = 0x46;
    out[i] = b;
  }
  return out;
}

const CLEAN = run(REAL);

test('random garbage between packets: one resync each, identical PES output', () => {
  const pkts = packetsOf(REAL);
  const parts: Uint8Array[] = [];
  let inserted = 0;
  for (let i = 0; i < pkts.length; i++) {
    if (i > 0 && i % 97 === 0) {
      const g = garbage(1 + (i % 300), i);
      if (i % 2 === 0) g[Math.min(5, g.length - 1)] = 0x47; // a false sync candidate that confirmation rejects
      parts.push(g);
      inserted++;
    }
    parts.push(pkts[i]!);
  }
  const r = run(concat(parts));
  assert.deepEqual(summary(r), summary(CLEAN));
  assert.equal(r.demuxer.stats.resyncs, inserted);
  assert.deepEqual(new Set(codes(r)), new Set([ErrorCode.TsSync]));
});

test('garbage before the first packet and a stream starting mid-packet are skipped', () => {
  const r = run(concat([garbage(1000, 7, true), REAL.subarray(100)]));
  assert.ok(r.demuxer.stats.resyncs >= 1);
  assert.ok(r.pes.length >= CLEAN.pes.length - 2, 'all but the first PES of each track');
});

test('after a resync, a last packet that cannot be confirmed yet is processed at flush', () => {
  const sink = recorder();
  const d = new TsDemuxer(sink);
  d.push(concat([garbage(10, 3), psiPacket(0, patSection([[1, PMT_PID]]), 0)]));
  assert.equal(d.stats.packets, 0, 'waiting for the confirming sync byte');
  d.flush();
  assert.equal(d.stats.packets, 1);
  assert.equal(d.stats.resyncs, 1);
});

test('dropped packet: CC gap drops that PES only, later PES still emitted', () => {
  const pkts = packetsOf(REAL);
  // a video continuation packet in the middle of the stream
  const victim = pkts.findIndex((p, i) => i > 300 && ((p[1]! & 0x1f) << 8 | p[2]!) === VIDEO_PID && (p[1]! & 0x40) === 0);
  const r = run(concat(pkts.filter((_, i) => i !== victim)));
  const s = r.demuxer.stats;
  assert.equal(s.ccErrors, 1);
  assert.equal(s.pesDropped, 1);
  assert.equal(r.pes.length, CLEAN.pes.length - 1);
  assert.deepEqual(codes(r), [ErrorCode.TsContinuity]);
  const lastVideo = (x: typeof r): unknown => x.pes.filter((p) => p.pid === VIDEO_PID).at(-1)?.pts;
  assert.equal(lastVideo(r), lastVideo(CLEAN), 'PES after the gap are emitted');
});

test('duplicate packets (same CC, same payload) are ignored', () => {
  const pkts = packetsOf(REAL);
  const parts: Uint8Array[] = [];
  pkts.forEach((p, i) => { parts.push(p); if (i % 50 === 10) parts.push(p); });
  const r = run(concat(parts));
  assert.deepEqual(summary(r), summary(CLEAN));
  assert.deepEqual(r.errors, []);
});

test('flipped bytes never throw and most PES survive', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const damaged = Uint8Array.from(REAL);
    const pos = garbage(40, seed, true);
    for (let k = 0; k < 40; k += 2) damaged[((pos[k]! << 8 | pos[k + 1]!) * 7 + seed * 1000) % damaged.length]! ^= 0xff;
    const r = run(damaged);
    assert.ok(r.pes.length > CLEAN.pes.length / 2, `seed ${seed}: ${r.pes.length} PES`);
    assert.ok(r.errors.every((e) => e instanceof GatewayError));
  }
});

test('truncated stream: open video PES emitted at flush, partial packet reported', () => {
  const cut = REAL.subarray(0, 188 * 200 + 50);
  const r = run(cut);
  assert.ok(codes(r).includes(ErrorCode.Truncated));
  const video = r.pes.filter((p) => p.pid === VIDEO_PID);
  const clean = CLEAN.pes.filter((p) => p.pid === VIDEO_PID);
  const last = video.at(-1)!;
  const same = clean.find((p) => p.pts === last.pts)!;
  assert.ok(last.data.length < same.data.length, 'last video PES is the truncated one, emitted at flush');
  assert.deepEqual(summary({ ...r, pes: video.slice(0, -1) }), summary({ ...CLEAN, pes: clean.slice(0, video.length - 1) }));
});

test('PAT with bad CRC is ignored and reported; the next good PAT is used', () => {
  const badPat = Uint8Array.from(psiPacket(0, patSection([[1, PMT_PID]]), 0));
  badPat[5 + 8] ^= 0x01; // program_number byte (section starts after pointer_field at payload offset 1)
  const [, pmt] = programPackets();
  const pes = pesPackets(VIDEO_PID, pesBytes(Uint8Array.of(0, 0, 0, 1, 9, 0xf0), { pts: 1000, length: 0 }), 0, true);
  const r = run(concat([badPat, pmt!, ...pes, psiPacket(0, patSection([[1, PMT_PID]]), 1), psiPacket(PMT_PID, pmtSection(1, VIDEO_PID, [[0x1b, VIDEO_PID]]), 1), ...pesPackets(VIDEO_PID, pesBytes(Uint8Array.of(0, 0, 0, 1, 9, 0x10), { pts: 4600, length: 0 }), 1)]));
  assert.equal(r.demuxer.stats.crcErrors, 1);
  assert.deepEqual(codes(r), [ErrorCode.TsCrc]);
  assert.equal(r.programs.length, 1);
  assert.deepEqual(r.pes.map((p) => p.pts), [4600], 'PES before the program is known are not delivered');
});

test('PES_packet_length past the end: PES dropped at the next PUSI, next PES emitted', () => {
  const liar = pesBytes(Uint8Array.of(1, 2, 3, 4), { streamId: 0xc0, pts: 10, length: 1000 });
  const next = pesBytes(Uint8Array.of(5, 6), { streamId: 0xc0, pts: 20 });
  const r = run(concat([...programPackets(), ...pesPackets(AUDIO_PID, liar, 0), ...pesPackets(AUDIO_PID, next, 1)]));
  assert.deepEqual(r.pes.map((p) => [p.pts, [...p.data]]), [[20, [5, 6]]]);
  assert.deepEqual(codes(r), [ErrorCode.TsPes]);
  assert.equal(r.demuxer.stats.pesDropped, 1);
});

test('33-bit PTS/DTS near 2^33 and wrapping to 0 are delivered raw', () => {
  const near = 2 ** 33 - 3000;
  const a = pesBytes(Uint8Array.of(0, 0, 1, 9), { pts: 2 ** 33 - 1, dts: near, length: 0 });
  const b = pesBytes(Uint8Array.of(0, 0, 1, 9), { pts: 2 ** 33 + 2000 - 2 ** 33, dts: 600, length: 0 });
  const r = run(concat([...programPackets([[0x1b, VIDEO_PID]]), ...pesPackets(VIDEO_PID, a, 0, true), ...pesPackets(VIDEO_PID, b, 1)]));
  assert.deepEqual(r.pes.map((p) => [p.pts, p.dts, p.randomAccess]), [[2 ** 33 - 1, near, true], [2000, 600, false]]);
});

test('PCR on the PCR_PID, discontinuity_indicator, adaptation-only and TEI packets', () => {
  const pes = pesBytes(Uint8Array.of(0, 0, 1, 9, 0xf0), { pts: 900, length: 0 });
  const parts = [
    ...programPackets([[0x1b, VIDEO_PID]]),
    tsPacket({ pid: VIDEO_PID, cc: 15, pcr: { base: 2 ** 33 - 1, ext: 5 } }), // adaptation only: CC not checked
    ...pesPackets(VIDEO_PID, pes, 0),
    tsPacket({ pid: VIDEO_PID, cc: 9, payload: Uint8Array.of(0xaa), transportError: true }), // dropped
    tsPacket({ pid: VIDEO_PID, cc: 7, discontinuity: true, pusi: true, payload: pesBytes(Uint8Array.of(0, 0, 1, 1), { pts: 5, length: 0 }) }),
  ];
  const r = run(concat(parts));
  assert.deepEqual(r.pcrs, [(2 ** 33 - 1) * 300 + 5]);
  assert.deepEqual(r.pes.map((p) => p.pts), [900, 5]);
  assert.deepEqual(r.errors, []);
});

test('unsupported stream_type: codec unknown, reported once per PID, PES ignored; PMT version change re-announces', () => {
  const pat = psiPacket(0, patSection([[1, PMT_PID]]), 0);
  const pmtV0 = pmtSection(1, VIDEO_PID, [[0x1b, VIDEO_PID], [0x06, 0x102]]);
  const pes = pesBytes(Uint8Array.of(1), { streamId: 0xbd, pts: 1 });
  const r = run(concat([
    pat, psiPacket(PMT_PID, pmtV0, 0), ...pesPackets(0x102, pes, 0),
    psiPacket(PMT_PID, pmtV0, 1), // same version: no new onProgram
    psiPacket(PMT_PID, pmtSection(1, VIDEO_PID, [[0x1b, VIDEO_PID], [0x06, 0x102], [0x0f, AUDIO_PID]], 1), 2),
    ...pesPackets(AUDIO_PID, pesBytes(Uint8Array.of(0xff, 0xf1), { streamId: 0xc0, pts: 7 }), 0),
  ]));
  assert.deepEqual(r.programs.map((p) => p.tracks.map((t) => t.codec)), [['h264', 'unknown'], ['h264', 'unknown', 'aac']]);
  assert.equal(r.programs[0]!.tracks[0], r.programs[1]!.tracks[0], 'unchanged track keeps its identity');
  assert.deepEqual(codes(r), [ErrorCode.TsUnsupportedCodec]);
  assert.deepEqual(r.pes.map((p) => [p.pid, p.pts]), [[AUDIO_PID, 7]]);
});

test('PMT content change with the same version_number (encoder restart) is applied', () => {
  const pat = psiPacket(0, patSection([[1, PMT_PID]]), 0);
  const r = run(concat([
    pat, psiPacket(PMT_PID, pmtSection(1, VIDEO_PID, [[0x1b, VIDEO_PID]]), 0),
    psiPacket(PMT_PID, pmtSection(1, 0x200, [[0x1b, 0x200], [0x0f, 0x201]]), 1), // still version 0
    ...pesPackets(0x201, pesBytes(Uint8Array.of(0xff, 0xf1), { streamId: 0xc0, pts: 9 }), 0),
  ]));
  assert.deepEqual(r.programs.map((p) => p.tracks.map((t) => t.pid)), [[VIDEO_PID], [0x200, 0x201]]);
  assert.deepEqual(r.pes.map((p) => [p.pid, p.pts]), [[0x201, 9]]);
});

test('PES larger than MAX_PES_SIZE is dropped and reported', () => {
  const pkts = [...programPackets([[0x1b, VIDEO_PID]]), tsPacket({ pid: VIDEO_PID, pusi: true, cc: 0, payload: pesBytes(new Uint8Array(100), { pts: 1, length: 0 }) })];
  const filler = new Uint8Array(184);
  const count = Math.ceil(MAX_PES_SIZE / 184) + 1;
  for (let i = 1; i <= count; i++) pkts.push(tsPacket({ pid: VIDEO_PID, cc: i, payload: filler }));
  pkts.push(tsPacket({ pid: VIDEO_PID, pusi: true, cc: count + 1, payload: pesBytes(Uint8Array.of(0, 0, 1, 9), { pts: 2, length: 0 }) }));
  const r = run(concat(pkts));
  assert.deepEqual(codes(r), [ErrorCode.TooLarge]);
  assert.deepEqual(r.pes.map((p) => p.pts), [2]);
});

test('reset forgets the program; PES before a new PAT/PMT are not delivered', () => {
  const sink = recorder();
  const d = new TsDemuxer(sink);
  const pes = pesPackets(VIDEO_PID, pesBytes(Uint8Array.of(0, 0, 1, 9), { pts: 3 }), 0);
  d.push(concat([...programPackets([[0x1b, VIDEO_PID]]), ...pes]));
  d.reset();
  d.push(concat(pes));
  d.push(Uint8Array.of(0x47, 0x00)); // partial packet, forgotten by the next reset
  d.reset();
  d.push(concat([...programPackets([[0x1b, VIDEO_PID]]), ...pes]));
  d.flush();
  assert.equal(sink.programs.length, 2);
  assert.deepEqual(sink.pes.map((p) => p.pts), [3, 3]);
  assert.deepEqual(sink.errors, []);
});

test('fast-check: arbitrary bytes, and mutations of a real stream, never throw; chunks are not mutated', () => {
  const head = REAL.subarray(0, 188 * 40);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.tuple(fc.nat(head.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 30 }), fc.integer({ min: 1, max: 500 }), (bytes, edits, chunk) => {
      const mutated = Uint8Array.from(head);
      for (const [at, v] of edits) mutated[at] = v;
      for (const input of [bytes, mutated, concat([head.subarray(0, 376), bytes, head.subarray(376)])]) {
        const before = Uint8Array.from(input);
        const sink = recorder();
        const d = new TsDemuxer(sink);
        for (let i = 0; i < input.length; i += chunk) d.push(input.subarray(i, i + chunk));
        d.flush();
        assert.deepEqual(input, before, 'input integrity');
        assert.ok(sink.errors.every((e) => e instanceof GatewayError));
      }
    }),
    { numRuns: 150 },
  );
});
