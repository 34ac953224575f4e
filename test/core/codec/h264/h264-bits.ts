/**
 * Test-only bit writing for H.264 vectors: an MSB-first BitWriter with ue(v)/se(v) (H.264 9.1), RBSP → NAL unit
 * (emulation prevention, 7.4.1), and `withoutBitstreamRestriction(sps)`, which rewrites a real SPS so that its VUI
 * ends before bitstream_restriction (no max_num_reorder_frames), as many cameras send it.
 */
import { BitReader } from '../../../../core/codec/bit-reader.ts';
import { removeEmulationPrevention } from '../../../../core/codec/h264/nalu.ts';
import { parseSps } from '../../../../core/codec/h264/sps.ts';

export class BitWriter {
  readonly #bits: number[] = [];
  bits(value: number, n: number): this {
    for (let i = n - 1; i >= 0; i--) this.#bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }
  flag(b: boolean): this { return this.bits(b ? 1 : 0, 1); }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.bits(0, len).bits(v + 1, len + 1);
  }
  se(v: number): this { return this.ue(v > 0 ? 2 * v - 1 : -2 * v); }
  /** rbsp_trailing_bits(): stop bit, then zeros to the byte boundary. */
  rbsp(): Uint8Array {
    const bits = [...this.#bits, 1];
    while (bits.length % 8 !== 0) bits.push(0);
    const out = new Uint8Array(bits.length / 8);
    bits.forEach((b, i) => { out[i >> 3]! |= b << (7 - (i & 7)); });
    return out;
  }
}

/** NAL header byte + RBSP with emulation_prevention_three_byte inserted (7.4.1). */
export function toNalu(header: number, rbsp: Uint8Array): Buffer {
  const out: number[] = [header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) { out.push(3); zeros = 0; }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

/**
 * The SPS with bitstream_restriction_flag cleared (and the fields after it removed). The flag is the last VUI
 * syntax element; it is located as the only bit position from which "1, 1 bit, 6 × ue(v) with
 * max_num_reorder_frames = expectedReorder, rbsp_trailing_bits" parses to the end.
 */
export function withoutBitstreamRestriction(sps: Uint8Array, expectedReorder: number): Buffer {
  const rbsp = removeEmulationPrevention(sps.subarray(1));
  const matches: number[] = [];
  for (let p = 0; p < rbsp.length * 8; p++) {
    try {
      const r = new BitReader(rbsp);
      r.skipBits(p);
      if (!r.readFlag()) continue;
      r.skipBits(1);
      for (let i = 0; i < 4; i++) r.readUe();
      if (r.readUe() !== expectedReorder) continue;
      r.readUe();
      if (r.readBit() !== 1) continue;
      let rest = 0;
      while (r.bitsLeft > 0) rest += r.readBit();
      if (rest === 0) matches.push(p);
    } catch { /* not here */ }
  }
  // Keep the candidate whose rewrite parses to the same SPS (the other fields of the VUI intact).
  const want = JSON.stringify({ ...parseSps(sps), maxNumReorderFrames: undefined });
  const good = matches.map((p) => rewrite(rbsp, p, sps[0]!)).filter((n) => {
    try { return JSON.stringify(parseSps(n)) === want; } catch { return false; }
  });
  if (good.length !== 1) throw new Error(`bitstream_restriction found at ${good.length} positions`);
  return good[0]!;
}

function rewrite(rbsp: Uint8Array, flagPosition: number, header: number): Buffer {
  const w = new BitWriter();
  const r = new BitReader(rbsp);
  for (let i = 0; i < flagPosition; i++) w.bits(r.readBit(), 1);
  w.flag(false);
  return toNalu(header, w.rbsp());
}
