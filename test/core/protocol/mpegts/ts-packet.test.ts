import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ContinuityCounter, ContinuityResult, createTsPacketHeader, parseTsPacket, readPcr,
} from '../../../../core/protocol/mpegts/ts-packet.ts';
import { tsPacket } from './ts-builder.ts';

test('parses header fields of a payload-only packet', () => {
  const pkt = Uint8Array.of(
    0x47, //       sync_byte
    0x41, 0x00, // TEI 0, PUSI 1, priority 0, PID 0x100
    0x1a, //       scrambling 00, adaptation_field_control 01 (payload only), continuity_counter 10
    ...new Array<number>(184).fill(0xaa),
  );
  const h = createTsPacketHeader();
  assert.equal(parseTsPacket(pkt, 0, h), true);
  assert.deepEqual(h, {
    transportErrorIndicator: false, payloadUnitStartIndicator: true, pid: 0x100, adaptationFieldControl: 1,
    continuityCounter: 10, discontinuityIndicator: false, randomAccessIndicator: false, pcr27m: -1, payloadStart: 4, payloadEnd: 188,
  });
});

test('parses adaptation field flags and a PCR near 2^33 at an offset', () => {
  const pkt = tsPacket({ pid: 0x1ffe, cc: 3, payload: new Uint8Array(10), randomAccess: true, discontinuity: true, pcr: { base: 2 ** 33 - 1, ext: 299 } });
  const buf = new Uint8Array(188 + 7);
  buf.set(pkt, 7);
  const before = Uint8Array.from(buf);
  const h = createTsPacketHeader();
  assert.equal(parseTsPacket(buf, 7, h), true);
  assert.equal(h.pid, 0x1ffe);
  assert.equal(h.adaptationFieldControl, 3);
  assert.equal(h.continuityCounter, 3);
  assert.equal(h.randomAccessIndicator, true);
  assert.equal(h.discontinuityIndicator, true);
  assert.equal(h.pcr27m, (2 ** 33 - 1) * 300 + 299);
  assert.equal(h.payloadStart, 7 + 188 - 10);
  assert.equal(h.payloadEnd, 7 + 188);
  assert.deepEqual(buf, before, 'input integrity');
});

test('readPcr: base*300+ext with arithmetic, exact above 2^32', () => {
  const b = Uint8Array.of(0x80, 0x00, 0x00, 0x00, 0x7e, 0x01); // base = 2^32 (bit 32 set), reserved, ext = 1
  assert.equal(readPcr(b, 0), 2 ** 32 * 300 + 1);
});

test('adaptation-only packet has no payload; impossible adaptation_field_length and reserved control are rejected', () => {
  const h = createTsPacketHeader();
  const afOnly = tsPacket({ pid: 0x100, cc: 0, randomAccess: true });
  assert.equal(parseTsPacket(afOnly, 0, h), true);
  assert.equal(h.adaptationFieldControl, 2);
  assert.equal(h.payloadStart, h.payloadEnd);
  const bad = Uint8Array.from(tsPacket({ pid: 0x100, cc: 0, payload: new Uint8Array(100) }));
  bad[4] = 183; // with a payload the maximum is 182
  assert.equal(parseTsPacket(bad, 0, h), false);
  const reserved = Uint8Array.from(tsPacket({ pid: 0x100, cc: 0, payload: new Uint8Array(184) }));
  reserved[3] = 0x05; // adaptation_field_control 00
  assert.equal(parseTsPacket(reserved, 0, h), false);
});

test('ContinuityCounter: in order, one duplicate allowed, second duplicate and changed payload are gaps', () => {
  const cc = new ContinuityCounter();
  const a = Uint8Array.of(1, 2, 3, 4);
  const b = Uint8Array.of(9, 9, 9, 9);
  assert.equal(cc.check(14, false, a, 0, 4, false), ContinuityResult.Ok); // first packet: anything goes
  assert.equal(cc.check(15, false, a, 0, 4, false), ContinuityResult.Ok);
  assert.equal(cc.check(0, false, a, 0, 4, false), ContinuityResult.Ok); // wraps 15 → 0
  assert.equal(cc.check(0, false, a, 0, 4, false), ContinuityResult.Duplicate);
  assert.equal(cc.check(0, false, a, 0, 4, false), ContinuityResult.Gap); // only one duplicate
  assert.equal(cc.check(1, false, a, 0, 4, false), ContinuityResult.Ok);
  assert.equal(cc.check(1, false, b, 0, 4, false), ContinuityResult.Gap); // same counter, other bytes: 16 lost
  assert.equal(cc.check(5, false, a, 0, 4, false), ContinuityResult.Gap);
  assert.equal(cc.check(9, true, a, 0, 4, false), ContinuityResult.Ok); // discontinuity_indicator
  cc.reset();
  assert.equal(cc.check(3, false, a, 0, 4, false), ContinuityResult.Ok);
});

test('ContinuityCounter copies transient payloads so a reused scratch does not fake a duplicate', () => {
  const cc = new ContinuityCounter();
  const scratch = Uint8Array.of(1, 2, 3);
  assert.equal(cc.check(4, false, scratch, 0, 3, true), ContinuityResult.Ok);
  const copy = Uint8Array.from(scratch);
  scratch.set([7, 7, 7]); // caller overwrites its scratch
  assert.equal(cc.check(4, false, copy, 0, 3, false), ContinuityResult.Duplicate);
});
