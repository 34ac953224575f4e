import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as HLS from 'hls-parser';
import { isGatewayError } from '../../../../core/errors.ts';
import {
  applyEntryPrefix,
  targetDurationSeconds,
  writeMediaPlaylist,
  type MediaPlaylist,
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
