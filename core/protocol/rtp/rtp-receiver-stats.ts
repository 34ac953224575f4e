/**
 * Reception statistics of one RTP source, for RTCP receiver reports (RFC 3550 A.1 sequence number validation,
 * A.3 packets lost and fraction lost, A.8 interarrival jitter, 6.4.1 LSR/DLSR).
 *
 * Feed packets in ARRIVAL order (before the reorder buffer): jitter is defined on arrival times. A.1 is used in its
 * probation-free form (MIN_SEQUENTIAL = 0: the first packet makes the source valid, as for a source announced
 * by SETUP). A new SSRC restarts the statistics: it is the sender restarting.
 */
import type { RtcpReportBlock, RtcpSenderReport } from './rtcp.ts';
import type { RtpPacket } from './rtp-packet.ts';
import { rtpTimestampDiff } from './rtp-clock.ts';

/** RFC 3550 A.1 constants. */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const RTP_SEQ_MOD = 0x10000;
/** cumulativeLost is a signed 24-bit field (RFC 3550 6.4.1). */
const MAX_CUMULATIVE_LOST = 0x7fffff;
const MIN_CUMULATIVE_LOST = -0x800000;

export class RtpReceiverStats {
  readonly #clockRate: number;
  #started = false;
  #ssrc = 0;
  // A.1 source state
  #maxSeq = 0;
  #cycles = 0;
  #baseSeq = 0;
  #badSeq = RTP_SEQ_MOD + 1;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  // A.8
  #transit = 0;
  #hasTransit = false;
  #jitter = 0;
  // 6.4.1 LSR/DLSR
  #lastSr = 0;
  #lastSrSsrc = -1;
  #lastSrArrivalMs = 0;

  /** @param clockRate RTP clock rate in Hz (timestamp units per second). */
  constructor(clockRate: number) {
    this.#clockRate = clockRate;
  }

  /** One packet as it arrives (arrival order). @param arrivalMs any ms clock, the same for every call. */
  onPacket(pkt: RtpPacket, arrivalMs: number): void {
    if (!this.#started || pkt.ssrc !== this.#ssrc) {
      this.#started = true;
      this.#ssrc = pkt.ssrc;
      this.#initSeq(pkt.sequenceNumber);
      this.#hasTransit = false;
      this.#jitter = 0;
    } else if (!this.#updateSeq(pkt.sequenceNumber)) {
      return; // A.1: a big jump, not counted until it is confirmed by its successor
    }
    this.#received++;
    this.#updateJitter(pkt.timestamp, arrivalMs);
  }

  /** Keeps LSR (middle 32 bits of the SR's NTP timestamp) and its arrival time, for DLSR. */
  onSenderReport(sr: RtcpSenderReport, arrivalMs: number): void {
    this.#lastSr = (((sr.ntpSeconds & 0xffff) << 16) | (sr.ntpFraction >>> 16)) >>> 0;
    this.#lastSrSsrc = sr.ssrc;
    this.#lastSrArrivalMs = arrivalMs;
  }

  /**
   * The report block for this source at `nowMs`; undefined before any packet. Resets the "since last report"
   * counters (A.3 expected_prior/received_prior), so fractionLost covers the interval since the previous call.
   */
  reportBlock(nowMs: number): RtcpReportBlock | undefined {
    if (!this.#started) return undefined;
    const extendedMax = this.#cycles + this.#maxSeq;
    const expected = extendedMax - this.#baseSeq + 1;
    const lost = expected - this.#received;
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    const lostInterval = expectedInterval - receivedInterval;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    const haveSr = this.#lastSrSsrc === this.#ssrc;
    const dlsr = haveSr ? Math.floor(((nowMs - this.#lastSrArrivalMs) * 65536) / 1000) : 0;
    return {
      ssrc: this.#ssrc,
      fractionLost: Math.min(fractionLost, 255),
      cumulativeLost: Math.max(MIN_CUMULATIVE_LOST, Math.min(MAX_CUMULATIVE_LOST, lost)),
      extendedHighestSeq: extendedMax % 2 ** 32,
      jitter: Math.floor(this.#jitter),
      lastSr: haveSr ? this.#lastSr : 0,
      delaySinceLastSr: haveSr ? Math.max(0, Math.min(dlsr, 0xffffffff)) : 0,
    };
  }

  /** A.1 init_seq. */
  #initSeq(seq: number): void {
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#badSeq = RTP_SEQ_MOD + 1;
    this.#cycles = 0;
    this.#received = 0;
    this.#expectedPrior = 0;
    this.#receivedPrior = 0;
  }

  /** A.1 update_seq without probation. @returns false when the packet is not counted. */
  #updateSeq(seq: number): boolean {
    const udelta = (seq - this.#maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD;
    if (udelta < MAX_DROPOUT) {
      // in order, with permissible gap
      if (seq < this.#maxSeq) this.#cycles += RTP_SEQ_MOD; // sequence number wrapped
      this.#maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // the sequence number made a very large jump
      if (seq === this.#badSeq) {
        // two sequential packets: assume the other side restarted without telling us
        this.#initSeq(seq);
        this.#hasTransit = false;
      } else {
        this.#badSeq = (seq + 1) & (RTP_SEQ_MOD - 1);
        return false;
      }
    }
    // else: duplicate or reordered packet, counted as received (A.1)
    return true;
  }

  /** A.8: J += (|D| - J) / 16, D from transit times in timestamp units. */
  #updateJitter(rtpTs: number, arrivalMs: number): void {
    const arrival = (arrivalMs * this.#clockRate) / 1000;
    // transit = arrival - rtpTs; kept modulo 2^32 so that the RTP timestamp wrap does not show up in D
    const transit = rtpTimestampDiff(arrival, rtpTs);
    if (this.#hasTransit) {
      const d = Math.abs(rtpTimestampDiff(transit, this.#transit));
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#transit = transit;
    this.#hasTransit = true;
  }
}
