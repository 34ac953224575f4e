/**
 * AMF0 encode/decode (Adobe "Action Message Format -- AMF 0", December 2007, section 2).
 *
 * Used by RTMP command messages (type 20), data messages (type 18: @setDataFrame / onMetaData) and FLV
 * SCRIPTDATA. Supported markers: number (2.2), boolean (2.3), string (2.4), object (2.5), null (2.7),
 * undefined (2.8), reference (2.9, decode only), ECMA array (2.10), object end (2.11), strict array (2.12),
 * date (2.13), long string (2.14), unsupported (2.15, decoded as undefined), XML document (2.17, decoded as a
 * string) and typed object (2.18, decoded as a plain object).
 *
 * JS mapping: number ⇄ number, boolean ⇄ boolean, string ⇄ string (long string above 65535 UTF-8 bytes),
 * null ⇄ null, undefined ⇄ undefined, Date ⇄ date (time zone written as 0, ignored on read),
 * Array ⇄ strict array, Amf0EcmaArray ⇄ ECMA array, any other object ⇄ anonymous object.
 */
import { ErrorCode, GatewayError } from '../errors.ts';

/** AMF0 type markers (AMF0 spec 2.1). */
export const Amf0Marker = {
  Number: 0x00,
  Boolean: 0x01,
  String: 0x02,
  Object: 0x03,
  MovieClip: 0x04,
  Null: 0x05,
  Undefined: 0x06,
  Reference: 0x07,
  EcmaArray: 0x08,
  ObjectEnd: 0x09,
  StrictArray: 0x0a,
  Date: 0x0b,
  LongString: 0x0c,
  Unsupported: 0x0d,
  RecordSet: 0x0e,
  XmlDocument: 0x0f,
  TypedObject: 0x10,
  AvmPlus: 0x11,
} as const;
export type Amf0Marker = (typeof Amf0Marker)[keyof typeof Amf0Marker];

/** Max nesting of objects/arrays; real RTMP commands nest 2–3 levels. Bounds recursion on hostile input. */
export const AMF0_MAX_DEPTH = 64;
/** Max bytes of one (long) string; onMetaData and commands stay far below. */
export const AMF0_MAX_STRING_BYTES = 1024 * 1024;
/** Max entries in the reference table (complex values decoded so far in one buffer). */
export const AMF0_MAX_REFERENCES = 4096;

/** An ECMA (associative) array: written with marker 0x08, unlike a plain object (0x03). */
export class Amf0EcmaArray {
  readonly entries: Record<string, Amf0Value>;
  constructor(entries: Record<string, Amf0Value>) {
    this.entries = entries;
  }
}

export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0Value[]
  | Amf0EcmaArray
  | { [key: string]: Amf0Value };

// ---------------------------------------------------------------------------------------------- encode

class Writer {
  buf: Buffer = Buffer.allocUnsafe(256);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  /** UTF-8 string with a 16-bit (or 32-bit when `long`) length prefix. */
  utf8(s: string, long: boolean): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n + 4);
    if (long) {
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    } else {
      if (n > 0xffff) throw new GatewayError(ErrorCode.TooLarge, `AMF0 object key of ${n} bytes > 65535`);
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
}

function writeProperties(w: Writer, obj: Record<string, Amf0Value>, depth: number): void {
  for (const key of Object.keys(obj)) {
    w.utf8(key, false);
    writeValue(w, obj[key], depth + 1);
  }
  w.u8(0);
  w.u8(0);
  w.u8(Amf0Marker.ObjectEnd);
}

function writeValue(w: Writer, v: Amf0Value, depth: number): void {
  if (depth > AMF0_MAX_DEPTH) throw new GatewayError(ErrorCode.TooLarge, `AMF0 value nested deeper than ${AMF0_MAX_DEPTH}`);
  if (v === null) return w.u8(Amf0Marker.Null);
  switch (typeof v) {
    case 'undefined':
      return w.u8(Amf0Marker.Undefined);
    case 'number':
      w.u8(Amf0Marker.Number);
      return w.f64(v);
    case 'boolean':
      w.u8(Amf0Marker.Boolean);
      return w.u8(v ? 1 : 0);
    case 'string': {
      const long = Buffer.byteLength(v, 'utf8') > 0xffff;
      w.u8(long ? Amf0Marker.LongString : Amf0Marker.String);
      return w.utf8(v, long);
    }
    default:
      break;
  }
  if (v instanceof Date) {
    w.u8(Amf0Marker.Date);
    w.f64(v.getTime());
    w.ensure(2);
    w.buf.writeInt16BE(0, w.pos); // time-zone: "reserved, should be 0x0000" (2.13)
    w.pos += 2;
    return;
  }
  if (Array.isArray(v)) {
    w.u8(Amf0Marker.StrictArray);
    w.ensure(4);
    w.buf.writeUInt32BE(v.length, w.pos);
    w.pos += 4;
    for (const item of v) writeValue(w, item, depth + 1);
    return;
  }
  if (v instanceof Amf0EcmaArray) {
    w.u8(Amf0Marker.EcmaArray);
    w.ensure(4);
    w.buf.writeUInt32BE(Object.keys(v.entries).length, w.pos);
    w.pos += 4;
    return writeProperties(w, v.entries, depth);
  }
  w.u8(Amf0Marker.Object);
  writeProperties(w, v, depth);
}

/**
 * Encode values one after another (an RTMP command is `name, transactionId, commandObject, ...args`).
 * @throws GatewayError GW_ERR_TOO_LARGE when an object key exceeds 65535 UTF-8 bytes or nesting exceeds AMF0_MAX_DEPTH.
 */
export function encodeAmf0(values: readonly Amf0Value[]): Buffer {
  const w = new Writer();
  for (const v of values) writeValue(w, v, 0);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

// ---------------------------------------------------------------------------------------------- decode

function fail(message: string): never {
  throw new GatewayError(ErrorCode.Amf0Decode, message);
}

class Reader {
  readonly buf: Buffer;
  pos: number;
  /** Complex values in decode order (2.9 reference table). */
  readonly refs: Amf0Value[] = [];
  /** Complex values fully read; a reference to one still being read would be a cycle. */
  readonly done: Set<Amf0Value> = new Set();
  constructor(buf: Buffer, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) fail(`AMF0 ${what} truncated at offset ${this.pos}`);
  }
  u8(): number {
    this.need(1, 'marker');
    return this.buf[this.pos++];
  }
  u16(): number {
    this.need(2, 'u16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4, 'u32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8, 'number');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  utf8(n: number): string {
    if (n > AMF0_MAX_STRING_BYTES) fail(`AMF0 string of ${n} bytes exceeds ${AMF0_MAX_STRING_BYTES}`);
    this.need(n, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  addRef(v: Amf0Value): void {
    if (this.refs.length >= AMF0_MAX_REFERENCES) fail(`AMF0 more than ${AMF0_MAX_REFERENCES} complex values`);
    this.refs.push(v);
  }
}

/** Own-property assignment that is safe for keys like `__proto__`. */
function setProp(obj: Record<string, Amf0Value>, key: string, value: Amf0Value): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Properties until the object-end marker (2.5 / 2.11). `allowEof`: ECMA arrays written without an end. */
function readProperties(r: Reader, obj: Record<string, Amf0Value>, depth: number, allowEof: boolean): void {
  for (;;) {
    if (allowEof && r.pos === r.buf.length) return;
    const key = r.utf8(r.u16());
    if (key === '') {
      r.need(1, 'object end');
      if (r.buf[r.pos] === Amf0Marker.ObjectEnd) {
        r.pos++;
        return;
      }
    }
    setProp(obj, key, readValue(r, depth + 1));
  }
}

function readValue(r: Reader, depth: number): Amf0Value {
  if (depth > AMF0_MAX_DEPTH) fail(`AMF0 nesting deeper than ${AMF0_MAX_DEPTH}`);
  const marker = r.u8();
  switch (marker) {
    case Amf0Marker.Number:
      return r.f64();
    case Amf0Marker.Boolean:
      return r.u8() !== 0;
    case Amf0Marker.String:
      return r.utf8(r.u16());
    case Amf0Marker.LongString:
    case Amf0Marker.XmlDocument:
      return r.utf8(r.u32());
    case Amf0Marker.Null:
      return null;
    case Amf0Marker.Undefined:
    case Amf0Marker.Unsupported:
      return undefined;
    case Amf0Marker.Date: {
      const ms = r.f64();
      r.u16(); // time-zone, ignored
      return new Date(ms);
    }
    case Amf0Marker.Object:
    case Amf0Marker.TypedObject: {
      if (marker === Amf0Marker.TypedObject) r.utf8(r.u16()); // class-name, dropped
      const obj: Record<string, Amf0Value> = {};
      r.addRef(obj);
      readProperties(r, obj, depth, false);
      r.done.add(obj);
      return obj;
    }
    case Amf0Marker.EcmaArray: {
      r.u32(); // associative-count: advisory only; encoders get it wrong, read to the end marker (SRS does)
      const entries: Record<string, Amf0Value> = {};
      const arr = new Amf0EcmaArray(entries);
      r.addRef(arr);
      readProperties(r, entries, depth, true);
      r.done.add(arr);
      return arr;
    }
    case Amf0Marker.StrictArray: {
      const count = r.u32();
      // Every element takes at least one byte: bound the count by what is left before allocating.
      if (count > r.buf.length - r.pos) fail(`AMF0 strict array count ${count} exceeds the remaining ${r.buf.length - r.pos} bytes`);
      const arr: Amf0Value[] = [];
      r.addRef(arr);
      for (let i = 0; i < count; i++) arr.push(readValue(r, depth + 1));
      r.done.add(arr);
      return arr;
    }
    case Amf0Marker.Reference: {
      const index = r.u16();
      if (index >= r.refs.length) fail(`AMF0 reference ${index} to an unknown object (${r.refs.length} known)`);
      const target = r.refs[index];
      if (!r.done.has(target)) fail(`AMF0 cyclic reference ${index}`);
      return target;
    }
    default:
      return fail(`AMF0 unsupported marker 0x${marker.toString(16)} at offset ${r.pos - 1}`);
  }
}

function toBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Decode every value in `buf` (an RTMP command or data message body).
 * @throws GatewayError GW_ERR_AMF0_DECODE on truncation, an unknown/unsupported marker (movieclip, recordset,
 *   AMF3 switch), a bad or cyclic reference, nesting deeper than AMF0_MAX_DEPTH or a string longer than
 *   AMF0_MAX_STRING_BYTES.
 */
export function decodeAmf0(buf: Uint8Array): Amf0Value[] {
  const r = new Reader(toBuffer(buf), 0);
  const out: Amf0Value[] = [];
  while (r.pos < r.buf.length) out.push(readValue(r, 0));
  return out;
}

/**
 * Decode one value at `offset` (e.g. the first string of a data message, to learn its name without reading the rest).
 * @returns the value and the offset just after it.
 * @throws GatewayError GW_ERR_AMF0_DECODE as decodeAmf0.
 */
export function decodeAmf0Value(buf: Uint8Array, offset: number): { value: Amf0Value; next: number } {
  const r = new Reader(toBuffer(buf), offset);
  const value = readValue(r, 0);
  return { value, next: r.pos };
}
