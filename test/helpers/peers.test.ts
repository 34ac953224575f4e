// Light checks of the e2e toolkit itself: the peers it drives are real (ffmpeg, ffprobe, GStreamer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import {
  decodeCheck,
  fixture,
  freeTcpPort,
  freeUdpPort,
  probePackets,
  probeStreams,
  run,
  sendTsOverUdp,
  sendTsWithGstreamer,
  startProcess,
  waitFor,
} from './peers.ts';

test('decodeCheck of the FLV fixture: no errors, every frame decoded', async () => {
  const r = await decodeCheck(fixture('flv/h264-aac-320x240-10s.flv'), 20);
  assert.equal(r.code, 0);
  assert.deepEqual(r.errors, []);
  assert.equal(r.videoFrames, 250, '10 s at 25 fps');
  // AAC: 1024 samples per frame at 44.1 kHz over 10 s (+ the encoder's priming frame), as ffprobe counts them.
  const counted = await run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-count_frames', '-show_entries',
    'stream=nb_read_frames', '-of', 'csv=p=0', fixture('flv/h264-aac-320x240-10s.flv')]);
  assert.equal(r.audioFrames, Number(counted.stdout.toString().trim()));
  assert.ok(Math.abs(r.audioFrames - (10 * 44100) / 1024) < 3);
});

test('decodeCheck reports errors of a broken input', async () => {
  const r = await decodeCheck(`${fixture('flv')}/does-not-exist.flv`, 1);
  assert.notEqual(r.code, 0);
  assert.ok(r.errors.length > 0);
  assert.equal(r.videoFrames, 0);
});

test('probeStreams of fixtures: h264 320x240 + aac / mp3; B-frames fixture has has_b_frames', async () => {
  const [s, b, mp3] = await Promise.all([
    probeStreams(fixture('ts/h264-aac-320x240-25fps-10s.ts')),
    probeStreams(fixture('ts/h264-bframes-aac-320x240-10s.ts')),
    probeStreams(fixture('ts/h264-mp3-320x240-10s.ts')),
  ]);
  assert.deepEqual(
    s.map((x) => [x.codec_type, x.codec_name]),
    [['video', 'h264'], ['audio', 'aac']],
  );
  assert.equal(s[0]?.width, 320);
  assert.equal(s[0]?.height, 240);
  assert.equal(s[0]?.has_b_frames, 0);
  assert.equal(s[1]?.sample_rate, 44100);
  assert.equal(s[1]?.channels, 2);
  assert.equal(b[0]?.profile, 'High');
  assert.ok((b[0]?.has_b_frames ?? 0) > 0);
  assert.equal(mp3[1]?.codec_name, 'mp3');
  await assert.rejects(probeStreams('/nonexistent.ts'), /ffprobe/);
});

test('probePackets: PTS ≠ DTS in the B-frames fixture, DTS rises, keyframes flagged', async () => {
  const p = await probePackets(fixture('ts/h264-bframes-aac-320x240-10s.ts'), 3);
  const video = p.filter((x) => x.codec_type === 'video');
  assert.ok(video.length >= 50 && video.length < 250, `about 3 s of video, got ${video.length}`);
  assert.ok(video.some((x) => x.pts !== x.dts));
  for (let i = 1; i < video.length; i++) assert.ok((video[i]?.dts ?? 0) > (video[i - 1]?.dts ?? 0));
  assert.ok(video[0]?.flags.startsWith('K'));
  assert.equal(typeof video[0]?.dts_time, 'number');
});

test('run: collects output, feeds input, reports exit codes, kills at the hard timeout', async () => {
  const cat = await run('cat', [], { input: Buffer.from('hello') });
  assert.deepEqual([cat.code, cat.stdout.toString(), cat.timedOut], [0, 'hello', false]);
  const fail = await run('sh', ['-c', 'echo oops >&2; exit 3']);
  assert.deepEqual([fail.code, fail.stderr], [3, 'oops\n']);
  const t0 = Date.now();
  const slow = await run('sleep', ['10'], { timeoutMs: 200 });
  assert.deepEqual([slow.code, slow.signal, slow.timedOut], [null, 'SIGKILL', true]);
  assert.ok(Date.now() - t0 < 2000);
  const missing = await run('castgate-no-such-binary', []);
  assert.equal(missing.code, null);
  assert.match(missing.stderr, /ENOENT/);
});

test('startProcess: stop() sends SIGTERM, escalates to SIGKILL, and is idempotent', async () => {
  const p = startProcess('sleep', ['30']);
  await p.stop();
  assert.equal((await p.exited).signal, 'SIGTERM');
  await p.stop();
  const stubborn = startProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { stopGraceMs: 300 });
  await new Promise((resolve) => stubborn.child.stdout?.once('data', resolve)); // the trap is installed
  const t0 = Date.now();
  await stubborn.stop();
  assert.equal((await stubborn.exited).signal, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 290, 'waited the grace period before SIGKILL');
});

test('waitFor: returns the first truthy value, throws after the timeout', async () => {
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? n : 0), 1000, 5), 3);
  await assert.rejects(waitFor(() => false, 50, 10), /within 50 ms/);
});

test('free ports are distinct loopback ports', async () => {
  const [u, t] = [await freeUdpPort(), await freeTcpPort()];
  assert.ok(u > 0 && u < 65536 && t > 0 && t < 65536);
});

/** Bind a UDP receiver on a free port and resolve with the first datagram. */
async function firstDatagram(start: (port: number) => { stop(): Promise<void> }): Promise<Buffer> {
  const sock: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  const sender = start(sock.address().port);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no datagram within 8 s')), 8000);
      sock.once('message', (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  } finally {
    await sender.stop();
    sock.close();
  }
}

test('sendTsOverUdp sends 1316-byte datagrams of 188-byte TS packets', async () => {
  const d = await firstDatagram((port) => sendTsOverUdp(fixture('ts/h264-aac-320x240-25fps-10s.ts'), port));
  assert.equal(d.length, 1316);
  for (let i = 0; i < 7; i++) assert.equal(d[i * 188], 0x47, 'sync byte');
});

test('sendTsWithGstreamer sends 1316-byte datagrams (mpegtsmux alignment=7)', async () => {
  const d = await firstDatagram((port) => sendTsWithGstreamer(port, { seconds: 2 }));
  assert.equal(d.length, 1316);
  assert.equal(d[0], 0x47);
});
