/**
 * The reading half of a live stream played over WebSocket (RFC 6455; WebSocket-FLV as node-media-server and SRS
 * serve it): the player's frames are read with the protocol's frame reader and answered — Ping → Pong (5.5.2),
 * Close → the stream stops and echoes the status (5.5.1), a protocol error → the stream stops with the error's
 * status (7.1.7) — while the writing half stays the live stream's merged writer (one binary message per FLV header
 * or tag). Data messages from the player are read and ignored (bounded by WEBSOCKET_DEFAULT_MAX_MESSAGE_BYTES).
 *
 * After the stream stopped, the connection gets WEBSOCKET_CLOSE_TIMEOUT_MS for the player's Close and FIN, then
 * it is destroyed (RFC 6455 7.1.1: the server closes the TCP connection).
 */
import type { Duplex } from 'node:stream';
import { WebSocketFrameReader, type WebSocketFrameSink, type WebSocketProtocolError } from '../protocol/websocket/frame-reader.ts';
import { serverFrame, WebSocketCloseStatus, WebSocketOpcode } from '../protocol/websocket/frame.ts';
import type { MergedSocketWriter } from './merged-write.ts';

/** How long a stopped WebSocket stream waits for the player to close its side before destroying the socket. */
export const WEBSOCKET_CLOSE_TIMEOUT_MS = 5000;

/** What the input tells the stream that owns it. */
export interface LiveWebSocketOwner {
  /** Stop the stream with this reason and Close status (the player closed, or broke the protocol). */
  stop(reason: string, closeStatus: number): void;
}

export class LiveWebSocketInput implements WebSocketFrameSink {
  readonly #socket: Duplex;
  readonly #writer: MergedSocketWriter;
  readonly #owner: LiveWebSocketOwner;
  readonly #reader: WebSocketFrameReader;
  readonly #onData = (chunk: Buffer): void => this.#reader.push(chunk);
  readonly #onEnd = (): void => this.#owner.stop('client closed (no Close frame)', WebSocketCloseStatus.NormalClosure);
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, writer: MergedSocketWriter, owner: LiveWebSocketOwner) {
    this.#socket = socket;
    this.#writer = writer;
    this.#owner = owner;
    this.#reader = new WebSocketFrameReader(this, { role: 'server' });
  }

  /** Start reading: `head` (bytes that came with the upgrade request), then the socket's data. */
  start(head: Buffer | undefined): void {
    this.#socket.on('data', this.#onData);
    this.#socket.on('end', this.#onEnd);
    if (head !== undefined && head.length > 0) this.#reader.push(head);
  }

  /** The stream stopped (its Close frame is written): stop reading; destroy the socket if the player lingers. */
  close(): void {
    const socket = this.#socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    if (socket.destroyed || this.#closeTimer !== undefined) return;
    socket.resume(); // read (and drop) the player's Close and FIN
    this.#closeTimer = setTimeout(() => socket.destroy(), WEBSOCKET_CLOSE_TIMEOUT_MS);
    this.#closeTimer.unref();
    socket.once('close', () => clearTimeout(this.#closeTimer));
  }

  onMessage(): void {
    // players have nothing to say: data messages are read (bounded) and ignored
  }

  onPing(payload: Buffer): void {
    this.#writer.writeFramed(serverFrame(WebSocketOpcode.Pong, payload));
  }

  onClose(status: number): void {
    const echo = status === WebSocketCloseStatus.NoStatusReceived ? WebSocketCloseStatus.NormalClosure : status;
    this.#owner.stop(`client closed (WebSocket Close ${status})`, echo);
  }

  onProtocolError(error: WebSocketProtocolError): void {
    this.#owner.stop(`WebSocket protocol error: ${error.reason}`, error.status);
  }
}
