/**
 * Seeded pseudo-random numbers for the fuzzer: sfc32 (Chris Doty-Humphrey's Small Fast Counter, PractRand-clean,
 * 128-bit state) seeded through splitmix32. Every input gets its own generator from (run seed, target name, input
 * index), so input #i of a target is the same bytes whatever ran before it: a failure is reproduced from those
 * three values alone (FUZZ_SEED, FUZZ_TARGETS, FUZZ_ONLY).
 */

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a string: the target name's share of the seed. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Four 32-bit seed words; all zero is fine (the counter word keeps sfc32 moving). */
  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.#a = s0 | 0;
    this.#b = s1 | 0;
    this.#c = s2 | 0;
    this.#d = s3 | 0;
    for (let i = 0; i < 12; i++) this.u32(); // warm-up: mix the seed words
  }

  /** The generator of input `index` of `target` in the run seeded `seed` (seed and index: 0 ≤ x < 2^32). */
  static forInput(seed: number, target: string, index: number): Prng {
    const t = hashName(target);
    return new Prng(splitmix32(seed ^ 0x5eed), splitmix32(t), splitmix32(index ^ 0x1dea), splitmix32(seed + index + t));
  }

  /** Next uniform 32-bit unsigned value. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n) for 0 < n ≤ 2^32 (n ≤ 0 gives 0). */
  int(n: number): number {
    if (n <= 1) return 0;
    return Math.floor((this.u32() / 0x100000000) * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.int(n) === 0;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
