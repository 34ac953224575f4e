/**
 * TS demuxer benchmark: demux throughput in MB/s of TS (1 MB = 10^6 bytes) on one core, into a counting sink.
 * Input: a 60 s, 5 Mbit/s H.264 + AAC MPEG-TS made once by ffmpeg and cached in os.tmpdir(). It is fed as a byte
 * stream (`push`) in 1316-byte pushes (7 × 188) and in 64 KiB pushes (a file read), the latter also at an odd
 * offset so every push carries a partial packet; and per datagram (`pushDatagram`, the UDP caster's path) in
 * 1316-byte datagrams (`pkt_size=1316`) and 1472-byte datagrams (ffmpeg's default: packets split over two
 * datagrams and joined).
 * Run: npx tsx test/bench/ts-demuxer.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';
import type { TsDemuxerSink } from '../../core/protocol/mpegts/ts-demuxer.ts';
import { TsToRtmp } from '../../core/remux/ts-to-rtmp.ts';

const DURATION_S = 60;
const RUNS = 5;
const FILE = join(tmpdir(), `castgate-bench-h264-aac-${DURATION_S}s-5mbps.ts`);

function makeInput(): Buffer {
  if (!existsSync(FILE) || statSync(FILE).size === 0) {
    console.log(`generating ${FILE} with ffmpeg (once)...`);
    const tmp = `${FILE}.tmp.ts`;
    execFileSync('ffmpeg', [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
      '-t', String(DURATION_S),
      // noise keeps the encoder at its bitrate instead of far below it on a synthetic picture
      '-vf', 'noise=alls=12:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-bf', '0',
      '-b:v', '5M', '-minrate', '5M', '-maxrate', '5M', '-bufsize', '5M',
      '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', tmp,
    ], { stdio: 'inherit' });
    renameSync(tmp, FILE);
  }
  return readFileSync(FILE);
}

class CountingSink implements TsDemuxerSink {
  pes = 0;
  bytes = 0;
  errors = 0;
  onProgram(): void {}
  onPes(_track: unknown, data: Buffer): void {
    this.pes++;
    this.bytes += data.length;
  }
  onDecodeError(): void {
    this.errors++;
  }
}

function slices(input: Buffer, size: number, firstSize = size): Buffer[] {
  const out: Buffer[] = [input.subarray(0, firstSize)];
  for (let i = firstSize; i < input.length; i += size) out.push(input.subarray(i, i + size));
  return out;
}

function bench(label: string, chunks: Buffer[], total: number, datagrams = false): void {
  let best = Infinity;
  let sink = new CountingSink();
  for (let run = 0; run <= RUNS; run++) {
    sink = new CountingSink();
    const demuxer = new TsDemuxer(sink);
    const t0 = process.hrtime.bigint();
    if (datagrams) for (const c of chunks) demuxer.pushDatagram(c);
    else for (const c of chunks) demuxer.push(c);
    demuxer.flush();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (run > 0) best = Math.min(best, ms); // run 0 warms up the JIT
  }
  const mbps = total / 1e6 / (best / 1000);
  console.log(
    `${label.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s  ${(total / 188 / (best / 1000) / 1e6).toFixed(2)} Mpackets/s  ` +
      `${best.toFixed(1)} ms for ${(total / 1e6).toFixed(1)} MB (${(total * 8 / DURATION_S / 1e6).toFixed(2)} Mbit/s, ` +
      `${(total / 1e6 / (best / 1000) / (total / DURATION_S / 1e6)).toFixed(0)}× real time)  ${sink.pes} PES, ${sink.errors} errors`,
  );
}

const input = makeInput();
console.log(`node ${process.version}, input ${input.length} bytes`);
bench('1316-byte pushes (UDP datagrams)', slices(input, 1316), input.length);
bench('64 KiB pushes', slices(input, 65536), input.length);
bench('64 KiB pushes, off by 100 bytes', slices(input, 65536, 100), input.length);
bench('1316-byte datagrams (pushDatagram)', slices(input, 1316), input.length, true);
bench('1472-byte datagrams (pushDatagram)', slices(input, 1472), input.length, true);

/** The whole caster path: TS demux → TsToRtmp (33-bit clock, AvcPackager/AacPackager) → RtmpMessages. */
function benchToRtmp(label: string, chunks: Buffer[], total: number, datagrams = false): void {
  let best = Infinity;
  let messages = 0;
  let errors = 0;
  for (let run = 0; run <= RUNS; run++) {
    messages = 0;
    errors = 0;
    const toRtmp = new TsToRtmp({ onMessage: () => { messages++; }, onDecodeError: () => { errors++; } });
    const demuxer = new TsDemuxer(toRtmp);
    const t0 = process.hrtime.bigint();
    if (datagrams) for (const c of chunks) demuxer.pushDatagram(c);
    else for (const c of chunks) demuxer.push(c);
    demuxer.flush();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (run > 0) best = Math.min(best, ms);
  }
  const mbps = total / 1e6 / (best / 1000);
  const realtimeMbps = total / 1e6 / DURATION_S;
  console.log(
    `${label.padEnd(34)} ${mbps.toFixed(0).padStart(6)} MB/s  ${(messages / (best / 1000) / 1e3).toFixed(0)} k messages/s  ` +
      `${best.toFixed(1)} ms  (${(mbps / realtimeMbps).toFixed(0)}× real time, ~${Math.floor(mbps / realtimeMbps)} such streams per core)  ${messages} messages, ${errors} errors`,
  );
}

console.log('TS → RTMP messages (demux + packagers):');
benchToRtmp('1316-byte pushes (UDP datagrams)', slices(input, 1316), input.length);
benchToRtmp('64 KiB pushes', slices(input, 65536), input.length);
benchToRtmp('1316-byte datagrams (pushDatagram)', slices(input, 1316), input.length, true);
