import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as HLS from 'hls-parser';
import { isGatewayError } from '../../../../core/errors.ts';
import {
  applyEntryPrefix,
  skippableSegments,
  targetDurationSeconds,
  writeMediaPlaylist,
  type MediaPlaylist,
  type PlaylistSegment,
} from '../../../../core/output/hls/m3u8.ts';

HLS.setOptions({ strictMode: true });

/** Parses with hls-parser in strict mode (throws on any RFC 8216 violation it checks). */
function parseMedia(text: string): HLS.types.MediaPlaylist {
  const p = HLS.parse(text);
  assert.ok(p instanceof HLS.types.MediaPlaylist, 'a media playlist');
  return p;
}

test('a live playlist: header tags, EXTINF with 3 decimals, TARGETDURATION = ceil(longest)', () => {
  const text = writeMediaPlaylist({
    mediaSequence: 7,
    segments: [
      { uri: 'livestream-7.ts', durationMs: 10_010, discontinuity: false },
      { uri: 'livestream-8.ts', durationMs: 9_600.4, discontinuity: false },
      { uri: 'livestream-9.ts', durationMs: 10_500, discontinuity: false },
    ],
  });
  assert.equal(
    text,
    [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-MEDIA-SEQUENCE:7',
      '#EXT-X-TARGETDURATION:11',
      '#EXTINF:10.010,',
      'livestream-7.ts',
      '#EXTINF:9.600,',
      'livestream-8.ts',
      '#EXTINF:10.500,',
      'livestream-9.ts',
      '',
    ].join('\n'),
  );
  const p = parseMedia(text);
  assert.equal(p.version, 3);
  assert.equal(p.mediaSequenceBase, 7);
  assert.equal(p.targetDuration, 11);
  assert.equal(p.endlist, false);
  assert.deepEqual(p.segments.map((s) => [s.uri, s.duration, s.mediaSequenceNumber]), [
    ['livestream-7.ts', 10.01, 7],
    ['livestream-8.ts', 9.6, 8],
    ['livestream-9.ts', 10.5, 9],
  ]);
});

test('discontinuity, discontinuity sequence, entry prefix, endlist and the td_ratio floor', () => {
  const text = writeMediaPlaylist({
    mediaSequence: 3,
    discontinuitySequence: 2,
    targetDurationFloorMs: 15_000,
    entryPrefix: 'http://cdn.example.com/hls',
    endList: true,
    segments: [
      { uri: 'live/a-3.ts', durationMs: 4_000, discontinuity: false },
      { uri: 'live/a-4.ts', durationMs: 3_000, discontinuity: true },
      { uri: 'https://other.example.com/x.ts', durationMs: 1_000, discontinuity: false },
    ],
  });
  assert.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-TARGETDURATION:15\n/);
  assert.match(text, /#EXT-X-DISCONTINUITY\n#EXTINF:3\.000,\nhttp:\/\/cdn\.example\.com\/hls\/live\/a-4\.ts\n/);
  assert.ok(text.endsWith('#EXT-X-ENDLIST\n'));
  const p = parseMedia(text);
  assert.equal(p.discontinuitySequenceBase, 2);
  assert.equal(p.endlist, true);
  assert.deepEqual(p.segments.map((s) => s.discontinuity === true), [false, true, false]);
  assert.deepEqual(p.segments.map((s) => s.discontinuitySequence), [2, 3, 3]);
  assert.equal(p.segments[2]?.uri, 'https://other.example.com/x.ts');
});

test('an empty live playlist is valid (TARGETDURATION at least 1)', () => {
  const text = writeMediaPlaylist({ mediaSequence: 0, segments: [] });
  assert.equal(text, '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:1\n');
  assert.equal(parseMedia(text).segments.length, 0);
});

test('applyEntryPrefix adds one slash, keeps absolute URIs', () => {
  assert.equal(applyEntryPrefix('', 'a/b.ts'), 'a/b.ts');
  assert.equal(applyEntryPrefix('http://h/p', 'a/b.ts'), 'http://h/p/a/b.ts');
  assert.equal(applyEntryPrefix('http://h/p/', 'a/b.ts'), 'http://h/p/a/b.ts');
  assert.equal(applyEntryPrefix('http://h/p/', '/a/b.ts'), '/a/b.ts');
  assert.equal(applyEntryPrefix('http://h/p/', 'https://x/b.ts'), 'https://x/b.ts');
});

test('targetDurationSeconds rounds ms before ceil: 10000.4 ms is 10.000 s, target 10', () => {
  assert.equal(targetDurationSeconds([{ uri: 'a', durationMs: 10_000.4, discontinuity: false }]), 10);
  assert.equal(targetDurationSeconds([{ uri: 'a', durationMs: 10_000.6, discontinuity: false }]), 11);
  assert.equal(targetDurationSeconds([], 10_000), 10);
});

test('invalid input throws GatewayError', () => {
  const bad: MediaPlaylist[] = [
    { mediaSequence: -1, segments: [] },
    { mediaSequence: 1.5, segments: [] },
    { mediaSequence: 0, discontinuitySequence: -2, segments: [] },
    { mediaSequence: 0, segments: [{ uri: 'a.ts', durationMs: -1, discontinuity: false }] },
    { mediaSequence: 0, segments: [{ uri: 'a.ts', durationMs: Number.NaN, discontinuity: false }] },
    { mediaSequence: 0, segments: [{ uri: 'a.ts\n#EXT-X-ENDLIST', durationMs: 1, discontinuity: false }] },
    { mediaSequence: 0, segments: [{ uri: '', durationMs: 1, discontinuity: false }] },
  ];
  for (const p of bad) assert.throws(() => writeMediaPlaylist(p), (e) => isGatewayError(e), JSON.stringify(p));
});

test('property: any window validates in strict hls-parser, TARGETDURATION ≥ every rounded EXTINF, sequences contiguous', () => {
  const segment = fc.record({
    uri: fc.stringMatching(/^[a-z0-9_-]{1,12}\.ts$/),
    durationMs: fc.integer({ min: 0, max: 60_000 }),
    discontinuity: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.array(segment, { maxLength: 20 }),
      fc.integer({ min: 0, max: 30_000 }),
      (mediaSequence, segments, floorMs) => {
        const text = writeMediaPlaylist({ mediaSequence, segments, targetDurationFloorMs: floorMs });
        const p = parseMedia(text);
        assert.equal(p.segments.length, segments.length);
        for (const [i, s] of p.segments.entries()) {
          assert.ok(Math.round(s.duration) <= p.targetDuration);
          assert.equal(s.mediaSequenceNumber, mediaSequence + i);
          assert.equal(s.duration, Number(((segments[i]?.durationMs ?? 0) / 1000).toFixed(3)));
        }
        assert.ok(p.targetDuration >= Math.ceil(floorMs / 1000));
      },
    ),
    { numRuns: 300 },
  );
});

test('skippableSegments: a segment is skipped when the segments after it last at least the Skip Boundary', () => {
  const two = (n: number): { durationMs: number }[] => Array.from({ length: n }, () => ({ durationMs: 2000 }));
  assert.equal(skippableSegments(two(6), 6000), 3, 'after segment 2: 3 × 2 s = 6 s');
  assert.equal(skippableSegments(two(6), 6001), 2);
  assert.equal(skippableSegments(two(6), 12_000), 0, 'the whole window is 12 s: nothing is older than 12 s from its end');
  assert.equal(skippableSegments(two(7), 12_000), 1);
  assert.equal(skippableSegments([], 6000), 0);
  assert.equal(skippableSegments([{ durationMs: 999.6 }, { durationMs: 999.6 }], 1000), 1, 'ms rounded as EXTINF writes them');
});

/** A fMP4 LL-HLS window: 8 segments of 1 s, the init segment changes at 3, a discontinuity at 5, parts on the last two. */
function llWindow(skippedSegments: number): MediaPlaylist {
  const segments: PlaylistSegment[] = Array.from({ length: 8 }, (_, i) => ({
    uri: `s-${20 + i}.m4s`,
    durationMs: 1000,
    discontinuity: i === 5,
    mapUri: i < 3 ? 's/init-a.mp4' : 's/init-b.mp4',
    programDateTimeMs: Date.UTC(2026, 0, 1, 0, 0, i),
    ...(i >= 6 ? { parts: [0, 1, 2, 3, 4].map((k) => ({ uri: `s-${20 + i}.${k}.m4s`, durationMs: 200, independent: k === 0 })) } : {}),
  }));
  return {
    mediaSequence: 20,
    discontinuitySequence: 4,
    segments,
    skippedSegments,
    lowLatency: {
      partTargetMs: 200,
      partHoldBackMs: 600,
      canSkipUntilMs: 6000,
      open: { discontinuity: false, mapUri: 's/init-b.mp4', programDateTimeMs: Date.UTC(2026, 0, 1, 0, 0, 8), parts: [{ uri: 's-28.0.m4s', durationMs: 200, independent: true }] },
      preloadHintUri: 's-28.1.m4s',
    },
  };
}

test('Playlist Delta Update: EXT-X-SKIP replaces the oldest segments; sequences unchanged, the map repeated, it parses to the same tail', () => {
  const full = writeMediaPlaylist(llWindow(0));
  assert.match(full, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6\.000,PART-HOLD-BACK=0\.600\n/);
  assert.doesNotMatch(full, /EXT-X-SKIP:/);
  assert.match(full, /#EXT-X-VERSION:6\n/);
  const skipped = skippableSegments(llWindow(0).segments, 6000);
  assert.equal(skipped, 2, 'segments 22..27 last 6 s');
  for (const n of [skipped, 4]) { // 4: past the map change, the map in effect is written again
    const delta = writeMediaPlaylist(llWindow(n));
    assert.match(delta, /#EXT-X-VERSION:9\n/, 'EXT-X-SKIP needs version 9');
    assert.match(delta, /#EXT-X-MEDIA-SEQUENCE:20\n#EXT-X-DISCONTINUITY-SEQUENCE:4\n/, 'sequences of the full playlist');
    assert.equal(delta.match(/#EXT-X-SKIP:/g)?.length, 1);
    assert.match(delta, new RegExp(`#EXT-X-PART-INF:PART-TARGET=0\\.200\n#EXT-X-SKIP:SKIPPED-SEGMENTS=${n}\n#EXT-X-MAP:URI="s/init-${n < 3 ? 'a' : 'b'}\\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:1\\.000,\ns-${20 + n}\\.m4s\n`));
    for (let i = 0; i < n; i++) assert.ok(!delta.includes(`s-${20 + i}.m4s`), `segment ${20 + i} skipped`);
    const f = parseMedia(full);
    const d = parseMedia(delta);
    assert.equal(d.skip, n);
    assert.equal(d.lowLatencyCompatibility?.canSkipUntil, 6);
    assert.equal(d.segments.length + n, f.segments.length, 'kept + skipped = the full list');
    for (const [i, s] of d.segments.entries()) {
      const g = f.segments[i + n];
      assert.equal(s.uri, g?.uri);
      assert.equal(s.mediaSequenceNumber, g?.mediaSequenceNumber);
      assert.equal(s.duration, g?.duration);
      assert.equal(s.map?.uri, g?.map?.uri, `map of ${s.uri}`);
      assert.equal(s.discontinuity, g?.discontinuity);
      assert.deepEqual(s.parts.map((x) => x.uri), g?.parts.map((x) => x.uri));
    }
    assert.equal(d.prefetchSegments.length + d.segments.length, f.prefetchSegments.length + f.segments.length - n);
    assert.ok(delta.endsWith('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-28.1.m4s"\n'));
  }
  for (const bad of [-1, 9, 1.5]) {
    assert.throws(() => writeMediaPlaylist(llWindow(bad)), (e) => isGatewayError(e), `SKIPPED-SEGMENTS ${bad}`);
  }
});
