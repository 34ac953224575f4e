import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';
import { parseRtpPacket, serializeRtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { DEFAULT_UDP_REORDER, RtpReorderBuffer } from '../../../../core/protocol/rtp/rtp-reorder-buffer.ts';
import type { RtpReorderOptions, RtpReorderStats } from '../../../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { loadCapture } from './datagrams.ts';

const PAYLOAD = Buffer.from([0x41, 0x9a]);
function pkt(seq: number, ssrc = 0x1234): RtpPacket {
  return parseRtpPacket(serializeRtpPacket({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc, payload: PAYLOAD }));
}
interface RtpOrderedPacket {
  readonly packet: RtpPacket;
  readonly lostBefore: number;
}

/**
 * A reorder buffer whose sink collects: `push`/`flush` return what that call delivered, in order (and check the
 * count the buffer returns against it).
 */
function collecting(opts: RtpReorderOptions): {
  rb: RtpReorderBuffer;
  push(p: RtpPacket, nowMs: number): RtpOrderedPacket[];
  flush(nowMs: number): RtpOrderedPacket[];
} {
  let out: RtpOrderedPacket[] = [];
  const rb = new RtpReorderBuffer(opts, { onOrderedPacket: (packet, lostBefore) => out.push({ packet, lostBefore }) });
  const take = (count: number): RtpOrderedPacket[] => {
    const got = out;
    out = [];
    assert.equal(count, got.length, 'returned count = packets delivered');
    return got;
  };
  return { rb, push: (p, nowMs) => take(rb.push(p, nowMs)), flush: (nowMs) => take(rb.flushExpired(nowMs)) };
}

/** "seq" or "seq/lostBefore" when lostBefore ≠ 0. */
function show(out: RtpOrderedPacket[]): string[] {
  return out.map((o) => (o.lostBefore === 0 ? String(o.packet.sequenceNumber) : `${o.packet.sequenceNumber}/${o.lostBefore}`));
}

type Step = { push: number; ssrc?: number; at?: number; out: string[] } | { flushAt: number; out: string[] };
interface Case { name: string; maxPackets?: number; steps: Step[]; stats: Partial<RtpReorderStats> }

const CASES: Case[] = [
  { name: 'in order', steps: [{ push: 1, out: ['1'] }, { push: 2, out: ['2'] }, { push: 3, out: ['3'] }], stats: { received: 3, lost: 0, reordered: 0 } },
  {
    name: 'swapped pair',
    steps: [{ push: 1, out: ['1'] }, { push: 3, out: [] }, { push: 2, out: ['2', '3'] }, { push: 4, out: ['4'] }],
    stats: { received: 4, lost: 0, reordered: 1 },
  },
  {
    name: 'loss, given up by the timer after maxDelayMs',
    steps: [{ push: 1, at: 0, out: ['1'] }, { push: 3, at: 0, out: [] }, { flushAt: 99, out: [] }, { flushAt: 100, out: ['3/1'] }, { push: 4, at: 101, out: ['4'] }],
    stats: { lost: 1, late: 0 },
  },
  {
    name: 'loss, given up by a later push',
    steps: [{ push: 1, at: 0, out: ['1'] }, { push: 3, at: 0, out: [] }, { push: 5, at: 150, out: ['3/1'] }, { flushAt: 250, out: ['5/1'] }],
    stats: { lost: 2 },
  },
  {
    name: 'wrap 65535 → 0 in order and swapped',
    steps: [{ push: 65534, out: ['65534'] }, { push: 65535, out: ['65535'] }, { push: 1, out: [] }, { push: 0, out: ['0', '1'] }, { push: 2, out: ['2'] }],
    stats: { lost: 0, reordered: 1 },
  },
  {
    name: 'duplicates: of a delivered and of a buffered packet',
    steps: [{ push: 1, out: ['1'] }, { push: 1, out: [] }, { push: 3, out: [] }, { push: 3, out: [] }, { push: 2, out: ['2', '3'] }],
    stats: { received: 5, duplicates: 2, late: 0 },
  },
  {
    name: 'late: arrives after its slot was given up',
    steps: [{ push: 10, at: 0, out: ['10'] }, { push: 12, at: 0, out: [] }, { flushAt: 100, out: ['12/1'] }, { push: 11, at: 120, out: [] }, { push: 13, at: 130, out: ['13'] }],
    stats: { lost: 1, late: 1, duplicates: 0 },
  },
  {
    name: 'window full (maxPackets 4): the oldest gap is given up',
    maxPackets: 4,
    steps: [{ push: 1, out: ['1'] }, { push: 3, out: [] }, { push: 4, out: [] }, { push: 5, out: [] }, { push: 6, out: [] }, { push: 7, out: ['3/1', '4', '5', '6', '7'] }],
    stats: { lost: 1 },
  },
  {
    name: 'window full by far: gaps between buffered packets are given up one by one',
    maxPackets: 4,
    steps: [{ push: 1, out: ['1'] }, { push: 3, out: [] }, { push: 5, out: [] }, { push: 20, out: ['3/1', '5/1'] }, { push: 16, out: ['16/10'] }, { push: 17, out: ['17'] }],
    stats: { lost: 12 },
  },
  {
    name: 'huge forward jump (≥ 3000): flush in order, count the gap, resync',
    steps: [{ push: 1, out: ['1'] }, { push: 3, out: [] }, { push: 5000, out: ['3/1', '5000/4996'] }, { push: 5001, out: ['5001'] }, { push: 2, out: [] }],
    stats: { lost: 4997, late: 1 },
  },
  {
    name: 'sender restarted backwards: two sequential far-behind packets resync (RFC 3550 A.1 bad_seq)',
    steps: [{ push: 1000, out: ['1000'] }, { push: 1001, out: ['1001'] }, { push: 10, out: [] }, { push: 11, out: ['11/1'] }, { push: 12, out: ['12'] }],
    stats: { lost: 1, late: 1 },
  },
  {
    name: 'new SSRC: flush, resync, lostBefore 1 as a discontinuity mark (not counted lost)',
    steps: [{ push: 1, out: ['1'] }, { push: 3, out: [] }, { push: 500, ssrc: 0x9999, out: ['3/1', '500/1'] }, { push: 501, ssrc: 0x9999, out: ['501'] }],
    stats: { lost: 1 },
  },
  {
    name: 'maxPackets 0 (TCP): pass through, gaps reported, backwards dropped',
    maxPackets: 0,
    steps: [{ push: 1, out: ['1'] }, { push: 3, out: ['3/1'] }, { push: 2, out: [] }, { push: 4, out: ['4'] }, { push: 4, out: [] }],
    stats: { lost: 1, late: 1, duplicates: 1 },
  },
];

for (const c of CASES) {
  test(`reorder: ${c.name}`, () => {
    const { rb, push, flush } = collecting({ maxPackets: c.maxPackets ?? DEFAULT_UDP_REORDER.maxPackets, maxDelayMs: 100 });
    for (const [i, step] of c.steps.entries()) {
      const out = 'push' in step ? push(pkt(step.push, step.ssrc), step.at ?? 0) : flush(step.flushAt);
      assert.deepEqual(show(out), step.out, `step ${i}: ${JSON.stringify(step)}`);
    }
    for (const [k, v] of Object.entries(c.stats)) assert.equal(rb.stats[k as keyof RtpReorderStats], v, k);
  });
}

test('reorder: options are validated; default is 64 packets / 100 ms', () => {
  assert.deepEqual(DEFAULT_UDP_REORDER, { maxPackets: 64, maxDelayMs: 100 });
  for (const bad of [{ maxPackets: -1, maxDelayMs: 0 }, { maxPackets: 1.5, maxDelayMs: 0 }, { maxPackets: 5000, maxDelayMs: 0 }, { maxPackets: 4, maxDelayMs: -1 }]) {
    assert.throws(() => new RtpReorderBuffer(bad, { onOrderedPacket() {} }), (e: unknown) => isGatewayError(e, ErrorCode.ConfInvalid));
  }
});

test('reorder: real ffmpeg packets, swapped in pairs, come out as sent', () => {
  const pkts = loadCapture('ffmpeg-h264').rtp.map((d) => parseRtpPacket(d));
  const arrival = [pkts[0]!];
  for (let i = 1; i + 1 < pkts.length; i += 2) arrival.push(pkts[i + 1]!, pkts[i]!);
  if (pkts.length % 2 === 0) arrival.push(pkts.at(-1)!);
  const { rb, push } = collecting(DEFAULT_UDP_REORDER);
  const out = arrival.flatMap((p, i) => push(p, i));
  assert.deepEqual(out.map((o) => o.packet), pkts);
  assert.ok(out.every((o) => o.lostBefore === 0));
  assert.equal(rb.stats.reordered, Math.floor((pkts.length - 1) / 2));
});

test('property: any permutation within the window comes out sorted, nothing lost', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 300 }), fc.infiniteStream(fc.nat()),
    (start, maxPackets, count, rand) => {
      const seqs = Array.from({ length: count }, (_, i) => (start + i) & 0xffff);
      const arrival = [seqs[0]!];
      // blocks of maxPackets after the first packet, each shuffled arbitrarily: every packet stays within the window
      for (let b = 1; b < seqs.length; b += maxPackets) {
        const block = seqs.slice(b, b + maxPackets);
        for (let i = block.length - 1; i > 0; i--) {
          const j = rand.next().value % (i + 1);
          [block[i], block[j]] = [block[j]!, block[i]!];
        }
        arrival.push(...block);
      }
      const { rb, push } = collecting({ maxPackets, maxDelayMs: 100 });
      const out = arrival.flatMap((s) => push(pkt(s), 0));
      assert.deepEqual(out.map((o) => o.packet.sequenceNumber), seqs);
      assert.ok(out.every((o) => o.lostBefore === 0));
      assert.deepEqual({ lost: rb.stats.lost, late: rb.stats.late, duplicates: rb.stats.duplicates }, { lost: 0, late: 0, duplicates: 0 });
    },
  ), { numRuns: 300 });
});

test('property: arbitrary arrivals never hold more than maxPackets; every packet is accounted for once', () => {
  const arrivalArb = fc.record({
    seq: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: -40, max: 40 })),
    relative: fc.boolean(), ssrc: fc.constantFrom(1, 1, 1, 1, 2), dtMs: fc.integer({ min: 0, max: 60 }), flush: fc.boolean(),
  });
  fc.assert(fc.property(fc.integer({ min: 0, max: 64 }), fc.array(arrivalArb, { maxLength: 400 }), (maxPackets, arrivals) => {
    const { rb, push, flush } = collecting({ maxPackets, maxDelayMs: 100 });
    let now = 0;
    let last = 0;
    let delivered = 0;
    let prev: RtpPacket | undefined;
    const check = (out: RtpOrderedPacket[]): void => {
      for (const o of out) {
        delivered++;
        if (prev !== undefined && o.lostBefore === 0) {
          assert.equal(o.packet.ssrc, prev.ssrc);
          assert.equal(o.packet.sequenceNumber, (prev.sequenceNumber + 1) & 0xffff, 'contiguous unless lostBefore > 0');
        }
        if (prev !== undefined && o.packet.ssrc === prev.ssrc && o.lostBefore > 0 && o.lostBefore < 3000) {
          // within a source, a small gap is exactly the distance
          const d = (o.packet.sequenceNumber - prev.sequenceNumber - 1) & 0xffff;
          if (d < 3000) assert.ok(o.lostBefore === d || o.lostBefore === 1, `gap ${d} lostBefore ${o.lostBefore}`);
        }
        prev = o.packet;
      }
    };
    for (const a of arrivals) {
      now += a.dtMs;
      const seq = a.relative ? (last + a.seq) & 0xffff : a.seq & 0xffff;
      last = seq;
      check(push(pkt(seq, a.ssrc), now));
      assert.ok(rb.bufferedCount <= maxPackets);
      if (a.flush) check(flush(now));
    }
    const s = rb.stats;
    assert.equal(s.received, arrivals.length);
    assert.equal(s.received, delivered + rb.bufferedCount + s.duplicates + s.late);
    check(flush(now + 1000));
    assert.equal(rb.bufferedCount, 0, 'everything leaves after maxDelayMs');
  }), { numRuns: 300 });
});
