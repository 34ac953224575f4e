/**
 * HlsLivePlaylist (core/output/hls/hls-live.ts): the in-memory LL-HLS playlist. Blocking reload answers when the
 * awaited part or segment exists, 400 too far ahead (segments and the Advance Part Limit), 503 after three target
 * durations; `_HLS_skip` gets the Playlist Delta Update when CAN-SKIP-UNTIL is advertised; the preload-hinted part
 * is held until it exists and is 404 when its segment ends without it; parts are listed for the last segments
 * only; every text validates with hls-parser in strict mode.
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

/** Segments 0..count-1 complete, all kept (a window longer than six target durations), segment `count` open. */
function longWindow(count: number): HlsLivePlaylist {
  const p = live();
  p.openSegment(start(0));
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < 5; i++) p.addPart(Buffer.from(`${s}.${i}`), 200, i === 0);
    p.closeSegment(1000, 0, 0, start(s + 1));
  }
  p.addPart(Buffer.from(`${count}.0`), 200, true);
  return p;
}

/** Parses a playlist answer in strict mode. */
function parsed(a: HlsLiveAnswer | undefined): HLS.types.MediaPlaylist {
  const pl = HLS.parse(bodyOf(a));
  assert.ok(pl instanceof HLS.types.MediaPlaylist);
  return pl;
}

test('_HLS_skip=YES / v2: the Playlist Delta Update skips what is older than CAN-SKIP-UNTIL (6 × target) from the end', async () => {
  const p = longWindow(10); // TARGETDURATION 1: Skip Boundary 6 s; segments 0..9 complete
  assert.match(p.text, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6\.000,PART-HOLD-BACK=0\.600\n/);
  const full = parsed(await answer(p.request(PLAYLIST, PLAYLIST, q(''))));
  for (const skip of ['YES', 'v2']) {
    const a = await answer(p.request(PLAYLIST, PLAYLIST, q(`_HLS_skip=${skip}`)));
    const text = bodyOf(a);
    assert.match(text, /#EXT-X-MEDIA-SEQUENCE:0\n/, 'EXT-X-MEDIA-SEQUENCE unchanged');
    assert.match(text, /#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXT-X-MAP:URI="s\/init\.mp4"\n/, '0..3 end ≥ 6 s before the end of 9; the map again');
    const delta = parsed(a);
    assert.equal(delta.skip, 4);
    assert.equal(delta.segments.length + delta.skip, full.segments.length);
    assert.deepEqual(delta.segments.map((s) => [s.uri, s.mediaSequenceNumber, s.duration]), full.segments.slice(4).map((s) => [s.uri, s.mediaSequenceNumber, s.duration]));
  }
  assert.equal(bodyOf(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_skip=NO')))), p.text, 'other values: the full playlist');
  // blocking and delta together: the delta is made when the part arrives
  const held = p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=10&_HLS_part=1&_HLS_skip=YES'));
  assert.ok(held instanceof Promise);
  p.addPart(Buffer.from('10.1'), 200, false);
  const got = await held;
  assert.ok(got.status === 200 && got.maxAgeS === 1, 'a blocking answer may be cached one target duration');
  assert.match(String(got.body), /#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n[^]*URI="s-10\.1\.m4s"/);
  // ended: EXT-X-ENDLIST, no CAN-SKIP-UNTIL, _HLS_skip ignored
  p.closeSegment(400, 0, 0, 'end');
  assert.doesNotMatch(p.text, /CAN-SKIP-UNTIL/);
  assert.equal(bodyOf(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_skip=YES')))), p.text);
});

test('a window shorter than the Skip Boundary advertises no CAN-SKIP-UNTIL and ignores _HLS_skip', async () => {
  const p = longWindow(6); // 6 s of complete segments: none ends 6 s before the end of the last
  assert.doesNotMatch(p.text, /CAN-SKIP-UNTIL/);
  assert.equal(bodyOf(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_skip=YES')))), p.text);
  p.addPart(Buffer.from('6.1'), 200, false);
  for (let i = 2; i < 5; i++) p.addPart(Buffer.from(`6.${i}`), 200, false);
  p.closeSegment(1000, 0, 0, start(7)); // now 7 s: segment 0 can go
  assert.match(p.text, /CAN-SKIP-UNTIL=6\.000/);
  assert.match(bodyOf(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_skip=YES')))), /#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n/);
});

test('RFC 8216bis 6.2.5.2: 400 for _HLS_part alone, _HLS_msn past the last segment + 2, _HLS_part past the Advance Part Limit; a part past the last of its segment is part 0 of the next', async () => {
  const p = longWindow(3); // 0..2 complete (5 parts each), 3 open with part 0
  assert.deepEqual(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_part=0'))), { status: 400 });
  assert.deepEqual(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=5'))), { status: 400 }, 'last complete 2, + 2 = 4');
  const next = p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=4'));
  assert.ok(next instanceof Promise, 'the segment after the open one: held');
  // PART-TARGET 0.2 s: Advance Part Limit 15 parts past part 3.0
  assert.deepEqual(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=3&_HLS_part=16'))), { status: 400 });
  const far = p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=3&_HLS_part=15'));
  assert.ok(far instanceof Promise);
  assert.deepEqual(await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=4&_HLS_part=15'))), { status: 400 });
  // segment 2 has parts 0..4: part 5 of it is part 0 of 3 (exists), part 5 of 3 waits for 4.0
  assert.equal((await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=2&_HLS_part=5'))))?.status, 200);
  let rolled = false;
  const roll = Promise.resolve(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=3&_HLS_part=5'))).then((a) => { rolled = true; return a; });
  for (let i = 1; i < 5; i++) p.addPart(Buffer.from(`3.${i}`), 200, false);
  p.closeSegment(1000, 0, 0, start(4));
  await new Promise((ok) => setImmediate(ok));
  assert.equal(rolled, false, '3 complete with parts 0..4: part 5 is 4.0, not there yet');
  p.addPart(Buffer.from('4.0'), 200, true);
  assert.equal((await roll)?.status, 200);
  let nextDone = false;
  void next.then(() => { nextDone = true; });
  await new Promise((ok) => setImmediate(ok));
  assert.equal(nextDone, false, '_HLS_msn=4 alone waits for segment 4 complete');
  p.closeSegment(0, 0, 0, 'end');
  assert.equal((await next).status, 200, 'the end answers the waiters');
  assert.equal((await far).status, 200);
});

test('a blocking request that nothing answers within three target durations is 503', { timeout: 10_000 }, async () => {
  const p = longWindow(1);
  const t0 = Date.now();
  const alive = setTimeout(() => undefined, 5000); // the wait's own timer does not keep the process alive
  const a = await answer(p.request(PLAYLIST, PLAYLIST, q('_HLS_msn=2')));
  clearTimeout(alive);
  assert.deepEqual(a, { status: 503 });
  const waited = Date.now() - t0;
  assert.ok(waited >= 2900 && waited < 4500, `waited ${waited} ms (3 × 1 s)`);
});
