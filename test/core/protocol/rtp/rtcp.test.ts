import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, GatewayError, isGatewayError } from '../../../../core/errors.ts';
import {
  buildReceiverReport, isRtcpPacketType, ntpToUnixMs, parseRtcpCompound, parseRtcpReceiverReport, DEFAULT_CNAME,
  RTCP_MAX_PACKETS_PER_COMPOUND,
} from '../../../../core/protocol/rtp/rtcp.ts';
import type { RtcpReportBlock } from '../../../../core/protocol/rtp/rtcp.ts';
import { loadCapture } from './datagrams.ts';

const ffmpeg = loadCapture('ffmpeg-h264');
const gst = loadCapture('gst-h264-twcc');
const gstRr = loadCapture('gst-receiver-reports');

function assertRtcpError(fn: () => unknown, msg?: string): void {
  assert.throws(fn, (e: unknown) => isGatewayError(e, ErrorCode.RtcpPacket), msg);
}

test('ffmpeg SR (sent before the first RTP packet, then every 5 s): fields and NTP → Unix ms', () => {
  const [first, second] = ffmpeg.rtcp.map((d) => parseRtcpCompound(d));
  // 80c80006 11223344 eeac6c4f 5ae147ae 9e5fa292 00000000 00000000
  assert.deepEqual(first, [{
    type: 'sr',
    report: {
      ssrc: 0x11223344, ntpSeconds: 0xeeac6c4f, ntpFraction: 0x5ae147ae,
      ntpUnixMs: (0xeeac6c4f - 2208988800) * 1000 + (0x5ae147ae / 2 ** 32) * 1000,
      rtpTimestamp: 0x9e5fa292, packetCount: 0, octetCount: 0,
    },
  }]);
  assert.equal(second?.length, 1);
  const sr2 = second![0]!;
  assert.ok(sr2.type === 'sr');
  assert.equal(sr2.report.packetCount, 202);
  assert.equal(sr2.report.octetCount, 0x31283);
  // ffmpeg derives the SR RTP timestamp from its NTP clock: both clocks advance alike (90 kHz)
  const sr1 = first![0]!;
  assert.ok(sr1.type === 'sr');
  const ntpMs = sr2.report.ntpUnixMs - sr1.report.ntpUnixMs;
  const rtpMs = ((sr2.report.rtpTimestamp - sr1.report.rtpTimestamp) / 90000) * 1000;
  assert.ok(Math.abs(ntpMs - 5000) < 50, `${ntpMs}`);
  assert.ok(Math.abs(ntpMs - rtpMs) < 0.1, `${ntpMs} vs ${rtpMs}`);
});

test('ntpToUnixMs: epoch offset and fraction', () => {
  assert.equal(ntpToUnixMs(2208988800, 0), 0);
  assert.equal(ntpToUnixMs(2208988801, 2 ** 31), 1500);
});

test('GStreamer compounds: SR + SDES, and SR + SDES + BYE at EOS', () => {
  const parsed = gst.rtcp.map((d) => parseRtcpCompound(d));
  for (const c of parsed.slice(0, -1)) {
    assert.deepEqual(c.map((p) => p.type), ['sr', 'other']);
    assert.deepEqual(c[1], { type: 'other', packetType: 202 });
    assert.ok(c[0]!.type === 'sr' && c[0]!.report.ssrc === 0x8225ef9f);
  }
  const last = parsed.at(-1)!;
  assert.deepEqual(last.map((p) => p.type), ['sr', 'other', 'bye']);
  assert.deepEqual(last[2], { type: 'bye', ssrcs: [0x8225ef9f] });
  const packetCounts = parsed.map((c) => (c[0]!.type === 'sr' ? c[0]!.report.packetCount : -1));
  assert.deepEqual([...packetCounts].sort((a, b) => a - b), packetCounts, 'packet count grows');
});

test('GStreamer RR + SDES: parsed as two packets; the report block reads back', () => {
  for (const d of gstRr.rtcp) assert.deepEqual(parseRtcpCompound(d), [{ type: 'other', packetType: 201 }, { type: 'other', packetType: 202 }]);
  // 81c90007 87fc95df | 11223344 00 000000 00000c44 000000c4 6c5697ce 00025b10
  const rr = parseRtcpReceiverReport(gstRr.rtcp[0]!);
  assert.deepEqual(rr, {
    reporterSsrc: 0x87fc95df,
    blocks: [{ ssrc: 0x11223344, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 0xc44, jitter: 0xc4, lastSr: 0x6c5697ce, delaySinceLastSr: 0x25b10 }],
  });
});

test('buildReceiverReport reproduces GStreamer\'s RR bytes exactly (peer check), then a valid SDES CNAME', () => {
  for (const d of gstRr.rtcp) {
    const theirs = parseRtcpReceiverReport(d);
    const ours = buildReceiverReport(theirs.reporterSsrc, theirs.blocks, 'user610710968@host-ea26a78a');
    assert.deepEqual(ours.subarray(0, 32), d.subarray(0, 32), 'RR packet identical');
    // GStreamer adds a TOOL item; ours is CNAME only: 81ca 0008 ssrc | 01 1b <27 bytes> 00 | pad to 32 bits
    assert.deepEqual(ours.subarray(32, 34), d.subarray(32, 34), 'SDES V/SC/PT');
    assert.deepEqual(ours.subarray(36, 36 + 4 + 2 + 27), d.subarray(36, 36 + 4 + 2 + 27), 'chunk SSRC + CNAME item');
    assert.equal(ours.length, 32 + 4 + 4 + 2 + 27 + 3, 'END + padding');
  }
});

test('buildReceiverReport: RR + SDES CNAME, parsed back', () => {
  const blocks: RtcpReportBlock[] = [
    { ssrc: 0xdeadbeef, fractionLost: 51, cumulativeLost: 2, extendedHighestSeq: 65541, jitter: 9, lastSr: 0x6c4f5ae1, delaySinceLastSr: 98304 },
    { ssrc: 1, fractionLost: 0, cumulativeLost: -3, extendedHighestSeq: 0, jitter: 0, lastSr: 0, delaySinceLastSr: 0 },
  ];
  const out = buildReceiverReport(0x01020304, blocks, 'cg');
  assert.equal(out.length % 4, 0);
  assert.deepEqual(parseRtcpCompound(out), [{ type: 'other', packetType: 201 }, { type: 'other', packetType: 202 }]);
  assert.deepEqual(parseRtcpReceiverReport(out), { reporterSsrc: 0x01020304, blocks });
  const sdes = out.subarray(8 + 2 * 24);
  // 81 ca 0003 | 01020304 | 01 02 'c' 'g' | 00 00 00 00  (END + padding to a 32-bit boundary)
  assert.deepEqual([...sdes], [0x81, 0xca, 0, 3, 1, 2, 3, 4, 1, 2, 0x63, 0x67, 0, 0, 0, 0]);

  const empty = buildReceiverReport(7, []);
  assert.deepEqual([...empty.subarray(0, 8)], [0x80, 0xc9, 0, 1, 0, 0, 0, 7]);
  assert.equal(empty.subarray(18, 18 + DEFAULT_CNAME.length).toString(), DEFAULT_CNAME);
  assert.deepEqual(parseRtcpReceiverReport(empty), { reporterSsrc: 7, blocks: [] });
});

test('buildReceiverReport: every CNAME length keeps the SDES chunk 32-bit aligned with at least one null octet', () => {
  for (let n = 0; n <= 255; n++) {
    const out = buildReceiverReport(1, [], 'x'.repeat(n));
    const sdes = out.subarray(8);
    assert.equal(sdes.length, (sdes.readUInt16BE(2) + 1) * 4);
    assert.equal(sdes[9], n);
    assert.equal(sdes[10 + n], 0, 'END item');
    assert.ok(sdes.subarray(10 + n).every((b) => b === 0));
  }
  assertRtcpError(() => buildReceiverReport(1, [], 'x'.repeat(256)));
  assertRtcpError(() => buildReceiverReport(1, [], 'é'.repeat(128)), '256 UTF-8 bytes');
});

test('buildReceiverReport clamps fields to their widths; 31 blocks max', () => {
  const b: RtcpReportBlock = { ssrc: -1, fractionLost: 300, cumulativeLost: 1e9, extendedHighestSeq: 2 ** 32 + 5, jitter: 2 ** 40, lastSr: 2 ** 32 + 1, delaySinceLastSr: -5 };
  const [back] = parseRtcpReceiverReport(buildReceiverReport(1, [b])).blocks;
  assert.deepEqual(back, { ssrc: 0xffffffff, fractionLost: 255, cumulativeLost: 0x7fffff, extendedHighestSeq: 5, jitter: 0xffffffff, lastSr: 1, delaySinceLastSr: 0 });
  assert.equal(parseRtcpReceiverReport(buildReceiverReport(1, [{ ...b, cumulativeLost: -1e9 }])).blocks[0]!.cumulativeLost, -0x800000);
  const many = new Array<RtcpReportBlock>(31).fill(b);
  assert.equal(parseRtcpReceiverReport(buildReceiverReport(1, many)).blocks.length, 31);
  assertRtcpError(() => buildReceiverReport(1, [...many, b]));
});

test('errors: empty, bad version, length past the end, trailing bytes, SR/BYE counts, too many packets', () => {
  const sr = ffmpeg.rtcp[0]!;
  assertRtcpError(() => parseRtcpCompound(Buffer.alloc(0)));
  const v1 = Buffer.from(sr);
  v1[0] = 0x40;
  assertRtcpError(() => parseRtcpCompound(v1), 'version 1');
  const bye = Buffer.from([0x81, 0xcb, 0, 1, 1, 2, 3, 4]);
  const badSecond = Buffer.concat([sr, Buffer.from([0x01, 0xcb, 0, 0])]);
  assertRtcpError(() => parseRtcpCompound(badSecond), 'version 0 in the second packet');
  assertRtcpError(() => parseRtcpCompound(Buffer.concat([sr, bye.subarray(0, 6)])), 'BYE cut');
  assertRtcpError(() => parseRtcpCompound(Buffer.concat([sr, Buffer.from([0x81])])), 'one trailing byte');
  const srRc1 = Buffer.from(sr);
  srRc1[0] = 0x81; // RC=1 but no report block
  assertRtcpError(() => parseRtcpCompound(srRc1), 'SR RC=1 without block');
  const shortSr = Buffer.from([0x80, 0xc8, 0, 1, 0, 0, 0, 1]);
  assertRtcpError(() => parseRtcpCompound(shortSr), 'SR without sender info');
  assertRtcpError(() => parseRtcpCompound(Buffer.from([0x82, 0xcb, 0, 1, 1, 2, 3, 4])), 'BYE SC=2, one SSRC');
  assert.deepEqual(parseRtcpCompound(Buffer.concat([sr, bye])).map((p) => p.type), ['sr', 'bye']);
  const app = Buffer.from([0x80, 0xcc, 0, 0]); // 4-byte packet (too short for a real APP: reported as other)
  assert.equal(parseRtcpCompound(Buffer.concat(new Array<Buffer>(RTCP_MAX_PACKETS_PER_COMPOUND).fill(app))).length, RTCP_MAX_PACKETS_PER_COMPOUND);
  assertRtcpError(() => parseRtcpCompound(Buffer.concat(new Array<Buffer>(RTCP_MAX_PACKETS_PER_COMPOUND + 1).fill(app))));
  assertRtcpError(() => parseRtcpReceiverReport(sr), 'an SR is not an RR');
});

test('truncation at every length of a real SR + SDES + BYE compound: packet boundaries parse, the rest throws', () => {
  const d = gst.rtcp.at(-1)!;
  const boundaries = new Set<number>();
  for (let o = 0; o < d.length; o += (d.readUInt16BE(o + 2) + 1) * 4) boundaries.add(o);
  boundaries.delete(0);
  for (let n = 0; n < d.length; n++) {
    const cut = d.subarray(0, n);
    if (boundaries.has(n)) assert.equal(parseRtcpCompound(cut).length, [...boundaries].filter((b) => b <= n).length);
    else assertRtcpError(() => parseRtcpCompound(cut), `length ${n}`);
  }
});

test('isRtcpPacketType: RFC 5761 demux range', () => {
  for (const pt of [200, 201, 202, 203, 204, 205, 206]) assert.equal(isRtcpPacketType(pt), true);
  for (const b of [96, 0x80 | 96, 0x80 | 0, 8, 127, 255]) assert.equal(isRtcpPacketType(b), false);
  assert.equal(isRtcpPacketType(ffmpeg.rtp[0]![1]!), false);
  assert.equal(isRtcpPacketType(ffmpeg.rtcp[0]![1]!), true);
});

test('property: any bytes either parse or throw GatewayError(RtcpPacket), input not mutated', () => {
  const real = [...ffmpeg.rtcp, ...gst.rtcp, ...gstRr.rtcp, buildReceiverReport(1, [], 'x')];
  const mutated = fc.tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
    .map(([src, edits, cut]) => {
      const b = Buffer.from(src);
      for (const [i, v] of edits) b[i % b.length] = v;
      return b.subarray(0, src.length - (cut % 8));
    });
  const versioned = fc.uint8Array({ minLength: 4, maxLength: 120 }).map((u) => {
    const b = Buffer.from(u);
    b[0] = 0x80 | (b[0]! & 0x3f);
    return b;
  });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.from(u)), versioned, mutated), (b) => {
    const before = Buffer.from(b);
    for (const parse of [parseRtcpCompound, parseRtcpReceiverReport]) {
      try {
        parse(b);
      } catch (e) {
        if (!(e instanceof GatewayError) || e.code !== ErrorCode.RtcpPacket) throw e;
      }
    }
    assert.deepEqual(b, before);
  }), { numRuns: 3000 });
});
