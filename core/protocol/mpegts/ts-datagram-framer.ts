/**
 * MPEG-TS framed per datagram (DESIGN.md amendment "Datagram protocols are framed per datagram"): on UDP each
 * datagram is its own unit. Transport packets (ISO/IEC 13818-1, 2.4.3.2) are taken from a datagram at a
 * 188-byte stride, or at a 204-byte stride when the sender appends 16 Reed-Solomon bytes to each packet
 * (ETSI TR 101 290 / DVB-ASI 204-byte packets; only the first 188 bytes are MPEG-TS), detected per datagram.
 * Bytes that do not make a whole packet starting with sync_byte 0x47 are dropped and counted; they never shift the
 * framing of the next datagram.
 *
 * One exception keeps the most common sender working: `ffmpeg -f mpegts udp://host:port` without `pkt_size`
 * writes its byte stream in 1472-byte datagrams (1472 = 7 × 188 + 156), so a packet is split over two datagrams.
 * A datagram's trailing part that starts with 0x47 is remembered as a *tail* (a view) for the next MAX_TAIL_AGE
 * datagrams; it is joined to a later datagram only when that datagram proves it is the continuation: it does not
 * itself start with a confirmed packet, and it ends exactly where the tail's packet would end, or a whole packet
 * starts there (0x47) that ends the datagram or is confirmed by the next 0x47. The oldest matching tail wins (junk
 * slipped in between the two halves is newer), and a join drops every other tail (in a byte stream a tail's
 * continuation is the sender's next datagram: anything between was junk). A tail is never prepended blindly, so a
 * ragged datagram cannot misalign an aligned sender's next datagram. A packet split over three or more datagrams
 * is dropped.
 *
 * Pure: no sockets, no timers. Packets leave through `TsPacketSink.onPacket` synchronously, in datagram order.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from './ts-packet.ts';

/** A transport packet followed by 16 Reed-Solomon parity bytes (DVB 204-byte packets). */
export const TS_RS_PACKET_SIZE = 204;
/**
 * How many datagrams after its own a tail can be joined to. It must survive the junk a sender slips in between
 * the two halves of a packet: 4 allows three junk datagrams in a row, far denser than the 25 per second issue 12
 * asks for next to a stream of 30+ datagrams per second.
 */
export const MAX_TAIL_AGE = 4;

/** Where framed packets go: `buf[offset, offset + 188)` starts with 0x47. */
export interface TsPacketSink {
  /**
   * One transport packet.
   * @param transient true when `buf` is the framer's scratch buffer (overwritten by the next joined packet): copy
   *   what must be kept. Otherwise `buf` is the pushed datagram, which the sink may keep views of.
   */
  onPacket(buf: Uint8Array, offset: number, transient: boolean): void;
  /** Non-fatal framing problems (junk datagram, skipped bytes). */
  onDecodeError(err: GatewayError): void;
}

export interface TsDatagramStats {
  /** Datagrams pushed. */
  datagrams: number;
  /** Datagrams that gave no packet at all (junk). */
  datagramsDropped: number;
  /** Datagrams with bytes that were not part of a whole packet (ragged, junk before/inside/after packets). */
  datagramsRagged: number;
  /** Datagrams framed at the 204-byte stride (Reed-Solomon bytes). */
  datagramsRs: number;
  /** Bytes dropped: junk, ragged remainders, tails that found no continuation. */
  bytesDropped: number;
  /** Packets joined from a tail and the next datagram of a byte-stream sender. */
  packetsJoined: number;
}

/** Frames the datagrams of one sender. */
export class TsDatagramFramer {
  readonly #sink: TsPacketSink;
  readonly #scratch = new Uint8Array(TS_PACKET_SIZE);
  /** Tails (views of earlier datagrams, each < 188 bytes and starting with 0x47), oldest first, and the number of
   * the datagram each came from. */
  readonly #tails: Uint8Array[] = [];
  readonly #tailDatagrams: number[] = [];
  readonly #stats: TsDatagramStats = { datagrams: 0, datagramsDropped: 0, datagramsRagged: 0, datagramsRs: 0, bytesDropped: 0, packetsJoined: 0 };

  constructor(sink: TsPacketSink) {
    this.#sink = sink;
  }

  /** Counters since construction. A snapshot. */
  get stats(): TsDatagramStats {
    return { ...this.#stats };
  }

  /**
   * Frame one datagram. `datagram` is never mutated; views of it are handed to the sink and a tail of it may be
   * kept until a later push: do not overwrite its memory afterwards (a dgram 'message' Buffer is fresh each time).
   */
  push(datagram: Uint8Array): void {
    const stats = this.#stats;
    stats.datagrams++;
    if (this.#tails.length > 0) this.#expireTails();
    const length = datagram.length;
    let stride = alignedStride(datagram);
    let pos = 0;
    let packets = 0;
    let ragged = false;
    if (stride === 0) {
      stride = TS_PACKET_SIZE;
      const joinAt = this.#join(datagram);
      if (joinAt >= 0) {
        pos = joinAt;
        packets++;
      } else {
        pos = findSync(datagram, 0);
        if (pos < 0) {
          if (datagram[0] === TS_SYNC_BYTE && length < TS_PACKET_SIZE) {
            this.#keepTail(datagram); // the head of a packet whose rest may come next
            return;
          }
          stats.datagramsDropped++;
          stats.datagramsRagged++;
          stats.bytesDropped += length;
          this.#sink.onDecodeError(new GatewayError(ErrorCode.TsSync, `TS datagram of ${length} bytes holds no transport packet: dropped`));
          return;
        }
        if (pos > 0) {
          ragged = true;
          stats.bytesDropped += pos;
          this.#sink.onDecodeError(new GatewayError(ErrorCode.TsSync, `TS datagram: ${pos} bytes before the first transport packet dropped`));
        }
      }
    } else if (stride === TS_RS_PACKET_SIZE) {
      stats.datagramsRs++;
    }
    while (pos + TS_PACKET_SIZE <= length) {
      if (datagram[pos] !== TS_SYNC_BYTE) {
        const next = findSync(datagram, pos + 1, stride);
        const skipped = (next < 0 ? length : next) - pos;
        ragged = true;
        stats.bytesDropped += skipped;
        this.#sink.onDecodeError(new GatewayError(ErrorCode.TsSync, `TS datagram: sync byte lost at offset ${pos}, ${skipped} bytes dropped`));
        if (next < 0) {
          pos = length;
          break;
        }
        pos = next;
        continue;
      }
      this.#sink.onPacket(datagram, pos, false);
      packets++;
      pos += stride;
    }
    if (pos < length) {
      ragged = true;
      if (datagram[pos] === TS_SYNC_BYTE && stride === TS_PACKET_SIZE) this.#keepTail(datagram.subarray(pos));
      else stats.bytesDropped += length - pos;
    }
    if (ragged) stats.datagramsRagged++;
    if (packets === 0) stats.datagramsDropped++;
  }

  /** End of input: tails that found no continuation are dropped (counted). */
  flush(): void {
    for (const tail of this.#tails) this.#stats.bytesDropped += tail.length;
    this.#tails.length = 0;
    this.#tailDatagrams.length = 0;
  }

  /**
   * When `datagram` continues one of the kept tails, deliver the joined packet and return where the datagram's
   * own packets start; else -1. The OLDEST matching tail wins (junk slipped in after the real tail is newer); the
   * others are dropped.
   */
  #join(datagram: Uint8Array): number {
    const tails = this.#tails;
    const length = datagram.length;
    for (let i = 0; i < tails.length; i++) {
      const tail = tails[i]!;
      const rest = TS_PACKET_SIZE - tail.length;
      // Proof of continuation: the datagram ends where the packet does, or a whole packet follows it that ends the
      // datagram or is confirmed by the next sync byte.
      const next = rest + TS_PACKET_SIZE;
      const continues =
        rest === length || (datagram[rest] === TS_SYNC_BYTE && (next === length || (next < length && datagram[next] === TS_SYNC_BYTE)));
      if (!continues) continue;
      const scratch = this.#scratch;
      scratch.set(tail, 0);
      scratch.set(datagram.subarray(0, rest), tail.length);
      for (let j = 0; j < tails.length; j++) if (j !== i) this.#stats.bytesDropped += tails[j]!.length;
      tails.length = 0;
      this.#tailDatagrams.length = 0;
      this.#stats.packetsJoined++;
      this.#sink.onPacket(scratch, 0, true);
      return rest;
    }
    return -1;
  }

  #keepTail(tail: Uint8Array): void {
    this.#tails.push(tail);
    this.#tailDatagrams.push(this.#stats.datagrams);
  }

  /** Drop (and count) tails that came more than MAX_TAIL_AGE datagrams before the current one. */
  #expireTails(): void {
    const oldest = this.#stats.datagrams - MAX_TAIL_AGE;
    while (this.#tailDatagrams.length > 0 && this.#tailDatagrams[0]! < oldest) {
      this.#tailDatagrams.shift();
      this.#stats.bytesDropped += this.#tails.shift()!.length;
    }
  }
}

/**
 * The packet stride of a datagram that starts with a packet: 188, 204 (Reed-Solomon), or 0 when the datagram does
 * not start with a confirmed packet. Two sync bytes at the stride confirm it (a payload byte is 0x47 by chance
 * 1 time in 256, two in a row 1 in 65536). A datagram of one packet (188 or 204 bytes) or of one packet and a
 * ragged remainder (< 2 packets) needs only its first sync byte.
 */
export function alignedStride(d: Uint8Array): number {
  if (d[0] !== TS_SYNC_BYTE) return 0;
  const length = d.length;
  const ok188 = length >= 2 * TS_PACKET_SIZE
    ? d[TS_PACKET_SIZE] === TS_SYNC_BYTE && (length < 3 * TS_PACKET_SIZE || d[2 * TS_PACKET_SIZE] === TS_SYNC_BYTE)
    : length >= TS_PACKET_SIZE;
  const ok204 = length >= 2 * TS_RS_PACKET_SIZE
    ? d[TS_RS_PACKET_SIZE] === TS_SYNC_BYTE && (length < 3 * TS_RS_PACKET_SIZE || d[2 * TS_RS_PACKET_SIZE] === TS_SYNC_BYTE)
    : length === TS_RS_PACKET_SIZE;
  if (ok188 && ok204) return length % TS_RS_PACKET_SIZE === 0 && length % TS_PACKET_SIZE !== 0 ? TS_RS_PACKET_SIZE : TS_PACKET_SIZE;
  return ok188 ? TS_PACKET_SIZE : ok204 ? TS_RS_PACKET_SIZE : 0;
}

/**
 * The first index ≥ `from` where a packet starts: 0x47 confirmed by 0x47 one `stride` later, or the last packet of
 * the datagram (nothing after it but its own Reed-Solomon bytes). -1 when there is none.
 */
export function findSync(d: Uint8Array, from: number, stride: number = TS_PACKET_SIZE): number {
  const length = d.length;
  const last = length - TS_PACKET_SIZE;
  let i = from;
  while (i <= last) {
    i = d.indexOf(TS_SYNC_BYTE, i);
    if (i < 0 || i > last) return -1;
    if (i + stride < length ? d[i + stride] === TS_SYNC_BYTE : length - i <= stride) return i;
    i++;
  }
  return -1;
}
