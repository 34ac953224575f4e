/**
 * MSB-first bit reader over an RBSP (ITU-T H.264 7.2 read_bits / 9.1 Exp-Golomb ue(v), se(v)).
 *
 * Reads straight from the byte array (no word cache, no allocation per read). Every read is bounds-checked:
 * reading past the end throws a GatewayError with the code given at construction, so a parser's truncation
 * error carries its own code (e.g. GW_ERR_H264_SPS). Emulation prevention bytes must already be removed
 * (see removeEmulationPrevention in h264/nalu.ts).
 */
import { ErrorCode, GatewayError } from '../errors.ts';

/** ue(v) with more than 31 leading zeros does not fit a 32-bit codeNum (H.264 9.1: values up to 2^32 − 2). */
const MAX_EXP_GOLOMB_LEADING_ZEROS = 31;

export class BitReader {
  readonly #data: Uint8Array;
  readonly #bitLength: number;
  readonly #errorCode: ErrorCode;
  #pos = 0;

  /**
   * @param data the bytes to read (not copied, never written).
   * @param errorCode code of the GatewayError thrown when a read runs past the end or a code is invalid.
   */
  constructor(data: Uint8Array, errorCode: ErrorCode = ErrorCode.Truncated) {
    this.#data = data;
    this.#bitLength = data.length * 8;
    this.#errorCode = errorCode;
  }

  /** Bits read so far. */
  get position(): number {
    return this.#pos;
  }

  /** Bits left before the end of the data. */
  get bitsLeft(): number {
    return this.#bitLength - this.#pos;
  }

  /** One bit (u(1)). */
  readBit(): number {
    this.#need(1);
    const p = this.#pos++;
    return (this.#data[p >> 3] >> (7 - (p & 7))) & 1;
  }

  /** A boolean flag (u(1) = 1). */
  readFlag(): boolean {
    return this.readBit() === 1;
  }

  /** u(n), 0 ≤ n ≤ 32, MSB first; returns a non-negative number (no sign bit trouble at n = 32). */
  readBits(n: number): number {
    if (n < 0 || n > 32) throw new GatewayError(this.#errorCode, `bit reader: cannot read ${n} bits at once`);
    this.#need(n);
    let value = 0;
    let p = this.#pos;
    let left = n;
    while (left > 0) {
      const bitInByte = p & 7;
      const take = Math.min(8 - bitInByte, left);
      const bits = (this.#data[p >> 3] >> (8 - bitInByte - take)) & ((1 << take) - 1);
      value = value * (1 << take) + bits;
      p += take;
      left -= take;
    }
    this.#pos = p;
    return value;
  }

  /** Skip n bits (n ≥ 0). */
  skipBits(n: number): void {
    this.#need(n);
    this.#pos += n;
  }

  /** ue(v): unsigned Exp-Golomb (H.264 9.1). */
  readUe(): number {
    let leadingZeros = 0;
    while (this.readBit() === 0) {
      leadingZeros++;
      if (leadingZeros > MAX_EXP_GOLOMB_LEADING_ZEROS) {
        throw new GatewayError(this.#errorCode, 'bit reader: Exp-Golomb code longer than 32 bits');
      }
    }
    if (leadingZeros === 0) return 0;
    return 2 ** leadingZeros - 1 + this.readBits(leadingZeros);
  }

  /** se(v): signed Exp-Golomb (H.264 9.1.1): codeNum k → (−1)^(k+1) · Ceil(k ÷ 2). */
  readSe(): number {
    const k = this.readUe();
    if (k % 2 === 1) return (k + 1) / 2;
    return k === 0 ? 0 : -(k / 2);
  }

  #need(n: number): void {
    if (this.#pos + n > this.#bitLength) {
      throw new GatewayError(this.#errorCode, `bit reader: read of ${n} bits at bit ${this.#pos} past end (${this.#bitLength} bits)`);
    }
  }
}
