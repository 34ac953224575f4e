/**
 * config-diff: block identity ignores where a block is written; casters, ingesters and vhosts are compared by
 * content; the settings only a restart applies are listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText, type Config } from '../../../core/config/config.ts';
import { blockIdentity, changedVhosts, diffBlocks, ingestIdentity, restartNeeded, runningCasters, runningIngests } from '../../../core/config/config-diff.ts';

function conf(text: string): Config {
  return loadConfigText(text, '/etc/castgate/test.conf').config;
}

const udp = (port: number, extra = ''): string =>
  `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/u${port}; listen ${port};${extra} }\n`;
const ingest = (id: string, url: string, enabled = 'on'): string =>
  `ingest ${id} { enabled ${enabled}; input { type file; url ${url}; } engine { enabled off; output rtmp://127.0.0.1/live/${id}; } }`;

test('blockIdentity: key order, line/file and undefined fields do not count; values do', () => {
  assert.equal(blockIdentity({ a: 1, b: { c: [1, 2], line: 3 }, file: 'x' }), blockIdentity({ b: { c: [1, 2], line: 9 }, a: 1, d: undefined }));
  assert.notEqual(blockIdentity({ a: 1, b: { c: [1, 2] } }), blockIdentity({ a: 1, b: { c: [2, 1] } }));
  assert.notEqual(blockIdentity({ a: 1 }), blockIdentity({ a: '1' }));
  assert.equal(blockIdentity(new Map([['y', 1], ['x', 2]])), blockIdentity(new Map([['x', 2], ['y', 1]])));
  // The same caster written on another line, with a default written out and 10 written as 10.0: the same block.
  const a = conf(udp(9000)).streamCasters[0];
  const b = conf(`\n\n# moved\n${udp(9000, ' idle_timeout 10.0;')}`).streamCasters[0];
  assert.notEqual(a?.line, b?.line);
  assert.equal(blockIdentity(a), blockIdentity(b));
});

test('diffBlocks: kept by identity (two identical blocks keep two), changed = stop + start, order kept', () => {
  const id = (s: string): string => s.split(':')[0] as string;
  const d = diffBlocks(['a:1', 'b:1', 'b:2', 'c:1'], ['b:3', 'd:1', 'a:2', 'b:4'], id);
  assert.deepEqual(d.kept, [{ before: 'b:1', after: 'b:3' }, { before: 'a:1', after: 'a:2' }, { before: 'b:2', after: 'b:4' }]);
  assert.deepEqual(d.stopped, ['c:1']);
  assert.deepEqual(d.started, ['d:1']);
  assert.deepEqual(diffBlocks([], ['x']), { kept: [], stopped: [], started: ['x'] });
});

test('running casters diffed: an added caster starts, a removed one stops, a changed one restarts, an untouched one is kept; disabled ones do not run', () => {
  const before = conf(udp(9000) + udp(9001) + udp(9002) + udp(9005).replace('enabled on', 'enabled off'));
  const after = conf(
    `# new first line\n${udp(9002)}${udp(9001, ' idle_timeout 3;')}${udp(9003)}${udp(9004).replace('enabled on', 'enabled off')}`,
  );
  const d = diffBlocks(runningCasters(before), runningCasters(after));
  assert.deepEqual(d.kept.map((k) => [k.before.listen.port, k.after.listen.port, k.before.line, k.after.line]), [[9002, 9002, 3, 2]]);
  assert.deepEqual(d.stopped.map((c) => c.listen.port), [9000, 9001]);
  assert.deepEqual(d.started.map((c) => [c.listen.port, c.idleTimeoutMs]), [[9001, 3000], [9003, 10_000]]);
  const same = diffBlocks(runningCasters(before), runningCasters(before));
  assert.deepEqual([same.kept.length, same.stopped.length, same.started.length], [3, 0, 0]);
  // A changed output on the same port: the old listener stops before the new one binds the port.
  const out = diffBlocks(runningCasters(conf(udp(9000))), runningCasters(conf(udp(9000).replace('/live/u9000', '/live/other'))));
  assert.deepEqual([out.kept.length, out.stopped.map((c) => c.output), out.started.map((c) => c.output)], [0, ['rtmp://127.0.0.1/live/u9000'], ['rtmp://127.0.0.1/live/other']]);
});

test('running ingesters diffed by ingestIdentity: only the ingesters whose own block (or vhost) changed restart', () => {
  const before = conf(`vhost __defaultVhost__ { ${ingest('a', 'a.flv')} ${ingest('b', 'b.flv')} ${ingest('c', 'c.flv')} }
    vhost other { ${ingest('a', 'a.flv')} }`);
  const after = conf(`vhost __defaultVhost__ {
      hls { enabled on; hls_window 30; }
      ${ingest('a', 'a.flv')}
      ${ingest('b', 'b2.flv')}
      ${ingest('c', 'c.flv', 'off')}
      ${ingest('d', 'd.flv')}
    }
    vhost other { enabled off; ${ingest('a', 'a.flv')} }`);
  const d = diffBlocks(runningIngests(before), runningIngests(after), ingestIdentity);
  assert.deepEqual(d.kept.map((k) => `${k.after.vhost}/${k.after.ingest.id}`), ['__defaultVhost__/a']);
  assert.deepEqual(d.stopped.map((s) => `${s.vhost}/${s.ingest.id}`), ['__defaultVhost__/b', '__defaultVhost__/c', 'other/a']);
  assert.deepEqual(d.started.map((s) => `${s.vhost}/${s.ingest.id}:${s.ingest.input.urls[0]}`), ['__defaultVhost__/b:b2.flv', '__defaultVhost__/d:d.flv']);
});

test('changedVhosts and restartNeeded', () => {
  const before = conf('listen 1935; http_server { enabled on; listen 8080; } vhost a { hls { enabled on; } } vhost b { }');
  const after = conf('listen 127.0.0.1:1936; http_server { enabled on; listen 8080; } vhost a { hls { enabled on; hls_window 10; } } vhost c { }');
  assert.deepEqual(changedVhosts(before, after), ['a', 'b', 'c']);
  assert.deepEqual(changedVhosts(before, before), []);
  assert.deepEqual(restartNeeded(before, after), [{ directive: 'listen', before: '1935', after: '127.0.0.1:1936' }]);
  const api = conf('http_api { enabled on; listen 1985; raw_api { enabled on; allow_reload on; } } exporter { enabled on; label x; }');
  assert.deepEqual(
    restartNeeded(before, api).map((r) => r.directive),
    ['http_server.enabled', 'http_api.enabled', 'exporter.enabled', 'exporter.label'], // listen 1935 is the default
  );
  assert.deepEqual(restartNeeded(api, conf('http_api { enabled on; listen 1985; } exporter { enabled on; label x; }')), [], 'raw_api applies without a restart');
});
