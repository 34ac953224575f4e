import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMount } from '../../../core/output/http-server.ts';

test('http_remux mount templates compile to path patterns (SRS: [vhost]/ dropped)', () => {
  const cases: [string, string, Record<string, string> | undefined][] = [
    ['[vhost]/[app]/[stream].flv', '/live/livestream.flv', { app: 'live', stream: 'livestream' }],
    ['[vhost]/[app]/[stream].flv', '/a/b/cam1.flv', { app: 'a/b', stream: 'cam1' }],
    ['[vhost]/[app]/[stream].flv', '/live/x.ts', undefined],
    ['/[app]/[stream].flv', '/live/s.flv', { app: 'live', stream: 's' }],
    ['[vhost]/live/[stream].flv', '/live/s.flv', { stream: 's' }],
    ['[vhost]/live/[stream].flv', '/other/s.flv', undefined],
    ['[vhost]/[app]/[stream]/live.flv', '/live/s/live.flv', { app: 'live', stream: 's' }],
  ];
  for (const [mount, path, want] of cases) {
    const p = compileMount(mount);
    const m = p.regex.exec(path);
    if (want === undefined) {
      assert.equal(m, null, `${mount} must not match ${path}`);
      continue;
    }
    assert.ok(m !== null, `${mount} matches ${path}`);
    const got: Record<string, string> = {};
    p.groups.forEach((g, i) => { got[g] = m[i + 1]; });
    assert.deepEqual(got, want);
  }
});
