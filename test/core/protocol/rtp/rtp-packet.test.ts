import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, GatewayError, isGatewayError } from '../../../../core/errors.ts';
import { parseRtpPacket, serializeRtpPacket, RTP_MAX_PACKET_SIZE } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { loadCapture } from './datagrams.ts';

const ffmpeg = loadCapture('ffmpeg-h264');
const gst = loadCapture('gst-h264-twcc');

function assertRtpError(fn: () => unknown, msg?: string): void {
  assert.throws(fn, (e: unknown) => isGatewayError(e, ErrorCode.RtpPacket), msg);
}

test('ffmpeg packets: fixed header fields, consecutive sequence numbers, marker on the last packet of a frame', () => {
  const pkts = ffmpeg.rtp.map((d) => parseRtpPacket(d));
  for (const [i, p] of pkts.entries()) {
    assert.equal(p.payloadType, 96);
    assert.equal(p.ssrc, 0x11223344); // -ssrc 287454020
    assert.deepEqual(p.csrcs, []);
    assert.equal(p.extensionProfile, undefined);
    assert.equal(p.payload.length, ffmpeg.rtp[i]!.length - 12);
    assert.equal(p.payload.buffer, ffmpeg.rtp[i]!.buffer, 'payload is a view');
    if (i > 0) assert.equal(p.sequenceNumber, (pkts[i - 1]!.sequenceNumber + 1) & 0xffff);
    const next = pkts[i + 1];
    if (next !== undefined) assert.equal(p.marker, next.timestamp !== p.timestamp, `marker of packet ${i}`);
  }
  // first packet: STAP-A (24) carrying SPS (0x67) — RFC 6184 as ffmpeg sends it before an IDR
  assert.equal(pkts[0]!.payload[0]! & 0x1f, 24);
  assert.equal(pkts[0]!.payload[3], 0x67);
  // 25 fps at 90 kHz: 3600 ticks between frames
  const frameTimestamps = [...new Set(pkts.map((p) => p.timestamp))];
  for (let i = 1; i < frameTimestamps.length; i++) assert.equal((frameTimestamps[i]! - frameTimestamps[i - 1]! + 2 ** 32) % 2 ** 32, 3600);
});

test('serialize(parse(x)) gives back the ffmpeg bytes', () => {
  for (const d of ffmpeg.rtp) {
    const p = parseRtpPacket(d);
    assert.deepEqual(serializeRtpPacket({ ...p, csrcs: p.csrcs }), d);
  }
});

test('GStreamer packets: one-byte header extension (0xBEDE, RFC 8285) is skipped', () => {
  const p = parseRtpPacket(gst.rtp[0]!);
  // 90 60 2af0 634e4e22 8225ef9f | bede 0001 | 51 00 00 00 | 09 10
  assert.equal(p.extensionProfile, 0xbede);
  assert.equal(p.sequenceNumber, 0x2af0);
  assert.equal(p.timestamp, 0x634e4e22);
  assert.equal(p.ssrc, 0x8225ef9f);
  assert.deepEqual([...p.payload], [0x09, 0x10]); // AUD
  const types = gst.rtp.slice(0, 4).map((d) => parseRtpPacket(d).payload[0]! & 0x1f);
  assert.deepEqual(types, [9, 7, 8, 6]); // AUD, SPS, PPS, SEI
  for (const d of gst.rtp) assert.equal(parseRtpPacket(d).payload.length, d.length - 20);
});

/** A real ffmpeg packet rewritten with 2 CSRCs, a 2-word extension and 5 bytes of padding. */
function decorated(): { bytes: Buffer; payload: Buffer } {
  const src = ffmpeg.rtp[1]!;
  const payload = src.subarray(12);
  const bytes = Buffer.concat([
    Buffer.from([0x80 | 0x20 | 0x10 | 2, src[1]!]), src.subarray(2, 12),
    Buffer.from('0000000a0000000b', 'hex'), // CSRCs
    Buffer.from('10000002' + 'aabbccdd' + '11223344', 'hex'), // profile 0x1000, 2 words
    payload,
    Buffer.from([0, 0, 0, 0, 5]), // padding, last byte = count
  ]);
  return { bytes, payload };
}

test('CSRC list, extension and padding are all handled together; input is not mutated', () => {
  const { bytes, payload } = decorated();
  const before = Buffer.from(bytes);
  const p = parseRtpPacket(bytes);
  assert.deepEqual(p.csrcs, [10, 11]);
  assert.equal(p.extensionProfile, 0x1000);
  assert.deepEqual(p.payload, payload);
  assert.deepEqual(bytes, before);
});

test('marker bit and field extremes', () => {
  const b = serializeRtpPacket({ marker: true, payloadType: 127, sequenceNumber: 65535, timestamp: 2 ** 32 - 1, ssrc: 2 ** 32 - 1, payload: new Uint8Array(0) });
  assert.deepEqual([...b], [0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const p = parseRtpPacket(b);
  assert.equal(p.marker, true);
  assert.equal(p.payloadType, 127);
  assert.equal(p.sequenceNumber, 65535);
  assert.equal(p.timestamp, 2 ** 32 - 1);
  assert.equal(p.ssrc, 2 ** 32 - 1);
  assert.equal(p.payload.length, 0);
});

test('padding: count 0 and count larger than the payload are errors; count = all bytes after the header is fine', () => {
  const base = Buffer.from([0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]); // 12-byte header, V=2 with P set
  assertRtpError(() => parseRtpPacket(Buffer.concat([base, Buffer.from([1, 2, 0])])), 'count 0');
  assertRtpError(() => parseRtpPacket(Buffer.concat([base, Buffer.from([1, 2, 4])])), 'count 4 > 3');
  assert.equal(parseRtpPacket(Buffer.concat([base, Buffer.from([1, 2, 3])])).payload.length, 0);
  assert.deepEqual([...parseRtpPacket(Buffer.concat([base, Buffer.from([7, 8, 1])])).payload], [7, 8]);
  assertRtpError(() => parseRtpPacket(Buffer.from([0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 13])), 'header only, count 13');
});

test('bad version, CSRC list and extension past the end, oversize', () => {
  const ok = ffmpeg.rtp[0]!;
  for (const v of [0, 1, 3]) {
    const bad = Buffer.from(ok);
    bad[0] = (bad[0]! & 0x3f) | (v << 6);
    assertRtpError(() => parseRtpPacket(bad), `version ${v}`);
  }
  assertRtpError(() => parseRtpPacket(Buffer.from([0x8f, 0x60, ...new Array<number>(10 + 14 * 4).fill(0)])), 'CC=15, 14 CSRCs present');
  assertRtpError(() => parseRtpPacket(Buffer.from([0x90, 0x60, ...new Array<number>(10).fill(0), 0xbe, 0xde])), 'half an extension header');
  assertRtpError(() => parseRtpPacket(Buffer.from([0x90, 0x60, ...new Array<number>(10).fill(0), 0xbe, 0xde, 0, 2, 0, 0, 0, 0])), 'extension of 2 words, 1 present');
  assertRtpError(() => parseRtpPacket(Buffer.alloc(RTP_MAX_PACKET_SIZE + 1, 0x80)), 'too large');
});

test('truncation at every length: short of the header + CSRC + extension throws, never anything but GatewayError', () => {
  const { bytes } = decorated();
  const headerEnd = 12 + 8 + 12;
  for (let n = 0; n < bytes.length; n++) {
    const cut = bytes.subarray(0, n);
    if (n < headerEnd) {
      assertRtpError(() => parseRtpPacket(cut), `length ${n}`);
      continue;
    }
    try {
      const p = parseRtpPacket(cut); // the last byte is now some payload byte: a valid count or not
      assert.ok(p.payload.length <= n - headerEnd);
    } catch (e) {
      assert.ok(isGatewayError(e, ErrorCode.RtpPacket));
    }
  }
  for (let n = 0; n < 12; n++) assertRtpError(() => parseRtpPacket(ffmpeg.rtp[0]!.subarray(0, n)));
});

test('property: any bytes either parse or throw GatewayError(RtpPacket); the payload stays inside the input', () => {
  const real = [...ffmpeg.rtp.slice(0, 4), ...gst.rtp.slice(0, 4), decorated().bytes];
  const mutated = fc.tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat())
    .map(([src, edits, cut]) => {
      const b = Buffer.from(src);
      for (const [i, v] of edits) b[i % b.length] = v;
      return b.subarray(0, src.length - (cut % Math.min(40, src.length)));
    });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)), mutated), (b) => {
    const before = Buffer.from(b);
    try {
      const p = parseRtpPacket(b);
      assert.ok(p.payload.byteOffset >= b.byteOffset && p.payload.byteOffset + p.payload.length <= b.byteOffset + b.length);
    } catch (e) {
      if (!(e instanceof GatewayError) || e.code !== ErrorCode.RtpPacket) throw e;
    }
    assert.deepEqual(b, before);
  }), { numRuns: 2000 });
});

test('property: serialize → parse round trips every field', () => {
  fc.assert(fc.property(
    fc.record({
      marker: fc.boolean(), payloadType: fc.integer({ min: 0, max: 127 }), sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
      timestamp: fc.nat({ max: 2 ** 32 - 1 }), ssrc: fc.nat({ max: 2 ** 32 - 1 }),
      csrcs: fc.array(fc.nat({ max: 2 ** 32 - 1 }), { maxLength: 15 }), payload: fc.uint8Array({ maxLength: 64 }),
    }),
    (init) => {
      const p = parseRtpPacket(serializeRtpPacket(init));
      assert.deepEqual({ ...p, payload: new Uint8Array(p.payload) }, { ...init, payload: new Uint8Array(init.payload) });
    },
  ), { numRuns: 500 });
  assertRtpError(() => serializeRtpPacket({ payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: new Uint8Array(0), csrcs: new Array<number>(16).fill(0) }));
});
