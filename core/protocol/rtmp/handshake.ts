/**
 * RTMP handshake, server side (Adobe RTMP spec 1.0, section 5.2: C0/C1/C2 ⇄ S0/S1/S2).
 *
 * Two forms:
 * - simple (spec 5.2.3): C1's version field is zero; S1 is random, S2 echoes C1.
 * - digest ("complex", FMS 3+/Flash Player 9+, used by FMLE, OBS, librtmp, ffmpeg): C1 carries a 32-byte
 *   HMAC-SHA256 digest keyed with the "Genuine Adobe Flash Player 001" key, placed in the 764-byte digest
 *   block at offset 8 (schema 1, ffmpeg/librtmp) or 772 (schema 0). The server answers with an S1 digest in
 *   the same schema (keyed with "Genuine Adobe Flash Media Server 001") and an S2 whose last 32 bytes are
 *   HMAC(HMAC(FMS key + constant, C1 digest), S2[0..1504]). Players such as ffmpeg verify both.
 * A C1 with a non-zero version but no valid digest falls back to the simple form (SRS and NMS do the same).
 *
 * Pure: bytes in, bytes to send out; C2 is read and ignored (clients do not need it checked).
 * Reference: SRS protocol/srs_rtmp_handshake.cpp (c1s1 schema0/schema1), ffmpeg libavformat/rtmpproto.c.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, GatewayError } from '../../errors.ts';

/** C1/S1/C2/S2 size (spec 5.2.3). */
export const RTMP_HANDSHAKE_SIZE = 1536;
/** C0/S0 version byte: plain RTMP. 6 (RTMPE) and others are refused. */
export const RTMP_VERSION = 3;
/** S1 version field sent with a digest handshake (SRS uses 13.14.10.13); ffmpeg verifies S1/S2 when >= 3. */
const SERVER_VERSION = 0x0d0e0a0d;
const DIGEST_SIZE = 32;
/** Digest block 764 bytes - 4 offset bytes - 32 digest bytes. */
const DIGEST_OFFSET_MODULO = 728;

/** Shared tail of both Genuine keys (RTMP digest handshake, as in librtmp/ffmpeg/SRS). */
const KEY_TAIL = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d,
  0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
/** 68 bytes; the first 36 ("Genuine Adobe Flash Media Server 001") sign S1. */
export const GENUINE_FMS_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'), KEY_TAIL]);
/** 62 bytes; the first 30 ("Genuine Adobe Flash Player 001") sign C1. */
export const GENUINE_FP_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_TAIL]);

/** Where the digest block starts in C1/S1: schema 1 (digest first, ffmpeg/librtmp) and schema 0 (key first). */
export const DigestSchema = { DigestFirst: 8, KeyFirst: 772 } as const;
export type DigestSchema = (typeof DigestSchema)[keyof typeof DigestSchema];

function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Offset of the 32-byte digest inside a 1536-byte C1/S1 for the digest block at `base` (8 or 772). */
export function digestOffset(c1: Uint8Array, base: DigestSchema): number {
  return ((c1[base] + c1[base + 1] + c1[base + 2] + c1[base + 3]) % DIGEST_OFFSET_MODULO) + base + 4;
}

/** HMAC-SHA256 over the packet without the 32 digest bytes at `offset`. */
export function computePacketDigest(packet: Uint8Array, offset: number, key: Uint8Array): Buffer {
  return hmacSha256(key, packet.subarray(0, offset), packet.subarray(offset + DIGEST_SIZE, RTMP_HANDSHAKE_SIZE));
}

/**
 * Find a valid digest in C1 (1536 bytes) signed with `key` (default: Flash Player key, 30 bytes).
 * @returns the schema and the digest bytes (a copy), or undefined when neither schema validates.
 */
export function findC1Digest(
  c1: Uint8Array,
  key: Uint8Array = GENUINE_FP_KEY.subarray(0, 30),
): { schema: DigestSchema; digest: Buffer } | undefined {
  if (c1.length < RTMP_HANDSHAKE_SIZE) return undefined;
  for (const schema of [DigestSchema.KeyFirst, DigestSchema.DigestFirst]) {
    const offset = digestOffset(c1, schema);
    const expected = computePacketDigest(c1, offset, key);
    if (timingSafeEqual(expected, c1.subarray(offset, offset + DIGEST_SIZE))) {
      return { schema, digest: Buffer.from(c1.subarray(offset, offset + DIGEST_SIZE)) };
    }
  }
  return undefined;
}

/**
 * Build S0+S1+S2 (3073 bytes) for a C1.
 * @param c1 the 1536 bytes after C0.
 */
export function makeServerResponse(c1: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + 2 * RTMP_HANDSHAKE_SIZE);
  out[0] = RTMP_VERSION;
  const s1 = out.subarray(1, 1 + RTMP_HANDSHAKE_SIZE);
  const s2 = out.subarray(1 + RTMP_HANDSHAKE_SIZE);
  randomBytes(RTMP_HANDSHAKE_SIZE).copy(s1);
  s1.writeUInt32BE(0, 0); // time: our epoch starts here
  const clientVersion = c1[4] | c1[5] | c1[6] | c1[7];
  const c1Digest = clientVersion === 0 ? undefined : findC1Digest(c1);
  if (c1Digest === undefined) {
    // Simple handshake: S1 version zero, S2 = C1 echo (spec 5.2.3/5.2.4).
    s1.writeUInt32BE(0, 4);
    s2.set(c1.subarray(0, RTMP_HANDSHAKE_SIZE));
    return out;
  }
  s1.writeUInt32BE(SERVER_VERSION, 4);
  const s1Offset = digestOffset(s1, c1Digest.schema);
  computePacketDigest(s1, s1Offset, GENUINE_FMS_KEY.subarray(0, 36)).copy(s1, s1Offset);
  randomBytes(RTMP_HANDSHAKE_SIZE - DIGEST_SIZE).copy(s2);
  const s2Key = hmacSha256(GENUINE_FMS_KEY, c1Digest.digest);
  hmacSha256(s2Key, s2.subarray(0, RTMP_HANDSHAKE_SIZE - DIGEST_SIZE)).copy(s2, RTMP_HANDSHAKE_SIZE - DIGEST_SIZE);
  return out;
}

/** One step of the server handshake. */
export interface HandshakeStep {
  /** Bytes to send now (S0+S1+S2 once C0+C1 are in), else undefined. */
  readonly reply: Buffer | undefined;
  /** True once C2 has been read: the chunk stream starts with `rest`. */
  readonly done: boolean;
  /** Bytes after C2 in the pushed chunk (a view into it), empty when none. */
  readonly rest: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Server handshake state machine: push socket bytes until `done`. */
export class ServerHandshake {
  /** C0+C1, then C2, accumulated (handshake chunks arrive split on slow links). */
  readonly #buf = Buffer.allocUnsafe(1 + RTMP_HANDSHAKE_SIZE);
  #have = 0;
  #state: 'c0c1' | 'c2' | 'done' = 'c0c1';

  /**
   * @throws GatewayError GW_ERR_RTMP_HANDSHAKE when C0 is not version 3 (garbage, RTMPE, HTTP) or bytes arrive
   *   after completion.
   */
  push(chunk: Uint8Array): HandshakeStep {
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#state === 'done') throw new GatewayError(ErrorCode.RtmpHandshake, 'handshake already complete');
    let off = 0;
    let reply: Buffer | undefined;
    if (this.#state === 'c0c1') {
      if (this.#have === 0 && data.length > 0 && data[0] !== RTMP_VERSION) {
        throw new GatewayError(ErrorCode.RtmpHandshake, `C0 version ${data[0]} is not ${RTMP_VERSION} (not an RTMP client?)`);
      }
      const take = Math.min(data.length, 1 + RTMP_HANDSHAKE_SIZE - this.#have);
      data.copy(this.#buf, this.#have, 0, take);
      this.#have += take;
      off = take;
      if (this.#have < 1 + RTMP_HANDSHAKE_SIZE) return { reply: undefined, done: false, rest: EMPTY };
      reply = makeServerResponse(this.#buf.subarray(1));
      this.#state = 'c2';
      this.#have = 0;
    }
    const take = Math.min(data.length - off, RTMP_HANDSHAKE_SIZE - this.#have);
    this.#have += take; // C2 content is not checked (librtmp/SRS do not require it either)
    off += take;
    if (this.#have < RTMP_HANDSHAKE_SIZE) return { reply, done: false, rest: EMPTY };
    this.#state = 'done';
    return { reply, done: true, rest: data.subarray(off) };
  }
}
