/**
 * H.265 VPS/SPS/PPS parsing against ffprobe, on the libx265 fixtures and on streams encoded at run time that
 * exercise the conformance window, 4:4:4 10-bit (Main 4:4:4 10), two temporal sub-layers, HRD parameters in the
 * VUI and a VUI without timing info. Plus truncation and random bytes (only GatewayError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import { splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import { H265NaluType, h265NaluType } from '../../../../core/codec/h265/nalu.ts';
import { parseH265Pps, parseH265Sps, parseH265Vps } from '../../../../core/codec/h265/sps.ts';
import { encodeHevc, h265Fixture, probeVideo } from '../../../helpers/rtp-h265-packetizer.ts';

function parameterSets(path: string): { vps: Uint8Array; sps: Uint8Array; pps: Uint8Array } {
  const nalus = splitAnnexB(readFileSync(path));
  const find = (t: number): Uint8Array => nalus.find((n) => h265NaluType(n) === t)!;
  return { vps: find(H265NaluType.Vps), sps: find(H265NaluType.Sps), pps: find(H265NaluType.Pps) };
}

/** ffprobe pix_fmt → [chroma_format_idc, bit depth]. */
const PIX_FMTS: Record<string, [number, number]> = { yuv420p: [1, 8], yuv444p10le: [3, 10], yuv422p: [2, 8], gray: [0, 8] };

function checkAgainstFfprobe(path: string): ReturnType<typeof parseH265Sps> {
  const { vps, sps, pps } = parameterSets(path);
  const info = parseH265Sps(sps);
  const probe = probeVideo(path);
  assert.equal(info.width, probe.width, 'width');
  assert.equal(info.height, probe.height, 'height');
  assert.equal(info.levelIdc, probe.level, 'level');
  assert.equal(info.maxNumReorderPics, probe.has_b_frames, 'has_b_frames = sps_max_num_reorder_pics');
  const [chroma, depth] = PIX_FMTS[String(probe.pix_fmt)];
  assert.equal(info.chromaFormatIdc, chroma, 'chroma_format_idc');
  assert.equal(info.bitDepthLuma, depth, 'bit depth');
  assert.equal(info.bitDepthChroma, depth, 'bit depth chroma');
  const v = parseH265Vps(vps);
  assert.equal(v.profileIdc, info.profileIdc);
  assert.equal(v.levelIdc, info.levelIdc);
  assert.equal(parseH265Pps(pps).spsId, info.spsId);
  return info;
}

test('fixtures: 320x240 Main, level 2 (60), 25 fps, reorder 2 / 0', () => {
  const bf3 = checkAgainstFfprobe(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc'));
  assert.equal(bf3.profileIdc, 1);
  assert.equal(bf3.profileCompatibilityFlags, 0x60000000); // Main + Main 10 compatible
  assert.deepEqual([...bf3.constraintIndicatorFlags], [0x90, 0, 0, 0, 0, 0]); // progressive, frame only
  assert.equal(bf3.fps, 25);
  assert.equal(bf3.log2MaxPocLsb, 8);
  assert.equal(bf3.numTemporalLayers, 1);
  assert.equal(bf3.temporalIdNestingFlag, true);
  const bf0 = checkAgainstFfprobe(h265Fixture('h265/testsrc2-320x240-bf0-2s.hevc'));
  assert.equal(bf0.maxNumReorderPics, 0);
  const pps = parseH265Pps(parameterSets(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc')).pps);
  assert.deepEqual(pps, {
    ppsId: 0, spsId: 0, dependentSliceSegmentsEnabledFlag: false, outputFlagPresentFlag: false, numExtraSliceHeaderBits: 0,
    tilesEnabledFlag: false, entropyCodingSyncEnabledFlag: true,
  });
});

test('run-time encodes: conformance window, 4:4:4 10-bit, temporal sub-layers + HRD, no VUI timing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'h265-sps-'));
  try {
    const cropped = checkAgainstFfprobe(encodeHevc(dir, 'crop', { size: '330x250', pixFmt: 'yuv420p', x265Params: 'bframes=0' }));
    assert.deepEqual([cropped.width, cropped.height], [330, 250]);
    const rext = checkAgainstFfprobe(encodeHevc(dir, 'rext', { size: '160x96', pixFmt: 'yuv444p10le', x265Params: 'bframes=2' }));
    assert.equal(rext.profileIdc, 4); // format range extensions
    const layered = checkAgainstFfprobe(encodeHevc(dir, 'layers', {
      size: '160x96', pixFmt: 'yuv420p', x265Params: 'bframes=3:temporal-layers=1:hrd=1:vbv-bufsize=500:vbv-maxrate=500',
    }));
    assert.equal(layered.numTemporalLayers, 2);
    assert.equal(layered.fps, 25, 'timing info after sub-layer PTL and HRD');
    const noTiming = checkAgainstFfprobe(encodeHevc(dir, 'notiming', { size: '160x96', pixFmt: 'yuv420p', x265Params: 'vui-timing-info=0' }));
    assert.equal(noTiming.fps, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wrong NAL type and every truncation throw H265Sps (or parse leniently inside the VUI)', () => {
  const { vps, sps, pps } = parameterSets(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc'));
  const isSpsError = (e: unknown): boolean => e instanceof GatewayError && e.code === 'GW_ERR_H265_SPS';
  assert.throws(() => parseH265Sps(pps), isSpsError);
  assert.throws(() => parseH265Vps(sps), isSpsError);
  assert.throws(() => parseH265Pps(vps), isSpsError);
  let lenient = 0;
  for (let n = 0; n < sps.length; n++) {
    try {
      const info = parseH265Sps(sps.subarray(0, n));
      assert.deepEqual([info.width, info.height], [320, 240]);
      lenient++;
    } catch (e) {
      assert.ok(isSpsError(e), String(e));
    }
  }
  assert.ok(lenient > 0 && lenient < 20, `only cuts inside the VUI parse (${lenient})`);
  for (let n = 0; n < pps.length - 1; n++) assert.throws(() => parseH265Pps(pps.subarray(0, n)), isSpsError);
  for (let n = 0; n < 12; n++) assert.throws(() => parseH265Vps(vps.subarray(0, n)), isSpsError);
  assert.deepEqual(sps, parameterSets(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc')).sps, 'input untouched');
});

test('random bytes only ever throw GatewayError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.constantFrom(0x40, 0x42, 0x44), (body, first) => {
    const nalu = Uint8Array.of(first, 0x01, ...body);
    for (const parse of [parseH265Vps, parseH265Sps, parseH265Pps]) {
      try {
        parse(nalu);
      } catch (e) {
        assert.ok(e instanceof GatewayError, String(e));
      }
    }
  }), { numRuns: 2000 });
});
