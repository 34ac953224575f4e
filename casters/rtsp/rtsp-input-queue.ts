/**
 * The input side of one RTSP connection: socket chunks → RtspRequestReader → requests and interleaved frames,
 * handled strictly in order. A request whose handler is asynchronous (SETUP over UDP binds a port pair) holds
 * back everything behind it — pipelined requests and `$` frames — and pauses the socket meanwhile, so responses
 * keep the order of requests and nothing piles up unbounded.
 */
import type { Socket } from 'node:net';
import { RtspRequestReader, type RtspInput, type RtspRequest } from '../../core/protocol/rtsp/rtsp-message.ts';

export interface RtspInputHandlers {
  /** @returns a promise when the request completes asynchronously; inputs behind it wait for it. */
  onRequest(req: RtspRequest): Promise<void> | undefined;
  onInterleaved(channel: number, payload: Buffer): void;
  /** The reader threw (RtspRequestError for malformed input): the connection must answer and close. */
  onFatal(err: unknown): void;
  /** True once the connection is closing: queued inputs are dropped. */
  isClosed(): boolean;
}

export class RtspInputQueue {
  readonly #socket: Socket;
  readonly #handlers: RtspInputHandlers;
  readonly #reader = new RtspRequestReader();
  readonly #inputs: RtspInput[] = [];
  #pumping = false;

  constructor(socket: Socket, handlers: RtspInputHandlers) {
    this.#socket = socket;
    this.#handlers = handlers;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  #onData(chunk: Buffer): void {
    if (this.#handlers.isClosed()) return;
    let inputs: RtspInput[];
    try {
      inputs = this.#reader.push(chunk);
    } catch (err) {
      this.#handlers.onFatal(err);
      return;
    }
    if (!this.#pumping && this.#inputs.length === 0) {
      // Fast path (interleaved media): handle in place while nothing asynchronous is pending.
      let i = 0;
      for (; i < inputs.length && !this.#handlers.isClosed(); i++) {
        const input = inputs[i] as RtspInput;
        if (input.kind === 'interleaved') {
          this.#handlers.onInterleaved(input.channel, input.payload);
          continue;
        }
        const pending = this.#handlers.onRequest(input.request);
        if (pending !== undefined) {
          for (let k = i + 1; k < inputs.length; k++) this.#inputs.push(inputs[k] as RtspInput);
          void this.#pump(pending);
          return;
        }
      }
      return;
    }
    for (const input of inputs) this.#inputs.push(input);
  }

  /** Wait for `pending`, then handle the queued inputs in order (waiting again at each asynchronous request). */
  async #pump(pending: Promise<void>): Promise<void> {
    this.#pumping = true;
    const socket = this.#socket;
    socket.pause();
    try {
      await pending;
      while (this.#inputs.length > 0 && !this.#handlers.isClosed()) {
        const input = this.#inputs.shift() as RtspInput;
        if (input.kind === 'interleaved') {
          this.#handlers.onInterleaved(input.channel, input.payload);
          continue;
        }
        const next = this.#handlers.onRequest(input.request);
        if (next !== undefined) await next;
      }
    } finally {
      this.#pumping = false;
      if (!this.#handlers.isClosed() && !socket.destroyed) socket.resume();
    }
  }
}
