/**
 * H264DtsExtractor on real encoder output: access units are demuxed from MPEG-TS files whose DTS was written by the
 * encoder/muxer (x264 through ffmpeg, x264enc through GStreamer mpegtsmux); only the PTS is fed in, and the DTS that
 * comes out must equal the muxer's DTS up to one constant offset, be strictly increasing and never exceed the PTS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import { parseSps } from '../../../../core/codec/h264/sps.ts';
import { H264DtsExtractor } from '../../../../core/codec/h264/dts-extractor.ts';
import { BitWriter, toNalu, withoutBitstreamRestriction } from './h264-bits.ts';

const fixture = (path: string): string => fileURLToPath(new URL(`../../../../fixtures/${path}`, import.meta.url));

interface Au { nalus: Uint8Array[]; pts90k: number; dts90k: number }

function demuxVideo(path: string): Au[] {
  const aus: Au[] = [];
  const demuxer = new TsDemuxer({
    onProgram: () => {},
    onPes: (track, data, pts90k, dts90k) => { if (track.codec === 'h264') aus.push({ nalus: splitAnnexB(data), pts90k: pts90k!, dts90k: dts90k! }); },
    onDecodeError: (e) => assert.fail(e.message),
  });
  demuxer.push(readFileSync(fixture(path)));
  demuxer.flush();
  return aus;
}

const type = (n: Uint8Array): number => n[0]! & 0x1f;

/** Feeds the PTS only; checks DTS < next DTS, DTS ≤ PTS, and returns the DTS list. */
function extractAll(x: H264DtsExtractor, aus: readonly Au[], what: string): number[] {
  const out: number[] = [];
  for (const [i, au] of aus.entries()) {
    const dts = x.extract(au.nalus, au.pts90k);
    assert.ok(Number.isInteger(dts), `${what} #${i}: integer DTS`);
    assert.ok(dts <= au.pts90k, `${what} #${i}: DTS ${dts} ≤ PTS ${au.pts90k}`);
    if (out.length > 0) assert.ok(dts > out[out.length - 1]!, `${what} #${i}: DTS ${dts} > previous ${out[out.length - 1]}`);
    out.push(dts);
  }
  return out;
}

const FIXTURES: { path: string; reordered: boolean; label: string }[] = [
  { path: 'ts/h264-bframes-aac-320x240-10s.ts', reordered: true, label: 'x264 -bf 3 (b-pyramid normal), 10 s' },
  { path: 'h264/x264-bf3-pyramid-3s.ts', reordered: true, label: 'x264 -bf 3 -b-pyramid normal' },
  { path: 'h264/x264-bf3-nopyramid-3s.ts', reordered: true, label: 'x264 -bf 3 -b-pyramid none' },
  { path: 'h264/x264-bf0-3s.ts', reordered: false, label: 'x264 -bf 0 (POC type 2)' },
  { path: 'h264/x264-interlaced-bf2-3s.ts', reordered: true, label: 'x264 interlaced (MBAFF) -bf 2' },
  { path: 'h264/gst-x264enc-bf2-3s.ts', reordered: true, label: 'GStreamer x264enc bframes=2 + mpegtsmux' },
];

for (const f of FIXTURES) {
  test(`${f.label}: DTS from PTS alone = the muxer's DTS (constant offset 0)`, () => {
    const aus = demuxVideo(f.path);
    assert.ok(aus.length >= 75);
    assert.equal(aus.some((a) => a.pts90k !== a.dts90k), f.reordered, 'fixture has (or lacks) reordering');
    const copies = aus.map((a) => a.nalus.map((n) => Buffer.from(n)));
    const dts = extractAll(new H264DtsExtractor(), aus, f.label);
    assert.deepEqual(aus.map((a) => a.nalus.map((n) => Buffer.from(n))), copies, 'input integrity');
    const offsets = new Set(aus.map((a, i) => a.dts90k - dts[i]!));
    assert.deepEqual([...offsets], [0], 'DTS − muxer DTS is one constant');
  });
}

test('SPS without VUI bitstream_restriction: the reorder depth is learned from POC jumps; DTS stays valid', () => {
  const aus = demuxVideo('h264/x264-bf3-pyramid-3s.ts');
  const sps = aus[0]!.nalus.find((n) => type(n) === 7)!;
  const stripped = withoutBitstreamRestriction(sps, 2);
  const info = parseSps(stripped);
  assert.equal(info.maxNumReorderFrames, undefined);
  assert.deepEqual({ ...info, maxNumReorderFrames: 2 }, parseSps(sps));
  const modified = aus.map((a) => ({ ...a, nalus: a.nalus.map((n) => (type(n) === 7 ? stripped : n)) }));
  const dts = extractAll(new H264DtsExtractor(), modified, 'no VUI reorder');
  // Once the window has grown (first GOP), DTS is the muxer's DTS shifted by one constant again.
  const offsets = new Set(modified.slice(25).map((a, i) => a.dts90k - dts[i + 25]!));
  assert.equal(offsets.size, 1, `constant offset after the first GOP: ${[...offsets].join(', ')}`);
});

test('out-of-band SPS/PPS (setParameterSets) = in-band; AUs before the first IDR throw H264Nalu', () => {
  const aus = demuxVideo('h264/x264-bf3-pyramid-3s.ts');
  const sps = aus[0]!.nalus.find((n) => type(n) === 7)!;
  const pps = aus[0]!.nalus.find((n) => type(n) === 8)!;
  const expected = extractAll(new H264DtsExtractor(), aus, 'in-band');
  const x = new H264DtsExtractor();
  const isH264Nalu = (e: unknown): boolean => e instanceof GatewayError && e.code === ErrorCode.H264Nalu;
  assert.throws(() => x.extract(aus[1]!.nalus, aus[1]!.pts90k), isH264Nalu, 'no SPS yet');
  x.setParameterSets(sps, pps);
  assert.throws(() => x.extract(aus[1]!.nalus, aus[1]!.pts90k), /waiting for the first IDR/);
  const stripped = aus.map((a) => ({ ...a, nalus: a.nalus.filter((n) => type(n) !== 7 && type(n) !== 8) }));
  assert.deepEqual(extractAll(x, stripped, 'out-of-band'), expected);
});

test('joining mid-stream: AUs throw until the next IDR, then DTS = the muxer DTS + constant', () => {
  const aus = demuxVideo('h264/x264-bf3-pyramid-3s.ts').slice(7);
  const x = new H264DtsExtractor();
  const firstIdr = aus.findIndex((a) => a.nalus.some((n) => type(n) === 5));
  for (let i = 0; i < firstIdr; i++) assert.throws(() => x.extract(aus[i]!.nalus, aus[i]!.pts90k), GatewayError);
  const rest = aus.slice(firstIdr);
  const dts = extractAll(x, rest, 'joined');
  assert.equal(new Set(rest.map((a, i) => a.dts90k - dts[i]!)).size, 1);
});

test('bad AUs throw H264Nalu and leave the state as it was; dropped B-frames keep DTS valid', () => {
  const aus = demuxVideo('h264/x264-bf3-pyramid-3s.ts');
  const expected = extractAll(new H264DtsExtractor(), aus, 'reference');
  const x = new H264DtsExtractor();
  const isH264 = (e: unknown): boolean => e instanceof GatewayError && (e.code === ErrorCode.H264Nalu || e.code === ErrorCode.H264Sps);
  const got: number[] = [];
  for (const [i, au] of aus.entries()) {
    if (i === 10) {
      assert.throws(() => x.extract([Buffer.from([0x09, 0xf0])], au.pts90k), /without a coded slice/);
      const slice = au.nalus.find((n) => type(n) === 1)!;
      assert.throws(() => x.extract([slice.subarray(0, 2)], au.pts90k), isH264, 'truncated slice header');
      assert.throws(() => x.extract([Buffer.from([0x41, 0x80, 0x00])], au.pts90k), isH264, 'slice cut in frame_num');
    }
    got.push(x.extract(au.nalus, au.pts90k));
  }
  assert.deepEqual(got, expected);

  // Non-reference B-frames (nal_ref_idc 0) dropped upstream: DTS still increasing and ≤ PTS.
  const thinned = aus.filter((a, i) => i % 7 !== 3 || a.nalus.some((n) => type(n) === 1 && (n[0]! & 0x60) !== 0));
  assert.ok(thinned.length < aus.length);
  extractAll(new H264DtsExtractor(), thinned, 'thinned');
});

/** POC type 1 (8.2.1.2) stream: I P B P B … with offset_for_ref_frame[0] = 4, offset_for_non_ref_pic = −2, no VUI. */
function pocType1Stream(): { sps: Buffer; pps: Buffer; aus: { nalus: Buffer[]; pts90k: number }[] } {
  const sps = toNalu(0x67, new BitWriter()
    .bits(66, 8).bits(0xc0, 8).bits(30, 8).ue(0) // profile_idc, constraint flags, level_idc, seq_parameter_set_id
    .ue(0).ue(1) // log2_max_frame_num_minus4 = 0, pic_order_cnt_type = 1
    .flag(false).se(-2).se(0).ue(1).se(4) // delta_pic_order_always_zero_flag, offsets, cycle of 1: offset_for_ref_frame[0] = 4
    .ue(4).flag(false).ue(19).ue(14).flag(true).flag(true).flag(false).flag(false) // refs, gaps, 320x240, frame_mbs_only, direct_8x8, no crop, no VUI
    .rbsp());
  const pps = toNalu(0x68, new BitWriter().ue(0).ue(0).flag(false).flag(false).ue(0).rbsp());
  const slice = (idr: boolean, ref: boolean, sliceType: number, frameNum: number): Buffer => {
    const w = new BitWriter().ue(0).ue(sliceType).ue(0).bits(frameNum % 16, 4);
    if (idr) w.ue(0);
    w.se(0).bits(0xabcd, 16); // delta_pic_order_cnt[0], then slice data
    return toNalu((ref ? 0x60 : 0) | (idr ? 5 : 1), w.rbsp());
  };
  const aus = [{ nalus: [sps, pps, slice(true, true, 7, 0)], pts90k: 0 }];
  // decode order: P(2k) B(2k−1): P frame_num k, B frame_num k+1 (non-reference)
  for (let k = 1; k <= 8; k++) {
    aus.push({ nalus: [slice(false, true, 5, k)], pts90k: 2 * k * 3600 });
    aus.push({ nalus: [slice(false, false, 6, k + 1)], pts90k: (2 * k - 1) * 3600 });
  }
  return { sps, pps, aus };
}

test('POC type 1 without VUI: reorder depth 1 learned from the first P; then DTS = PTS delayed by one frame', () => {
  const { sps, aus } = pocType1Stream();
  assert.equal(parseSps(sps).pocType, 1);
  const dts = extractAll(new H264DtsExtractor(), aus.map((a) => ({ ...a, dts90k: 0 })), 'POC type 1');
  assert.deepEqual(dts.slice(0, 5), [0, 1800, 3600, 7200, 10800]);
  assert.deepEqual(dts.slice(2), aus.map((a) => a.pts90k).sort((a, b) => a - b).slice(1, -1));
});

test('fast-check: arbitrary NAL units after a valid IDR never throw anything but GatewayError', () => {
  const aus = demuxVideo('h264/x264-bf3-pyramid-3s.ts');
  const nalu = fc.tuple(fc.constantFrom(0x01, 0x41, 0x65, 0x06, 0x67, 0x68, 0x09), fc.uint8Array({ maxLength: 24 }))
    .map(([h, rest]) => Uint8Array.of(h, ...rest));
  fc.assert(fc.property(fc.array(fc.tuple(fc.array(nalu, { maxLength: 3 }), fc.integer({ min: -3600, max: 36000 })), { maxLength: 12 }), (list) => {
    const x = new H264DtsExtractor();
    let prev = x.extract(aus[0]!.nalus, aus[0]!.pts90k);
    let pts = aus[0]!.pts90k;
    for (const [nalus, step] of list) {
      pts += step;
      try {
        const dts = x.extract(nalus, pts);
        assert.ok(dts > prev && dts <= pts);
        prev = dts;
      } catch (e) {
        if (!(e instanceof GatewayError)) throw e;
      }
    }
  }), { numRuns: 300, seed: 6184 });
});
