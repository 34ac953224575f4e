import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { g711AudioTagHeaderByte, G711Law, G711SoundFormat, packG711Frame } from '../../../core/codec/g711.ts';
import { MessageType } from '../../../core/media/message.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { flvFileHeader, flvTag } from '../../../core/protocol/flv/flv-muxer.ts';
import { readAudioTagHeader } from '../../../core/protocol/flv/flv-tag.ts';
import { parseRtpPacket } from '../../../core/protocol/rtp/rtp-packet.ts';
import { splitRtpCapture } from '../../helpers/rtp-capture.ts';

const FIXTURES = new URL('../../../fixtures/rtp/', import.meta.url);

/** The AUDIODATA byte of the first audio tag of an FLV file (FLV header, PreviousTagSize0, then 11-byte tag headers). */
function firstAudioTagByte(flv: Buffer): number {
  let off = 9 + 4;
  while (off + 11 < flv.length) {
    const dataSize = flv.readUIntBE(off + 1, 3);
    if (flv[off] === MessageType.Audio) return flv[off + 11]!;
    off += 11 + dataSize + 4;
  }
  throw new Error('no audio tag');
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'g711-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('AUDIODATA header byte: SoundFormat 7/8, SoundRate 0, SoundSize 1, SoundType from channels', () => {
  assert.deepEqual(G711SoundFormat, { ALaw: 7, MuLaw: 8 });
  assert.equal(g711AudioTagHeaderByte(G711Law.ALaw, 1), 0x72); // 0111 00 1 0
  assert.equal(g711AudioTagHeaderByte(G711Law.MuLaw, 1), 0x82); // 1000 00 1 0
  assert.equal(g711AudioTagHeaderByte(G711Law.ALaw, 2), 0x73);
  assert.equal(g711AudioTagHeaderByte(G711Law.MuLaw, 2), 0x83);
  const h = readAudioTagHeader(packG711Frame(Uint8Array.of(0xd5), 0, 'pcma', 1)!.payload);
  assert.deepEqual(h, { soundFormat: 7, soundRate: 0, soundSize: 1, soundType: 0, aacPacketType: undefined, headerLength: 1 });
});

test('the header byte is the one ffmpeg\'s FLV muxer writes for 8 kHz mono G.711', () => {
  withTmp((dir) => {
    for (const [codec, law] of [['pcm_alaw', G711Law.ALaw], ['pcm_mulaw', G711Law.MuLaw]] as const) {
      const out = join(dir, `${codec}.flv`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=8000', '-t', '0.2', '-c:a', codec, '-ar', '8000', '-ac', '1', out]);
      assert.equal(firstAudioTagByte(readFileSync(out)), g711AudioTagHeaderByte(law, 1), codec);
    }
  });
});

test('packG711Frame: one message, bytes copied once, input untouched, empty → undefined', () => {
  const samples = Uint8Array.of(0xd5, 0x55, 0x2a);
  const msg = packG711Frame(samples, 1234, 'pcmu', 1)!;
  assert.equal(msg.type, MessageType.Audio);
  assert.equal(msg.kind, 'audio');
  assert.equal(msg.timestamp, 1234);
  assert.deepEqual(msg.payload, Buffer.from([0x82, 0xd5, 0x55, 0x2a]));
  assert.deepEqual(samples, Uint8Array.of(0xd5, 0x55, 0x2a));
  samples[0] = 0;
  assert.equal(msg.payload[1], 0xd5, 'the message owns its bytes');
  assert.equal(packG711Frame(new Uint8Array(0), 0, 'pcma', 1), undefined);
  assert.equal(packG711Frame(new Uint8Array(0x10000), 0, 'pcma', 1), undefined);
});

test('real ffmpeg PCMA capture → FLV that ffmpeg decodes as pcm_alaw 8000 Hz mono, same samples', () => {
  const packets = splitRtpCapture(readFileSync(new URL('pcma-8k-mono-ffmpeg.rtp', FIXTURES))).map(parseRtpPacket);
  assert.ok(packets.length > 10);
  const first = packets[0]!.timestamp;
  const messages: RtmpMessage[] = [];
  for (const p of packets) {
    assert.equal(p.payloadType, 8);
    const msg = packG711Frame(p.payload, Math.round(((p.timestamp - first) >>> 0) / 8), 'pcma', 1);
    assert.ok(msg);
    messages.push(msg);
  }
  const samples = Buffer.concat(packets.map((p) => p.payload));
  withTmp((dir) => {
    const flv = join(dir, 'pcma.flv');
    writeFileSync(flv, Buffer.concat([flvFileHeader(true, false), ...messages.map(flvTag)]));
    const decodeErrors = execFileSync('ffmpeg', ['-v', 'error', '-i', flv, '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.equal(decodeErrors, '');
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', flv]).toString());
    assert.deepEqual(probe.streams[0], { codec_name: 'pcm_alaw', sample_rate: '8000', channels: 1 });
    const copied = execFileSync('ffmpeg', ['-v', 'error', '-i', flv, '-c:a', 'copy', '-f', 'alaw', '-'], { maxBuffer: 1 << 22 });
    assert.deepEqual(copied, samples);
    // 2 s of 1 kHz tone at 8 kHz.
    assert.equal(samples.length, 16000);
  });
});

test('µ-law and stereo FLV decode as pcm_mulaw 8000 Hz with the channel count', () => {
  withTmp((dir) => {
    for (const channels of [1, 2]) {
      const frames = [0, 20, 40].map((ms) => packG711Frame(new Uint8Array(160 * channels).fill(0xff), ms, 'pcmu', channels)!);
      const flv = join(dir, `pcmu${channels}.flv`);
      writeFileSync(flv, Buffer.concat([flvFileHeader(true, false), ...frames.map(flvTag)]));
      const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', flv]).toString());
      assert.deepEqual(probe.streams[0], { codec_name: 'pcm_mulaw', sample_rate: '8000', channels });
    }
  });
});
