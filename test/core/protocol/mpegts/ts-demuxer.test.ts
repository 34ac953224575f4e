/**
 * TsDemuxer on real streams made by ffmpeg (fixtures/README-ts.md), checked against ffprobe run live.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { recorder } from './ts-builder.ts';
import type { PesEvent } from './ts-builder.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../../fixtures/ts/${name}`, import.meta.url));

interface ProbePacket { pts: number; dts: number; size: number }
/** ffprobe's packets per PID (ffprobe parses the streams with its own demuxer and parsers). */
function ffprobe(file: string): Map<number, ProbePacket[]> {
  const json = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=index,id:packet=stream_index,pts,dts,size', '-of', 'json', file], { encoding: 'utf8' })) as {
    streams: { index: number; id: string }[];
    packets: { stream_index: number; pts: number; dts: number; size: string }[];
  };
  const pidOf = new Map(json.streams.map((s) => [s.index, Number.parseInt(s.id, 16)]));
  const out = new Map<number, ProbePacket[]>();
  for (const p of json.packets) {
    const pid = pidOf.get(p.stream_index)!;
    if (!out.has(pid)) out.set(pid, []);
    out.get(pid)!.push({ pts: p.pts, dts: p.dts, size: Number(p.size) });
  }
  return out;
}

function demux(bytes: Uint8Array, chunkSize = bytes.length): ReturnType<typeof recorder> & { demuxer: TsDemuxer } {
  const sink = recorder();
  const demuxer = new TsDemuxer(sink);
  for (let i = 0; i < bytes.length; i += chunkSize) demuxer.push(bytes.subarray(i, i + chunkSize));
  demuxer.flush();
  return Object.assign(sink, { demuxer });
}

function assertMatchesProbe(pes: PesEvent[], probe: ProbePacket[], what: string, checkSize = true): void {
  assert.equal(pes.length, probe.length, `${what}: PES count equals ffprobe's packet count`);
  for (let i = 0; i < pes.length; i++) {
    assert.equal(pes[i]!.pts, probe[i]!.pts, `${what} #${i} pts`);
    assert.equal(pes[i]!.dts, probe[i]!.dts, `${what} #${i} dts`);
    if (checkSize) assert.equal(pes[i]!.data.length, probe[i]!.size, `${what} #${i} size`);
  }
}

test('H.264 (B-frames) + AAC: tracks, PES count, PTS/DTS and sizes match ffprobe', () => {
  const file = fixture('demux-h264-aac-2s.ts');
  const bytes = readFileSync(file);
  const before = Buffer.from(bytes);
  const r = demux(bytes);
  assert.deepEqual(bytes, before, 'input integrity');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.programs, [{ programNumber: 1, tracks: [{ pid: 0x100, streamType: 0x1b, codec: 'h264' }, { pid: 0x101, streamType: 0x0f, codec: 'aac' }] }]);
  const probe = ffprobe(file);
  const video = r.pes.filter((p) => p.pid === 0x100);
  const audio = r.pes.filter((p) => p.pid === 0x101);
  assertMatchesProbe(video, probe.get(0x100)!, 'video');
  assertMatchesProbe(audio, probe.get(0x101)!, 'audio');
  assert.ok(video.some((p) => p.pts !== p.dts), 'B-frames: some PTS ≠ DTS');
  assert.ok(video.every((p) => p.data.subarray(0, 4).equals(Buffer.of(0, 0, 0, 1))), 'Annex-B start code');
  assert.ok(audio.every((p) => p.data[0] === 0xff && (p.data[1]! & 0xf6) === 0xf0), 'ADTS syncword');
  assert.equal(video[0]!.randomAccess, true, 'first video PES is a random access point');
  assert.equal(video.filter((p) => p.randomAccess).length, 2, 'one keyframe per second (-g 25)');
  const stats = r.demuxer.stats;
  assert.deepEqual(stats, {
    packets: bytes.length / 188, resyncs: 0, ccErrors: 0, crcErrors: 0, pesDropped: 0, pesEmitted: video.length + audio.length,
    // pushDatagram framing, unused here
    datagrams: 0, datagramsDropped: 0, datagramsRagged: 0, datagramsRs: 0, bytesDropped: 0, packetsJoined: 0,
  });
  assert.ok(r.pcrs.length > 0 && r.pcrs.every((v, i) => i === 0 || v > r.pcrs[i - 1]!), 'PCRs rise');
  assert.ok(Math.abs(r.pcrs[0]! / 300 - video[0]!.dts!) < 90000, 'PCR near the first DTS');
});

test('H.264 + MP3: stream_type 0x03 reported as mp3; counts and timestamps match ffprobe', () => {
  const file = fixture('demux-h264-mp3-2s.ts');
  const r = demux(readFileSync(file));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.programs[0]!.tracks.map((t) => [t.pid, t.streamType, t.codec]), [[0x100, 0x1b, 'h264'], [0x101, 0x03, 'mp3']]);
  const probe = ffprobe(file);
  assertMatchesProbe(r.pes.filter((p) => p.pid === 0x100), probe.get(0x100)!, 'video');
  assertMatchesProbe(r.pes.filter((p) => p.pid === 0x101), probe.get(0x101)!, 'audio');
  assert.ok(r.pes.filter((p) => p.codec === 'mp3').every((p) => p.data[0] === 0xff && (p.data[1]! & 0xe0) === 0xe0), 'MPEG audio frame sync');
});

test('two programs (1: video, 2: audio): the first program with video is demuxed, the choice reported', () => {
  const file = fixture('demux-two-programs-2s.ts');
  const r = demux(readFileSync(file));
  assert.deepEqual(r.programs, [{ programNumber: 1, tracks: [{ pid: 0x100, streamType: 0x1b, codec: 'h264' }] }]);
  assert.deepEqual(r.selections, [{ programNumber: 1, pmtPid: 0x1000, reason: 'first-with-video', programs: [1, 2] }]);
  assert.deepEqual(r.errors, []);
  assert.ok(r.pes.every((p) => p.pid === 0x100));
  assertMatchesProbe(r.pes, ffprobe(file).get(0x100)!, 'program 1 video');
});

test('H.265 (stream_type 0x24) is recognised as h265 and its PES delivered', () => {
  const file = fixture('demux-h265-1s.ts');
  const r = demux(readFileSync(file));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.programs[0]!.tracks, [{ pid: 0x100, streamType: 0x24, codec: 'h265' }]);
  // sizes not compared: ffmpeg's HEVC parser moves one start-code byte into its first packet (5505 vs 5504)
  assertMatchesProbe(r.pes, ffprobe(file).get(0x100)!, 'hevc', false);
  assert.ok(r.pes.some((p) => p.pts !== p.dts), 'B-frames: some PTS ≠ DTS');
});

test('chunk boundaries at every offset: 1..400-byte slices give identical output', () => {
  const bytes = readFileSync(fixture('demux-h264-aac-2s.ts')).subarray(0, 188 * 120 + 77); // ends mid-packet
  const before = Buffer.from(bytes);
  const whole = demux(bytes);
  assert.ok(whole.pes.length > 10);
  const key = (r: ReturnType<typeof recorder>): string =>
    JSON.stringify([r.programs, r.pes.map((p) => [p.pid, p.pts, p.dts, p.randomAccess, p.data.toString('base64')]), r.errors.map((e) => e.code), r.pcrs]);
  const expected = key(whole);
  for (let size = 1; size <= 400; size++) {
    const r = demux(bytes, size);
    assert.equal(key(r), expected, `slice size ${size}`);
    assert.deepEqual(r.demuxer.stats, whole.demuxer.stats, `stats at slice size ${size}`);
  }
  assert.deepEqual(bytes, before, 'input integrity');
});

test('emitted data is owned: overwriting the pushed chunk does not change it', () => {
  const bytes = Buffer.from(readFileSync(fixture('demux-h264-aac-2s.ts')));
  const r = demux(bytes);
  const copies = r.pes.map((p) => Buffer.from(p.data));
  bytes.fill(0);
  assert.ok(r.pes.every((p, i) => p.data.equals(copies[i]!)));
});
