/** TS demuxer + TsToRtmp on committed fixtures: one message per access unit, sequence headers, metadata, CTS. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TsToRtmp } from '../../../core/remux/ts-to-rtmp.ts';
import { TsDemuxer } from '../../../core/protocol/mpegts/ts-demuxer.ts';
import { decodeAmf0, Amf0EcmaArray } from '../../../core/protocol/amf0.ts';
import { readSi24 } from '../../../core/protocol/flv/flv-tag.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import type { GatewayError } from '../../../core/errors.ts';
import { fixture } from '../../helpers/peers.ts';
import { pmtSection, psiPacket } from '../protocol/mpegts/ts-builder.ts';

function remux(file: string, chunk = 1316): { messages: RtmpMessage[]; errors: GatewayError[] } {
  const messages: RtmpMessage[] = [];
  const errors: GatewayError[] = [];
  const toRtmp = new TsToRtmp({ onMessage: (m) => messages.push(m), onDecodeError: (e) => errors.push(e) });
  const demuxer = new TsDemuxer(toRtmp);
  const ts = readFileSync(fixture(file));
  for (let o = 0; o < ts.length; o += chunk) demuxer.push(ts.subarray(o, o + chunk));
  demuxer.flush();
  return { messages, errors };
}

test('H.264 + AAC TS → metadata, sequence headers, 250 video AUs, AAC frames, rising DTS', () => {
  const { messages, errors } = remux('ts/h264-aac-320x240-25fps-10s.ts');
  assert.deepEqual(errors, []);
  const kinds = messages.map((m) => m.kind);
  assert.equal(kinds.filter((k) => k === 'video-config').length, 1);
  assert.equal(kinds.filter((k) => k === 'audio-config').length, 1);
  const video = messages.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe');
  assert.equal(video.length, 250, 'one message per access unit (10 s × 25 fps)');
  assert.equal(video.filter((m) => m.kind === 'keyframe').length, 10, 'keyframe every second');
  assert.equal(video[0].kind, 'keyframe');
  for (let i = 1; i < video.length; i++) assert.ok(video[i].timestamp > video[i - 1].timestamp);
  assert.ok(Math.abs(video[1].timestamp - video[0].timestamp - 40) <= 1, '25 fps = 40 ms');
  const audio = messages.filter((m) => m.kind === 'audio');
  assert.ok(audio.length >= 425 && audio.length <= 432, `AAC frames: ${audio.length} (10 s × 44100/1024)`);
  const meta = messages.filter((m) => m.kind === 'metadata').at(-1); // re-sent as each sequence header appears
  assert.ok(meta !== undefined);
  const [name, obj] = decodeAmf0(meta.payload);
  assert.equal(name, 'onMetaData');
  const fields = (obj as Amf0EcmaArray).entries;
  assert.equal(fields.width, 320);
  assert.equal(fields.height, 240);
  assert.equal(fields.videocodecid, 7);
  assert.equal(fields.audiocodecid, 10);
});

test('B-frames: CompositionTime (PTS − DTS) is positive on reordered frames, never negative', () => {
  const { messages } = remux('ts/h264-bframes-aac-320x240-10s.ts', 188);
  const video = messages.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe');
  const cts = video.map((m) => readSi24(m.payload, 2));
  assert.ok(cts.filter((c) => c > 0).length > video.length / 4, 'many frames carry CTS > 0');
  assert.ok(cts.every((c) => c >= 0));
});

test('MP3 TS → MP3 audio messages (SoundFormat 2) and an AVC stream', () => {
  const { messages } = remux('ts/h264-mp3-320x240-10s.ts');
  const audio = messages.filter((m) => m.kind === 'audio');
  assert.ok(audio.length > 300);
  assert.ok(audio.every((m) => m.payload[0] >> 4 === 2));
  assert.equal(messages.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe').length, 250);
});

test('truncated and corrupted TS: no throw, frames lost only around the damage', () => {
  const ts = Buffer.from(readFileSync(fixture('ts/h264-aac-320x240-25fps-10s.ts')));
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 40; i++) ts[Math.floor(rand() * ts.length)] ^= 0xff;
  const messages: RtmpMessage[] = [];
  const toRtmp = new TsToRtmp({ onMessage: (m) => messages.push(m), onDecodeError: () => {} });
  const demuxer = new TsDemuxer(toRtmp);
  demuxer.push(ts.subarray(0, Math.floor(ts.length * 0.7) + 77)); // cut mid-packet
  demuxer.flush();
  const video = messages.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe');
  assert.ok(video.length > 130, `video AUs ${video.length}`);
});

test('H.265 (stream_type 0x24) → Enhanced RTMP hvc1: one sequence header, 25 frames, keyframe first, metadata with the size', () => {
  const { messages, errors } = remux('ts/demux-h265-1s.ts');
  assert.deepEqual(errors, []);
  const video = messages.filter((m) => m.type === 9);
  assert.equal(video.filter((m) => m.kind === 'video-config').length, 1);
  const frames = video.filter((m) => !m.isConfig);
  assert.equal(frames.length, 25);
  assert.equal(frames[0]?.kind, 'keyframe');
  // ExVideoTagHeader: IsExHeader bit, FourCC 'hvc1'.
  for (const m of video) {
    assert.equal((m.payload[0] as number) & 0x80, 0x80);
    assert.equal(m.payload.subarray(1, 5).toString('latin1'), 'hvc1');
  }
  for (let i = 1; i < frames.length; i++) assert.ok((frames[i]?.timestamp ?? 0) > (frames[i - 1]?.timestamp ?? 0), `DTS rises at ${i}`);
  const meta = messages.find((m) => m.kind === 'metadata');
  assert.ok(meta !== undefined);
  assert.ok(meta.payload.includes(Buffer.from('width')), 'onMetaData has the width');
});

/** The fixture with its elementary PIDs moved (+0x100) and a PMT that says so: "new PIDs" after a PMT change. */
function withNewPids(ts: Buffer): Buffer {
  const out = Buffer.from(ts);
  const pmt = psiPacket(0x1000, pmtSection(1, 0x200, [[0x1b, 0x200], [0x0f, 0x201]], 1), 0);
  for (let i = 0; i + 188 <= out.length; i += 188) {
    const pid = ((out[i + 1]! & 0x1f) << 8) | out[i + 2]!;
    if (pid === 0x100 || pid === 0x101) {
      out[i + 1] = (out[i + 1]! & 0xe0) | 0x02; // PID 0x2xx
    } else if (pid === 0x1000) {
      const cc = out[i + 3]! & 0x0f;
      out.set(pmt, i);
      out[i + 3] = (out[i + 3]! & 0xf0) | cc;
    }
  }
  return out;
}

function remuxBytes(ts: Buffer): { messages: RtmpMessage[]; errors: GatewayError[]; codecChanges: string[] } {
  const messages: RtmpMessage[] = [];
  const errors: GatewayError[] = [];
  const codecChanges: string[] = [];
  const toRtmp = new TsToRtmp({
    onMessage: (m) => messages.push(m),
    onDecodeError: (e) => errors.push(e),
    onCodecChange: (a, b) => codecChanges.push(`${a.video}+${a.audio} → ${b.video}+${b.audio}`),
  });
  const demuxer = new TsDemuxer(toRtmp);
  for (let o = 0; o < ts.length; o += 1316) demuxer.pushDatagram(ts.subarray(o, o + 1316));
  demuxer.flush();
  return { messages, errors, codecChanges };
}

function assertRising(messages: readonly RtmpMessage[]): void {
  for (const kinds of [['keyframe', 'interframe'], ['audio']]) {
    const frames = messages.filter((m) => kinds.includes(m.kind));
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.timestamp >= frames[i - 1]!.timestamp, `${kinds[0]} timestamp falls at ${i}: ${frames[i - 1]!.timestamp} → ${frames[i]!.timestamp}`);
  }
}

test('PMT change to new PIDs (same codecs, timestamps starting over): new sequence headers, timestamps go on rising, no republish', () => {
  const a = readFileSync(fixture('ts/h264-aac-320x240-25fps-10s.ts'));
  const { messages, codecChanges } = remuxBytes(Buffer.concat([a, withNewPids(a)]));
  assert.deepEqual(codecChanges, []);
  assert.equal(messages.filter((m) => m.kind === 'video-config').length, 2, 'a video sequence header for each part');
  assert.equal(messages.filter((m) => m.kind === 'audio-config').length, 2, 'an audio sequence header for each part');
  const video = messages.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe');
  assert.ok(video.length >= 2 * 250 - 2, `video AUs ${video.length}: at most the AU cut at the join is lost`);
  assertRising(messages);
  const join = video.findIndex((m, i) => i > 0 && m.timestamp - video[i - 1]!.timestamp !== 40);
  // The new part's first PES (audio here) lands 40 ms after the last output; its first video frame a little later.
  assert.ok(join > 240 && video[join]!.timestamp - video[join - 1]!.timestamp <= 200, `the second part follows the first (${video[join - 1]?.timestamp} → ${video[join]?.timestamp})`);
  const secondConfig = messages.filter((m) => m.kind === 'video-config')[1]!;
  assert.ok(messages.indexOf(secondConfig) < messages.indexOf(video[join]!), 'the new sequence header precedes the new part');
});

test('PMT change to a new codec (H.264 + AAC → H.265): onCodecChange first, then an hvc1 sequence header; timestamps go on rising', () => {
  const a = readFileSync(fixture('ts/h264-aac-320x240-25fps-10s.ts'));
  const b = readFileSync(fixture('ts/demux-h265-1s.ts'));
  const { messages, codecChanges } = remuxBytes(Buffer.concat([a, b]));
  assert.deepEqual(codecChanges, ['h264+aac → h265+none']);
  const configs = messages.filter((m) => m.kind === 'video-config').map((m) => ((m.payload[0]! & 0x80) !== 0 ? 'hvc1' : 'avc'));
  assert.deepEqual(configs, ['avc', 'hvc1']);
  const hevc = messages.filter((m) => (m.kind === 'keyframe' || m.kind === 'interframe') && (m.payload[0]! & 0x80) !== 0);
  assert.ok(hevc.length >= 24, `H.265 frames ${hevc.length}`);
  assert.equal(hevc[0]!.kind, 'keyframe');
  assertRising(messages);
});
