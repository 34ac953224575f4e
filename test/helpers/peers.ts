/**
 * End-to-end test toolkit: free loopback ports, fixtures, and the real peers (ffmpeg, ffprobe, GStreamer) that
 * drive the gateway. Command lines are the ones verified in /work/shared/LIBRARIES.md.
 *
 * Every child is bounded: a hard timeout SIGKILLs it, `Running.stop()` sends SIGTERM then SIGKILL after 2 s, and
 * children still alive when the test process exits (or gets SIGINT/SIGTERM) are SIGKILLed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/peers.ts). */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Default hard timeout of `run()`. */
export const RUN_TIMEOUT_MS = 30_000;
/** Default hard timeout of a long-running peer (`startProcess` and the senders). */
export const PROCESS_TIMEOUT_MS = 120_000;
/** `stop()`: grace between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 2_000;
/** Captured stdout is kept up to this size (head); more is dropped and `stdoutTruncated` is set. */
export const MAX_STDOUT_BYTES = 64 * 1024 * 1024;
/** Captured stderr keeps this many trailing bytes (the end of an ffmpeg log is what explains a failure). */
export const MAX_STDERR_BYTES = 256 * 1024;
/** Test media frame rates of the GStreamer sender (videotestsrc caps, audiotestsrc default buffer size). */
const GST_FPS = 25;
const GST_AUDIO_RATE = 44_100;
const GST_SAMPLES_PER_BUFFER = 1024;

export interface RunResult {
  /** Exit code, or null when killed by a signal or when the spawn failed. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** True when the hard timeout fired (the child was SIGKILLed). */
  timedOut: boolean;
  stdoutTruncated: boolean;
  /** Spawn failure (e.g. ENOENT); its message is also appended to stderr. */
  error?: Error;
}

export interface Running {
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after the stop grace (default STOP_GRACE_MS = 2 s); resolves once the child has exited. Idempotent. */
  stop(): Promise<void>;
  /** Resolves (never rejects) when the child exits. */
  readonly exited: Promise<RunResult>;
}

export interface DecodeResult {
  code: number | null;
  /** Non-empty stderr lines of `ffmpeg -v error` (each one is a decode or demux error). */
  errors: string[];
  /** Decoded frames per media type, counted from framecrc lines. */
  videoFrames: number;
  audioFrames: number;
}

export interface ProbeStream {
  index: number;
  codec_name: string;
  codec_type: string;
  profile?: string;
  width?: number;
  height?: number;
  has_b_frames?: number;
  sample_rate?: number;
  channels?: number;
}

/**
 * What a user checks with ffprobe: the video codec and size and the audio codec of a stream.
 * Throws an AssertionError naming what differs.
 */
export function assertStreams(streams: readonly ProbeStream[], want: { video: string; width: number; height: number; audio: string }): void {
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  assert.equal(video?.codec_name, want.video);
  assert.equal(video?.width, want.width);
  assert.equal(video?.height, want.height);
  assert.equal(audio?.codec_name, want.audio);
}

export interface ProbePacket {
  stream_index: number;
  codec_type: string;
  /** In the stream's time base; null when ffprobe reports none. */
  pts: number | null;
  dts: number | null;
  /** Seconds. */
  pts_time: number | null;
  dts_time: number | null;
  /** ffprobe flags, e.g. 'K__' for a keyframe. */
  flags: string;
}

const live = new Set<ChildProcess>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = (): void => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig); // default action now that our once-handler is gone
    });
  }
}

/** A free UDP port on 127.0.0.1 (bound to port 0, then released). */
export async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => resolve());
    });
    return sock.address().port;
  } finally {
    await new Promise<void>((resolve) => sock.close(() => resolve()));
  }
}

/** A free TCP port on 127.0.0.1 (listened on port 0, then released). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('freeTcpPort: no port');
  return addr.port;
}

/** Absolute path of `fixtures/<name>`; throws (with the fix) when the fixture is missing. */
export function fixture(name: string): string {
  const path = `${REPO_ROOT}fixtures/${name}`;
  if (!existsSync(path)) throw new Error(`fixture ${name} missing: run 'sh fixtures/make-fixtures.sh'`);
  return path;
}

/** Spawn and collect; the shared core of run() and startProcess(). */
function spawnCollected(cmd: string, args: string[], timeoutMs: number, stopGraceMs: number, input?: Buffer): Running {
  installExitHooks();
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  const stdoutChunks: Buffer[] = [];
  let stdoutBytes = 0;
  let stdoutTruncated = false;
  let stderr = '';
  let timedOut = false;
  let spawnError: Error | undefined;
  child.stdout?.on('data', (d: Buffer) => {
    if (stdoutBytes + d.length > MAX_STDOUT_BYTES) {
      stdoutTruncated = true;
      d = d.subarray(0, MAX_STDOUT_BYTES - stdoutBytes);
    }
    if (d.length > 0) {
      stdoutChunks.push(d);
      stdoutBytes += d.length;
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    stderr += s;
    if (stderr.length > MAX_STDERR_BYTES) stderr = stderr.slice(stderr.length - MAX_STDERR_BYTES);
  });
  child.stdin?.on('error', () => {}); // EPIPE when the child exits before reading its input
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();

  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  const exited = new Promise<RunResult>((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      live.delete(child);
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(stdoutChunks),
        stderr: spawnError === undefined ? stderr : `${stderr}${spawnError.message}\n`,
        timedOut,
        stdoutTruncated,
      };
      if (spawnError !== undefined) result.error = spawnError;
      resolve(result);
    };
    child.once('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) finish(null, null); // never started: no 'close' will follow
    });
    child.once('close', (code, signal) => finish(code, signal));
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
        try {
          await exited;
        } finally {
          clearTimeout(kill);
        }
      } else {
        await exited;
      }
    })();
    return stopping;
  };
  return { child, stop, exited };
}

/**
 * Run a child to completion with a hard timeout (SIGKILL after `timeoutMs`, default RUN_TIMEOUT_MS).
 * Resolves with its exit status and output; never rejects (a spawn failure is reported in `error`).
 */
export function run(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: Buffer }): Promise<RunResult> {
  return spawnCollected(cmd, args, opts?.timeoutMs ?? RUN_TIMEOUT_MS, STOP_GRACE_MS, opts?.input).exited;
}

/**
 * Start a long-running child (a sender, a player). Stop it with `stop()` in a finally block.
 * `timeoutMs` (default PROCESS_TIMEOUT_MS) is a hard SIGKILL; `stopGraceMs` (default STOP_GRACE_MS) is stop()'s
 * wait between SIGTERM and SIGKILL.
 */
export function startProcess(cmd: string, args: string[], opts?: { timeoutMs?: number; stopGraceMs?: number }): Running {
  return spawnCollected(cmd, args, opts?.timeoutMs ?? PROCESS_TIMEOUT_MS, opts?.stopGraceMs ?? STOP_GRACE_MS);
}

const FFMPEG_QUIET = ['-nostdin', '-hide_banner', '-loglevel', 'error'];

/** `ffmpeg -re -stream_loop N -i FILE -c copy -f mpegts 'udp://127.0.0.1:PORT?pkt_size=1316'` (7 × 188-byte packets per datagram). */
export function sendTsOverUdp(file: string, port: number, opts?: { loops?: number; timeoutMs?: number }): Running {
  const args = [...FFMPEG_QUIET, '-re', '-stream_loop', String(opts?.loops ?? 0), '-i', file, '-c', 'copy'];
  args.push('-f', 'mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`);
  return startProcess('ffmpeg', args, { timeoutMs: opts?.timeoutMs ?? PROCESS_TIMEOUT_MS });
}

/**
 * GStreamer live test source → x264enc (keyframe every 1 s) + avenc_aac → mpegtsmux alignment=7 (1316-byte
 * datagrams) → udpsink on 127.0.0.1:port. `seconds` (default 12) bounds both sources by num-buffers; `-e` sends EOS.
 */
export function sendTsWithGstreamer(port: number, opts?: { seconds?: number }): Running {
  const seconds = opts?.seconds ?? 12;
  const videoBuffers = Math.ceil(seconds * GST_FPS);
  const audioBuffers = Math.ceil((seconds * GST_AUDIO_RATE) / GST_SAMPLES_PER_BUFFER);
  const pipeline =
    `videotestsrc is-live=true num-buffers=${videoBuffers} ! video/x-raw,width=320,height=240,framerate=${GST_FPS}/1` +
    ` ! x264enc tune=zerolatency speed-preset=veryfast key-int-max=${GST_FPS} ! h264parse ! queue ! mux.` +
    ` audiotestsrc is-live=true num-buffers=${audioBuffers} ! audio/x-raw,rate=${GST_AUDIO_RATE}` +
    ` ! audioconvert ! avenc_aac ! aacparse ! queue ! mux.` +
    ` mpegtsmux name=mux alignment=7 ! udpsink host=127.0.0.1 port=${port}`;
  return startProcess('gst-launch-1.0', ['-q', '-e', ...pipeline.split(' ')], {
    timeoutMs: seconds * 1000 + 15_000,
  });
}

/** `ffmpeg -re -i FILE -c copy -f flv URL` (ADTS AAC from TS gets aac_adtstoasc automatically). */
export function publishRtmp(file: string, url: string, opts?: { timeoutMs?: number }): Running {
  return startProcess('ffmpeg', [...FFMPEG_QUIET, '-re', '-i', file, '-c', 'copy', '-f', 'flv', url], {
    timeoutMs: opts?.timeoutMs ?? PROCESS_TIMEOUT_MS,
  });
}

/**
 * Decode `url` (a file path or a live URL) for at most `seconds` of media the way a user would check it:
 * `ffmpeg -v error -i URL -t SECONDS -fps_mode passthrough -f framecrc pipe:1`. framecrc is a null output that prints one line per
 * decoded frame, so frames are counted per media type (its `#media_type N: video|audio` header names them).
 */
export async function decodeCheck(url: string, seconds: number, opts?: { timeoutMs?: number }): Promise<DecodeResult> {
  const r = await run(
    'ffmpeg',
    ['-nostdin', '-hide_banner', '-v', 'error', '-i', url, '-t', String(seconds), '-fps_mode', 'passthrough', '-f', 'framecrc', 'pipe:1'],
    { timeoutMs: opts?.timeoutMs ?? seconds * 1000 + 20_000 },
  );
  const mediaType = new Map<string, string>();
  let videoFrames = 0;
  let audioFrames = 0;
  for (const line of r.stdout.toString('latin1').split('\n')) {
    if (line.startsWith('#')) {
      const m = /^#media_type (\d+): (\w+)/.exec(line);
      if (m !== null) mediaType.set(m[1] as string, m[2] as string);
      continue;
    }
    const comma = line.indexOf(',');
    if (comma <= 0) continue;
    const type = mediaType.get(line.slice(0, comma).trim());
    if (type === 'video') videoFrames++;
    else if (type === 'audio') audioFrames++;
  }
  const errors = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (r.timedOut) errors.push(`decodeCheck: ffmpeg killed after the hard timeout`);
  return { code: r.code, errors, videoFrames, audioFrames };
}

function numberOrUndefined(v: unknown): number | undefined {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function numberOrNull(v: unknown): number | null {
  return numberOrUndefined(v) ?? null;
}

async function ffprobeJson(args: string[], url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const r = await run('ffprobe', ['-v', 'error', ...args, '-of', 'json', url], { timeoutMs });
  if (r.code !== 0) {
    throw new Error(`ffprobe ${url} failed (code ${r.code}, signal ${r.signal}, timedOut ${r.timedOut}): ${r.stderr}`);
  }
  return JSON.parse(r.stdout.toString('utf8')) as Record<string, unknown>;
}

/** `ffprobe -show_streams -of json URL`, reduced to the fields tests assert on. Rejects when ffprobe fails. */
export async function probeStreams(url: string, opts?: { timeoutMs?: number }): Promise<ProbeStream[]> {
  const json = await ffprobeJson(['-show_streams'], url, opts?.timeoutMs ?? RUN_TIMEOUT_MS);
  const streams = (json['streams'] ?? []) as Record<string, unknown>[];
  return streams.map((s) => {
    const out: ProbeStream = {
      index: Number(s['index']),
      codec_name: String(s['codec_name'] ?? ''),
      codec_type: String(s['codec_type'] ?? ''),
    };
    if (typeof s['profile'] === 'string') out.profile = s['profile'];
    const fields = ['width', 'height', 'has_b_frames', 'sample_rate', 'channels'] as const;
    for (const f of fields) {
      const n = numberOrUndefined(s[f]);
      if (n !== undefined) out[f] = n;
    }
    return out;
  });
}

/**
 * `ffprobe -read_intervals %+SECONDS -show_packets` of a file or live URL: packets in demux order with pts/dts
 * (time base units and seconds) and flags. Rejects when ffprobe fails.
 */
export async function probePackets(url: string, seconds: number, opts?: { timeoutMs?: number }): Promise<ProbePacket[]> {
  const json = await ffprobeJson(
    [
      '-read_intervals',
      `%+${seconds}`,
      '-show_entries',
      'packet=stream_index,codec_type,pts,dts,pts_time,dts_time,flags',
    ],
    url,
    opts?.timeoutMs ?? seconds * 1000 + 20_000,
  );
  const packets = (json['packets'] ?? []) as Record<string, unknown>[];
  return packets.map((p) => ({
    stream_index: Number(p['stream_index']),
    codec_type: String(p['codec_type'] ?? ''),
    pts: numberOrNull(p['pts']),
    dts: numberOrNull(p['dts']),
    pts_time: numberOrNull(p['pts_time']),
    dts_time: numberOrNull(p['dts_time']),
    flags: String(p['flags'] ?? ''),
  }));
}

/**
 * Poll `fn` every `intervalMs` (default 50) until it returns a truthy value, which is returned. Throws after
 * `timeoutMs`, with the last error `fn` threw (if any) as the cause.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: condition not met within ${timeoutMs} ms`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Is a process with this pid still there (signal 0: no signal sent, only the existence check)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
