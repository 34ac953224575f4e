/**
 * H.265 NAL unit header and type classes (ITU-T H.265 7.3.1.2, Table 7-1), checked on the NAL units of a real
 * libx265 stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../../../../core/errors.ts';
import { splitAnnexB } from '../../../../core/codec/h264/nalu.ts';
import {
  checkH265NaluHeader, H265NaluType, h265NaluType, h265TemporalId, isIdr, isIrap, isParameterSetOrAud, isRadl, isRasl,
  isSubLayerNonReference, isVcl,
} from '../../../../core/codec/h265/nalu.ts';
import { h265Fixture } from '../../../helpers/rtp-h265-packetizer.ts';

test('type, temporal id and header check on a libx265 stream', () => {
  const nalus = splitAnnexB(readFileSync(h265Fixture('h265/testsrc2-320x240-bf3-2s.hevc')));
  const types = nalus.map(h265NaluType);
  assert.deepEqual(types.slice(0, 6), [H265NaluType.Vps, H265NaluType.Sps, H265NaluType.Pps, H265NaluType.PrefixSei, H265NaluType.IdrNLp, H265NaluType.TrailR]);
  assert.ok(types.includes(H265NaluType.Cra), 'the second keyframe is a CRA (x265 open GOP)');
  for (const n of nalus) {
    checkH265NaluHeader(n);
    assert.equal(h265TemporalId(n), 0);
  }
});

test('type classes follow Table 7-1', () => {
  for (let t = 0; t < 64; t++) {
    assert.equal(isVcl(t), t <= 31, `VCL ${t}`);
    assert.equal(isIrap(t), t >= 16 && t <= 23, `IRAP ${t}`);
    assert.equal(isIdr(t), t === 19 || t === 20, `IDR ${t}`);
    assert.equal(isRasl(t), t === 8 || t === 9);
    assert.equal(isRadl(t), t === 6 || t === 7);
    assert.equal(isSubLayerNonReference(t), [0, 2, 4, 6, 8, 10, 12, 14].includes(t));
    assert.equal(isParameterSetOrAud(t), t >= 32 && t <= 35);
  }
  assert.equal(h265NaluType(Uint8Array.of(0x40, 0x01)), 32);
  assert.equal(h265NaluType(Uint8Array.of(0x26, 0x01)), 19);
});

test('corrupt headers are refused with H265Nalu', () => {
  const bad = [Uint8Array.of(0x40), Uint8Array.of(0xc0, 0x01), Uint8Array.of(0x40, 0x00)];
  for (const n of bad) {
    assert.throws(() => checkH265NaluHeader(n), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_H265_NALU');
  }
  assert.equal(h265TemporalId(Uint8Array.of(0x40)), -1);
  assert.equal(h265TemporalId(Uint8Array.of(0x40, 0x03)), 2);
});
