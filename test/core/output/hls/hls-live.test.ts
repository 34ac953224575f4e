/**
 * HlsLivePlaylist (core/output/hls/hls-live.ts): the in-memory LL-HLS playlist. Blocking reload answers when the
 * awaited part or segment exists, 400 too far ahead; the preload-hinted part is held until it exists and is 404
 * when its segment ends without it; parts are listed for the last segments only; every text validates with
 * hls-parser in strict mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import HLS from 'hls-parser';
import { HlsLivePlaylist, type HlsLiveAnswer, type HlsLiveSegmentStart } from '../../../../core/output/hls/hls-live.ts';
import { hlsPartUri } from '../../../../core/output/hls/hls-muxer.ts';

HLS.setOptions({ strictMode: true });

const PLAYLIST = 's.m3u8';
const start = (sequence: number): HlsLiveSegmentStart => ({
  sequence, uri: `s-${sequence}.m4s`, discontinuity: false, mapUri: 's/init.mp4', programDateTimeMs: Date.UTC(2026, 0, 1, 0, 0, sequence),
});

function live(): HlsLivePlaylist {
  const p = new HlsLivePlaylist({ partTargetMs: 200, targetDurationFloorMs: 1000, entryPrefix: '', partUri: hlsPartUri });
  p.setInit('s/init.mp4', Buffer.from('init'));
  return p;
}

/** A segment of five 200 ms parts, then the next one opens. */
function fillSegment(p: HlsLivePlaylist, sequence: number): void {
  for (let i = 0; i < 5; i++) p.addPart(Buffer.from(`${sequence}.${i}`), 200, i === 0);
  p.closeSegment(1000, Math.max(0, sequence - 5), 0, start(sequence + 1));
}

async function answer(a: HlsLiveAnswer | Promise<HlsLiveAnswer> | undefined): Promise<HlsLiveAnswer | undefined> {
  return a;
}

const q = (s: string): URLSearchParams => new URLSearchParams(s);

/** The body of a 200 answer ('' for any other). */
const bodyOf = (a: HlsLiveAnswer | undefined): string => (a !== undefined && a.status === 200 ? String(a.body) : '');

test('nothing yet → 404; then every playlist text validates: parts only for the last segments, a preload hint', () => {
  const p = live();
  assert.deepEqual(p.request(PLAYLIST, PLAYLIST, q('')), { status: 404 });
  p.openSegment(start(0));
  for (let s = 0; s < 8; s++) {
    fillSegment(p, s);
    const parsed = HLS.parse(p.text);
    assert.ok(parsed instanceof HLS.types.MediaPlaylist);
    assert.ok(parsed.segments.slice(0, -3).every((x) => x.parts.length === 0), 'parts only near the live edge');
  }
  assert.match(p.text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-8\.0\.m4s"\n$/);
  assert.match(p.text, /#EXT-X-MEDIA-SEQUENCE:2\n/, 'the window keeps 2..7');
  assert.deepEqual(p.request('s-1.m4s', PLAYLIST, q('')), undefined, 'gone with the window');
  const seg = p.request('s-7.m4s', PLAYLIST, q(''));
  assert.ok(seg !== undefined && !(seg instanceof Promise) && seg.status === 200);
  assert.equal(String(seg.body), '7.07.17.27.37.4', 'a segment is its parts');
});

test('blocking reload: _HLS_msn/_HLS_part held until the part exists; _HLS_msn alone until the segment is complete; 400 beyond +2', async () => {
  const p = live();
  p.openSegment(start(0));
  p.addPart(Buffer.from('0.0'), 200, true);
  const now = await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=0&_HLS_part=0')));
  assert.equal(now?.status, 200, 'part 0.0 exists: at once');
  let partDone = false;
  const part = Promise.resolve(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=0&_HLS_part=1'))).then((a) => { partDone = true; return a; });
  let segDone = false;
  const seg = Promise.resolve(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=0'))).then((a) => { segDone = true; return a; });
  await new Promise((ok) => setImmediate(ok));
  assert.equal(partDone, false, 'held');
  p.addPart(Buffer.from('0.1'), 200, false);
  const a = await part;
  assert.ok(bodyOf(a).includes('URI="s-0.1.m4s"'), 'answered with the part listed');
  assert.equal(segDone, false, 'the segment is not complete yet');
  for (let i = 2; i < 5; i++) p.addPart(Buffer.from(`0.${i}`), 200, false);
  p.closeSegment(1000, 0, 0, start(1));
  const b = await seg;
  assert.ok(bodyOf(b).includes('#EXTINF:1.000,\ns-0.m4s'));
  assert.deepEqual(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=4'))), { status: 400 });
  assert.deepEqual(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=x'))), { status: 400 });
});

test('the hinted part is held until it exists, 404 when its segment closes without it; the stream end answers waiters', async () => {
  const p = live();
  p.openSegment(start(0));
  p.addPart(Buffer.from('0.0'), 200, true);
  const hinted = p.request('s-0.1.m4s', PLAYLIST, q(''));
  assert.ok(hinted instanceof Promise);
  p.addPart(Buffer.from('0.1'), 200, false);
  const got = await hinted;
  assert.ok(got.status === 200 && String(got.body) === '0.1');
  const never = p.request('s-0.2.m4s', PLAYLIST, q(''));
  assert.ok(never instanceof Promise);
  p.closeSegment(400, 0, 0, start(1)); // ended after two parts
  assert.deepEqual(await never, { status: 404 });
  const waiting = p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=2'));
  assert.ok(waiting instanceof Promise);
  p.closeSegment(0, 0, 0, 'end');
  const last = await waiting;
  assert.ok(last.status === 200 && String(last.body).endsWith('#EXT-X-ENDLIST\n'));
  assert.ok(HLS.parse(p.text) instanceof HLS.types.MediaPlaylist);
});
