/**
 * Caster `mpegts_over_udp` (SRS SrsMpegtsOverUdp): one UDP port, one output stream.
 *
 * ```
 * stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/livestream; listen 8935; }
 * ```
 * Datagrams (usually 7×188 bytes) feed a TsDemuxer whose elementary streams become RtmpMessages (to-rtmp.ts)
 * for the hub. The first sender address owns the stream; datagrams from other senders are dropped (counted)
 * until the owner has been silent for `idle_timeout` (default 10 s), when the stream is unpublished. The next
 * datagram republishes it. Garbage datagrams are demux errors: counted, logged rate-limited, never fatal.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../../core/log.ts';
import { nextSessionId, PithyLog } from '../../core/log.ts';
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';
import type { HubPort, Publisher } from '../../core/hub/ports.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { streamKeyString, type StreamKey } from '../../core/media/stream-key.ts';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';
import type { Caster, CasterStats } from '../caster.ts';
import { TsToRtmp } from './to-rtmp.ts';

export interface MpegtsUdpCasterOptions {
  readonly hub: HubPort;
  readonly key: StreamKey;
  readonly listen: { readonly host: string | undefined; readonly port: number };
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  /** UDP receive buffer (SO_RCVBUF) in bytes; bursts of a 20 Mbit/s stream must not overflow it. */
  readonly recvBufferBytes?: number;
}

const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
/** How often the idle check runs. */
const IDLE_CHECK_INTERVAL_MS = 500;

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

  constructor(opts: MpegtsUdpCasterOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ caster: 'mpegts_over_udp', stream: streamKeyString(opts.key) });
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
    await new Promise<void>((ok, fail) => {
      socket.once('error', (err) => fail(new GatewayError(ErrorCode.Listen, `mpegts_over_udp listen ${host ?? '*'}:${port}: ${err.message}`, { cause: err })));
      socket.bind(port, host, () => ok());
    });
    socket.on('error', (err) => this.#log.error({ err }, 'udp socket error'));
    try {
      socket.setRecvBufferSize(this.#opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES);
    } catch (err) {
      this.#log.warn({ err }, 'could not raise the UDP receive buffer');
    }
    socket.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
    this.#socket = socket;
    this.#port = socket.address().port;
    this.#timer = setInterval(() => this.#checkIdle(), IDLE_CHECK_INTERVAL_MS);
    this.#timer.unref();
    this.#log.info({ port: this.#port }, 'mpegts_over_udp caster listening');
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
    return {
      caster: 'mpegts_over_udp',
      listen: this.#port,
      stream: streamKeyString(this.#opts.key),
      publishing: this.#session?.publisher !== undefined,
      sender: this.#session?.sender,
      datagrams: this.#datagrams,
      bytes: this.#bytes,
      publishes: this.#publishes,
      decodeErrors: this.#errors.total,
      demux: this.#session?.demuxer.stats,
    };
  }

  #onDatagram(data: Buffer, rinfo: RemoteInfo): void {
    const sender = `${rinfo.address}:${rinfo.port}`;
    let s = this.#session;
    if (s !== undefined && s.sender !== sender) {
      this.#foreign.hit(`from ${sender} while ${s.sender} owns the stream`);
      return;
    }
    this.#datagrams++;
    this.#bytes += data.length;
    if (s === undefined) {
      s = this.#startSession(sender);
      if (s === undefined) return;
    }
    s.lastPacketMs = Date.now();
    try {
      s.demuxer.push(data);
    } catch (err) {
      // The demuxer reports problems through its sink; a throw here is a bug: keep serving, reset the demuxer.
      this.#log.error({ err, session: s.id }, 'TS demuxer threw; resetting it');
      s.demuxer.reset();
      s.toRtmp.reset();
    }
  }

  #startSession(sender: string): UdpSession | undefined {
    const id = nextSessionId('udp');
    const log = this.#log.child({ session: id, sender });
    let publisher: Publisher;
    try {
      publisher = this.#opts.hub.publish(this.#opts.key, { id, protocol: 'mpegts_over_udp', remote: sender });
    } catch (err) {
      if (isGatewayError(err, ErrorCode.StreamBusy)) this.#foreign.hit(err);
      else log.error({ err }, 'publish failed');
      return undefined;
    }
    this.#publishes++;
    const errors = this.#errors;
    const toRtmp = new TsToRtmp({
      onMessage: (msg: RtmpMessage) => publisher.write(msg),
      onDecodeError: (err) => errors.hit(err),
      onProgram: (programNumber, tracks) => log.info({ programNumber, tracks: tracks.map((t) => `${t.pid}:${t.codec}`) }, 'TS program'),
    });
    const session: UdpSession = { id, sender, publisher, toRtmp, demuxer: new TsDemuxer(toRtmp), lastPacketMs: Date.now(), log };
    this.#session = session;
    log.info('sender started; publishing');
    return session;
  }

  #checkIdle(): void {
    const s = this.#session;
    if (s !== undefined && Date.now() - s.lastPacketMs > this.#opts.idleTimeoutMs) {
      this.#endSession(`no packets for ${this.#opts.idleTimeoutMs} ms`);
    }
  }

  #endSession(reason: string): void {
    const s = this.#session;
    if (s === undefined) return;
    this.#session = undefined;
    s.demuxer.flush();
    s.publisher.close(reason);
    s.log.info({ reason, demux: s.demuxer.stats }, 'sender gone; unpublished');
  }
}

interface UdpSession {
  readonly id: string;
  readonly sender: string;
  readonly publisher: Publisher;
  readonly toRtmp: TsToRtmp;
  readonly demuxer: TsDemuxer;
  readonly log: Logger;
  lastPacketMs: number;
}
