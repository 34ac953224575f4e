/**
 * HevcPackager on the libx265 bframes=3 fixture (true PTS/DTS from the MPEG-TS): Enhanced RTMP headers, hvcC
 * sequence start equal to buildHevcDecoderConfigurationRecord, CTS, CodedFramesX, keyframes at IRAP pictures,
 * parameter-set changes, drops before config, corrupt input counted, inputs untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { splitAvcc } from '../../../../core/codec/h264/nalu.ts';
import { buildHevcDecoderConfigurationRecord, parseHevcDecoderConfigurationRecord } from '../../../../core/codec/h265/hevc-decoder-config.ts';
import { HevcPackager } from '../../../../core/codec/h265/hevc-packager.ts';
import { h265NaluType, isParameterSetOrAud } from '../../../../core/codec/h265/nalu.ts';
import { readVideoTagHeader } from '../../../../core/protocol/flv/flv-tag.ts';
import { videoInfo } from '../../../../core/hub/meta-cache.ts';
import { h265Fixture, splitH265AccessUnits, tsAccessUnits } from '../../../helpers/rtp-h265-packetizer.ts';

const BF3_TS = h265Fixture('h265/testsrc2-320x240-bf3-2s.ts');

test('one message per AU: sequence start, CodedFrames with CTS, keyframes at IRAP', () => {
  const aus = tsAccessUnits(BF3_TS);
  const p = new HevcPackager();
  const msgs = aus.flatMap((au) => p.packAccessUnit(au.nalus, au.pts90k, au.dts90k));
  assert.equal(p.errors, 0);
  assert.equal(p.droppedBeforeConfig, 0);
  assert.deepEqual([p.sps?.width, p.sps?.height, p.sps?.fps], [320, 240, 25]);
  const config = msgs[0];
  assert.equal(config.kind, 'video-config');
  assert.equal(config.payload.subarray(0, 5).toString('latin1'), '\x90hvc1');
  const [, vps, sps, pps] = aus[0].nalus;
  assert.deepEqual(config.payload.subarray(5), buildHevcDecoderConfigurationRecord(vps, sps, pps));
  assert.deepEqual(videoInfo(config.payload), { codec: 'hevc', profile: 1, level: 60 });
  const frames = msgs.slice(1);
  assert.equal(frames.length, 50, 'the CRA repeats the same parameter sets: no second config');
  let coded = 0;
  let codedX = 0;
  frames.forEach((m, i) => {
    const au = aus[i];
    const h = readVideoTagHeader(m.payload);
    assert.ok(h.isExHeader && h.fourCc === 'hvc1');
    assert.equal(m.timestamp, au.dts90k / 90);
    assert.equal(h.compositionTime, (au.pts90k - au.dts90k) / 90);
    if (h.packetType === 1) coded++;
    if (h.packetType === 3) codedX++;
    assert.equal(h.packetType, au.pts90k === au.dts90k ? 3 : 1);
    const keep = au.nalus.filter((n) => !isParameterSetOrAud(h265NaluType(n)));
    assert.deepEqual(splitAvcc(m.payload.subarray(h.headerLength), 4), keep.map((n) => Buffer.from(n)));
    assert.equal(m.kind, i === 0 || i === 25 ? 'keyframe' : 'interframe', `AU ${i}`);
  });
  assert.ok(coded > 20 && codedX > 10, `${coded} CodedFrames, ${codedX} CodedFramesX`);
});

test('out-of-band parameter sets, changes and drops before config', () => {
  const aus = splitH265AccessUnits(readFileSync(h265Fixture('h265/testsrc2-320x240-bf0-2s.hevc')));
  const bf3 = tsAccessUnits(BF3_TS)[0].nalus;
  const p = new HevcPackager();
  assert.deepEqual(p.packAccessUnit(aus[1], 3600, 3600), []);
  assert.equal(p.droppedBeforeConfig, 1);
  const [vps, sps, pps] = aus[0];
  p.setParameterSets(vps, sps, pps);
  const first = p.packAccessUnit(aus[1], 7200, 7200);
  assert.deepEqual(first.map((m) => m.kind), ['video-config', 'interframe']);
  const h = readVideoTagHeader(first[1].payload);
  assert.ok(h.isExHeader && h.packetType === 3, 'CodedFramesX when PTS = DTS');
  // A different SPS in band (the bframes=3 stream's): a new config before the frame.
  const changed = p.packAccessUnit([bf3[2], aus[2][0]], 10800, 10800);
  assert.deepEqual(changed.map((m) => m.kind), ['video-config', 'interframe']);
  assert.equal(parseHevcDecoderConfigurationRecord(changed[0].payload.subarray(5)).sps[0].length, bf3[2].length);
  // Parameter sets only: config, no frame. Same again: nothing.
  assert.deepEqual(p.packAccessUnit([vps, sps, pps], 14400, 14400).map((m) => m.kind), ['video-config']);
  assert.deepEqual(p.packAccessUnit([vps, sps, pps], 14400, 14400), []);
  assert.throws(() => p.setParameterSets(sps, vps, pps));
});

test('corrupt NAL units are counted, never thrown; inputs are not mutated', () => {
  const aus = tsAccessUnits(BF3_TS);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(49), fc.nat(60), fc.integer({ min: 0, max: 255 })), { maxLength: 30 }), (ops) => {
    const p = new HevcPackager();
    for (const [i, at, value] of ops) {
      const nalus = aus[i].nalus.map((n) => Uint8Array.from(n));
      const target = nalus[Math.min(at % 5, nalus.length - 1)];
      if (at < target.length) target[at] = value;
      const copy = nalus.map((n) => Uint8Array.from(n));
      for (const m of p.packAccessUnit(nalus, aus[i].pts90k, aus[i].dts90k)) assert.ok(m.payload.length > 5);
      assert.deepEqual(nalus, copy);
    }
  }), { numRuns: 200 });
  const p = new HevcPackager();
  p.packAccessUnit([Uint8Array.of(0x42, 0x01, 0xff)], 0, 0);
  assert.equal(p.errors, 1);
});
