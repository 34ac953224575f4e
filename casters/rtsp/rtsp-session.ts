/**
 * One RTSP push connection and its session (RFC 2326 §A.1 server state machine, record side):
 *
 * ```
 * init ──ANNOUNCE(SDP)──▶ announced ──SETUP×N──▶ (ready) ──RECORD──▶ recording ──TEARDOWN──▶ init
 * ```
 * - OPTIONS, GET_PARAMETER, SET_PARAMETER (keep-alive) are valid in every state; DESCRIBE and PLAY get 405
 *   (castgate takes pushes only), unknown methods 501.
 * - ANNOUNCE parses the SDP (core/protocol/rtsp/sdp-tracks.ts) and builds each track's codec pipeline; tracks
 *   castgate cannot publish are still SETUP-able (pushers set up every track) but their data is dropped.
 * - SETUP over UDP takes a server port pair from the caster's pool (453 when exhausted; rtsp-udp-transport.ts);
 *   over TCP the interleaved channels of the Transport header (RFC 2326 §10.12; rtsp-interleaved.ts). Packets from
 *   any address other than the RTSP client's are dropped and counted.
 * - ANNOUNCE asks admission (`PublishTarget.admit`: `security`, then `http_hooks on_publish`) before its 200, with
 *   the camera's real `ip:port` and the ANNOUNCE URL's query (the hook's `param`). Refused: `403 Forbidden` for
 *   GW_ERR_SECURITY_DENIED, `401 Unauthorized` for GW_ERR_HOOK_REJECTED — sent without `WWW-Authenticate`:
 *   castgate has no RTSP authentication challenge, the 401 only tells the pusher its credentials (the token in the
 *   URL) were refused, and a client has nothing to retry with — then the connection closes. While admission is
 *   pending the requests behind the ANNOUNCE (a pipelined SETUP, RECORD) wait in order, so RECORD can never
 *   publish an unadmitted stream, and a session closed meanwhile publishes nothing.
 * - RECORD publishes the stream to the hub (403 when someone else publishes it: the first keeps streaming).
 * - TEARDOWN, the TCP connection closing, a fatal protocol error or `idle_timeout` without RTP/RTCP unpublish and
 *   release the ports.
 *
 * This file is the request state machine; the set-up tracks and their transports (routing, reorder flush, RTCP
 * receiver reports) are rtsp-transports.ts, and the tracks write to the connection's RtspMediaOut.
 * The session is bound to its TCP connection (MediaMTX does the same for publishers): a pusher that loses the
 * connection has to ANNOUNCE again.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { ErrorCode, isGatewayError } from '../../core/errors.ts';
import { PithyLog, type Logger } from '../../core/log.ts';
import type { Publisher, PublishTarget, SessionInfo } from '../../core/hub/ports.ts';
import { streamKeyString } from '../../core/media/stream-key.ts';
import { DEFAULT_UDP_REORDER, type RtpReorderOptions } from '../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { RtspRequestError, type RtspRequest } from '../../core/protocol/rtsp/rtsp-message.ts';
import { formatTransportHeader, parseTransportHeader, type RtspTransport } from '../../core/protocol/rtsp/transport-header.ts';
import { findTrackByControl, parseAnnounceSdp, type SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { parseRtspStreamUrl, type RtspStreamUrl } from '../../core/protocol/rtsp/rtsp-url.ts';
import type { CasterOutput } from '../caster.ts';
import type { RtpPortPair, RtpPortPool } from './rtp-port-pool.ts';
import { RtspTimeline } from './rtsp-timeline.ts';
import { RtspTrack, type RtspTrackStats } from './rtsp-track.ts';
import { RtspMediaOut } from './rtsp-media-out.ts';
import { chooseRecordTransport, RtspTransports } from './rtsp-transports.ts';
import { RtspInterleavedTransport, TCP_REORDER } from './rtsp-interleaved.ts';
import { normalizeAddress, RtspUdpTransport, type UdpReceiveAccounting } from './rtsp-udp-transport.ts';
import { RtspInputQueue } from './rtsp-input-queue.ts';
import { RtspConnectionWriter } from './rtsp-connection-writer.ts';

/** Methods this server implements (OPTIONS `Public`). */
const PUBLIC_METHODS = 'OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
/** Session timeout advertised in `Session: id;timeout=N` (RFC 2326 §12.37 default 60 s). */
export const RTSP_SESSION_TIMEOUT_S = 60;
/** Before RECORD (no media yet), a connection that sends no request for this long is closed. */
const RTSP_SETUP_IDLE_MS = RTSP_SESSION_TIMEOUT_S * 1000;
/** Tracks per ANNOUNCE: cameras send 1–3 (video, audio, metadata/onvif). */
export const RTSP_MAX_TRACKS = 8;
/** After an error response, give the client this long to read it before the socket is destroyed. */
const CLOSE_LINGER_MS = 500;

/**
 * `admitting`: an ANNOUNCE waits for the gateway's admission (security, then http_hooks on_publish); the requests
 * behind it wait in the input queue.
 */
type State = 'init' | 'admitting' | 'announced' | 'recording';

/** Counters shared by all sessions of one caster (CasterStats). */
export interface RtspCasterCounters {
  sessions: number;
  publishes: number;
  packets: number;
  bytes: number;
  lost: number;
  foreignPackets: number;
  protocolErrors: number;
}

export interface RtspSessionOptions {
  readonly socket: Socket;
  readonly id: string;
  readonly log: Logger;
  readonly output: CasterOutput;
  readonly ports: RtpPortPool;
  readonly idleTimeoutMs: number;
  readonly counters: RtspCasterCounters;
  readonly onDone: (session: RtspSession) => void;
}

export class RtspSession {
  readonly id: string;
  readonly #opts: RtspSessionOptions;
  readonly #log: Logger;
  readonly #remoteAddress: string;
  #state: State = 'init';
  #sessionId: string | undefined;
  #target: PublishTarget | undefined;
  /** Who publishes (asked at ANNOUNCE, published at RECORD): real `ip:port` and the ANNOUNCE URL's query. */
  #who: SessionInfo | undefined;
  #sdpTracks: SdpTrack[] = [];
  #timeline = new RtspTimeline();
  /** The SETUP'd tracks and their transports (emptied when the session ends). */
  readonly #transports: RtspTransports;
  /** What every track writes to: the publisher while recording. */
  readonly #mediaOut: RtspMediaOut;
  /** Responses and interleaved RTCP. */
  readonly #out: RtspConnectionWriter;
  readonly #udpAccounting: UdpReceiveAccounting;
  #publisher: Publisher | undefined;
  #lastRequestMs = Date.now();
  #closed = false;

  constructor(opts: RtspSessionOptions) {
    this.#opts = opts;
    this.id = opts.id;
    this.#log = opts.log;
    this.#out = new RtspConnectionWriter(opts.socket, opts.log, opts.counters, () => this.close('client does not read its responses'));
    this.#mediaOut = new RtspMediaOut(opts.log);
    this.#transports = new RtspTransports(opts.counters);
    this.#udpAccounting = { counters: opts.counters, foreign: new PithyLog(opts.log, 'packets from a foreign address dropped') };
    this.#remoteAddress = normalizeAddress(opts.socket.remoteAddress ?? '');
    const { socket } = opts;
    socket.setNoDelay(true);
    // The queue lives as long as the socket's listeners it adds.
    new RtspInputQueue(socket, {
      onRequest: (req) => this.#onRequest(req),
      onInterleaved: (channel, payload) => this.#transports.onInterleaved(channel, payload, Date.now()),
      onFatal: (err) => this.#onFatal(err),
      isClosed: () => this.#closed,
    });
    socket.on('error', (err) => this.close(`connection error: ${err.message}`));
    socket.on('close', () => this.close('connection closed by the client'));
    opts.counters.sessions++;
  }

  /** Stream being pushed (`app/stream`), for stats. */
  get stream(): string | undefined {
    return this.#target === undefined ? undefined : streamKeyString(this.#target.key);
  }

  get recording(): boolean {
    return this.#state === 'recording';
  }

  /**
   * Periodic work from the caster's timer: flush expired reorder gaps (UDP), send RTCP receiver reports, and
   * close the session after `idle_timeout` without RTP/RTCP (recording) or without requests (before RECORD).
   */
  tick(nowMs: number): void {
    if (this.#closed) return;
    if (this.#state !== 'recording') {
      if (nowMs - this.#lastRequestMs > RTSP_SETUP_IDLE_MS) this.close(`no request for ${RTSP_SETUP_IDLE_MS} ms before RECORD`);
      return;
    }
    this.#transports.flush(nowMs);
    if (nowMs - this.#transports.lastActivityMs > this.#opts.idleTimeoutMs) {
      this.close(`no RTP/RTCP for ${this.#opts.idleTimeoutMs} ms (idle_timeout)`);
      return;
    }
    this.#transports.sendReceiverReportsIfDue(nowMs);
  }

  /** Per-track counters (for the API and the closing log line). */
  stats(): { id: string; stream: string | undefined; state: State; remote: string; tracks: RtspTrackStats[] } {
    const tracks = this.#transports.tracks().map((t) => t.stats());
    return { id: this.id, stream: this.stream, state: this.#state, remote: this.#remoteAddress, tracks };
  }

  /** Unpublish, release ports, close the connection. Idempotent. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endSession(reason);
    const { socket } = this.#opts;
    if (!socket.destroyed) {
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
    }
    this.#log.debug({ reason }, 'RTSP connection closed');
    this.#opts.onDone(this);
  }

  // ---- requests ----

  #onFatal(err: unknown): void {
    this.#opts.counters.protocolErrors++;
    if (err instanceof RtspRequestError) {
      this.#log.warn({ code: err.code, status: err.status }, `bad RTSP request: ${err.message}`);
      this.#out.respond(err.status, err.cseq, [], `${err.code}: ${err.message}`);
    } else {
      this.#log.error({ err }, 'RTSP reader failed');
    }
    this.close('protocol error');
  }

  /** @returns a promise when the request completes asynchronously (SETUP over UDP). */
  #onRequest(req: RtspRequest): Promise<void> | undefined {
    this.#lastRequestMs = Date.now();
    const cseq = req.headers.get('CSeq');
    if (cseq === undefined) {
      this.#out.respond(400, undefined, [], 'CSeq header missing');
      return;
    }
    this.#log.debug({ method: req.method, uri: req.uri, cseq }, 'RTSP request');
    const sessionHeader = req.headers.get('Session');
    if (sessionHeader !== undefined && req.method !== 'OPTIONS') {
      const sid = sessionHeader.split(';')[0]?.trim();
      if (this.#sessionId === undefined || sid !== this.#sessionId) {
        this.#out.respond(454, cseq, [], `session ${sid ?? ''} not found`);
        return;
      }
    }
    // RFC 2326 §12.32: we support no option tags, so any Require gets 551 with the tags in Unsupported.
    const require = req.headers.get('Require');
    if (require !== undefined) {
      this.#out.respond(551, cseq, [['Unsupported', require]], `option not supported: ${require}`);
      return;
    }
    try {
      switch (req.method) {
        case 'OPTIONS':
          this.#out.respond(200, cseq, [['Public', PUBLIC_METHODS]]);
          return;
        case 'ANNOUNCE':
          return this.#announce(req, cseq);
        case 'SETUP':
          return this.#setupTrack(req, cseq).catch((err: unknown) => {
            this.#log.error({ err }, 'RTSP SETUP failed');
            this.#out.respond(500, cseq, []);
          });
        case 'RECORD':
          this.#record(req, cseq);
          return;
        case 'TEARDOWN':
          this.#out.respond(200, cseq, this.#sessionHeaders());
          this.#endSession('TEARDOWN');
          return;
        case 'GET_PARAMETER':
        case 'SET_PARAMETER':
          this.#out.respond(200, cseq, this.#sessionHeaders());
          return;
        case 'DESCRIBE':
        case 'PLAY':
        case 'PAUSE':
          this.#out.respond(405, cseq, [['Allow', PUBLIC_METHODS]], `${req.method}: castgate takes RTSP pushes (ANNOUNCE/RECORD) only`);
          return;
        default:
          this.#out.respond(501, cseq, [['Public', PUBLIC_METHODS]], `method ${req.method} is not implemented`);
      }
    } catch (err) {
      // Request handlers answer their own errors; reaching here is a bug. Keep the process and other sessions up.
      this.#log.error({ err, method: req.method }, 'RTSP request handler failed');
      this.#out.respond(500, cseq, []);
    }
  }

  /** @returns a promise while admission is asked (the requests behind this one wait for it). */
  #announce(req: RtspRequest, cseq: string): Promise<void> | undefined {
    if (this.#state !== 'init') {
      this.#out.respond(455, cseq, [], `ANNOUNCE in state ${this.#state}`);
      return;
    }
    const contentType = req.headers.get('Content-Type')?.split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/sdp') {
      this.#out.respond(415, cseq, [], `ANNOUNCE needs an application/sdp body (got ${contentType ?? 'none'})`);
      return;
    }
    let target: PublishTarget;
    let tracks: SdpTrack[];
    let url: RtspStreamUrl;
    try {
      url = parseRtspStreamUrl(req.uri);
      target = this.#opts.output({ app: url.app, stream: url.stream });
      tracks = parseAnnounceSdp(req.body.toString('utf8'), req.headers.get('Content-Base') ?? req.uri);
    } catch (err) {
      this.#out.reject(400, cseq, err);
      return;
    }
    if (tracks.length > RTSP_MAX_TRACKS) {
      this.#out.respond(400, cseq, [], `SDP has ${tracks.length} media sections (limit ${RTSP_MAX_TRACKS})`);
      return;
    }
    if (target.hub.isPublishing(target.key)) {
      this.#out.respond(403, cseq, [], `${ErrorCode.StreamBusy}: ${streamKeyString(target.key)} is already being published`);
      return;
    }
    const who: SessionInfo = {
      id: this.id,
      protocol: 'rtsp',
      remote: `${this.#remoteAddress}:${this.#opts.socket.remotePort ?? 0}`,
      ...(url.query === '' ? {} : { query: url.query }),
    };
    this.#state = 'admitting';
    return this.#admit(cseq, target, who, rtspTcUrl(url), tracks);
  }

  async #admit(cseq: string, target: PublishTarget, who: SessionInfo, tcUrl: string, tracks: SdpTrack[]): Promise<void> {
    try {
      await target.admit(who, { tcUrl });
    } catch (err) {
      this.#refuse(cseq, target, err);
      return;
    }
    // Closed meanwhile (connection lost, caster stopping): nothing is published.
    if (this.#closed || this.#state !== 'admitting') return;
    this.#target = target;
    this.#who = who;
    this.#sdpTracks = tracks;
    this.#state = 'announced';
    this.#log.info(
      { stream: streamKeyString(target.key), tracks: tracks.map((t) => `${t.media}:${t.encodingName}/${t.clockRate}`) },
      'RTSP ANNOUNCE',
    );
    this.#out.respond(200, cseq, []);
  }

  /** Admission refused the ANNOUNCE: 403 (security) or 401 (hook), or 500 for anything else; then close. */
  #refuse(cseq: string, target: PublishTarget, err: unknown): void {
    if (this.#closed) return;
    this.#state = 'init';
    const stream = streamKeyString(target.key);
    const code = isGatewayError(err) ? err.code : undefined;
    if (code === ErrorCode.SecurityDenied || code === ErrorCode.HookRejected) {
      this.#log.warn({ stream, code, reason: (err as Error).message }, 'RTSP ANNOUNCE refused by admission');
      this.#out.reject(code === ErrorCode.SecurityDenied ? 403 : 401, cseq, err);
    } else {
      this.#log.error({ stream, err }, 'RTSP ANNOUNCE: admission failed');
      this.#out.reject(500, cseq, err);
    }
    this.close(`publish of ${stream} not admitted`);
  }

  async #setupTrack(req: RtspRequest, cseq: string): Promise<void> {
    if (this.#state !== 'announced') {
      this.#out.respond(455, cseq, [], this.#state === 'init' ? 'SETUP before ANNOUNCE' : `SETUP in state ${this.#state}`);
      return;
    }
    const sdp = findTrackByControl(this.#sdpTracks, req.uri);
    if (sdp === undefined) {
      this.#out.respond(404, cseq, [], `no announced track matches ${req.uri}`);
      return;
    }
    if (this.#transports.has(sdp.index)) {
      this.#out.respond(455, cseq, [], `track ${sdp.index} is already set up`);
      return;
    }
    let offered: RtspTransport[];
    try {
      offered = parseTransportHeader(req.headers.get('Transport') ?? '');
    } catch (err) {
      this.#out.reject(461, cseq, err);
      return;
    }
    const transport = chooseRecordTransport(offered);
    if (transport === undefined) {
      this.#out.respond(461, cseq, [], 'need RTP/AVP unicast over UDP (client_port) or TCP (interleaved) with mode=record');
      return;
    }
    this.#sessionId ??= randomBytes(8).toString('hex');
    const track = this.#createTrack(sdp, transport.lowerTransport === 'tcp' ? TCP_REORDER : DEFAULT_UDP_REORDER);
    if (transport.lowerTransport === 'tcp') {
      const channels = this.#transports.channels.choose(transport.interleaved);
      if (this.#transports.channels.inUse(channels)) {
        this.#out.respond(461, cseq, [], `interleaved channels ${channels[0]}-${channels[1]} are already in use`);
        return;
      }
      const interleaved = new RtspInterleavedTransport(channels, this.#out);
      this.#transports.addInterleaved(sdp, track, interleaved);
      this.#out.respond(200, cseq, [['Transport', formatTransportHeader(interleaved.reply)], ...this.#sessionHeaders()]);
      return;
    }
    let pair: RtpPortPair;
    try {
      pair = await this.#opts.ports.allocate(this.#remoteAddress);
    } catch (err) {
      this.#out.reject(453, cseq, err);
      return;
    }
    if (this.#closed || this.#state !== 'announced') {
      pair.release();
      return;
    }
    // chooseRecordTransport takes a UDP alternative only with client_port.
    const udp = new RtspUdpTransport(pair, transport.clientPort as readonly [number, number], this.#remoteAddress, this.#udpAccounting);
    this.#transports.addUdp(sdp, track, udp);
    this.#out.respond(200, cseq, [['Transport', formatTransportHeader(udp.reply(transport))], ...this.#sessionHeaders()]);
  }

  #createTrack(sdp: SdpTrack, reorder: RtpReorderOptions): RtspTrack | undefined {
    try {
      return new RtspTrack({ sdp, timeline: this.#timeline, reorder, sink: this.#mediaOut });
    } catch (err) {
      this.#log.warn(
        { code: isGatewayError(err) ? err.code : undefined, track: sdp.index },
        `track ${sdp.control} is set up but not published: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  #record(_req: RtspRequest, cseq: string): void {
    if (this.#state !== 'announced' || this.#transports.size === 0 || this.#target === undefined) {
      this.#out.respond(455, cseq, [], this.#state === 'recording' ? 'already recording' : 'RECORD before ANNOUNCE and SETUP');
      return;
    }
    const tracks = this.#transports.tracks();
    if (tracks.length === 0) {
      this.#out.respond(415, cseq, [], 'none of the set-up tracks has a codec castgate can publish');
      return;
    }
    const target = this.#target;
    const info = this.#who ?? { id: this.id, protocol: 'rtsp' };
    try {
      // Kicked through the HTTP API (or the gateway stopping): the session and its connection end.
      this.#publisher = target.hub.publish(target.key, info, { onClose: (reason) => this.close(reason) });
    } catch (err) {
      this.#out.reject(isGatewayError(err, ErrorCode.StreamBusy) ? 403 : 500, cseq, err);
      return;
    }
    this.#mediaOut.start(this.#publisher, tracks.map((t) => t.codec));
    this.#opts.counters.publishes++;
    this.#state = 'recording';
    this.#transports.startRecording(Date.now());
    this.#log.info({ stream: streamKeyString(target.key), url: target.url, transports: this.#transports.labels() }, 'RTSP RECORD: publishing');
    this.#out.respond(200, cseq, this.#sessionHeaders());
  }

  #sessionHeaders(): Array<[string, string]> {
    return this.#sessionId === undefined ? [] : [['Session', `${this.#sessionId};timeout=${RTSP_SESSION_TIMEOUT_S}`]];
  }

  /** Unpublish and release every track; back to `init` (the connection may ANNOUNCE again). */
  #endSession(reason: string): void {
    if (this.#publisher !== undefined) {
      const stats = this.stats();
      for (const t of stats.tracks) this.#opts.counters.lost += t.lost;
      this.#log.info({ reason, tracks: stats.tracks }, 'RTSP session ended; unpublishing');
      this.#publisher.close(reason);
      this.#publisher = undefined;
      this.#mediaOut.stop();
    }
    this.#transports.releaseAll();
    this.#sdpTracks = [];
    this.#target = undefined;
    this.#who = undefined;
    this.#sessionId = undefined;
    this.#timeline = new RtspTimeline();
    this.#state = 'init';
  }
}

/** The hooks' `tcUrl` of an RTSP push: `rtsp://host:port/app`, as RTMP's tcUrl names the app without the stream. */
function rtspTcUrl(url: RtspStreamUrl): string {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  return `rtsp://${host}:${url.port}/${url.app}`;
}
