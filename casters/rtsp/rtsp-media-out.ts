/**
 * What an RTSP session does with its set-up tracks once it records: choose the transport a pusher offered,
 * publish the tracks' messages with onMetaData in front (before the first message and on each new sequence
 * header, as FLV players expect), and build the RTCP receiver reports (RFC 3550 §6.4.2) of every track.
 */
import type { Publisher } from '../../core/hub/ports.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';
import { encodeAmf0, Amf0EcmaArray, type Amf0Value } from '../../core/protocol/amf0.ts';
import { buildReceiverReport } from '../../core/protocol/rtp/rtcp.ts';
import type { RtspTransport } from '../../core/protocol/rtsp/transport-header.ts';
import type { SdpTrack } from '../../core/protocol/rtsp/sdp-tracks.ts';
import type { RtpPortPair } from './rtp-port-pool.ts';
import type { RtspTrack } from './rtsp-track.ts';

/** A SETUP'd track: its pipeline (undefined when the codec is not publishable) and transport. */
export interface SetupTrack {
  readonly sdp: SdpTrack;
  readonly track: RtspTrack | undefined;
  readonly transport: RtspTransport;
  /** UDP: the bound server port pair. */
  readonly pair?: RtpPortPair;
  /** TCP: interleaved channels (RTP, RTCP). */
  readonly channels?: readonly [number, number];
}

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

/** Publishes a recording session's messages, onMetaData first. */
export class RtspMediaOut {
  readonly #publisher: Publisher;
  readonly #tracks: () => Iterable<SetupTrack>;
  #metadataSent = false;
  #lastTimestampMs = 0;

  /** @param tracks the session's set-up tracks, asked for codec facts each time metadata is (re)sent. */
  constructor(publisher: Publisher, tracks: () => Iterable<SetupTrack>) {
    this.#publisher = publisher;
    this.#tracks = tracks;
  }

  write(msgs: readonly RtmpMessage[]): void {
    for (const msg of msgs) {
      if (msg.kind === 'video-config' || msg.kind === 'audio-config' || !this.#metadataSent) this.#sendMetadata(msg.timestamp);
      this.#lastTimestampMs = msg.timestamp;
      this.#publisher.write(msg);
    }
  }

  /** onMetaData from every track's codec facts. */
  #sendMetadata(timestampMs: number): void {
    this.#metadataSent = true;
    const meta: Record<string, Amf0Value> = {};
    for (const s of this.#tracks()) s.track?.codec.describe(meta);
    meta.encoder = 'castgate';
    const msg = createMessage(MessageType.Data, Math.max(timestampMs, this.#lastTimestampMs), encodeAmf0(['onMetaData', new Amf0EcmaArray(meta)]));
    if (msg !== undefined) this.#publisher.write(msg);
  }
}

/** One compound RR (+ SDES CNAME) per track that has received packets, with where it goes. */
export function receiverReports(tracks: Iterable<SetupTrack>, reporterSsrc: number, nowMs: number): Array<{ setup: SetupTrack; rr: Buffer }> {
  const out: Array<{ setup: SetupTrack; rr: Buffer }> = [];
  for (const setup of tracks) {
    const block = setup.track?.reportBlock(nowMs);
    if (block === undefined) continue;
    out.push({ setup, rr: buildReceiverReport(reporterSsrc, [block], 'castgate') });
  }
  return out;
}
