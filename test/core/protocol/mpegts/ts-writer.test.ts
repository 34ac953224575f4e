/**
 * The TS wire format on its own (core/protocol/mpegts/ts-writer.ts), read back by the demux-side parsers of the same
 * folder: PAT/PMT sections (ISO/IEC 13818-1 Tables 2-30/2-33, CRC_32 Annex A), PES headers (Table 2-21),
 * packetization with adaptation fields (PCR, random_access_indicator, stuffing) and continuity counters.
 * The codec-aware mapping that uses it (RtmpMessage → TS) is tested in test/core/remux/rtmp-to-ts.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../../../core/errors.ts';
import { parsePesHeader, PTS_MODULO } from '../../../../core/protocol/mpegts/pes.ts';
import { parsePat, parsePmt, StreamType } from '../../../../core/protocol/mpegts/psi.ts';
import {
  MAX_PES_PAYLOAD_SIZE,
  PesStreamId,
  writePatPacket,
  writePesPackets,
  writePmtPacket,
  type ContinuityCounters,
  type PesOptions,
} from '../../../../core/protocol/mpegts/ts-writer.ts';
import { AdaptationFieldControl, createTsPacketHeader, parseTsPacket, TS_PACKET_SIZE, TS_SYNC_BYTE, type TsPacketHeader } from '../../../../core/protocol/mpegts/ts-packet.ts';

function packets(buf: Buffer): TsPacketHeader[] {
  assert.equal(buf.length % TS_PACKET_SIZE, 0, 'whole transport packets');
  const out: TsPacketHeader[] = [];
  for (let o = 0; o < buf.length; o += TS_PACKET_SIZE) {
    assert.equal(buf[o], TS_SYNC_BYTE, `sync byte at ${o}`);
    const h = createTsPacketHeader();
    assert.ok(parseTsPacket(buf, o, h), `packet at ${o} parses`);
    out.push(h);
  }
  return out;
}

/** The section of a one-packet PSI table: after pointer_field. */
function section(pkt: Buffer): Buffer {
  const h = packets(pkt)[0];
  assert.ok(h.payloadUnitStartIndicator);
  return pkt.subarray(h.payloadStart + 1 + pkt[h.payloadStart]);
}

/** The PES bytes (header + ES) of a packetized PES: the payloads of its packets, in order. */
function pesBytes(buf: Buffer): Buffer {
  return Buffer.concat(packets(buf).map((h) => buf.subarray(h.payloadStart, h.payloadEnd)));
}

const VIDEO: PesOptions = { pid: 0x100, streamId: PesStreamId.Video, pts90k: 93_600, dts90k: 90_000, pcr90k: 90_000, randomAccess: true, dataAlignment: true };
const AUDIO: PesOptions = { pid: 0x101, streamId: PesStreamId.Audio, pts90k: 90_900, dts90k: 90_900, pcr90k: undefined, randomAccess: false, dataAlignment: true };

test('PAT: one program on PID 0, valid CRC_32, fill 0xFF; a flipped bit fails the CRC', () => {
  const ccs: ContinuityCounters = new Map();
  const pkt = writePatPacket(1, 0x1000, ccs, 7);
  assert.equal(pkt.length, TS_PACKET_SIZE);
  const [h] = packets(pkt);
  assert.equal(h.pid, 0);
  assert.equal(h.adaptationFieldControl, AdaptationFieldControl.PayloadOnly);
  assert.equal(pkt[4], 0, 'pointer_field');
  const pat = parsePat(section(pkt));
  assert.deepEqual(pat, { transportStreamId: 7, versionNumber: 0, currentNextIndicator: true, programs: [{ programNumber: 1, pmtPid: 0x1000 }] });
  assert.ok(pkt.subarray(5 + 16).every((b) => b === 0xff), 'the rest of the packet is 0xFF');
  const bad = Buffer.from(section(pkt));
  bad[9] ^= 0x01;
  assert.throws(() => parsePat(bad), GatewayError);
});

test('PMT: PCR_PID, version_number, streams in order, valid CRC_32', () => {
  const ccs: ContinuityCounters = new Map();
  const streams = [{ streamType: StreamType.H265, elementaryPid: 0x100 }, { streamType: StreamType.AdtsAac, elementaryPid: 0x101 }];
  const pkt = writePmtPacket(3, 0x1000, 0x100, streams, 21, ccs);
  const [h] = packets(pkt);
  assert.equal(h.pid, 0x1000);
  const pmt = parsePmt(section(pkt));
  assert.deepEqual(pmt, { programNumber: 3, versionNumber: 21, currentNextIndicator: true, pcrPid: 0x100, streams });
  assert.equal(parsePmt(section(writePmtPacket(3, 0x1000, 0x101, [], 33, ccs))).versionNumber, 1, 'version_number is 5 bits');
});

test('PES with PTS and DTS: header fields, PCR and random_access_indicator on the first packet only, ES copied in order', () => {
  const es = [Uint8Array.of(0, 0, 0, 1, 9, 0xf0), Buffer.alloc(500, 0x11), Uint8Array.of(0x42)];
  const buf = writePesPackets(VIDEO, es, new Map());
  const hs = packets(buf);
  assert.equal(hs.length, Math.ceil((19 + 507 + 8) / 184));
  assert.ok(hs[0].payloadUnitStartIndicator);
  assert.ok(hs.slice(1).every((h) => !h.payloadUnitStartIndicator));
  assert.equal(hs[0].pcr27m, 90_000 * 300);
  assert.ok(hs[0].randomAccessIndicator);
  assert.ok(hs.slice(1).every((h) => h.pcr27m === -1 && !h.randomAccessIndicator));
  const pes = pesBytes(buf);
  const ph = parsePesHeader(pes);
  assert.ok(ph !== undefined);
  assert.equal(ph.streamId, 0xe0);
  assert.equal(ph.pts90k, 93_600);
  assert.equal(ph.dts90k, 90_000);
  assert.equal(ph.headerLength, 19);
  assert.equal(ph.pesPacketLength, 19 - 6 + 507);
  assert.equal(pes[6] & 0x04, 0x04, 'data_alignment_indicator');
  assert.deepEqual(pes.subarray(ph.headerLength), Buffer.concat(es));
});

test('PES with PTS only (PTS = DTS); no PCR and no random access: no adaptation field in the first packet', () => {
  const buf = writePesPackets(AUDIO, [Buffer.alloc(107, 0x33)], new Map());
  const hs = packets(buf);
  assert.equal(hs.length, 1);
  assert.equal(hs[0].adaptationFieldControl, AdaptationFieldControl.AdaptationAndPayload, 'stuffing needs an adaptation field');
  const ph = parsePesHeader(pesBytes(buf));
  assert.ok(ph !== undefined);
  assert.equal(ph.streamId, 0xc0);
  assert.equal(ph.headerLength, 14);
  assert.equal(ph.pesPacketLength, 3 + 5 + 107);
  assert.equal(ph.pts90k, 90_900);
  assert.equal(ph.dts90k, 90_900);
  const two = packets(writePesPackets(AUDIO, [Buffer.alloc(184 * 2 - 14, 0x33)], new Map()));
  assert.deepEqual(two.map((h) => h.adaptationFieldControl), [AdaptationFieldControl.PayloadOnly, AdaptationFieldControl.PayloadOnly], 'exact fit: no stuffing');
});

test('stuffing: every ES size fills whole packets exactly; only the last packet is stuffed, 1-byte stuffing included', () => {
  for (let size = 1; size < 800; size++) {
    for (const p of [VIDEO, AUDIO]) {
      const es = Buffer.alloc(size, size & 0xff);
      const buf = writePesPackets(p, [es], new Map());
      const hs = packets(buf);
      const pes = pesBytes(buf);
      const ph = parsePesHeader(pes);
      assert.ok(ph !== undefined);
      assert.deepEqual(pes.subarray(ph.headerLength), es, `ES of ${size} bytes`);
      for (let k = 1; k < hs.length - 1; k++) assert.equal(hs[k].adaptationFieldControl, AdaptationFieldControl.PayloadOnly, `middle packet ${k}`);
    }
  }
});

test('PES_packet_length 0 (unbounded) above 65535 bytes; an ES above MAX_PES_PAYLOAD_SIZE throws TooLarge', () => {
  const ph = parsePesHeader(pesBytes(writePesPackets(VIDEO, [Buffer.alloc(70_000)], new Map())));
  assert.equal(ph?.pesPacketLength, 0);
  assert.throws(
    () => writePesPackets(VIDEO, [Buffer.alloc(MAX_PES_PAYLOAD_SIZE), Buffer.alloc(1)], new Map()),
    (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_TOO_LARGE',
  );
});

test('timestamps and PCR are written modulo 2^33', () => {
  const wrap = 5 * 90_000;
  const buf = writePesPackets({ ...VIDEO, pts90k: PTS_MODULO + wrap + 3600, dts90k: PTS_MODULO + wrap, pcr90k: PTS_MODULO + wrap }, [Buffer.alloc(10)], new Map());
  const ph = parsePesHeader(pesBytes(buf));
  assert.equal(ph?.pts90k, wrap + 3600);
  assert.equal(ph?.dts90k, wrap);
  assert.equal(packets(buf)[0].pcr27m, wrap * 300);
});

test('continuity_counter: per PID, shared by tables and PES through one map, wraps at 16', () => {
  const ccs: ContinuityCounters = new Map();
  const seen = new Map<number, number[]>();
  const add = (buf: Buffer): void => {
    for (const h of packets(buf)) seen.set(h.pid, [...(seen.get(h.pid) ?? []), h.continuityCounter]);
  };
  for (let i = 0; i < 20; i++) {
    add(writePatPacket(1, 0x1000, ccs));
    add(writePmtPacket(1, 0x1000, 0x100, [{ streamType: StreamType.H264, elementaryPid: 0x100 }], 0, ccs));
    add(writePesPackets(VIDEO, [Buffer.alloc(300)], ccs)); // 2 packets
  }
  assert.deepEqual(seen.get(0), Array.from({ length: 20 }, (_, i) => i & 0x0f));
  assert.deepEqual(seen.get(0x1000), Array.from({ length: 20 }, (_, i) => i & 0x0f));
  assert.deepEqual(seen.get(0x100), Array.from({ length: 40 }, (_, i) => i & 0x0f));
});
