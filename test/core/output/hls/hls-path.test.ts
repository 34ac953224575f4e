import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { isGatewayError } from '../../../../core/errors.ts';
import { expandHlsPath, resolveHlsFile, segmentUri } from '../../../../core/output/hls/hls-path.ts';

const vars = { vhost: '__defaultVhost__', app: 'live', stream: 'livestream' };
// 2026-03-04T05:06:07.089Z
const T = Date.UTC(2026, 2, 4, 5, 6, 7, 89);

test('SRS defaults: [app]/[stream].m3u8 and [app]/[stream]-[seq].ts', () => {
  assert.equal(expandHlsPath('[app]/[stream].m3u8', vars), 'live/livestream.m3u8');
  assert.equal(expandHlsPath('[app]/[stream]-[seq].ts', { ...vars, sequence: 42 }), 'live/livestream-42.ts');
  assert.equal(expandHlsPath('[vhost]/[app]/[stream].m3u8', vars), '__defaultVhost__/live/livestream.m3u8');
});

test('table: every variable, date variables in Go layout (UTC), zero-padded', () => {
  const all = { ...vars, sequence: 7, timestampMs: T, durationMs: 10_012.4 };
  const table: [string, string][] = [
    ['[seq]', '7'],
    ['[timestamp]', String(T)],
    ['[duration]', '10012'],
    ['[2006]', '2026'],
    ['[01]', '03'],
    ['[02]', '04'],
    ['[15]', '05'],
    ['[04]', '06'],
    ['[05]', '07'],
    ['[999]', '089'],
    ['[app]/[stream]/[2006][01][02]/[15][04][05][999]-[seq].ts', 'live/livestream/20260304/050607089-7.ts'],
    ['[stream]-[timestamp]-[duration].ts', `livestream-${T}-10012.ts`],
    ['no-variables.ts', 'no-variables.ts'],
    ['[unknown]/[APP]/[stream]', '[unknown]/[APP]/livestream'],
  ];
  for (const [template, want] of table) assert.equal(expandHlsPath(template, all, { timeZone: 'utc' }), want, template);
});

test('local time zone is the default (SRS localtime_r)', () => {
  const d = new Date(T);
  const want = `${d.getFullYear()}-${String(d.getHours()).padStart(2, '0')}`;
  assert.equal(expandHlsPath('[2006]-[15]', { ...vars, timestampMs: T }), want);
});

test('missing values leave the variable as written; values are not expanded again', () => {
  assert.equal(expandHlsPath('[stream]-[seq]-[duration]-[timestamp]-[2006]', vars), 'livestream-[seq]-[duration]-[timestamp]-[2006]');
  assert.equal(expandHlsPath('[app]/[stream]-[seq].ts', { ...vars, stream: '[seq]', sequence: 1 }), 'live/[seq]-1.ts');
});

test('resolveHlsFile keeps files under the root and refuses escapes', () => {
  const root = resolve('/srv/hls');
  assert.equal(resolveHlsFile(root, 'live/a.m3u8'), join(root, 'live/a.m3u8'));
  assert.equal(resolveHlsFile(root, '/live/a.ts'), join(root, 'live/a.ts'));
  assert.equal(resolveHlsFile('/srv/hls/', 'a/../b.ts'), join(root, 'b.ts'));
  for (const bad of ['../x.ts', 'live/../../x.ts', '..', '.', '', 'a\0b', '/../etc/passwd', 'live/..']) {
    assert.throws(() => resolveHlsFile(root, bad), (e) => isGatewayError(e), bad);
  }
  // a sibling folder that shares the prefix is outside
  assert.throws(() => resolveHlsFile(root, '../hls2/a.ts'), (e) => isGatewayError(e));
});

test('segmentUri: relative to the playlist folder, percent-encoded', () => {
  assert.equal(segmentUri('live/livestream.m3u8', 'live/livestream-1.ts'), 'livestream-1.ts');
  assert.equal(segmentUri('live/s.m3u8', 'live/s/20260304/1.ts'), 's/20260304/1.ts');
  assert.equal(segmentUri('live/s/index.m3u8', 'live/t.ts'), '../t.ts');
  assert.equal(segmentUri('s.m3u8', 'other/t.ts'), 'other/t.ts');
  assert.equal(segmentUri('/live/s.m3u8', 'live/a b#c?.ts'), 'a%20b%23c%3F.ts');
  assert.equal(segmentUri('live\\s.m3u8', 'live\\x.ts'), 'x.ts');
});
