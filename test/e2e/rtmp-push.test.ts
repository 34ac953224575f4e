/**
 * End to end: MPEG-TS over UDP → mpegts_over_udp caster whose `output` is a FOREIGN server → RTMP push
 * (core/output/rtmp-push.ts) → nginx-rtmp (an independent implementation) → ffprobe/ffmpeg play from nginx.
 * Then nginx is stopped and started again mid-stream: the pusher reconnects and the stream plays again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCheck, fixture, freeTcpPort, freeUdpPort, probeStreams, sendTsOverUdp, waitFor, type Running } from '../helpers/peers.ts';
import { Nginx, tcpOpen } from '../helpers/nginx-rtmp.ts';
import { startTestGateway } from './harness.ts';

const FIXTURE = 'ts/h264-aac-320x240-25fps-10s.ts';

async function assertPlays(url: string, what: string, nginx: Nginx): Promise<void> {
  const streams = await probeStreams(url, { timeoutMs: 10_000 }).catch((err: Error) => assert.fail(`${what}: ${err.message}\n${nginx.log()}`));
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  assert.equal(video?.codec_name, 'h264', `${what}: video codec`);
  assert.equal(video?.width, 320);
  assert.equal(video?.height, 240);
  assert.equal(audio?.codec_name, 'aac', `${what}: audio codec`);
  const d = await decodeCheck(url, 3, { timeoutMs: 12_000 });
  assert.deepEqual(d.errors, [], `${what}: decode errors`);
  assert.ok(d.videoFrames >= 60, `${what}: ${d.videoFrames} video frames in 3 s`);
  assert.ok(d.audioFrames > 0, `${what}: audio decoded`);
}

test('caster output to nginx-rtmp: the pushed stream plays from nginx, and again after nginx restarts', { timeout: 45_000 }, async () => {
  const nginx = new Nginx(await freeTcpPort());
  let sender: Running | undefined;
  let gw: Awaited<ReturnType<typeof startTestGateway>> | undefined;
  try {
    await nginx.start();
    const udp = await freeUdpPort();
    const output = `rtmp://127.0.0.1:${nginx.port}/live/pushed`;
    gw = await startTestGateway(`stream_caster { enabled on; caster mpegts_over_udp; output ${output}; listen ${udp}; idle_timeout 1; }\n`);
    const caster = gw.gw.casters[0];
    assert.ok(caster !== undefined);
    sender = sendTsOverUdp(fixture(FIXTURE), udp, { loops: 2, timeoutMs: 40_000 });
    await waitFor(() => caster.stats()['publishing'] === true, 5_000);
    await assertPlays(output, 'first connection', nginx);

    // nginx goes away mid-stream and comes back on the same port: the pusher reconnects (backoff 1 s, 2 s, ...).
    await nginx.stop();
    assert.equal(await tcpOpen(nginx.port), false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nginx.start();
    await assertPlays(output, 'after nginx restart', nginx);
    assert.equal(caster.stats()['publishing'], true, 'the caster kept its publisher throughout');

    // The sender stops: after idle_timeout the caster closes the pusher (FCUnpublish, deleteStream).
    await sender.stop();
    await waitFor(() => caster.stats()['publishing'] === false, 5_000);
  } finally {
    await sender?.stop();
    await gw?.stop();
    await nginx.dispose();
  }
});
