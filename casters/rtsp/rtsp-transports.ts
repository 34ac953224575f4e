/**
 * The media transports of one RTSP session: every SETUP'd track (RFC 2326 §10.4) with the way its RTP/RTCP
 * travels — a UDP server port pair (rtsp-udp-transport.ts) or two interleaved channels of the RTSP connection
 * (rtsp-interleaved.ts) — and what the session does with them while it records: route interleaved frames, give up
 * reorder gaps, watch for silence (idle_timeout), and send RTCP receiver reports (RFC 3550 §6.4.2: every
 * RTCP_RR_INTERVAL_MS, the first RTCP_FIRST_RR_DELAY_MS after RECORD).
 */
import { randomBytes } from 'node:crypto';
import { buildReceiverReport } from '../../core/protocol/rtp/rtcp.ts';
import type { RtspTransport } from '../../core/protocol/rtsp/transport-header.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { InterleavedChannels, type RtspInterleavedTransport } from './rtsp-interleaved.ts';
import type { RtspTrack } from './rtsp-track.ts';
import type { RtspUdpTransport } from './rtsp-udp-transport.ts';

/** RTCP receiver reports: RFC 3550 §6.2 minimum interval. */
export const RTCP_RR_INTERVAL_MS = 5000;
/** The first receiver report goes out this soon after RECORD (RFC 3550 §6.2 halves the first interval too). */
export const RTCP_FIRST_RR_DELAY_MS = 1000;

/**
 * The first Transport alternative castgate can record with (RFC 2326 §12.39: the client lists them by
 * preference): RTP/AVP unicast, mode record (or none), over TCP (interleaved) or UDP with client_port.
 */
export function chooseRecordTransport(offered: readonly RtspTransport[]): RtspTransport | undefined {
  return offered.find(
    (t) => t.unicast && t.profile.toUpperCase().startsWith('RTP/AVP') && (t.mode === undefined || t.mode === 'record') &&
      (t.lowerTransport === 'tcp' || t.clientPort !== undefined),
  );
}

/** What the session needs of a track's transport (RtspUdpTransport, RtspInterleavedTransport). */
export interface RtspMediaTransport {
  /** For logs: `udp:<server RTP port>` or `tcp:<RTP channel>-<RTCP channel>`. */
  readonly label: string;
  /** RECORD: the pusher's packets go to `track` from now on. */
  start(track: RtspTrack): void;
  /** One RTCP compound packet to the pusher. Never throws. */
  sendRtcp(bytes: Buffer): void;
  /** Give back what the transport holds (a port pair). Idempotent. */
  release(): void;
}

/** A SETUP'd track: its pipeline (undefined when the codec is not publishable) and its transport. */
export interface SetupTrack {
  readonly sdp: SdpTrack;
  readonly track: RtspTrack | undefined;
  readonly transport: RtspMediaTransport;
}

export class RtspTransports {
  readonly #setup = new Map<number, SetupTrack>();
  readonly #channels = new InterleavedChannels();
  readonly #counters: { packets: number; bytes: number };
  readonly #reporterSsrc = randomBytes(4).readUInt32BE(0);
  #recording = false;
  #recordStartMs = 0;
  #lastReportMs = 0;

  /** @param counters the caster's counters of packets and bytes received (interleaved; UDP transports count their own). */
  constructor(counters: { packets: number; bytes: number }) {
    this.#counters = counters;
  }

  /** The session's interleaved channel map (SETUP picks and checks channels in it). */
  get channels(): InterleavedChannels {
    return this.#channels;
  }

  /** SETUP'd tracks. */
  get size(): number {
    return this.#setup.size;
  }

  /** Whether the SDP track of this index is set up. */
  has(sdpIndex: number): boolean {
    return this.#setup.has(sdpIndex);
  }

  /** Set-up tracks in SETUP order. */
  values(): IterableIterator<SetupTrack> {
    return this.#setup.values();
  }

  /** Publishable tracks (a codec castgate knows) in SETUP order. */
  tracks(): RtspTrack[] {
    const out: RtspTrack[] = [];
    for (const s of this.#setup.values()) if (s.track !== undefined) out.push(s.track);
    return out;
  }

  /** A track over UDP (its port pair is already bound). */
  addUdp(sdp: SdpTrack, track: RtspTrack | undefined, transport: RtspUdpTransport): void {
    this.#setup.set(sdp.index, { sdp, track, transport });
  }

  /** A track on interleaved channels (free: see `channels.inUse`). */
  addInterleaved(sdp: SdpTrack, track: RtspTrack | undefined, transport: RtspInterleavedTransport): void {
    this.#setup.set(sdp.index, { sdp, track, transport });
    this.#channels.add(transport.channels, track);
  }

  /** RECORD: packets reach the tracks from now on; the receiver report schedule starts. */
  startRecording(nowMs: number): void {
    this.#recording = true;
    this.#recordStartMs = nowMs;
    this.#lastReportMs = nowMs - RTCP_RR_INTERVAL_MS + RTCP_FIRST_RR_DELAY_MS;
    for (const s of this.#setup.values()) if (s.track !== undefined) s.transport.start(s.track);
  }

  /** One `$` frame from the RTSP connection: to its track while recording; other channels are dropped. */
  onInterleaved(channel: number, payload: Buffer, nowMs: number): void {
    const route = this.#channels.route(channel);
    if (route === undefined || !this.#recording || route.track === undefined) return;
    this.#counters.packets++;
    this.#counters.bytes += payload.length;
    if (route.rtcp) route.track.onRtcp(payload, nowMs);
    else route.track.onRtp(payload, nowMs);
  }

  /** Give up reorder gaps older than the buffers' delay (TCP tracks never hold any). */
  flush(nowMs: number): void {
    for (const s of this.#setup.values()) s.track?.flush(nowMs);
  }

  /** Latest RTP/RTCP arrival on any track, or the RECORD time when none came since (ms). */
  get lastActivityMs(): number {
    let last = this.#recordStartMs;
    for (const s of this.#setup.values()) if (s.track !== undefined) last = Math.max(last, s.track.lastActivityMs);
    return last;
  }

  /** When one is due: a compound RR (+ SDES CNAME) for each track that has received packets, over its transport. */
  sendReceiverReportsIfDue(nowMs: number): void {
    if (nowMs - this.#lastReportMs < RTCP_RR_INTERVAL_MS) return;
    this.#lastReportMs = nowMs;
    for (const s of this.#setup.values()) {
      const block = s.track?.reportBlock(nowMs);
      if (block === undefined) continue;
      s.transport.sendRtcp(buildReceiverReport(this.#reporterSsrc, [block], 'castgate'));
    }
  }

  /** For logs: each track's transport (`udp:<port>`, `tcp:<channels>`), in SETUP order. */
  labels(): string[] {
    return [...this.#setup.values()].map((s) => s.transport.label);
  }

  /** Release every port pair and forget every track and channel (the session ended; it may set up again). */
  releaseAll(): void {
    this.#recording = false;
    for (const s of this.#setup.values()) s.transport.release();
    this.#setup.clear();
    this.#channels.clear();
  }
}
