/**
 * DVR writer benchmark: the messages of fixtures/flv/h264-aac-320x240-10s.flv (10 s, H.264 + AAC, ~0.29 Mbit/s)
 * written again and again as whole files, FLV (FlvFileWriter) and MP4 (Mp4FileWriter, mediabunny), to a temporary
 * folder, each file closed and renamed. Prints MB/s of file written (1 MB = 10^6 bytes) and the process CPU time
 * (process.cpuUsage: main thread and libuv's file threads) per second of media, i.e. what one recorded stream of
 * this bitrate costs in % of one core. Each pass gets fresh message objects (the recorder re-stamps every message
 * with its file time, so no FLV tag serialized for players is reused).
 * Run: npx tsx test/bench/dvr.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtmpMessage } from '../../core/media/message.ts';
import { FlvFileWriter } from '../../core/output/dvr/flv-file-writer.ts';
import { Mp4FileWriter } from '../../core/output/dvr/mp4-file-writer.ts';
import type { DvrFileWriterOptions } from '../../core/output/dvr/dvr-file-writer.ts';
import { fileStartOf, framesOf, h264AacMessages } from '../helpers/dvr-media.ts';

const RUNS = 5;
const MIN_RUN_MS = 1000;
const msgs = h264AacMessages();
const frames = framesOf(msgs);
const start = fileStartOf(msgs);
const mediaSeconds = (frames[frames.length - 1].timestamp - frames[0].timestamp) / 1000;
const dir = mkdtempSync(join(tmpdir(), 'dvr-bench-'));

type Writer = new (opts: DvrFileWriterOptions) => FlvFileWriter | Mp4FileWriter;

async function writeOnce(W: Writer, n: number, ext: string): Promise<number> {
  const w = new W({ file: join(dir, `f${n}.${ext}`), start });
  for (const m of frames) w.write(new RtmpMessage(m.type, m.kind, m.timestamp, m.payload));
  const info = await w.close();
  return info.bytes;
}

async function bench(name: string, W: Writer, ext: string): Promise<void> {
  await writeOnce(W, 0, ext); // warm up
  const rates: number[] = [];
  const cpuPerMediaSecond: number[] = [];
  let bytesPerFile = 0;
  let n = 1;
  for (let r = 0; r < RUNS; r++) {
    let bytes = 0;
    let files = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let ms = 0;
    while (ms < MIN_RUN_MS) {
      bytes += await writeOnce(W, n++, ext);
      files++;
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    const cpu = process.cpuUsage(cpu0);
    bytesPerFile = bytes / files;
    rates.push(bytes / 1e6 / (ms / 1000));
    cpuPerMediaSecond.push((cpu.user + cpu.system) / 1e6 / (files * mediaSeconds));
    rmSync(dir, { recursive: true, force: true }); // keep the disk use of a run small
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const streamMbps = (bytesPerFile * 8) / 1e6 / mediaSeconds;
  console.log(`dvr ${name}: ${(bytesPerFile / 1e6).toFixed(3)} MB per ${mediaSeconds.toFixed(1)} s file (${streamMbps.toFixed(2)} Mbit/s)`);
  console.log(`dvr ${name}: median ${median(rates).toFixed(1)} MB/s written (runs: ${rates.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(`dvr ${name}: one recorded stream of this bitrate costs ${(median(cpuPerMediaSecond) * 100).toFixed(3)} % of a core (CPU time per media second)`);
}

try {
  await bench('flv', FlvFileWriter, 'flv');
  await bench('mp4', Mp4FileWriter, 'mp4');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
