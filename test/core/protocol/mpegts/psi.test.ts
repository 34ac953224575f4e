import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, GatewayError, isGatewayError } from '../../../../core/errors.ts';
import {
  codecOfStreamType, crc32Mpeg2, MAX_SECTION_SIZE, parsePat, parsePmt, PsiSectionAssembler, StreamType,
} from '../../../../core/protocol/mpegts/psi.ts';
import { patSection, pmtSection } from './ts-builder.ts';

test('CRC-32/MPEG-2 check value and zero residue over a section', () => {
  assert.equal(crc32Mpeg2(new TextEncoder().encode('123456789')), 0x0376e6e7); // catalogue check value
  assert.equal(crc32Mpeg2(patSection([[1, 0x1000]])), 0);
});

test('parses a PAT as written by ffmpeg (program 1 → PMT PID 0x1000)', () => {
  const pat = Uint8Array.of(
    0x00, //             table_id: program_association_section
    0xb0, 0x0d, //       section_syntax_indicator 1, section_length 13
    0x00, 0x01, //       transport_stream_id 1
    0xc1, //             version_number 0, current_next_indicator 1
    0x00, 0x00, //       section_number 0, last_section_number 0
    0x00, 0x01, 0xf0, 0x00, // program_number 1 → program_map_PID 0x1000
    0x2a, 0xb1, 0x04, 0xb2, // CRC_32
  );
  const before = Uint8Array.from(pat);
  assert.deepEqual(parsePat(pat), { transportStreamId: 1, versionNumber: 0, currentNextIndicator: true, programs: [{ programNumber: 1, pmtPid: 0x1000 }] });
  assert.deepEqual(pat, before, 'input integrity');
  assert.deepEqual(pat, patSection([[1, 0x1000]]), 'builder writes the same bytes');
});

test('parses a PMT with two streams and version 5; round-trips the builder', () => {
  const pmt = pmtSection(7, 0x100, [[StreamType.H264, 0x100], [StreamType.AdtsAac, 0x101]], 5);
  assert.deepEqual(parsePmt(pmt), {
    programNumber: 7, versionNumber: 5, currentNextIndicator: true, pcrPid: 0x100,
    streams: [{ streamType: 0x1b, elementaryPid: 0x100 }, { streamType: 0x0f, elementaryPid: 0x101 }],
  });
});

test('bad CRC → TsCrc; bad lengths → TsPsi', () => {
  const pat = Uint8Array.from(patSection([[1, 0x1000]]));
  pat[9] ^= 0x01;
  assert.throws(() => parsePat(pat), (e) => isGatewayError(e, ErrorCode.TsCrc));
  const long = Uint8Array.from(patSection([[1, 0x1000]]));
  long[2] = 0xff; // section_length past the end
  assert.throws(() => parsePat(long), (e) => isGatewayError(e, ErrorCode.TsPsi));
  assert.throws(() => parsePat(pat.subarray(0, 5)), (e) => isGatewayError(e, ErrorCode.TsPsi));
  assert.throws(() => parsePmt(patSection([[1, 0x1000]])), (e) => isGatewayError(e, ErrorCode.TsPsi), 'table_id 0 is not a PMT');
  // ES_info_length past the end, with a valid CRC
  const pmt = Uint8Array.from(pmtSection(1, 0x100, [[0x1b, 0x100]]));
  pmt[15] = 0xf0; pmt[16] = 0x40;
  const crc = crc32Mpeg2(pmt, 0, pmt.length - 4);
  pmt.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], pmt.length - 4);
  assert.throws(() => parsePmt(pmt), (e) => isGatewayError(e, ErrorCode.TsPsi));
});

test('codecOfStreamType', () => {
  assert.deepEqual([0x1b, 0x24, 0x0f, 0x03, 0x04, 0x06, 0x02].map(codecOfStreamType), ['h264', 'h265', 'aac', 'mp3', 'mp3', 'unknown', 'unknown']);
});

function assembler(): { a: PsiSectionAssembler; sections: Uint8Array[]; errors: GatewayError[] } {
  const sections: Uint8Array[] = [];
  const errors: GatewayError[] = [];
  const a = new PsiSectionAssembler({ onSection: (s) => sections.push(Uint8Array.from(s)), onSectionError: (e) => errors.push(e) });
  return { a, sections, errors };
}

test('section assembler: split over packets, pointer_field tail, two sections in one payload, header split', () => {
  const streams: [number, number][] = [];
  for (let i = 0; i < 60; i++) streams.push([0x1b, 0x100 + i]); // 12 + 300 + 4 bytes: spans two payloads
  const big = pmtSection(1, 0x100, streams);
  const small = patSection([[1, 0x1000]]);
  const { a, sections, errors } = assembler();
  const p1 = Uint8Array.of(0, ...big.subarray(0, 183)); // pointer_field 0
  const rest = big.subarray(183);
  const p2 = Uint8Array.of(rest.length, ...rest, ...small, ...small, 0xff, 0xff); // tail, then two new sections
  a.push(p1, 0, p1.length, true);
  assert.equal(sections.length, 0);
  a.push(p2, 0, p2.length, true);
  assert.deepEqual(sections, [big, small, small]);
  // section header split after 2 bytes, continued without PUSI
  const p3 = Uint8Array.of(0, ...new Array<number>(10).fill(0xee), ...small.subarray(0, 2));
  const p4 = small.subarray(2);
  a.push(p3, 0, p3.length, true); // 0xEE 0xEE: section_length 0xEEE > 1021 → reported, rest of payload skipped
  assert.equal(errors.length, 1);
  const p5 = Uint8Array.of(0, ...small.subarray(0, 2));
  a.push(p5, 0, p5.length, true);
  a.push(p4, 0, p4.length, false);
  assert.deepEqual(sections.at(-1), small);
  assert.equal(sections.length, 4);
});

test('section assembler: pointer_field past the end and oversize section_length are reported', () => {
  const { a, sections, errors } = assembler();
  const p = Uint8Array.of(200, 1, 2, 3);
  a.push(p, 0, p.length, true);
  const huge = Uint8Array.of(0, 0x02, 0xb3, 0xff); // section_length 1023 > 1021
  a.push(huge, 0, huge.length, true);
  assert.equal(sections.length, 0);
  assert.deepEqual(errors.map((e) => e.code), [ErrorCode.TsPsi, ErrorCode.TsPsi]);
  assert.ok(MAX_SECTION_SIZE === 1024);
});

test('fast-check: PAT/PMT parsers and the assembler throw nothing but GatewayError on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, pusi) => {
      for (const parse of [parsePat, parsePmt]) {
        try { parse(bytes); } catch (e) { assert.ok(e instanceof GatewayError, String(e)); }
      }
      const { a } = assembler();
      a.push(bytes, 0, bytes.length, pusi);
      a.push(bytes, 0, bytes.length, false);
    }),
    { numRuns: 500 },
  );
});
