/**
 * Server RTP/RTCP port pairs for RTSP SETUP over UDP (RFC 3550 §11: RTP on an even port, RTCP on the next odd
 * one), taken from SRS's `[rtp_port_min, rtp_port_max)` range (`stream_caster { rtp_port_min; rtp_port_max; }`).
 *
 * A pair is bound when allocated (two dgram sockets) and given back by `release()`: on TEARDOWN, idle timeout or
 * disconnect. Ports held by other programs are skipped (bind fails → the next pair is tried). The search starts
 * after the last pair handed out, so a pair released a moment ago is not reused at once (late packets of the old
 * session would land in the new one).
 */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ErrorCode, GatewayError } from '../../core/errors.ts';

/** One bound server port pair. `release()` closes both sockets; idempotent. */
export interface RtpPortPair {
  readonly rtpPort: number;
  readonly rtcpPort: number;
  readonly rtp: Socket;
  readonly rtcp: Socket;
  /** `udp6` sockets need IPv4 peers written as `::ffff:a.b.c.d` (see {@link udpPeerAddress}). */
  readonly family: SocketType;
  release(): void;
}

/** SO_RCVBUF for RTP sockets: a burst of a 20 Mbit/s keyframe (hundreds of packets) must not overflow it. */
const RTP_RECV_BUFFER_BYTES = 2 * 1024 * 1024;

export class RtpPortPool {
  readonly #min: number;
  readonly #max: number;
  readonly #host: string | undefined;
  readonly #inUse = new Set<number>();
  #next: number;

  /**
   * @param min first port of the range (rounded up to even); @param max end of the range, exclusive: pairs are
   *   (min, min+1), (min+2, min+3), ... with both ports below max.
   * @param host address to bind (undefined = all interfaces of the family each `allocate()` asks for).
   */
  constructor(min: number, max: number, host?: string) {
    this.#min = min + (min % 2);
    this.#max = max;
    this.#host = host;
    this.#next = this.#min;
  }

  /** Pairs currently handed out. */
  get inUse(): number {
    return this.#inUse.size;
  }

  /** How many pairs the range holds. */
  get capacity(): number {
    return Math.max(0, Math.floor((this.#max - this.#min) / 2));
  }

  /**
   * Bind the next free pair.
   * @param clientAddress the RTSP client's address: an IPv6 client gets `udp6` sockets, an IPv4 one `udp4`, unless
   *   the pool has a bind host, whose family wins (an IPv6 host such as `::` is dual-stack).
   * @throws GatewayError(Listen) when every pair of the range is in use or cannot be bound (RTSP answers 453).
   */
  async allocate(clientAddress = ''): Promise<RtpPortPair> {
    const family: SocketType = isIPv6(this.#host ?? clientAddress) ? 'udp6' : 'udp4';
    const pairs = this.capacity;
    for (let i = 0; i < pairs; i++) {
      const rtpPort = this.#next;
      this.#next = rtpPort + 2 < this.#min + 2 * pairs ? rtpPort + 2 : this.#min;
      if (this.#inUse.has(rtpPort)) continue;
      this.#inUse.add(rtpPort);
      const pair = await this.#bindPair(rtpPort, family);
      if (pair !== undefined) return pair;
      this.#inUse.delete(rtpPort);
    }
    throw new GatewayError(ErrorCode.Listen, `no free RTP port pair in [${this.#min}, ${this.#max})`);
  }

  async #bindPair(rtpPort: number, family: SocketType): Promise<RtpPortPair | undefined> {
    const rtp = createSocket({ type: family });
    const rtcp = createSocket({ type: family });
    const bind = (s: Socket, port: number): Promise<boolean> =>
      new Promise((ok) => {
        const onError = (): void => ok(false);
        s.once('error', onError);
        s.bind(port, this.#host, () => {
          s.off('error', onError);
          ok(true);
        });
      });
    const closeBoth = (): void => {
      for (const s of [rtp, rtcp]) {
        try {
          s.close();
        } catch {
          // not bound or already closed
        }
      }
    };
    if (!(await bind(rtp, rtpPort)) || !(await bind(rtcp, rtpPort + 1))) {
      closeBoth();
      return undefined;
    }
    try {
      rtp.setRecvBufferSize(RTP_RECV_BUFFER_BYTES);
    } catch {
      // the kernel may cap it (net.core.rmem_max); the default still works for moderate bitrates
    }
    let released = false;
    const inUse = this.#inUse;
    return {
      rtpPort,
      rtcpPort: rtpPort + 1,
      rtp,
      rtcp,
      family,
      release(): void {
        if (released) return;
        released = true;
        rtp.removeAllListeners('message');
        rtcp.removeAllListeners('message');
        closeBoth();
        inUse.delete(rtpPort);
      },
    };
  }
}

/**
 * The address to send to a peer from a socket of `family`: an IPv4 peer of a dual-stack `udp6` socket is written
 * IPv4-mapped (`::ffff:1.2.3.4`, RFC 4291 §2.5.5.2); anything else as it is.
 */
export function udpPeerAddress(family: SocketType, address: string): string {
  return family === 'udp6' && !isIPv6(address) ? `::ffff:${address}` : address;
}
