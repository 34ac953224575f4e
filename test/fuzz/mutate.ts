/**
 * Input mutation for the fuzzer (AFL-style havoc over bytes): bit flips, interesting byte values, truncation at
 * either end, splicing with another seed, length-field edits (1–4 byte big- or little-endian integers overwritten
 * with boundary values or values near the bytes that follow), random bytes inserted or overwritten, blocks deleted
 * or duplicated, and now and then an input of pure random bytes. 1–6 mutations are stacked per input. All
 * randomness comes from the given Prng, so an input is a pure function of (seeds, generator).
 */
import type { Prng } from './prng.ts';

/** Byte values that sit on boundaries in the formats under test (0x47 TS sync, 0x24 '$', 0x0d/0x0a CR/LF...). */
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x07, 0x0a, 0x0d, 0x10, 0x1f, 0x20, 0x24, 0x3f, 0x40, 0x47, 0x7f, 0x80, 0x81, 0xc0, 0xfe, 0xff];

/** Boundary values for an n-byte unsigned field. */
function interestingValue(rng: Prng, bytes: number, remaining: number): number {
  const max = 2 ** (8 * bytes) - 1;
  switch (rng.int(10)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return max;
    case 3: return max - 1;
    case 4: return Math.floor(max / 2); // 0x7f..ff
    case 5: return Math.floor(max / 2) + 1; // 0x80..00
    case 6: return Math.min(max, remaining); // the length of what follows
    case 7: return Math.min(max, Math.max(0, remaining + rng.range(-4, 4)));
    case 8: return rng.int(Math.min(max, 256) + 1);
    default: return rng.int(max + 1);
  }
}

function writeUInt(buf: Buffer, offset: number, bytes: number, value: number, littleEndian: boolean): void {
  for (let i = 0; i < bytes; i++) {
    const byte = Math.floor(value / 2 ** (8 * i)) & 0xff;
    buf[littleEndian ? offset + i : offset + bytes - 1 - i] = byte;
  }
}

/** A random block [start, start + len) of `buf` (len ≥ 1 when buf is not empty). */
function block(rng: Prng, length: number, maxLen: number): [number, number] {
  const start = rng.int(length);
  const len = 1 + rng.int(Math.min(maxLen, length - start));
  return [start, len];
}

/** One mutation of `input` (a new Buffer; the input is never written). */
function mutateOnce(rng: Prng, input: Buffer, seeds: readonly Buffer[], maxSize: number): Buffer {
  const n = input.length;
  if (n === 0) return rng.bytes(rng.range(1, 16));
  switch (rng.int(11)) {
    case 0: { // bit flips
      const out = Buffer.from(input);
      const flips = rng.oneIn(4) ? rng.range(2, 16) : 1;
      for (let i = 0; i < flips; i++) {
        const bit = rng.int(n * 8);
        out[bit >> 3] = (out[bit >> 3] as number) ^ (0x80 >> (bit & 7));
      }
      return out;
    }
    case 1: { // interesting / random byte values
      const out = Buffer.from(input);
      const count = rng.oneIn(3) ? rng.range(2, 8) : 1;
      for (let i = 0; i < count; i++) out[rng.int(n)] = rng.oneIn(2) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
      return out;
    }
    case 2: // truncate the tail
      return input.subarray(0, rng.int(n));
    case 3: // drop a head
      return input.subarray(1 + rng.int(n - 1 > 0 ? n - 1 : 1));
    case 4: { // splice: our head + another seed's tail (or the reverse)
      const other = rng.pick(seeds);
      if (other.length === 0) return input;
      const cut = rng.int(n + 1);
      const from = rng.int(other.length);
      return rng.oneIn(2)
        ? Buffer.concat([input.subarray(0, cut), other.subarray(from)])
        : Buffer.concat([other.subarray(0, from), input.subarray(cut)]);
    }
    case 5:
    case 6: { // length-field edit: 1..4-byte integer at a random offset
      const bytes = rng.pick([1, 2, 2, 3, 4, 4]);
      if (n < bytes) return input;
      const out = Buffer.from(input);
      const at = rng.int(n - bytes + 1);
      writeUInt(out, at, bytes, interestingValue(rng, bytes, n - at - bytes), rng.oneIn(5));
      return out;
    }
    case 7: { // insert random bytes
      const at = rng.int(n + 1);
      const extra = rng.oneIn(8) ? rng.bytes(rng.range(1, 1024)) : rng.bytes(rng.range(1, 16));
      return Buffer.concat([input.subarray(0, at), extra, input.subarray(at)]);
    }
    case 8: { // overwrite a block with random bytes
      const out = Buffer.from(input);
      const [start, len] = block(rng, n, 64);
      rng.bytes(len).copy(out, start);
      return out;
    }
    case 9: { // delete a block
      const [start, len] = block(rng, n, rng.oneIn(4) ? n : 64);
      return Buffer.concat([input.subarray(0, start), input.subarray(start + len)]);
    }
    default: { // duplicate a block somewhere else
      const [start, len] = block(rng, n, rng.oneIn(4) ? 2048 : 64);
      const at = rng.int(n + 1);
      const out = Buffer.concat([input.subarray(0, at), input.subarray(start, start + len), input.subarray(at)]);
      return out.length > maxSize ? out.subarray(0, maxSize) : out;
    }
  }
}

/**
 * A mutated input from the seed corpus: one seed (or, 1 time in 64, random bytes) with 1–6 stacked mutations,
 * at most `maxSize` bytes.
 */
export function mutateInput(rng: Prng, seeds: readonly Buffer[], maxSize: number): Buffer {
  if (seeds.length === 0 || rng.oneIn(64)) return rng.bytes(rng.int(Math.min(maxSize, 4096) + 1));
  let input = rng.pick(seeds);
  const rounds = rng.oneIn(3) ? rng.range(2, 6) : 1;
  for (let i = 0; i < rounds; i++) input = mutateOnce(rng, input, seeds, maxSize);
  return input.length > maxSize ? input.subarray(0, maxSize) : input;
}

/**
 * Split `input` into 1..8 chunks at random points (the chunking a socket could produce), with a 1-in-4 chance of
 * a run of 1-byte chunks at the start; the chunks are views of `input`.
 */
export function randomChunks(rng: Prng, input: Buffer): Buffer[] {
  const n = input.length;
  if (n === 0) return [input];
  const cuts = new Set<number>();
  const count = rng.int(8);
  for (let i = 0; i < count; i++) cuts.add(1 + rng.int(n));
  if (rng.oneIn(4)) for (let i = 1; i < Math.min(n, rng.range(2, 24)); i++) cuts.add(i);
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    if (c > prev && c <= n) {
      out.push(input.subarray(prev, c));
      prev = c;
    }
  }
  if (prev < n) out.push(input.subarray(prev));
  return out;
}

/**
 * Records of a length-prefixed sequence (RFC 4571 framing: uint16 BE length, then the bytes), read leniently: a
 * record cut short by the end of the input is kept as what is there. The fuzzer's multi-packet inputs (RTP
 * streams) are stored and mutated in this form, so length edits also reshape the packet boundaries.
 */
export function splitRecords(input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 2 <= input.length) {
    const len = input.readUInt16BE(off);
    out.push(input.subarray(off + 2, Math.min(input.length, off + 2 + len)));
    off += 2 + len;
  }
  return out;
}

/** Inverse of {@link splitRecords}. */
export function joinRecords(records: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const head = Buffer.allocUnsafe(2);
    head.writeUInt16BE(r.length, 0);
    parts.push(head, Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  }
  return Buffer.concat(parts);
}
