// FLV muxer/demuxer against ffmpeg: real files made by ffmpeg, checked tag by tag against ffprobe -show_packets,
// and our muxer's output decoded by ffmpeg. Fixtures: fixtures/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { GatewayError } from '../../../../core/errors.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { FlvDemuxer } from '../../../../core/protocol/flv/flv-demuxer.ts';
import { flvFileHeader, flvTag } from '../../../../core/protocol/flv/flv-muxer.ts';
import { fixture, run } from '../../../helpers/peers.ts';

interface Packet {
  codecType: string;
  dtsMs: number;
  ptsMs: number;
  size: number;
}

function demuxAll(bytes: Uint8Array, nextChunkSize: () => number): { messages: RtmpMessage[]; errors: GatewayError[]; header?: [boolean, boolean] } {
  const out: { messages: RtmpMessage[]; errors: GatewayError[]; header?: [boolean, boolean] } = { messages: [], errors: [] };
  const d = new FlvDemuxer({
    onHeader: (a, v) => (out.header = [a, v]),
    onMessage: (m) => out.messages.push(m),
    onDecodeError: (e) => out.errors.push(e),
  });
  for (let off = 0; off < bytes.length; ) {
    const n = nextChunkSize();
    d.push(bytes.subarray(off, off + n));
    off += n;
  }
  d.end();
  return out;
}

/** Deterministic chunk sizes 1..max (LCG), so a failure reproduces. */
function lcgSizes(seed: number, max: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 1 + (s % max);
  };
}

/** ffprobe's view of an FLV: media packets only (sequence headers become extradata, script data is no packet). */
async function ffprobePackets(flv: Buffer): Promise<Packet[]> {
  const r = await run(
    'ffprobe',
    ['-v', 'error', '-f', 'flv', '-i', 'pipe:0', '-show_entries', 'packet=codec_type,pts,dts,size', '-of', 'csv=p=0'],
    { input: flv, timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .toString('utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [codecType, pts, dts, size] = line.split(',');
      return { codecType: codecType as string, ptsMs: Number(pts), dtsMs: Number(dts), size: Number(size) };
    });
}

/** The same facts read from our messages: DTS = tag timestamp, PTS = DTS + CompositionTime (SI24), ES size. */
function ourPackets(messages: RtmpMessage[]): Packet[] {
  const out: Packet[] = [];
  for (const m of messages) {
    if (m.kind === 'metadata' || m.kind === 'audio-config' || m.kind === 'video-config') continue;
    if (m.type === 8) {
      out.push({ codecType: 'audio', dtsMs: m.timestamp, ptsMs: m.timestamp, size: m.payload.length - 2 }); // SoundFormat byte + AACPacketType
    } else if (m.payload[1] !== 2) {
      // AVCPacketType 2 (end of sequence, which ffmpeg's muxer writes last) carries no frame: ffprobe shows no packet.
      const cts = (m.payload.readUIntBE(2, 3) << 8) >> 8; // CompositionTime SI24, sign-extended
      out.push({ codecType: 'video', dtsMs: m.timestamp, ptsMs: m.timestamp + cts, size: m.payload.length - 5 }); // 5-byte AVC header
    }
  }
  return out;
}

function checkAgainstFfprobe(messages: RtmpMessage[], probed: Packet[]): void {
  const ours = ourPackets(messages);
  assert.equal(ours.length, probed.length, 'packet count');
  assert.deepEqual(ours, probed);
}

const FLV_FIXTURE = 'flv/h264-aac-320x240-10s.flv';

test('ffmpeg-made FLV demuxed in 1-byte and random 1..N-byte chunks matches ffprobe -show_packets', async () => {
  const file = readFileSync(fixture(FLV_FIXTURE));
  const probed = await ffprobePackets(file);
  assert.equal(probed.filter((p) => p.codecType === 'video').length, 250, '10 s at 25 fps');
  for (const chunking of [() => 1, lcgSizes(1, 17), lcgSizes(2, 1500), lcgSizes(3, 65536)]) {
    const r = demuxAll(file, chunking);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.header, [true, true]);
    assert.deepEqual(r.messages.slice(0, 3).map((m) => m.kind), ['metadata', 'video-config', 'audio-config']);
    checkAgainstFfprobe(r.messages, probed);
  }
});

test('B-frames: PTS = DTS + CTS matches ffprobe for an ffmpeg TS → FLV remux', async () => {
  const remux = await run(
    'ffmpeg',
    ['-nostdin', '-v', 'error', '-i', fixture('ts/h264-bframes-aac-320x240-10s.ts'), '-c', 'copy', '-f', 'flv', 'pipe:1'],
    { timeoutMs: 20_000 },
  );
  assert.equal(remux.code, 0, remux.stderr);
  const r = demuxAll(remux.stdout, lcgSizes(4, 300));
  assert.deepEqual(r.errors, []);
  const ours = ourPackets(r.messages);
  assert.ok(ours.some((p) => p.codecType === 'video' && p.ptsMs !== p.dtsMs), 'PTS ≠ DTS present');
  checkAgainstFfprobe(r.messages, await ffprobePackets(remux.stdout));
});

test('muxer output of demuxed messages is byte-identical to ffmpeg’s file and decodes with no errors', async () => {
  const file = readFileSync(fixture(FLV_FIXTURE));
  const r = demuxAll(file, lcgSizes(5, 4096));
  const remuxed = Buffer.concat([flvFileHeader(true, true), ...r.messages.map(flvTag)]);
  assert.ok(remuxed.equals(file), 'same bytes as ffmpeg wrote');
  const decode = await run('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'flv', '-i', 'pipe:0', '-f', 'null', '-'], {
    input: remuxed,
    timeoutMs: 30_000,
  });
  assert.equal(decode.code, 0);
  assert.equal(decode.stderr, '', 'ffmpeg -v error printed nothing');
});
