/**
 * RtspRequestReader / serializers on request transcripts captured from ffmpeg 5.1 and GStreamer 1.22
 * rtspclientsink (fixtures/rtsp, see fixtures/README.md), plus hand-made malformed, oversized, truncated and
 * pipelined inputs and a fast-check property.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import {
  RTSP_MAX_BODY,
  RTSP_MAX_HEADER_BYTES,
  RTSP_MAX_HEADER_VALUE,
  RTSP_MAX_HEADERS,
  RTSP_MAX_REQUEST_LINE,
  RtspHeaders,
  RtspRequestError,
  RtspRequestReader,
} from '../../../../core/protocol/rtsp/rtsp-message.ts';
import { serializeInterleavedFrame, serializeRtspResponse } from '../../../../core/protocol/rtsp/rtsp-response.ts';
import type { RtspInput, RtspRequest } from '../../../../core/protocol/rtsp/rtsp-message.ts';

const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`../../../../fixtures/rtsp/${name}`, import.meta.url)));

const TRANSCRIPTS = [
  'ffmpeg-tcp-h264-aac.txt',
  'ffmpeg-udp-h264-aac.txt',
  'ffmpeg-tcp-h264-pcma.txt',
  'ffmpeg-tcp-h265-aac.txt',
  'ffmpeg-tcp-h264-latm.txt',
  'gst-tcp-h264-aac.txt',
  'gst-udp-h264-aac.txt',
  'gst-tcp-h265.txt',
];

/** Comparable form of the reader's output. */
type Plain = { kind: 'request'; method: string; uri: string; headers: [string, string][]; body: string } | { kind: 'interleaved'; channel: number; payload: string };

function plain(inputs: readonly RtspInput[]): Plain[] {
  return inputs.map((i) =>
    i.kind === 'request'
      ? { kind: 'request', method: i.request.method, uri: i.request.uri, headers: [...i.request.headers.entries()], body: i.request.body.toString('hex') }
      : { kind: 'interleaved', channel: i.channel, payload: i.payload.toString('hex') },
  );
}

/** Feed `bytes` in chunks of the given sizes (cycled) and collect everything. */
function readChunked(bytes: Buffer, sizes: readonly number[]): { inputs: RtspInput[]; reader: RtspRequestReader } {
  const reader = new RtspRequestReader();
  const inputs: RtspInput[] = [];
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] as number);
    inputs.push(...reader.push(bytes.subarray(off, off + n)));
    off += n;
  }
  return { inputs, reader };
}

function requests(inputs: readonly RtspInput[]): RtspRequest[] {
  return inputs.flatMap((i) => (i.kind === 'request' ? [i.request] : []));
}

function expectError(fn: () => unknown, status: number, cseq?: string): RtspRequestError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof RtspRequestError, `expected RtspRequestError, got ${String(caught)}`);
  assert.ok(caught instanceof GatewayError);
  assert.equal(caught.code, ErrorCode.RtspRequest);
  assert.equal(caught.status, status, caught.message);
  assert.equal(caught.cseq, cseq);
  return caught;
}

const push1 = (text: string | Buffer): RtspInput[] => new RtspRequestReader().push(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'));

test('real transcripts: OPTIONS, ANNOUNCE with SDP body, SETUP per track, RECORD; CSeq 1..n', () => {
  for (const name of TRANSCRIPTS) {
    const bytes = fixture(name);
    const reader = new RtspRequestReader();
    const reqs = requests(reader.push(bytes));
    assert.equal(reader.bufferedBytes, 0, name);
    const methods = reqs.map((r) => r.method);
    const tracks = name.includes('h265') && name.startsWith('gst') ? 1 : 2;
    assert.deepEqual(methods, ['OPTIONS', 'ANNOUNCE', ...Array<string>(tracks).fill('SETUP'), 'RECORD'], name);
    reqs.forEach((r, i) => assert.equal(r.headers.get('cseq'), String(i + 1), name));
    const announce = reqs[1] as RtspRequest;
    assert.equal(announce.headers.get('Content-Type'), 'application/sdp');
    assert.equal(announce.body.length, Number(announce.headers.get('content-length')));
    assert.ok(announce.body.toString().startsWith('v=0\r\n'), name);
    for (const setup of reqs.filter((r) => r.method === 'SETUP')) {
      assert.match(setup.headers.get('Transport') ?? '', /^RTP\/AVP\/(TCP|UDP);unicast;/, name);
      assert.match(setup.uri, /^rtsp:\/\/127\.0\.0\.1:\d+\/live\/\w+\/stream(id)?=\d$/, name);
    }
    assert.equal(reqs.at(-1)?.headers.get('SESSION'), '12345678');
    assert.ok(reqs.every((r) => r.body.length === 0 || r.method === 'ANNOUNCE'));
  }
});

test('every split point of every transcript gives the same requests as one chunk', () => {
  for (const name of TRANSCRIPTS) {
    const bytes = fixture(name);
    const whole = plain(new RtspRequestReader().push(bytes));
    for (let cut = 1; cut < bytes.length; cut++) {
      const { inputs, reader } = readChunked(bytes, [cut, bytes.length]);
      assert.deepEqual(plain(inputs), whole, `${name} cut at ${cut}`);
      assert.equal(reader.bufferedBytes, 0);
    }
    assert.deepEqual(plain(readChunked(bytes, [1]).inputs), whole, `${name} byte by byte`);
  }
});

/** A whole TCP push connection: requests, then interleaved RTP/RTCP (then TEARDOWN for ffmpeg). */
const SESSIONS = [
  { name: 'ffmpeg-tcp-h264-aac', frames: 24, after: ['TEARDOWN'], channels: [0, 1, 2, 3] },
  { name: 'gst-tcp-h264-aac', frames: 44, after: [], channels: [0, 1, 2, 3] },
];

test('real interleaved sessions: RTP on even channels, RTCP on odd ones, TEARDOWN after the frames', () => {
  for (const s of SESSIONS) {
    const bytes = Buffer.concat([fixture(`${s.name}.txt`), fixture(`${s.name}-after-record.bin`)]);
    const inputs = new RtspRequestReader().push(bytes);
    const frames = inputs.flatMap((i) => (i.kind === 'interleaved' ? [i] : []));
    assert.equal(frames.length, s.frames, s.name);
    const firstFrame = inputs.findIndex((i) => i.kind === 'interleaved');
    assert.deepEqual(requests(inputs.slice(firstFrame)).map((r) => r.method), s.after);
    assert.equal(requests(inputs.slice(0, firstFrame)).at(-1)?.method, 'RECORD');
    for (const f of frames) {
      assert.ok(s.channels.includes(f.channel), `channel ${f.channel}`);
      assert.equal((f.payload[0] as number) >> 6, 2, 'RTP/RTCP version 2');
      const pt = f.payload[1] as number;
      if (f.channel % 2 === 1) assert.ok(pt >= 200 && pt <= 204, `RTCP packet type ${pt}`);
      else assert.ok((pt & 0x7f) >= 96, `dynamic RTP payload type ${pt & 0x7f}`);
    }
    assert.ok(frames.some((f) => f.channel === 0) && frames.some((f) => f.channel === 2));
  }
});

test('interleaved payloads stay valid and unchanged after later pushes, for any chunking; input not mutated', () => {
  const s = SESSIONS[0] as (typeof SESSIONS)[number];
  const bytes = Buffer.concat([fixture(`${s.name}.txt`), fixture(`${s.name}-after-record.bin`)]);
  const snapshot = Buffer.from(bytes);
  const expected = plain(new RtspRequestReader().push(bytes));
  for (const sizes of [[1], [3, 7, 1], [1000], [4, 65536], [1460], [17, 5000, 2, 2, 2]]) {
    const { inputs } = readChunked(bytes, sizes);
    assert.deepEqual(plain(inputs), expected, `chunk sizes ${sizes.join(',')}`);
  }
  assert.deepEqual(bytes, snapshot, 'input integrity');
});

test('a frame inside one chunk is a view of it (zero copy); a frame across chunks is an owned copy', () => {
  const chunk = Buffer.concat([serializeInterleavedFrame(0, Buffer.from('abcdef')), serializeInterleavedFrame(1, Buffer.from('xyz'))]);
  const [a, b] = new RtspRequestReader().push(chunk);
  assert.equal(a?.kind === 'interleaved' && a.payload.buffer === chunk.buffer, true);
  assert.equal(b?.kind === 'interleaved' && b.payload.toString(), 'xyz');

  const reader = new RtspRequestReader();
  const part1 = Buffer.from(chunk.subarray(0, 6));
  const part2 = Buffer.from(chunk.subarray(6));
  assert.deepEqual(reader.push(part1), []);
  assert.equal(reader.bufferedBytes, 6);
  const out = reader.push(part2);
  const first = out[0];
  assert.ok(first?.kind === 'interleaved');
  assert.equal(first.payload.toString(), 'abcdef');
  part1.fill(0);
  part2.fill(0);
  assert.equal(first.payload.toString(), 'abcdef', 'copy does not alias the chunks');
});

test('zero-length and 65535-byte interleaved frames; frames mixed with pipelined requests', () => {
  const big = Buffer.alloc(0xffff, 0xab);
  const stream = Buffer.concat([
    Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n'),
    serializeInterleavedFrame(5, Buffer.alloc(0)),
    serializeInterleavedFrame(0, big),
    Buffer.from('\r\n'), // stray CRLF between messages is skipped
    Buffer.from('GET_PARAMETER rtsp://h/live/a RTSP/1.0\nCSeq: 2\nSession: 1\n\n'), // bare LF
    serializeInterleavedFrame(255, Buffer.from([0x24, 0x00])),
    Buffer.from('SET_PARAMETER rtsp://h/live/a RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 4\r\n\r\n$\x00\x00\x01'),
  ]);
  const expected = [
    { kind: 'request', method: 'OPTIONS', uri: '*', headers: [['CSeq', '1']], body: '' },
    { kind: 'interleaved', channel: 5, payload: '' },
    { kind: 'interleaved', channel: 0, payload: big.toString('hex') },
    { kind: 'request', method: 'GET_PARAMETER', uri: 'rtsp://h/live/a', headers: [['CSeq', '2'], ['Session', '1']], body: '' },
    { kind: 'interleaved', channel: 255, payload: '2400' },
    { kind: 'request', method: 'SET_PARAMETER', uri: 'rtsp://h/live/a', headers: [['CSeq', '3'], ['Content-Length', '4']], body: '24000001' },
  ];
  assert.deepEqual(plain(new RtspRequestReader().push(stream)), expected);
  assert.deepEqual(plain(readChunked(stream, [1]).inputs), expected);
  assert.deepEqual(plain(readChunked(stream, [3, 1, 4, 1, 5, 9, 2, 6]).inputs), expected);
});

test('truncated input: nothing returned, bytes kept until the rest arrives', () => {
  const reader = new RtspRequestReader();
  assert.deepEqual(reader.push(Buffer.from('ANNOUNCE rtsp://h/live/a RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nv=0')), []);
  assert.equal(reader.bufferedBytes, 3);
  assert.deepEqual(reader.push(Buffer.from('\r')), []);
  const [done] = reader.push(Buffer.from('\n$\x01\x00'));
  assert.ok(done?.kind === 'request');
  assert.equal(done.request.body.toString(), 'v=0\r\n');
  assert.equal(reader.bufferedBytes, 3, 'partial interleaved header');
  assert.deepEqual(reader.push(Buffer.from([0x02, 0xaa])), []);
  assert.deepEqual(plain(reader.push(Buffer.from([0xbb]))), [{ kind: 'interleaved', channel: 1, payload: 'aabb' }]);
  assert.equal(reader.bufferedBytes, 0);
  assert.deepEqual(reader.push(Buffer.alloc(0)), []);
});

test('malformed request lines: 400, other versions 505, no CSeq known', () => {
  expectError(() => push1('GARBAGE\r\n\r\n'), 400);
  expectError(() => push1('OPTIONS rtsp://h/a\r\n\r\n'), 400);
  expectError(() => push1('OPTIONS  rtsp://h/a RTSP/1.0\r\n\r\n'), 400);
  expectError(() => push1('OPTIONS rtsp://h/a RTSP/1.0 \r\n\r\n'), 400);
  expectError(() => push1('OPT(ONS rtsp://h/a RTSP/1.0\r\n\r\n'), 400);
  expectError(() => push1('OPTIONS rtsp://h/\x01 RTSP/1.0\r\n\r\n'), 400);
  expectError(() => push1('\x00\x01\x02\n'), 400);
  expectError(() => push1('OPTIONS rtsp://h/a RTSP/2.0\r\nCSeq: 1\r\n\r\n'), 505);
  expectError(() => push1('GET /live/a.flv HTTP/1.1\r\nHost: x\r\n\r\n'), 505);
  expectError(() => push1('OPTIONS rtsp://h/a rtsp/1.0\r\n\r\n'), 505);
  expectError(() => push1('OPTIONS rtsp://h/a RTSP\r\n\r\n'), 400);
});

test('malformed header lines: 400 with the CSeq read so far', () => {
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n folded\r\n\r\n'), 400, '7');
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nNoColon\r\n\r\n'), 400, '7');
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n: empty name\r\n\r\n'), 400, '7');
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nBad Name: x\r\n\r\n'), 400, '7');
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nX: a\x00b\r\n\r\n'), 400, '7');
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nX: 1\r\nCSeq: 8\r\nContent-Length: x\r\n\r\n'), 400, '8');
  expectError(() => push1('OPTIONS * RTSP/1.0\r\nCSeq: 9\r\nContent-Length: -1\r\n\r\n'), 400, '9');
  expectError(() => push1('ANNOUNCE * RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc'), 400, '9');
  // the same Content-Length twice is harmless
  assert.equal(requests(push1('ANNOUNCE * RTSP/1.0\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab'))[0]?.body.toString(), 'ab');
});

test(`request line limit ${RTSP_MAX_REQUEST_LINE} bytes → 414, also before the LF arrives`, () => {
  const lineOf = (n: number): string => `OPTIONS rtsp://h/${'a'.repeat(n - 'OPTIONS rtsp://h/ RTSP/1.0'.length)} RTSP/1.0`;
  assert.equal(lineOf(RTSP_MAX_REQUEST_LINE).length, RTSP_MAX_REQUEST_LINE);
  assert.equal(requests(push1(`${lineOf(RTSP_MAX_REQUEST_LINE)}\r\n\r\n`)).length, 1);
  assert.equal(requests(push1(`${lineOf(RTSP_MAX_REQUEST_LINE)}\n\n`)).length, 1);
  expectError(() => push1(`${lineOf(RTSP_MAX_REQUEST_LINE + 1)}\r\n\r\n`), 414);
  expectError(() => push1(`${lineOf(RTSP_MAX_REQUEST_LINE + 1)}\n\n`), 414);
  const reader = new RtspRequestReader();
  assert.deepEqual(reader.push(Buffer.from(lineOf(RTSP_MAX_REQUEST_LINE) + '\r')), []);
  expectError(() => reader.push(Buffer.from('x')), 414);
  expectError(() => new RtspRequestReader().push(Buffer.alloc(RTSP_MAX_REQUEST_LINE + 2, 0x41)), 414);
});

test(`header limits: ${RTSP_MAX_HEADERS} lines, ${RTSP_MAX_HEADER_VALUE}-byte values, ${RTSP_MAX_HEADER_BYTES}-byte section → 400`, () => {
  const withHeaders = (n: number): string => `OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n${'X-A: b\r\n'.repeat(n - 1)}\r\n`;
  assert.equal(requests(push1(withHeaders(RTSP_MAX_HEADERS)))[0]?.headers.size, RTSP_MAX_HEADERS);
  expectError(() => push1(withHeaders(RTSP_MAX_HEADERS + 1)), 400, '1');

  const withValue = (n: number): string => `OPTIONS * RTSP/1.0\r\nCSeq: 2\r\nX-V: ${'v'.repeat(n)}\r\n\r\n`;
  assert.equal(requests(push1(withValue(RTSP_MAX_HEADER_VALUE)))[0]?.headers.get('x-v')?.length, RTSP_MAX_HEADER_VALUE);
  expectError(() => push1(withValue(RTSP_MAX_HEADER_VALUE + 1)), 400, '2');
  // an endless header line fails before its LF arrives
  const reader = new RtspRequestReader();
  reader.push(Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 3\r\nX-V: '));
  expectError(() => {
    for (let i = 0; i < 100; i++) reader.push(Buffer.alloc(1024, 0x76));
  }, 400, '3');

  const value = 'v'.repeat(4000);
  const manyBig = (n: number): string => `OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n${`X-B: ${value}\r\n`.repeat(n)}\r\n`;
  assert.equal(requests(push1(manyBig(15))).length, 1);
  expectError(() => push1(manyBig(17)), 400, '4');
  const r2 = new RtspRequestReader();
  expectError(() => {
    for (let i = 0; i < 20; i++) r2.push(Buffer.from(`X-B: ${value}\r\n`.replace(/^/, i === 0 ? 'OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n' : '')));
  }, 400, '4');
});

test(`Content-Length up to ${RTSP_MAX_BODY} is read; above → 413 with CSeq; errors are sticky`, () => {
  const head = (n: number): string => `ANNOUNCE rtsp://h/live/a RTSP/1.0\r\nCSeq: 5\r\nContent-Length: ${n}\r\n\r\n`;
  const ok = requests(push1(Buffer.concat([Buffer.from(head(RTSP_MAX_BODY)), Buffer.alloc(RTSP_MAX_BODY, 0x61)])));
  assert.equal(ok[0]?.body.length, RTSP_MAX_BODY);
  const reader = new RtspRequestReader();
  const err = expectError(() => reader.push(Buffer.from(head(RTSP_MAX_BODY + 1))), 413, '5');
  assert.throws(() => reader.push(Buffer.from('OPTIONS * RTSP/1.0\r\n\r\n')), (e) => e === err);
  assert.equal(reader.bufferedBytes, 0);
  expectError(() => push1(head(10 ** 15)), 413, '5');
});

test('the request body is an owned copy; RtspHeaders is case-insensitive, first value wins, names kept', () => {
  const chunk = Buffer.from('ANNOUNCE rtsp://h/a/b RTSP/1.0\r\ncseq: 1\r\nX-Dup: first\r\nx-dup: second\r\nContent-Length: 3\r\n\r\nabc');
  const [req] = requests(new RtspRequestReader().push(chunk));
  assert.ok(req !== undefined);
  chunk.fill(0);
  assert.equal(req.body.toString(), 'abc');
  assert.equal(req.headers.get('CSeq'), '1');
  assert.equal(req.headers.get('X-DUP'), 'first');
  assert.equal(req.headers.has('x-dup'), true);
  assert.equal(req.headers.has('Session'), false);
  assert.deepEqual([...req.headers.entries()].map(([n]) => n), ['cseq', 'X-Dup', 'x-dup', 'Content-Length']);
  const h = new RtspHeaders([['Session', 'abc;timeout=60']]);
  assert.equal(h.get('session'), 'abc;timeout=60');
});

test('pipelined requests in one chunk, and a long header pushed byte by byte stays linear', () => {
  const one = 'OPTIONS rtsp://h/live/a RTSP/1.0\r\nCSeq: 1\r\n\r\n';
  assert.equal(requests(push1(one.repeat(500))).length, 500);
  const header = `OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n${`X-B: ${'v'.repeat(4000)}\r\n`.repeat(15)}\r\n`;
  const started = performance.now();
  const { inputs } = readChunked(Buffer.from(header), [1]);
  assert.equal(requests(inputs)[0]?.headers.size, 16);
  assert.ok(performance.now() - started < 1000, 'byte-by-byte header must not be quadratic');
});

test('many frames per chunk and a 64 KiB frame pushed byte by byte are fast', () => {
  const payload = Buffer.alloc(1400, 7);
  const frames = Buffer.concat(Array.from({ length: 5000 }, (_, i) => serializeInterleavedFrame(i % 4, payload)));
  let started = performance.now();
  const { inputs } = readChunked(frames, [65536]);
  assert.equal(inputs.length, 5000);
  assert.ok(performance.now() - started < 500, `5000 frames took ${performance.now() - started} ms`);
  const big = serializeInterleavedFrame(0, Buffer.alloc(0xffff, 1));
  started = performance.now();
  const r = readChunked(big, [1]);
  assert.equal(r.inputs.length, 1);
  assert.ok(performance.now() - started < 1000, 'byte-by-byte frame must not be quadratic');
});

test('serializeRtspResponse: status line with RFC 2326 reasons, headers in order, Content-Length for a body', () => {
  assert.equal(
    serializeRtspResponse(200, [['CSeq', '3'], ['Session', '12345678;timeout=60'], ['Transport', 'RTP/AVP/TCP;unicast;interleaved=0-1']]).toString(),
    'RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n',
  );
  const reasons: Record<number, string> = {
    400: 'Bad Request', 413: 'Request Entity Too Large', 414: 'Request-URI Too Large', 453: 'Not Enough Bandwidth',
    454: 'Session Not Found', 455: 'Method Not Valid in This State', 459: 'Aggregate operation not allowed',
    461: 'Unsupported transport', 501: 'Not Implemented', 505: 'RTSP Version not supported',
  };
  for (const [status, reason] of Object.entries(reasons)) {
    assert.equal(serializeRtspResponse(Number(status), []).toString(), `RTSP/1.0 ${status} ${reason}\r\n\r\n`);
  }
  assert.equal(serializeRtspResponse(299, []).toString(), 'RTSP/1.0 299 Success\r\n\r\n');
  assert.equal(
    serializeRtspResponse(200, [['CSeq', '1'], ['Content-Length', '99']], 'v=0\r\n').toString(),
    'RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nv=0\r\n',
  );
  assert.deepEqual(serializeRtspResponse(200, [], Buffer.from([0xc3, 0xa9])).subarray(-2), Buffer.from([0xc3, 0xa9]));
  assert.equal(serializeRtspResponse(200, [], 'é').toString(), 'RTSP/1.0 200 OK\r\nContent-Length: 2\r\n\r\né');
  assert.throws(() => serializeRtspResponse(200, [['CSeq', '1\r\nX-Injected: 1']]), GatewayError);
  assert.throws(() => serializeRtspResponse(200, [['Bad Name', '1']]), GatewayError);
  assert.throws(() => serializeRtspResponse(99, []), GatewayError);
  assert.throws(() => serializeRtspResponse(600, []), GatewayError);
});

test('serializeInterleavedFrame: `$` channel length16 payload; bounds', () => {
  assert.deepEqual(serializeInterleavedFrame(3, Uint8Array.of(9, 8, 7)), Buffer.from([0x24, 3, 0, 3, 9, 8, 7]));
  assert.deepEqual(serializeInterleavedFrame(0, Buffer.alloc(0)), Buffer.from([0x24, 0, 0, 0]));
  assert.equal(serializeInterleavedFrame(255, Buffer.alloc(0xffff)).readUInt16BE(2), 0xffff);
  assert.throws(() => serializeInterleavedFrame(256, Buffer.alloc(1)), (e) => e instanceof GatewayError && e.code === ErrorCode.RtspTransport);
  assert.throws(() => serializeInterleavedFrame(-1, Buffer.alloc(1)), GatewayError);
  assert.throws(() => serializeInterleavedFrame(0, Buffer.alloc(0x10000)), (e) => e instanceof GatewayError && e.code === ErrorCode.TooLarge);
});

test('property: arbitrary bytes in arbitrary chunks → results or RtspRequestError, never another exception', () => {
  const pieces = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom('OPTIONS * RTSP/1.0\r\n', 'CSeq: 1\r\n', '\r\n', '\n', 'Content-Length: 3\r\n', 'RTSP/1.0', '$', ': ', ' ')
      .map((s) => Buffer.from(s)),
    fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 40 })).map(([ch, p]) => serializeInterleavedFrame(ch, p)),
  );
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (parts, sizes) => {
      const bytes = Buffer.concat(parts.map((p) => Buffer.from(p)));
      const snapshot = Buffer.from(bytes);
      try {
        readChunked(bytes, sizes);
      } catch (err) {
        if (!(err instanceof RtspRequestError)) throw err;
        assert.ok([400, 413, 414, 505].includes(err.status));
      }
      assert.deepEqual(bytes, snapshot);
    }),
    { numRuns: 400, seed: 2326 },
  );
});

test('property: chunking never changes the result of a valid stream', () => {
  const message = fc.oneof(
    fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 300 })).map(([ch, p]) => serializeInterleavedFrame(ch, p)),
    fc
      .tuple(fc.constantFrom('OPTIONS', 'SETUP', 'RECORD', 'TEARDOWN'), fc.nat(99), fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.boolean())
      .map(([method, cseq, body, lf]) => {
        const eol = lf ? '\n' : '\r\n';
        const b = Buffer.from(body, 'latin1');
        return Buffer.concat([Buffer.from(`${method} rtsp://h/live/s RTSP/1.0${eol}CSeq: ${cseq}${eol}Content-Length: ${b.length}${eol}${eol}`), b]);
      }),
  );
  fc.assert(
    fc.property(fc.array(message, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 }), (msgs, sizes) => {
      const bytes = Buffer.concat(msgs);
      const whole = plain(new RtspRequestReader().push(bytes));
      assert.equal(whole.length, msgs.length);
      const { inputs, reader } = readChunked(bytes, sizes);
      assert.deepEqual(plain(inputs), whole);
      assert.equal(reader.bufferedBytes, 0);
    }),
    { numRuns: 200, seed: 10_12 },
  );
});
