/**
 * Server RTP/RTCP port pairs for RTSP SETUP over UDP (RFC 3550 §11: RTP on an even port, RTCP on the next odd
 * one), taken from SRS's `[rtp_port_min, rtp_port_max)` range (`stream_caster { rtp_port_min; rtp_port_max; }`).
 *
 * A pair is bound when allocated (two dgram sockets) and given back by `release()`: on TEARDOWN, idle timeout or
 * disconnect. Ports held by other programs are skipped (bind fails → the next pair is tried). The search starts
 * after the last pair handed out, so a pair released a moment ago is not reused at once (late packets of the old
 * session would land in the new one).
 */
import { createSocket, type Socket } from 'node:dgram';
import { ErrorCode, GatewayError } from '../../core/errors.ts';

/** One bound server port pair. `release()` closes both sockets; idempotent. */
export interface RtpPortPair {
  readonly rtpPort: number;
  readonly rtcpPort: number;
  readonly rtp: Socket;
  readonly rtcp: Socket;
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
   * @param host address to bind (undefined = all interfaces).
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
   * @throws GatewayError(Listen) when every pair of the range is in use or cannot be bound (RTSP answers 453).
   */
  async allocate(): Promise<RtpPortPair> {
    const pairs = this.capacity;
    for (let i = 0; i < pairs; i++) {
      const rtpPort = this.#next;
      this.#next = rtpPort + 2 < this.#min + 2 * pairs ? rtpPort + 2 : this.#min;
      if (this.#inUse.has(rtpPort)) continue;
      this.#inUse.add(rtpPort);
      const pair = await this.#bindPair(rtpPort);
      if (pair !== undefined) return pair;
      this.#inUse.delete(rtpPort);
    }
    throw new GatewayError(ErrorCode.Listen, `no free RTP port pair in [${this.#min}, ${this.#max})`);
  }

  async #bindPair(rtpPort: number): Promise<RtpPortPair | undefined> {
    const type = this.#host?.includes(':') === true ? 'udp6' : 'udp4';
    const rtp = createSocket({ type });
    const rtcp = createSocket({ type });
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
