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
 * - SETUP over UDP takes a server port pair from the caster's pool (453 when exhausted); over TCP the
 *   interleaved channels of the Transport header (RFC 2326 §10.12). Packets from any address other than the
 *   RTSP client's are dropped and counted.
 * - RECORD publishes the stream to the hub (403 when someone else publishes it: the first keeps streaming).
 * - TEARDOWN, the TCP connection closing, a fatal protocol error or `idle_timeout` without RTP/RTCP unpublish and
 *   release the ports.
 *
 * The session is bound to its TCP connection (MediaMTX does the same for publishers): a pusher that loses the
 * connection has to ANNOUNCE again.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import { PithyLog, type Logger } from '../../core/log.ts';
import type { Publisher, PublishTarget, SessionInfo } from '../../core/hub/ports.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { streamKeyString } from '../../core/media/stream-key.ts';
import { DEFAULT_UDP_REORDER, type RtpReorderOptions } from '../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { RtspRequestError, type RtspRequest } from '../../core/protocol/rtsp/rtsp-message.ts';
import { serializeInterleavedFrame, serializeRtspResponse } from '../../core/protocol/rtsp/rtsp-response.ts';
import { formatTransportHeader, parseTransportHeader, type RtspTransport } from '../../core/protocol/rtsp/transport-header.ts';
import { findTrackByControl, parseAnnounceSdp, type SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { parseRtspStreamUrl } from '../../core/protocol/rtsp/rtsp-url.ts';
import type { CasterOutput } from '../caster.ts';
import { udpPeerAddress, type RtpPortPair, type RtpPortPool } from './rtp-port-pool.ts';
import { RtspTimeline } from './rtsp-timeline.ts';
import { RtspTrack, type RtspTrackStats } from './rtsp-track.ts';
import { chooseRecordTransport, receiverReports, RtspMediaOut, type SetupTrack } from './rtsp-media-out.ts';
import { createTrackCodec } from './track-codecs.ts';
import { RtspInputQueue } from './rtsp-input-queue.ts';

/** Methods this server implements (OPTIONS `Public`). */
const PUBLIC_METHODS = 'OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
/** Session timeout advertised in `Session: id;timeout=N` (RFC 2326 §12.37 default 60 s). */
export const RTSP_SESSION_TIMEOUT_S = 60;
/** Before RECORD (no media yet), a connection that sends no request for this long is closed. */
const RTSP_SETUP_IDLE_MS = RTSP_SESSION_TIMEOUT_S * 1000;
/** Tracks per ANNOUNCE: cameras send 1–3 (video, audio, metadata/onvif). */
export const RTSP_MAX_TRACKS = 8;
/** RTCP receiver reports: RFC 3550 §6.2 minimum interval. */
export const RTCP_RR_INTERVAL_MS = 5000;
/** Interleaved TCP keeps packet order: no reorder buffer (a gap is a loss at once, reported by sequence number). */
const TCP_REORDER: RtpReorderOptions = Object.freeze({ maxPackets: 0, maxDelayMs: 0 });
/** The first receiver report goes out this soon after RECORD (RFC 3550 §6.2 halves the first interval too). */
export const RTCP_FIRST_RR_DELAY_MS = 1000;
/** After an error response, give the client this long to read it before the socket is destroyed. */
const CLOSE_LINGER_MS = 500;
/** Bytes of responses queued on a client that does not read them: past this the connection is dropped. */
const MAX_PENDING_WRITE_BYTES = 1024 * 1024;

type State = 'init' | 'announced' | 'recording';

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
  readonly #decodeErrors: PithyLog;
  readonly #foreign: PithyLog;
  readonly #remoteAddress: string;
  #state: State = 'init';
  #sessionId: string | undefined;
  #target: PublishTarget | undefined;
  #query = '';
  #sdpTracks: SdpTrack[] = [];
  #timeline = new RtspTimeline();
  readonly #setup = new Map<number, SetupTrack>();
  readonly #byChannel = new Map<number, { setup: SetupTrack; rtcp: boolean }>();
  #publisher: Publisher | undefined;
  #lastRequestMs = Date.now();
  #lastReportMs = 0;
  #recordStartMs = 0;
  readonly #reporterSsrc = randomBytes(4).readUInt32BE(0);
  #closed = false;
  #mediaOut: RtspMediaOut | undefined;

  constructor(opts: RtspSessionOptions) {
    this.#opts = opts;
    this.id = opts.id;
    this.#log = opts.log;
    this.#decodeErrors = new PithyLog(opts.log, 'RTP decode errors');
    this.#foreign = new PithyLog(opts.log, 'packets from a foreign address dropped');
    this.#remoteAddress = normalizeAddress(opts.socket.remoteAddress ?? '');
    const { socket } = opts;
    socket.setNoDelay(true);
    // The queue lives as long as the socket's listeners it adds.
    new RtspInputQueue(socket, {
      onRequest: (req) => this.#onRequest(req),
      onInterleaved: (channel, payload) => this.#onInterleaved(channel, payload, Date.now()),
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
    let lastActivity = this.#recordStartMs;
    for (const s of this.#setup.values()) {
      if (s.track === undefined) continue;
      if (s.pair !== undefined) s.track.flush(nowMs);
      lastActivity = Math.max(lastActivity, s.track.lastActivityMs);
    }
    if (nowMs - lastActivity > this.#opts.idleTimeoutMs) {
      this.close(`no RTP/RTCP for ${this.#opts.idleTimeoutMs} ms (idle_timeout)`);
      return;
    }
    if (nowMs - this.#lastReportMs >= RTCP_RR_INTERVAL_MS) {
      this.#lastReportMs = nowMs;
      this.#sendReceiverReports(nowMs);
    }
  }

  /** Per-track counters (for the API and the closing log line). */
  stats(): { id: string; stream: string | undefined; state: State; remote: string; tracks: RtspTrackStats[] } {
    const tracks: RtspTrackStats[] = [];
    for (const s of this.#setup.values()) if (s.track !== undefined) tracks.push(s.track.stats());
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
    this.#log.info({ reason }, 'RTSP connection closed');
    this.#opts.onDone(this);
  }

  // ---- input ----

  #onFatal(err: unknown): void {
    this.#opts.counters.protocolErrors++;
    if (err instanceof RtspRequestError) {
      this.#log.warn({ code: err.code, status: err.status }, `bad RTSP request: ${err.message}`);
      this.#respond(err.status, err.cseq, [], `${err.code}: ${err.message}`);
    } else {
      this.#log.error({ err }, 'RTSP reader failed');
    }
    this.close('protocol error');
  }

  #onInterleaved(channel: number, payload: Buffer, nowMs: number): void {
    const route = this.#byChannel.get(channel);
    if (route === undefined || this.#state !== 'recording' || route.setup.track === undefined) return;
    this.#opts.counters.packets++;
    this.#opts.counters.bytes += payload.length;
    if (route.rtcp) route.setup.track.onRtcp(payload, nowMs);
    else route.setup.track.onRtp(payload, nowMs);
  }

  #onUdp(setup: SetupTrack, rtcp: boolean, data: Buffer, address: string): void {
    if (this.#closed || this.#state !== 'recording' || setup.track === undefined) return;
    if (normalizeAddress(address) !== this.#remoteAddress) {
      this.#opts.counters.foreignPackets++;
      this.#foreign.hit(`from ${address} (the pusher is ${this.#remoteAddress})`);
      return;
    }
    this.#opts.counters.packets++;
    this.#opts.counters.bytes += data.length;
    if (rtcp) setup.track.onRtcp(data, Date.now());
    else setup.track.onRtp(data, Date.now());
  }

  // ---- requests ----

  /** @returns a promise when the request completes asynchronously (SETUP over UDP). */
  #onRequest(req: RtspRequest): Promise<void> | undefined {
    this.#lastRequestMs = Date.now();
    const cseq = req.headers.get('CSeq');
    if (cseq === undefined) {
      this.#respond(400, undefined, [], 'CSeq header missing');
      return;
    }
    this.#log.debug({ method: req.method, uri: req.uri, cseq }, 'RTSP request');
    const sessionHeader = req.headers.get('Session');
    if (sessionHeader !== undefined && req.method !== 'OPTIONS') {
      const sid = sessionHeader.split(';')[0]?.trim();
      if (this.#sessionId === undefined || sid !== this.#sessionId) {
        this.#respond(454, cseq, [], `session ${sid ?? ''} not found`);
        return;
      }
    }
    // RFC 2326 §12.32: we support no option tags, so any Require gets 551 with the tags in Unsupported.
    const require = req.headers.get('Require');
    if (require !== undefined) {
      this.#respond(551, cseq, [['Unsupported', require]], `option not supported: ${require}`);
      return;
    }
    try {
      switch (req.method) {
        case 'OPTIONS':
          this.#respond(200, cseq, [['Public', PUBLIC_METHODS]]);
          return;
        case 'ANNOUNCE':
          this.#announce(req, cseq);
          return;
        case 'SETUP':
          return this.#setupTrack(req, cseq).catch((err: unknown) => {
            this.#log.error({ err }, 'RTSP SETUP failed');
            this.#respond(500, cseq, []);
          });
        case 'RECORD':
          this.#record(req, cseq);
          return;
        case 'TEARDOWN':
          this.#respond(200, cseq, this.#sessionHeaders());
          this.#endSession('TEARDOWN');
          return;
        case 'GET_PARAMETER':
        case 'SET_PARAMETER':
          this.#respond(200, cseq, this.#sessionHeaders());
          return;
        case 'DESCRIBE':
        case 'PLAY':
        case 'PAUSE':
          this.#respond(405, cseq, [['Allow', PUBLIC_METHODS]], `${req.method}: castgate takes RTSP pushes (ANNOUNCE/RECORD) only`);
          return;
        default:
          this.#respond(501, cseq, [['Public', PUBLIC_METHODS]], `method ${req.method} is not implemented`);
      }
    } catch (err) {
      // Request handlers answer their own errors; reaching here is a bug. Keep the process and other sessions up.
      this.#log.error({ err, method: req.method }, 'RTSP request handler failed');
      this.#respond(500, cseq, []);
    }
  }

  #announce(req: RtspRequest, cseq: string): void {
    if (this.#state !== 'init') {
      this.#respond(455, cseq, [], `ANNOUNCE in state ${this.#state}`);
      return;
    }
    const contentType = req.headers.get('Content-Type')?.split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/sdp') {
      this.#respond(415, cseq, [], `ANNOUNCE needs an application/sdp body (got ${contentType ?? 'none'})`);
      return;
    }
    let target: PublishTarget;
    let tracks: SdpTrack[];
    try {
      const url = parseRtspStreamUrl(req.uri);
      target = this.#opts.output({ app: url.app, stream: url.stream });
      this.#query = url.query;
      tracks = parseAnnounceSdp(req.body.toString('utf8'), req.headers.get('Content-Base') ?? req.uri);
    } catch (err) {
      this.#reject(400, cseq, err);
      return;
    }
    if (tracks.length > RTSP_MAX_TRACKS) {
      this.#respond(400, cseq, [], `SDP has ${tracks.length} media sections (limit ${RTSP_MAX_TRACKS})`);
      return;
    }
    if (target.hub.isPublishing(target.key)) {
      this.#respond(403, cseq, [], `${ErrorCode.StreamBusy}: ${streamKeyString(target.key)} is already being published`);
      return;
    }
    this.#target = target;
    this.#sdpTracks = tracks;
    this.#state = 'announced';
    this.#log.info(
      { stream: streamKeyString(target.key), tracks: tracks.map((t) => `${t.media}:${t.encodingName}/${t.clockRate}`) },
      'RTSP ANNOUNCE',
    );
    this.#respond(200, cseq, []);
  }

  async #setupTrack(req: RtspRequest, cseq: string): Promise<void> {
    if (this.#state !== 'announced') {
      this.#respond(455, cseq, [], this.#state === 'init' ? 'SETUP before ANNOUNCE' : `SETUP in state ${this.#state}`);
      return;
    }
    const sdp = findTrackByControl(this.#sdpTracks, req.uri);
    if (sdp === undefined) {
      this.#respond(404, cseq, [], `no announced track matches ${req.uri}`);
      return;
    }
    if (this.#setup.has(sdp.index)) {
      this.#respond(455, cseq, [], `track ${sdp.index} is already set up`);
      return;
    }
    let offered: RtspTransport[];
    try {
      offered = parseTransportHeader(req.headers.get('Transport') ?? '');
    } catch (err) {
      this.#reject(461, cseq, err);
      return;
    }
    const transport = chooseRecordTransport(offered);
    if (transport === undefined) {
      this.#respond(461, cseq, [], 'need RTP/AVP unicast over UDP (client_port) or TCP (interleaved) with mode=record');
      return;
    }
    this.#sessionId ??= randomBytes(8).toString('hex');
    const track = this.#createTrack(sdp, transport.lowerTransport === 'tcp' ? TCP_REORDER : DEFAULT_UDP_REORDER);
    if (transport.lowerTransport === 'tcp') {
      const channels = transport.interleaved ?? this.#nextChannels();
      if (this.#byChannel.has(channels[0]) || this.#byChannel.has(channels[1])) {
        this.#respond(461, cseq, [], `interleaved channels ${channels[0]}-${channels[1]} are already in use`);
        return;
      }
      const setup: SetupTrack = { sdp, track, transport, channels };
      this.#setup.set(sdp.index, setup);
      this.#byChannel.set(channels[0], { setup, rtcp: false });
      this.#byChannel.set(channels[1], { setup, rtcp: true });
      const reply: RtspTransport = { profile: 'RTP/AVP/TCP', lowerTransport: 'tcp', unicast: true, interleaved: channels, mode: 'record' };
      this.#respond(200, cseq, [['Transport', formatTransportHeader(reply)], ...this.#sessionHeaders()]);
      return;
    }
    let pair: RtpPortPair;
    try {
      pair = await this.#opts.ports.allocate(this.#remoteAddress);
    } catch (err) {
      this.#reject(453, cseq, err);
      return;
    }
    if (this.#closed || this.#state !== 'announced') {
      pair.release();
      return;
    }
    const setup: SetupTrack = { sdp, track, transport, pair };
    this.#setup.set(sdp.index, setup);
    pair.rtp.on('message', (data, rinfo) => this.#onUdp(setup, false, data, rinfo.address));
    pair.rtcp.on('message', (data, rinfo) => this.#onUdp(setup, true, data, rinfo.address));
    const reply: RtspTransport = {
      profile: transport.profile,
      lowerTransport: 'udp',
      unicast: true,
      clientPort: transport.clientPort,
      serverPort: [pair.rtpPort, pair.rtcpPort],
      mode: 'record',
    };
    this.#respond(200, cseq, [['Transport', formatTransportHeader(reply)], ...this.#sessionHeaders()]);
  }

  #createTrack(sdp: SdpTrack, reorder: RtpReorderOptions): RtspTrack | undefined {
    try {
      const codec = createTrackCodec(sdp, (err) => this.#onDecodeError(err));
      return new RtspTrack({
        sdp,
        codec,
        timeline: this.#timeline,
        reorder,
        onMessages: (msgs) => this.#onMessages(msgs),
        onError: (err) => this.#onDecodeError(err),
      });
    } catch (err) {
      this.#log.warn(
        { code: isGatewayError(err) ? err.code : undefined, track: sdp.index },
        `track ${sdp.control} is set up but not published: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  #record(_req: RtspRequest, cseq: string): void {
    if (this.#state !== 'announced' || this.#setup.size === 0 || this.#target === undefined) {
      this.#respond(455, cseq, [], this.#state === 'recording' ? 'already recording' : 'RECORD before ANNOUNCE and SETUP');
      return;
    }
    if ([...this.#setup.values()].every((s) => s.track === undefined)) {
      this.#respond(415, cseq, [], 'none of the set-up tracks has a codec castgate can publish');
      return;
    }
    const target = this.#target;
    const info: SessionInfo & { query: string } = {
      id: this.id,
      protocol: 'rtsp',
      remote: `${this.#remoteAddress}:${this.#opts.socket.remotePort ?? 0}`,
      query: this.#query,
    };
    try {
      this.#publisher = target.hub.publish(target.key, info);
    } catch (err) {
      this.#reject(isGatewayError(err, ErrorCode.StreamBusy) ? 403 : 500, cseq, err);
      return;
    }
    this.#mediaOut = new RtspMediaOut(this.#publisher, () => this.#setup.values());
    this.#opts.counters.publishes++;
    this.#state = 'recording';
    this.#recordStartMs = Date.now();
    this.#lastReportMs = this.#recordStartMs - RTCP_RR_INTERVAL_MS + RTCP_FIRST_RR_DELAY_MS;
    const transports = [...this.#setup.values()].map((s) => (s.pair !== undefined ? `udp:${s.pair.rtpPort}` : `tcp:${s.channels?.join('-')}`));
    this.#log.info({ stream: streamKeyString(target.key), url: target.url, transports }, 'RTSP RECORD: publishing');
    this.#respond(200, cseq, this.#sessionHeaders());
  }

  // ---- media out ----

  #onMessages(msgs: RtmpMessage[]): void {
    this.#mediaOut?.write(msgs);
  }

  #onDecodeError(err: GatewayError): void {
    this.#decodeErrors.hit(err);
  }

  #sendReceiverReports(nowMs: number): void {
    for (const { setup, rr } of receiverReports(this.#setup.values(), this.#reporterSsrc, nowMs)) {
      if (setup.pair !== undefined && setup.transport.clientPort !== undefined) {
        sendUdp(setup.pair.rtcp, rr, setup.transport.clientPort[1], udpPeerAddress(setup.pair.family, this.#remoteAddress));
      } else if (setup.channels !== undefined) {
        this.#write(serializeInterleavedFrame(setup.channels[1], rr));
      }
    }
  }

  // ---- helpers ----

  #nextChannels(): readonly [number, number] {
    let ch = 0;
    while (this.#byChannel.has(ch) || this.#byChannel.has(ch + 1)) ch += 2;
    return [ch, ch + 1];
  }

  #sessionHeaders(): Array<[string, string]> {
    return this.#sessionId === undefined ? [] : [['Session', `${this.#sessionId};timeout=${RTSP_SESSION_TIMEOUT_S}`]];
  }

  #reject(status: number, cseq: string, err: unknown): void {
    const text = isGatewayError(err) ? `${err.code}: ${err.message}` : String(err);
    this.#respond(status, cseq, [], text);
  }

  /** Send a response; a failure (status ≥ 400) is logged with its reason, which is not put on the wire. */
  #respond(status: number, cseq: string | undefined, headers: Array<[string, string]>, reason?: string): void {
    if (status >= 400) {
      this.#opts.counters.protocolErrors++;
      this.#log.warn({ status, cseq }, `RTSP ${status}: ${reason ?? ''}`);
    }
    const all: Array<[string, string]> = [];
    if (cseq !== undefined) all.push(['CSeq', cseq]);
    all.push(['Server', 'castgate']);
    for (const h of headers) all.push(h);
    this.#write(serializeRtspResponse(status, all));
  }

  #write(bytes: Buffer): void {
    const { socket } = this.#opts;
    if (socket.destroyed || !socket.writable) return;
    if (socket.writableLength > MAX_PENDING_WRITE_BYTES) {
      this.close('client does not read its responses');
      return;
    }
    socket.write(bytes);
  }

  /** Unpublish and release every track; back to `init` (the connection may ANNOUNCE again). */
  #endSession(reason: string): void {
    if (this.#publisher !== undefined) {
      const stats = this.stats();
      for (const t of stats.tracks) this.#opts.counters.lost += t.lost;
      this.#log.info({ reason, tracks: stats.tracks }, 'RTSP session ended; unpublishing');
      this.#publisher.close(reason);
      this.#publisher = undefined;
      this.#mediaOut = undefined;
    }
    for (const s of this.#setup.values()) s.pair?.release();
    this.#setup.clear();
    this.#byChannel.clear();
    this.#sdpTracks = [];
    this.#target = undefined;
    this.#sessionId = undefined;
    this.#timeline = new RtspTimeline();
    this.#state = 'init';
  }
}

function sendUdp(socket: UdpSocket, bytes: Buffer, port: number, address: string): void {
  try {
    socket.send(bytes, port, address);
  } catch {
    // socket closed in the meantime (session ending): nothing to report to
  }
}

/** `::ffff:1.2.3.4` (IPv4-mapped, from a dual-stack listener) → `1.2.3.4`. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

