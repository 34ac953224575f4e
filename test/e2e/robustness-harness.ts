/**
 * The whole gateway in-process with every TCP listener a peer can reach (RTMP, HTTP with HTTP-FLV, the RTSP and
 * FLV POST casters) on free loopback ports, its log lines captured: for the flood, fault and soak tests
 * (issue 12 §3, §4). Also the process's open file descriptors, to prove nothing leaks.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { loadConfig } from '../../core/config/config.ts';
import { ErrorCode, isGatewayError } from '../../core/errors.ts';
import { startGateway, type Gateway } from '../../core/main.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/peers.ts';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface RobustGateway {
  readonly gw: Gateway;
  readonly ports: { readonly rtmp: number; readonly http: number; readonly rtsp: number; readonly flv: number; readonly udp: number };
  /** Captured log lines at or above the chosen level. */
  readonly logs: LogLine[];
  stop(): Promise<void>;
}

/** pino level numbers. */
export const LogLevel = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/**
 * @param opts.maxConnections the `max_connections` directive.
 * @param opts.logLevel lowest level captured (default warn: floods make many info lines).
 * @param opts.vhost extra directives inside the default vhost (default: gop_cache on, queue_length 10).
 */
export async function startRobustGateway(opts: { maxConnections: number; logLevel?: 'debug' | 'info' | 'warn'; vhost?: string }): Promise<RobustGateway> {
  // A port found free can be taken by another process before the gateway binds it: try other ports then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.Listen) || attempt === 3) throw err;
    }
  }
}

async function startOnce(opts: { maxConnections: number; logLevel?: 'debug' | 'info' | 'warn'; vhost?: string }): Promise<RobustGateway> {
  const [rtmp, http, rtsp, flv, udp] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeUdpPort()];
  const rtpMin = 40_000 + Math.floor(Math.random() * 10_000) * 2;
  const dir = mkdtempSync(join(tmpdir(), 'castgate-robust-'));
  const file = join(dir, 'robust.conf');
  writeFileSync(file, [
    `listen 127.0.0.1:${rtmp};`,
    `max_connections ${opts.maxConnections};`,
    `http_server { enabled on; listen 127.0.0.1:${http}; dir ${dir}; }`,
    `vhost __defaultVhost__ { ${opts.vhost ?? 'gop_cache on; queue_length 10;'} http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }`,
    `stream_caster { enabled on; caster rtsp; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${rtsp}; rtp_port_min ${rtpMin}; rtp_port_max ${rtpMin + 100}; }`,
    `stream_caster { enabled on; caster flv; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:${flv}; }`,
    `stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/udp; listen 127.0.0.1:${udp}; }`,
    '',
  ].join('\n'));
  const { config } = loadConfig(file);
  const logs: LogLine[] = [];
  const log = pino({ level: opts.logLevel ?? 'warn' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) });
  let gw: Gateway;
  try {
    gw = await startGateway(config, log);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    gw,
    ports: { rtmp, http, rtsp, flv, udp },
    logs,
    stop: async () => {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Open file descriptors of this process (sockets, pipes, files). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The soft limit on open files this process has (`ulimit -n`, inherited by the shell). */
export function fdLimit(): number {
  const n = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  return Number.isFinite(n) ? n : 1024;
}
