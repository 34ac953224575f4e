/**
 * RTP reorder buffer: puts one track's packets back in sequence-number order (RFC 3550 5.1 sequence number,
 * A.1 MAX_DROPOUT / MAX_MISORDER), so depacketizers always see packets in order and learn about every gap.
 *
 * Rules, with d = the signed 16-bit distance from `next` (the sequence number to deliver next) to the packet:
 * - The first packet is delivered at once and starts the sequence; so is the first packet of a new SSRC (the
 *   buffer is flushed first; it is delivered with lostBefore = 1 as a discontinuity mark, not counted as lost).
 * - d = 0: delivered, followed by every buffered packet that is now consecutive.
 * - 0 < d ≤ maxPackets: buffered (a second copy of a buffered packet counts as a duplicate).
 * - maxPackets < d < MAX_DROPOUT (the window is full): the oldest gaps are given up (counted in `lost`, their
 *   buffered successors delivered) until the packet fits, then it is buffered or delivered.
 * - d ≥ MAX_DROPOUT (a big forward jump: the sender restarted its sequence or dropped a lot): everything
 *   buffered is delivered in order and the packet is delivered with lostBefore = the whole gap (counted lost).
 * - d < 0 (behind `next`): dropped, as a `duplicate` if its slot was delivered, else as `late` (its slot was
 *   given up, or it is older than the history). When it is more than MAX_MISORDER behind and the next packet is
 *   its successor (RFC 3550 A.1's two-packet `bad_seq` rule), the sender restarted its sequence backwards:
 *   the buffer is flushed and the stream resyncs on that second packet (lostBefore = 1: the first was dropped).
 * - Gaps older than maxDelayMs (since the first packet after the gap arrived) are given up by `flushExpired`
 *   and by every `push`.
 * Packets leave through the RtpReorderSink given to the constructor, synchronously inside `push`/`flushExpired`,
 * in sequence order: nothing is allocated per packet (the ring holds the packets themselves, arrival times sit in
 * a typed array).
 * Memory: a ring of the next power of two above maxPackets and a HISTORY_SIZE-byte history, whatever arrives.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { RtpPacket } from './rtp-packet.ts';

export interface RtpReorderOptions {
  /** Packets held while waiting for a gap to fill; 0 = no reordering: pass through (TCP). */
  readonly maxPackets: number;
  /** Longest wait for a missing packet, in ms, before its gap is given up. */
  readonly maxDelayMs: number;
}

/**
 * UDP default. 64 packets is gortsplib's rtpreorderer buffer size (~0.5 s of 1 Mbit/s video in 1400-byte packets,
 * far more reordering than a real network path produces); 100 ms bounds the latency a lost packet adds, which is
 * well above the reordering delay of a LAN/WAN path but below a player's buffer.
 */
export const DEFAULT_UDP_REORDER: RtpReorderOptions = Object.freeze({ maxPackets: 64, maxDelayMs: 100 });

/** Largest accepted `maxPackets`; keeps the window far inside MAX_DROPOUT and the history. */
export const MAX_REORDER_PACKETS = 1024;
/** RFC 3550 A.1: a forward jump of at least this many is a restart/dropout, not a gap to wait for. */
export const MAX_DROPOUT = 3000;
/** RFC 3550 A.1: packets further behind than this are candidates for a backward restart. */
export const MAX_MISORDER = 100;
/** Sequence numbers behind `next` whose fate (delivered / given up) is remembered, for duplicate vs late. */
const HISTORY_SIZE = 2048;

const UNKNOWN = 0;
const DELIVERED = 1;
const GIVEN_UP = 2;

/** Where a reorder buffer delivers its packets, in sequence order. */
export interface RtpReorderSink {
  /**
   * One packet, in order, called synchronously from `push`/`flushExpired`. Must not throw and must not call
   * back into the buffer.
   * @param lostBefore packets skipped just before this one (0 = contiguous); 1 also marks a new SSRC or a
   *   sequence restart (a discontinuity the depacketizer must treat as a loss).
   */
  onOrderedPacket(packet: RtpPacket, lostBefore: number): void;
}

export interface RtpReorderStats {
  /** Packets pushed. */
  received: number;
  /** Sequence numbers given up. */
  lost: number;
  /** Arrived out of order (after a higher sequence number) but delivered in order. */
  reordered: number;
  duplicates: number;
  /** Arrived after their slot was given up: dropped. */
  late: number;
}

/** Signed 16-bit distance a - b. */
function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}

export class RtpReorderBuffer {
  readonly #maxPackets: number;
  readonly #maxDelayMs: number;
  readonly #sink: RtpReorderSink;
  /** Ring indexed by `seq & #mask`; its size is a power of two > maxPackets, so it divides 2^16 (wrap-safe). */
  readonly #slots: (RtpPacket | undefined)[];
  /** Arrival time (ms) of the packet in the slot of the same index. */
  readonly #arrivals: Float64Array;
  readonly #mask: number;
  readonly #history = new Uint8Array(HISTORY_SIZE);
  readonly #stats: RtpReorderStats = { received: 0, lost: 0, reordered: 0, duplicates: 0, late: 0 };
  #started = false;
  #ssrc = 0;
  #next = 0;
  /** Highest sequence number seen (for `reordered`). */
  #highest = 0;
  #buffered = 0;
  /** Successor of the last far-behind packet (RFC 3550 A.1 bad_seq); -1 = none. */
  #badSeq = -1;
  /** Gap count carried to the next delivered packet. */
  #pendingLost = 0;
  /** Packets delivered by the current push/flushExpired call. */
  #delivered = 0;

  /**
   * @param sink receives every packet in sequence order.
   * @throws GatewayError(ConfInvalid) when maxPackets is not an integer in 0..MAX_REORDER_PACKETS or maxDelayMs < 0.
   */
  constructor(opts: RtpReorderOptions, sink: RtpReorderSink) {
    if (!Number.isInteger(opts.maxPackets) || opts.maxPackets < 0 || opts.maxPackets > MAX_REORDER_PACKETS) {
      throw new GatewayError(ErrorCode.ConfInvalid, `RTP reorder maxPackets ${opts.maxPackets}: 0..${MAX_REORDER_PACKETS}`);
    }
    if (!(opts.maxDelayMs >= 0)) throw new GatewayError(ErrorCode.ConfInvalid, `RTP reorder maxDelayMs ${opts.maxDelayMs} < 0`);
    this.#maxPackets = opts.maxPackets;
    this.#maxDelayMs = opts.maxDelayMs;
    this.#sink = sink;
    let size = 1;
    while (size < opts.maxPackets + 1) size *= 2;
    this.#mask = size - 1;
    this.#slots = new Array<RtpPacket | undefined>(size).fill(undefined);
    this.#arrivals = new Float64Array(size);
  }

  get stats(): Readonly<RtpReorderStats> {
    return this.#stats;
  }

  /** Packets currently held (≤ maxPackets). */
  get bufferedCount(): number {
    return this.#buffered;
  }

  /**
   * Accepts one packet in arrival order and delivers to the sink what can now be delivered, in sequence order.
   * @param nowMs arrival time (any monotonic ms clock, the same one given to `flushExpired`).
   * @returns how many packets this call delivered.
   */
  push(pkt: RtpPacket, nowMs: number): number {
    this.#stats.received++;
    this.#delivered = 0;
    const seq = pkt.sequenceNumber;
    if (!this.#started || pkt.ssrc !== this.#ssrc) {
      const discontinuity = this.#started;
      this.#flushAll();
      this.#resync(pkt, discontinuity ? 1 : 0);
      return this.#delivered;
    }
    const d = seqDiff(seq, this.#next);
    if (d < 0) {
      this.#onBehind(pkt, d);
      this.#expire(nowMs);
      return this.#delivered;
    }
    this.#badSeq = -1;
    if (d >= MAX_DROPOUT) {
      this.#flushAll();
      const gap = seqDiff(seq, this.#next);
      this.#stats.lost += gap;
      this.#resync(pkt, gap);
      return this.#delivered;
    }
    const reordered = seqDiff(seq, this.#highest) < 0;
    if (!reordered) this.#highest = seq;
    if (d > this.#maxPackets) {
      this.#giveUpUntil(seqDiff(seq, this.#maxPackets) & 0xffff);
      this.#drain();
    }
    if (seq === this.#next) {
      if (reordered) this.#stats.reordered++;
      this.#deliver(pkt);
      this.#drain();
    } else {
      const index = seq & this.#mask;
      if (this.#slots[index] !== undefined) {
        this.#stats.duplicates++;
      } else {
        if (reordered) this.#stats.reordered++;
        this.#slots[index] = pkt;
        this.#arrivals[index] = nowMs;
        this.#buffered++;
      }
    }
    this.#expire(nowMs);
    return this.#delivered;
  }

  /**
   * Gives up on gaps older than maxDelayMs and delivers the packets that this releases. Call it from a timer.
   * @returns how many packets this call delivered.
   */
  flushExpired(nowMs: number): number {
    this.#delivered = 0;
    this.#expire(nowMs);
    return this.#delivered;
  }

  #onBehind(pkt: RtpPacket, d: number): void {
    const seq = pkt.sequenceNumber;
    if (-d > MAX_MISORDER) {
      if (seq === this.#badSeq) {
        this.#badSeq = -1;
        this.#flushAll();
        this.#stats.lost += 1;
        this.#resync(pkt, 1);
        return;
      }
      this.#badSeq = (seq + 1) & 0xffff;
    }
    const fate = -d <= HISTORY_SIZE ? this.#history[seq % HISTORY_SIZE] : UNKNOWN;
    if (fate === DELIVERED) this.#stats.duplicates++;
    else this.#stats.late++;
  }

  #resync(pkt: RtpPacket, lostBefore: number): void {
    this.#started = true;
    this.#ssrc = pkt.ssrc;
    this.#history.fill(UNKNOWN);
    this.#next = pkt.sequenceNumber;
    this.#highest = pkt.sequenceNumber;
    this.#pendingLost = lostBefore;
    this.#deliver(pkt);
  }

  /** The packet at `next` leaves: state first, then the sink (which sees a consistent buffer). */
  #deliver(pkt: RtpPacket): void {
    const lostBefore = this.#pendingLost;
    this.#pendingLost = 0;
    this.#history[this.#next % HISTORY_SIZE] = DELIVERED;
    this.#next = (this.#next + 1) & 0xffff;
    this.#delivered++;
    this.#sink.onOrderedPacket(pkt, lostBefore);
  }

  /** Delivers buffered packets while they are consecutive from `next`. */
  #drain(): void {
    while (this.#buffered > 0) {
      const index = this.#next & this.#mask;
      const packet = this.#slots[index];
      if (packet === undefined) return;
      this.#slots[index] = undefined;
      this.#buffered--;
      this.#deliver(packet);
    }
  }

  /** Advances `next` to `target`, delivering buffered packets and giving up the gaps in between. */
  #giveUpUntil(target: number): void {
    while (this.#next !== target) {
      const index = this.#next & this.#mask;
      const packet = this.#slots[index];
      if (packet !== undefined) {
        this.#slots[index] = undefined;
        this.#buffered--;
        this.#deliver(packet);
      } else {
        this.#history[this.#next % HISTORY_SIZE] = GIVEN_UP;
        this.#pendingLost++;
        this.#stats.lost++;
        this.#next = (this.#next + 1) & 0xffff;
        if (this.#buffered === 0) {
          // nothing buffered: jump straight to target
          const rest = seqDiff(target, this.#next);
          for (let i = 0; i < rest && i < HISTORY_SIZE; i++) this.#history[(this.#next + i) % HISTORY_SIZE] = GIVEN_UP;
          this.#pendingLost += rest;
          this.#stats.lost += rest;
          this.#next = target;
        }
      }
    }
  }

  /** Delivers everything buffered, in order, counting the gaps between buffered packets as lost. */
  #flushAll(): void {
    if (this.#buffered === 0) return;
    let last = this.#next;
    for (let i = 0; i < this.#slots.length; i++) {
      const s = (this.#next + i) & 0xffff;
      if (this.#slots[s & this.#mask] !== undefined) last = s;
    }
    this.#giveUpUntil((last + 1) & 0xffff);
  }

  #expire(nowMs: number): void {
    while (this.#buffered > 0) {
      let oldestArrivalMs = Infinity;
      let first = -1;
      for (let i = 0; i < this.#slots.length; i++) {
        const seq = (this.#next + i) & 0xffff;
        const index = seq & this.#mask;
        if (this.#slots[index] === undefined) continue;
        if (first < 0) first = seq;
        const arrivalMs = this.#arrivals[index] as number;
        if (arrivalMs < oldestArrivalMs) oldestArrivalMs = arrivalMs;
      }
      if (nowMs - oldestArrivalMs < this.#maxDelayMs) return;
      this.#giveUpUntil(first);
      this.#drain();
    }
  }
}
