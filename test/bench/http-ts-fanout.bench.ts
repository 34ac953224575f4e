/**
 * HTTP live fan-out benchmark: server CPU for N HTTP-TS (and, to compare, HTTP-FLV) players of one stream.
 * The harness in /work/shared/bench speaks HTTP-FLV and RTMP only, so this one does the same measurement for .ts:
 *
 *   1. start the gateway from `--root` (default: this checkout) in a child process (runCli, its own conf with free
 *      loopback ports, `srs_log_level error`, min_latency or mw_latency as given);
 *   2. publish `--fixture` over RTMP with `ffmpeg -re -stream_loop -1 -c copy` (bounded by a timeout);
 *   3. open N players (http.get, agent:false, bodies counted and dropped; TS bodies checked for the 0x47 sync byte
 *      every 188 bytes), spread over min(5 s, 5 ms × N), wait `--warmup` s, then sample for `--seconds` s:
 *      the server's utime+stime from /proc/PID/stat (% of ONE core), VmRSS, the players' received kbit/s, and the
 *      machine's busy % from /proc/stat (other tenants load it: read the figures with `sys_busy_pct`).
 *   4. print one key=value line per run; stop players, publisher and gateway.
 *
 * Compare before/after a change by pointing `--root` at an exported copy of the older commit
 * (`git archive REV | tar -x -C DIR; ln -s $PWD/node_modules DIR/`), in the same session.
 * Run: npx tsx test/bench/http-ts-fanout.bench.ts --players 500,1000 --formats ts,flv --fixture bench-720p.flv
 * (fixtures: /work/shared/bench/make-fixtures.sh DIR). Nothing here asserts: it prints figures.
 */
import { spawnSync } from 'node:child_process';
import { get, type ClientRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, machineTicks, publishLoop, rssMb, startGatewayProcess } from './fanout-gateway.ts';

const { values: args } = parseArgs({
  options: {
    players: { type: 'string', default: '200,500,1000' },
    formats: { type: 'string', default: 'ts,flv' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    root: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    fixture: { type: 'string', default: fileURLToPath(new URL('../../fixtures/flv/h264-aac-320x240-10s.flv', import.meta.url)) },
    /** `min` = min_latency on (write at the end of the tick); a number = mw_latency ms. */
    latency: { type: 'string', default: 'min' },
    label: { type: 'string', default: '' },
  },
});

/** The fixture's bitrate (ffprobe format=bit_rate), kbit/s: a player under 90 % of it (FLV) is behind. */
const FIXTURE_KBPS = Number(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=bit_rate', '-of', 'default=nw=1:nk=1', args.fixture])
  .stdout.toString().trim()) / 1000;
const TS_PACKET = 188;

interface Player {
  bytes: number;
  windowStart: number;
  errors: number;
  req: ClientRequest | undefined;
}

function openPlayer(port: number, path: string, isTs: boolean): Player {
  const p: Player = { bytes: 0, windowStart: 0, errors: 0, req: undefined };
  let offset = 0; // position in the TS body, for the sync byte check
  p.req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
    if (res.statusCode !== 200) p.errors++;
    res.on('data', (d: Buffer) => {
      if (isTs) {
        let i = (TS_PACKET - (offset % TS_PACKET)) % TS_PACKET;
        for (; i < d.length; i += TS_PACKET) if (d[i] !== 0x47) p.errors++;
        offset += d.length;
      }
      p.bytes += d.length;
    });
    res.on('error', () => p.errors++);
  });
  p.req.on('error', () => p.errors++);
  return p;
}

async function runOnce(format: 'ts' | 'flv', n: number): Promise<string> {
  const latency = args.latency === 'min' ? 'min_latency on;' : `play { mw_latency ${Number(args.latency)}; }`;
  const gw = await startGatewayProcess(args.root, latency);
  const pub = publishLoop(args.fixture, `rtmp://127.0.0.1:${gw.rtmpPort}/live/s`);
  const players: Player[] = [];
  try {
    const probe = openPlayer(gw.httpPort, `/live/s.${format}`, format === 'ts');
    for (let i = 0; i < 100 && probe.bytes < 10_000; i++) await sleep(100);
    probe.req?.destroy();
    if (probe.bytes < 10_000) throw new Error('no media from the gateway');
    const rampMs = Math.min(5000, 5 * n);
    for (let i = 0; i < n; i++) {
      players.push(openPlayer(gw.httpPort, `/live/s.${format}`, format === 'ts'));
      if (i % 10 === 9) await sleep((rampMs * 10) / n);
    }
    await sleep(Number(args.warmup) * 1000);
    const pid = gw.pid;
    const c0 = cpuSeconds(pid);
    const s0 = machineTicks();
    const me0 = process.cpuUsage();
    const t0 = performance.now();
    for (const p of players) p.windowStart = p.bytes;
    const rss: number[] = [];
    const seconds = Number(args.seconds);
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      rss.push(rssMb(pid));
    }
    const wallS = (performance.now() - t0) / 1000;
    const serverCpu = ((cpuSeconds(pid) - c0) / wallS) * 100;
    const s1 = machineTicks();
    const me = process.cpuUsage(me0);
    const clientCpu = ((me.user + me.system) / 1e6 / wallS) * 100;
    const kbps = players.map((p) => ((p.bytes - p.windowStart) * 8) / 1000 / wallS).sort((a, b) => a - b);
    const med = kbps[Math.floor(kbps.length / 2)] ?? 0;
    // TS adds ~5-10 % of packet overhead to the FLV payload: behind = under 90 % of the fixture rate either way
    const behind = kbps.filter((k) => k < FIXTURE_KBPS * 0.9).length;
    const errors = players.reduce((a, p) => a + p.errors, 0);
    const fields = {
      label: args.label || undefined, format, players: n, latency: args.latency,
      server_cpu_pct: serverCpu.toFixed(1),
      rss_avg_mb: (rss.reduce((a, b) => a + b, 0) / rss.length).toFixed(0),
      expect_kbps: FIXTURE_KBPS.toFixed(0), kbps_min: (kbps[0] ?? 0).toFixed(0), kbps_med: med.toFixed(0),
      behind, errors,
      client_cpu_pct: clientCpu.toFixed(1),
      sys_busy_pct: (((s1.busy - s0.busy) / (s1.total - s0.total)) * 100).toFixed(1),
    };
    return Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  } finally {
    for (const p of players) p.req?.destroy();
    pub.kill('SIGTERM');
    await gw.stop();
  }
}

for (const n of args.players.split(',').map(Number)) {
  for (const format of args.formats.split(',') as ('ts' | 'flv')[]) {
    console.log(await runOnce(format, n));
  }
}
