/**
 * DvrRecorder and DvrServer on a real SourceHub: dvr_apply, path variables, one file per publish, segment files
 * cut at keyframes; a slow disk drops whole GOPs (counted) while the publisher and another player lose nothing; a
 * folder that cannot be written gives one logged error per file and the stream goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { DvrConfig } from '../../../../core/config/dvr-config.ts';
import { SourceHub } from '../../../../core/hub/source-hub.ts';
import type { ConsumerTarget } from '../../../../core/hub/ports.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { DvrServer } from '../../../../core/output/dvr/dvr-server.ts';
import { splitDvrPath } from '../../../../core/output/dvr/dvr-recorder.ts';
import { flvMessages, h264AacMessages, slowFs } from '../../../helpers/dvr-media.ts';
import { run, waitFor } from '../../../helpers/peers.ts';

interface LogLine {
  level: number;
  msg: string;
  file?: string;
  stream?: string;
}

/** A pino logger whose lines are kept (info and up). */
function capturingLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

const errorsOf = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.level >= 50);

const dvrConfig = (path: string, more: Partial<DvrConfig> = {}): DvrConfig => ({
  enabled: true, apply: ['all'], plan: 'session', path, durationMs: 30_000, waitKeyframe: true, timeJitter: 'full', ...more,
});

function setup(dvr: (vhost: string) => DvrConfig | undefined, more: Partial<ConstructorParameters<typeof DvrServer>[0]> = {}) {
  const { log, lines } = capturingLog();
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'full' }), sourceLingerMs: 0 });
  const server = new DvrServer({ hub, log, dvr, ...more });
  server.start();
  return { hub, server, lines };
}

const who = { id: 'test-1', protocol: 'test' };
const MESSAGES = h264AacMessages();
/** What a player attached before the publish gets: everything but the audio ahead of the first keyframe. */
const FROM_FIRST_KEYFRAME = ((): number => {
  const k = MESSAGES.findIndex((m) => m.kind === 'keyframe');
  return MESSAGES.filter((m, i) => m.isConfig || i >= k).length;
})();

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.includes('.')).sort();
}

async function decodeClean(file: string): Promise<void> {
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', file);
}

test('splitDvrPath: the fixed folder before the first variable is the root the file cannot leave', () => {
  assert.deepEqual(splitDvrPath('./objs/nginx/html/[app]/[stream].[timestamp].flv'), { root: './objs/nginx/html', relative: '[app]/[stream].[timestamp].flv' });
  assert.deepEqual(splitDvrPath('/data/rec.flv'), { root: '/data', relative: 'rec.flv' });
  assert.deepEqual(splitDvrPath('/[app].flv'), { root: '/', relative: '[app].flv' });
  assert.deepEqual(splitDvrPath('[app]/x.mp4'), { root: '.', relative: '[app]/x.mp4' });
  assert.deepEqual(splitDvrPath('/rec/live-[stream]/a.flv'), { root: '/rec', relative: 'live-[stream]/a.flv' });
});

test('dvr_apply and path variables: one file per publish, named by the date of its start, a new one per publish', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-rec-'));
  const t = Date.UTC(2015, 0, 3, 10, 57, 30, 776);
  const local = new Date(t);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  try {
    const cfg = dvrConfig(`${dir}/[vhost]/[app]/[stream]/[2006]-[01]-[02]/[15].[04].[05].[999]-[timestamp].flv`, { apply: ['live/a'] });
    const { hub, server, lines } = setup((v) => (v === 'rec' ? cfg : undefined), { now: () => t });
    for (const stream of ['a', 'b']) {
      const pub = hub.publish({ vhost: 'rec', app: 'live', stream }, who);
      for (const m of MESSAGES) pub.write(m);
      pub.close();
    }
    const other = hub.publish({ vhost: 'other', app: 'live', stream: 'a' }, who);
    for (const m of MESSAGES.slice(0, 50)) other.write(m);
    other.close();
    await server.idle();
    const day = `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}`;
    const time = `${pad(local.getHours())}.${pad(local.getMinutes())}.${pad(local.getSeconds())}.${pad(local.getMilliseconds(), 3)}`;
    assert.deepEqual(filesUnder(dir), [`rec/live/a/${day}/${time}-${t}.flv`]);
    await decodeClean(join(dir, 'rec', 'live', 'a', day, `${time}-${t}.flv`));
    assert.deepEqual(errorsOf(lines), []);
    assert.ok(lines.some((l) => l.msg === 'DVR file done'));
    assert.equal(server.recorder({ vhost: 'rec', app: 'live', stream: 'a' }), undefined, 'ended with the publish');
    // a second publish of the same stream is a second file
    let n = 0;
    const { hub: hub2, server: server2 } = setup(() => dvrConfig(`${dir}/two/[stream].[timestamp].flv`), { now: () => t + 1000 * n++ });
    for (let i = 0; i < 2; i++) {
      const pub = hub2.publish({ vhost: 'v', app: 'live', stream: 's' }, who);
      for (const m of MESSAGES.slice(0, 100)) pub.write(m);
      pub.close();
    }
    await server2.idle();
    assert.deepEqual(filesUnder(join(dir, 'two')), [`s.${t}.flv`, `s.${t + 1000}.flv`]);
    await server.close();
    await server2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('segment plan: files of dvr_duration, each from a keyframe at 0; MP4 by extension', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-rec-'));
  try {
    let n = 0;
    const { hub, server } = setup((v) => dvrConfig(`${dir}/${v}/[stream]-[timestamp].${v}`, { plan: 'segment', durationMs: 3000 }), { now: () => n++ });
    for (const vhost of ['flv', 'mp4']) {
      const pub = hub.publish({ vhost, app: 'live', stream: 's' }, who);
      for (const m of MESSAGES) pub.write(m);
      pub.close();
    }
    await server.idle();
    for (const ext of ['flv', 'mp4']) {
      const files = filesUnder(join(dir, ext));
      assert.equal(files.length, 4, files.join(' '));
      for (const f of files) {
        const path = join(dir, ext, f);
        await decodeClean(path);
        const r = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path]);
        const first = r.stdout.toString().split('\n')[0] ?? '';
        assert.match(first, /^0\.0+,K/, `${f} starts with a keyframe at 0: ${first}`);
      }
    }
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a slow disk: whole GOPs dropped and counted; the publisher and another player lose nothing', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-rec-'));
  try {
    const { hub, server } = setup(() => dvrConfig(`${dir}/[stream].flv`), {
      fs: slowFs(150),
      queueLengthMs: 2000,
      highWaterBytes: 16 * 1024,
      lowWaterBytes: 4 * 1024,
    });
    const key = { vhost: 'v', app: 'live', stream: 'slow' };
    const seen: RtmpMessage[] = [];
    const player: ConsumerTarget = { send: (m) => (seen.push(m), true) };
    hub.subscribe(key, { id: 'player-1', protocol: 'test' }, player, { useGopCache: true });
    const pub = hub.publish(key, who);
    const t0 = performance.now();
    for (const m of MESSAGES) pub.write(m);
    const publishMs = performance.now() - t0;
    assert.ok(publishMs < 1000, `publishing 10 s of media took ${publishMs.toFixed(0)} ms: the disk slowed the source`);
    assert.equal(seen.length, FROM_FIRST_KEYFRAME, 'the player got every message');
    const stats = server.recorder(key)?.stats();
    assert.ok(stats !== undefined && stats.droppedMessages > 0, `dropped ${stats?.droppedMessages}`);
    pub.close();
    await server.idle();
    const file = join(dir, 'slow.flv');
    await waitFor(() => existsSync(file), 20_000);
    const recorded = flvMessages(readFileSync(file));
    const frames = recorded.filter((m) => !m.isConfig);
    assert.ok(frames.length < MESSAGES.length - 3 && frames.length > 50, `${frames.length} frames recorded`);
    // every video frame after a gap is a keyframe: check that each recorded GOP is whole
    const videoTs = MESSAGES.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe');
    const recordedVideo = frames.filter((m) => m.kind === 'keyframe' || m.kind === 'interframe');
    assert.equal(recordedVideo[0]?.kind, 'keyframe');
    assert.ok(recordedVideo.length < videoTs.length);
    await decodeClean(file);
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder that cannot be written: one logged error per file, the stream goes on', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-rec-'));
  try {
    writeFileSync(join(dir, 'blocked'), 'a file where the folder should be');
    const { hub, server, lines } = setup(() => dvrConfig(`${dir}/blocked/[stream]-[timestamp].flv`, { plan: 'segment', durationMs: 3000 }));
    const key = { vhost: 'v', app: 'live', stream: 'ro' };
    let seen = 0;
    hub.subscribe(key, { id: 'player-1', protocol: 'test' }, { send: () => (seen++, true) });
    const pub = hub.publish(key, who);
    for (const m of MESSAGES) pub.write(m);
    pub.close();
    await server.idle();
    assert.equal(seen, FROM_FIRST_KEYFRAME);
    // A file's open fails asynchronously: on a loaded machine the last error may be logged after idle().
    await waitFor(() => errorsOf(lines).length >= 4, 5_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100)); // and no fifth one follows
    const errors = errorsOf(lines);
    assert.equal(errors.length, 4, `one per segment file: ${JSON.stringify(errors)}`);
    assert.equal(new Set(errors.map((e) => e.file)).size, 4);
    for (const e of errors) assert.equal(e.msg, 'DVR file failed; the stream goes on');
    assert.deepEqual(readdirSync(dir), ['blocked']);
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
