/**
 * A UDP relay on loopback for datagram fault tests (issue 12 §1, §3): forwards every datagram it receives to a
 * target port from ONE socket (so the receiver sees a single sender), and lets the test drop datagrams, hold one
 * back to send it after the next (a swap), or slip its own datagrams in from the same socket.
 */
import { createSocket } from 'node:dgram';

/** Deterministic PRNG (LCG) in [0, 1): a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** What the relay does with one received datagram; 'hold' while one is already held forwards it instead. */
export type RelayAction = 'forward' | 'drop' | 'hold';

export interface UdpRelay {
  /** The relay's own port: point the sender here. */
  readonly port: number;
  /** Datagrams received from the sender. */
  readonly received: () => number;
  readonly dropped: () => number;
  /** Held datagrams sent after the one that followed them. */
  readonly reordered: () => number;
  /** Send a datagram of the test's own to the target from the relay's socket. */
  send(d: Buffer): void;
  close(): void;
}

/**
 * @param target UDP port on 127.0.0.1 to forward to.
 * @param policy called for every received datagram with its 1-based number.
 */
export async function startUdpRelay(target: number, policy: (msg: Buffer, n: number) => RelayAction): Promise<UdpRelay> {
  const socket = createSocket('udp4');
  let received = 0;
  let dropped = 0;
  let reordered = 0;
  let held: Buffer | undefined;
  let closed = false;
  const send = (d: Buffer): void => {
    if (!closed) socket.send(d, target, '127.0.0.1');
  };
  socket.on('message', (msg) => {
    const action = policy(msg, ++received);
    if (action === 'drop') {
      dropped++;
      return;
    }
    if (action === 'hold' && held === undefined) {
      held = msg;
      return;
    }
    send(msg);
    if (held !== undefined) {
      send(held);
      held = undefined;
      reordered++;
    }
  });
  await new Promise<void>((ok) => socket.bind(0, '127.0.0.1', ok));
  return {
    port: socket.address().port,
    received: () => received,
    dropped: () => dropped,
    reordered: () => reordered,
    send,
    close: () => {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
