/**
 * A supervised child process (SRS app/srs_app_process.hpp SrsProcess; mediamtx internal/externalcmd/cmd.go):
 * spawn, watch, restart with exponential backoff, stop with SIGTERM then SIGKILL.
 *
 * - The child runs in its own process group (detached) and signals go to the group, so a shell wrapper and
 *   what it started stop together; Node reaps every child on 'exit', so none is left a zombie.
 * - Restart: after any exit (clean or not) the child is started again after a backoff that doubles from
 *   `minBackoffMs` (1 s) to `maxBackoffMs` (30 s) and is reset once a child has run `healthyMs` (60 s).
 * - A spawn failure of the binary itself (ENOENT, EACCES) is ONE clear error, and the process is disabled
 *   rather than retried: a missing ffmpeg will not appear by itself.
 * - stderr: ffmpeg progress lines (`-progress pipe:2` key=value, or the classic `frame=… fps=… speed=…`) go to
 *   `stats().progress`; other lines go to the log, rate-limited, and to a ring buffer of the last lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ErrorCode, GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';

export const DEFAULT_MIN_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
/** A child that ran this long is healthy: the next restart waits the minimum again. */
export const DEFAULT_HEALTHY_MS = 60_000;
/** stop(): grace between SIGTERM and SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_MS = 3_000;
/** Lines of stderr kept for stats and error reports. */
export const STDERR_RING_LINES = 50;
/** Log at most this many stderr lines per STDERR_LOG_INTERVAL_MS; the rest are counted. */
export const STDERR_LOG_BURST = 10;
export const STDERR_LOG_INTERVAL_MS = 10_000;
/** A stderr line longer than this is cut (a runaway line must not grow memory). */
export const STDERR_MAX_LINE = 1024;

/** Exponential backoff: 1 s, 2 s, 4 s … capped; `reset()` after a healthy run. */
export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  #nextMs: number;

  constructor(minMs = DEFAULT_MIN_BACKOFF_MS, maxMs = DEFAULT_MAX_BACKOFF_MS) {
    this.#minMs = minMs;
    this.#maxMs = Math.max(minMs, maxMs);
    this.#nextMs = minMs;
  }

  /** The delay to wait now; the following one doubles (capped). */
  next(): number {
    const d = this.#nextMs;
    this.#nextMs = Math.min(this.#maxMs, d * 2);
    return d;
  }

  reset(): void {
    this.#nextMs = this.#minMs;
  }
}

/** ffmpeg progress, from `-progress` key=value lines or the classic stats line. */
export interface FfmpegProgress {
  frame?: number;
  fps?: number;
  /** kbit/s. */
  bitrateKbps?: number;
  /** Processing speed relative to real time (1 = real time). */
  speed?: number;
  /** Output media time, ms. */
  outTimeMs?: number;
  totalSizeBytes?: number;
}

const CLASSIC_RE = /(frame|fps|size|time|bitrate|speed)=\s*(\S+)/g;

function num(text: string): number | undefined {
  const n = Number.parseFloat(text);
  return Number.isFinite(n) ? n : undefined;
}

/** `HH:MM:SS.micro` → ms. */
function clockToMs(text: string): number | undefined {
  const m = /^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text);
  if (m === null) return undefined;
  const ms = (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4])) * 1000;
  return Math.round(m[1] === '-' ? -ms : ms);
}

/**
 * Fold one stderr line into `progress`. Returns true when the line was progress (and should not be logged).
 * Pure; knows ffmpeg's `-progress` keys (frame, fps, bitrate, total_size, out_time_us/ms, out_time, speed,
 * progress, dup_frames, drop_frames, stream_N_N_q) and the classic `frame=  25 fps= 25 … speed=1.0x` line.
 */
export function parseProgressLine(line: string, progress: FfmpegProgress): boolean {
  // `-progress` writes one `key=value` per line, the value sometimes padded (`bitrate= 512.3kbits/s`).
  const kv = /^([a-z_0-9]+)=\s*(\S*)\s*$/.exec(line);
  if (kv !== null) {
    const key = kv[1] as string;
    const v = kv[2] as string;
    switch (key) {
      case 'frame': { const n = num(v); if (n !== undefined) progress.frame = n; return true; }
      case 'fps': { const n = num(v); if (n !== undefined) progress.fps = n; return true; }
      case 'bitrate': { const n = num(v); if (n !== undefined) progress.bitrateKbps = n; return true; }
      case 'total_size': { const n = num(v); if (n !== undefined) progress.totalSizeBytes = n; return true; }
      case 'out_time_us': { const n = num(v); if (n !== undefined) progress.outTimeMs = Math.round(n / 1000); return true; }
      case 'out_time_ms': return true; // ffmpeg writes microseconds here too (a known misnomer); out_time_us wins
      case 'out_time': { const ms = clockToMs(v); if (ms !== undefined) progress.outTimeMs = ms; return true; }
      case 'speed': { const n = num(v); if (n !== undefined) progress.speed = n; return true; }
      case 'progress': case 'dup_frames': case 'drop_frames': return true;
      default:
        return /^stream_\d+_\d+_q$/.test(key);
    }
  }
  if (!/^frame=\s*\d/.test(line) && !/^size=\s*\S+ time=/.test(line)) return false;
  for (const m of line.matchAll(CLASSIC_RE)) {
    const v = m[2] as string;
    if (m[1] === 'frame') { const n = num(v); if (n !== undefined) progress.frame = n; }
    else if (m[1] === 'fps') { const n = num(v); if (n !== undefined) progress.fps = n; }
    else if (m[1] === 'bitrate') { const n = num(v); if (n !== undefined) progress.bitrateKbps = n; }
    else if (m[1] === 'speed') { const n = num(v); if (n !== undefined) progress.speed = n; }
    else if (m[1] === 'time') { const ms = clockToMs(v); if (ms !== undefined) progress.outTimeMs = ms; }
  }
  return true;
}

export interface SupervisedProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The child's stdin: `ignore` (default) or `pipe` (`child.stdin` is writable in onSpawn, e.g. FLV for a transcode). */
  readonly stdin?: 'ignore' | 'pipe';
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly healthyMs?: number;
  readonly stopTimeoutMs?: number;
  /** A child was spawned (attach to its stdout here). */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** The child exited (before any restart is scheduled). */
  readonly onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  /** The binary cannot be spawned (ENOENT/EACCES); the process is disabled. */
  readonly onFatal?: (err: GatewayError) => void;
}

export type ProcessState = 'idle' | 'running' | 'waiting' | 'stopped' | 'failed';

export interface SupervisedProcessStats {
  readonly state: ProcessState;
  readonly pid: number | undefined;
  /** Spawns so far (first start included). */
  readonly starts: number;
  /** Spawns after the first. */
  readonly restarts: number;
  /** ms since the current child started; 0 when none runs. */
  readonly uptimeMs: number;
  readonly lastExit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** The delay before the pending restart, ms (state 'waiting'). */
  readonly nextRestartMs: number | undefined;
  readonly progress: Readonly<FfmpegProgress>;
  /** Why the process is disabled (state 'failed'). */
  readonly error: string | undefined;
  /** Last stderr lines (progress excluded). */
  readonly stderrTail: readonly string[];
  readonly stderrLinesSuppressed: number;
}

/** One command kept running. `start()` once; `stop()` is idempotent and resolves when the child is gone. */
export class SupervisedProcess {
  readonly #opts: SupervisedProcessOptions;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  #state: ProcessState = 'idle';
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #startedAt = 0;
  #starts = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextRestartMs: number | undefined;
  #lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #progress: FfmpegProgress = {};
  #error: string | undefined;
  readonly #ring: string[] = [];
  #logWindowStart = 0;
  #logWindowCount = 0;
  #suppressed = 0;

  constructor(opts: SupervisedProcessOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#backoff = new Backoff(opts.minBackoffMs, opts.maxBackoffMs);
  }

  get child(): ChildProcess | undefined {
    return this.#child;
  }

  get state(): ProcessState {
    return this.#state;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#spawn();
  }

  /** Kill the current child (SIGTERM) so the supervisor restarts it after the backoff. */
  restartChild(): void {
    if (this.#state === 'running' && this.#child !== undefined) this.#signal(this.#child, 'SIGTERM');
  }

  /** SIGTERM, then SIGKILL after the stop timeout; no restart. Resolves once the child has exited. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return this.#exited;
    this.#state = 'stopped';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    if (child === undefined) return;
    this.#signal(child, 'SIGTERM');
    const kill = setTimeout(() => this.#signal(child, 'SIGKILL'), this.#opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(kill);
  }

  stats(): SupervisedProcessStats {
    return {
      state: this.#state,
      pid: this.#child?.pid,
      starts: this.#starts,
      restarts: Math.max(0, this.#starts - 1),
      uptimeMs: this.#child !== undefined && this.#state === 'running' ? Date.now() - this.#startedAt : 0,
      lastExit: this.#lastExit,
      nextRestartMs: this.#state === 'waiting' ? this.#nextRestartMs : undefined,
      progress: { ...this.#progress },
      error: this.#error,
      stderrTail: [...this.#ring],
      stderrLinesSuppressed: this.#suppressed,
    };
  }

  #signal(child: ChildProcess, sig: NodeJS.Signals): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig); // the whole group
    } catch {
      child.kill(sig);
    }
  }

  #spawn(): void {
    this.#timer = undefined;
    this.#starts++;
    this.#progress = {};
    this.#state = 'running';
    let child: ChildProcess;
    try {
      child = spawn(this.#opts.command, [...this.#opts.args], {
        stdio: [this.#opts.stdin ?? 'ignore', 'pipe', 'pipe'],
        detached: true,
        env: this.#opts.env ?? process.env,
        ...(this.#opts.cwd !== undefined ? { cwd: this.#opts.cwd } : {}),
      });
    } catch (err) {
      this.#fail(err as NodeJS.ErrnoException);
      return;
    }
    this.#child = child;
    this.#startedAt = Date.now();
    let resolveExit!: () => void;
    this.#exited = new Promise((resolve) => { resolveExit = resolve; });
    let spawnFailed = false;
    child.once('error', (err: NodeJS.ErrnoException) => {
      // 'error' without a pid = the spawn itself failed; 'close' still follows and resolves #exited.
      if (child.pid === undefined) {
        spawnFailed = true;
        this.#fail(err);
      } else {
        this.#log.warn({ err }, `${this.#opts.command}: ${err.message}`);
      }
    });
    if (child.pid !== undefined) this.#log.info({ pid: child.pid, command: this.#opts.command, args: this.#opts.args }, 'child started');
    let pending = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      pending += text;
      let nl: number;
      while ((nl = pending.search(/[\r\n]/)) >= 0) {
        this.#onStderrLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (pending.length > STDERR_MAX_LINE) {
        this.#onStderrLine(pending);
        pending = '';
      }
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (pending !== '') this.#onStderrLine(pending);
      resolveExit();
      if (spawnFailed) return;
      this.#onExit(child, code, signal);
    });
    if (child.pid !== undefined) this.#opts.onSpawn?.(child);
  }

  #fail(err: NodeJS.ErrnoException): void {
    const what = err.code === 'ENOENT' ? 'not found' : err.code === 'EACCES' ? 'not executable' : err.message;
    this.#error = `cannot run '${this.#opts.command}': ${what}${err.code !== undefined ? ` (${err.code})` : ''}`;
    const wasStopped = this.#state === 'stopped';
    this.#state = wasStopped ? 'stopped' : 'failed';
    this.#child = undefined;
    if (wasStopped) return;
    const gerr = new GatewayError(ErrorCode.ProcessSpawn, this.#error, { cause: err });
    this.#log.error({ code: gerr.code, errno: err.code }, this.#error);
    this.#opts.onFatal?.(gerr);
  }

  #onStderrLine(raw: string): void {
    const line = raw.length > STDERR_MAX_LINE ? raw.slice(0, STDERR_MAX_LINE) : raw;
    if (line.trim() === '') return;
    if (parseProgressLine(line, this.#progress)) return;
    this.#ring.push(line);
    if (this.#ring.length > STDERR_RING_LINES) this.#ring.shift();
    const now = Date.now();
    if (now - this.#logWindowStart >= STDERR_LOG_INTERVAL_MS) {
      if (this.#suppressed > 0 && this.#logWindowCount >= STDERR_LOG_BURST) {
        this.#log.warn({ suppressed: this.#logWindowCount - STDERR_LOG_BURST }, 'child stderr lines were suppressed');
      }
      this.#logWindowStart = now;
      this.#logWindowCount = 0;
    }
    this.#logWindowCount++;
    if (this.#logWindowCount <= STDERR_LOG_BURST) this.#log.warn({ stderr: line }, 'child stderr');
    else this.#suppressed++;
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child === child) this.#child = undefined;
    this.#lastExit = { code, signal };
    const uptimeMs = Date.now() - this.#startedAt;
    this.#opts.onExit?.(code, signal);
    if (this.#state !== 'running') return; // stopped (or failed) meanwhile
    if (uptimeMs >= (this.#opts.healthyMs ?? DEFAULT_HEALTHY_MS)) this.#backoff.reset();
    const delayMs = this.#backoff.next();
    this.#state = 'waiting';
    this.#nextRestartMs = delayMs;
    this.#log.warn({ code, signal, uptimeMs, restartInMs: delayMs, tail: this.#ring.slice(-3) }, 'child exited, restarting');
    this.#timer = setTimeout(() => this.#spawn(), delayMs);
  }
}
