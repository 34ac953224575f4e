/**
 * Caster `mpegts_over_udp` (SRS SrsMpegtsOverUdp): one UDP port, one output stream.
 *
 * ```
 * stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/livestream; listen 8935; }
 * stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/mc; listen 239.1.1.1:5000;
 *                 multicast_interface 192.168.1.10; }      # multicast (castgate): join the group on that interface
 * ```
 * Each datagram is its own unit (DESIGN.md: datagram protocols are framed per datagram): plain TS (usually
 * 7 × 188 bytes; 204-byte packets too) or RTP-wrapped TS (RFC 2250, payload type 33, reordered by sequence
 * number), detected per datagram by core/protocol/mpegts/ts-datagram-reader.ts; bytes that do not make whole
 * packets are dropped and counted, never carried into the next datagram. A TsDemuxer picks the program
 * (`program N;` / `pids P...;`, else the first program with video; the choice is logged) and its elementary
 * streams become RtmpMessages (core/remux/ts-to-rtmp.ts) for the hub. A PMT change that changes a codec
 * republishes the stream, so its players start over with the new sequence headers.
 * The first sender address whose datagrams carry a valid program (PAT/PMT) owns the stream;
 * datagrams from other senders are dropped (counted) until the owner has sent no TS content (PES, PAT/PMT) for
 * `idle_timeout` (default 10 s; junk datagrams do not count), when the stream is unpublished. The next valid sender republishes it. If the hub refuses the
 * publish (another publisher holds the key), the session retries every second. Garbage datagrams are demux
 * errors: counted, logged rate-limited, never fatal.
 *
 * Admission (`security`, then `http_hooks on_publish`, through `PublishTarget.admit`): a sender is asked about
 * once its datagrams carry a valid program (so junk from strangers never reaches a hook server), with its real
 * `ip:port` and no query (UDP has none). While the answer is pending the sender owns the stream as a publishing
 * one does (other senders' datagrams are dropped as above) and its own datagrams are dropped and counted
 * (`admissionDropped`). On allow the stream is published: an answer that came before the sender's next datagram
 * (no hook, or a quick one) loses nothing; otherwise the demuxer starts afresh and players get the stream from the
 * next PAT/PMT and keyframe. A refused sender is not published, and is asked again no sooner than
 * ADMISSION_RETRY_MS later if it is still sending. UDP has no reply channel to tell the sender and nothing to
 * reconnect, so a fixed pause bounds the load on the hook server (one question per sender per interval) while a
 * hook that later allows the stream (a token activated, a schedule opening) takes effect without touching the
 * sender. SRS has no such rule: its UDP caster asks no hook itself; its loopback RTMP client's publish meets
 * on_publish, and a failed connect is tried again at the next TS message. A refused sender's address is
 * remembered until its retry time (at most MAX_REFUSED_SENDERS of them) and does not displace another sender
 * meanwhile. Admission never blocks: the event loop, other casters and other streams go on while it is asked.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../../core/log.ts';
import { nextSessionId, PithyLog } from '../../core/log.ts';
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import type { Publisher, PublishTarget, SessionInfo } from '../../core/hub/ports.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { streamKeyString } from '../../core/media/stream-key.ts';
import { TsDatagramReader } from '../../core/protocol/mpegts/ts-datagram-reader.ts';
import type { TsDatagramReaderStats } from '../../core/protocol/mpegts/ts-datagram-reader.ts';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';
import type { TsDemuxerStats } from '../../core/protocol/mpegts/ts-demuxer.ts';
import type { Caster, CasterStats } from '../caster.ts';
import { TsToRtmp } from '../../core/remux/ts-to-rtmp.ts';

export interface MpegtsUdpCasterOptions {
  /** The stream this port publishes: the `output` resolved once (this hub, or an RTMP push port). */
  readonly target: PublishTarget;
  readonly listen: { readonly host: string | undefined; readonly port: number };
  readonly idleTimeoutMs: number;
  /**
   * When `listen` names a multicast group (224.0.0.0/4, ff00::/8): the local interface address to join it on
   * (castgate directive `multicast_interface`); undefined = the OS's choice.
   */
  readonly multicastInterface?: string | undefined;
  /** Conf `program`: the program_number to publish from a multi-program TS; undefined = first with video. */
  readonly program?: number | undefined;
  /** Conf `pids`: the elementary PIDs to publish (of the program that lists them); undefined = all of the program. */
  readonly pids?: readonly number[] | undefined;
  readonly log: Logger;
  /** UDP receive buffer (SO_RCVBUF) in bytes; bursts of a 20 Mbit/s stream must not overflow it. */
  readonly recvBufferBytes?: number;
  /** Pause before a refused sender is asked again, ms; default ADMISSION_RETRY_MS. */
  readonly admissionRetryMs?: number;
}

const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long a session whose publish the hub refused (key busy) waits before trying again. */
const PUBLISH_RETRY_MS = 1000;
/** How often the idle check runs. */
const IDLE_CHECK_INTERVAL_MS = 500;
/** A sender refused by admission is asked again no sooner than this (see the module comment). */
export const ADMISSION_RETRY_MS = 5000;
/** Refused senders remembered until their retry time; past it the oldest is forgotten (asked again sooner). */
export const MAX_REFUSED_SENDERS = 1024;

export class MpegtsUdpCaster implements Caster {
  readonly #opts: MpegtsUdpCasterOptions;
  readonly #log: Logger;
  readonly #errors: PithyLog;
  readonly #foreign: PithyLog;
  #socket: Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #session: UdpSession | undefined;
  #port = 0;
  #datagrams = 0;
  #bytes = 0;
  #publishes = 0;
  /** Datagrams dropped because their sender's admission was pending or refused. */
  #admissionDropped = 0;
  #admissionRefusals = 0;
  /** Refused sender `ip:port` → Date.now() from which it may be asked again (insertion order = oldest first). */
  readonly #refused = new Map<string, number>();
  /** Counters of the last session that ended (stats show them until a new sender starts). */
  #lastDemux: TsDemuxerStats | undefined;
  #lastRtp: TsDatagramReaderStats | undefined;

  constructor(opts: MpegtsUdpCasterOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ caster: 'mpegts_over_udp', stream: streamKeyString(opts.target.key) });
    this.#errors = new PithyLog(this.#log, 'TS decode errors');
    this.#foreign = new PithyLog(this.#log, 'datagrams from a second sender dropped');
  }

  /** Bound UDP port (useful when configured as 0). */
  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const { host, port } = this.#opts.listen;
    const socket = createSocket({ type: host?.includes(':') === true ? 'udp6' : 'udp4', reuseAddr: true });
    const group = host !== undefined && isMulticastAddress(host) ? host : undefined;
    await new Promise<void>((ok, fail) => {
      socket.once('error', (err) => fail(new GatewayError(ErrorCode.Listen, `mpegts_over_udp listen ${host ?? '*'}:${port}: ${err.message}`, { cause: err })));
      // A multicast listener binds the group address itself (Linux then delivers only that group's datagrams).
      socket.bind(port, host, () => ok());
    });
    if (group !== undefined) {
      try {
        socket.addMembership(group, this.#opts.multicastInterface);
      } catch (err) {
        socket.close();
        throw new GatewayError(ErrorCode.Listen, `mpegts_over_udp cannot join multicast group ${group} on ${this.#opts.multicastInterface ?? 'the default interface'}: ${(err as Error).message}`, { cause: err });
      }
    }
    socket.on('error', (err) => this.#log.error({ err }, 'udp socket error'));
    try {
      socket.setRecvBufferSize(this.#opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES);
    } catch (err) {
      this.#log.warn({ err }, 'could not raise the UDP receive buffer');
    }
    socket.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
    this.#socket = socket;
    this.#port = socket.address().port;
    this.#timer = setInterval(() => this.#onTimer(), IDLE_CHECK_INTERVAL_MS);
    this.#timer.unref();
    this.#log.info({ port: this.#port, multicastGroup: group, multicastInterface: this.#opts.multicastInterface }, 'mpegts_over_udp caster listening');
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#endSession('caster stopping');
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) await new Promise<void>((ok) => socket.close(() => ok()));
  }

  stats(): CasterStats {
    const s = this.#session;
    const live = s !== undefined && (s.programSeen || this.#lastDemux === undefined) ? s : undefined;
    return {
      caster: 'mpegts_over_udp',
      listen: this.#port,
      stream: streamKeyString(this.#opts.target.key),
      session: this.#session?.id,
      publishing: this.#session?.publisher !== undefined,
      sender: this.#session?.sender,
      datagrams: this.#datagrams,
      bytes: this.#bytes,
      publishes: this.#publishes,
      admission: this.#session?.admission,
      admissionDropped: this.#admissionDropped,
      admissionRefusals: this.#admissionRefusals,
      refusedSenders: this.#refused.size,
      decodeErrors: this.#errors.total,
      program: this.#session?.demuxer.programNumber,
      // A session that found no program yet (junk from a stranger, or from the sender after its stream ended) does
      // not hide the counters of the last stream.
      demux: live !== undefined ? live.demuxer.stats : this.#lastDemux,
      rtp: live !== undefined ? live.reader.stats : this.#lastRtp,
    };
  }

  #onDatagram(data: Buffer, rinfo: RemoteInfo): void {
    const sender = `${rinfo.address}:${rinfo.port}`;
    let s = this.#session;
    if (s !== undefined && s.sender !== sender) {
      if (s.publisher !== undefined || s.admission === 'pending') {
        this.#foreign.hit(`from ${sender} while ${s.sender} owns the stream`);
        return;
      }
      if (this.#isRefused(sender, Date.now())) {
        // A refused sender waits for its retry time without displacing anyone.
        this.#admissionDropped++;
        return;
      }
      // The current sender has not shown a valid program yet (or was refused): it owns nothing, the newcomer
      // replaces it.
      this.#endSession(s.admission === 'refused' ? 'another sender arrived while this one is refused' : 'another sender arrived before a program was found');
      s = undefined;
    }
    this.#datagrams++;
    this.#bytes += data.length;
    if (s === undefined) s = this.#startSession(sender);
    s.lastPacketMs = Date.now();
    if (s.admission === 'pending' || s.admission === 'refused') {
      if (s.admission === 'refused' && s.lastPacketMs >= s.admissionRetryAtMs) {
        // Still sending after the pause: ask again (a sender refused in an earlier session shows its program first).
        if (s.programSeen) this.#admit(s);
        else s.admission = 'none';
      }
      if (s.admission !== 'none') {
        this.#admissionDropped++;
        s.droppedWhileAsking++;
        return;
      }
    }
    if (s.publisher === undefined && s.admission === 'allowed' && s.lastPacketMs - s.lastPublishAttemptMs >= PUBLISH_RETRY_MS) {
      // The hub refused earlier (key busy); try again, and restart demuxing so the sequence headers come anew.
      this.#publish(s);
      if (s.publisher !== undefined) {
        s.demuxer.reset();
        s.toRtmp.reset();
      }
    }
    try {
      s.reader.push(data, performance.now());
      const activity = s.demuxer.activity;
      if (activity !== s.lastActivity) {
        s.lastActivity = activity;
        s.lastMediaMs = s.lastPacketMs;
      }
    } catch (err) {
      // The demuxer reports problems through its sink; a throw here is a bug: keep serving, reset the demuxer.
      this.#log.error({ err, session: s.id }, 'TS demuxer threw; resetting it');
      s.demuxer.reset();
      s.toRtmp.reset();
    }
  }

  /**
   * A sender's session starts with its first datagram but publishes only once its PAT/PMT are found: garbage
   * from a stranger never takes the stream.
   */
  #startSession(sender: string): UdpSession {
    const id = nextSessionId('udp');
    const log = this.#log.child({ session: id, sender });
    const errors = this.#errors;
    const session: UdpSession = {
      id,
      sender,
      publisher: undefined,
      toRtmp: new TsToRtmp({
        onMessage: (msg: RtmpMessage) => {
          if (session.publisher !== undefined) session.publisher.write(msg);
          // The rest of the datagram whose PMT asked admission: kept for a quick answer (bounded by that datagram).
          else if (session.admission === 'pending') session.held.push(msg);
        },
        onDecodeError: (err) => errors.hit(err),
        onProgramSelected: (selection) => {
          log.info({ ...selection, configured: { program: this.#opts.program, pids: this.#opts.pids } }, `TS program ${selection.programNumber} chosen (${selection.reason})`);
        },
        onProgram: (programNumber, tracks) => {
          log.info({ programNumber, tracks: tracks.map((t) => `${t.pid}:${t.codec}`) }, 'TS program');
          session.programSeen = true;
          if (session.publisher !== undefined) return;
          if (session.admission === 'allowed') this.#publish(session);
          else if (session.admission === 'none') this.#admit(session);
        },
        onCodecChange: (previous, next) => {
          // Players cannot follow a codec change inside one publish: republish (new sequence headers follow).
          if (session.publisher === undefined) return;
          session.log.info({ previous, next }, 'TS codecs changed; republishing');
          session.publisher.close('codec change');
          session.publisher = undefined;
          // A new publish: the hook server got on_unpublish for the old one, so it is asked (on_publish) again and
          // the new publish gets its own on_unpublish. The rest of this datagram is held for a quick answer.
          this.#admit(session);
        },
      }),
      demuxer: undefined as unknown as TsDemuxer,
      reader: undefined as unknown as TsDatagramReader,
      lastPacketMs: Date.now(),
      lastMediaMs: 0,
      lastActivity: 0,
      programSeen: false,
      lastPublishAttemptMs: 0,
      held: [],
      droppedWhileAsking: 0,
      admission: 'none',
      admissionRetryAtMs: 0,
      log,
    };
    const retryAtMs = this.#refused.get(sender);
    if (retryAtMs !== undefined && retryAtMs > session.lastPacketMs) {
      session.admission = 'refused';
      session.admissionRetryAtMs = retryAtMs;
    }
    session.demuxer = new TsDemuxer(session.toRtmp, { programNumber: this.#opts.program, pids: this.#opts.pids });
    const demuxer = session.demuxer;
    session.reader = new TsDatagramReader({ pushDatagram: (d) => demuxer.pushDatagram(d), onDecodeError: (err) => errors.hit(err) });
    this.#session = session;
    return session;
  }

  /**
   * Ask admission for the session's sender; its datagrams are dropped until the answer. Allowed: publish now and
   * demux afresh (sequence headers, keyframe). Refused: remembered until ADMISSION_RETRY_MS from now.
   */
  #admit(session: UdpSession): void {
    session.admission = 'pending';
    session.held = [];
    session.droppedWhileAsking = 0;
    const who = { id: session.id, protocol: 'mpegts_over_udp', remote: session.sender };
    this.#askAdmission(session, who).catch((err: unknown) => session.log.error({ err }, 'admission handling failed'));
  }

  async #askAdmission(session: UdpSession, who: SessionInfo): Promise<void> {
    let refusal: unknown;
    try {
      await this.#opts.target.admit(who);
    } catch (err) {
      refusal = err ?? new Error('admission refused without a reason');
    }
    if (this.#session !== session) return; // the sender went idle or was replaced meanwhile: publish nothing
    const now = Date.now();
    if (refusal === undefined) {
      session.admission = 'allowed';
      this.#refused.delete(session.sender);
      session.lastMediaMs = now; // its dropped datagrams moved no demuxer: the idle clock starts here
      const held = session.held;
      session.held = [];
      session.log.info({ droppedWhileAsking: session.droppedWhileAsking }, 'sender admitted');
      this.#publish(session);
      if (session.droppedWhileAsking === 0) {
        // Answered before the next datagram (no hook, or a quick one): nothing was lost, the stream goes on as is.
        for (const msg of held) session.publisher?.write(msg);
      } else {
        // Datagrams were dropped: start demuxing afresh (PAT/PMT, sequence headers, the next keyframe).
        session.demuxer.reset();
        session.toRtmp.reset();
      }
      return;
    }
    session.held = [];
    session.admission = 'refused';
    session.admissionRetryAtMs = now + (this.#opts.admissionRetryMs ?? ADMISSION_RETRY_MS);
    this.#admissionRefusals++;
    this.#refused.delete(session.sender);
    if (this.#refused.size >= MAX_REFUSED_SENDERS) this.#refused.delete(this.#refused.keys().next().value as string);
    this.#refused.set(session.sender, session.admissionRetryAtMs);
    const fields = { code: isGatewayError(refusal) ? refusal.code : undefined, reason: (refusal as Error).message, retryInMs: session.admissionRetryAtMs - now };
    if (isGatewayError(refusal, ErrorCode.SecurityDenied) || isGatewayError(refusal, ErrorCode.HookRejected)) session.log.warn(fields, 'sender refused by admission; not published');
    else session.log.error({ ...fields, err: refusal }, 'admission failed; sender not published');
  }

  /** Was `sender` refused and is its retry time still ahead? */
  #isRefused(sender: string, nowMs: number): boolean {
    const retryAtMs = this.#refused.get(sender);
    return retryAtMs !== undefined && retryAtMs > nowMs;
  }

  #publish(session: UdpSession): void {
    session.lastPublishAttemptMs = Date.now();
    try {
      // Kicked through the HTTP API: the session ends (a sender that goes on sending starts a new one, as SRS's
      // caster reconnects its RTMP client).
      const who = { id: session.id, protocol: 'mpegts_over_udp', remote: session.sender };
      session.publisher = this.#opts.target.hub.publish(this.#opts.target.key, who, {
        onClose: (reason) => {
          if (this.#session === session) this.#endSession(reason);
        },
      });
    } catch (err) {
      if (isGatewayError(err, ErrorCode.StreamBusy)) this.#foreign.hit(err);
      else session.log.error({ err }, 'publish failed');
      return;
    }
    this.#publishes++;
    session.log.info('sender started; publishing');
  }

  #onTimer(): void {
    const now = Date.now();
    for (const [sender, retryAtMs] of this.#refused) if (retryAtMs <= now) this.#refused.delete(sender);
    const s = this.#session;
    if (s === undefined) return;
    // Once a program is found, only real content counts as activity (PES, PAT/PMT with a good CRC): junk datagrams
    // from the sender do not keep a stream that stopped published. Datagrams dropped while admission is pending or
    // refused are not demuxed: there, any datagram counts.
    const lastActivityMs = s.programSeen && (s.admission === 'allowed' || s.admission === 'none') ? s.lastMediaMs : s.lastPacketMs;
    if (Date.now() - lastActivityMs > this.#opts.idleTimeoutMs) this.#endSession(`no ${s.programSeen ? 'TS content' : 'packets'} for ${this.#opts.idleTimeoutMs} ms`);
    else s.reader.flushExpired(performance.now()); // RTP gaps older than the reorder delay are given up
  }

  #endSession(reason: string): void {
    const s = this.#session;
    if (s === undefined) return;
    this.#session = undefined;
    s.reader.flush();
    s.demuxer.flush();
    this.#lastDemux = s.demuxer.stats;
    this.#lastRtp = s.reader.stats;
    if (s.publisher !== undefined) {
      s.publisher.close(reason);
      s.log.info({ reason, demux: s.demuxer.stats }, 'sender gone; unpublished');
    }
  }
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8 (RFC 5771, RFC 4291 §2.7). */
export function isMulticastAddress(host: string): boolean {
  const v4 = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (v4 !== null) {
    const first = Number(v4[1]);
    return first >= 224 && first <= 239;
  }
  return /^ff[0-9a-f]{2}:/i.test(host);
}

interface UdpSession {
  readonly id: string;
  readonly sender: string;
  /** Set once the sender's program is found and the hub accepted the publish. */
  publisher: Publisher | undefined;
  readonly toRtmp: TsToRtmp;
  demuxer: TsDemuxer;
  /** Plain or RTP-wrapped datagrams → demuxer. */
  reader: TsDatagramReader;
  readonly log: Logger;
  lastPacketMs: number;
  /** Date.now() of the last datagram that gave real content (TsDemuxer.activity moved: PES, good PAT/PMT). */
  lastMediaMs: number;
  /** TsDemuxer.activity after the last datagram. */
  lastActivity: number;
  programSeen: boolean;
  lastPublishAttemptMs: number;
  /** `none` until the program is found; `pending` while asked; then `allowed` or `refused` (asked again later). */
  admission: 'none' | 'pending' | 'allowed' | 'refused';
  /** Date.now() from which a refused sender is asked again. */
  admissionRetryAtMs: number;
  /** Messages demuxed while admission is pending: only the rest of the datagram that asked (later ones are dropped). */
  held: RtmpMessage[];
  /** Datagrams dropped since admission was last asked. */
  droppedWhileAsking: number;
}
