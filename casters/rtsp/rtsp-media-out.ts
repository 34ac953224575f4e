/**
 * The media output of one RTSP connection: the TrackSink every track of its session writes to. While the session
 * records it publishes the tracks' messages with onMetaData in front — before the first message and again on each
 * new sequence header, as FLV players expect — built by core/remux/metadata.ts from the tracks' codec facts in
 * SETUP order. Decode errors of every track go to one rate-limited log line.
 */
import type { GatewayError } from '../../core/errors.ts';
import type { Publisher } from '../../core/hub/ports.ts';
import { PithyLog, type Logger } from '../../core/log.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { createOnMetaData } from '../../core/remux/metadata.ts';
import type { TrackCodec, TrackSink } from './track-codecs.ts';

export class RtspMediaOut implements TrackSink {
  readonly #decodeErrors: PithyLog;
  #publisher: Publisher | undefined;
  #tracks: readonly TrackCodec[] = [];
  #metadataSent = false;
  #lastTimestampMs = 0;

  constructor(log: Logger) {
    this.#decodeErrors = new PithyLog(log, 'RTP decode errors');
  }

  /**
   * RECORD: publish from now on (onMetaData first).
   * @param tracks the codecs of the set-up tracks in SETUP order, asked for their facts each time onMetaData is sent.
   */
  start(publisher: Publisher, tracks: readonly TrackCodec[]): void {
    this.#publisher = publisher;
    this.#tracks = tracks;
    this.#metadataSent = false;
    this.#lastTimestampMs = 0;
  }

  /** The session ended (the caller closes the publisher): later messages are dropped. */
  stop(): void {
    this.#publisher = undefined;
    this.#tracks = [];
  }

  onMessage(msg: RtmpMessage): void {
    const publisher = this.#publisher;
    if (publisher === undefined) return;
    if (msg.kind === 'video-config' || msg.kind === 'audio-config' || !this.#metadataSent) this.#sendMetadata(publisher, msg.timestamp);
    this.#lastTimestampMs = msg.timestamp;
    publisher.write(msg);
  }

  onDecodeError(err: GatewayError): void {
    this.#decodeErrors.hit(err);
  }

  /** onMetaData at the latest timestamp published so far, so the stream's time never goes back. */
  #sendMetadata(publisher: Publisher, timestampMs: number): void {
    this.#metadataSent = true;
    const msg = createOnMetaData(this.#tracks.map((t) => t.metadata()), Math.max(timestampMs, this.#lastTimestampMs));
    if (msg !== undefined) publisher.write(msg);
  }
}
