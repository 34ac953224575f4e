/**
 * Caster `rtsp` (SRS SrsRtspCaster, removed from SRS 5 because it corrupted video): IP cameras and encoders push
 * RTSP (ANNOUNCE/SETUP/RECORD) and viewers get RTMP, HTTP-FLV, HLS...
 *
 * ```
 * stream_caster { enabled on; caster rtsp; output rtmp://127.0.0.1/[app]/[stream]; listen 8554;
 *                 rtp_port_min 57200; rtp_port_max 57300; }
 * ```
 * `rtsp://host:8554/live/cam1` publishes `live/cam1` (a trailing `.sdp` is stripped). RTP arrives over UDP on a
 * server port pair from `[rtp_port_min, rtp_port_max)` or interleaved on the RTSP connection. `idle_timeout`
 * (default 10 s) without RTP/RTCP ends a session. One timer (TICK_MS) drives every session's reorder flush,
 * RTCP receiver reports and idle check.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import { nextSessionId, type Logger } from '../../core/log.ts';
import { HEADER_TIMEOUT_MS, limitConnections } from '../../core/listener-guard.ts';
import type { Caster, CasterStats } from '../caster.ts';
import type { CasterOutput } from '../caster.ts';
import { RtpPortPool } from './rtp-port-pool.ts';
import { RtspSession, type RtspCasterCounters } from './rtsp-session.ts';

export interface RtspCasterOptions {
  readonly output: CasterOutput;
  readonly listen: { readonly host: string | undefined; readonly port: number };
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  /** Concurrent connections (the gateway's `max_connections`); default RTSP_MAX_CONNECTIONS. */
  readonly maxConnections?: number;
}

/** Session timer period: bounds how late a reorder gap is given up (the buffer's delay + this). */
const TICK_MS = 20;
/** Concurrent RTSP connections per caster; more are refused at accept (each may hold ports and a stream). */
export const RTSP_MAX_CONNECTIONS = 1000;
/** A connection must have sent its ANNOUNCE within this time (idle-connection and slowloris guard). */
export const RTSP_ANNOUNCE_TIMEOUT_MS = HEADER_TIMEOUT_MS;

export class RtspCaster implements Caster {
  readonly #opts: RtspCasterOptions;
  readonly #log: Logger;
  readonly #ports: RtpPortPool;
  readonly #sessions = new Set<RtspSession>();
  readonly #counters: RtspCasterCounters = {
    sessions: 0,
    publishes: 0,
    packets: 0,
    bytes: 0,
    lost: 0,
    foreignPackets: 0,
    protocolErrors: 0,
  };
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #port = 0;

  constructor(opts: RtspCasterOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ caster: 'rtsp' });
    this.#ports = new RtpPortPool(opts.rtpPortMin, opts.rtpPortMax, opts.listen.host);
  }

  /** Bound TCP port (useful when configured as 0). */
  get port(): number {
    return this.#port;
  }

  /** RTP port pairs in use (tests check that sessions give theirs back). */
  get portsInUse(): number {
    return this.#ports.inUse;
  }

  /** Open connections. */
  get connections(): number {
    return this.#sessions.size;
  }

  async start(): Promise<void> {
    const { host, port } = this.#opts.listen;
    const server = createServer((socket) => this.#onConnection(socket));
    limitConnections(server, this.#log, 'RTSP', this.#opts.maxConnections ?? RTSP_MAX_CONNECTIONS);
    await new Promise<void>((ok, fail) => {
      server.once('error', (err) => fail(new GatewayError(ErrorCode.Listen, `rtsp listen ${host ?? '*'}:${port}: ${err.message}`, { cause: err })));
      server.listen(port, host, () => ok());
    });
    server.on('error', (err) => this.#log.error({ err }, 'RTSP server error'));
    this.#server = server;
    const address = server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
    this.#log.info({ port: this.#port, rtpPorts: `${this.#opts.rtpPortMin}-${this.#opts.rtpPortMax}` }, 'RTSP caster listening');
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const s of [...this.#sessions]) s.close('caster stopping');
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((ok) => server.close(() => ok()));
  }

  stats(): CasterStats {
    return {
      caster: 'rtsp',
      listen: this.#port,
      connections: this.#sessions.size,
      rtpPortPairsInUse: this.#ports.inUse,
      ...this.#counters,
      active: [...this.#sessions].filter((s) => s.recording).map((s) => s.stats()),
    };
  }

  #onConnection(socket: Socket): void {
    const id = nextSessionId('rtsp');
    const log = this.#log.child({ session: id, remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` });
    const session = new RtspSession({
      socket,
      id,
      log,
      output: this.#opts.output,
      ports: this.#ports,
      idleTimeoutMs: this.#opts.idleTimeoutMs,
      counters: this.#counters,
      onDone: (s) => this.#sessions.delete(s),
    });
    this.#sessions.add(session);
    const announceTimer = setTimeout(() => {
      if (session.stats().state === 'init') session.close(`no ANNOUNCE within ${RTSP_ANNOUNCE_TIMEOUT_MS} ms`);
    }, RTSP_ANNOUNCE_TIMEOUT_MS).unref();
    socket.once('close', () => clearTimeout(announceTimer));
    log.debug('RTSP connection');
  }

  #tick(): void {
    const now = Date.now();
    for (const s of this.#sessions) s.tick(now);
  }
}
