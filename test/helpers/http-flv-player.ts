/**
 * In-process HTTP-FLV players for load and fault tests: a normal player (reads as fast as data comes), and raw
 * socket players that read at a fixed rate or never. Each counts bytes and, for the normal player, demuxes the FLV
 * to follow timestamps and keyframes.
 */
import { get, type ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';

export interface HttpFlvPlayer {
  /** Body bytes received so far. */
  readonly bytes: () => number;
  /** Video tags received: timestamp, keyframe flag and arrival time (Date.now()), in order. */
  readonly video: Array<{ timestampMs: number; keyframe: boolean; atMs: number }>;
  /** HTTP status (0 until the head arrived). */
  readonly status: () => number;
  /** Date.now() when the body ended or the connection closed, undefined while playing. */
  readonly endedAt: () => number | undefined;
  /** Resolves at end or close. */
  readonly ended: Promise<void>;
  stop(): void;
}

/** GET http://127.0.0.1:port/path and read everything; `demux` false only counts bytes (cheaper for crowds). */
export function playHttpFlv(port: number, path: string, opts: { demux?: boolean } = {}): HttpFlvPlayer {
  const demux = opts.demux ?? true;
  let bytes = 0;
  let status = 0;
  let endedAt: number | undefined;
  const video: Array<{ timestampMs: number; keyframe: boolean; atMs: number }> = [];
  const demuxer = new FlvDemuxer({
    onMessage: (m) => {
      if (m.type === 9) video.push({ timestampMs: m.timestamp, keyframe: m.kind === 'keyframe', atMs: Date.now() });
    },
    onDecodeError: () => undefined,
  });
  let req: ClientRequest | undefined;
  const ended = new Promise<void>((resolve) => {
    const done = (): void => {
      endedAt ??= Date.now();
      resolve();
    };
    req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (demux) demuxer.push(d);
      });
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.on('error', done);
    req.on('close', () => (status === 0 ? done() : undefined));
  });
  return { bytes: () => bytes, video, status: () => status, endedAt: () => endedAt, ended, stop: () => req?.destroy() };
}

export interface RawPlayer {
  readonly socket: Socket;
  /** Bytes read by the application so far. */
  readonly bytes: () => number;
  readonly closedAt: () => number | undefined;
  stop(): void;
}

/**
 * A player on a raw socket that sends the GET and then reads `bytesPerSecond` (0 = never reads: a stalled player).
 * The kernel buffers what it does not read; the gateway sees a full socket.
 */
export function rawHttpPlayer(port: number, path: string, bytesPerSecond: number): RawPlayer {
  const socket = connect(port, '127.0.0.1');
  let bytes = 0;
  let closedAt: number | undefined;
  socket.on('error', () => undefined);
  socket.once('close', () => (closedAt ??= Date.now()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  // Paused mode: the socket buffers up to its highWaterMark (16 KiB) and then leaves the rest in the kernel.
  if (bytesPerSecond > 0) socket.on('readable', () => undefined);
  else socket.pause();
  let timer: NodeJS.Timeout | undefined;
  if (bytesPerSecond > 0) {
    const perTick = Math.max(1, Math.round(bytesPerSecond / 10));
    timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && socket.readableLength > 0) {
        const chunk = socket.read(Math.min(budget, socket.readableLength)) as Buffer | null;
        if (chunk === null) break;
        bytes += chunk.length;
        budget -= chunk.length;
      }
    }, 100);
    socket.once('close', () => clearInterval(timer));
  }
  return {
    socket,
    bytes: () => bytes,
    closedAt: () => closedAt,
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}
