/**
 * ANNOUNCE SDP → tracks, on SDPs captured from ffmpeg 5.1 and GStreamer 1.22 (fixtures/rtsp) and on typical
 * camera SDPs (Hikvision/Dahua style) written out below; control URL resolution and SETUP URL matching.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { RtspRequestReader } from '../../../../core/protocol/rtsp/rtsp-message.ts';
import type { RtspRequest } from '../../../../core/protocol/rtsp/rtsp-message.ts';
import { findTrackByControl, parseAnnounceSdp, parseFmtpParameters, resolveControl, SDP_MAX_TRACKS } from '../../../../core/protocol/rtsp/sdp-tracks.ts';
import type { SdpTrack } from '../../../../core/protocol/rtsp/sdp-tracks.ts';

const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`../../../../fixtures/rtsp/${name}`, import.meta.url)));

const isSdpError = (e: unknown): boolean => e instanceof GatewayError && e.code === ErrorCode.SdpInvalid;

function transcript(name: string): { announce: RtspRequest; setups: RtspRequest[]; tracks: SdpTrack[] } {
  const reqs = new RtspRequestReader().push(fixture(name)).flatMap((i) => (i.kind === 'request' ? [i.request] : []));
  const announce = reqs.find((r) => r.method === 'ANNOUNCE') as RtspRequest;
  const tracks = parseAnnounceSdp(announce.body.toString('utf8'), announce.headers.get('Content-Base') ?? announce.uri);
  return { announce, setups: reqs.filter((r) => r.method === 'SETUP'), tracks };
}

const summary = (t: SdpTrack): unknown[] => [t.index, t.media, t.payloadType, t.encodingName, t.clockRate, t.channels];

/** Hikvision-style pushed SDP: H.264 + G.711 A-law, relative trackID controls, session `a=control:*`. */
const HIKVISION_H264_PCMA = [
  'v=0',
  'o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64',
  's=Media Presentation',
  'e=NONE',
  'b=AS:5050',
  't=0 0',
  'a=control:*',
  'm=video 0 RTP/AVP 96',
  'c=IN IP4 0.0.0.0',
  'b=AS:5000',
  'a=recvonly',
  'a=x-dimensions:1920,1080',
  'a=control:trackID=1',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=Z00AKpY1QPAET8s3AQEBAg==,aO48gA==',
  'm=audio 0 RTP/AVP 8',
  'c=IN IP4 0.0.0.0',
  'b=AS:50',
  'a=recvonly',
  'a=control:trackID=2',
  'a=rtpmap:8 PCMA/8000',
  'a=Media_header:MEDIAINFO=494D4B48010100000400010010710110401F000000FA000000000000000000000000000000000000;',
  'a=appversion:1.0',
  '',
].join('\r\n');

/** Dahua-style SDP: H.265 with sprop-vps/sps/pps, AAC with a numeric-looking config, absolute session control. */
const DAHUA_H265_AAC = [
  'v=0',
  'o=- 2251938218 2251938218 IN IP4 0.0.0.0',
  's=Media Server',
  'c=IN IP4 0.0.0.0',
  't=0 0',
  'a=control:rtsp://10.1.2.3:554/cam/realmonitor/',
  'a=packetization-supported:DH',
  'a=range:npt=now-',
  'm=video 0 RTP/AVP 98',
  'a=control:trackID=0',
  'a=framerate:25.000000',
  'a=rtpmap:98 H265/90000',
  'a=fmtp:98 profile-id=1;sprop-sps=QgEBAWAAAAMAsAAAAwAAAwB7oAPAgBDlja5JMvTcBAQEAg==;sprop-pps=RAHA8vA8kAA=;sprop-vps=QAEMAf//AWAAAAMAsAAAAwAAAwB7rAk=',
  'a=recvonly',
  'm=audio 0 RTP/AVP 97',
  'a=control:trackID=1',
  'a=rtpmap:97 mpeg4-generic/48000/2',
  'a=fmtp:97 streamtype=5;profile-level-id=15;mode=AAC-hbr;config=1190;sizeLength=13;indexLength=3;indexDeltaLength=3;',
  'a=recvonly',
  '',
].join('\n');

test('ffmpeg SDPs: H.264/H.265 + MPEG4-GENERIC / MP4A-LATM / static PCMA, controls streamid=N', () => {
  const h264 = transcript('ffmpeg-tcp-h264-aac.txt');
  assert.deepEqual(h264.tracks.map(summary), [
    [0, 'video', 96, 'H264', 90000, 1],
    [1, 'audio', 97, 'MPEG4-GENERIC', 44100, 1],
  ]);
  const [video, audio] = h264.tracks as [SdpTrack, SdpTrack];
  assert.equal(video.control, `${h264.announce.uri}/streamid=0`);
  assert.equal(video.fmtp.get('sprop-parameter-sets'), 'Z2QADazZQUH7ARAAAAMAEAAAAwMg8UKZYA==,aOvjyyLA');
  assert.equal(video.fmtp.get('profile-level-id'), '64000D');
  assert.equal(video.fmtp.get('packetization-mode'), '1');
  assert.equal(audio.fmtp.get('config'), '120856E500');
  assert.equal(audio.fmtp.get('sizelength'), '13');
  assert.equal(audio.fmtp.get('mode'), 'AAC-hbr');

  const pcma = transcript('ffmpeg-tcp-h264-pcma.txt');
  assert.deepEqual(pcma.tracks.map(summary)[1], [1, 'audio', 8, 'PCMA', 8000, 1]);
  assert.equal(pcma.tracks[1]?.fmtp.size, 0);

  const h265 = transcript('ffmpeg-tcp-h265-aac.txt');
  assert.deepEqual(h265.tracks.map(summary)[0], [0, 'video', 96, 'H265', 90000, 1]);
  assert.deepEqual([...(h265.tracks[0]?.fmtp.keys() ?? [])], ['sprop-vps', 'sprop-sps', 'sprop-pps']);
  assert.equal(h265.tracks[0]?.fmtp.get('sprop-pps'), 'RAHBcrRiQA==');

  const latm = transcript('ffmpeg-tcp-h264-latm.txt');
  assert.deepEqual(latm.tracks.map(summary)[1], [1, 'audio', 97, 'MP4A-LATM', 44100, 1]);
  assert.deepEqual(Object.fromEntries(latm.tracks[1]?.fmtp ?? []), { 'profile-level-id': '41', cpresent: '0', config: '400024103fc0' });
});

test('GStreamer SDPs: audio first, MP4A-LATM without channel count, controls stream=N, no session control', () => {
  const gst = transcript('gst-tcp-h264-aac.txt');
  assert.deepEqual(gst.tracks.map(summary), [
    [0, 'audio', 96, 'MP4A-LATM', 44100, 1],
    [1, 'video', 99, 'H264', 90000, 1],
  ]);
  assert.equal(gst.tracks[0]?.control, `${gst.announce.uri}/stream=1`);
  assert.equal(gst.tracks[1]?.fmtp.get('profile-level-id'), 'f4000d');
  const h265 = transcript('gst-tcp-h265.txt');
  assert.deepEqual(h265.tracks.map(summary), [[0, 'video', 96, 'H265', 90000, 1]]);
});

test('every captured SETUP URL finds its own track', () => {
  for (const name of ['ffmpeg-tcp-h264-aac.txt', 'ffmpeg-udp-h264-aac.txt', 'ffmpeg-tcp-h264-pcma.txt', 'ffmpeg-tcp-h265-aac.txt', 'ffmpeg-tcp-h264-latm.txt', 'gst-tcp-h264-aac.txt', 'gst-udp-h264-aac.txt', 'gst-tcp-h265.txt']) {
    const { setups, tracks } = transcript(name);
    const found = setups.map((s) => findTrackByControl(tracks, s.uri));
    setups.forEach((s, i) => assert.equal(found[i]?.control, s.uri, name));
    assert.equal(new Set(found).size, tracks.length, name);
  }
});

test('camera SDP (Hikvision style): H.264 + static PCMA with rtpmap, relative trackID controls', () => {
  const tracks = parseAnnounceSdp(HIKVISION_H264_PCMA, 'rtsp://gw.example:8554/live/hik');
  assert.deepEqual(tracks.map(summary), [
    [0, 'video', 96, 'H264', 90000, 1],
    [1, 'audio', 8, 'PCMA', 8000, 1],
  ]);
  assert.deepEqual(tracks.map((t) => t.control), ['rtsp://gw.example:8554/live/hik/trackID=1', 'rtsp://gw.example:8554/live/hik/trackID=2']);
  assert.equal(tracks[0]?.fmtp.get('sprop-parameter-sets'), 'Z00AKpY1QPAET8s3AQEBAg==,aO48gA==');
  assert.equal(findTrackByControl(tracks, 'rtsp://127.0.0.1:8554/live/hik/trackID=2'), tracks[1]);
  assert.equal(findTrackByControl(tracks, 'rtsp://gw.example:8554/live/hik/trackID=1/'), tracks[0]);
});

test('camera SDP (Dahua style): H.265 sprop-vps/sps/pps, config=1190 stays a string, absolute session control is the base', () => {
  const tracks = parseAnnounceSdp(DAHUA_H265_AAC, 'rtsp://gw:554/live/dahua');
  assert.deepEqual(tracks.map(summary), [
    [0, 'video', 98, 'H265', 90000, 1],
    [1, 'audio', 97, 'MPEG4-GENERIC', 48000, 2],
  ]);
  const [video, audio] = tracks as [SdpTrack, SdpTrack];
  assert.equal(video.fmtp.get('sprop-vps'), 'QAEMAf//AWAAAAMAsAAAAwAAAwB7rAk=');
  assert.equal(video.fmtp.get('profile-id'), '1');
  assert.equal(audio.fmtp.get('config'), '1190');
  assert.equal(typeof audio.fmtp.get('config'), 'string');
  assert.equal(audio.fmtp.get('sizelength'), '13');
  assert.equal(video.control, 'rtsp://10.1.2.3:554/cam/realmonitor/trackID=0');
  // the client SETUPs against our address: the path decides
  assert.equal(findTrackByControl(tracks, 'rtsp://gw:554/cam/realmonitor/trackID=1'), audio);
});

test('control resolution: Content-Base with trailing slash, absolute media control, `*`, leading slash', () => {
  assert.equal(resolveControl('rtsp://h/live/a/', 'streamid=0'), 'rtsp://h/live/a/streamid=0');
  assert.equal(resolveControl('rtsp://h/live/a', '/streamid=0'), 'rtsp://h/live/a/streamid=0');
  assert.equal(resolveControl('rtsp://h/live/a', '*'), 'rtsp://h/live/a');
  assert.equal(resolveControl('rtsp://h/live/a', undefined), 'rtsp://h/live/a');
  assert.equal(resolveControl('rtsp://h/live/a', 'rtsp://other/x/track1'), 'rtsp://other/x/track1');
  assert.equal(resolveControl('rtsp://h/live/a?token=1', 'streamid=0'), 'rtsp://h/live/a?token=1/streamid=0');
  const sdp = 'v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:rtsp://cam.local/s/video\r\nm=audio 0 RTP/AVP 0\r\na=control:audio\r\n';
  const tracks = parseAnnounceSdp(sdp, 'rtsp://gw/live/x/');
  assert.deepEqual(tracks.map((t) => t.control), ['rtsp://cam.local/s/video', 'rtsp://gw/live/x/audio']);
  assert.deepEqual(tracks.map(summary)[1], [1, 'audio', 0, 'PCMU', 8000, 1]);
});

test('single track without a=control: the aggregate URL, and any SETUP below it, finds it', () => {
  const sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\n';
  const tracks = parseAnnounceSdp(sdp, 'rtsp://localhost:8554/live/mjpeg');
  assert.deepEqual(tracks.map(summary), [[0, 'video', 26, 'JPEG', 90000, 1]]);
  assert.equal(tracks[0]?.control, 'rtsp://localhost:8554/live/mjpeg');
  for (const url of ['rtsp://localhost:8554/live/mjpeg', 'rtsp://127.0.0.1:8554/live/mjpeg/', 'rtsp://127.0.0.1/live/mjpeg/trackID=0']) {
    assert.equal(findTrackByControl(tracks, url), tracks[0], url);
  }
  assert.equal(findTrackByControl(tracks, 'rtsp://127.0.0.1/live/other'), undefined);
});

test('findTrackByControl: host/port/trailing slash differences match by path; unknown or ambiguous → undefined', () => {
  const { tracks } = transcript('ffmpeg-tcp-h264-aac.txt');
  const [video, audio] = tracks as [SdpTrack, SdpTrack];
  assert.equal(findTrackByControl(tracks, 'rtsp://localhost:1/live/cam1/streamid=1'), audio);
  assert.equal(findTrackByControl(tracks, 'rtsp://user:pw@[::1]/live/cam1/streamid=0//'), video);
  assert.equal(findTrackByControl(tracks, 'rtsp://127.0.0.1/live/cam1'), undefined);
  assert.equal(findTrackByControl(tracks, 'rtsp://127.0.0.1/live/cam1/streamid=2'), undefined);
  assert.equal(findTrackByControl(tracks, 'not a url'), undefined);
  assert.equal(findTrackByControl(tracks, ''), undefined);
  assert.equal(findTrackByControl([], 'rtsp://h/live/cam1'), undefined);
  // a proxy that rewrote the path prefix: the unique last segment still decides
  assert.equal(findTrackByControl(tracks, 'rtsp://h/prefix/live/cam1/streamid=0'), video);
  // the same last segment in two tracks is ambiguous
  const twin: SdpTrack[] = [
    { ...video, control: 'rtsp://h/a/track1' },
    { ...audio, control: 'rtsp://h/b/track1' },
  ];
  assert.equal(findTrackByControl(twin, 'rtsp://h/c/track1'), undefined);
  assert.equal(findTrackByControl(twin, 'rtsp://x/b/track1'), twin[1]);
});

test('fmtp parameters: keys lower-cased, values kept as text, flags without value', () => {
  assert.deepEqual(Object.fromEntries(parseFmtpParameters(' Config=1190 ;  SizeLength = 13;;mode=AAC-hbr;0-15; x=a=b')), {
    config: '1190',
    sizelength: '13',
    mode: 'AAC-hbr',
    '0-15': '',
    x: 'a=b',
  });
  assert.equal(parseFmtpParameters('').size, 0);
});

test('invalid SDPs throw GatewayError(SdpInvalid)', () => {
  const head = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n';
  const bad = [
    '',
    'garbage',
    head,
    `${head}m=video 0 RTP/AVP 96\r\n`, // dynamic PT, no rtpmap
    `${head}m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264\r\n`, // no clock rate
    `${head}m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/\r\n`,
    `${head}m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/0\r\n`,
    `${head}m=audio 0 RTP/AVP 97\r\na=rtpmap:97 opus/48000/x\r\n`,
    `${head}m=audio 0 RTP/AVP 97\r\na=rtpmap:97 opus/48000/0\r\n`,
    `${head}m=video 0 RTP/AVP 200\r\na=rtpmap:200 H264/90000\r\n`,
    `${head}m=video 0 RTP/AVP\r\n`,
    `${head}m=video 0 RTP/AVP abc\r\n`,
    `${head}m=video 5000/2 RTP/AVP 26\r\n`,
    `${head}m=audio 0 RTP/AVP 2\r\n`, // unassigned static PT
    `${head}m=video 0 RTP/AVP 26\r\nm=audio 0 RTP/AVP 0\r\n`, // two tracks, no control
    `${head}m=video 0 RTP/AVP 26\r\na=control:t\r\nm=audio 0 RTP/AVP 0\r\na=control:t\r\n`, // same control
    `${head}${'m=audio 0 RTP/AVP 0\r\na=control:t\r\n'.repeat(SDP_MAX_TRACKS + 1)}`,
  ];
  for (const sdp of bad) assert.throws(() => parseAnnounceSdp(sdp, 'rtsp://h/live/a'), isSdpError, JSON.stringify(sdp.slice(head.length)));
});

test('property: mutated real SDPs and random text → tracks or GatewayError(SdpInvalid), nothing else', () => {
  const lines = transcript('gst-tcp-h264-aac.txt').announce.body.toString().split('\r\n').concat(HIKVISION_H264_PCMA.split('\r\n'));
  const line = fc.oneof(fc.constantFrom(...lines), fc.string({ maxLength: 30 }), fc.constantFrom('m=', 'a=rtpmap:', 'a=fmtp:96 ', 'a=control:', '96', '/'));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 25 }), fc.constantFrom('\r\n', '\n'), (ls, eol) => {
      try {
        for (const t of parseAnnounceSdp(ls.join(eol), 'rtsp://h/live/a')) {
          assert.ok(Number.isInteger(t.payloadType) && t.payloadType >= 0 && t.payloadType <= 127);
          assert.ok(t.clockRate > 0 && t.channels >= 1 && t.encodingName === t.encodingName.toUpperCase());
          assert.ok(t.control.startsWith('rtsp://') || /^[a-z][a-z0-9+.-]*:\/\//i.test(t.control));
        }
      } catch (err) {
        if (!isSdpError(err)) throw err;
      }
    }),
    { numRuns: 500, seed: 4566 },
  );
});
