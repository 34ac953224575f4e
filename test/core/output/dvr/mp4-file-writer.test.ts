/**
 * Mp4FileWriter against ffmpeg/ffprobe: H.264 with B-frames + AAC, H.265 (hvc1) with B-frames, H.264 + MP3 give
 * files that decode with zero errors, keep every frame and their duration, and seek (moov written on close);
 * G.711 is refused with one note (the file keeps its video); a stream with nothing MP4 carries fails; a full disk
 * removes the temporary file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGatewayError, type GatewayError } from '../../../../core/errors.ts';
import { MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { Mp4FileWriter } from '../../../../core/output/dvr/mp4-file-writer.ts';
import { ffmpegFlvMessages, fileStartOf, framesOf, fromZero, fullDiskFs, hevcMessages } from '../../../helpers/dvr-media.ts';
import { fixture, run, waitFor } from '../../../helpers/peers.ts';

interface Probe {
  streams: { codec_name: string; codec_tag_string: string; nb_frames: string; width?: number; sample_rate?: string; has_b_frames?: number }[];
  format: { duration: string };
}

async function probe(file: string): Promise<Probe> {
  const r = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as Probe;
}

/** `ffmpeg -v error [-ss N] -i FILE -f null -`: what it prints (nothing for a clean file). */
async function decode(file: string, seekS?: number): Promise<string> {
  const r = await run('ffmpeg', ['-nostdin', '-v', 'error', ...(seekS !== undefined ? ['-ss', String(seekS)] : []), '-i', file, '-f', 'null', '-']);
  assert.equal(r.code, 0, r.stderr);
  return r.stderr;
}

/** Top-level box types of an MP4 file, in order. */
function topBoxes(mp4: Buffer): string[] {
  const out: string[] = [];
  for (let o = 0; o + 8 <= mp4.length; ) {
    let size = mp4.readUInt32BE(o);
    if (size === 1) size = Number(mp4.readBigUInt64BE(o + 8));
    out.push(mp4.toString('latin1', o + 4, o + 8));
    if (size < 8) break;
    o += size;
  }
  return out;
}

async function record(file: string, msgs: readonly RtmpMessage[]): Promise<{ w: Mp4FileWriter; errors: GatewayError[] }> {
  const errors: GatewayError[] = [];
  const w = new Mp4FileWriter({ file, start: fileStartOf(msgs), onError: (e) => errors.push(e) });
  for (const m of framesOf(msgs)) w.write(m);
  return { w, errors };
}

const withDir = async (fn: (dir: string) => Promise<void>): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'dvr-mp4-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('H.264 with B-frames + AAC: every frame, zero decode errors, seekable, moov after mdat', { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const msgs = ffmpegFlvMessages(['-i', fixture('ts/h264-bframes-aac-320x240-10s.ts')]);
    const file = join(dir, 'live', 'b.mp4');
    const { w, errors } = await record(file, msgs);
    await waitFor(() => existsSync(w.tempFile), 10_000); // opened when the file starts
    assert.ok(!existsSync(file), 'written under the temporary name');
    const info = await w.close();
    assert.deepEqual(errors, []);
    assert.deepEqual(w.notes, []);
    assert.ok(existsSync(file) && !existsSync(w.tempFile));
    const p = await probe(file);
    const video = p.streams.find((s) => s.codec_name === 'h264');
    const audio = p.streams.find((s) => s.codec_name === 'aac');
    assert.equal(video?.nb_frames, '250');
    assert.equal(video?.codec_tag_string, 'avc1');
    assert.ok((video?.has_b_frames ?? 0) > 0, 'B-frames kept (CTS)');
    assert.equal(audio?.nb_frames, String(msgs.filter((m) => m.kind === 'audio').length));
    assert.ok(Math.abs(Number(p.format.duration) - 10) < 0.2, p.format.duration);
    assert.ok(Math.abs(info.durationMs - 10_000) < 200, String(info.durationMs));
    assert.equal(await decode(file), '');
    assert.equal(await decode(file, 3), '', 'seek to 3 s');
    assert.deepEqual(topBoxes(readFileSync(file)), ['ftyp', 'mdat', 'moov']);
  }));

test('H.265 (Enhanced RTMP hvc1, B-frames): an hvc1 track ffmpeg decodes', { timeout: 30_000 }, () =>
  withDir(async (dir) => {
    const msgs = fromZero(hevcMessages()); // the TS clock starts at 1.4 s
    const file = join(dir, 'h.mp4');
    const { w, errors } = await record(file, msgs);
    await w.close();
    assert.deepEqual(errors, []);
    const p = await probe(file);
    assert.equal(p.streams.length, 1);
    const [video] = p.streams;
    assert.deepEqual([video?.codec_name, video?.codec_tag_string, video?.nb_frames, video?.width], ['hevc', 'hvc1', '50', 320]);
    assert.ok(Math.abs(Number(p.format.duration) - 2) < 0.1, p.format.duration);
    assert.equal(await decode(file), '');
  }));

test('H.264 + MP3: an mp3 track at the frame header rate', { timeout: 30_000 }, () =>
  withDir(async (dir) => {
    const msgs = ffmpegFlvMessages(['-i', fixture('ts/h264-mp3-320x240-10s.ts')]);
    assert.equal(fileStartOf(msgs).audioConfig, undefined, 'MP3 has no sequence header');
    const file = join(dir, 'm.mp4');
    const { w, errors } = await record(file, msgs);
    await w.close();
    assert.deepEqual(errors, []);
    const p = await probe(file);
    const audio = p.streams.find((s) => s.codec_name === 'mp3');
    assert.equal(audio?.sample_rate, '44100');
    assert.equal(audio?.nb_frames, String(msgs.filter((m) => m.kind === 'audio').length));
    assert.equal(await decode(file), '');
  }));

test('G.711: refused with one clear note, the video is recorded; G.711 alone fails the file', { timeout: 30_000 }, () =>
  withDir(async (dir) => {
    const lavfi = ['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=8000', '-t', '3'];
    const msgs = ffmpegFlvMessages(lavfi, ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1']);
    assert.equal(msgs.find((m) => m.kind === 'audio')?.payload[0], 0x72, 'FLV SoundFormat 7 (A-law), mono');
    const file = join(dir, 'g.mp4');
    const { w, errors } = await record(file, msgs);
    assert.equal(w.notes.length, 1);
    assert.ok(isGatewayError(w.notes[0], 'GW_ERR_MP4_UNSUPPORTED_CODEC'));
    assert.match((w.notes[0] as GatewayError).message, /G\.711 A-law.*\.flv/);
    await w.close();
    assert.deepEqual(errors, []);
    const p = await probe(file);
    assert.deepEqual(p.streams.map((s) => s.codec_name), ['h264']);
    assert.equal(await decode(file), '');

    const audioOnly = msgs.filter((m) => m.type !== MessageType.Video);
    const g = await record(join(dir, 'g-audio.mp4'), audioOnly);
    await assert.rejects(g.w.close(), (e) => isGatewayError(e, 'GW_ERR_DVR_WRITE') && /no track MP4 can carry: G\.711/.test((e as Error).message));
    assert.equal(g.errors.length, 1);
    assert.ok(!existsSync(join(dir, 'g-audio.mp4')) && !existsSync(g.w.tempFile));
  }));

test('disk full: one error, the temporary file removed (an MP4 without moov plays nowhere)', { timeout: 30_000 }, () =>
  withDir(async (dir) => {
    const msgs = hevcMessages();
    const file = join(dir, 'full.mp4');
    const errors: GatewayError[] = [];
    const w = new Mp4FileWriter({ file, start: fileStartOf(msgs), fs: fullDiskFs(20_000), onError: (e) => errors.push(e) });
    for (const m of framesOf(msgs)) w.write(m);
    await assert.rejects(w.close(), (e) => isGatewayError(e, 'GW_ERR_DVR_WRITE'));
    assert.equal(errors.length, 1);
    assert.match((errors[0] as GatewayError).message, /ENOSPC/);
    assert.equal(w.keptFile, undefined);
    assert.ok(!existsSync(file) && !existsSync(w.tempFile));
    assert.equal(w.pendingBytes, 0);
  }));
