/**
 * nginx with Debian's RTMP module (nginx-light + libnginx-mod-rtmp) as an independent RTMP server: foreground, its
 * own prefix folder, a free loopback port (shared/LIBRARIES.md). Used by the RTMP push and forward end-to-end tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, waitFor, type Running } from './peers.ts';

/** The rtmp module's .so as packaged by Debian (libnginx-mod-rtmp). */
function rtmpModulePath(): string {
  const files = execFileSync('dpkg', ['-L', 'libnginx-mod-rtmp'], { encoding: 'utf8' }).split('\n');
  const so = files.find((f) => f.endsWith('.so'));
  if (so === undefined) throw new Error('libnginx-mod-rtmp has no .so: apt-get install -y nginx-light libnginx-mod-rtmp');
  return so;
}

/** Is something accepting TCP connections on 127.0.0.1:port? */
export function tcpOpen(port: number): Promise<boolean> {
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
 * nginx-rtmp on 127.0.0.1:port with one application `live`. `wait_key on`: a player joining mid-GOP starts at a
 * keyframe (nginx has no GOP cache), so ffmpeg's decode check sees no missing references.
 */
export class Nginx {
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

  /** Start it and wait (5 s at most) until it accepts connections. Rejects with its log when it exits. */
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

  /** SIGTERM (SIGKILL after the grace); resolves once it exited. Idempotent. */
  async stop(): Promise<void> {
    await this.#proc?.stop();
    this.#proc = undefined;
  }

  /** The tail of its error log (for assertion messages). */
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
