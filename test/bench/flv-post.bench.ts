/**
 * FLV POST caster benchmark: FLV-over-HTTP ingest throughput (1 MB = 10^6 bytes) into a counting hub.
 * Input: a generated ~200 MB FLV (5 Mbit/s-sized video tags at 25 fps + AAC-sized audio tags, realistic tag
 * mix) written once to os.tmpdir(). curl uploads it over loopback as fast as it can (a separate process, so the
 * caster's event loop has this process's core to itself), once with Content-Length and once chunked.
 * Printed: wall-clock MB/s, and MB per CPU-second of this process (= MB/s on one fully used core).
 * Run: npx tsx test/bench/flv-post.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, openSync, closeSync, renameSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { FlvPostCaster } from '../../casters/flv-post/flv-post-caster.ts';
import type { HubPort, Publisher } from '../../core/hub/ports.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';
import { flvFileHeader, flvTag } from '../../core/protocol/flv/flv-muxer.ts';

const DURATION_S = 320;
const VIDEO_BYTES_PER_FRAME = Math.round(5_000_000 / 8 / 25);
const RUNS = 3;
const FILE = join(tmpdir(), `castgate-bench-flv-post-${DURATION_S}s.flv`);

function tag(type: MessageType, timestampMs: number, body: Buffer): Buffer {
  return flvTag(createMessage(type, timestampMs, body) as RtmpMessage);
}

/** FLV with a video tag every 40 ms (keyframe every 2 s, 4× the size) and an AAC tag every ~23 ms. */
function makeInput(): number {
  if (existsSync(FILE) && statSync(FILE).size > 0) return statSync(FILE).size;
  console.log(`generating ${FILE} (once)...`);
  const tmp = `${FILE}.tmp`;
  const fd = openSync(tmp, 'w');
  writeSync(fd, flvFileHeader(true, true)); // + PreviousTagSize0
  const fill = (n: number, seed: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  };
  writeSync(fd, tag(MessageType.Video, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0, 0])));
  writeSync(fd, tag(MessageType.Audio, 0, Buffer.from([0xaf, 0, 0x12, 0x10])));
  let audioMs = 0;
  for (let frame = 0; frame < DURATION_S * 25; frame++) {
    const ms = frame * 40;
    const key = frame % 50 === 0;
    const body = fill(key ? VIDEO_BYTES_PER_FRAME * 4 : VIDEO_BYTES_PER_FRAME, frame);
    body[0] = key ? 0x17 : 0x27;
    body[1] = 1;
    writeSync(fd, tag(MessageType.Video, ms, body));
    for (; audioMs < ms + 40; audioMs += 1024 / 44.1) {
      const a = fill(370, frame);
      a[0] = 0xaf;
      a[1] = 1;
      writeSync(fd, tag(MessageType.Audio, Math.round(audioMs), a));
    }
  }
  closeSync(fd);
  renameSync(tmp, FILE);
  return statSync(FILE).size;
}

class CountingHub implements HubPort {
  messages = 0;
  bytes = 0;
  #busy = false;
  publish(key: Publisher['key']): Publisher {
    this.#busy = true;
    return {
      key,
      write: (m) => {
        this.messages++;
        this.bytes += m.payload.length;
      },
      close: () => {
        this.#busy = false;
      },
    };
  }
  subscribe(): never {
    throw new Error('not in this bench');
  }
  isPublishing(): boolean {
    return this.#busy;
  }
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.on('error', reject);
    c.on('close', () => resolve(out));
  });
}

async function main(): Promise<void> {
  execFileSync('curl', ['--version'], { stdio: 'ignore' });
  const size = makeInput();
  const hub = new CountingHub();
  const caster = new FlvPostCaster({
    output: ({ app, stream }) => ({ hub, key: { vhost: '__defaultVhost__', app, stream }, url: `rtmp://127.0.0.1/${app}/${stream}`, local: true, admit: () => Promise.resolve() }),
    listen: { host: '127.0.0.1', port: 0 },
    idleTimeoutMs: 10_000,
    log: pino({ level: 'silent' }),
  });
  await caster.start();
  const url = `http://127.0.0.1:${caster.port}/live/bench.flv`;
  console.log(`input: ${(size / 1e6).toFixed(1)} MB FLV, ${DURATION_S} s of 5 Mbit/s video + AAC-sized audio`);
  for (const [label, extra] of [['Content-Length', []], ['chunked', ['-H', 'Transfer-Encoding: chunked']]] as const) {
    let bestWall = 0;
    let bestCpu = 0;
    for (let run = 0; run < RUNS; run++) {
      hub.messages = 0;
      hub.bytes = 0;
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const status = await curl(['-T', FILE, ...extra, url]);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const cpuS = (cpu.user + cpu.system) / 1e6;
      if (status !== '200') throw new Error(`curl got HTTP ${status}`);
      bestWall = Math.max(bestWall, size / 1e6 / wallS);
      bestCpu = Math.max(bestCpu, size / 1e6 / cpuS);
      if (run === 0) console.log(`  ${label}: ${hub.messages} messages, ${(hub.bytes / 1e6).toFixed(1)} MB of payload per run`);
    }
    console.log(`FLV POST ingest (${label}): ${bestWall.toFixed(0)} MB/s wall, ${bestCpu.toFixed(0)} MB per CPU-second of the caster (best of ${RUNS})`);
  }
  await caster.stop();
}

await main();
