/** parseRtspStreamUrl: publish URLs of ANNOUNCE requests → app/stream/query/host/port. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { RtspRequestReader } from '../../../../core/protocol/rtsp/rtsp-message.ts';
import { parseRtspStreamUrl } from '../../../../core/protocol/rtsp/rtsp-url.ts';

const isRequestError = (e: unknown): boolean => e instanceof GatewayError && e.code === ErrorCode.RtspRequest;

test('ANNOUNCE URLs captured from ffmpeg and GStreamer', () => {
  for (const [name, stream] of [
    ['ffmpeg-tcp-h264-aac.txt', 'cam1'],
    ['ffmpeg-tcp-h265-aac.txt', 'cam2'],
    ['gst-udp-h264-aac.txt', 'gst1'],
  ] as const) {
    const bytes = readFileSync(fileURLToPath(new URL(`../../../../fixtures/rtsp/${name}`, import.meta.url)));
    const announce = new RtspRequestReader().push(bytes).find((i) => i.kind === 'request' && i.request.method === 'ANNOUNCE');
    assert.ok(announce?.kind === 'request');
    const port = Number(/:(\d+)\//.exec(announce.request.uri)?.[1]);
    assert.deepEqual(parseRtspStreamUrl(announce.request.uri), { app: 'live', stream, query: '', host: '127.0.0.1', port });
  }
});

test('app/stream split, one .sdp stripped, query kept raw, default ports, IPv6 host', () => {
  assert.deepEqual(parseRtspStreamUrl('rtsp://example.com/live/livestream'), { app: 'live', stream: 'livestream', query: '', host: 'example.com', port: 554 });
  assert.deepEqual(parseRtspStreamUrl('rtsp://10.0.0.1:8554/live/cam1.sdp?token=a%20b&x=1'), { app: 'live', stream: 'cam1', query: 'token=a%20b&x=1', host: '10.0.0.1', port: 8554 });
  assert.equal(parseRtspStreamUrl('rtsp://h/live/cam1.sdp.sdp').stream, 'cam1.sdp');
  assert.equal(parseRtspStreamUrl('rtsp://h/live/cam1.SDP').stream, 'cam1');
  assert.deepEqual(parseRtspStreamUrl('rtsp://h/a/b/c/stream'), { app: 'a/b/c', stream: 'stream', query: '', host: 'h', port: 554 });
  assert.equal(parseRtspStreamUrl('rtsp://h/live//cam1/').stream, 'cam1');
  assert.deepEqual(parseRtspStreamUrl('RTSP://[::1]:1554/live/s'), { app: 'live', stream: 's', query: '', host: '::1', port: 1554 });
  assert.equal(parseRtspStreamUrl('rtsps://h/live/s').port, 322);
  assert.equal(parseRtspStreamUrl('rtsp://user:pass@h/live/s').host, 'h');
  assert.equal(parseRtspStreamUrl('rtsp://h/live/my%20cam').stream, 'my cam');
  assert.equal(parseRtspStreamUrl('rtsp://h/live/s?').query, '');
  assert.equal(parseRtspStreamUrl('rtsp://h/live/s#frag').stream, 's');
});

test('a SETUP URL with a track control is not special here: the control is the last segment', () => {
  assert.deepEqual(parseRtspStreamUrl('rtsp://h/live/cam1/streamid=0'), { app: 'live/cam1', stream: 'streamid=0', query: '', host: 'h', port: 554 });
});

test('rejected: non-rtsp, no app, no stream, dot segments (also percent-encoded), bad encoding, control chars', () => {
  const bad = [
    '',
    'live/cam1',
    'http://h/live/cam1',
    'rtmp://h/live/cam1',
    'rtsp:/h/live/cam1',
    'rtsp://h',
    'rtsp://h/',
    'rtsp://h/cam1',
    'rtsp://h/live/',
    'rtsp://h/live/.sdp',
    'rtsp://h/live/..sdp',
    'rtsp://h/live/...sdp',
    'rtsp://h/live/../cam1',
    'rtsp://h/../live/cam1',
    'rtsp://h/live/%2e%2E/cam1',
    'rtsp://h/live/./cam1',
    'rtsp://h/live/..',
    'rtsp://h/live/a%2Fb',
    'rtsp://h/live/a%5Cb',
    'rtsp://h/live/a%00b',
    'rtsp://h/live/%zz',
    'rtsp://h:99999/live/s',
    'rtsp:///live/s',
    'rtsp://h h/live/s',
  ];
  for (const url of bad) assert.throws(() => parseRtspStreamUrl(url), isRequestError, url);
});

test('property: any string → parts or GatewayError(RtspRequest); parts never hold path tricks', () => {
  const piece = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('rtsp://', 'h', ':554', '/', '..', '.', '%2e', '%2F', '.sdp', '?', '#', 'live', '@', '['));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
      try {
        const r = parseRtspStreamUrl(parts.join(''));
        assert.ok(r.app !== '' && r.stream !== '');
        assert.ok(!r.app.split('/').some((s) => s === '..' || s === '.' || s === ''));
        assert.ok(r.stream !== '..' && r.stream !== '.' && !r.stream.includes('/'));
        assert.ok(Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535);
      } catch (err) {
        if (!isRequestError(err)) throw err;
      }
    }),
    { numRuns: 1000, seed: 2326 },
  );
});
