/**
 * RTP and RTCP over UDP for one RTSP track (RFC 2326 §12.39 `RTP/AVP[/UDP];unicast;client_port=a-b`): a server port
 * pair from the caster's pool (RFC 3550 §11: RTP even, RTCP the next odd port), the pusher's packets delivered to
 * the track once the session records, packets from any other address dropped and counted, and our RTCP (receiver
 * reports) sent to the client's RTCP port. UDP may reorder: these tracks use the reorder buffer
 * (DEFAULT_UDP_REORDER) and the session's timer gives up their gaps.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { PithyLog } from '../../core/log.ts';
import type { RtspTransport } from '../../core/protocol/rtsp/transport-header.ts';
import { udpPeerAddress, type RtpPortPair } from './rtp-port-pool.ts';
import type { RtspTrack } from './rtsp-track.ts';

/** What a session's UDP transports count and log (the caster's counters, the session's rate-limited log). */
export interface UdpReceiveAccounting {
  readonly counters: { packets: number; bytes: number; foreignPackets: number };
  /** Packets from an address other than the pusher's. */
  readonly foreign: PithyLog;
}

/** `::ffff:1.2.3.4` (IPv4-mapped, from a dual-stack listener) → `1.2.3.4`; anything else as it is. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class RtspUdpTransport {
  readonly pair: RtpPortPair;
  /** The client's RTP and RTCP ports (Transport client_port). */
  readonly clientPort: readonly [number, number];
  /** The RTSP client's address (normalized): only its packets are accepted. */
  readonly #pusher: string;
  readonly #accounting: UdpReceiveAccounting;

  /**
   * @param pair a bound pair from RtpPortPool.allocate; this transport releases it.
   * @param pusherAddress the RTSP client's address, normalized (normalizeAddress).
   */
  constructor(pair: RtpPortPair, clientPort: readonly [number, number], pusherAddress: string, accounting: UdpReceiveAccounting) {
    this.pair = pair;
    this.clientPort = clientPort;
    this.#pusher = pusherAddress;
    this.#accounting = accounting;
  }

  /** For logs: `udp:<server RTP port>`. */
  get label(): string {
    return `udp:${this.pair.rtpPort}`;
  }

  /** The Transport header of the SETUP reply: the client's ports and ours (RFC 2326 §12.39). */
  reply(offered: RtspTransport): RtspTransport {
    return {
      profile: offered.profile,
      lowerTransport: 'udp',
      unicast: true,
      clientPort: offered.clientPort,
      serverPort: [this.pair.rtpPort, this.pair.rtcpPort],
      mode: 'record',
    };
  }

  /**
   * RECORD: from now on the pusher's RTP and RTCP go to `track` (before it, datagrams have no listener and are
   * dropped). Packets from another address are dropped, counted and logged rate-limited.
   */
  start(track: RtspTrack): void {
    const { counters, foreign } = this.#accounting;
    const onDatagram = (rtcp: boolean, data: Buffer, address: string): void => {
      if (normalizeAddress(address) !== this.#pusher) {
        counters.foreignPackets++;
        foreign.hit(`from ${address} (the pusher is ${this.#pusher})`);
        return;
      }
      counters.packets++;
      counters.bytes += data.length;
      if (rtcp) track.onRtcp(data, Date.now());
      else track.onRtp(data, Date.now());
    };
    this.pair.rtp.on('message', (data, rinfo) => onDatagram(false, data, rinfo.address));
    this.pair.rtcp.on('message', (data, rinfo) => onDatagram(true, data, rinfo.address));
  }

  /** One RTCP compound packet to the client's RTCP port, from our RTCP port. */
  sendRtcp(bytes: Buffer): void {
    sendUdp(this.pair.rtcp, bytes, this.clientPort[1], udpPeerAddress(this.pair.family, this.#pusher));
  }

  /** Close both sockets and give the pair back to the pool (idempotent). */
  release(): void {
    this.pair.release();
  }
}

function sendUdp(socket: UdpSocket, bytes: Buffer, port: number, address: string): void {
  try {
    socket.send(bytes, port, address);
  } catch {
    // socket closed in the meantime (session ending): nothing to report to
  }
}
