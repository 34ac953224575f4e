/**
 * End to end: ffmpeg publishes RTMP into the gateway; DVR records it (issue 10).
 * - session plan (FLV): one file, written under NAME.tmp and renamed when the publisher leaves, every path variable
 *   expanded, zero decode errors, duration 10 s ± 1 s;
 * - segment plan (FLV, dvr_duration 3): files that each start with a keyframe, zero decode errors, durations that add
 *   up to the stream's;
 * - MP4 (H.264 with B-frames from MPEG-TS, AAC): zero decode errors, duration ± 1 s, decodes after a seek to 3 s;
 * - a read-only folder: one error for the file, while an RTMP and an HTTP-FLV player decode the stream cleanly.
 * All four publishes run at once (about 12 s of wall time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { decodeCheck, fixture, probePackets, publishRtmp, run, waitFor } from '../helpers/peers.ts';
import { startTestGateway } from './harness.ts';

const FLV = fixture('flv/h264-aac-320x240-10s.flv');
const BFRAMES_TS = fixture('ts/h264-bframes-aac-320x240-10s.ts');

/**
 * A folder this process cannot create files in. chmod 0555 does it for a normal user; root ignores modes, so for
 * root the sysfs root (/sys: files cannot be created there) stands in for a read-only folder.
 */
function readOnlyFolder(base: string): string {
  const dir = join(base, 'readonly');
  mkdirSync(dir);
  chmodSync(dir, 0o555);
  const probe = join(dir, 'probe');
  try {
    writeFileSync(probe, 'x');
  } catch {
    return dir; // refused, as wanted
  }
  rmSync(probe);
  for (const candidate of ['/sys']) {
    try {
      accessSync(candidate, constants.F_OK);
      writeFileSync(join(candidate, `castgate-probe-${process.pid}`), 'x');
    } catch {
      return candidate;
    }
  }
  throw new Error('no read-only folder available for this user (running as root without /sys?)');
}

/** `ffmpeg -v error -i FILE -f null -` prints nothing for a clean file. */
async function decodeErrors(file: string, seekS?: number): Promise<string> {
  const seek = seekS === undefined ? [] : ['-ss', String(seekS)];
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', ...seek, '-i', file, '-f', 'null', '-']);
  assert.equal(r.code, 0, `${file}: ${r.stderr}`);
  return r.stderr;
}

async function duration(file: string): Promise<number> {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.toString().trim());
}

/** Files (not folders) below `dir`, relative, sorted. */
const filesUnder = (dir: string): string[] =>
  existsSync(dir) ? (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort() : [];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

test('DVR: session, segment and MP4 files decode cleanly; a read-only folder fails alone', { timeout: 90_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'castgate-dvr-e2e-'));
  const ro = readOnlyFolder(base);
  const rec = join(base, 'rec');
  const t = await startTestGateway(`
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    dvr { enabled on; dvr_plan session; dvr_path ${ro}/[stream].[timestamp].flv; }
}
vhost session.dvr {
    dvr { enabled on; dvr_apply live/sess; dvr_plan session;
          dvr_path ${rec}/[vhost]/[app]/[stream]/[2006]-[01]-[02]/[15].[04].[05].[999]-[timestamp].flv; }
}
vhost segment.dvr {
    dvr { enabled on; dvr_plan segment; dvr_duration 3; dvr_wait_keyframe on; dvr_path ${rec}/segment/[stream]-[timestamp].flv; }
}
vhost mp4.dvr {
    dvr { enabled on; dvr_path ${rec}/mp4/[app]/[stream].[timestamp].mp4; }
}
`);
  try {
    const started = Date.now();
    // players of the read-only stream, started before its publisher
    const flvPlay = decodeCheck(t.httpUrl('live/ro.flv'), 30, { timeoutMs: 40_000 });
    await sleep(300);
    const pubs = [
      publishRtmp(FLV, t.rtmpUrl('live/ro'), { timeoutMs: 40_000 }),
      publishRtmp(FLV, t.rtmpUrl('live/sess?vhost=session.dvr'), { timeoutMs: 40_000 }),
      publishRtmp(FLV, t.rtmpUrl('live/other?vhost=session.dvr'), { timeoutMs: 40_000 }), // not in dvr_apply
      publishRtmp(FLV, t.rtmpUrl('live/seg?vhost=segment.dvr'), { timeoutMs: 40_000 }),
      publishRtmp(BFRAMES_TS, t.rtmpUrl('live/m?vhost=mp4.dvr'), { timeoutMs: 40_000 }),
    ];
    await waitFor(() => t.gw.hub.isPublishing(makeStreamKey('__defaultVhost__', 'live', 'ro')), 10_000);
    const rtmpPlay = decodeCheck(t.rtmpUrl('live/ro'), 4, { timeoutMs: 25_000 });

    // while recording: the session file exists only under its temporary name
    const sessionDir = join(rec, 'session.dvr', 'live', 'sess');
    const tmp = (await waitFor(() => filesUnder(sessionDir).find((f) => f.endsWith('.flv.tmp')), 10_000)) as string;
    assert.deepEqual(filesUnder(sessionDir), [tmp], 'only the temporary file while recording');

    for (const p of pubs) {
      const done = await p.exited;
      assert.equal(done.code, 0, done.stderr);
    }
    const ended = Date.now();
    const rtmp = await rtmpPlay;
    assert.deepEqual(rtmp.errors, []);
    assert.ok(rtmp.videoFrames >= 75, `RTMP player decoded ${rtmp.videoFrames} frames`);
    const flv = await flvPlay;
    assert.deepEqual(flv.errors, []);
    assert.ok(flv.videoFrames >= 225, `HTTP-FLV player decoded ${flv.videoFrames} of 250 frames`);
    await waitFor(() => [...t.gw.hub.streams()].every((s) => s.publisher === undefined), 5000);
    await t.gw.dvr.idle();

    // read-only folder: one failed file, logged once (failedFiles counts the error log lines), nothing written
    const totals = t.gw.dvr.totals();
    assert.equal(totals.failedFiles, 1, JSON.stringify(totals));
    assert.equal(totals.droppedMessages, 0);

    // session: path variables expanded from the file's start time, renamed, clean, 10 s ± 1 s
    const sessionFiles = filesUnder(sessionDir);
    assert.equal(sessionFiles.length, 1, sessionFiles.join(' '));
    const m = /^(\d{4})-(\d{2})-(\d{2})\/(\d{2})\.(\d{2})\.(\d{2})\.(\d{3})-(\d+)\.flv$/.exec(sessionFiles[0] as string);
    assert.ok(m !== null, sessionFiles[0]);
    const stamp = Number(m[8]);
    assert.ok(stamp >= started && stamp <= ended, `[timestamp] ${stamp} within the publish`);
    const d = new Date(stamp);
    assert.deepEqual(m.slice(1, 8), [String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate()), pad(d.getHours()), pad(d.getMinutes()), pad(d.getSeconds()), pad(d.getMilliseconds(), 3)]);
    assert.equal(tmp, `${sessionFiles[0]}.tmp`, 'the temporary file was renamed to this name');
    const sessionFile = join(sessionDir, sessionFiles[0] as string);
    assert.equal(await decodeErrors(sessionFile), '');
    const sessionS = await duration(sessionFile);
    assert.ok(Math.abs(sessionS - 10) <= 1, `session file lasts ${sessionS} s`);
    assert.ok(!existsSync(join(rec, 'session.dvr', 'live', 'other')), 'dvr_apply left live/other out');

    // segment: 3 s files cut at keyframes (1 s GOP): each starts with a keyframe; together the whole stream
    const segments = filesUnder(join(rec, 'segment'));
    assert.ok(segments.length >= 3 && segments.length <= 4, segments.join(' '));
    let total = 0;
    for (const f of segments) {
      const file = join(rec, 'segment', f);
      assert.match(f, /^seg-\d+\.flv$/);
      assert.equal(await decodeErrors(file), '');
      const s = await duration(file);
      total += s;
      const video = (await probePackets(file, 1)).filter((p) => p.codec_type === 'video');
      assert.ok(video[0]?.flags.startsWith('K'), `${f} starts with a keyframe: ${video[0]?.flags}`);
      assert.ok(s <= 3 + 1, `${f} lasts ${s} s`);
    }
    assert.ok(Math.abs(total - 10) <= 1, `segments add up to ${total} s`);

    // MP4: H.264 with B-frames + AAC, seekable
    const mp4s = filesUnder(join(rec, 'mp4'));
    assert.equal(mp4s.length, 1, mp4s.join(' '));
    const mp4 = join(rec, 'mp4', mp4s[0] as string);
    assert.match(mp4s[0] as string, /^live\/m\.\d+\.mp4$/);
    assert.equal(await decodeErrors(mp4), '');
    assert.equal(await decodeErrors(mp4, 3), '', 'decodes after a seek to 3 s');
    const mp4S = await duration(mp4);
    assert.ok(Math.abs(mp4S - 10) <= 1, `MP4 lasts ${mp4S} s`);

    // nothing left under a temporary name
    assert.deepEqual(filesUnder(rec).filter((f) => f.endsWith('.tmp')), []);
  } finally {
    await t.stop();
    if (ro.startsWith(base)) chmodSync(ro, 0o755);
    rmSync(base, { recursive: true, force: true });
  }
});
