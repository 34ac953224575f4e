/**
 * TsStreamSerializer (core/remux/rtmp-to-ts-stream.ts): the one TS serialization of a stream that HTTP-TS players
 * share. Program start from the held configs, tables before each keyframe and at joins, a track that appears
 * later, unsupported codecs, a new publish; the FLV fixture serialized message by message decodes in ffmpeg.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { FlvDemuxer } from '../../../core/protocol/flv/flv-demuxer.ts';
import { parsePmt, StreamType } from '../../../core/protocol/mpegts/psi.ts';
import { TsStreamSerializer, type TsChunk } from '../../../core/remux/rtmp-to-ts-stream.ts';
import { run } from '../../helpers/peers.ts';
import { aac, audioConfig, interframe, keyframe, metadata, videoConfig } from '../hub/hub-vectors.ts';

const PAT_PID = 0;
const PMT_PID = 0x1000;

function pids(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 188) out.push((((bytes[i + 1] as number) & 0x1f) << 8) | (bytes[i + 2] as number));
  return out;
}

function writeAll(s: TsStreamSerializer, msgs: readonly RtmpMessage[]): (TsChunk | undefined)[] {
  return msgs.map((m) => s.write(m));
}

test('configs are held; the first media message starts with PAT, PMT (H.264 + AAC), written once', () => {
  const s = new TsStreamSerializer();
  const [meta, vc, ac, kf, a] = writeAll(s, [metadata(0), videoConfig(0), audioConfig(0), keyframe(0, 30), aac(0)]);
  assert.deepEqual([meta, vc, ac], [undefined, undefined, undefined], 'nothing before the first media message');
  assert.ok(kf !== undefined && kf.startsWithTables);
  assert.deepEqual(pids(kf.bytes).slice(0, 3), [PAT_PID, PMT_PID, 0x100], 'one PAT, one PMT, then video');
  const pmt = parsePmt(kf.bytes.subarray(188 + 5, 376)); // PMT packet: 4-byte header + pointer_field 0
  assert.deepEqual(pmt.streams.map((x) => x.streamType), [StreamType.H264, StreamType.AdtsAac]);
  assert.ok(a !== undefined && !a.startsWithTables);
  assert.deepEqual(s.tables, kf.bytes.subarray(0, 376), 'the last tables are kept for joiners');
  const [inter, kf2] = writeAll(s, [interframe(40), keyframe(80, 30)]);
  assert.equal(inter?.startsWithTables, false);
  assert.equal(kf2?.startsWithTables, true, 'tables again before every keyframe');
  assert.deepEqual(pids(kf2?.bytes ?? Buffer.alloc(0)).slice(0, 2), [PAT_PID, PMT_PID]);
});

test('a track that appears later (MP3 has no sequence header) bumps the PMT version, tables before it', () => {
  const s = new TsStreamSerializer();
  writeAll(s, [videoConfig(0), keyframe(0)]);
  const mp3 = createMessage(MessageType.Audio, 10, Buffer.from([0x2f, 0xff, 0xfb, 0x90, 0x64, ...Buffer.alloc(100)]));
  assert.ok(mp3 !== undefined);
  const chunk = s.write(mp3);
  assert.ok(chunk?.startsWithTables);
  const pmt = parsePmt(chunk.bytes.subarray(188 + 5, 376));
  assert.deepEqual(pmt.streams.map((x) => x.streamType), [StreamType.H264, StreamType.Mpeg1Audio]);
  assert.equal(pmt.versionNumber, 2, 'version 1 at the start, 2 with the new track');
});

test('an unsupported codec throws TsUnsupportedCodec; a malformed frame is skipped; reset starts a new program', () => {
  const s = new TsStreamSerializer();
  const vp6 = createMessage(MessageType.Video, 0, Buffer.from([0x14, 0, 0, 0, 0])); // FrameType 1, CodecID 4 (VP6)
  assert.ok(vp6 !== undefined);
  assert.throws(() => s.write(vp6), (err: unknown) => isGatewayError(err) && err.code === ErrorCode.TsUnsupportedCodec);
  const t = new TsStreamSerializer();
  writeAll(t, [videoConfig(0), keyframe(0)]);
  const truncated = createMessage(MessageType.Video, 40, Buffer.from([0x27, 0x01, 0, 0, 0, 0, 0, 0, 99, 1]));
  assert.ok(truncated !== undefined);
  assert.equal(t.write(truncated), undefined, 'skipped');
  assert.ok(t.write(interframe(80)) !== undefined, 'the stream goes on');
  t.reset();
  assert.equal(t.tables, undefined);
  assert.equal(t.write(videoConfig(0)), undefined, 'held again');
  assert.equal(t.write(keyframe(0))?.startsWithTables, true);
});

test('the FLV fixture serialized message by message: ffmpeg decodes it with zero errors', async () => {
  const messages: RtmpMessage[] = [];
  const demuxer = new FlvDemuxer({ onMessage: (m) => messages.push(m), onDecodeError: (e) => assert.fail(e.message) });
  demuxer.push(readFileSync(fileURLToPath(new URL('../../../fixtures/flv/h264-aac-320x240-10s.flv', import.meta.url))));
  const s = new TsStreamSerializer();
  const chunks = writeAll(s, messages).filter((c): c is TsChunk => c !== undefined);
  const ts = Buffer.concat(chunks.map((c) => c.bytes));
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'mpegts', '-i', 'pipe:0', '-f', 'null', '-'], { input: ts });
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.ok(chunks.filter((c) => c.startsWithTables).length >= 5, 'tables before each of the 2-s GOPs');
});
