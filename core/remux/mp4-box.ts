/**
 * ISO base media file format box writer (ISO/IEC 14496-12 4.2 "Object structure"): big-endian fields appended to
 * one growing buffer; `box(type, body)` writes a box and patches its 32-bit size when the body is done, `fullBox`
 * adds version and flags (4.2.2 FullBox). Pure; used by rtmp-to-cmaf.ts for init segments and fragments.
 */

const INITIAL_CAPACITY = 4096;

export class Mp4BoxWriter {
  #buf: Buffer;
  #length = 0;

  constructor(capacity = INITIAL_CAPACITY) {
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** The written bytes (a view; copy to keep beyond further writes). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }

  #reserve(n: number): number {
    const at = this.#length;
    if (at + n > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, at + n));
      this.#buf.copy(grown, 0, 0, at);
      this.#buf = grown;
    }
    this.#length = at + n;
    return at;
  }

  // Each writer reserves first, then reads #buf: reserving may replace the buffer.
  u8(v: number): this {
    const at = this.#reserve(1);
    this.#buf[at] = v;
    return this;
  }

  u16(v: number): this {
    const at = this.#reserve(2);
    this.#buf.writeUInt16BE(v, at);
    return this;
  }

  u24(v: number): this {
    const at = this.#reserve(3);
    this.#buf.writeUIntBE(v, at, 3);
    return this;
  }

  u32(v: number): this {
    const at = this.#reserve(4);
    this.#buf.writeUInt32BE(v >>> 0, at);
    return this;
  }

  i32(v: number): this {
    const at = this.#reserve(4);
    this.#buf.writeInt32BE(v, at);
    return this;
  }

  /** 64-bit unsigned from a safe integer (decode times in 90 kHz ticks pass 2^32 after 13 hours). */
  u64(v: number): this {
    const at = this.#reserve(8);
    this.#buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), at);
    this.#buf.writeUInt32BE(v >>> 0, at + 4);
    return this;
  }

  /** Four ASCII characters (a box type, a brand, a handler type). */
  fourCc(s: string): this {
    const at = this.#reserve(4);
    this.#buf.write(s, at, 4, 'latin1');
    return this;
  }

  bytesOf(data: Uint8Array): this {
    const at = this.#reserve(data.length);
    this.#buf.set(data, at);
    return this;
  }

  zeros(n: number): this {
    const at = this.#reserve(n);
    this.#buf.fill(0, at, this.#length);
    return this;
  }

  /** Overwrite a 32-bit value written earlier (a size, a data offset). */
  patchU32(at: number, v: number): void {
    this.#buf.writeUInt32BE(v >>> 0, at);
  }

  /** A box: size (patched), type, then what `body` writes. */
  box(type: string, body?: (w: this) => void): this {
    const at = this.#length;
    this.u32(0).fourCc(type);
    body?.(this);
    this.patchU32(at, this.#length - at);
    return this;
  }

  /** A FullBox: a box whose body starts with version (8 bits) and flags (24 bits). */
  fullBox(type: string, version: number, flags: number, body?: (w: this) => void): this {
    return this.box(type, (w) => {
      w.u8(version).u24(flags);
      body?.(w);
    });
  }
}
