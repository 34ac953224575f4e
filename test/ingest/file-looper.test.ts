import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';
import type { GatewayError } from '../../core/errors.ts';
import { FileLooper, LoopTimeline, type LooperClock } from '../../ingest/file-looper.ts';

const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;
const DEMO_FLV = `${FIXTURES}flv/demo.flv`; // 25 fps video DTS 23…9983, AAC DTS 0…9961
const SMALL_FLV = `${FIXTURES}flv/h264-aac-320x240-10s.flv`;
const TS_FILE = `${FIXTURES}ts/h264-aac-320x240-25fps-10s.ts`;
const VIDEO_INTERVAL_MS = 40;

function msg(type: MessageType, ts: number, bytes: number[]): RtmpMessage {
  return createMessage(type, ts, Buffer.from(bytes)) as RtmpMessage;
}
const AVC_CONFIG = [0x17, 0, 0, 0, 0, 1, 0x4d];
const AVC_KEY = [0x17, 1, 0, 0, 0, 0xaa];
const AVC_INTER = [0x27, 1, 0, 0, 0, 0xbb];
const AVC_EOS = [0x17, 2, 0, 0, 0];
const AAC_CONFIG = [0xaf, 0, 0x12, 0x10];
const AAC_RAW = [0xaf, 1, 0x21];

/** A "file" pass: configs, 1 s of 25 fps video from 23 ms and AAC from 0 ms, then EOS. */
function pass(): RtmpMessage[] {
  const out = [msg(MessageType.Video, 0, AVC_CONFIG), msg(MessageType.Audio, 0, AAC_CONFIG)];
  const frames: RtmpMessage[] = [];
  for (let i = 0; i < 25; i++) frames.push(msg(MessageType.Video, 23 + i * 40, i % 25 === 0 ? AVC_KEY : AVC_INTER));
  for (let i = 0; i < 43; i++) frames.push(msg(MessageType.Audio, Math.round(i * 23.22), AAC_RAW));
  frames.sort((a, b) => a.timestamp - b.timestamp);
  out.push(...frames, msg(MessageType.Video, 983, AVC_EOS));
  return out;
}

/** Per track: timestamps never go back; no step larger than `maxGapMs`. */
function checkTimeline(out: readonly RtmpMessage[], maxGapMs: number): void {
  for (const type of [MessageType.Video, MessageType.Audio]) {
    const ts = out.filter((m) => m.type === type && !m.isConfig).map((m) => m.timestamp);
    assert.ok(ts.length > 0);
    for (let i = 1; i < ts.length; i++) {
      const step = (ts[i] as number) - (ts[i - 1] as number);
      assert.ok(step >= 0, `type ${type}: ${ts[i - 1]} → ${ts[i]} goes back`);
      assert.ok(step <= maxGapMs, `type ${type}: ${ts[i - 1]} → ${ts[i]} gap ${step} ms`);
    }
  }
}

test('LoopTimeline: three passes give one rising timeline, configs once, no end-of-sequence', () => {
  const t = new LoopTimeline();
  const out: RtmpMessage[] = [];
  for (let p = 0; p < 3; p++) {
    t.beginPass();
    for (const m of pass()) {
      const before = Uint8Array.from(m.payload);
      const r = t.map(m);
      assert.deepEqual(Uint8Array.from(m.payload), before, 'input integrity');
      if (r !== undefined) out.push(r);
    }
    assert.equal(t.endPass(), true);
  }
  assert.equal(t.passes, 3);
  // pass length: max(video 983 − 23 + 40, audio 975 − 0 + 23) = 1000 ms
  assert.equal(t.offsetMs, 3000);
  assert.equal(out.filter((m) => m.kind === 'video-config').length, 1);
  assert.equal(out.filter((m) => m.kind === 'audio-config').length, 1);
  assert.equal(out.filter((m) => m.payload[1] === 2 && m.type === MessageType.Video).length, 0);
  checkTimeline(out, VIDEO_INTERVAL_MS);
  const video = out.filter((m) => m.kind === 'keyframe').map((m) => m.timestamp);
  assert.deepEqual(video, [23, 1023, 2023]);
});

test('LoopTimeline: a pass without audio/video does not advance; a changed config is sent again', () => {
  const t = new LoopTimeline();
  t.beginPass();
  assert.equal(t.map(msg(MessageType.Data, 0, [2, 0, 1, 0x61]))?.timestamp, 0);
  assert.equal(t.endPass(), false);
  assert.equal(t.offsetMs, 0);
  t.beginPass();
  t.map(msg(MessageType.Video, 0, AVC_CONFIG));
  t.map(msg(MessageType.Video, 0, AVC_KEY));
  assert.equal(t.endPass(), true);
  assert.equal(t.offsetMs, 40, 'a single frame counts one default frame interval');
  t.beginPass();
  assert.equal(t.map(msg(MessageType.Video, 0, AVC_CONFIG)), undefined, 'same config not repeated');
  const changed = t.map(msg(MessageType.Video, 0, [0x17, 0, 0, 0, 0, 1, 0x64]));
  assert.equal(changed?.kind, 'video-config');
  assert.equal(changed?.timestamp, 40);
});

/** A clock running `speed` times faster than real time. */
function fastClock(speed: number): LooperClock {
  const t0 = performance.now();
  return {
    now: () => (performance.now() - t0) * speed,
    setTimeout: (fn, ms) => setTimeout(fn, ms / speed),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
}

interface Run { out: RtmpMessage[]; late: number[]; errors: GatewayError[]; loops: number[] }

const SPEED = 400;

/** Play `files` until a message at or past `untilMs` (output time) was handed on, or a fatal error. */
async function runLooper(files: string[], untilMs: number, speed = SPEED): Promise<Run> {
  const clock = fastClock(speed);
  const run: Run = { out: [], late: [], errors: [], loops: [] };
  let startWall = -1;
  let startTs = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => { done = r; });
  const looper = new FileLooper({
    files,
    clock,
    sink: {
      onMessage: (m) => {
        const now = clock.now();
        if (startWall < 0) { startWall = now; startTs = m.timestamp; }
        // Pacing: never early (the clock may only be late, by timer granularity).
        run.late.push(now - startWall - (m.timestamp - startTs));
        run.out.push(m);
        if (m.timestamp >= untilMs) done();
      },
      onDecodeError: (e) => run.errors.push(e),
      onError: (e) => { run.errors.push(e); done(); },
      onLoop: (n) => run.loops.push(n),
    },
  });
  await looper.start();
  await finished;
  looper.stop();
  return run;
}

test('FileLooper: demo.flv plays across 2 loop boundaries, paced, rising, no gap over one frame interval', async () => {
  // 50× real time (25 s of media in 0.5 s): slow enough that a 100 ms stall of a loaded machine is not "behind",
  // fast enough that a looper drifting by even 1 ms per frame would end seconds of media late.
  const speed = 50;
  const run = await runLooper([DEMO_FLV], 25_000, speed);
  assert.deepEqual(run.errors, []);
  assert.deepEqual(run.loops.slice(0, 2), [1, 2]);
  checkTimeline(run.out, VIDEO_INTERVAL_MS);
  const keyframes = run.out.filter((m) => m.kind === 'keyframe').map((m) => m.timestamp);
  assert.ok(keyframes.some((t) => t > 20_000), 'reached the third pass');
  // Lateness is measured against the first message's wall time, read a few µs after the looper's own anchor:
  // allow 0.25 ms of real time (× the clock speed) for that; a message sent a frame early would be −40 ms.
  const slackMs = speed * 0.25;
  assert.ok(run.late.every((l) => l >= -slackMs), `a message was sent early: ${Math.min(...run.late)} ms`);
  const lastLateMs = run.late[run.late.length - 1] as number;
  assert.ok(lastLateMs < speed * 100, `the looper keeps up with the clock: last message ${lastLateMs} ms (media) late`);
  assert.equal(run.out.filter((m) => m.kind === 'video-config').length, 1);
  assert.equal(run.out.filter((m) => m.kind === 'metadata').length, 1);
});

test('FileLooper: MPEG-TS file through the TS demuxer loops with rising timestamps', async () => {
  const run = await runLooper([TS_FILE], 12_000);
  assert.deepEqual(run.errors, []);
  // TS audio runs 30 ms past the video here, so the video step at the boundary is up to 40 + 30 ms.
  checkTimeline(run.out, VIDEO_INTERVAL_MS + 35);
  assert.ok(run.out.filter((m) => m.kind === 'keyframe').some((t) => t.timestamp > 10_000));
});

test('FileLooper: several files play in order; a changed sequence header is sent at the switch', async () => {
  const run = await runLooper([DEMO_FLV, SMALL_FLV], 12_000);
  assert.deepEqual(run.errors, []);
  const configs = run.out.filter((m) => m.kind === 'video-config').map((m) => m.timestamp);
  assert.equal(configs.length, 2);
  assert.ok((configs[1] as number) >= 10_000 && (configs[1] as number) <= 10_100, `switch at ${configs[1]}`);
  checkTimeline(run.out, VIDEO_INTERVAL_MS + 50);
});

test('FileLooper: a missing file rejects start() with a clear message; a non-media file is a fatal error', async () => {
  const missing = new FileLooper({ files: ['/nonexistent/demo.flv'], sink: { onMessage() {}, onDecodeError() {}, onError() {} } });
  await assert.rejects(missing.start(), { code: 'GW_ERR_INGEST_INPUT', message: "cannot open ingest file '/nonexistent/demo.flv': no such file" });
  const dir = mkdtempSync(join(tmpdir(), 'looper-'));
  try {
    const junk = join(dir, 'junk.flv');
    writeFileSync(junk, Buffer.alloc(4096, 0x20));
    const run = await runLooper([junk], 1);
    assert.equal(run.errors.length, 1);
    assert.match(run.errors[0]?.message ?? '', /neither FLV nor MPEG-TS/);
    const empty = join(dir, 'empty.flv');
    writeFileSync(empty, Buffer.from('FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1'));
    const run2 = await runLooper([empty], 1);
    assert.match(run2.errors[0]?.message ?? '', /no audio or video/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
