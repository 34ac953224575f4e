/**
 * Guards every TCP listener of the gateway shares against connection floods and slowloris (issue 12 §3): how long a
 * peer may take to send its request head (HTTP, FLV POST) or finish the RTMP handshake + connect + publish/play
 * (RTMP) or send its ANNOUNCE (RTSP), and the one log line for connections refused at `max_connections`.
 *
 * Node's HTTP server checks `headersTimeout` only every `connectionsCheckingInterval` (default 30 s), and with
 * `requestTimeout: 0` (live streams last hours) its `headersTimeout` defaults to 0, i.e. never: both are set here.
 * Reference: nginx client_header_timeout (60 s), SRS's 30 s RTMP connect timeout (SRS_CONSTS_RTMP_TIMEOUT_MS).
 */
import type { Server } from 'node:net';
import { PithyLog, type Logger } from './log.ts';

/** A peer must send its whole request head (or RTMP handshake and connect) within this time. */
export const HEADER_TIMEOUT_MS = 10_000;
/** How often Node's HTTP servers look for connections past their headers timeout. */
export const TIMEOUT_CHECK_INTERVAL_MS = 500;
/** At most one "connections refused" line per listener per interval (the first one at once). */
const REFUSED_LOG_INTERVAL_MS = 5_000;

/**
 * A rate-limited warning for connections refused because `max` connections are open on `listener`:
 * "N <listener> connections refused: max_connections <max> reached, last was: <remote>".
 */
export function refusedConnectionLog(log: Logger, listener: string, max: number): PithyLog {
  return new PithyLog(log, `${listener} connections refused: max_connections ${max} reached`, REFUSED_LOG_INTERVAL_MS);
}

/**
 * Set `server.maxConnections` and log what Node drops beyond it ('drop' event, Node ≥ 18.6) with
 * {@link refusedConnectionLog}.
 */
export function limitConnections(server: Server, log: Logger, listener: string, max: number): void {
  server.maxConnections = max;
  const refused = refusedConnectionLog(log, listener, max);
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => refused.hit(`${data?.remoteAddress ?? '?'}:${data?.remotePort ?? 0}`));
}
