/**
 * RTP-wrapped MPEG-TS (RFC 2250 §2, payload type 33) next to plain TS datagrams: detection per datagram, reordering
 * by sequence number, loss, SSRC changes, and bad input (truncated headers, CSRC and extension lengths beyond the
 * datagram, arbitrary bytes) that must never throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { serializeRtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { MP2T_PAYLOAD_TYPE, rtpMpegtsPayloadOffset, SSRC_SWITCH_PACKETS, TsDatagramReader } from '../../../../core/protocol/mpegts/ts-datagram-reader.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { recorder } from './ts-builder.ts';

const REAL = readFileSync(fileURLToPath(new URL('../../../../fixtures/ts/demux-h264-aac-2s.ts', import.meta.url)));
const CHUNK = 7 * 188;
const chunks: Buffer[] = [];
for (let i = 0; i < REAL.length; i += CHUNK) chunks.push(REAL.subarray(i, i + CHUNK));

/** ffmpeg -f rtp_mpegts: 12-byte header, PT 33, 7 packets per RTP packet. */
function rtp(payload: Uint8Array, sequenceNumber: number, ssrc = 0x1234): Buffer {
  return serializeRtpPacket({ payloadType: MP2T_PAYLOAD_TYPE, sequenceNumber, timestamp: sequenceNumber * 3600, ssrc, payload });
}

function readAll(datagrams: readonly Buffer[]): { sink: ReturnType<typeof recorder>; reader: TsDatagramReader; demuxer: TsDemuxer } {
  const sink = recorder();
  const demuxer = new TsDemuxer(sink);
  const reader = new TsDatagramReader({ pushDatagram: (d) => demuxer.pushDatagram(d), onDecodeError: (e) => sink.onDecodeError(e) });
  let now = 0;
  for (const d of datagrams) reader.push(d, now++);
  reader.flush();
  demuxer.flush();
  return { sink, reader, demuxer };
}
const summary = (r: ReturnType<typeof recorder>): string => r.pes.map((p) => `${p.pid}/${p.pts}/${p.data.toString('base64')}`).join(' ');
const PLAIN = readAll(chunks);
/** Same PES as the plain datagrams (no multi-kilobyte diff on failure). */
function assertPlainPes(r: ReturnType<typeof recorder>): void {
  const got = summary(r);
  assert.ok(got === summary(PLAIN.sink), `PES differ: ${r.pes.length} PES vs ${PLAIN.sink.pes.length}, first ${r.pes[0]?.pid}/${r.pes[0]?.pts}`);
}

test('rtpMpegtsPayloadOffset: header, CSRC list and extension; not RTP, not PT 33, no 0x47 after the header', () => {
  const ts = chunks[0]!;
  assert.equal(rtpMpegtsPayloadOffset(rtp(ts, 1)), 12);
  const withCsrc = serializeRtpPacket({ payloadType: 33, sequenceNumber: 1, timestamp: 0, ssrc: 1, payload: ts, csrcs: [1, 2, 3] });
  assert.equal(rtpMpegtsPayloadOffset(withCsrc), 24);
  const withExt = Buffer.concat([Buffer.from([0x90, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from([0xbe, 0xde, 0, 2]), Buffer.alloc(8), ts]);
  assert.equal(rtpMpegtsPayloadOffset(withExt), 24, 'X bit: 4 + 2 × 4 extension bytes skipped');
  assert.equal(rtpMpegtsPayloadOffset(ts), -1, 'plain TS (0x47 = version 1)');
  assert.equal(rtpMpegtsPayloadOffset(serializeRtpPacket({ payloadType: 96, sequenceNumber: 1, timestamp: 0, ssrc: 1, payload: ts })), -1, 'PT 96');
  assert.equal(rtpMpegtsPayloadOffset(rtp(Buffer.from('not a transport stream'), 1)), -1, 'payload does not start with 0x47');
});

test('truncated RTP headers and CSRC / extension lengths beyond the datagram are not RTP-TS and never read past the end', () => {
  const full = rtp(chunks[0]!, 1);
  for (let n = 0; n <= 13; n++) assert.equal(rtpMpegtsPayloadOffset(full.subarray(0, n)), n === 13 ? 12 : -1, `${n} bytes`);
  const csrcPastEnd = Buffer.from(full.subarray(0, 20));
  csrcPastEnd[0] = 0x8f; // CC = 15: 60 CSRC bytes, 8 present
  assert.equal(rtpMpegtsPayloadOffset(csrcPastEnd), -1);
  const extHeaderPastEnd = Buffer.from([0x90, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde]);
  assert.equal(rtpMpegtsPayloadOffset(extHeaderPastEnd), -1);
  const extPastEnd = Buffer.concat([Buffer.from([0x90, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff]), Buffer.from([0x47, 1, 2])]);
  assert.equal(rtpMpegtsPayloadOffset(extPastEnd), -1, 'extension of 65535 words');
  // Such datagrams go the plain way and are dropped there as junk.
  const { sink, reader, demuxer } = readAll([csrcPastEnd, extHeaderPastEnd, extPastEnd]);
  assert.deepEqual(sink.pes, []);
  assert.equal(reader.stats.rtpPackets, 0);
  assert.equal(demuxer.stats.datagramsDropped, 3);
});

test('RTP-wrapped TS in order gives the same PES as plain datagrams', () => {
  const r = readAll(chunks.map((c, i) => rtp(c, 65530 + i))); // sequence numbers wrap
  assertPlainPes(r.sink);
  assert.deepEqual(r.sink.errors, []);
  assert.equal(r.reader.stats.rtpPackets, chunks.length);
  assert.equal(r.reader.rtp, true);
});

test('reordered and duplicated RTP packets are put back in order: same PES, no continuity error', () => {
  const packets = chunks.map((c, i) => rtp(c, i));
  const shuffled: Buffer[] = [packets[0]!]; // the first packet starts the sequence
  for (let i = 1; i < packets.length; i += 4) {
    const group = packets.slice(i, i + 4).reverse(); // every 4 arrive backwards
    shuffled.push(...group);
    if ((i - 1) % 20 === 0) shuffled.push(group[0]!); // and a duplicate now and then
  }
  const r = readAll(shuffled);
  assertPlainPes(r.sink);
  assert.equal(r.demuxer.stats.ccErrors, 0);
  assert.ok(r.reader.stats.rtpReordered > 10 && r.reader.stats.rtpDuplicates > 0, JSON.stringify(r.reader.stats));
  assert.equal(r.reader.stats.rtpLost, 0);
});

test('a lost RTP packet is counted and reported; the demuxer sees the continuity gap', () => {
  const packets = chunks.map((c, i) => rtp(c, i)).filter((_, i) => i !== 10);
  const r = readAll(packets);
  assert.equal(r.reader.stats.rtpLost, 1);
  assert.ok(r.sink.errors.some((e) => e.code === ErrorCode.RtpMissingPacket && e.message.includes('1 packet(s) lost before sequence number 11')));
  assert.ok(r.demuxer.stats.ccErrors > 0);
});

test('another SSRC: stray packets are dropped; a sender restart (SSRC_SWITCH_PACKETS in a row) is followed', () => {
  const half = Math.floor(chunks.length / 2);
  const datagrams: Buffer[] = [];
  chunks.slice(0, half).forEach((c, i) => {
    datagrams.push(rtp(c, i));
    if (i % 5 === 0) datagrams.push(rtp(chunks[0]!, 999, 0xbad)); // stray: another SSRC, stale content
  });
  const r1 = readAll(datagrams);
  assert.equal(r1.reader.stats.rtpSsrcChanges, 0);
  assert.equal(r1.reader.stats.rtpDropped, Math.ceil(half / 5));
  assert.equal(r1.demuxer.stats.ccErrors, 0, 'stray packets never reached the demuxer');
  // The sender restarts with a new SSRC and sequence: the first SSRC_SWITCH_PACKETS - 1 are dropped, then followed.
  const restart = chunks.slice(half).map((c, i) => rtp(c, 5000 + i, 0x5678));
  const r2 = readAll([...chunks.slice(0, half).map((c, i) => rtp(c, i)), ...restart]);
  assert.equal(r2.reader.stats.rtpSsrcChanges, 1);
  assert.equal(r2.reader.stats.rtpDropped, SSRC_SWITCH_PACKETS - 1);
  assert.equal(r2.reader.stats.rtpPackets, chunks.length - (SSRC_SWITCH_PACKETS - 1));
});

test('a sender switching from plain to RTP-wrapped datagrams is read on', () => {
  const half = Math.floor(chunks.length / 2);
  const r = readAll(chunks.map((c, i) => (i < half ? c : rtp(c, i))));
  assertPlainPes(r.sink);
});

test('RTP padding that does not fit is reported (GW_ERR_RTP_PACKET), not thrown', () => {
  const bad = rtp(chunks[0]!, 1);
  bad[0]! |= 0x20; // P bit, last byte (a TS payload byte) as the padding count
  bad[bad.length - 1] = 0;
  const r = readAll([bad]);
  assert.equal(r.reader.stats.rtpDropped, 1);
  assert.deepEqual(r.sink.errors.map((e) => e.code), [ErrorCode.RtpPacket]);
});

test('reorder options are checked at construction', () => {
  assert.throws(() => new TsDatagramReader({ pushDatagram: () => {}, onDecodeError: () => {} }, { maxPackets: -1, maxDelayMs: 0 }), (e: unknown) => e instanceof GatewayError && e.code === ErrorCode.ConfInvalid);
});

test('fast-check: arbitrary datagrams, RTP-looking ones included, never throw and are not mutated', () => {
  const rtpLike = fc.tuple(
    fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 80 }), fc.boolean(), fc.integer({ min: 0, max: 1500 }),
  ).map(([b0, seq, rest, pt33, cut]) => {
    const d = Buffer.concat([Buffer.from([0x80 | (b0 & 0x3f), pt33 ? 33 : b0 & 0x7f, seq >> 8, seq & 0xff]), Buffer.from(rest), chunks[1]!]);
    return Uint8Array.from(d.subarray(0, Math.min(d.length, 4 + rest.length + cut)));
  });
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 1500 }), rtpLike), { maxLength: 30 }), (datagrams) => {
      const copies = datagrams.map((d) => Uint8Array.from(d));
      const { sink } = readAll(datagrams.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
      assert.deepEqual(datagrams, copies, 'input integrity');
      assert.ok(sink.errors.every((e) => e instanceof GatewayError));
    }),
    { numRuns: 300, seed: 7 },
  );
});
