/**
 * Fan-out load generator for the benchmarks: N HTTP-FLV or RTMP players of one stream spread over several worker
 * processes (each forks this file with `--worker`), so that thousands of players do not saturate one event loop
 * and the result stays server-bound. Works against any server on loopback (castgate, node-media-server, SRS).
 *
 * A player is a raw TCP socket that only counts bytes:
 * - HTTP-FLV: `GET path HTTP/1.1`, the response head checked for 200, then the body (HTTP/1.1 chunks or a
 *   close-delimited body) parsed without allocation: chunk sizes (RFC 9112 §7.1) and FLV tag headers (FLV 10.1
 *   E.4.1: TagType, DataSize, Timestamp + TimestampExtended) — the video timestamps give the media rate (how fast
 *   the player's media time advances against wall time: 1.0 = real time) and the first keyframe the join time;
 *   any other path (.ts) is the same without the FLV parsing (bytes only, join at the first body byte);
 * - RTMP: simple handshake (C0 C1, C2 echo of S1), connect / createStream / play in one write as ffmpeg does,
 *   then socket bytes are counted (no chunk parsing: the rate judges it).
 * Reads go to one buffer per process (`onread`), so a read costs no allocation.
 *
 * `runLoad` opens the players (ramped), waits `warmupS`, measures `seconds`, and returns per-player figures:
 * `behind` = players under 90 % of `expectKbps` (or, for HTTP-FLV, whose media time advanced < 90 % of wall time),
 * plus errors, join times, the workers' CPU and event-loop delay p99 (if a worker nears a core or its loop delay
 * grows, the result is load-generator bound).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { encodeAmf0 } from '../../core/protocol/amf0.ts';
import { RtmpTypeId } from '../../core/protocol/rtmp/chunk-reader.ts';
import { encodeChunks } from '../../core/protocol/rtmp/chunk-writer.ts';
import { RTMP_HANDSHAKE_SIZE } from '../../core/protocol/rtmp/handshake.ts';

export interface LoadOptions {
  /** http://127.0.0.1:PORT/app/stream.flv or rtmp://127.0.0.1:PORT/app/stream */
  readonly url: string;
  readonly clients: number;
  /** Worker processes; default max(1, ceil(clients / 1000)). */
  readonly procs?: number | undefined;
  /** Spread the connects over this many ms (all workers together). */
  readonly rampMs: number;
  readonly warmupS: number;
  readonly seconds: number;
  /** The stream's bitrate, kbit/s (payload). */
  readonly expectKbps: number;
}

export interface LoadResult {
  readonly clients: number;
  readonly connected: number;
  /** Players under 90 % of expectKbps, or (HTTP-FLV) whose media time advanced < 90 % of wall time, or never started. */
  readonly behind: number;
  readonly errors: number;
  readonly errorKinds: string;
  readonly kbpsMin: number;
  readonly kbpsMed: number;
  readonly mediaRateMin: number;
  readonly mediaRateMed: number;
  /** connect → first keyframe complete (HTTP-FLV) or first byte (RTMP), ms. */
  readonly joinP50Ms: number;
  readonly joinMaxMs: number;
  /** All workers' CPU over the window, % of one core; the worst worker's event-loop delay p99, ms. */
  readonly clientCpuPct: number;
  readonly clientEvloopP99Ms: number;
  readonly windowS: number;
}

// ---------------------------------------------------------------------------------------------- parent side

interface WorkerReport {
  readonly kbps: number[];
  readonly mediaRate: number[];
  readonly join: number[];
  readonly connected: number;
  readonly errors: Record<string, number>;
  readonly cpuS: number;
  readonly evloopP99Ms: number;
  readonly windowS: number;
}

const quantile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** Open the players, measure, close them. Never throws for player failures (they are counted). */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const procs = Math.max(1, Math.min(opts.clients, opts.procs ?? Math.ceil(opts.clients / 1000)));
  const workers: ChildProcess[] = [];
  const reports: Promise<WorkerReport>[] = [];
  const ready: Promise<void>[] = [];
  const self = fileURLToPath(import.meta.url);
  for (let w = 0; w < procs; w++) {
    const n = Math.floor(opts.clients / procs) + (w < opts.clients % procs ? 1 : 0);
    const child = fork(self, ['--worker'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push(child);
    ready.push(new Promise((ok) => child.once('message', () => ok())));
    reports.push(new Promise((ok, fail) => {
      child.on('message', (m: { report?: WorkerReport }) => { if (m.report !== undefined) ok(m.report); });
      child.once('exit', (code) => fail(new Error(`load worker exited with ${String(code)}`)));
    }));
    child.send({ url: opts.url, clients: n, rampMs: opts.rampMs, expectKbps: opts.expectKbps });
  }
  try {
    await Promise.all(ready); // every worker connected its players (ramp over)
    await new Promise((ok) => setTimeout(ok, opts.warmupS * 1000));
    for (const c of workers) c.send({ window: 'start' });
    await new Promise((ok) => setTimeout(ok, opts.seconds * 1000));
    for (const c of workers) c.send({ window: 'stop' });
    const all = await Promise.all(reports);
    const kbps = all.flatMap((r) => r.kbps).sort((a, b) => a - b);
    const rate = all.flatMap((r) => r.mediaRate).sort((a, b) => a - b);
    const join = all.flatMap((r) => r.join).sort((a, b) => a - b);
    const errors: Record<string, number> = {};
    for (const r of all) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    const isFlv = opts.url.startsWith('http') && new URL(opts.url).pathname.endsWith('.flv');
    let behind = 0;
    for (let i = 0; i < kbps.length; i++) if ((kbps[i] as number) < opts.expectKbps * 0.9) behind++;
    const slow = isFlv ? rate.filter((r) => r < 0.9).length : 0;
    const windowS = Math.max(...all.map((r) => r.windowS));
    return {
      clients: opts.clients,
      connected: all.reduce((a, r) => a + r.connected, 0),
      behind: Math.max(behind, slow) + (opts.clients - kbps.length),
      errors: Object.values(errors).reduce((a, b) => a + b, 0),
      errorKinds: Object.entries(errors).map(([k, v]) => `${k}:${v}`).join(',') || 'none',
      kbpsMin: kbps[0] ?? 0, kbpsMed: quantile(kbps, 0.5),
      mediaRateMin: rate[0] ?? NaN, mediaRateMed: quantile(rate, 0.5),
      joinP50Ms: quantile(join, 0.5), joinMaxMs: join.at(-1) ?? NaN,
      clientCpuPct: (all.reduce((a, r) => a + r.cpuS, 0) / windowS) * 100,
      clientEvloopP99Ms: Math.max(...all.map((r) => r.evloopP99Ms)),
      windowS,
    };
  } finally {
    for (const c of workers) if (c.exitCode === null) c.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------------------------------------- worker side

/** One player's counters; numbers only, updated per read. */
class Player {
  socket: Socket | undefined;
  t0 = 0;
  bytes = 0;
  winBytes = 0;
  joinMs = -1;
  error = '';
  /** The body is FLV (tag headers parsed); false for other formats (.ts: bytes only). */
  flv = true;
  // HTTP response head
  head = '';
  inBody = false;
  chunked = false;
  // chunked framing: 0 size digits, 1 to LF after the size line, 2 data, 3 CR LF after data
  cState = 0;
  cSize = 0;
  cLeft = 0;
  // FLV: bytes to skip (13-byte file header + PreviousTagSize0 first), then an 11-byte tag header
  fSkip = 13;
  fHdrPos = 0;
  fType = 0;
  fSize = 0;
  fTs = 0;
  /** Video: the first body byte (FrameType) is still to be read. */
  fNeedFrameType = false;
  videoTs = -1;
  winVideoTs = -1;
  // RTMP: handshake bytes still to read (S0 S1 S2)
  rtmpSkip = 1 + 2 * RTMP_HANDSHAKE_SIZE;
  s1: Buffer | undefined;
}

/** Feed body bytes `b[from..to)` to the FLV tag header parser. */
function flvBytes(p: Player, b: Buffer, from: number, to: number): void {
  if (!p.flv) {
    if (p.joinMs < 0 && to > from) p.joinMs = performance.now() - p.t0; // other formats: the first body byte
    return;
  }
  let i = from;
  while (i < to) {
    if (p.fSkip > 0) {
      const n = Math.min(p.fSkip, to - i);
      p.fSkip -= n;
      i += n;
      continue;
    }
    if (p.fNeedFrameType) {
      p.fNeedFrameType = false;
      p.videoTs = p.fTs;
      if (p.joinMs < 0 && (b[i] as number) >> 4 === 1) p.joinMs = -2; // keyframe started: complete when skipped
      p.fSkip = p.fSize + 4;
      continue;
    }
    const c = b[i++] as number;
    switch (p.fHdrPos++) {
      case 0: p.fType = c & 0x1f; p.fSize = 0; p.fTs = 0; break;
      case 1: case 2: case 3: p.fSize = (p.fSize << 8) | c; break;
      case 4: case 5: case 6: p.fTs = (p.fTs << 8) | c; break;
      case 7: p.fTs = (p.fTs | (c << 24)) >>> 0; break;
      case 10:
        p.fHdrPos = 0;
        if (p.joinMs === -2) p.joinMs = performance.now() - p.t0; // the previous tag was the first keyframe, now complete
        if (p.fType === 9 && p.fSize > 0) p.fNeedFrameType = true;
        else p.fSkip = p.fSize + 4;
        break;
      default: break;
    }
  }
}

function httpBytes(p: Player, b: Buffer, n: number): void {
  let i = 0;
  if (!p.inBody) {
    p.head += b.toString('latin1', 0, n);
    const end = p.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (p.head.length > 16384) fail(p, 'head');
      return;
    }
    if (!/^HTTP\/1\.[01] 200/.test(p.head)) return fail(p, 'status');
    p.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(p.head);
    i = n - (p.head.length - end - 4);
    p.head = '';
    p.inBody = true;
  }
  if (!p.chunked) {
    p.bytes += n - i;
    flvBytes(p, b, i, n);
    return;
  }
  while (i < n) {
    switch (p.cState) {
      case 0: {
        const c = b[i++] as number;
        const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
        if (d >= 0) p.cSize = p.cSize * 16 + d;
        else p.cState = c === 0x0a ? 2 : 1;
        if (p.cState === 2) p.cLeft = p.cSize;
        break;
      }
      case 1:
        if (b[i++] === 0x0a) {
          p.cState = 2;
          p.cLeft = p.cSize;
          if (p.cSize === 0) return fail(p, 'eof');
        }
        break;
      case 2: {
        const m = Math.min(p.cLeft, n - i);
        p.bytes += m;
        flvBytes(p, b, i, i + m);
        i += m;
        p.cLeft -= m;
        if (p.cLeft === 0) {
          p.cState = 3;
          p.cSize = 0;
        }
        break;
      }
      default:
        if (b[i++] === 0x0a) p.cState = 0;
        break;
    }
  }
}

function rtmpCommand(values: Parameters<typeof encodeAmf0>[0], msid = 0): Buffer {
  return encodeChunks({ chunkStreamId: 3, messageStreamId: msid, typeId: RtmpTypeId.CommandAmf0, timestampMs: 0 }, encodeAmf0(values), 128);
}

function rtmpBytes(p: Player, b: Buffer, n: number, u: URL): void {
  let i = 0;
  if (p.rtmpSkip > 0) {
    // keep S1 (bytes 1..1536) for C2
    p.s1 ??= Buffer.alloc(RTMP_HANDSHAKE_SIZE);
    const consumed = 1 + 2 * RTMP_HANDSHAKE_SIZE - p.rtmpSkip;
    const m = Math.min(p.rtmpSkip, n);
    for (let k = 0; k < m; k++) {
      const pos = consumed + k - 1;
      if (pos >= 0 && pos < RTMP_HANDSHAKE_SIZE) p.s1[pos] = b[k] as number;
    }
    p.rtmpSkip -= m;
    i = m;
    if (p.rtmpSkip === 0) {
      const app = u.pathname.split('/')[1] ?? 'live';
      const stream = u.pathname.split('/').slice(2).join('/');
      p.socket?.write(Buffer.concat([p.s1, rtmpCommand(['connect', 1, { app, tcUrl: `rtmp://${u.host}/${app}`, flashVer: 'LNX 9,0,124,2' }]),
        rtmpCommand(['createStream', 2, null]), rtmpCommand(['play', 3, null, stream, -1000], 1)]));
      p.s1 = undefined;
    }
  }
  if (n > i) {
    if (p.joinMs < 0) p.joinMs = performance.now() - p.t0;
    p.bytes += n - i;
  }
}

function fail(p: Player, kind: string): void {
  if (p.error === '') p.error = kind;
  p.socket?.destroy();
}

function startWorker(): void {
  const players: Player[] = [];
  const readBuffer = Buffer.allocUnsafe(256 * 1024);
  const evloop = monitorEventLoopDelay({ resolution: 10 });
  let winT0 = 0;
  let cpu0 = process.cpuUsage();
  let connected = 0;
  process.on('message', (m: { url?: string; clients?: number; rampMs?: number; window?: string }) => {
    if (m.url !== undefined) void open(m.url, m.clients ?? 0, m.rampMs ?? 0);
    else if (m.window === 'start') {
      winT0 = performance.now();
      cpu0 = process.cpuUsage();
      evloop.reset();
      for (const p of players) {
        p.winBytes = p.bytes;
        p.winVideoTs = p.videoTs;
      }
    } else if (m.window === 'stop') {
      const windowS = (performance.now() - winT0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const errors: Record<string, number> = {};
      const kbps: number[] = [];
      const mediaRate: number[] = [];
      const join: number[] = [];
      for (const p of players) {
        if (p.error !== '') errors[p.error] = (errors[p.error] ?? 0) + 1;
        kbps.push(((p.bytes - p.winBytes) * 8) / 1000 / windowS);
        if (p.winVideoTs >= 0) mediaRate.push((p.videoTs - p.winVideoTs) / 1000 / windowS);
        else if (p.videoTs >= 0 || p.socket === undefined) mediaRate.push(0);
        if (p.joinMs >= 0) join.push(p.joinMs);
      }
      const report: WorkerReport = { kbps, mediaRate, join, connected, errors, cpuS: (cpu.user + cpu.system) / 1e6, evloopP99Ms: evloop.percentile(99) / 1e6, windowS };
      for (const p of players) p.socket?.destroy();
      process.send?.({ report }, () => process.exit(0));
    }
  });
  evloop.enable();

  async function open(url: string, n: number, rampMs: number): Promise<void> {
    const u = new URL(url);
    const isRtmp = u.protocol === 'rtmp:';
    const port = Number(u.port || (isRtmp ? 1935 : 80));
    const request = Buffer.from(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: castgate-fanout-load\r\nAccept: */*\r\n\r\n`, 'latin1');
    for (let k = 0; k < n; k++) {
      const p = new Player();
      p.flv = isRtmp || u.pathname.endsWith('.flv');
      players.push(p);
      p.t0 = performance.now();
      const socket = connect({
        host: u.hostname, port, noDelay: true,
        onread: {
          buffer: readBuffer,
          callback: (bytes: number, buf: Uint8Array): boolean => {
            if (isRtmp) rtmpBytes(p, buf as Buffer, bytes, u);
            else httpBytes(p, buf as Buffer, bytes);
            return true;
          },
        },
      });
      p.socket = socket;
      socket.on('connect', () => {
        connected++;
        if (isRtmp) {
          const c1 = Buffer.alloc(RTMP_HANDSHAKE_SIZE);
          socket.write(Buffer.concat([Buffer.of(3), c1]));
        } else socket.write(request);
      });
      socket.on('error', (err: NodeJS.ErrnoException) => { if (p.error === '') p.error = err.code ?? 'error'; });
      socket.on('close', () => { if (p.error === '') p.error = 'closed'; });
      if (k % 10 === 9 && rampMs > 0) await new Promise((ok) => setTimeout(ok, (rampMs * 10) / n));
    }
    process.send?.({ ready: true });
  }
}

if (process.argv.includes('--worker')) startWorker();
