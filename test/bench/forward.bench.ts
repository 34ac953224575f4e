/**
 * Forward consumer benchmark: the messages of fixtures/flv/h264-aac-320x240-10s.flv (10 s, H.264 + AAC,
 * ~0.29 Mbit/s) published on a SourceHub again and again (fresh message objects, rising timestamps: no RTMP chunks
 * cached for players are reused), forwarded by a ForwardServer (hub consumer → RtmpPushPublisher → socket) to
 * nginx-rtmp running in its own process, so this process's CPU time is the forward side only (plus the hub's
 * fan-out). One GOP at a time, waiting until the forwarder has handed everything to the socket and the socket has
 * drained, so nothing is dropped. Prints MB/s of FLV tag bodies forwarded and process CPU time per second of media:
 * what one forwarded stream of this bitrate costs in % of one core.
 * Needs nginx-light + libnginx-mod-rtmp (as the e2e tests). Run: npx tsx test/bench/forward.bench.ts
 */
import { pino } from 'pino';
import { buildForwardConfig, type ForwardConfig } from '../../core/config/forward-config.ts';
import { SourceHub } from '../../core/hub/source-hub.ts';
import { RtmpMessage } from '../../core/media/message.ts';
import { makeStreamKey } from '../../core/media/stream-key.ts';
import { ForwardServer } from '../../core/output/forward-server.ts';
import type { ForwardStats } from '../../core/output/forwarder.ts';
import { createPublishTargetResolver } from '../../core/output/publish-target.ts';
import { framesOf, h264AacMessages } from '../helpers/dvr-media.ts';
import { Nginx } from '../helpers/nginx-rtmp.ts';
import { freeTcpPort, waitFor } from '../helpers/peers.ts';

const RUNS = 5;
const MIN_RUN_MS = 1000;
const log = pino({ level: 'silent' });
const msgs = h264AacMessages();
const configs = msgs.filter((m) => m.isConfig);
const frames = framesOf(msgs);
const durationMs = frames[frames.length - 1].timestamp - frames[0].timestamp + 40;
const mediaBytes = frames.reduce((n, m) => n + m.payload.length, 0);
/** The frames cut into GOPs (each starts at a keyframe; the audio before the first keyframe goes with it). */
const gops: RtmpMessage[][] = [];
for (const m of frames) {
  if (m.kind === 'keyframe' || gops.length === 0) gops.push([]);
  gops[gops.length - 1]?.push(m);
}

const nginx = new Nginx(await freeTcpPort());
await nginx.start();
const hub = new SourceHub({ log, vhost: () => ({ gopCache: false, queueLengthMs: 10_000, timeJitter: 'off' }) });
const r = buildForwardConfig(true, [`127.0.0.1:${nginx.port}`]);
if ('error' in r) throw new Error(r.error);
const cfg: ForwardConfig = r.value;
const server = new ForwardServer({ hub, log, forward: () => cfg });
server.start(createPublishTargetResolver({ hub, log, rtmpPorts: [] }), []);
const key = makeStreamKey('__defaultVhost__', 'live', 'bench');
const publisher = hub.publish(key, { id: 'bench-1', protocol: 'bench' });
const stats = (): ForwardStats => (server.stats()['__defaultVhost__/live/bench'] ?? [])[0] as ForwardStats;
const yieldToIo = (): Promise<void> => new Promise((ok) => setImmediate(ok));

try {
  await waitFor(() => stats().state === 'publishing', 5_000);
  for (const m of configs) publisher.write(new RtmpMessage(m.type, m.kind, m.timestamp, m.payload));
  let offsetMs = 0;
  /** One pass over the file; resolves once the forwarder has nothing queued. */
  const pass = async (): Promise<void> => {
    for (const gop of gops) {
      for (const m of gop) publisher.write(new RtmpMessage(m.type, m.kind, m.timestamp + offsetMs, m.payload));
      do await yieldToIo(); // the socket writes between GOPs, as it would for a live stream
      while (stats().queued > 0);
    }
    offsetMs += durationMs;
  };
  await pass(); // warm up
  const rates: number[] = [];
  const cpuPerMediaSecond: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const bytes0 = stats().bytes;
    let passes = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let ms = 0;
    while (ms < MIN_RUN_MS) {
      await pass();
      passes++;
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    const cpu = process.cpuUsage(cpu0);
    rates.push((stats().bytes - bytes0) / 1e6 / (ms / 1000));
    cpuPerMediaSecond.push((cpu.user + cpu.system) / 1e6 / ((passes * durationMs) / 1000));
  }
  const s = stats();
  if (s.dropped !== 0 || s.state !== 'publishing') throw new Error(`forward lost messages: ${JSON.stringify(s)}`);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`forward: ${(mediaBytes / 1e6).toFixed(3)} MB per ${(durationMs / 1000).toFixed(1)} s of media (${((mediaBytes * 8) / 1e3 / durationMs).toFixed(2)} Mbit/s), to nginx-rtmp over loopback`);
  console.log(`forward: median ${median(rates).toFixed(1)} MB/s forwarded (runs: ${rates.map((x) => x.toFixed(1)).join(', ')}), ${s.messages} messages, 0 dropped`);
  console.log(`forward: one forwarded stream of this bitrate costs ${(median(cpuPerMediaSecond) * 100).toFixed(3)} % of a core (CPU time per media second)`);
} finally {
  publisher.close();
  server.close();
  hub.close();
  await nginx.dispose();
}
