/**
 * RTP and RTCP interleaved on the RTSP connection (RFC 2326 §10.12 "Embedded (Interleaved) Binary Data", Transport
 * `RTP/AVP/TCP;unicast;interleaved=n-m`, §12.39): `'$' channel length payload` frames carry a track's RTP on the
 * first channel of its pair and its RTCP on the second.
 *
 * - InterleavedChannels: the channel map of one session (channel → the track and whether it is its RTCP channel),
 *   which channels a SETUP gets (the client's `interleaved=` or the lowest free pair) and whether they are taken.
 * - RtspInterleavedTransport: one track's transport; its RTCP (our receiver reports) goes back as `$` frames.
 * TCP keeps packet order, so interleaved tracks get no reorder buffer (TCP_REORDER): a gap is a loss at once.
 */
import type { RtpReorderOptions } from '../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { serializeInterleavedFrame } from '../../core/protocol/rtsp/rtsp-response.ts';
import type { RtspTransport } from '../../core/protocol/rtsp/transport-header.ts';
import type { RtspTrack } from './rtsp-track.ts';

/** Interleaved TCP keeps packet order: no reorder buffer (a gap is a loss at once, reported by sequence number). */
export const TCP_REORDER: RtpReorderOptions = Object.freeze({ maxPackets: 0, maxDelayMs: 0 });

/** Channel numbers are one byte on the wire (RFC 2326 §10.12). */
const CHANNELS = 256;

/** Writes bytes on the RTSP connection (RtspConnectionWriter: drops a client that does not read). */
export interface InterleavedWriter {
  write(bytes: Buffer): void;
}

/** Where the frames of one channel go. */
export interface InterleavedRoute {
  /** Undefined when the track's codec cannot be published: its frames are dropped. */
  readonly track: RtspTrack | undefined;
  readonly rtcp: boolean;
}

/** The interleaved channels of one session. */
export class InterleavedChannels {
  readonly #routes: (InterleavedRoute | undefined)[] = new Array<InterleavedRoute | undefined>(CHANNELS).fill(undefined);

  /** The route of a frame's channel; undefined for a channel nobody set up. */
  route(channel: number): InterleavedRoute | undefined {
    return this.#routes[channel];
  }

  /** Whether either channel of the pair is taken. */
  inUse(channels: readonly [number, number]): boolean {
    return this.#routes[channels[0]] !== undefined || this.#routes[channels[1]] !== undefined;
  }

  /** The channels a SETUP asked for (`interleaved=`), else the lowest free even pair (what ffmpeg asks for anyway). */
  choose(requested: readonly [number, number] | undefined): readonly [number, number] {
    if (requested !== undefined) return requested;
    let ch = 0;
    while (this.#routes[ch] !== undefined || this.#routes[ch + 1] !== undefined) ch += 2;
    return [ch, ch + 1];
  }

  /** Route the pair to `track` (RTP on channels[0], RTCP on channels[1]). */
  add(channels: readonly [number, number], track: RtspTrack | undefined): void {
    this.#routes[channels[0]] = { track, rtcp: false };
    this.#routes[channels[1]] = { track, rtcp: true };
  }

  /** Forget every channel (the session ended). */
  clear(): void {
    this.#routes.fill(undefined);
  }
}

/** One track's RTP/RTCP on two interleaved channels. */
export class RtspInterleavedTransport {
  readonly channels: readonly [number, number];
  readonly #writer: InterleavedWriter;

  constructor(channels: readonly [number, number], writer: InterleavedWriter) {
    this.channels = channels;
    this.#writer = writer;
  }

  /** For logs: `tcp:<RTP channel>-<RTCP channel>`. */
  get label(): string {
    return `tcp:${this.channels.join('-')}`;
  }

  /** The Transport header of the SETUP reply (RFC 2326 §12.39). */
  get reply(): RtspTransport {
    return { profile: 'RTP/AVP/TCP', lowerTransport: 'tcp', unicast: true, interleaved: this.channels, mode: 'record' };
  }

  /** RECORD: nothing to do here; the session routes `$` frames by the channel map once it records. */
  start(_track: RtspTrack): void {}

  /** One RTCP compound packet to the pusher, as a `$` frame on the RTCP channel. */
  sendRtcp(bytes: Buffer): void {
    this.#writer.write(serializeInterleavedFrame(this.channels[1], bytes));
  }

  /** Nothing to give back: the channels go with the session's channel map. */
  release(): void {}
}
