/** The CLI as a user runs it: `castgate -t -c FILE`, `--help`, `--version`, and a clean stop on SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort, run, startProcess, waitFor } from '../helpers/peers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', '-e', `import('${ROOT}core/main.ts').then(async (m) => { const c = await m.runCli(process.argv.slice(1)); if (c !== undefined) process.exitCode = c; })`];

function cli(args: string[]) {
  return run(process.execPath, [...CLI, '--', ...args], { timeoutMs: 20_000 });
}

test('castgate -t accepts every shipped config', { timeout: 60_000 }, async () => {
  for (const conf of ['conf/castgate.conf', 'conf/push.mpegts.over.udp.conf', 'conf/http.flv.live.conf', 'conf/full.conf', 'conf/push.flv.conf', 'conf/ingest.conf', 'conf/push.rtsp.conf']) {
    const r = await cli(['-t', '-c', join(ROOT, conf)]);
    assert.equal(r.code, 0, `${conf}: ${r.stderr}`);
    assert.match(r.stdout.toString(), /test is successful/);
  }
});

test('castgate -t reports file:line:col and exits 1 on a broken config', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-cli-'));
  const file = join(dir, 'bad.conf');
  writeFileSync(file, 'listen 1935;\nvhost __defaultVhost__ {\n  gop_cache on;\n}\n}\n');
  const r = await cli(['-t', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5:1: `));
});

test('castgate --help and --version', { timeout: 20_000 }, async () => {
  const h = await cli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout.toString(), /-t, --test/);
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout.toString(), /^castgate \d+\.\d+\.\d+/);
});

test('castgate -c runs in the foreground and stops cleanly on SIGTERM', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-cli-'));
  const rtmp = await freeTcpPort();
  const http = await freeTcpPort();
  const udp = await freeUdpPort();
  const file = join(dir, 'run.conf');
  writeFileSync(file, `listen 127.0.0.1:${rtmp};\nhttp_server { enabled on; listen 127.0.0.1:${http}; dir ${dir}; }\n`
    + `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/livestream; listen ${udp}; }\n`
    + 'vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n');
  const p = startProcess(process.execPath, [...CLI, '--', '-c', file], { timeoutMs: 25_000 });
  let out = '';
  p.child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor(() => out.includes('castgate started'), 15_000);
  p.child.kill('SIGTERM');
  const r = await p.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.match(out, /gateway stopped/);
});
