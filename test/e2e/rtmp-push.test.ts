/**
 * End to end: MPEG-TS over UDP → mpegts_over_udp caster whose `output` is a FOREIGN server → RTMP push
 * (core/output/rtmp-push.ts) → nginx-rtmp (an independent implementation) → ffprobe/ffmpeg play from nginx.
 * Then nginx is stopped and started again mid-stream: the pusher reconnects and the stream plays again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheck, fixture, freeTcpPort, freeUdpPort, probeStreams, sendTsOverUdp, startProcess, waitFor, type Running } from '../helpers/peers.ts';
import { startTestGateway } from './harness.ts';

const FIXTURE = 'ts/h264-aac-320x240-25fps-10s.ts';

/** The rtmp module's .so as packaged by Debian (libnginx-mod-rtmp). */
function rtmpModulePath(): string {
  const files = execFileSync('dpkg', ['-L', 'libnginx-mod-rtmp'], { encoding: 'utf8' }).split('\n');
  const so = files.find((f) => f.endsWith('.so'));
  if (so === undefined) throw new Error('libnginx-mod-rtmp has no .so: apt-get install -y nginx-light libnginx-mod-rtmp');
  return so;
}

/** Is something accepting TCP connections on 127.0.0.1:port? */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * nginx-rtmp in the foreground with its own prefix dir (shared/LIBRARIES.md). `wait_key on`: a player joining
 * mid-GOP starts at a keyframe (nginx has no GOP cache), so ffmpeg's decode check sees no missing references.
 */
class Nginx {
  readonly port: number;
  readonly dir: string;
  #proc: Running | undefined;

  constructor(port: number) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'castgate-nginx-'));
    mkdirSync(join(this.dir, 'logs'));
    const conf = [
      `load_module ${rtmpModulePath()};`,
      'daemon off; master_process off; worker_processes 1;',
      `error_log ${join(this.dir, 'logs/error.log')} info; pid ${join(this.dir, 'logs/nginx.pid')};`,
      'events { worker_connections 64; }',
      `rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096;`,
      '  application live { live on; record off; wait_key on; wait_video on; } } }',
    ].join('\n');
    writeFileSync(join(this.dir, 'nginx.conf'), conf);
  }

  async start(): Promise<void> {
    const args = ['-p', this.dir, '-c', join(this.dir, 'nginx.conf'), '-e', join(this.dir, 'logs/error.log')];
    const proc = startProcess('nginx', args, { timeoutMs: 60_000 });
    this.#proc = proc;
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    await waitFor(async () => {
      if (exited) throw new Error(`nginx exited: ${this.log()}`);
      return tcpOpen(this.port);
    }, 5_000);
  }

  async stop(): Promise<void> {
    await this.#proc?.stop();
    this.#proc = undefined;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'logs/error.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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
