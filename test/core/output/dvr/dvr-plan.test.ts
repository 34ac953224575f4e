/**
 * DvrPlan (pure): session and segment plans, cuts at keyframes, dvr_wait_keyframe off, sequence-header and track
 * changes, the hold before the first file, audio-only streams, file timestamps per time_jitter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMessage, MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { encodeAmf0 } from '../../../../core/protocol/amf0.ts';
import { DvrPlan, TRACK_WAIT_MS, type DvrCutReason, type DvrPlanOptions } from '../../../../core/output/dvr/dvr-plan.ts';
import type { DvrFileStart } from '../../../../core/output/dvr/dvr-file-writer.ts';

const msg = (type: MessageType, ts: number, bytes: number[]): RtmpMessage => createMessage(type, ts, Buffer.from(bytes)) as RtmpMessage;
const metadata = (): RtmpMessage => createMessage(MessageType.Data, 0, encodeAmf0(['onMetaData', { width: 320 }])) as RtmpMessage;
/** AVC sequence header: FrameType 1 | CodecID 7, AVCPacketType 0, CTS 0, then a (short) record; `v` tells versions apart. */
const videoConfig = (ts: number, v = 0x42): RtmpMessage => msg(MessageType.Video, ts, [0x17, 0, 0, 0, 0, 1, v, 0, 0x1e]);
const keyframe = (ts: number): RtmpMessage => msg(MessageType.Video, ts, [0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]);
const interframe = (ts: number): RtmpMessage => msg(MessageType.Video, ts, [0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]);
/** AAC: 0xAF, AACPacketType 0 + ASC (LC 44.1 kHz stereo) / 1 + raw frame. */
const audioConfig = (ts: number): RtmpMessage => msg(MessageType.Audio, ts, [0xaf, 0, 0x12, 0x10]);
const aac = (ts: number): RtmpMessage => msg(MessageType.Audio, ts, [0xaf, 1, 0x21]);
/** MP3 (SoundFormat 2): header byte + a frame header. */
const mp3 = (ts: number): RtmpMessage => msg(MessageType.Audio, ts, [0x2f, 0xff, 0xfb, 0x90, 0x64]);

interface File {
  start: DvrFileStart;
  frames: RtmpMessage[];
  reason?: DvrCutReason;
}

function run(opts: Partial<DvrPlanOptions>, input: readonly RtmpMessage[], end = true): File[] {
  const files: File[] = [];
  let open: File | undefined;
  const plan = new DvrPlan({ plan: 'session', durationMs: 30_000, waitKeyframe: true, timeJitter: 'full', ...opts }, {
    openFile: (start) => {
      assert.equal(open, undefined, 'a file opens only after the last one closed');
      open = { start, frames: [] };
      files.push(open);
    },
    writeFrame: (m) => {
      assert.ok(open !== undefined, 'a frame without an open file');
      open.frames.push(m);
    },
    closeFile: (reason) => {
      assert.ok(open !== undefined, 'a close without an open file');
      open.reason = reason;
      open = undefined;
    },
  });
  for (const m of input) plan.push(m);
  if (end) plan.end('unpublish');
  return files;
}

/** Headers at `t0`, then `seconds` of 25 fps video (keyframe every `gopMs`) interleaved with AAC every 23 ms. */
function stream(seconds: number, opts: { t0?: number; gopMs?: number; audioFirstMs?: number } = {}): RtmpMessage[] {
  const t0 = opts.t0 ?? 0;
  const gop = opts.gopMs ?? 1000;
  const out: RtmpMessage[] = [metadata(), videoConfig(t0), audioConfig(t0)];
  const media: RtmpMessage[] = [];
  for (let t = 0; t < seconds * 1000; t += 40) media.push(t % gop === 0 ? keyframe(t0 + t) : interframe(t0 + t));
  for (let t = opts.audioFirstMs ?? 0; t < seconds * 1000; t += 23) media.push(aac(t0 + t));
  media.sort((a, b) => a.timestamp - b.timestamp);
  return [...out, ...media];
}

const isKey = (m: RtmpMessage): boolean => m.kind === 'keyframe';
const lastTs = (f: File): number => (f.frames[f.frames.length - 1] as RtmpMessage).timestamp;

test('session: one file per publish with metadata and sequence headers, from a keyframe at 0', () => {
  const input = stream(10, { t0: 5000, audioFirstMs: 0 });
  const files = run({ plan: 'session' }, input);
  assert.equal(files.length, 1);
  const [f] = files as [File];
  assert.equal(f.reason, 'unpublish');
  assert.equal(f.start.metadata, input[0]);
  assert.equal(f.start.videoConfig, input[1]);
  assert.equal(f.start.audioConfig, input[2]);
  assert.equal(f.start.audioFrame, undefined, 'AAC has its sequence header');
  assert.deepEqual([f.start.hasVideo, f.start.hasAudio], [true, true]);
  assert.ok(isKey(f.frames[0] as RtmpMessage));
  assert.equal((f.frames[0] as RtmpMessage).timestamp, 0);
  for (let i = 1; i < f.frames.length; i++) {
    const [a, b] = [f.frames[i - 1] as RtmpMessage, f.frames[i] as RtmpMessage];
    if (a.type === b.type) assert.ok(b.timestamp >= a.timestamp, `rising at ${i}`);
  }
  assert.equal(f.frames.filter((m) => m.type === MessageType.Video).length, 250, 'every video frame');
  // AAC at the keyframe's time (5000) is written; nothing before it exists here
  assert.equal(f.frames.filter((m) => m.type === MessageType.Audio).length, input.filter((m) => m.kind === 'audio').length);
  assert.equal(lastTs(f), 9982, 'the last AAC frame');
});

test('segment: a new file at the first keyframe past dvr_duration, each starting at 0 with the headers', () => {
  const files = run({ plan: 'segment', durationMs: 3000 }, stream(10, { gopMs: 1000 }));
  assert.equal(files.length, 4, files.map((f) => f.frames.length).join(','));
  assert.deepEqual(files.map((f) => f.reason), ['segment', 'segment', 'segment', 'unpublish']);
  for (const f of files) {
    assert.ok(isKey(f.frames[0] as RtmpMessage), 'first frame is a keyframe');
    assert.equal((f.frames[0] as RtmpMessage).timestamp, 0);
    assert.ok(f.start.videoConfig !== undefined && f.start.audioConfig !== undefined && f.start.metadata !== undefined);
  }
  // 3 s of media each (the cut keyframe opens the next one), the last holds the rest
  assert.deepEqual(files.map((f) => f.frames.filter((m) => m.type === MessageType.Video).length), [75, 75, 75, 25]);
});

test('segment with a GOP longer than dvr_duration: cut at each keyframe', () => {
  const files = run({ plan: 'segment', durationMs: 1000 }, stream(10, { gopMs: 2000 }));
  assert.equal(files.length, 5);
  for (const f of files) assert.ok(isKey(f.frames[0] as RtmpMessage));
});

test('dvr_wait_keyframe off: the next file starts with the first message past dvr_duration', () => {
  const files = run({ plan: 'segment', durationMs: 3000, waitKeyframe: false }, stream(10, { gopMs: 10_000 }));
  assert.equal(files.length, 4);
  assert.ok(isKey((files[0] as File).frames[0] as RtmpMessage));
  for (const f of files.slice(1)) {
    assert.ok(!isKey(f.frames[0] as RtmpMessage), 'not at a keyframe (there is none)');
    assert.equal((f.frames[0] as RtmpMessage).timestamp, 0);
  }
});

test('a changed sequence header ends the file; the same bytes again do not', () => {
  const input = [...stream(2)];
  input.push(videoConfig(2000), keyframe(2000), interframe(2040)); // repeated, identical
  input.push(videoConfig(2080, 0x4d), interframe(2080), interframe(2120), keyframe(2160), interframe(2200));
  const files = run({}, input);
  assert.equal(files.length, 2);
  assert.equal((files[0] as File).reason, 'video-config');
  const second = files[1] as File;
  assert.equal(second.start.videoConfig, input[input.length - 5], 'the new header');
  assert.ok(isKey(second.frames[0] as RtmpMessage), 'starts at the next keyframe');
  assert.equal(second.frames.filter((m) => m.type === MessageType.Video).length, 2);
});

test('an AAC sequence header without its AudioSpecificConfig is ignored (ffmpeg remuxing ADTS sends one first)', () => {
  const empty = msg(MessageType.Audio, 0, [0xaf, 0]);
  const input = [metadata(), videoConfig(0), empty, keyframe(0), interframe(40), audioConfig(57), aac(57), interframe(80)];
  for (let t = 120; t < 3000; t += 40) input.push(t % 1000 === 0 ? keyframe(t) : interframe(t));
  const files = run({}, input);
  assert.equal(files.length, 1, 'the real header is no change of the empty one');
  const f = files[0] as File;
  assert.equal(f.start.audioConfig, input[5]);
  assert.deepEqual(f.frames.slice(0, 4).map((m) => `${m.kind}@${m.timestamp}`), ['keyframe@0', 'interframe@40', 'audio@57', 'interframe@80']);
});

test('a track that appears mid-file ends it; the next file has both', () => {
  const input: RtmpMessage[] = [metadata(), videoConfig(0)];
  for (let t = 0; t < 3000; t += 40) input.push(t % 1000 === 0 ? keyframe(t) : interframe(t));
  input.push(mp3(3000), interframe(3000), mp3(3026), keyframe(3040), mp3(3052));
  const files = run({}, input);
  assert.equal(files.length, 2);
  const [a, b] = files as [File, File];
  assert.deepEqual([a.start.hasVideo, a.start.hasAudio, a.reason], [true, false, 'new-track']);
  assert.deepEqual([b.start.hasVideo, b.start.hasAudio], [true, true]);
  assert.equal(b.start.audioFrame, input[input.length - 5], 'the first MP3 frame names the track');
  assert.ok(isKey(b.frames[0] as RtmpMessage));
  assert.deepEqual(b.frames.map((m) => m.type), [MessageType.Video, MessageType.Audio]);
});

test('hold: audio before the video arrives is dropped up to the first keyframe; both tracks in the file', () => {
  const input: RtmpMessage[] = [audioConfig(0)];
  for (let t = 0; t < 500; t += 23) input.push(aac(t));
  input.push(videoConfig(500), interframe(500), keyframe(520), aac(529), interframe(560));
  const files = run({}, input);
  assert.equal(files.length, 1);
  const f = files[0] as File;
  assert.deepEqual([f.start.hasVideo, f.start.hasAudio], [true, true]);
  assert.deepEqual(f.frames.map((m) => m.kind), ['keyframe', 'audio', 'interframe']);
  assert.deepEqual(f.frames.map((m) => m.timestamp), [0, 9, 40]);
});

test('audio only: the file starts once TRACK_WAIT_MS passed without video, with the held audio; segments cut on audio', () => {
  const input: RtmpMessage[] = [audioConfig(0)];
  for (let t = 0; t < 7000; t += 23) input.push(aac(t));
  const files = run({ plan: 'segment', durationMs: 2000 }, input);
  assert.equal(files.length, 4);
  const first = files[0] as File;
  assert.deepEqual([first.start.hasVideo, first.start.hasAudio], [false, true]);
  assert.equal((first.frames[0] as RtmpMessage).timestamp, 0, 'the hold is written from its start');
  assert.ok(first.frames.length >= TRACK_WAIT_MS / 23, 'nothing held was lost');
  const total = files.reduce((n, f) => n + f.frames.length, 0);
  assert.equal(total, input.length - 1, 'every AAC frame recorded');
});

test('video only: the file starts TRACK_WAIT_MS after the first keyframe at the latest', () => {
  const input: RtmpMessage[] = [videoConfig(0)];
  for (let t = 0; t < 3000; t += 40) input.push(t % 1000 === 0 ? keyframe(t) : interframe(t));
  const files = run({}, input);
  assert.equal(files.length, 1);
  assert.equal((files[0] as File).frames.length, 75);
  assert.deepEqual([(files[0] as File).start.hasVideo, (files[0] as File).start.hasAudio], [true, false]);
});

test('time_jitter off keeps the stream timestamps; zero starts at 0', () => {
  const input = stream(2, { t0: 70_000 });
  assert.equal(((run({ timeJitter: 'off' }, input)[0] as File).frames[0] as RtmpMessage).timestamp, 70_000);
  const zero = (run({ timeJitter: 'zero' }, input)[0] as File).frames;
  assert.equal((zero[0] as RtmpMessage).timestamp, 0);
  assert.equal(lastTsOf(zero), 1978);
});

const lastTsOf = (frames: readonly RtmpMessage[]): number => (frames[frames.length - 1] as RtmpMessage).timestamp;

test('end() closes the open file; a new publish starts afresh with its own headers', () => {
  const files: string[] = [];
  const plan = new DvrPlan({ plan: 'session', durationMs: 30_000, waitKeyframe: true, timeJitter: 'full' }, {
    openFile: (s) => files.push(`open ${s.videoConfig?.payload[6]}`),
    writeFrame: () => undefined,
    closeFile: (r) => files.push(`close ${r}`),
  });
  for (const m of stream(3)) plan.push(m);
  plan.end('unpublish');
  plan.end('unpublish'); // idempotent
  for (const m of stream(3).map((m) => (m.kind === 'video-config' ? videoConfig(0, 0x64) : m))) plan.push(m);
  plan.end('stop');
  assert.deepEqual(files, ['open 66', 'close unpublish', 'open 100', 'close stop']);
  assert.equal(plan.filesOpened, 2);
});
