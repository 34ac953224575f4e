/**
 * RtpH264Depacketizer on a real capture: ffmpeg's RTP muxer sent the first 2 s of
 * fixtures/ts/h264-aac-320x240-25fps-10s.ts (video, stream copy, 1200-byte packets: single NAL, STAP-A and FU-A
 * packets) to a UDP socket (fixtures/make-fixtures.sh rtp_capture). The access units must equal the TS source's,
 * byte for byte, with RTP timestamps that advance exactly like the PES PTS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { parseRtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../../../core/protocol/rtp/rtp-packet.ts';
import { splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import { parseH264Fmtp } from '../../../../core/codec/h264/h264-fmtp.ts';
import { RtpH264Depacketizer } from '../../../../core/codec/h264/rtp-h264-depacketizer.ts';
import type { H264AccessUnit } from '../../../../core/codec/h264/rtp-h264-depacketizer.ts';
import type { GatewayError } from '../../../../core/errors.ts';
import { readRtpCapture } from '../../../helpers/rtp-capture.ts';

const fixture = (path: string): string => fileURLToPath(new URL(`../../../../fixtures/${path}`, import.meta.url));

function sourceAccessUnits(): { nalus: Uint8Array[]; pts90k: number }[] {
  const aus: { nalus: Uint8Array[]; pts90k: number }[] = [];
  const demuxer = new TsDemuxer({
    onProgram: () => {},
    onPes: (track, data, pts90k) => { if (track.codec === 'h264') aus.push({ nalus: splitAnnexB(data), pts90k: pts90k! }); },
    onDecodeError: (e) => assert.fail(e.message),
  });
  demuxer.push(readFileSync(fixture('ts/h264-aac-320x240-25fps-10s.ts')));
  demuxer.flush();
  return aus;
}

test('ffmpeg RTP capture → access units equal the TS source byte for byte', () => {
  const datagrams = readRtpCapture(fixture('rtp/h264-320x240-25fps-2s.rtp.bin'));
  const packets: RtpPacket[] = datagrams.map((d) => parseRtpPacket(d));
  for (let i = 1; i < packets.length; i++) {
    assert.equal(packets[i]!.sequenceNumber, (packets[i - 1]!.sequenceNumber + 1) & 0xffff, 'no loss on loopback');
  }
  const types = new Set(packets.map((p) => p.payload[0]! & 0x1f));
  assert.ok(types.has(24) && types.has(28), 'capture holds STAP-A and FU-A packets');

  const errors: GatewayError[] = [];
  const d = new RtpH264Depacketizer((e) => errors.push(e));
  const copies = datagrams.map((x) => Buffer.from(x));
  const aus: H264AccessUnit[] = [];
  for (const p of packets) {
    const au = d.push(p);
    if (au) aus.push(au);
  }
  assert.equal(d.flush(), undefined, 'the capture ends with a marker');
  assert.deepEqual(datagrams, copies, 'input integrity');
  assert.deepEqual(errors, []);
  assert.equal(aus.length, 50, '2 s at 25 fps');

  const source = sourceAccessUnits().slice(0, aus.length);
  aus.forEach((au, i) => {
    assert.deepEqual(au.nalus.map((n) => Buffer.from(n)), source[i]!.nalus.map((n) => Buffer.from(n)), `AU ${i}`);
    assert.equal((au.rtpTimestamp - aus[0]!.rtpTimestamp) >>> 0, source[i]!.pts90k - source[0]!.pts90k, `AU ${i} timestamp`);
  });
  assert.deepEqual(d.stats, { accessUnits: 50, droppedAccessUnits: 0, errors: 0 });
});

test('the capture\'s SDP fmtp → parseH264Fmtp gives the stream\'s own SPS and PPS', () => {
  const sdp = readFileSync(fixture('rtp/h264-320x240-25fps-2s.sdp'), 'utf8');
  const line = /^a=fmtp:96 (.*)$/m.exec(sdp)![1]!;
  const params = new Map(line.split(';').map((kv) => kv.trim()).filter(Boolean).map((kv) => {
    const eq = kv.indexOf('=');
    return [kv.slice(0, eq), kv.slice(eq + 1)] as [string, string];
  }));
  const fmtp = parseH264Fmtp(params);
  const first = sourceAccessUnits()[0]!.nalus;
  assert.equal(fmtp.packetizationMode, 1);
  assert.equal(fmtp.profileLevelId, '4D400D');
  assert.deepEqual(fmtp.sps, Buffer.from(first.find((n) => (n[0]! & 0x1f) === 7)!));
  assert.deepEqual(fmtp.pps, Buffer.from(first.find((n) => (n[0]! & 0x1f) === 8)!));
});
