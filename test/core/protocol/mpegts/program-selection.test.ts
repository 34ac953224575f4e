/**
 * Program and PID selection in a multi-program TS (issue 12 §2): chooseProgram on its own, then TsDemuxer with
 * hand-built PAT/PMT (ts-builder.ts) and the two-program ffmpeg fixture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode } from '../../../../core/errors.ts';
import { chooseProgram, PAT_REPEATS_BEFORE_CHOICE } from '../../../../core/protocol/mpegts/program-selection.ts';
import type { PmtSection } from '../../../../core/protocol/mpegts/psi.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import type { ProgramSelectionOptions } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { concat, patSection, pesBytes, pesPackets, pmtSection, psiPacket, recorder } from './ts-builder.ts';

const H264 = 0x1b;
const AAC = 0x0f;
const MP3 = 0x03;
const pmt = (programNumber: number, streams: [number, number][]): PmtSection => ({
  programNumber, versionNumber: 0, currentNextIndicator: true, pcrPid: streams[0]?.[1] ?? 0x1fff,
  streams: streams.map(([streamType, elementaryPid]) => ({ streamType, elementaryPid })),
});
const P1 = { programNumber: 1, pmtPid: 0x1000 };
const P2 = { programNumber: 2, pmtPid: 0x1001 };
const P3 = { programNumber: 3, pmtPid: 0x1002 };

test('chooseProgram: configured program, pids, the only program, the first with video, waiting and giving up', () => {
  const audioOnly = pmt(1, [[AAC, 0x101]]);
  const video = pmt(2, [[H264, 0x200], [AAC, 0x201]]);
  const choose = (pmts: [number, PmtSection][], opts: ProgramSelectionOptions, final = false) => chooseProgram([P1, P2, P3], new Map(pmts), opts, final);
  assert.deepEqual(choose([], { programNumber: 3 }), { program: P3, reason: 'program' }, 'configured: at once, before any PMT');
  assert.equal(choose([], { programNumber: 7 }, true), undefined, 'configured but not in the PAT');
  assert.deepEqual(choose([[2, video]], { pids: [0x201] }), { program: P2, reason: 'pids' });
  assert.equal(choose([[1, audioOnly]], { pids: [0x201] }, true), undefined, 'no program lists the PIDs');
  assert.deepEqual(chooseProgram([P2], new Map(), {}, false), { program: P2, reason: 'only' });
  assert.equal(choose([[2, video]], {}), undefined, 'program 1 might have video: wait for its PMT');
  assert.deepEqual(choose([[1, audioOnly], [2, video]], {}), { program: P2, reason: 'first-with-video' });
  assert.deepEqual(choose([[2, video]], {}, true), { program: P2, reason: 'first-with-video' }, 'program 1 PMT never came');
  assert.deepEqual(choose([[1, audioOnly], [2, pmt(2, [[MP3, 0x300]])], [3, pmt(3, [[AAC, 0x400]])]], {}), { program: P1, reason: 'first' }, 'no video anywhere');
  assert.equal(choose([[1, audioOnly]], {}), undefined, 'no video yet, PMTs missing: wait');
  assert.deepEqual(choose([[3, audioOnly]], {}, true), { program: P3, reason: 'first' }, 'given up: first PMT seen');
});

/** An MPTS: program 1 audio only (PMT 0x1000), program 2 H.264 + AAC (PMT 0x1001), one PES on each PID. */
function mpts(order: 'pmt1-first' | 'pmt2-first' = 'pmt1-first', patRepeats = 1): Uint8Array {
  const pat = (cc: number) => psiPacket(0, patSection([[1, 0x1000], [2, 0x1001]]), cc);
  const pmt1 = psiPacket(0x1000, pmtSection(1, 0x101, [[AAC, 0x101]]), 0);
  const pmt2 = psiPacket(0x1001, pmtSection(2, 0x200, [[H264, 0x200], [AAC, 0x201]]), 0);
  const parts: Uint8Array[] = [pat(0)];
  parts.push(...(order === 'pmt1-first' ? [pmt1, pmt2] : [pmt2]));
  for (let i = 1; i < patRepeats; i++) parts.push(pat(i));
  for (const [pid, i] of [[0x101, 1], [0x200, 2], [0x201, 3]] as const) {
    parts.push(...pesPackets(pid, pesBytes(Uint8Array.of(0, 0, 0, 1, 9, i), { pts: 90_000 * i, streamId: pid === 0x200 ? 0xe0 : 0xc0 }), 0));
  }
  return concat(parts);
}

function demux(bytes: Uint8Array, opts: ProgramSelectionOptions = {}): ReturnType<typeof recorder> {
  const sink = recorder();
  const d = new TsDemuxer(sink, opts);
  d.push(bytes);
  d.flush();
  return sink;
}

test('TsDemuxer: without program or pids, the first program with video is demuxed and the choice reported', () => {
  const r = demux(mpts());
  assert.deepEqual(r.selections, [{ programNumber: 2, pmtPid: 0x1001, reason: 'first-with-video', programs: [1, 2] }]);
  assert.deepEqual(r.programs.map((p) => [p.programNumber, p.tracks.map((t) => t.pid)]), [[2, [0x200, 0x201]]]);
  assert.deepEqual(r.pes.map((p) => p.pid), [0x200, 0x201], 'program 1 PES ignored');
  assert.deepEqual(r.errors, []);
});

test('TsDemuxer: program 1 PMT missing, program 2 has video: chosen once the PAT has repeated', () => {
  const early = demux(mpts('pmt2-first', 1));
  assert.deepEqual(early.selections, [], 'waits: program 1 might have video');
  const late = demux(mpts('pmt2-first', PAT_REPEATS_BEFORE_CHOICE + 1));
  assert.deepEqual(late.selections.map((s) => [s.programNumber, s.reason]), [[2, 'first-with-video']]);
  assert.deepEqual(late.pes.map((p) => p.pid), [0x200, 0x201]);
});

test('TsDemuxer: program 1 configured, or pids of program 1', () => {
  const byProgram = demux(mpts(), { programNumber: 1 });
  assert.deepEqual(byProgram.selections.map((s) => [s.programNumber, s.reason]), [[1, 'program']]);
  assert.deepEqual(byProgram.pes.map((p) => p.pid), [0x101]);
  const byPid = demux(mpts(), { pids: [0x201] });
  assert.deepEqual(byPid.selections.map((s) => [s.programNumber, s.reason]), [[2, 'pids']]);
  assert.deepEqual(byPid.programs[0]!.tracks.map((t) => t.pid), [0x201], 'only the listed PID is a track');
  assert.deepEqual(byPid.pes.map((p) => p.pid), [0x201]);
});

test('TsDemuxer: a configured program the PAT lacks is reported once, nothing is demuxed', () => {
  const r = demux(mpts('pmt1-first', 6), { programNumber: 9 });
  assert.deepEqual(r.selections, []);
  assert.deepEqual(r.pes, []);
  assert.deepEqual(r.errors.map((e) => [e.code, e.message]), [[ErrorCode.TsMultiProgram, 'TS: the PAT (programs 1, 2) has no program 9; waiting']]);
});

test('TsDemuxer: the two-program ffmpeg fixture with pids of program 2 (audio) gives its audio only', () => {
  const file = fileURLToPath(new URL('../../../../fixtures/ts/demux-two-programs-2s.ts', import.meta.url));
  const r = demux(readFileSync(file), { pids: [0x101] });
  assert.deepEqual(r.selections.map((s) => [s.programNumber, s.reason]), [[2, 'pids']]);
  assert.deepEqual(r.programs[0]!.tracks.map((t) => [t.pid, t.codec]), [[0x101, 'aac']]);
  assert.ok(r.pes.length > 50 && r.pes.every((p) => p.pid === 0x101));
});

test('TsDemuxer: a new PAT that moves the chosen program to another PMT PID is followed', () => {
  const parts: Uint8Array[] = [
    psiPacket(0, patSection([[1, 0x1000]]), 0),
    psiPacket(0x1000, pmtSection(1, 0x100, [[H264, 0x100]]), 0),
    psiPacket(0, patSection([[1, 0x1100]], 1), 1), // version 1: PMT now on 0x1100, video on 0x110
    psiPacket(0x1100, pmtSection(1, 0x110, [[H264, 0x110]]), 0),
    ...pesPackets(0x110, pesBytes(Uint8Array.of(0, 0, 0, 1, 9), { pts: 1000 }), 0),
  ];
  const r = demux(concat(parts));
  assert.deepEqual(r.programs.map((p) => p.tracks.map((t) => t.pid)), [[0x100], [0x110]]);
  assert.deepEqual(r.pes.map((p) => p.pid), [0x110]);
});

test('fast-check: a damaged two-program stream with any program / pids selection never throws; PES only from the chosen PIDs', () => {
  const file = fileURLToPath(new URL('../../../../fixtures/ts/demux-two-programs-2s.ts', import.meta.url));
  const real = readFileSync(file);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
      fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      fc.option(fc.subarray([0x100, 0x101, 0x1000, 0x1001, 0x1234]), { nil: undefined }),
      (flips, programNumber, pids) => {
        const bytes = Buffer.from(real);
        for (const [at, value] of flips) bytes[at] = value;
        const sink = recorder();
        const d = new TsDemuxer(sink, { programNumber, pids });
        for (let i = 0; i < bytes.length; i += 1316) d.pushDatagram(bytes.subarray(i, i + 1316));
        d.flush();
        if (pids !== undefined) assert.ok(sink.pes.every((p) => pids.includes(p.pid)), 'only the configured PIDs');
        if (programNumber !== undefined) assert.ok(sink.selections.every((s) => s.programNumber === programNumber));
      },
    ),
    { numRuns: 150, seed: 3 },
  );
});
