/**
 * RTP captures stored in fixtures/rtp/*.bin (made by fixtures/make-fixtures.sh): each datagram as a 2-byte
 * big-endian length followed by its bytes, in arrival order.
 */
import { readFileSync } from 'node:fs';

/** The datagrams of a capture file, as views into one buffer (no copies). A truncated tail is dropped. */
export function readRtpCapture(path: string): Buffer[] {
  const file = readFileSync(path);
  const out: Buffer[] = [];
  for (let o = 0; o + 2 <= file.length;) {
    const len = file.readUInt16BE(o);
    if (o + 2 + len > file.length) break;
    out.push(file.subarray(o + 2, o + 2 + len));
    o += 2 + len;
  }
  return out;
}
