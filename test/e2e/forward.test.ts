/**
 * End to end: ffmpeg publishes RTMP to castgate A, whose vhost forwards every stream to (a) nginx-rtmp (Debian's RTMP
 * module, an independent server), twice: `host:port` (keeps app/stream and the query) and a full URL; and (b) a second
 * castgate B. ffmpeg decodes the stream at each destination with zero errors. Then each destination is killed and
 * started again on its port while the source keeps publishing: forwarding resumes (the real 1 s → 30 s backoff)
 * within 35 s, the source is never restarted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../core/config/config.ts';
import { createLogger } from '../../core/log.ts';
import { startGateway, type Gateway } from '../../core/main.ts';
import type { ForwardStats } from '../../core/output/forwarder.ts';
import { decodeCheck, fixture, freeTcpPort, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { Nginx } from '../helpers/nginx-rtmp.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

const FIXTURE = 'flv/h264-aac-320x240-10s.flv';
/** The bound for forwarding to resume after a destination comes back. */
const RESUME_WITHIN_MS = 35_000;
/** How long a destination stays down: long enough for failed reconnect attempts (1 s, then 2 s later). */
const DOWN_MS = 2_500;

/** Castgate B: a plain gateway on a given loopback port (started again on the same port after a kill). */
async function startPlainGateway(port: number): Promise<Gateway> {
  const { config } = loadConfigText(`listen 127.0.0.1:${port};\nvhost __defaultVhost__ { }\n`, 'b.conf');
  return startGateway(config, createLogger((process.env.CASTGATE_LOG_LEVEL as 'silent' | undefined) ?? 'silent', true));
}

/** `ffmpeg -re -stream_loop -1 -i FILE -c copy -f flv URL`: a live source that runs until stopped. */
function publishLooped(url: string): Running {
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', fixture(FIXTURE), '-c', 'copy', '-f', 'flv', url];
  return startProcess('ffmpeg', args, { timeoutMs: 85_000 });
}

/** ffmpeg decodes 3 s of the stream at `url` with zero errors, video and audio. */
async function assertDecodes(url: string, what: string, log: () => string = () => ''): Promise<void> {
  const d = await decodeCheck(url, 3, { timeoutMs: 15_000 });
  assert.deepEqual(d.errors, [], `${what}: decode errors ${log()}`);
  assert.ok(d.videoFrames >= 60, `${what}: ${d.videoFrames} video frames in 3 s`);
  assert.ok(d.audioFrames > 0, `${what}: audio decoded`);
}

test('forward to nginx-rtmp and a second castgate: both decode; each destination killed and restarted gets the stream again, the source never restarts', { timeout: 90_000 }, async (t) => {
  const nginx = new Nginx(await freeTcpPort());
  const bPort = await freeTcpPort();
  let b: Gateway | undefined;
  let a: TestGateway | undefined;
  let source: Running | undefined;
  try {
    await nginx.start();
    b = await startPlainGateway(bPort);
    a = await startTestGateway(
      `vhost __defaultVhost__ { forward { enabled on; destination 127.0.0.1:${nginx.port} rtmp://127.0.0.1:${nginx.port}/live/[stream]_url 127.0.0.1:${bPort}; } }\n`,
    );
    const gw = a.gw;
    const stats = (): ForwardStats[] => gw.forward.stats()['__defaultVhost__/live/fwd'] ?? [];
    source = publishLooped(a.rtmpUrl('live/fwd?token=abc'));
    await waitFor(() => stats().length === 3 && stats().every((s) => s.state === 'publishing'), 10_000);
    assert.deepEqual(stats().map((s) => s.url), [
      `rtmp://127.0.0.1:${nginx.port}/live/fwd?token=abc`,
      `rtmp://127.0.0.1:${nginx.port}/live/fwd_url`,
      `rtmp://127.0.0.1:${bPort}/live/fwd?token=abc`,
    ]);
    const publisherId = gw.hub.streams().find((s) => s.key === '__defaultVhost__/live/fwd')?.publisher?.id;
    assert.ok(publisherId !== undefined);
    const nginxUrl = `rtmp://127.0.0.1:${nginx.port}/live/fwd`;
    const bUrl = `rtmp://127.0.0.1:${bPort}/live/fwd`;
    await Promise.all([
      assertDecodes(nginxUrl, 'nginx host:port', () => nginx.log()),
      assertDecodes(`${nginxUrl}_url`, 'nginx full URL', () => nginx.log()),
      assertDecodes(bUrl, 'castgate B'),
    ]);

    // nginx dies and comes back on its port.
    const before = stats();
    await nginx.stop();
    await waitFor(() => stats()[0]?.state !== 'publishing' && stats()[1]?.state !== 'publishing', 5_000);
    await new Promise((ok) => setTimeout(ok, DOWN_MS));
    const nginxUpAt = Date.now();
    await nginx.start();
    await waitFor(() => stats()[0]?.state === 'publishing' && stats()[1]?.state === 'publishing', RESUME_WITHIN_MS, 100);
    const nginxResumeMs = Date.now() - nginxUpAt;
    for (const i of [0, 1]) {
      const s = stats()[i] as ForwardStats;
      assert.equal(s.connects, (before[i]?.connects ?? 0) + 1, 'one new publish');
      assert.ok(s.attempts >= (before[i]?.attempts ?? 0) + 2, `retried while nginx was down: ${s.attempts} attempts`);
      assert.ok(s.lastError !== undefined);
    }
    assert.equal(stats()[2]?.connects, 1, 'castgate B was not disturbed');
    await Promise.all([assertDecodes(nginxUrl, 'nginx after its restart', () => nginx.log()), assertDecodes(`${nginxUrl}_url`, 'nginx full URL after its restart')]);

    // Castgate B dies and comes back on its port.
    await b.stop();
    b = undefined;
    await waitFor(() => stats()[2]?.state !== 'publishing', 5_000);
    await new Promise((ok) => setTimeout(ok, DOWN_MS));
    const bUpAt = Date.now();
    b = await startPlainGateway(bPort);
    await waitFor(() => stats()[2]?.state === 'publishing', RESUME_WITHIN_MS, 100);
    const bResumeMs = Date.now() - bUpAt;
    await assertDecodes(bUrl, 'castgate B after its restart');

    // The source was never restarted: the same ffmpeg, the same publish session on A; everything was counted.
    assert.equal(source.child.exitCode, null, 'the source ffmpeg still runs');
    assert.equal(gw.hub.streams().find((s) => s.key === '__defaultVhost__/live/fwd')?.publisher?.id, publisherId);
    for (const s of stats()) {
      assert.equal(s.state, 'publishing');
      assert.ok(s.bytes > 100_000 && s.messages > 500, `${s.url}: ${s.messages} messages, ${s.bytes} bytes`);
    }
    t.diagnostic(`forward resumed ${nginxResumeMs} ms after nginx was back, ${bResumeMs} ms after castgate B was back (down ${DOWN_MS} ms each)`);

    // The source stops: every push ends (FCUnpublish), the forwarders are forgotten.
    await source.stop();
    await waitFor(() => gw.forward.stats()['__defaultVhost__/live/fwd'] === undefined, 5_000);
    await waitFor(() => !(b?.hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'fwd' }) ?? true), 5_000);
  } finally {
    await source?.stop();
    await a?.stop();
    await b?.stop();
    await nginx.dispose();
  }
});
