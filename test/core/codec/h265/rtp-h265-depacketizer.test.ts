/**
 * RtpH265Depacketizer (RFC 7798): case tables built with the test packetizer (single NAL unit, AP, FU over many
 * packets, loss mid-FU, bogus AP lengths, FU without start, truncation, PACI), a real ffmpeg capture depacketized
 * to the source AUs byte for byte, input integrity and a fast-check "push never throws" property.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { GatewayError } from '../../../../core/errors.ts';
import { RtpH265Depacketizer, type H265AccessUnit } from '../../../../core/codec/h265/rtp-h265-depacketizer.ts';
import { parseRtpPacket, type RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import {
  aggregationPacket, fragmentationUnits, h265Fixture, RtpH265Packetizer, tsAccessUnits,
} from '../../../helpers/rtp-h265-packetizer.ts';
import { readRtpCapture } from '../../../helpers/rtp-capture.ts';

const AUS = tsAccessUnits(h265Fixture('h265/testsrc2-320x240-bf3-2s.ts'));
const IDR = AUS[0].nalus; // AUD, VPS, SPS, PPS, SEI, IDR slice
const P = AUS[1].nalus; // AUD, TRAIL_R slice

function run(packets: readonly RtpPacket[], losses: ReadonlySet<number> = new Set()): { aus: H265AccessUnit[]; errors: GatewayError[]; d: RtpH265Depacketizer } {
  const errors: GatewayError[] = [];
  const d = new RtpH265Depacketizer((e) => errors.push(e));
  const aus: H265AccessUnit[] = [];
  packets.forEach((p, i) => {
    if (losses.has(i)) {
      d.onPacketLoss();
      return;
    }
    const au = d.push(p);
    if (au) aus.push(au);
  });
  return { aus, errors, d };
}

function withoutTrailingZeros(nalu: Uint8Array): Buffer {
  let end = nalu.length;
  while (end > 0 && nalu[end - 1] === 0) end--;
  return Buffer.from(nalu.subarray(0, end));
}

const asBuffers = (nalus: readonly Uint8Array[]): Buffer[] => nalus.map((n) => Buffer.from(n));

test('case table: single NAL units, AP with 2–3 NAL units, FU over many packets', () => {
  const cases: { name: string; opts: ConstructorParameters<typeof RtpH265Packetizer>[0]; minPackets: number }[] = [
    { name: 'single NAL units only', opts: { aggregate: false, maxPayload: 60_000 }, minPackets: 6 },
    { name: 'aggregation (AP) + single', opts: { aggregate: true, maxPayload: 60_000 }, minPackets: 1 },
    { name: 'FU over many packets', opts: { aggregate: true, maxPayload: 100 }, minPackets: 30 },
  ];
  for (const c of cases) {
    const pk = new RtpH265Packetizer(c.opts);
    const packets = [...pk.packetize(IDR, 1000), ...pk.packetize(P, 4600)];
    assert.ok(packets.length >= c.minPackets, `${c.name}: ${packets.length} packets`);
    const { aus, errors, d } = run(packets);
    assert.deepEqual(errors, [], c.name);
    assert.equal(aus.length, 2, c.name);
    assert.deepEqual(asBuffers(aus[0].nalus), asBuffers(IDR), c.name);
    assert.deepEqual(asBuffers(aus[1].nalus), asBuffers(P), c.name);
    assert.deepEqual([aus[0].rtpTimestamp, aus[1].rtpTimestamp], [1000, 4600]);
    assert.deepEqual({ ...d.stats }, { accessUnits: 2, droppedAccessUnits: 0, errors: 0 }, c.name);
  }
  // An AP of exactly 2 and 3 NAL units.
  for (const n of [2, 3]) {
    const pk = new RtpH265Packetizer();
    const { aus, errors } = run([pk.packet(aggregationPacket(IDR.slice(1, 1 + n)), 0, false), pk.packet(Buffer.from(IDR[5]), 0, true)]);
    assert.deepEqual(errors, []);
    assert.deepEqual(asBuffers(aus[0].nalus), asBuffers([...IDR.slice(1, 1 + n), IDR[5]]));
  }
});

test('AU ends at a timestamp change when the marker is missing', () => {
  const pk = new RtpH265Packetizer({ aggregate: false });
  const a = pk.packet(Buffer.from(P[1]), 100, false);
  const b = pk.packet(Buffer.from(AUS[2].nalus[1]), 200, false);
  const c = pk.packet(Buffer.from(AUS[3].nalus[1]), 300, true);
  const errors: GatewayError[] = [];
  const d = new RtpH265Depacketizer((e) => errors.push(e));
  assert.equal(d.push(a), undefined);
  assert.deepEqual(asBuffers(d.push(b)!.nalus), [Buffer.from(P[1])]);
  assert.deepEqual(asBuffers(d.push(c)!.nalus), [Buffer.from(AUS[2].nalus[1])]);
  assert.deepEqual(errors, []);
});

test('loss mid-FU drops the AU and waits for the next IRAP', () => {
  const pk = new RtpH265Packetizer({ maxPayload: 200 });
  const packets: RtpPacket[] = [];
  const auOf: number[] = [];
  AUS.slice(0, 27).forEach((au, i) => {
    for (const p of pk.packetize(au.nalus, au.pts90k)) {
      packets.push(p);
      auOf.push(i);
    }
  });
  const lost = auOf.indexOf(3) + 2; // inside AU 3's fragments
  assert.equal(auOf[lost], 3);
  const { aus, errors, d } = run(packets, new Set([lost]));
  assert.deepEqual(errors, []);
  assert.deepEqual(aus.map((a) => a.rtpTimestamp), [0, 1, 2, 25, 26].map((i) => AUS[i].pts90k), 'AUs 3..24 dropped, resumes at the CRA');
  assert.deepEqual({ ...d.stats }, { accessUnits: 5, droppedAccessUnits: 22, errors: 0 });
});

test('malformed payloads: reported, AU dropped, depacketizer usable again at the next IRAP', () => {
  const slice = Buffer.from(P[1]);
  const fus = fragmentationUnits(slice, 100);
  const bogusAp = aggregationPacket([IDR[1], IDR[2]]);
  bogusAp.writeUInt16BE(0xfff0, 2);
  const cases: { name: string; payloads: Buffer[]; pattern: RegExp }[] = [
    { name: 'bogus AP length', payloads: [bogusAp], pattern: /AP: NALU size/ },
    { name: 'AP with a truncated size field', payloads: [Buffer.from([0x60, 0x01, 0x00])], pattern: /truncated NALU size/ },
    { name: 'FU without start', payloads: [fus[1], fus[2]], pattern: /FU without a start/ },
    { name: 'FU with S and E', payloads: [Buffer.from([0x62, 0x01, 0xc1, 0xaa])], pattern: /both S and E/ },
    { name: 'truncated FU', payloads: [Buffer.from([0x62, 0x01, 0x81])], pattern: /FU of 3 bytes/ },
    { name: 'truncated payload header', payloads: [Buffer.from([0x02])], pattern: /payload of 1 bytes/ },
    { name: 'F bit', payloads: [Buffer.from([0x82, 0x01, 0xaa])], pattern: /F bit/ },
    { name: 'PACI', payloads: [Buffer.from([0x64, 0x01, 0, 0, 0xaa])], pattern: /PACI/ },
    { name: 'FU start inside an FU', payloads: [fus[0], fus[0]], pattern: /previous FU/ },
  ];
  for (const c of cases) {
    const pk = new RtpH265Packetizer();
    const packets = [
      ...c.payloads.map((pl, i) => pk.packet(pl, 500, i === c.payloads.length - 1)),
      ...pk.packetize(P, 900), // not an IRAP: dropped while waiting
      ...pk.packetize(IDR, 1300),
    ];
    const { aus, errors, d } = run(packets);
    assert.ok(errors.length >= 1 && errors.every((e) => e.code === 'GW_ERR_RTP_PAYLOAD'), c.name);
    assert.match(errors[0].message, c.pattern, c.name);
    assert.deepEqual(aus.map((a) => a.rtpTimestamp), [1300], c.name);
    assert.equal(d.stats.errors, errors.length, c.name);
    assert.ok(d.stats.droppedAccessUnits >= 1, c.name);
  }
});

test('real capture: ffmpeg -f rtp of the bframes=3 fixture = the source AUs byte for byte', () => {
  const datagrams = readRtpCapture(h265Fixture('rtp/h265-bf3-2s.bin'));
  const packets = datagrams.map((dg) => parseRtpPacket(dg));
  const payloadTypes = new Set(packets.map((p) => (p.payload[0] >> 1) & 0x3f));
  assert.ok(payloadTypes.has(48) && payloadTypes.has(49), 'the capture holds APs and FUs');
  const copies = datagrams.map((dg) => Buffer.from(dg));
  const { aus, errors, d } = run(packets);
  assert.deepEqual(errors, []);
  assert.equal(aus.length, AUS.length);
  const first = aus[0].rtpTimestamp;
  aus.forEach((au, i) => {
    // ffmpeg splits its input at 3-byte start codes, so a NAL unit followed by a 4-byte start code keeps that zero
    // byte (trailing_zero_8bits, Annex B.2) on the wire; our splitAnnexB trims it. Compare without it.
    assert.deepEqual(au.nalus.map(withoutTrailingZeros), AUS[i].nalus.map(withoutTrailingZeros), `AU ${i}`);
    assert.equal((au.rtpTimestamp - first) >>> 0, AUS[i].pts90k - AUS[0].pts90k, `AU ${i} timestamp`);
  });
  assert.deepEqual({ ...d.stats }, { accessUnits: 50, droppedAccessUnits: 0, errors: 0 });
  assert.deepEqual(datagrams, copies, 'input integrity');
});

test('fast-check: push never throws, never mutates its input, errors are RtpPayload', () => {
  const pk = new RtpH265Packetizer({ maxPayload: 300 });
  const real = AUS.slice(0, 4).flatMap((au) => pk.packetize(au.nalus, au.pts90k)).map((p) => p.payload);
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.constantFrom(...real), fc.nat(400), fc.nat(255)).map(([b, at, v]) => {
      const c = Buffer.from(b);
      if (at < c.length) c[at] = v;
      return at % 3 === 0 ? c.subarray(0, at % (c.length + 1)) : c;
    }),
  );
  fc.assert(fc.property(fc.array(fc.tuple(payload, fc.boolean(), fc.nat(3), fc.boolean()), { maxLength: 30 }), (items) => {
    const errors: GatewayError[] = [];
    const d = new RtpH265Depacketizer((e) => errors.push(e));
    const packer = new RtpH265Packetizer();
    for (const [pl, marker, ts, loss] of items) {
      if (loss) d.onPacketLoss();
      const pkt = packer.packet(pl, ts * 3600, marker);
      const before = Buffer.from(pkt.payload);
      const au = d.push(pkt);
      assert.deepEqual(pkt.payload, before);
      if (au) assert.ok(au.nalus.length > 0 && au.nalus.every((n) => n.length >= 2));
    }
    assert.ok(errors.every((e) => e.code === 'GW_ERR_RTP_PAYLOAD'));
    assert.equal(d.stats.errors, errors.length);
  }), { numRuns: 500 });
});
