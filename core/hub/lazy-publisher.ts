/**
 * A publisher taken at the first message (SRS SrsIngesterFFMPEG / SrsEncoder outputs, minus the RTMP loopback):
 * an ingest or a transcode output holds its stream key only while media flows, so a source that is down (ffmpeg
 * restarting, a file being retried) does not hold the key, and players wait across the gap (SRS semantics).
 */
import type { Logger } from '../log.ts';
import type { RtmpMessage } from '../media/message.ts';
import { streamKeyString } from '../media/stream-key.ts';
import type { Publisher, PublishTarget, SessionInfo } from './ports.ts';

/**
 * Publishes lazily: the stream is taken at the first message and given back by `close()`. A busy key is reported
 * once per attempt (until the next `close()`).
 */
export class LazyPublisher {
  readonly #target: PublishTarget;
  readonly #who: SessionInfo;
  readonly #log: Logger;
  readonly #onClosedByHub: ((reason: string) => void) | undefined;
  #publisher: Publisher | undefined;
  #refused = false;
  /** Messages handed on since construction. */
  messages = 0;

  /**
   * @param onClosedByHub the hub ended the publish (kicked through the HTTP API, gateway stopping): the owner
   *   restarts its source; without it, the next write publishes again.
   */
  constructor(target: PublishTarget, who: SessionInfo, log: Logger, onClosedByHub?: (reason: string) => void) {
    this.#target = target;
    this.#who = who;
    this.#log = log;
    this.#onClosedByHub = onClosedByHub;
  }

  get publishing(): boolean {
    return this.#publisher !== undefined;
  }

  /**
   * Hand on one message, publishing first if needed.
   * @returns false when the key is held by another publisher (the message is dropped).
   */
  write(msg: RtmpMessage): boolean {
    if (this.#publisher === undefined) {
      if (this.#refused) return false;
      try {
        const publisher = this.#target.hub.publish(this.#target.key, this.#who, {
          onClose: (reason) => {
            if (this.#publisher !== publisher) return;
            this.#publisher = undefined;
            this.#log.info({ reason }, `${this.#who.protocol} publish ended by the hub`);
            this.#onClosedByHub?.(reason);
          },
        });
        this.#publisher = publisher;
        this.#log.info(`${this.#who.protocol} publishing`);
      } catch (err) {
        this.#refused = true;
        this.#log.error({ err, stream: streamKeyString(this.#target.key) }, `${this.#who.protocol} cannot publish: ${(err as Error).message}`);
        return false;
      }
    }
    this.messages++;
    this.#publisher.write(msg);
    return true;
  }

  /** Unpublish (idempotent); the next write publishes again. */
  close(reason: string): void {
    this.#refused = false;
    const p = this.#publisher;
    this.#publisher = undefined;
    p?.close(reason);
  }
}
