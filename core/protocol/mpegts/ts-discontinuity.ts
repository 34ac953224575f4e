/**
 * discontinuity_indicator on copies of shared transport packets (ISO/IEC 13818-1 2.4.3.5): a receiver of a TS
 * whose packets were skipped (an HTTP-TS player whose queue dropped a GOP) must find the flag in the adaptation
 * field of the first packet of each PID after the gap, or it counts a continuity_counter error (2.4.3.3: ffmpeg
 * "Continuity check failed", TR 101 290 1.4) and may drop the PES; on the PCR_PID the flag also announces that the
 * next PCR does not follow the previous one.
 *
 * The packets are shared by every player of a stream, so they are never written: `markDiscontinuities` returns
 * views of the untouched packets and new buffers for the few it changes.
 * - A first packet with an adaptation field of at least one byte (a PES start carrying a PCR or the
 *   random_access_indicator: a video keyframe, audio-only frames) is copied and its flag set: 188 bytes.
 * - A first packet without one (PAT, PMT, audio of a program with video) needs two bytes more for the field
 *   (adaptation_field_length + flags). Its run (the consecutive packets of that PID up to the next unit start) is
 *   re-packetized: the same payload bytes in the same order, the field on the first packet, stuffing (2.4.3.5
 *   stuffing_byte) on the last, one packet more when the run had no stuffing to give. A PSI run first loses the
 *   0xFF bytes after its last section (2.4.4: they are stuffing too), so a one-packet table stays one packet.
 *   continuity_counter: the last new packet keeps the run's last value, so the packets after the run follow on;
 *   the first one is flagged, so its value may jump.
 * An adaptation-field-only packet before the run (counter not incremented) would be shorter to write, but
 * demuxers that skip payload-less packets before their continuity check (ours, core/protocol/mpegts/ts-demuxer.ts,
 * among others) would not see its flag.
 *
 * Pure: no I/O.
 */
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from './ts-packet.ts';

/** Transport packet header size (2.4.3.2). */
const TS_HEADER_SIZE = 4;
const TS_MAX_PAYLOAD = TS_PACKET_SIZE - TS_HEADER_SIZE;
/** discontinuity_indicator in the adaptation field's flags byte (Table 2-6). */
export const DISCONTINUITY_INDICATOR = 0x80;
/** adaptation_field_length + flags. */
const AF_FLAGS_SIZE = 2;

function pidAt(b: Uint8Array, o: number): number {
  return ((b[o + 1] & 0x1f) << 8) | b[o + 2];
}

/**
 * Flag the first packet of each PID of `pending` found in `packets` (whole 188-byte packets, never modified) and
 * remove those PIDs from `pending`; PIDs not found stay for the caller's next packets.
 * @param out receives, in order, views of `packets` and the changed copies, which together replace `packets`
 *   (appended only when something changed).
 * @returns true when `out` replaces `packets`; false when no pending PID occurs (write `packets` as is).
 */
export function markDiscontinuities(packets: Buffer, pending: number[], out: Buffer[]): boolean {
  let from = 0; // start of the untouched packets not yet appended
  let changed = false;
  const size = packets.length - (packets.length % TS_PACKET_SIZE);
  for (let o = 0; o < size && pending.length > 0;) {
    const k = packets[o] === TS_SYNC_BYTE ? pending.indexOf(pidAt(packets, o)) : -1;
    const afc = (packets[o + 3] >> 4) & 0x03;
    if (k < 0 || afc === 0) {
      o += TS_PACKET_SIZE;
      continue;
    }
    pending.splice(k, 1);
    if (o > from) out.push(packets.subarray(from, o));
    if ((afc & 0x02) !== 0 && packets[o + 4] > 0) {
      const copy = Buffer.from(packets.subarray(o, o + TS_PACKET_SIZE));
      copy[5] |= DISCONTINUITY_INDICATOR;
      out.push(copy);
      o += TS_PACKET_SIZE;
    } else {
      const pid = pidAt(packets, o);
      let end = o + TS_PACKET_SIZE;
      while (end < size && packets[end] === TS_SYNC_BYTE && pidAt(packets, end) === pid && (packets[end + 1] & 0x40) === 0) end += TS_PACKET_SIZE;
      out.push(repacketize(packets, o, end));
      o = end;
    }
    from = o;
    changed = true;
  }
  if (changed && from < packets.length) out.push(packets.subarray(from));
  return changed;
}

/** The payload bytes of packets[o, end) (one PID), again as packets with the flag on the first (see the header). */
function repacketize(packets: Buffer, o: number, end: number): Buffer {
  const pieces: Buffer[] = [];
  for (let p = o; p < end; p += TS_PACKET_SIZE) {
    const afc = (packets[p + 3] >> 4) & 0x03;
    if ((afc & 0x01) === 0) continue;
    const start = (afc & 0x02) !== 0 ? p + TS_HEADER_SIZE + 1 + packets[p + 4] : p + TS_HEADER_SIZE;
    if (start < p + TS_PACKET_SIZE) pieces.push(packets.subarray(start, p + TS_PACKET_SIZE));
  }
  let payload = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  const unitStart = (packets[o + 1] & 0x40) !== 0;
  if (unitStart && !(payload[0] === 0 && payload[1] === 0 && payload[2] === 1)) payload = withoutSectionStuffing(payload);
  const lastCc = packets[end - TS_PACKET_SIZE + 3] & 0x0f;
  const first = TS_MAX_PAYLOAD - AF_FLAGS_SIZE;
  const n = payload.length <= first ? 1 : 1 + Math.ceil((payload.length - first) / TS_MAX_PAYLOAD);
  const res = Buffer.allocUnsafe(n * TS_PACKET_SIZE);
  const pid = pidAt(packets, o);
  let left = payload.length;
  let src = 0;
  for (let k = 0; k < n; k++) {
    const w = k * TS_PACKET_SIZE;
    let afSize = k === 0 ? AF_FLAGS_SIZE : 0;
    const room = TS_MAX_PAYLOAD - afSize;
    const take = Math.min(room, left);
    afSize += room - take;
    res[w] = TS_SYNC_BYTE;
    // transport_error_indicator 0; payload_unit_start_indicator of the run's first packet; transport_priority kept
    res[w + 1] = (packets[o + 1] & (k === 0 ? 0x60 : 0x20)) | (pid >> 8);
    res[w + 2] = pid & 0xff;
    const afc = take === 0 ? 0x20 : afSize > 0 ? 0x30 : 0x10; // no payload at all: an adaptation field alone
    res[w + 3] = (packets[o + 3] & 0xc0) | afc | ((lastCc - (n - 1 - k)) & 0x0f);
    let q = w + TS_HEADER_SIZE;
    if (afSize > 0) {
      res[q] = afSize - 1;
      if (afSize > 1) {
        res[q + 1] = k === 0 ? DISCONTINUITY_INDICATOR : 0;
        res.fill(0xff, q + 2, q + afSize);
      }
      q += afSize;
    }
    payload.copy(res, q, src, src + take);
    src += take;
    left -= take;
  }
  return res;
}

/**
 * A PSI payload (pointer_field, sections) without the 0xFF stuffing after its last section; unchanged when its
 * last section goes on past it (a table split over packets) or the lengths do not add up.
 */
function withoutSectionStuffing(payload: Buffer): Buffer {
  let pos = 1 + payload[0];
  while (pos + 3 <= payload.length && payload[pos] !== 0xff) pos += 3 + (((payload[pos + 1] & 0x0f) << 8) | payload[pos + 2]);
  return pos < payload.length && payload[pos] === 0xff ? payload.subarray(0, pos) : payload;
}
