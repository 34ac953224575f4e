import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFfmpegArgs, concatList, engineCopies, engineDirectives, engineOutputsNothing, type FfmpegArgsOptions } from '../../../core/process/ffmpeg-args.ts';
import { loadConfigText } from '../../../core/config/config.ts';

const HEAD = ['-nostdin', '-hide_banner', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:2'];
const PIPE_OUT = ['-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1'];
/** The transcoder's input: the hub's FLV on stdin. */
const STDIN_IN = ['-f', 'flv', '-i', 'pipe:0'];

interface Case {
  readonly name: string;
  readonly opts: FfmpegArgsOptions;
  readonly want: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'file, engine off → -re, loop forever, -c copy, FLV to the pipe',
    opts: { input: { type: 'file', url: 'a.mp4' }, engine: { enabled: false, vcodec: 'libx264' }, output: { pipe: true } },
    want: [...HEAD, '-re', '-stream_loop', '-1', '-i', 'a.mp4', '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'file without loop',
    opts: { input: { type: 'file', url: 'a.mp4' }, engine: { enabled: true }, output: { pipe: true }, loop: false },
    want: [...HEAD, '-re', '-i', 'a.mp4', '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'rtsp stream → -rtsp_transport tcp, no -re, push to a remote server',
    opts: { input: { type: 'stream', url: 'rtsp://cam/1' }, engine: { enabled: false }, output: { pipe: false, url: 'rtmp://x/live/s' } },
    want: [...HEAD, '-rtsp_transport', 'tcp', '-i', 'rtsp://cam/1', '-c', 'copy', '-f', 'flv', '-y', 'rtmp://x/live/s'],
  },
  {
    name: 'perfile rtsp_transport given by the user is not doubled',
    opts: {
      input: { type: 'stream', url: 'rtsp://cam/1' },
      engine: { enabled: false, perfile: [{ name: 'rtsp_transport', args: ['udp'] }] },
      output: { pipe: true },
    },
    want: [...HEAD, '-rtsp_transport', 'udp', '-i', 'rtsp://cam/1', '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'http stream: no -re, no transport',
    opts: { input: { type: 'stream', url: 'http://h/live/s.flv' }, engine: { enabled: false }, output: { pipe: true } },
    want: [...HEAD, '-i', 'http://h/live/s.flv', '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'lavfi device transcoded: -re, -f lavfi, every video and audio directive in SRS order',
    opts: {
      input: { type: 'device', url: 'testsrc2=size=320x240:rate=25' },
      engine: {
        enabled: true, iformat: 'lavfi', vcodec: 'libx264', vbitrate: 800, vfps: 25, vwidth: 640, vheight: 360, vthreads: 2,
        vprofile: 'main', vpreset: 'veryfast', vparams: [{ name: 'g', args: ['50'] }, { name: 'bf', args: ['0'] }],
        acodec: 'aac', abitrate: 64, asampleRate: 44100, achannels: 2, aparams: [{ name: 'profile:a', args: ['aac_low'] }],
      },
      output: { pipe: true },
    },
    want: [
      ...HEAD, '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
      '-c:v', 'libx264', '-b:v', '800000', '-r', '25', '-s', '640x360', '-threads', '2', '-profile:v', 'main', '-preset', 'veryfast', '-g', '50', '-bf', '0',
      '-c:a', 'aac', '-b:a', '64000', '-ar', '44100', '-ac', '2', '-profile:a', 'aac_low',
      ...PIPE_OUT,
    ],
  },
  {
    name: 'v4l2 device: no -re (a real device is paced by itself)',
    opts: { input: { type: 'device', url: '/dev/video0' }, engine: { enabled: true, iformat: 'v4l2', vcodec: 'libx264', acodec: 'an' }, output: { pipe: true } },
    want: [...HEAD, '-f', 'v4l2', '-i', '/dev/video0', '-c:v', 'libx264', '-an', ...PIPE_OUT],
  },
  {
    name: 'video only codec given: audio is copied; vfilter params after -i',
    opts: {
      input: { type: 'stream', url: 'srt://h:9000' },
      engine: { enabled: true, vcodec: 'libx264', vfilter: [{ name: 'vf', args: ['scale=320:-2'] }], vwidth: 640 },
      output: { pipe: true },
    },
    want: [...HEAD, '-i', 'srt://h:9000', '-vf', 'scale=320:-2', '-c:v', 'libx264', '-c:a', 'copy', ...PIPE_OUT],
  },
  {
    name: 'vcodec copy + acodec copy on an enabled engine is a plain copy',
    opts: { input: { type: 'stream', url: 'udp://239.0.0.1:1234' }, engine: { enabled: true, vcodec: 'copy', acodec: 'copy' }, output: { pipe: true } },
    want: [...HEAD, '-i', 'udp://239.0.0.1:1234', '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'vn + acodec transcode; iformat off is ignored; oformat mpegts to a URL',
    opts: {
      input: { type: 'file', url: 'x.mkv' },
      engine: { enabled: true, iformat: 'off', vcodec: 'vn', acodec: 'libmp3lame', oformat: 'mpegts' },
      output: { pipe: false, url: 'udp://127.0.0.1:5000' },
    },
    want: [...HEAD, '-re', '-stream_loop', '-1', '-i', 'x.mkv', '-vn', '-c:a', 'libmp3lame', '-f', 'mpegts', '-y', 'udp://127.0.0.1:5000'],
  },
  {
    name: 'perfile re given: -re not doubled; stream_loop given: not doubled',
    opts: {
      input: { type: 'file', url: 'a.flv' },
      engine: { enabled: false, perfile: [{ name: 're', args: [] }, { name: 'stream_loop', args: ['3'] }] },
      output: { pipe: true },
    },
    want: [...HEAD, '-re', '-stream_loop', '3', '-i', 'a.flv', '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'transcode (stdin FLV): the SRS example engine, 640x360 → 320x180; no -re, no loop',
    opts: {
      input: { type: 'pipe' },
      engine: {
        enabled: true, vcodec: 'libx264', vbitrate: 300, vfps: 25, vwidth: 320, vheight: 180, vprofile: 'main', vpreset: 'veryfast',
        acodec: 'aac', abitrate: 64, asampleRate: 44100, achannels: 2,
      },
      output: { pipe: true },
    },
    want: [
      ...HEAD, ...STDIN_IN,
      '-c:v', 'libx264', '-b:v', '300000', '-r', '25', '-s', '320x180', '-profile:v', 'main', '-preset', 'veryfast',
      '-c:a', 'aac', '-b:a', '64000', '-ar', '44100', '-ac', '2',
      ...PIPE_OUT,
    ],
  },
  {
    name: 'transcode: iformat other than flv does not change the stdin format; perfile still goes before -i',
    opts: {
      input: { type: 'pipe' },
      engine: { enabled: true, iformat: 'mpegts', perfile: [{ name: 'analyzeduration', args: ['1000000'] }], vcodec: 'copy', acodec: 'copy' },
      output: { pipe: true },
    },
    want: [...HEAD, '-analyzeduration', '1000000', ...STDIN_IN, '-c', 'copy', ...PIPE_OUT],
  },
  {
    name: 'transcode vn: only audio (-vn), AAC',
    opts: { input: { type: 'pipe' }, engine: { enabled: true, vcodec: 'vn', acodec: 'aac' }, output: { pipe: true } },
    want: [...HEAD, ...STDIN_IN, '-vn', '-c:a', 'aac', ...PIPE_OUT],
  },
  {
    name: 'transcode an: only video (-an), copied',
    opts: { input: { type: 'pipe' }, engine: { enabled: true, vcodec: 'copy', acodec: 'an' }, output: { pipe: true } },
    want: [...HEAD, ...STDIN_IN, '-c:v', 'copy', '-an', ...PIPE_OUT],
  },
  {
    name: 'G.711 camera: vcodec copy, acodec aac; oformat mpegts is ignored for the pipe (this gateway reads FLV)',
    opts: { input: { type: 'pipe' }, engine: { enabled: true, vcodec: 'copy', acodec: 'aac', oformat: 'mpegts' }, output: { pipe: true } },
    want: [...HEAD, ...STDIN_IN, '-c:v', 'copy', '-c:a', 'aac', ...PIPE_OUT],
  },
  {
    name: 'transcode to a foreign server: ffmpeg pushes as oformat (flv when off)',
    opts: { input: { type: 'pipe' }, engine: { enabled: true, vcodec: 'copy', acodec: 'copy', oformat: 'off' }, output: { pipe: false, url: 'rtmp://cdn/live/s_hd' } },
    want: [...HEAD, ...STDIN_IN, '-c', 'copy', '-f', 'flv', '-y', 'rtmp://cdn/live/s_hd'],
  },
];

for (const c of CASES) {
  test(`buildFfmpegArgs: ${c.name}`, () => {
    assert.deepEqual(buildFfmpegArgs(c.opts), c.want);
  });
}

test('engineCopies: disabled, or no codec, or only copy', () => {
  assert.equal(engineCopies({ enabled: false, vcodec: 'libx264', acodec: 'aac' }), true);
  assert.equal(engineCopies({ enabled: true }), true);
  assert.equal(engineCopies({ enabled: true, vcodec: 'copy' }), true);
  assert.equal(engineCopies({ enabled: true, acodec: 'aac' }), false);
  assert.equal(engineCopies({ enabled: true, vcodec: 'vn' }), false);
});

test('concatList quotes file names for the ffconcat demuxer', () => {
  assert.equal(concatList(['/a/b.mp4', "it's.mp4"]), "ffconcat version 1.0\nfile '/a/b.mp4'\nfile 'it'\\''s.mp4'\n");
});

test('engineOutputsNothing: only vn with an', () => {
  assert.equal(engineOutputsNothing({ enabled: true, vcodec: 'vn', acodec: 'an' }), true);
  assert.equal(engineOutputsNothing({ enabled: true, vcodec: 'vn', acodec: 'aac' }), false);
  assert.equal(engineOutputsNothing({ enabled: true, vcodec: 'copy', acodec: 'an' }), false);
});

test('engineDirectives: a config engine → argv directives, zero numbers unset, param blocks kept', () => {
  const { config } = loadConfigText(`vhost v { transcode { enabled on; engine sd { enabled on; vcodec libx264; vbitrate 300;
    vwidth 320; vheight 180; vparams { g 50; } acodec aac; asample_rate 44100; output rtmp://127.0.0.1/[app]/[stream]_[engine]; } } }`, 't.conf');
  const engine = config.vhosts.get('v')?.transcodes[0]?.engines[0];
  assert.ok(engine !== undefined);
  assert.deepEqual(engineDirectives(engine), {
    enabled: true, perfile: [], iformat: undefined, vfilter: [], vcodec: 'libx264', vbitrate: 300, vfps: undefined, vwidth: 320, vheight: 180,
    vthreads: undefined, vprofile: undefined, vpreset: undefined, vparams: [{ name: 'g', args: ['50'] }], acodec: 'aac', abitrate: undefined,
    asampleRate: 44100, achannels: undefined, aparams: [], oformat: 'flv',
  });
});
