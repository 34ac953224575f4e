/**
 * HEVCDecoderConfigurationRecord: byte-identical to the `hvcC` ffmpeg writes into an MP4 (`-tag:v hvc1`) for the
 * same parameter sets — for the fixtures and for run-time encodes with 4:4:4 10-bit, two temporal sub-layers and
 * HRD; parse round trip; corrupt and truncated records throw HevcConfig.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GatewayError } from '../../../../core/errors.ts';
import { splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import { H265NaluType, h265NaluType } from '../../../../core/codec/h265/nalu.ts';
import { buildHevcDecoderConfigurationRecord, parseHevcDecoderConfigurationRecord } from '../../../../core/codec/h265/hevc-decoder-config.ts';
import { encodeHevc, h265Fixture, mp4HvcC } from '../../../helpers/rtp-h265-packetizer.ts';

function parameterSets(path: string): [Uint8Array, Uint8Array, Uint8Array] {
  const nalus = splitAnnexB(readFileSync(path));
  const find = (t: number): Uint8Array => nalus.find((n) => h265NaluType(n) === t)!;
  return [find(H265NaluType.Vps), find(H265NaluType.Sps), find(H265NaluType.Pps)];
}

/** ffmpeg's hvcC for a raw stream: remux to MP4 with the hvc1 tag and read the box. */
function ffmpegHvcC(hevc: string, dir: string): Buffer {
  const mp4 = join(dir, 'out.mp4');
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', hevc, '-c', 'copy', '-tag:v', 'hvc1', '-f', 'mp4', mp4]);
  return mp4HvcC(readFileSync(mp4));
}

test('equal to ffmpeg hvcC byte for byte (fixtures and run-time encodes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvcc-'));
  try {
    const inputs = [
      h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc'),
      h265Fixture('h265/testsrc2-320x240-bf0-2s.hevc'),
      encodeHevc(dir, 'rext', { size: '160x96', pixFmt: 'yuv444p10le', x265Params: 'bframes=2' }),
      encodeHevc(dir, 'layers', { size: '160x96', pixFmt: 'yuv420p', x265Params: 'bframes=3:temporal-layers=1' }),
      encodeHevc(dir, 'hrd', { size: '160x96', pixFmt: 'yuv420p', x265Params: 'bframes=3:hrd=1:vbv-bufsize=500:vbv-maxrate=500' }),
      // Not compared: temporal-layers=1 + hrd=1. ffmpeg 5.1 then reads min_spatial_segmentation_idc 2 from the VUI, yet
      // the SPS parses to its rbsp_trailing_bits with no bitstream_restriction (sps.test.ts checks fps after the HRD).
    ];
    for (const input of inputs) {
      const [vps, sps, pps] = parameterSets(input);
      const ours = buildHevcDecoderConfigurationRecord(vps, sps, pps);
      assert.equal(ours.toString('hex'), ffmpegHvcC(input, dir).toString('hex'), input);
      const parsed = parseHevcDecoderConfigurationRecord(ours);
      assert.equal(parsed.lengthSizeMinusOne, 3);
      assert.deepEqual(parsed.vps, [Buffer.from(vps)]);
      assert.deepEqual(parsed.sps, [Buffer.from(sps)]);
      assert.deepEqual(parsed.pps, [Buffer.from(pps)]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parse skips SEI arrays and keeps several parameter sets per array', () => {
  const [vps, sps, pps] = parameterSets(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc'));
  const rec = buildHevcDecoderConfigurationRecord(vps, sps, pps);
  const sei = Buffer.from([0x4e, 0x01, 0x05, 0x01, 0x80]);
  const extra = Buffer.concat([
    rec.subarray(0, 22), Buffer.from([5]), rec.subarray(23),
    Buffer.from([0x80 | 39, 0, 1, 0, sei.length]), sei,
    Buffer.from([0x80 | 34, 0, 1, 0, pps.length]), pps,
  ]);
  const parsed = parseHevcDecoderConfigurationRecord(extra);
  assert.equal(parsed.pps.length, 2);
  assert.equal(parsed.vps.length, 1);
});

test('wrong inputs and corrupt records throw typed errors', () => {
  const [vps, sps, pps] = parameterSets(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc'));
  const code = (c: string) => (e: unknown): boolean => e instanceof GatewayError && e.code === c;
  assert.throws(() => buildHevcDecoderConfigurationRecord(sps, vps, pps), code('GW_ERR_HEVC_CONFIG'));
  assert.throws(() => buildHevcDecoderConfigurationRecord(vps, sps, Uint8Array.of(0x44)), code('GW_ERR_HEVC_CONFIG'));
  assert.throws(() => buildHevcDecoderConfigurationRecord(vps, sps.subarray(0, 8), pps), code('GW_ERR_H265_SPS'));
  const rec = buildHevcDecoderConfigurationRecord(vps, sps, pps);
  const before = Buffer.from(rec);
  for (let n = 0; n < rec.length; n++) assert.throws(() => parseHevcDecoderConfigurationRecord(rec.subarray(0, n)), code('GW_ERR_HEVC_CONFIG'), `cut at ${n}`);
  const badVersion = Buffer.from(rec);
  badVersion[0] = 2;
  assert.throws(() => parseHevcDecoderConfigurationRecord(badVersion), code('GW_ERR_HEVC_CONFIG'));
  const threeByteLengths = Buffer.from(rec);
  threeByteLengths[21] = (threeByteLengths[21] & 0xfc) | 2;
  assert.throws(() => parseHevcDecoderConfigurationRecord(threeByteLengths), code('GW_ERR_HEVC_CONFIG'));
  assert.deepEqual(rec, before, 'input untouched');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
    try {
      parseHevcDecoderConfigurationRecord(bytes);
    } catch (e) {
      assert.ok(e instanceof GatewayError, String(e));
    }
  }), { numRuns: 2000 });
});
