/**
 * parseSliceHeader / parsePpsForSlice / parseSpsPocFields, checked field by field against ffmpeg's own bitstream
 * parser (`-bsf:v trace_headers`, run live) on every slice of the fixtures; corrupt and truncated input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { TsDemuxer } from '../../../../core/protocol/mpegts/ts-demuxer.ts';
import { splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import { parseSps } from '../../../../core/codec/h264/sps.ts';
import { parsePpsForSlice, parseSliceHeader, parseSpsPocFields } from '../../../../core/codec/h264/slice-header.ts';
import type { PpsSliceInfo } from '../../../../core/codec/h264/slice-header.ts';
import { SPS_VECTORS } from '../../../helpers/vectors.ts';

const fixture = (path: string): string => fileURLToPath(new URL(`../../../../fixtures/${path}`, import.meta.url));

function nalus(path: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const demuxer = new TsDemuxer({
    onProgram: () => {},
    onPes: (track, data) => { if (track.codec === 'h264') out.push(...splitAnnexB(data)); },
    onDecodeError: (e) => assert.fail(e.message),
  });
  demuxer.push(readFileSync(fixture(path)));
  demuxer.flush();
  return out;
}

/** trace_headers: one record per "Slice Header" / "Picture Parameter Set" with its `name ... = value` lines. */
function trace(path: string): { kind: string; fields: Map<string, number> }[] {
  const r = spawnSync('ffmpeg', ['-nostdin', '-hide_banner', '-i', fixture(path), '-map', '0:v', '-c', 'copy',
    '-bsf:v', 'trace_headers', '-f', 'null', '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return parseTrace(r.stderr);
}
function parseTrace(log: string): { kind: string; fields: Map<string, number> }[] {
  const records: { kind: string; fields: Map<string, number> }[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('[trace_headers')) continue;
    const body = line.slice(line.indexOf(']') + 2);
    const m = /^\d+\s+(\w+)(?:\[\d+\])?\s+[01]+ = (-?\d+)$/.exec(body);
    if (!m) records.push({ kind: body, fields: new Map() }); // a structure heading: SPS, PPS, SEI, Slice Header…
    else if (records.length > 0 && !records[records.length - 1]!.fields.has(m[1]!)) records[records.length - 1]!.fields.set(m[1]!, Number(m[2]));
  }
  return records;
}

for (const path of ['h264/x264-bf3-pyramid-3s.ts', 'h264/x264-interlaced-bf2-3s.ts', 'h264/gst-x264enc-bf2-3s.ts']) {
  test(`${path}: every slice header matches ffmpeg trace_headers`, () => {
    const all = nalus(path);
    const slices = all.filter((n) => (n[0]! & 0x1f) === 1 || (n[0]! & 0x1f) === 5);
    const sps = parseSps(all.find((n) => (n[0]! & 0x1f) === 7)!);
    const ppsMap = new Map<number, PpsSliceInfo>();
    for (const n of all.filter((x) => (x[0]! & 0x1f) === 8)) { const p = parsePpsForSlice(n); ppsMap.set(p.ppsId, p); }
    const records = trace(path);
    const traced = records.filter((r) => r.kind === 'Slice Header');
    const ppsTrace = records.find((r) => r.kind === 'Picture Parameter Set')!.fields;
    assert.deepEqual(ppsMap.get(0), {
      ppsId: ppsTrace.get('pic_parameter_set_id'), spsId: ppsTrace.get('seq_parameter_set_id'),
      bottomFieldPicOrderInFramePresent: ppsTrace.get('bottom_field_pic_order_in_frame_present_flag') === 1,
    });
    assert.equal(slices.length, traced.length);
    slices.forEach((s, i) => {
      const before = Buffer.from(s);
      const h = parseSliceHeader(s, sps, ppsMap);
      assert.deepEqual(s, before, 'input integrity');
      const f = traced[i]!.fields;
      const expected: Record<string, unknown> = {
        ppsId: f.get('pic_parameter_set_id'), sliceType: f.get('slice_type'), frameNum: f.get('frame_num'),
        fieldPic: f.get('field_pic_flag') === 1, bottomField: f.get('bottom_field_flag') === 1,
      };
      if (f.has('idr_pic_id')) expected.idrPicId = f.get('idr_pic_id');
      if (f.has('pic_order_cnt_lsb')) expected.picOrderCntLsb = f.get('pic_order_cnt_lsb');
      if (f.has('delta_pic_order_cnt_bottom')) expected.deltaPicOrderCntBottom = f.get('delta_pic_order_cnt_bottom');
      assert.deepEqual({ ...h }, expected, `slice ${i}`);
    });
    assert.ok(slices.some((s) => parseSliceHeader(s, sps, ppsMap).sliceType % 5 === 1), 'has B slices');
  });
}

test('parseSpsPocFields on the labelled SPS vectors: POC type 0/2 streams carry no type-1 offsets', () => {
  for (const v of SPS_VECTORS) {
    const f = parseSpsPocFields(Buffer.from(v.sps, 'hex'));
    assert.deepEqual(f, { separateColourPlane: false, deltaPicOrderAlwaysZero: false, offsetForNonRefPic: 0, offsetForTopToBottomField: 0, offsetForRefFrame: [] }, v.label);
    const pps = parsePpsForSlice(Buffer.from(v.pps, 'hex'));
    assert.equal(pps.ppsId, 0, v.label);
  }
});

test('errors: wrong NAL type, truncation, unknown PPS id → GatewayError(H264Nalu)', () => {
  const sps = { frameMbsOnly: true, pocType: 0, log2MaxFrameNum: 4, log2MaxPocLsb: 6 };
  const pps = { bottomFieldPicOrderInFramePresent: false };
  const isNalu = (e: unknown): boolean => e instanceof GatewayError && e.code === ErrorCode.H264Nalu;
  assert.throws(() => parseSliceHeader(Buffer.from([0x67, 0x88]), sps, pps), isNalu);
  assert.throws(() => parseSliceHeader(new Uint8Array(0), sps, pps), isNalu);
  assert.throws(() => parseSliceHeader(Buffer.from([0x65, 0x88]), sps, pps), isNalu, 'truncated in frame_num');
  assert.throws(() => parseSliceHeader(Buffer.from([0x41, 0x9a, 0x00, 0x00]), sps, new Map()), /pic_parameter_set_id 0 not received/);
  assert.throws(() => parsePpsForSlice(Buffer.from([0x68])), isNalu);
  assert.throws(() => parsePpsForSlice(Buffer.from([0x41, 0xce])), isNalu);
  assert.throws(() => parseSpsPocFields(Buffer.from([0x68, 0xce])), (e: unknown) => e instanceof GatewayError && e.code === ErrorCode.H264Sps);
});

test('fast-check: arbitrary bytes never throw anything but GatewayError', () => {
  const sps = { frameMbsOnly: false, pocType: 1, log2MaxFrameNum: 16, log2MaxPocLsb: 0 };
  fc.assert(fc.property(fc.constantFrom(0x65, 0x41, 0x68, 0x67), fc.uint8Array({ maxLength: 40 }), fc.boolean(), (h, rest, bottom) => {
    const n = Uint8Array.of(h, ...rest);
    for (const f of [() => parseSliceHeader(n, sps, { bottomFieldPicOrderInFramePresent: bottom }), () => parsePpsForSlice(n), () => parseSpsPocFields(n)]) {
      try { f(); } catch (e) { if (!(e instanceof GatewayError)) throw e; }
    }
  }), { numRuns: 1000, seed: 6184 });
});
