/**
 * TsMuxer: PSI with CRC read back by the demuxer's parsers, PES headers, PCR, stuffing, continuity counters
 * across segments, demux(mux(x)) round trips on the FLV and MP3 fixtures, and ffmpeg/ffprobe on the output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { GatewayError } from '../../../core/errors.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { FlvDemuxer } from '../../../core/protocol/flv/flv-demuxer.ts';
import { readVideoTagHeader } from '../../../core/protocol/flv/flv-tag.ts';
import { parsePesHeader } from '../../../core/protocol/mpegts/pes.ts';
import { parsePat, parsePmt, StreamType } from '../../../core/protocol/mpegts/psi.ts';
import { TsDemuxer, type TsTrack } from '../../../core/protocol/mpegts/ts-demuxer.ts';
import { TsMuxer, tsVideoCodecOf } from '../../../core/remux/rtmp-to-ts.ts';
import { splitAnnexB } from '../../../core/codec/h264/nalu.ts';
import { HevcPackager } from '../../../core/codec/h265/hevc-packager.ts';
import { h265NaluType } from '../../../core/codec/h265/nalu.ts';
import { h265Fixture, splitH265AccessUnits, tsAccessUnits } from '../../helpers/rtp-h265-packetizer.ts';
import { createTsPacketHeader, parseTsPacket, TS_PACKET_SIZE } from '../../../core/protocol/mpegts/ts-packet.ts';
import { TsToRtmp } from '../../../core/remux/ts-to-rtmp.ts';

const fixture = (path: string): string => fileURLToPath(new URL(`../../../fixtures/${path}`, import.meta.url));

function flvMessages(file: string): RtmpMessage[] {
  const msgs: RtmpMessage[] = [];
  const d = new FlvDemuxer({ onMessage: (m) => msgs.push(m), onDecodeError: (e) => { throw e; } });
  d.push(readFileSync(file));
  d.end();
  return msgs;
}

function tsMessages(file: string): RtmpMessage[] {
  const msgs: RtmpMessage[] = [];
  const conv = new TsToRtmp({ onMessage: (m) => msgs.push(m), onDecodeError: () => {} });
  const d = new TsDemuxer(conv);
  d.push(readFileSync(file));
  d.flush();
  return msgs;
}

function mux(msgs: readonly RtmpMessage[], video: 'h264' | undefined, audio: 'aac' | 'mp3' | undefined): Buffer {
  const m = new TsMuxer();
  m.configure(video, audio);
  const out: Buffer[] = [];
  m.writeTables(out);
  for (const msg of msgs) m.writeMessage(msg, out);
  return Buffer.concat(out);
}

interface Pes { track: TsTrack; data: Buffer; pts90k: number | undefined; dts90k: number | undefined; randomAccess: boolean }
function demux(ts: Buffer): { pes: Pes[]; errors: GatewayError[]; tracks: readonly TsTrack[]; pcrs: number } {
  const pes: Pes[] = [];
  const errors: GatewayError[] = [];
  let tracks: readonly TsTrack[] = [];
  let pcrs = 0;
  const d = new TsDemuxer({
    onProgram: (_n, t) => { tracks = t; },
    onPes: (track, data, pts90k, dts90k, randomAccess) => pes.push({ track, data, pts90k, dts90k, randomAccess }),
    onDecodeError: (e) => errors.push(e),
    onPcr: () => { pcrs++; },
  });
  d.push(ts);
  d.flush();
  return { pes, errors, tracks, pcrs };
}

function packetsOf(ts: Buffer): Buffer[] {
  assert.equal(ts.length % TS_PACKET_SIZE, 0);
  const list: Buffer[] = [];
  for (let o = 0; o < ts.length; o += TS_PACKET_SIZE) list.push(ts.subarray(o, o + TS_PACKET_SIZE));
  return list;
}

/** A minimal AVC stream: sequence header + IDR + P frame (CTS 40 ms), AAC config + 1 raw frame. */
function smallStream(): RtmpMessage[] {
  const sps = Buffer.from('6742c01e95a0a0fd00', 'hex');
  const pps = Buffer.from('68ce3c80', 'hex');
  const record = Buffer.concat([Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
  const idr = Buffer.alloc(600, 0x11);
  idr[0] = 0x65;
  const p = Buffer.alloc(30, 0x22);
  p[0] = 0x41;
  const len4 = (n: Buffer): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n.length); return Buffer.concat([b, n]); };
  const msgs = [
    createMessage(MessageType.Video, 0, Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), record])),
    createMessage(MessageType.Audio, 0, Buffer.from([0xaf, 0, 0x12, 0x10])),
    createMessage(MessageType.Video, 1000, Buffer.concat([Buffer.from([0x17, 1, 0, 0, 40]), len4(idr)])),
    createMessage(MessageType.Audio, 1010, Buffer.concat([Buffer.from([0xaf, 1]), Buffer.alloc(100, 0x33)])),
    createMessage(MessageType.Video, 1040, Buffer.concat([Buffer.from([0x27, 1, 0, 0, 40]), len4(p)])),
  ];
  return msgs.map((m) => m!);
}

test('PAT and PMT carry valid CRCs and describe the program', () => {
  const m = new TsMuxer();
  m.configure('h264', 'aac');
  const out: Buffer[] = [];
  m.writeTables(out);
  assert.equal(out.length, 2);
  const h = createTsPacketHeader();
  assert.ok(parseTsPacket(out[0], 0, h));
  assert.equal(h.pid, 0);
  assert.ok(h.payloadUnitStartIndicator);
  const patSection = out[0].subarray(h.payloadStart + 1 + out[0][h.payloadStart]);
  const pat = parsePat(patSection);
  assert.deepEqual(pat.programs, [{ programNumber: 1, pmtPid: 0x1000 }]);
  assert.ok(parseTsPacket(out[1], 0, h));
  assert.equal(h.pid, 0x1000);
  const pmt = parsePmt(out[1].subarray(h.payloadStart + 1));
  assert.equal(pmt.pcrPid, 0x100);
  assert.deepEqual(pmt.streams, [{ streamType: StreamType.H264, elementaryPid: 0x100 }, { streamType: StreamType.AdtsAac, elementaryPid: 0x101 }]);
  // a flipped byte is caught by the CRC
  const bad = Buffer.from(out[1].subarray(h.payloadStart + 1));
  bad[9] ^= 0x01;
  assert.throws(() => parsePmt(bad), GatewayError);
});

test('audio-only MP3 program: PCR on the audio PID, stream_type 0x03; reconfigure bumps version_number', () => {
  const m = new TsMuxer({ audioPid: 0x44, pmtPid: 0x55 });
  m.configure(undefined, 'mp3');
  const out: Buffer[] = [];
  m.writeTables(out);
  const h = createTsPacketHeader();
  parseTsPacket(out[1], 0, h);
  const pmt = parsePmt(out[1].subarray(h.payloadStart + 1));
  assert.equal(pmt.pcrPid, 0x44);
  assert.deepEqual(pmt.streams, [{ streamType: StreamType.Mpeg1Audio, elementaryPid: 0x44 }]);
  m.configure('h264', 'mp3');
  m.writeTables(out);
  parseTsPacket(out[3], 0, h);
  assert.notEqual(parsePmt(out[3].subarray(h.payloadStart + 1)).versionNumber, pmt.versionNumber);
});

test('PES headers, AUD + SPS/PPS before the IDR, ADTS audio, PCR and random access on the first video packet', () => {
  const ts = mux(smallStream(), 'h264', 'aac');
  const { pes, errors, pcrs } = demux(ts);
  assert.deepEqual(errors, []);
  assert.equal(pcrs, 2); // one per video PES
  assert.equal(pes.length, 3);
  const [idr, aac, p] = pes as [Pes, Pes, Pes];
  assert.equal(idr.track.codec, 'h264');
  assert.equal(idr.dts90k, 90_000);
  assert.equal(idr.pts90k, 93_600);
  assert.ok(idr.randomAccess);
  // AUD, SPS, PPS, IDR with 4-byte start codes
  assert.deepEqual([...idr.data.subarray(0, 6)], [0, 0, 0, 1, 9, 0xf0]);
  assert.equal(idr.data[10], 0x67);
  assert.equal(idr.data.indexOf(Buffer.from([0, 0, 0, 1, 0x68])) > 0, true);
  assert.equal(idr.data.indexOf(Buffer.from([0, 0, 0, 1, 0x65])) > 0, true);
  assert.equal(p.data.indexOf(Buffer.from([0, 0, 0, 1, 0x67])), -1, 'no SPS before a non-IDR frame');
  assert.ok(!p.randomAccess);
  assert.equal(aac.track.codec, 'aac');
  assert.equal(aac.pts90k, 1010 * 90);
  assert.equal(aac.data.length, 107);
  assert.equal(aac.data[0], 0xff);
  assert.equal((aac.data[1] & 0xf0), 0xf0);
  // The PES header of the audio PES: PTS only, bounded PES_packet_length.
  const packets = packetsOf(ts);
  const h = createTsPacketHeader();
  const audioFirst = packets.find((pk) => parseTsPacket(pk, 0, h) && h.pid === 0x101 && h.payloadUnitStartIndicator)!;
  parseTsPacket(audioFirst, 0, h);
  const ph = parsePesHeader(audioFirst.subarray(h.payloadStart))!;
  assert.equal(ph.streamId, 0xc0);
  assert.equal(ph.pesPacketLength, 3 + 5 + 107);
  assert.equal(ph.pts90k, ph.dts90k);
});

test('stuffing: every packet is 188 bytes, payloads add up exactly, the last packet of a PES carries the stuffing', () => {
  const h = createTsPacketHeader();
  for (let size = 1; size < 800; size += 7) {
    const m = new TsMuxer();
    m.configure(undefined, 'mp3');
    const tables: Buffer[] = [];
    m.writeTables(tables);
    const out: Buffer[] = [];
    m.writeMessage(createMessage(MessageType.Audio, 5, Buffer.concat([Buffer.from([0x2f]), Buffer.alloc(size, 0x5a)]))!, out);
    const { pes, errors } = demux(Buffer.concat([...tables, out[0]]));
    assert.deepEqual(errors, []);
    assert.equal(pes.length, 1);
    assert.equal(pes[0].data.length, size);
    const packets = packetsOf(out[0]);
    for (let k = 0; k < packets.length - 1; k++) {
      parseTsPacket(packets[k], 0, h);
      if (k > 0) assert.equal(h.adaptationFieldControl, 1, `no adaptation field in middle packet ${k}`);
    }
  }
});

test('continuity counters continue across two writeTables() segments', () => {
  const msgs = smallStream();
  const m = new TsMuxer();
  m.configure('h264', 'aac');
  const out: Buffer[] = [];
  for (let seg = 0; seg < 2; seg++) {
    m.writeTables(out);
    for (const msg of msgs) m.writeMessage(msg, out);
  }
  const last = new Map<number, number>();
  const h = createTsPacketHeader();
  let checked = 0;
  for (const pk of packetsOf(Buffer.concat(out))) {
    parseTsPacket(pk, 0, h);
    const prev = last.get(h.pid);
    if (prev !== undefined) {
      assert.equal(h.continuityCounter, (prev + 1) & 0x0f, `PID ${h.pid}`);
      checked++;
    }
    last.set(h.pid, h.continuityCounter);
  }
  assert.ok(checked > 10);
});

test('round trip: FLV fixture → TsMuxer → TsDemuxer keeps every AU and its PTS/DTS', () => {
  const msgs = flvMessages(fixture('flv/h264-aac-320x240-10s.flv'));
  const ts = mux(msgs, 'h264', 'aac');
  const { pes, errors } = demux(ts);
  assert.deepEqual(errors, []);
  const video = msgs.filter((m) => m.type === MessageType.Video && (m.kind === 'keyframe' || m.kind === 'interframe') && m.payload[1] === 1);
  const audio = msgs.filter((m) => m.kind === 'audio');
  const vp = pes.filter((p) => p.track.codec === 'h264');
  const ap = pes.filter((p) => p.track.codec === 'aac');
  assert.equal(vp.length, video.length);
  assert.equal(ap.length, audio.length);
  assert.ok(video.length >= 240);
  for (let i = 0; i < video.length; i++) {
    const cts = readVideoTagHeader(video[i].payload).compositionTime;
    assert.ok(Math.abs(vp[i].dts90k! / 90 - video[i].timestamp) < 1);
    assert.ok(Math.abs(vp[i].pts90k! / 90 - (video[i].timestamp + cts)) < 1);
    assert.equal(vp[i].randomAccess, video[i].kind === 'keyframe');
  }
  for (let i = 0; i < audio.length; i++) assert.ok(Math.abs(ap[i].pts90k! / 90 - audio[i].timestamp) < 1);
});

test('ffmpeg decodes the muxed FLV fixture with zero errors; ffprobe sees h264 320x240 + aac, every frame', () => {
  const msgs = flvMessages(fixture('flv/h264-aac-320x240-10s.flv'));
  const videoCount = msgs.filter((m) => m.type === MessageType.Video && m.payload[1] === 1).length;
  const audioCount = msgs.filter((m) => m.kind === 'audio').length;
  const dir = mkdtempSync(join(tmpdir(), 'ts-muxer-'));
  try {
    const file = join(dir, 'muxed.ts');
    writeFileSync(file, mux(msgs, 'h264', 'aac'));
    const errors = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(errors.trim(), '');
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' })) as {
      streams: { codec_name: string; width?: number; height?: number; nb_read_frames: string }[];
    };
    const v = probe.streams.find((s) => s.codec_name === 'h264')!;
    const a = probe.streams.find((s) => s.codec_name === 'aac')!;
    assert.equal(v.width, 320);
    assert.equal(v.height, 240);
    assert.equal(Number(v.nb_read_frames), videoCount);
    assert.equal(Number(a.nb_read_frames), audioCount);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('MP3: TS fixture → TsToRtmp → TsMuxer → TsDemuxer and ffprobe (h264 + mp3)', () => {
  const msgs = tsMessages(fixture('ts/h264-mp3-320x240-10s.ts'));
  const audio = msgs.filter((m) => m.kind === 'audio');
  assert.ok(audio.length > 100);
  const ts = mux(msgs, 'h264', 'mp3');
  const { pes, errors, tracks } = demux(ts);
  assert.deepEqual(errors, []);
  assert.deepEqual(tracks.map((t) => t.streamType), [StreamType.H264, StreamType.Mpeg1Audio]);
  const ap = pes.filter((p) => p.track.codec === 'mp3');
  assert.equal(ap.length, audio.length);
  for (let i = 0; i < audio.length; i++) assert.deepEqual(ap[i].data, audio[i].payload.subarray(1));
  const dir = mkdtempSync(join(tmpdir(), 'ts-muxer-'));
  try {
    const file = join(dir, 'mp3.ts');
    writeFileSync(file, ts);
    const errs = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(errs.trim(), '');
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', file], { encoding: 'utf8' })) as { streams: { codec_name: string }[] };
    assert.deepEqual(probe.streams.map((st) => st.codec_name).sort(), ['h264', 'mp3']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('codecs other than H.264/H.265 (video) and AAC/MP3 (audio) are rejected with TsUnsupportedCodec', () => {
  const m = new TsMuxer();
  m.configure('h264', 'aac');
  const out: Buffer[] = [];
  const h263 = createMessage(MessageType.Video, 0, Buffer.from([0x12, 0, 0, 0]))!;
  assert.throws(() => m.writeMessage(h263, out), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_TS_UNSUPPORTED_CODEC');
  const av1 = createMessage(MessageType.Video, 0, Buffer.from([0x91, 0x61, 0x76, 0x30, 0x31, 0, 0, 0]))!;
  assert.throws(() => m.writeMessage(av1, out), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_TS_UNSUPPORTED_CODEC');
  const speex = createMessage(MessageType.Audio, 0, Buffer.from([0xb2, 1, 2]))!;
  assert.throws(() => m.writeMessage(speex, out), GatewayError);
  assert.equal(out.length, 0);
});

test('corrupt messages only ever throw GatewayError and leave the muxer usable', () => {
  const m = new TsMuxer();
  m.configure('h264', 'aac');
  for (const msg of smallStream().slice(0, 2)) m.writeMessage(msg, []);
  fc.assert(fc.property(fc.constantFrom(MessageType.Audio, MessageType.Video), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(100000), (type, bytes, ts) => {
    const msg = createMessage(type, ts, Buffer.from(bytes));
    if (msg === undefined) return;
    const out: Buffer[] = [];
    try {
      m.writeMessage(msg, out);
    } catch (e) {
      assert.ok(e instanceof GatewayError, String(e));
    }
    for (const b of out) assert.equal(b.length % TS_PACKET_SIZE, 0);
  }), { numRuns: 500 });
  const out: Buffer[] = [];
  m.writeTables(out);
  for (const msg of smallStream()) m.writeMessage(msg, out);
  assert.ok(demux(Buffer.concat(out)).pes.length >= 3);
});

// ---- H.265 (stream_type 0x24) ----

/** Real libx265 streams through HevcPackager: [bframes=3 from the MPEG-TS fixture (true PTS/DTS), bframes=0 raw]. */
function hevcMessages(which: 'bf3' | 'bf0'): RtmpMessage[] {
  const p = new HevcPackager();
  if (which === 'bf3') {
    return tsAccessUnits(h265Fixture('h265/testsrc2-320x240-bf3-2s.ts')).flatMap((au) => p.packAccessUnit(au.nalus, au.pts90k, au.dts90k));
  }
  const aus = splitH265AccessUnits(readFileSync(h265Fixture('h265/testsrc2-320x240-bf0-2s.hevc')));
  return aus.flatMap((au, i) => p.packAccessUnit(au, 3600 * (i + 1), 3600 * (i + 1)));
}

/** Mux as HTTP-TS does: tables first and before every keyframe. */
function muxWithTables(msgs: readonly RtmpMessage[], video: 'h264' | 'h265'): Buffer {
  const m = new TsMuxer();
  m.configure(video, undefined);
  const out: Buffer[] = [];
  m.writeTables(out);
  for (const msg of msgs) {
    if (msg.kind === 'keyframe') m.writeTables(out);
    m.writeMessage(msg, out);
  }
  return Buffer.concat(out);
}

/** Enhanced RTMP hvc1 message → legacy FLV CodecID 12 (FrameType|12, AVCPacketType, SI24 CTS). */
function toLegacyHevc(msg: RtmpMessage): RtmpMessage {
  const h = readVideoTagHeader(msg.payload);
  assert.ok(h.isExHeader);
  const head = Buffer.from([((msg.kind === 'keyframe' || msg.kind === 'video-config' ? 1 : 2) << 4) | 12, h.packetType === 0 ? 0 : 1, 0, 0, 0]);
  head.writeIntBE(h.compositionTime, 2, 3);
  return createMessage(MessageType.Video, msg.timestamp, Buffer.concat([head, msg.payload.subarray(h.headerLength)]))!;
}

for (const which of ['bf3', 'bf0'] as const) {
  test(`H.265 ${which}: ffmpeg decodes the muxed TS with no error, ffprobe sees hevc 320x240 and 50 frames`, () => {
    const msgs = hevcMessages(which);
    const ts = muxWithTables(msgs, 'h265');
    const dir = mkdtempSync(join(tmpdir(), 'ts-muxer-h265-'));
    try {
      const file = join(dir, 'out.ts');
      writeFileSync(file, ts);
      const errs = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(errs.trim(), '');
      const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-show_entries', 'packet=pts,dts', '-of', 'json', file], { encoding: 'utf8' })) as {
        streams: { codec_name: string; width: number; height: number; nb_read_frames: string }[]; packets: { pts: number; dts: number }[];
      };
      assert.deepEqual(probe.streams, [{ codec_name: 'hevc', width: 320, height: 240, nb_read_frames: '50' }]);
      const frames = msgs.filter((m) => m.kind !== 'video-config');
      assert.deepEqual(probe.packets.map((p) => p.dts), frames.map((m) => m.timestamp * 90));
      assert.deepEqual(probe.packets.map((p) => p.pts), frames.map((m) => (m.timestamp + readVideoTagHeader(m.payload).compositionTime) * 90));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('H.265: PMT 0x24, AUD first, VPS/SPS/PPS before each IRAP; legacy CodecID 12 gives the same TS', () => {
  const msgs = hevcMessages('bf3');
  const ts = muxWithTables(msgs, 'h265');
  const { pes, errors, tracks } = demux(ts);
  assert.deepEqual(errors, []);
  assert.deepEqual(tracks.map((t) => t.streamType), [StreamType.H265]);
  assert.equal(pes.length, 50);
  pes.forEach((p, i) => {
    const types = splitAnnexB(p.data).map(h265NaluType);
    assert.equal(types[0], 35, `PES ${i} starts with an AUD`);
    const irap = i === 0 || i === 25;
    assert.deepEqual(types.slice(1, 4), irap ? [32, 33, 34] : types.slice(1, 4).filter((t) => t < 32), `PES ${i}`);
    assert.equal(p.randomAccess, irap);
  });
  assert.deepEqual(muxWithTables(msgs.map(toLegacyHevc), 'h265'), ts);
});

test('H.265: a muxer configured with the generic video default follows the hvc1 sequence header', () => {
  const msgs = hevcMessages('bf0');
  assert.equal(tsVideoCodecOf(msgs[0]), 'h265');
  assert.equal(tsVideoCodecOf(smallStream()[0]), 'h264');
  // HLS order: the sequence header is written before configure().
  const m = new TsMuxer();
  m.writeMessage(msgs[0], []);
  m.configure('h264', undefined);
  assert.equal(m.videoCodec, 'h265');
  // HTTP-TS order: configure('h264') and tables first, then the sequence header switches the PMT (new version).
  const n = new TsMuxer();
  n.configure('h264', undefined);
  const out: Buffer[] = [];
  n.writeTables(out);
  n.writeMessage(msgs[0], out);
  assert.equal(n.videoCodec, 'h265');
  n.writeTables(out);
  const h = createTsPacketHeader();
  const pmts = packetsOf(Buffer.concat(out)).filter((pkt) => parseTsPacket(pkt, 0, h) && h.pid === 0x1000)
    .map((pkt) => { parseTsPacket(pkt, 0, h); return parsePmt(pkt.subarray(h.payloadStart + 1 + pkt[h.payloadStart])); });
  assert.deepEqual(pmts.map((p) => p.streams[0].streamType), [StreamType.H264, StreamType.H265]);
  assert.notEqual(pmts[0].versionNumber, pmts[1].versionNumber);
});
