import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FrameKind } from '../../../../core/media/message.ts';
import { HlsSegmenter, type HlsSegmentInfo, type HlsSegmenterOptions } from '../../../../core/output/hls/hls-segmenter.ts';

type Msg = readonly [timestampMs: number, kind: FrameKind];

const DEFAULTS: HlsSegmenterOptions = { fragmentMs: 10_000, aofRatio: 2.1, windowMs: 60_000, waitKeyframe: true };

/** A live source: video at `fps` with a keyframe every `gopMs`, AAC 44.1 kHz frames, RTMP ms timestamps. */
function source(opts: { durationMs: number; fps?: number; gopMs?: number; audio?: boolean; video?: boolean; startMs?: number }): Msg[] {
  const { durationMs, fps = 30, gopMs = 1000, audio = true, video = true, startMs = 0 } = opts;
  const out: Msg[] = [[startMs, 'metadata']];
  if (video) {
    out.push([startMs, 'video-config']);
    const frames = Math.floor((durationMs * fps) / 1000);
    const perGop = Math.round((gopMs * fps) / 1000);
    for (let i = 0; i < frames; i++) out.push([startMs + Math.round((i * 1000) / fps), i % perGop === 0 ? 'keyframe' : 'interframe']);
  }
  if (audio) {
    out.push([startMs, 'audio-config']);
    const frames = Math.floor((durationMs * 44_100) / 1024 / 1000);
    for (let i = 0; i < frames; i++) out.push([startMs + Math.round((i * 1024 * 1000) / 44_100), 'audio']);
  }
  return out.sort((a, b) => a[0] - b[0]); // stable: config first at equal times
}

interface Run {
  readonly closed: HlsSegmentInfo[];
  readonly expired: HlsSegmentInfo[];
  readonly cuts: Msg[];
  readonly seg: HlsSegmenter;
}
function run(messages: readonly Msg[], options: Partial<HlsSegmenterOptions> = {}, seg = new HlsSegmenter({ ...DEFAULTS, ...options })): Run {
  const closed: HlsSegmentInfo[] = [];
  const expired: HlsSegmentInfo[] = [];
  const cuts: Msg[] = [];
  for (const m of messages) {
    const step = seg.push(m[0], m[1]);
    if (step.cut) cuts.push(m);
    if (step.closed !== undefined) closed.push(step.closed);
    expired.push(...step.expired);
  }
  return { closed, expired, cuts, seg };
}

test('1 s GOP source: every segment is hls_fragment ± 0.5 s and starts at a keyframe (table)', () => {
  const table = [
    { fragmentMs: 10_000, fps: 30, startMs: 0 },
    { fragmentMs: 10_000, fps: 25, startMs: 123_456 },
    { fragmentMs: 2_000, fps: 30, startMs: 7 },
    { fragmentMs: 5_000, fps: 29.97, startMs: 0 },
    { fragmentMs: 3_500, fps: 24, startMs: 0 },
  ];
  for (const row of table) {
    const r = run(source({ durationMs: 120_000, fps: row.fps, startMs: row.startMs }), { fragmentMs: row.fragmentMs, windowMs: 1e9 });
    assert.ok(r.closed.length >= Math.floor(120_000 / (Math.ceil(row.fragmentMs / 1000) * 1000)) - 1, JSON.stringify(row));
    for (const s of r.closed) assert.ok(Math.abs(s.durationMs - row.fragmentMs) <= 500, `${JSON.stringify(row)}: ${s.durationMs}`);
    assert.deepEqual(r.cuts.slice(1).map((m) => m[1]), r.cuts.slice(1).map(() => 'keyframe'));
    assert.equal(r.cuts[0]?.[0], row.startMs);
    // durations add up: each segment ends where the next starts
    for (let i = 1; i < r.closed.length; i++) {
      const prev = r.closed[i - 1] as HlsSegmentInfo;
      assert.equal(prev.startTimestampMs + prev.durationMs, r.closed[i]?.startTimestampMs);
    }
    assert.deepEqual(r.closed.map((s) => s.sequence), r.closed.map((_, i) => i));
    assert.ok(r.closed.every((s) => !s.discontinuity));
  }
});

test('long GOP: video waits for the keyframe; audio forces a cut at fragment × aof_ratio', () => {
  const r = run(source({ durationMs: 60_000, gopMs: 8_000 }), { windowMs: 1e9 });
  assert.deepEqual(r.closed.map((s) => s.durationMs), [16_000, 16_000, 16_000]);
  const huge = run(source({ durationMs: 100_000, gopMs: 50_000 }), { windowMs: 1e9 });
  assert.ok(huge.closed[0] !== undefined && huge.closed[0].durationMs >= 21_000 && huge.closed[0].durationMs < 21_050);
  const videoOnly = run(source({ durationMs: 100_000, gopMs: 50_000, audio: false }), { windowMs: 1e9 });
  assert.deepEqual(videoOnly.closed.map((s) => s.durationMs), [50_000]);
});

test('hls_wait_keyframe off: cut at the first video message past the fragment', () => {
  const r = run(source({ durationMs: 40_000, gopMs: 4_000, audio: false }), { waitKeyframe: false, windowMs: 1e9 });
  assert.deepEqual(r.closed.map((s) => s.durationMs), [10_000, 10_000, 10_000]);
  assert.ok(r.cuts.slice(1).some((m) => m[1] === 'interframe'));
});

test('audio-only: cut at hls_fragment × hls_aof_ratio', () => {
  const r = run(source({ durationMs: 120_000, video: false }), { windowMs: 1e9 });
  assert.equal(r.closed.length, 5);
  for (const s of r.closed) assert.ok(s.durationMs >= 21_000 && s.durationMs <= 21_024, String(s.durationMs));
  const short = run(source({ durationMs: 30_000, video: false }), { fragmentMs: 2_000, aofRatio: 1, windowMs: 1e9 });
  for (const s of short.closed) assert.ok(Math.abs(s.durationMs - 2_000) <= 24, String(s.durationMs));
});

test('republish: a timestamp going back, or jumping > 10 s, cuts and flags the next segment discontinuous', () => {
  const first = source({ durationMs: 25_000 });
  const again = source({ durationMs: 25_000 }); // restarts at 0
  const r = run([...first, ...again], { windowMs: 1e9 });
  assert.deepEqual(r.closed.map((s) => s.discontinuity), [false, false, false, true, false]);
  const cutBack = r.closed[2] as HlsSegmentInfo; // 20 s .. end of the first publish
  assert.equal(cutBack.startTimestampMs, 20_000);
  assert.ok(Math.abs(cutBack.durationMs - 5_000) <= 50, String(cutBack.durationMs));
  assert.equal(r.closed[3]?.startTimestampMs, 0);

  const jump = run([...source({ durationMs: 5_000 }), ...source({ durationMs: 15_000, startMs: 60_000 })], { windowMs: 1e9 });
  assert.deepEqual(jump.closed.map((s) => [s.startTimestampMs, s.discontinuity]), [[0, false], [60_000, true]]);
  // a 5 s gap is not a republish
  const gap = run([...source({ durationMs: 5_000 }), ...source({ durationMs: 15_000, startMs: 10_000 })], { windowMs: 1e9 });
  assert.ok(gap.closed.every((s) => !s.discontinuity));
  // audio and video interleave slightly out of order across tracks: no discontinuity
  const skew = run(
    source({ durationMs: 30_000 }).map(([t, k]) => [k === 'audio' ? t + 150 : t, k] as const).sort((a, b) => a[0] - b[0]),
    { windowMs: 1e9 },
  );
  assert.ok(skew.closed.every((s) => !s.discontinuity));
});

test('markDiscontinuity and close(): unpublish then republish with continuous timestamps', () => {
  const seg = new HlsSegmenter({ ...DEFAULTS, windowMs: 1e9 });
  run(source({ durationMs: 15_000 }), {}, seg);
  const end = seg.close();
  assert.equal(end.closed?.startTimestampMs, 10_000);
  assert.ok(end.closed !== undefined && Math.abs(end.closed.durationMs - 5_000) <= 40);
  assert.equal(seg.open, undefined);
  assert.deepEqual(seg.close(), { closed: undefined, expired: [] });
  seg.markDiscontinuity();
  const r = run(source({ durationMs: 15_000, startMs: 15_000 }), {}, seg);
  assert.deepEqual(r.closed.map((s) => [s.sequence, s.discontinuity]), [[2, true]]);
  assert.deepEqual(seg.window.map((s) => s.sequence), [0, 1, 2]);
  // a fresh segmenter never flags its first segment
  const fresh = new HlsSegmenter({ ...DEFAULTS, firstSequence: 100 });
  fresh.markDiscontinuity();
  assert.equal(fresh.push(0, 'keyframe').cut, true);
  assert.deepEqual(fresh.open, { sequence: 100, startTimestampMs: 0, discontinuity: false });
  assert.equal(fresh.push(0, 'metadata').cut, false);
});

test('window: keeps segments until their sum exceeds hls_window (SRS shrink), returns the expired ones', () => {
  const r = run(source({ durationMs: 200_000 }), { windowMs: 60_000 });
  assert.equal(r.closed.length, 19);
  // SRS keeps the segment that crosses the window: 7 × 10 s > 60 s
  assert.deepEqual(r.seg.window.map((s) => s.sequence), [12, 13, 14, 15, 16, 17, 18]);
  assert.deepEqual(r.expired.map((s) => s.sequence), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(r.seg.mediaSequence, 12);
  assert.equal(r.seg.windowDurationMs, 70_000);
  assert.equal(r.seg.open?.sequence, 19);
});

test('discontinuity sequence grows as discontinuous segments leave the window', () => {
  const seg = new HlsSegmenter({ ...DEFAULTS, windowMs: 20_000 });
  run([...source({ durationMs: 25_000 }), ...source({ durationMs: 45_000 })], {}, seg);
  assert.equal(seg.discontinuitySequence, 1);
  assert.ok(seg.window.every((s) => !s.discontinuity));
  assert.equal(new HlsSegmenter(DEFAULTS).mediaSequence, 0);
});

test('property: sequences are contiguous, every message is in exactly one segment, window stays bounded', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: -3_000, max: 12_000 }), fc.constantFrom<FrameKind>('audio', 'keyframe', 'interframe', 'metadata')), {
        maxLength: 400,
      }),
      fc.integer({ min: 500, max: 10_000 }),
      fc.boolean(),
      (steps, fragmentMs, waitKeyframe) => {
        let t = 0;
        const msgs: Msg[] = steps.map(([d, k]) => [(t = Math.max(0, t + (d > 0 ? d % 700 : d === -3_000 ? -t : 0))), k]);
        const r = run(msgs, { fragmentMs, waitKeyframe, windowMs: 30_000 });
        const all = [...r.expired, ...r.seg.window];
        assert.deepEqual(all.map((s) => s.sequence), all.map((_, i) => i));
        for (const s of all) assert.ok(s.durationMs >= 0 && Number.isFinite(s.durationMs));
        assert.equal(r.cuts.length, all.length + (r.seg.open === undefined ? 0 : 1));
        const w = r.seg.window;
        if (w.length > 1) assert.ok(r.seg.windowDurationMs - (w[0] as HlsSegmentInfo).durationMs <= 30_000);
      },
    ),
    { numRuns: 300 },
  );
});

test('segmenter window → playlist validates in strict hls-parser across a republish', async () => {
  const HLS = await import('hls-parser');
  const { writeMediaPlaylist } = await import('../../../../core/output/hls/m3u8.ts');
  const { expandHlsPath, segmentUri } = await import('../../../../core/output/hls/hls-path.ts');
  HLS.setOptions({ strictMode: true });
  const seg = new HlsSegmenter({ ...DEFAULTS, fragmentMs: 2_000, windowMs: 10_000 });
  run([...source({ durationMs: 13_000 }), ...source({ durationMs: 13_000 }), ...source({ durationMs: 7_000 })], {}, seg);
  const vars = { vhost: '__defaultVhost__', app: 'live', stream: 's' };
  const m3u8 = expandHlsPath('[app]/[stream].m3u8', vars);
  const text = writeMediaPlaylist({
    mediaSequence: seg.mediaSequence,
    discontinuitySequence: seg.discontinuitySequence,
    targetDurationFloorMs: 2_000,
    segments: seg.window.map((s) => ({
      uri: segmentUri(m3u8, expandHlsPath('[app]/[stream]-[seq].ts', { ...vars, sequence: s.sequence })),
      durationMs: s.durationMs,
      discontinuity: s.discontinuity,
    })),
  });
  const p = HLS.parse(text) as InstanceType<typeof HLS.types.MediaPlaylist>;
  assert.equal(p.mediaSequenceBase, seg.mediaSequence);
  assert.equal(p.discontinuitySequenceBase, 1);
  assert.deepEqual(p.segments.map((s) => s.uri), seg.window.map((s) => `s-${s.sequence}.ts`));
  assert.ok(p.segments.some((s) => s.discontinuity === true));
  for (const s of p.segments) assert.ok(Math.round(s.duration) <= p.targetDuration);
});
