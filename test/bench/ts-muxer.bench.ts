/**
 * TS muxer benchmark: RtmpMessages → MPEG-TS throughput in MB/s of TS out (1 MB = 10^6 bytes) on one core, and
 * the CPU cost of one HTTP-TS player (each player runs its own TsMuxer) as a fraction of a core per Mbit/s.
 * Input: the messages of fixtures/flv/h264-aac-320x240-10s.flv (read once by the FlvDemuxer), muxed repeatedly
 * with tables written every keyframe, as the HTTP-TS output does.
 * Run: npx tsx test/bench/ts-muxer.bench.ts
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RtmpMessage } from '../../core/media/message.ts';
import { FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';
import { TsMuxer } from '../../core/remux/rtmp-to-ts.ts';

const RUNS = 5;
const MIN_RUN_MS = 1000;
const file = fileURLToPath(new URL('../../fixtures/flv/h264-aac-320x240-10s.flv', import.meta.url));

const msgs: RtmpMessage[] = [];
const demuxer = new FlvDemuxer({ onMessage: (m) => msgs.push(m), onDecodeError: (e) => { throw e; } });
demuxer.push(readFileSync(file));
demuxer.end();
const mediaSeconds = (msgs[msgs.length - 1].timestamp - msgs[0].timestamp) / 1000;

function muxOnce(): number {
  const m = new TsMuxer();
  m.configure('h264', 'aac');
  const out: Buffer[] = [];
  let bytes = 0;
  m.writeTables(out);
  for (const msg of msgs) {
    if (msg.kind === 'keyframe') m.writeTables(out);
    m.writeMessage(msg, out);
    for (const b of out) bytes += b.length;
    out.length = 0;
  }
  return bytes;
}

muxOnce(); // warm up
const rates: number[] = [];
let tsBytesPerPass = 0;
for (let r = 0; r < RUNS; r++) {
  let bytes = 0;
  let passes = 0;
  const t0 = process.hrtime.bigint();
  let ms = 0;
  while (ms < MIN_RUN_MS) {
    bytes += muxOnce();
    passes++;
    ms = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  tsBytesPerPass = bytes / passes;
  rates.push(bytes / 1e6 / (ms / 1000));
}
rates.sort((a, b) => a - b);
const median = rates[Math.floor(RUNS / 2)];
const streamMbps = (tsBytesPerPass * 8) / 1e6 / mediaSeconds;
console.log(`ts-muxer: ${msgs.length} messages, ${(tsBytesPerPass / 1e6).toFixed(2)} MB of TS per ${mediaSeconds.toFixed(1)} s pass (${streamMbps.toFixed(2)} Mbit/s)`);
console.log(`ts-muxer: median ${median.toFixed(1)} MB/s of TS out on one core (runs: ${rates.map((x) => x.toFixed(1)).join(', ')})`);
console.log(`ts-muxer: one HTTP-TS player of this stream costs ${((streamMbps / 8 / median) * 100).toFixed(3)} % of a core in muxing (${Math.floor((median * 8) / streamMbps)} players per core, writes excluded)`);
