/**
 * H265DtsExtractor against the encoder's true DTS (ffprobe on the libx265 bframes=3 MPEG-TS fixture): strictly
 * increasing, ≤ PTS, equal up to a constant offset; PTS = DTS without B-frames; no VUI timing (frame duration
 * learned from PTS); loss recovery at the next IRAP; errors before the first IRAP; random input only throws
 * GatewayError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import { H265DtsExtractor } from '../../../../core/codec/h265/dts-extractor.ts';
import { encodeHevc, h265Fixture, splitH265AccessUnits, tsAccessUnits } from '../../../helpers/rtp-h265-packetizer.ts';

const BF3_TS = h265Fixture('h265/testsrc2-320x240-bf3-2s.ts');

function ffprobeDts(path: string): { pts: number; dts: number }[] {
  const json = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,dts', '-of', 'json', path], { encoding: 'utf8' });
  return (JSON.parse(json) as { packets: { pts: number; dts: number }[] }).packets;
}

test('bframes=3: DTS equals the encoder DTS (ffprobe) up to a constant, increasing, ≤ PTS', () => {
  const aus = tsAccessUnits(BF3_TS);
  const truth = ffprobeDts(BF3_TS);
  assert.equal(aus.length, 50);
  assert.equal(truth.length, 50);
  const x = new H265DtsExtractor();
  let offset: number | undefined;
  let prev = -Infinity;
  let reordered = 0;
  aus.forEach((au, i) => {
    assert.equal(au.pts90k, truth[i].pts);
    const dts = x.extract(au.nalus, au.pts90k);
    assert.ok(dts <= au.pts90k, `AU ${i}: DTS ${dts} > PTS ${au.pts90k}`);
    assert.ok(dts > prev, `AU ${i}: DTS not increasing`);
    prev = dts;
    offset ??= truth[i].dts - dts;
    assert.equal(truth[i].dts - dts, offset, `AU ${i}`);
    if (au.pts90k !== truth[i].dts) reordered++;
  });
  assert.equal(offset, 0, 'the same DTS as the encoder (PTS − 2 frames at the IDR)');
  assert.ok(reordered > 30);
});

test('bframes=0: DTS = PTS; without VUI timing the frame duration is learned from PTS', () => {
  const aus = splitH265AccessUnits(readFileSync(h265Fixture('h265/testsrc2-320x240-bf0-2s.hevc')));
  const x = new H265DtsExtractor();
  aus.forEach((au, i) => assert.equal(x.extract(au, 9000 + i * 3600), 9000 + i * 3600));

  const dir = mkdtempSync(join(tmpdir(), 'h265-dts-'));
  try {
    // 10 fps (9000 ticks/frame), B-frames, no timing info: the default 25 fps guess must not break monotony.
    const path = encodeHevc(dir, 'notiming', { size: '160x96', pixFmt: 'yuv420p', x265Params: 'vui-timing-info=0:bframes=3:keyint=10', frames: 30 });
    const json = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'frame=pkt_pos', '-of', 'csv=p=0', path], { encoding: 'utf8' });
    const displayOrder = json.split('\n').filter((l) => l.trim() !== '').map((l) => Number.parseInt(l, 10)); // packet byte positions in output order
    const positions: number[] = [];
    let pos = 0;
    const raw = readFileSync(path);
    const units = splitH265AccessUnits(raw);
    for (const au of units) {
      positions.push(raw.indexOf(Buffer.from(au[0]), pos) - 4);
      pos = positions[positions.length - 1] + 4;
    }
    const rank = new Map(displayOrder.map((p, i) => [p, i]));
    const y = new H265DtsExtractor();
    let prev = -Infinity;
    const steps: number[] = [];
    units.forEach((au, i) => {
      const r = rank.get(positions[i]) ?? rank.get(positions[i] + 1);
      assert.notEqual(r, undefined, `AU ${i} position`);
      const pts = 90_000 + r! * 9000;
      const dts = y.extract(au, pts);
      assert.ok(dts <= pts && dts > prev, `AU ${i}: ${dts} vs ${pts}, prev ${prev}`);
      if (i > 2) steps.push(dts - prev);
      prev = dts;
    });
    assert.ok(steps.slice(4).every((s) => s === 9000), `steady 9000-tick DTS steps once learned: ${steps.join(',')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('before the first IRAP, AUs without a picture and lost pictures', () => {
  const aus = tsAccessUnits(BF3_TS);
  const isNalu = (e: unknown): boolean => e instanceof GatewayError && e.code === 'GW_ERR_H265_NALU';
  const x = new H265DtsExtractor();
  assert.throws(() => x.extract(aus[3].nalus, aus[3].pts90k), isNalu, 'SPS/PPS unknown');
  x.extract(aus[0].nalus, aus[0].pts90k);
  assert.throws(() => x.extract([aus[0].nalus[0]], aus[0].pts90k + 1), isNalu, 'AUD only');

  const late = new H265DtsExtractor();
  const [vps, sps, pps] = aus[0].nalus.slice(1, 4);
  late.setParameterSets(vps, sps, pps);
  assert.throws(() => late.extract(aus[1].nalus, aus[1].pts90k), isNalu, 'not an IRAP');

  // Lose 7 AUs in the middle of the first GOP, resume at the CRA: still increasing and ≤ PTS.
  const y = new H265DtsExtractor();
  let prev = -Infinity;
  aus.forEach((au, i) => {
    if (i >= 10 && i < 17) return;
    const dts = y.extract(au.nalus, au.pts90k);
    assert.ok(dts <= au.pts90k && dts > prev, `AU ${i}`);
    prev = dts;
  });
});

test('corrupt AUs only throw GatewayError and never break the DTS order', () => {
  const aus = tsAccessUnits(BF3_TS);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(49), fc.nat(40), fc.integer({ min: 0, max: 255 }), fc.boolean()), { maxLength: 40 }), (ops) => {
    const x = new H265DtsExtractor();
    let prev = -Infinity;
    for (const [i, at, value, truncate] of ops) {
      const nalus = aus[i].nalus.map((n) => Uint8Array.from(n));
      const last = nalus[nalus.length - 1];
      if (truncate) nalus[nalus.length - 1] = last.subarray(0, Math.min(last.length, at));
      else if (at < last.length) last[at] = value;
      try {
        const dts = x.extract(nalus, aus[i].pts90k);
        assert.ok(dts <= aus[i].pts90k && dts > prev);
        prev = dts;
      } catch (e) {
        assert.ok(e instanceof GatewayError, String(e));
      }
    }
  }), { numRuns: 300 });
});
