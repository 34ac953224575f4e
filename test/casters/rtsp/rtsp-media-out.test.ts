/**
 * RtspMediaOut, the TrackSink of an RTSP session: nothing is published before RECORD (start) or after the session
 * ended (stop); onMetaData goes out before the first message and again before each new sequence header, built from
 * the tracks' codec facts in SETUP order, and its timestamp never goes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../core/log.ts';
import { ErrorCode, GatewayError } from '../../../core/errors.ts';
import type { Publisher } from '../../../core/hub/ports.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { decodeAmf0 } from '../../../core/protocol/amf0.ts';
import type { TrackMetadata } from '../../../core/remux/metadata.ts';
import { RtspMediaOut } from '../../../casters/rtsp/rtsp-media-out.ts';
import type { TrackCodec } from '../../../casters/rtsp/track-codecs.ts';

function recorder(): { publisher: Publisher; written: RtmpMessage[] } {
  const written: RtmpMessage[] = [];
  return { written, publisher: { key: { vhost: '__defaultVhost__', app: 'live', stream: 'x' }, write: (m) => written.push(m), close() {} } };
}

/** A codec whose onMetaData facts the test sets. */
function codec(meta: () => TrackMetadata | undefined): TrackCodec {
  return { media: 'video', codec: 'h264', push() {}, metadata: meta, stats: { frames: 0, droppedFrames: 0 } };
}

function msg(type: 'video-config' | 'keyframe' | 'interframe' | 'audio-config' | 'audio', timestamp: number): RtmpMessage {
  // FLV tag bodies: AVC sequence header / NALU (key or inter), AAC sequence header / raw.
  const bodies = {
    'video-config': [0x17, 0, 0, 0, 0, 1], keyframe: [0x17, 1, 0, 0, 0, 9], interframe: [0x27, 1, 0, 0, 0, 9],
    'audio-config': [0xaf, 0, 0x12, 0x10], audio: [0xaf, 1, 0x21],
  } as const;
  const m = createMessage(type.startsWith('audio') ? MessageType.Audio : MessageType.Video, timestamp, Buffer.from(bodies[type]));
  assert.ok(m !== undefined);
  assert.equal(m.kind, type);
  return m;
}

/** The ECMA array of an onMetaData message. */
function fields(m: RtmpMessage | undefined): Record<string, unknown> {
  assert.equal(m?.kind, 'metadata');
  const [name, array] = decodeAmf0(m.payload) as [string, { entries: Record<string, unknown> }];
  assert.equal(name, 'onMetaData');
  return array.entries;
}

test('onMetaData first, again before each sequence header, never back in time; nothing outside start/stop', () => {
  const out = new RtspMediaOut(createLogger('silent'));
  const { publisher, written } = recorder();
  out.onMessage(msg('keyframe', 10));
  assert.equal(written.length, 0, 'before RECORD nothing is published');
  let width = 320;
  const video = codec(() => ({ media: 'video', videocodecid: 7, width, height: 240, framerate: 25 }));
  const audio = codec(() => ({ media: 'audio', audiocodecid: 10, audiosamplerate: 48000, audiochannels: 2 }));
  const notYet = codec(() => undefined);
  out.start(publisher, [video, notYet, audio]);
  out.onMessage(msg('video-config', 500));
  out.onMessage(msg('keyframe', 500));
  out.onMessage(msg('audio', 520));
  width = 640;
  out.onMessage(msg('audio-config', 400)); // a late track's header, earlier than what was published
  out.onMessage(msg('interframe', 540));
  assert.deepEqual(written.map((m) => `${m.kind}@${m.timestamp}`), [
    'metadata@500', 'video-config@500', 'keyframe@500', 'audio@520', 'metadata@520', 'audio-config@400', 'interframe@540',
  ]);
  const first = fields(written[0]);
  assert.deepEqual(first, {
    width: 320, height: 240, videocodecid: 7, framerate: 25, audiocodecid: 10, audiosamplerate: 48000, audiochannels: 2, stereo: true, encoder: 'castgate',
  });
  assert.deepEqual(Object.keys(first), ['width', 'height', 'videocodecid', 'framerate', 'audiocodecid', 'audiosamplerate', 'audiochannels', 'stereo', 'encoder'], 'SETUP order');
  assert.equal(fields(written[4])['width'], 640, 'facts are asked for again each time');
  out.stop();
  out.onMessage(msg('interframe', 580));
  assert.equal(written.length, 7, 'after the session ended nothing is published');
  // A new RECORD on the same connection starts over: metadata first again.
  out.start(publisher, [video]);
  out.onMessage(msg('keyframe', 0));
  assert.deepEqual(written.slice(7).map((m) => `${m.kind}@${m.timestamp}`), ['metadata@0', 'keyframe@0']);
});

test('decode errors are taken (rate-limited log), never thrown', () => {
  const out = new RtspMediaOut(createLogger('silent'));
  for (let i = 0; i < 100; i++) out.onDecodeError(new GatewayError(ErrorCode.RtpPayload, `bad packet ${i}`));
});
