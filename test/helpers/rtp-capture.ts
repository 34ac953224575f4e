/**
 * RTP captures stored in fixtures (fixtures/rtp/*.bin, fixtures/aac/*.rtp...; made by fixtures/make-fixtures.sh
 * and fixtures/rtp/capture-rtp.mjs): RFC 4571 framing, each datagram as a 2-byte big-endian length followed by its
 * bytes, in arrival order.
 */
import { readFileSync } from 'node:fs';

/**
 * The datagrams of a capture, as views into `file` (no copies).
 * @throws Error when the last datagram is truncated (a broken fixture, not a test input).
 */
export function splitRtpCapture(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 2 <= file.length) {
    const len = file.readUInt16BE(off);
    if (off + 2 + len > file.length) throw new Error(`truncated datagram at ${off}`);
    out.push(file.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (off !== file.length) throw new Error(`trailing byte at ${off}`);
  return out;
}

/** {@link splitRtpCapture} of a file. */
export function readRtpCapture(path: string): Buffer[] {
  return splitRtpCapture(readFileSync(path));
}
