/**
 * discontinuity_indicator on copies of shared packets (core/protocol/mpegts/ts-discontinuity.ts): a PES start with
 * an adaptation field is copied and flagged; PAT/PMT and PES starts without one are re-packetized (the same
 * payload bytes, counters ending where the run ended); the input is never written; our demuxer reads a stream with
 * a gap marked this way without a continuity error, and the same stream unmarked with them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markDiscontinuities } from '../../../../core/protocol/mpegts/ts-discontinuity.ts';
import { parsePat, parsePmt, StreamType } from '../../../../core/protocol/mpegts/psi.ts';
import { PesStreamId, writePatPacket, writePesPackets, writePmtPacket, type ContinuityCounters } from '../../../../core/protocol/mpegts/ts-writer.ts';
import { createTsPacketHeader, parseTsPacket, TS_PACKET_SIZE, type TsPacketHeader } from '../../../../core/protocol/mpegts/ts-packet.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import type { GatewayError } from '../../../../core/errors.ts';

const VIDEO = 0x100;
const AUDIO = 0x101;
const PMT = 0x1000;

interface Pkt { readonly h: TsPacketHeader; readonly bytes: Buffer; readonly payload: Buffer }

function parse(buf: Buffer): Pkt[] {
  assert.equal(buf.length % TS_PACKET_SIZE, 0, 'whole packets');
  const out: Pkt[] = [];
  for (let o = 0; o < buf.length; o += TS_PACKET_SIZE) {
    const h = createTsPacketHeader();
    assert.ok(parseTsPacket(buf, o, h), `packet at ${o}`);
    out.push({ h, bytes: buf.subarray(o, o + TS_PACKET_SIZE), payload: buf.subarray(h.payloadStart, h.payloadEnd) });
  }
  return out;
}

function mark(packets: Buffer, pending: number[]): Buffer {
  const parts: Buffer[] = [];
  return markDiscontinuities(packets, pending, parts) ? Buffer.concat(parts) : packets;
}

function tables(ccs: ContinuityCounters): Buffer {
  return Buffer.concat([
    writePatPacket(1, PMT, ccs),
    writePmtPacket(1, PMT, VIDEO, [{ streamType: StreamType.H264, elementaryPid: VIDEO }, { streamType: StreamType.AdtsAac, elementaryPid: AUDIO }], 0, ccs),
  ]);
}

function es(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function videoPes(ccs: ContinuityCounters, ts: number, size: number): Buffer {
  return writePesPackets({ pid: VIDEO, streamId: PesStreamId.Video, pts90k: ts, dts90k: ts, pcr90k: ts, randomAccess: true, dataAlignment: true }, [es(size, ts)], ccs);
}

function audioPes(ccs: ContinuityCounters, ts: number, size: number): Buffer {
  return writePesPackets({ pid: AUDIO, streamId: PesStreamId.Audio, pts90k: ts, dts90k: ts, pcr90k: undefined, randomAccess: false, dataAlignment: true }, [es(size, ts + 7)], ccs);
}

test('a PES start with an adaptation field (PCR): that packet alone is copied and flagged; the rest are views; the input is unchanged', () => {
  const ccs: ContinuityCounters = new Map();
  const pes = videoPes(ccs, 9000, 1000);
  const before = Buffer.from(pes);
  const pending = [VIDEO, AUDIO];
  const parts: Buffer[] = [];
  assert.equal(markDiscontinuities(pes, pending, parts), true);
  assert.deepEqual(pending, [AUDIO], 'the video PID is done; audio still to come');
  assert.deepEqual(pes, before, 'input unchanged');
  assert.equal(parts.length, 2);
  assert.equal(parts[0]?.length, TS_PACKET_SIZE);
  assert.equal(parts[1]?.buffer, pes.buffer, 'the other packets are a view of the input');
  const out = Buffer.concat(parts);
  assert.equal(out.length, pes.length);
  const [first] = parse(out);
  assert.ok(first !== undefined && first.h.discontinuityIndicator && first.h.randomAccessIndicator && first.h.pcr27m === 9000 * 300);
  const diff = [...out].flatMap((b, i) => (b !== pes[i] ? [i] : []));
  assert.deepEqual(diff, [5], 'only the flags byte differs');
});

test('PAT and PMT (no adaptation field): one packet each again, the same sections, the same counters, flagged', () => {
  const ccs: ContinuityCounters = new Map();
  tables(ccs);
  const t = tables(ccs);
  const out = mark(t, [0, PMT]);
  const [pat, pmt] = parse(out);
  const [pat0, pmt0] = parse(t);
  assert.ok(pat && pmt && pat0 && pmt0);
  assert.equal(out.length, 2 * TS_PACKET_SIZE, 'still two packets');
  for (const [k, k0] of [[pat, pat0], [pmt, pmt0]] as const) {
    assert.equal(k.h.pid, k0.h.pid);
    assert.ok(k.h.discontinuityIndicator && k.h.payloadUnitStartIndicator);
    assert.equal(k.h.continuityCounter, k0.h.continuityCounter);
  }
  assert.deepEqual(parsePat(pat.payload.subarray(1)).programs, [{ programNumber: 1, pmtPid: PMT }]);
  assert.deepEqual(parsePmt(pmt.payload.subarray(1)).streams.map((s) => s.elementaryPid), [VIDEO, AUDIO]);
});

test('an audio PES without adaptation field is re-packetized: the same bytes; one packet more only when it had no stuffing', () => {
  // 14-byte PES header: ES of 354 fills two packets exactly (368 bytes), ES of 2010 eleven (2024); 300, 20 and
  // 2000 leave at least the 2 bytes of stuffing the field needs.
  for (const [size, packets] of [[354, 3], [300, 2], [20, 1], [2000, 11], [2010, 12]] as const) {
    const ccs: ContinuityCounters = new Map([[AUDIO, 9]]);
    const pes = audioPes(ccs, 1800, size);
    const orig = parse(pes);
    const out = parse(mark(pes, [AUDIO]));
    assert.equal(out.length, packets, `ES ${size}: ${packets} packets`);
    assert.ok(out[0]?.h.discontinuityIndicator && out[0].h.payloadUnitStartIndicator, 'first packet flagged, starts the PES');
    assert.ok(out.slice(1).every((k) => !k.h.payloadUnitStartIndicator && !k.h.discontinuityIndicator));
    assert.deepEqual(Buffer.concat(out.map((k) => k.payload)), Buffer.concat(orig.map((k) => k.payload)), 'the same PES bytes');
    assert.equal(out.at(-1)?.h.continuityCounter, orig.at(-1)?.h.continuityCounter, 'the run ends on the same counter');
    for (let i = 1; i < out.length; i++) assert.equal(out[i]?.h.continuityCounter, ((out[i - 1]?.h.continuityCounter ?? 0) + 1) & 0x0f);
  }
});

test('a gap marked this way demuxes without continuity errors and every PES intact; unmarked, the demuxer reports the gaps', () => {
  const ccs: ContinuityCounters = new Map();
  const gop = (ts: number): Buffer[] => [tables(ccs), videoPes(ccs, ts, 3000), audioPes(ccs, ts, 354), videoPes(ccs, ts + 3600, 500), audioPes(ccs, ts + 1920, 300)];
  const before = gop(0);
  gop(9000); // skipped by this player: every counter moves on
  gop(18000);
  const after = gop(27000);
  const demux = (chunks: readonly Buffer[]): { errors: string[]; pes: string[] } => {
    const errors: string[] = [];
    const pes: string[] = [];
    const d = new TsDemuxer({
      onProgram: () => undefined,
      onPes: (track, data, pts) => pes.push(`${track.pid}:${pts}:${data.length}`),
      onDecodeError: (e: GatewayError) => errors.push(e.message),
    });
    for (const c of chunks) d.push(c);
    return { errors, pes };
  };
  const plain = demux([...before, ...after]);
  assert.ok(plain.errors.some((e) => /continuity_counter gap/.test(e)), `unmarked gap reported: ${plain.errors.join('; ')}`);
  const pending = [0, PMT, VIDEO, AUDIO];
  const marked = after.map((c) => mark(c, pending));
  assert.deepEqual(pending, [], 'every PID flagged once');
  const ok = demux([...before, ...marked]);
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.pes, [...demux(before).pes, ...demux(after).pes], 'every PES of both sides, whole');
  assert.equal(ok.pes.length, 8);
});
