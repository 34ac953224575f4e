/**
 * CMAF fragments from RTMP messages (core/remux/rtmp-to-cmaf.ts, cmaf-boxes.ts): parts close at the part target
 * (never longer, ≥ 85 % of it but at segment ends, as LL-HLS wants), independent parts start with a keyframe, the
 * box tree is what ISO/IEC 14496-12 says (walked by an independent parser here), and ffmpeg decodes init + parts
 * with zero errors for H.264 + AAC, H.265 (B-frames: signed composition offsets) and audio-only AAC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { CmafMuxer, type CmafPart } from '../../../core/remux/rtmp-to-cmaf.ts';
import { mp4AudioTrack, mp4VideoTrack } from '../../../core/remux/rtmp-to-mp4.ts';
import { run } from '../../helpers/peers.ts';
import { h264AacMessages, hevcMessages } from '../../helpers/dvr-media.ts';

interface Box { readonly type: string; readonly start: number; readonly size: number; readonly children: Box[] }
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'mvex', 'moof', 'traf', 'dinf']);

/** Walk a box tree (size + type, containers recursed). */
function boxes(buf: Buffer, start = 0, end = buf.length): Box[] {
  const out: Box[] = [];
  for (let o = start; o < end;) {
    const size = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    assert.ok(size >= 8 && o + size <= end, `box ${type} at ${o} fits its parent`);
    out.push({ type, start: o, size, children: CONTAINERS.has(type) ? boxes(buf, o + 8, o + size) : [] });
    o += size;
  }
  return out;
}

function muxAll(messages: readonly RtmpMessage[], partTargetMs: number): { muxer: CmafMuxer; parts: CmafPart[] } {
  const videoConfig = messages.findLast((m) => m.kind === 'video-config');
  const audioConfig = messages.findLast((m) => m.kind === 'audio-config');
  const muxer = new CmafMuxer({
    video: videoConfig !== undefined ? mp4VideoTrack(videoConfig) : undefined,
    audio: audioConfig !== undefined ? mp4AudioTrack(audioConfig) : undefined,
    partTargetMs,
  });
  const parts: CmafPart[] = [];
  for (const m of messages) {
    if (m.isConfig) continue;
    const p = muxer.write(m);
    if (p !== undefined) parts.push(p);
  }
  const last = muxer.flush();
  if (last !== undefined) parts.push(last);
  return { muxer, parts };
}

async function decode(init: Buffer, parts: readonly CmafPart[]): Promise<{ stderr: string; frames: Map<string, number> }> {
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'mp4', '-i', 'pipe:0', '-f', 'framecrc', 'pipe:1'],
    { input: Buffer.concat([init, ...parts.map((p) => p.bytes)]) });
  const types = new Map<string, string>();
  const frames = new Map<string, number>();
  for (const line of r.stdout.toString('latin1').split('\n')) {
    const t = /^#media_type (\d+): (\w+)/.exec(line);
    if (t !== null) types.set(t[1] as string, t[2] as string);
    const idx = /^(\d+),/.exec(line)?.[1];
    const type = idx === undefined ? undefined : types.get(idx);
    if (type !== undefined) frames.set(type, (frames.get(type) ?? 0) + 1);
  }
  return { stderr: r.stderr, frames };
}

test('init segment: ftyp + moov (mvhd, trak video avc1/avcC, trak audio mp4a/esds, mvex/trex ×2)', () => {
  const { muxer } = muxAll(h264AacMessages().slice(0, 10), 200);
  const tree = boxes(muxer.initSegment);
  assert.deepEqual(tree.map((b) => b.type), ['ftyp', 'moov']);
  const moov = tree[1] as Box;
  assert.deepEqual(moov.children.map((b) => b.type), ['mvhd', 'trak', 'trak', 'mvex']);
  assert.deepEqual(moov.children[3]?.children.map((b) => b.type), ['trex', 'trex']);
  const init = muxer.initSegment;
  assert.ok(init.includes(Buffer.from('avc1')) && init.includes(Buffer.from('avcC')) && init.includes(Buffer.from('esds')));
  assert.equal(init.toString('latin1', 8, 12), 'iso6', 'major brand');
});

test('H.264 + AAC, 200 ms parts: each part ≤ 200 ms and ≥ 170 ms, moof+mdat, keyframe parts independent; ffmpeg decodes every frame', async () => {
  const messages = h264AacMessages();
  const { muxer, parts } = muxAll(messages, 200);
  assert.ok(parts.length >= 45, `${parts.length} parts for 10 s`);
  for (const [i, p] of parts.entries()) {
    assert.deepEqual(boxes(p.bytes).map((b) => b.type), ['moof', 'mdat']);
    assert.ok(p.durationMs <= 200, `part ${i}: ${p.durationMs} ms`);
    if (i < parts.length - 1) assert.ok(p.durationMs >= 170, `part ${i}: ${p.durationMs} ms`);
    if (i > 0) assert.equal(p.startMs, (parts[i - 1] as CmafPart).startMs + (parts[i - 1] as CmafPart).durationMs, 'parts are contiguous');
  }
  const keyframes = messages.filter((m) => m.kind === 'keyframe').map((m) => m.timestamp);
  assert.deepEqual(parts.filter((p) => p.independent).map((p) => p.startMs), keyframes.filter((k) => parts.some((p) => p.startMs === k)));
  assert.equal(parts[0]?.independent, true);
  const { stderr, frames } = await decode(muxer.initSegment, parts);
  assert.equal(stderr, '', 'ffmpeg reports no error');
  const coded = messages.filter((m) => (m.kind === 'keyframe' || m.kind === 'interframe') && m.payload[1] === 1); // AVCPacketType 1
  assert.equal(frames.get('video'), coded.length, 'every video frame');
  assert.ok((frames.get('audio') ?? 0) >= messages.filter((m) => m.kind === 'audio').length - 2, 'every audio frame');
});

test('one fragment per flush with an infinite part target (hls_use_fmp4 without LL)', () => {
  const messages = h264AacMessages();
  const { parts } = muxAll(messages, Number.POSITIVE_INFINITY);
  assert.equal(parts.length, 1);
});

test('H.265 with B-frames (hvc1/hvcC, negative-free signed composition offsets): ffmpeg decodes every frame', async () => {
  const messages = hevcMessages();
  const { muxer, parts } = muxAll(messages, 200);
  assert.ok(muxer.initSegment.includes(Buffer.from('hvcC')));
  const { stderr, frames } = await decode(muxer.initSegment, parts);
  assert.equal(stderr, '');
  assert.equal(frames.get('video'), 50);
});

test('audio-only AAC: parts of 8 frames (185.8 ms ≤ 200), all independent; ffmpeg decodes', async () => {
  const messages = h264AacMessages().filter((m) => m.type === 8);
  const { muxer, parts } = muxAll(messages, 200);
  assert.ok(parts.every((p) => p.independent));
  for (const p of parts.slice(0, -1)) assert.ok(p.durationMs > 180 && p.durationMs <= 200, `${p.durationMs} ms`);
  const { stderr, frames } = await decode(muxer.initSegment, parts);
  assert.equal(stderr, '');
  assert.equal(frames.get('audio'), messages.filter((m) => m.kind === 'audio').length);
});
