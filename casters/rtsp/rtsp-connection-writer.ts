/**
 * The output side of one RTSP connection (the input side is rtsp-input-queue.ts): responses (RFC 2326 §7: status
 * line, CSeq echoed, `Server`) and interleaved `$` frames (our RTCP) go out in order on the socket. A client that
 * does not read what we send — more than MAX_PENDING_WRITE_BYTES queued — is dropped rather than buffered without
 * bound. Failure responses (≥ 400) are counted and logged with their reason, which never goes on the wire.
 */
import type { Socket } from 'node:net';
import { isGatewayError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { serializeRtspResponse } from '../../core/protocol/rtsp/rtsp-response.ts';

/** Bytes of responses queued on a client that does not read them: past this the connection is dropped. */
export const MAX_PENDING_WRITE_BYTES = 1024 * 1024;

export class RtspConnectionWriter {
  readonly #socket: Socket;
  readonly #log: Logger;
  readonly #counters: { protocolErrors: number };
  readonly #onOverflow: () => void;

  /**
   * @param counters the caster's counters (failure responses are protocol errors).
   * @param onOverflow called instead of writing when the client has stopped reading (the session closes).
   */
  constructor(socket: Socket, log: Logger, counters: { protocolErrors: number }, onOverflow: () => void) {
    this.#socket = socket;
    this.#log = log;
    this.#counters = counters;
    this.#onOverflow = onOverflow;
  }

  /** Send a response; a failure (status ≥ 400) is logged with its reason, which is not put on the wire. */
  respond(status: number, cseq: string | undefined, headers: ReadonlyArray<[string, string]>, reason?: string): void {
    if (status >= 400) {
      this.#counters.protocolErrors++;
      this.#log.warn({ status, cseq }, `RTSP ${status}: ${reason ?? ''}`);
    }
    const all: Array<[string, string]> = [];
    if (cseq !== undefined) all.push(['CSeq', cseq]);
    all.push(['Server', 'castgate']);
    for (const h of headers) all.push(h);
    this.write(serializeRtspResponse(status, all));
  }

  /** A failure response whose logged reason is the error (`code: message` for a GatewayError). */
  reject(status: number, cseq: string, err: unknown): void {
    const text = isGatewayError(err) ? `${err.code}: ${err.message}` : String(err);
    this.respond(status, cseq, [], text);
  }

  /** Raw bytes (a response or a `$` frame); nothing once the socket is closing. */
  write(bytes: Buffer): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    if (socket.writableLength > MAX_PENDING_WRITE_BYTES) {
      this.#onOverflow();
      return;
    }
    socket.write(bytes);
  }
}
