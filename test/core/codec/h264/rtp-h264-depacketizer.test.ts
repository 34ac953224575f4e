/**
 * RtpH264Depacketizer (RFC 6184): round trips through the test packetizer, loss and damage handling, malformed
 * payloads, input integrity, and a fast-check property (arbitrary packets never throw).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GatewayError, ErrorCode } from '../../../../core/errors.ts';
import type { RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { MAX_NALUS_PER_AU } from '../../../../core/codec/h264/avc-packager.ts';
import { RtpH264Depacketizer } from '../../../../core/codec/h264/rtp-h264-depacketizer.ts';
import type { H264AccessUnit } from '../../../../core/codec/h264/rtp-h264-depacketizer.ts';
import { RtpH264Packetizer } from '../../../helpers/rtp-h264-packetizer.ts';
import type { RtpH264PacketizerOptions } from '../../../helpers/rtp-h264-packetizer.ts';

/** A NAL unit of `size` bytes with header byte `header` and a deterministic body. */
function nal(header: number, size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  b[0] = header;
  for (let i = 1; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}
const SPS = Buffer.from('6742c00dd90141fb011000000300100000030320f142a480', 'hex');
const PPS = Buffer.from('68cb83cb20', 'hex');
const AUD = Buffer.from([0x09, 0xf0]);
/** IDR / non-IDR slices whose first byte after the header has the top bit set (first_mb_in_slice = 0). */
const idr = (size: number, seed = 1): Buffer => { const b = nal(0x65, size, seed); b[1] = 0x88; return b; };
const pSlice = (size: number, seed = 2): Buffer => { const b = nal(0x41, size, seed); b[1] = 0x9a; return b; };

interface Run { aus: H264AccessUnit[]; errors: GatewayError[]; depacketizer: RtpH264Depacketizer }

function run(packets: readonly RtpPacket[], loss: ReadonlySet<number> = new Set()): Run {
  const errors: GatewayError[] = [];
  const depacketizer = new RtpH264Depacketizer((e) => errors.push(e));
  const aus: H264AccessUnit[] = [];
  packets.forEach((p, i) => {
    if (loss.has(i)) return;
    if (loss.has(i - 1)) depacketizer.onPacketLoss();
    const before = Buffer.from(p.payload);
    const au = depacketizer.push(p);
    assert.deepEqual(p.payload, before, 'input integrity');
    if (au) aus.push(au);
  });
  const last = depacketizer.flush();
  if (last) aus.push(last);
  return { aus, errors, depacketizer };
}

function packetizeAll(aus: readonly (readonly Buffer[])[], options: RtpH264PacketizerOptions, ts0 = 0xfffff000): RtpPacket[] {
  const p = new RtpH264Packetizer(options);
  return aus.flatMap((nalus, i) => p.packetize(nalus, (ts0 + i * 3600) >>> 0));
}

function assertRoundTrip(aus: readonly (readonly Buffer[])[], options: RtpH264PacketizerOptions, what: string): RtpPacket[] {
  const packets = packetizeAll(aus, options);
  const r = run(packets);
  assert.deepEqual(r.errors, [], `${what}: no errors`);
  assert.equal(r.aus.length, aus.length, `${what}: AU count`);
  r.aus.forEach((au, i) => {
    assert.deepEqual(au.nalus.map((n) => Buffer.from(n)), aus[i], `${what}: AU ${i} NAL units`);
    assert.equal(au.rtpTimestamp, (0xfffff000 + i * 3600) >>> 0, `${what}: AU ${i} timestamp (wraps past 2^32)`);
  });
  assert.equal(r.depacketizer.stats.accessUnits, aus.length);
  return packets;
}

const payloadTypes = (packets: readonly RtpPacket[]): number[] => packets.map((p) => p.payload[0]! & 0x1f);

test('encode/decode case table', () => {
  const cases: { what: string; aus: Buffer[][]; options: RtpH264PacketizerOptions; expectTypes?: number[] }[] = [
    { what: 'single NAL unit packets', aus: [[AUD, SPS, PPS, idr(300)], [AUD, pSlice(200)]], options: { mtu: 1400, aggregate: false }, expectTypes: [9, 7, 8, 5, 9, 1] },
    { what: 'STAP-A with 3 NAL units, then a single', aus: [[SPS, PPS, AUD, idr(1000)]], options: { mtu: 1000 }, expectTypes: [24, 5] },
    { what: 'STAP-A with 2 NAL units', aus: [[SPS, PPS]], options: { mtu: 100 }, expectTypes: [24] },
    { what: 'FU-A over many packets', aus: [[idr(20000)], [pSlice(5000)]], options: { mtu: 100 } },
    { what: 'NAL size = MTU → single', aus: [[idr(500)]], options: { mtu: 500 }, expectTypes: [5] },
    { what: 'NAL size = MTU + 1 → two FU-A', aus: [[idr(501)]], options: { mtu: 500 }, expectTypes: [28, 28] },
    { what: 'FU-A with a 1-byte last fragment', aus: [[idr(1 + 98 * 3 + 1)]], options: { mtu: 100 }, expectTypes: [28, 28, 28, 28] },
    { what: 'STAP-A exactly filling the MTU', aus: [[nal(0x06, 10), nal(0x06, 13)]], options: { mtu: 1 + 2 + 10 + 2 + 13 }, expectTypes: [24] },
    { what: 'STAP-A one byte over the MTU → singles', aus: [[nal(0x06, 10), nal(0x06, 14)]], options: { mtu: 1 + 2 + 10 + 2 + 13 }, expectTypes: [6, 6] },
    { what: 'smallest MTU (3)', aus: [[idr(40), pSlice(2)]], options: { mtu: 3 } },
    { what: 'mixed: STAP-A + FU-A + single in one AU', aus: [[AUD, SPS, PPS, idr(3000), idr(50, 3), idr(4000, 4)]], options: { mtu: 1200 } },
  ];
  for (const c of cases) {
    const packets = assertRoundTrip(c.aus, c.options, c.what);
    if (c.expectTypes) assert.deepEqual(payloadTypes(packets), c.expectTypes, `${c.what}: packet types`);
  }
});

test('marker-less sender: an AU ends when the timestamp changes; flush() returns the last one', () => {
  const aus = [[AUD, SPS, PPS, idr(3000)], [AUD, pSlice(700)], [AUD, pSlice(900, 5)]];
  const packets = packetizeAll(aus, { mtu: 1200, marker: false });
  assert.ok(packets.every((p) => !p.marker));
  const errors: GatewayError[] = [];
  const d = new RtpH264Depacketizer((e) => errors.push(e));
  const got: (H264AccessUnit | undefined)[] = packets.map((p) => d.push(p));
  const firstOfAu2 = packets.findIndex((p) => p.timestamp !== packets[0]!.timestamp);
  assert.deepEqual(got.slice(0, firstOfAu2), new Array(firstOfAu2).fill(undefined));
  assert.deepEqual(got[firstOfAu2]!.nalus.map((n) => Buffer.from(n)), aus[0]);
  assert.deepEqual(d.flush()!.nalus.map((n) => Buffer.from(n)), aus[2]);
  assert.equal(d.flush(), undefined);
  assert.deepEqual(errors, []);
});

test('a packet that closes the marker-less AU before it and itself: the second AU comes with the next push', () => {
  const p = new RtpH264Packetizer({ mtu: 1200, marker: false });
  const a = p.packetize([idr(100)], 1000);
  const b = p.packetize([pSlice(100)], 4600).map((x) => ({ ...x, marker: true }));
  const c = p.packetize([pSlice(100, 9)], 8200).map((x) => ({ ...x, marker: true }));
  const d = new RtpH264Depacketizer(() => assert.fail('no error expected'));
  assert.equal(d.push(a[0]!), undefined);
  assert.equal(d.push(b[0]!)!.rtpTimestamp, 1000);
  assert.equal(d.push(c[0]!)!.rtpTimestamp, 4600);
  assert.equal(d.flush()!.rtpTimestamp, 8200);
});

test('loss in the middle of an FU-A: that AU and every AU until the next IDR are dropped, one error per gap', () => {
  const aus = [[SPS, PPS, idr(3000)], [pSlice(3000)], [pSlice(500, 3)], [pSlice(400, 4)], [SPS, PPS, idr(2000, 5)], [pSlice(300, 6)]];
  const packets = packetizeAll(aus, { mtu: 1000 });
  const au1 = packets.findIndex((p) => p.timestamp === packets[0]!.timestamp + 3600);
  const r = run(packets, new Set([au1 + 1])); // second FU-A fragment of AU 1
  assert.deepEqual(r.aus.map((a) => a.nalus.map((n) => Buffer.from(n))), [aus[0], aus[4], aus[5]]);
  assert.deepEqual(r.errors.map((e) => e.code), [ErrorCode.RtpMissingPacket]);
  assert.deepEqual(r.depacketizer.stats, { accessUnits: 3, droppedAccessUnits: 3, errors: 1 });
});

test('loss between AUs: an IDR AU that visibly starts at its beginning is kept; a continuation is dropped', () => {
  const aus = [[idr(100)], [pSlice(100)], [SPS, PPS, idr(100, 3)]];
  const packets = packetizeAll(aus, { mtu: 1200, aggregate: false });
  const r = run(packets, new Set([1])); // the P AU (one packet) is lost
  assert.deepEqual(r.aus.map((a) => a.rtpTimestamp), [packets[0]!.timestamp, packets[2]!.timestamp]);
  // Two IDR slices in one AU, the first one lost: the second slice (first_mb_in_slice ≠ 0) must not pass alone.
  const second = idr(100, 4);
  second[1] = 0x40; // ue(v) 010 → first_mb_in_slice = 1
  const p = new RtpH264Packetizer({ mtu: 1200, aggregate: false });
  const pk = [...p.packetize([idr(100)], 0), ...p.packetize([idr(100, 5), second], 3600)];
  const r2 = run(pk, new Set([1]));
  assert.deepEqual(r2.aus.map((a) => a.rtpTimestamp), [0]);
  assert.equal(r2.depacketizer.stats.droppedAccessUnits, 1);
});

test('truncated FU-A (no end fragment before the next AU) is never forwarded', () => {
  const p = new RtpH264Packetizer({ mtu: 100 });
  const a = p.packetize([idr(1000)], 0).slice(0, -1); // end fragment (with the marker) missing
  const b = p.packetize([SPS, PPS, idr(300, 2)], 3600);
  const r = run([...a, ...b]);
  assert.deepEqual(r.aus.map((x) => x.rtpTimestamp), [3600]);
  assert.deepEqual(r.errors.map((e) => e.code), [ErrorCode.RtpPayload]);
  assert.match(r.errors[0]!.message, /unfinished/);
  // Unfinished at flush(): nothing returned.
  const r2 = run(a);
  assert.deepEqual(r2.aus, []);
});

function pkt(payload: number[] | Buffer, timestamp = 0, marker = true, sequenceNumber = 1): RtpPacket {
  return { marker, payloadType: 96, sequenceNumber, timestamp, ssrc: 1, csrcs: [], payload: Buffer.from(payload) };
}
const idrPacket = (ts: number): RtpPacket => pkt(idr(50, ts & 0xff), ts);

test('malformed payloads: dropped with an RtpPayload error; recovery at the next IDR', () => {
  const bad: { what: string; payload: number[]; re: RegExp }[] = [
    { what: 'empty payload', payload: [], re: /empty/ },
    { what: 'STAP-A size past the end', payload: [0x18, 0x00, 0x05, 0x67, 0x42], re: /past the end/ },
    { what: 'STAP-A 1 trailing byte', payload: [0x18, 0x00, 0x02, 0x68, 0xce, 0x00], re: /trailing/ },
    { what: 'STAP-A without NAL units', payload: [0x18], re: /without NAL/ },
    { what: 'STAP-A nesting a FU-A', payload: [0x18, 0x00, 0x02, 0x7c, 0x85], re: /aggregated NAL type 28/ },
    { what: 'FU-A without start', payload: [0x7c, 0x45, 1, 2, 3], re: /without a start/ },
    { what: 'FU-A shorter than its header', payload: [0x7c], re: /shorter/ },
    { what: 'FU-A fragmenting type 0', payload: [0x7c, 0x80, 1], re: /fragmented NAL type 0/ },
    { what: 'STAP-B', payload: [0x19, 0, 0, 0, 1, 0x65], re: /packetization-mode 2/ },
    { what: 'MTAP16', payload: [0x1a, 0, 0], re: /packetization-mode 2/ },
    { what: 'MTAP24', payload: [0x1b, 0, 0], re: /packetization-mode 2/ },
    { what: 'FU-B', payload: [0x1d, 0x85, 0, 0, 1], re: /packetization-mode 2/ },
  ];
  for (const b of bad) {
    const r = run([idrPacket(0), pkt([0x41, 0x9a, 1], 3600), pkt(b.payload, 7200), pkt([0x41, 0x9a, 2], 10800), idrPacket(14400)]);
    assert.deepEqual(r.aus.map((a) => a.rtpTimestamp), [0, 3600, 14400], b.what);
    assert.equal(r.errors.length, 1, b.what);
    assert.ok(r.errors[0] instanceof GatewayError);
    assert.equal(r.errors[0]!.code, ErrorCode.RtpPayload, b.what);
    assert.match(r.errors[0]!.message, b.re, b.what);
    assert.deepEqual(r.depacketizer.stats, { accessUnits: 3, droppedAccessUnits: 2, errors: 1 }, b.what);
  }
});

test('FU-A: a new start before the end drops the unfinished NAL unit and its AU', () => {
  const r = run([pkt([0x7c, 0x85, 1, 2], 0, false), pkt([0x7c, 0x85, 3, 4], 0, false), pkt([0x7c, 0x45, 5], 0), idrPacket(3600)]);
  assert.deepEqual(r.aus.map((a) => a.rtpTimestamp), [3600]);
  assert.match(r.errors[0]!.message, /new start before the end/);
});

test('FU-A: start and end in one fragment is accepted as a whole NAL unit; header = F|NRI + type', () => {
  const r = run([pkt([0x7c, 0xc5, 0x88, 9], 0)]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.aus[0]!.nalus.map((n) => [...n]), [[0x65, 0x88, 9]]);
});

test('NAL types 0, 30, 31 are dropped silently; STAP-A zero-size padding ends the aggregate', () => {
  const r = run([pkt([0x00, 1], 0, false), pkt([0x1e, 1], 0, false), pkt([0x1f, 1], 0, false), pkt([0x18, 0, 2, 0x06, 7, 0, 0, 0, 0], 0)]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.aus[0]!.nalus.map((n) => [...n]), [[0x06, 7]]);
});

test('an AU with more than MAX_NALUS_PER_AU NAL units is dropped (TooLarge)', () => {
  const packets = Array.from({ length: MAX_NALUS_PER_AU + 1 }, (_, i) => pkt([0x06, i], 0, i === MAX_NALUS_PER_AU));
  const r = run([...packets, idrPacket(3600)]);
  assert.deepEqual(r.aus.map((a) => a.rtpTimestamp), [3600]);
  assert.deepEqual(r.errors.map((e) => e.code), [ErrorCode.TooLarge]);
});

test('outputs of single/STAP-A packets are views; reassembled FU-A NAL units are owned copies', () => {
  const single = pkt(idr(20), 0);
  const r1 = run([single]);
  assert.equal(r1.aus[0]!.nalus[0]!.buffer, single.payload.buffer);
  const fu = new RtpH264Packetizer({ mtu: 10 }).packetize([idr(40)], 0);
  const r2 = run(fu);
  assert.ok(fu.every((p) => p.payload.buffer !== r2.aus[0]!.nalus[0]!.buffer));
});

test('fast-check: arbitrary packets never throw, errors are GatewayErrors, AUs hold non-empty NAL units', () => {
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.constantFrom(0x18, 0x7c, 0x5c, 0x19, 0x1d), fc.uint8Array({ maxLength: 40 })).map(([h, rest]) => Uint8Array.of(h, ...rest)),
  );
  const packet = fc.record({ payload, marker: fc.boolean(), timestamp: fc.integer({ min: 0, max: 3 }), lost: fc.boolean() });
  fc.assert(fc.property(fc.array(packet, { maxLength: 40 }), (list) => {
    const d = new RtpH264Depacketizer((e) => assert.ok(e instanceof GatewayError));
    for (const [i, x] of list.entries()) {
      if (x.lost) d.onPacketLoss();
      const p = pkt(Buffer.from(x.payload), x.timestamp * 3600, x.marker, i);
      const before = Buffer.from(p.payload);
      const au = d.push(p);
      assert.deepEqual(p.payload, before);
      if (au) assert.ok(au.nalus.length > 0 && au.nalus.every((n) => n.length > 0));
    }
    d.flush();
  }), { numRuns: 500, seed: 6184 });
});
