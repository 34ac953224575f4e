import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FRAME_TIME_MS, MAX_JITTER_DELTA_MS, TimestampCorrector } from '../../../core/media/jitter.ts';
import { aac, audioConfig, interframe, keyframe, metadata, videoConfig } from '../hub/hub-vectors.ts';

/** 2^33 / 90: where a 33-bit 90 kHz MPEG-TS clock wraps, in ms. */
const PTS33_WRAP_MS = Math.floor(2 ** 33 / 90);

test('off: timestamps pass through unchanged', () => {
  const c = new TimestampCorrector('off');
  assert.equal(c.correct(metadata(77)), 77);
  assert.equal(c.correct(keyframe(5000)), 5000);
  assert.equal(c.correct(interframe(100)), 100);
  assert.equal(c.correct(aac(0xffffffff)), 0xffffffff);
});

test('zero: the first A/V message of a publish is 0, others shifted, never negative; reset restarts', () => {
  const c = new TimestampCorrector('zero');
  assert.equal(c.correct(metadata(0)), 0, 'metadata before any A/V takes 0');
  assert.equal(c.correct(videoConfig(5000)), 0);
  assert.equal(c.correct(keyframe(5000)), 0);
  assert.equal(c.correct(aac(4900)), 0, 'clamped at 0');
  assert.equal(c.correct(interframe(5040)), 40);
  assert.equal(c.correct(aac(5023)), 23);
  assert.equal(c.correct(metadata(900)), 0, 'metadata is stamped 0 (SRS; ffmpeg treats non-zero onMetaData as a stream)');
  c.reset();
  assert.equal(c.correct(keyframe(90000)), 0);
  assert.equal(c.correct(interframe(90033)), 33);
});

test('full: starts at 0 and follows input deltas', () => {
  const c = new TimestampCorrector('full');
  assert.equal(c.correct(metadata(0)), 0);
  assert.equal(c.correct(videoConfig(0)), 0);
  assert.equal(c.correct(audioConfig(0)), 0);
  const out = [keyframe(10000), aac(10010), interframe(10040), aac(10033), interframe(10080)].map((m) => c.correct(m));
  assert.deepEqual(out, [0, 10, 40, 33, 80]);
  assert.equal(c.correct(metadata(700)), 0, 'metadata is stamped 0 (SRS)');
});

test('full: interleaved A/V a few hundred ms apart is not a jump', () => {
  const c = new TimestampCorrector('full');
  const out: number[] = [];
  // TS muxers often lead video by ~700 ms: audio inputs are far behind the last video input.
  for (let i = 0; i < 10; i++) {
    out.push(c.correct(keyframe(100_700 + i * 40)));
    out.push(c.correct(aac(100_000 + i * 40)));
  }
  // Audio that starts 700 ms behind the first video frame would be negative: it is clamped at 0, not re-based.
  assert.deepEqual(out.slice(0, 6), [0, 0, 40, 0, 80, 0]);
  assert.equal(out[18], 360, 'video keeps its own deltas');
  // Later, the relation holds (no re-base happened): video out - audio out stays 700 once positive.
  const d = new TimestampCorrector('full');
  d.correct(keyframe(1000));
  d.correct(aac(1000));
  for (let i = 1; i <= 50; i++) d.correct(aac(1000 + i * 23));
  assert.equal(d.correct(interframe(2700)), 1700);
  assert.equal(d.correct(aac(2150)), 1150, 'audio 550 ms behind video stays 550 ms behind');
});

test('full: a 33-bit TS wrap re-bases at maxOutput + DEFAULT_FRAME_TIME_MS and keeps A/V together', () => {
  const c = new TimestampCorrector('full');
  const base = PTS33_WRAP_MS - 1000;
  assert.equal(c.correct(keyframe(base)), 0);
  assert.equal(c.correct(aac(base + 10)), 10);
  assert.equal(c.correct(interframe(base + 960)), 960);
  assert.equal(c.correct(aac(base + 970)), 970);
  // The 90 kHz clock wraps: inputs restart near 0.
  assert.equal(c.correct(keyframe(1)), 970 + DEFAULT_FRAME_TIME_MS);
  // Audio after the wrap is compared with the video that already jumped: same offset, still 10 ms apart.
  assert.equal(c.correct(aac(11)), 990);
  assert.equal(c.correct(interframe(41)), 1020);
});

test('full: a backwards jump on one track re-bases; a forward step at the limit does not', () => {
  const c = new TimestampCorrector('full');
  c.correct(keyframe(50_000));
  assert.equal(c.correct(interframe(50_040)), 40);
  assert.equal(c.correct(interframe(49_000)), 50, 'backwards: lands at last output + 10');
  assert.equal(c.correct(interframe(49_040)), 90);
  assert.equal(c.correct(interframe(49_040 + MAX_JITTER_DELTA_MS)), 90 + MAX_JITTER_DELTA_MS, 'exactly the limit: continuous');
  const before = 90 + MAX_JITTER_DELTA_MS;
  assert.equal(c.correct(interframe(49_040 + 2 * MAX_JITTER_DELTA_MS + 1)), before + DEFAULT_FRAME_TIME_MS, 'above the limit: re-based');
});

test('full: a sequence header stamped 0 mid-stream takes the track time and does not re-base', () => {
  const c = new TimestampCorrector('full');
  c.correct(keyframe(7000));
  c.correct(aac(7000));
  c.correct(interframe(7040));
  c.correct(aac(7023));
  assert.equal(c.correct(videoConfig(0)), 40);
  assert.equal(c.correct(audioConfig(0)), 23);
  assert.equal(c.correct(keyframe(7080)), 80, 'timeline unchanged');
});

test('full: the timeline continues across republish and outputs keep rising', () => {
  const c = new TimestampCorrector('full');
  c.correct(keyframe(0));
  c.correct(interframe(2000));
  const last = c.correct(interframe(2040));
  assert.equal(last, 2040);
  c.reset();
  assert.equal(c.correct(metadata(0)), 0);
  assert.equal(c.correct(videoConfig(0)), last, 'the new sequence header sits at the current time');
  assert.equal(c.correct(keyframe(0)), last + DEFAULT_FRAME_TIME_MS, 'the new publish starts after the old');
  assert.equal(c.correct(aac(0)), last + DEFAULT_FRAME_TIME_MS);
  assert.equal(c.correct(interframe(40)), last + DEFAULT_FRAME_TIME_MS + 40);
});

test('full: outputs never decrease within a track, whatever the input', () => {
  const c = new TimestampCorrector('full');
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let lastV = -1;
  let lastA = -1;
  for (let i = 0; i < 2000; i++) {
    const ts = Math.floor(rand() * 2 ** 32);
    if (rand() < 0.5) {
      const out = c.correct(interframe(ts));
      assert.ok(out >= lastV && out >= 0);
      lastV = out;
    } else {
      const out = c.correct(aac(ts));
      assert.ok(out >= lastA && out >= 0);
      lastA = out;
    }
  }
});

test('full: an audio config found after the video started is stamped where its first frame lands (TS/RTP ingest)', () => {
  const c = new TimestampCorrector('full');
  assert.equal(c.correct(videoConfig(90_000)), 0);
  const video = [keyframe(90_000), interframe(90_040), interframe(90_080), interframe(90_120), interframe(90_160), interframe(90_200), interframe(90_240)];
  assert.deepEqual(video.map((m) => c.correct(m)), [0, 40, 80, 120, 160, 200, 240]);
  // The TS mux interleaves audio late: its config and first frame (DTS 90 010) arrive after the video at 90 240.
  const config = c.correct(audioConfig(90_010));
  const first = c.correct(aac(90_010));
  assert.equal(first, 10);
  assert.ok(config <= first, `the audio track does not step back from its config (${config}) to its first frame (${first})`);
  assert.equal(config, 10);
  // An encoder that stamps a later config 0 mid-stream: it takes the track's last output time (never re-bases).
  assert.equal(c.correct(audioConfig(0)), 10);
  // A first config on a timeline far behind: clamped at 0, never negative; far ahead: never after the stream's time.
  const d = new TimestampCorrector('full');
  d.correct(keyframe(50_000));
  d.correct(interframe(50_040));
  assert.equal(d.correct(audioConfig(0)), 0);
  const e = new TimestampCorrector('full');
  e.correct(keyframe(50_000));
  e.correct(interframe(50_040));
  assert.equal(e.correct(audioConfig(51_000)), 40);
});
