/**
 * Test encoders for the audio RTP payload formats: RFC 3640 MPEG4-GENERIC (AAC-hbr style AU-headers, aggregation,
 * fragmentation, auxiliary section) and RFC 6416 MP4A-LATM (AudioMuxElements with PayloadLengthInfo, several per
 * packet, fragmentation, in-band StreamMuxConfig), plus a StreamMuxConfig writer (audioMuxVersion 0/1, LatmGetValue).
 * They mirror what ffmpeg's rtpenc_aac/rtpenc_latm and GStreamer's rtpmp4gpay/rtpmp4apay send, and are the other
 * half of the depacketizer case tables.
 */
import assert from 'node:assert/strict';
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import type { AudioFrameSink } from '../../core/codec/aac/rtp-mpeg4-generic.ts';

/** MSB-first bit writer. */
export class BitWriter {
  readonly #bytes: number[] = [];
  #bitPos = 0;

  get bitLength(): number {
    return this.#bitPos;
  }

  write(value: number, bits: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      const bit = Math.floor(value / 2 ** i) % 2;
      if ((this.#bitPos & 7) === 0) this.#bytes.push(0);
      if (bit) this.#bytes[this.#bitPos >> 3]! |= 0x80 >> (this.#bitPos & 7);
      this.#bitPos++;
    }
    return this;
  }

  /** Write every bit of `bytes` (or the first `bitLength` of them). */
  writeBytes(bytes: Uint8Array, bitLength = bytes.length * 8): this {
    for (let i = 0; i < bitLength; i++) this.write((bytes[i >> 3]! >> (7 - (i & 7))) & 1, 1);
    return this;
  }

  alignToByte(): this {
    while ((this.#bitPos & 7) !== 0) this.write(0, 1);
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.#bytes);
  }
}

export interface PacketHeaderInit {
  /** First sequence number (default 1000), payload type (96), SSRC (0x12345678), first timestamp (90000). */
  sequenceNumber?: number;
  payloadType?: number;
  ssrc?: number;
  rtpTimestamp?: number;
  /** Timestamp step per frame (default 1024). */
  samplesPerFrame?: number;
}

function packet(h: Required<PacketHeaderInit>, seqOffset: number, timestamp: number, marker: boolean, payload: Buffer): RtpPacket {
  return {
    marker, payloadType: h.payloadType, sequenceNumber: (h.sequenceNumber + seqOffset) & 0xffff, timestamp: timestamp >>> 0,
    ssrc: h.ssrc, csrcs: [], payload,
  };
}

function headerDefaults(o: PacketHeaderInit): Required<PacketHeaderInit> {
  return {
    sequenceNumber: o.sequenceNumber ?? 1000, payloadType: o.payloadType ?? 96, ssrc: o.ssrc ?? 0x12345678,
    rtpTimestamp: o.rtpTimestamp ?? 90000, samplesPerFrame: o.samplesPerFrame ?? 1024,
  };
}

export interface Mpeg4GenericPacketizerInit extends PacketHeaderInit {
  sizeLength?: number; // 13 (AAC-hbr)
  indexLength?: number; // 3
  indexDeltaLength?: number; // 3
  ctsDeltaLength?: number;
  dtsDeltaLength?: number;
  randomAccessIndication?: boolean;
  streamStateIndication?: number;
  auxiliaryDataSizeLength?: number;
  /** Auxiliary data bits written in every packet when auxiliaryDataSizeLength > 0 (default 5 bits). */
  auxiliaryDataSizeBits?: number;
  /** AU-Index-delta written for the 2nd.. AU of a packet (default 0). */
  auIndexDelta?: number;
  /** Largest RTP payload (default 1400); a frame that does not fit alone is fragmented. */
  maxPayloadSize?: number;
  /** Most AUs aggregated in one packet (default unlimited). */
  maxFramesPerPacket?: number;
}

/**
 * RFC 3640 packetizer: aggregates frames into packets (§3.2.3.1 AU-headers + AUs), fragments a frame larger than
 * a packet (each fragment has one AU-header with the whole AU-size), marker on every packet that ends an AU.
 */
export function packetizeMpeg4Generic(frames: readonly Uint8Array[], init: Mpeg4GenericPacketizerInit = {}): RtpPacket[] {
  const h = headerDefaults(init);
  const sizeLength = init.sizeLength ?? 13;
  const indexLength = init.indexLength ?? 3;
  const indexDeltaLength = init.indexDeltaLength ?? 3;
  const maxPayload = init.maxPayloadSize ?? 1400;
  const maxFrames = init.maxFramesPerPacket ?? Infinity;
  // The first AU-header has CTS-flag 0 (§3.2.1.1); later ones carry a CTS-delta of 7.
  const headerBits = (first: boolean): number =>
    sizeLength + (first ? indexLength : indexDeltaLength) + (init.ctsDeltaLength ? (first ? 1 : 1 + init.ctsDeltaLength) : 0) +
    (init.dtsDeltaLength ? 1 : 0) +
    (init.randomAccessIndication ? 1 : 0) + (init.streamStateIndication ?? 0);
  const auxBits = init.auxiliaryDataSizeLength ? init.auxiliaryDataSizeLength + (init.auxiliaryDataSizeBits ?? 5) : 0;
  const build = (sizes: number[], datas: Uint8Array[]): Buffer => {
    const w = new BitWriter();
    let bits = 0;
    for (let i = 0; i < sizes.length; i++) bits += headerBits(i === 0);
    w.write(bits, 16);
    for (let i = 0; i < sizes.length; i++) {
      w.write(sizes[i]!, sizeLength);
      w.write(i === 0 ? 0 : (init.auIndexDelta ?? 0), i === 0 ? indexLength : indexDeltaLength);
      if (init.ctsDeltaLength) {
        w.write(i === 0 ? 0 : 1, 1);
        if (i > 0) w.write(7, init.ctsDeltaLength);
      }
      if (init.dtsDeltaLength) w.write(0, 1);
      if (init.randomAccessIndication) w.write(1, 1);
      if (init.streamStateIndication) w.write(0, init.streamStateIndication);
    }
    w.alignToByte();
    if (init.auxiliaryDataSizeLength) {
      const n = init.auxiliaryDataSizeBits ?? 5;
      w.write(n, init.auxiliaryDataSizeLength).write(0b10101, Math.min(n, 5)).write(0, Math.max(0, n - 5)).alignToByte();
    }
    for (const d of datas) w.writeBytes(d);
    return w.finish();
  };
  const out: RtpPacket[] = [];
  let i = 0;
  while (i < frames.length) {
    const start = i;
    let bits = 16 + auxBits;
    let dataBytes = 0;
    while (i < frames.length && i - start < maxFrames) {
      const nextBits = bits + headerBits(i === start);
      if (Math.ceil(nextBits / 8) + dataBytes + frames[i]!.length > maxPayload && i > start) break;
      bits = nextBits;
      dataBytes += frames[i]!.length;
      i++;
    }
    const ts = h.rtpTimestamp + start * h.samplesPerFrame;
    const overhead = Math.ceil(bits / 8);
    if (i - start === 1 && overhead + frames[start]!.length > maxPayload) {
      const f = frames[start]!;
      const room = maxPayload - overhead;
      for (let off = 0; off < f.length; off += room) {
        const piece = f.subarray(off, Math.min(f.length, off + room));
        out.push(packet(h, out.length, ts, off + room >= f.length, build([f.length], [piece])));
      }
    } else {
      const slice = frames.slice(start, i);
      out.push(packet(h, out.length, ts, true, build(slice.map((f) => f.length), slice)));
    }
  }
  return out;
}

export interface StreamMuxConfigInit {
  audioMuxVersion?: 0 | 1;
  numSubFrames?: number;
  /** The AudioSpecificConfig; ascBitLength limits it (default: all its bits). */
  asc: Uint8Array;
  ascBitLength?: number;
  /** audioMuxVersion 1: fill bits after the ASC inside ascLen. */
  fillBits?: number;
  /** LatmGetValue bytesForValue − 1 used for taraBufferFullness/ascLen (default 1). */
  latmValueBytesMinus1?: number;
  frameLengthType?: number;
  otherDataLenBits?: number;
  crcCheckPresent?: boolean;
}

function writeLatmValue(w: BitWriter, value: number, bytesMinus1: number): void {
  w.write(bytesMinus1, 2);
  w.write(value, 8 * (bytesMinus1 + 1));
}

/** StreamMuxConfig bits (ISO/IEC 14496-3 1.7.3.1), one program, one layer, not byte-aligned. */
export function writeStreamMuxConfigBits(w: BitWriter, c: StreamMuxConfigInit): BitWriter {
  const version = c.audioMuxVersion ?? 0;
  const vb = c.latmValueBytesMinus1 ?? 1;
  const ascBits = c.ascBitLength ?? c.asc.length * 8;
  w.write(version, 1);
  if (version === 1) {
    w.write(0, 1); // audioMuxVersionA
    writeLatmValue(w, 0xff, vb); // taraBufferFullness
  }
  w.write(1, 1).write(c.numSubFrames ?? 0, 6).write(0, 4).write(0, 3);
  if (version === 1) writeLatmValue(w, ascBits + (c.fillBits ?? 0), vb);
  w.writeBytes(c.asc, ascBits);
  if (version === 1) w.write(0, c.fillBits ?? 0);
  w.write(c.frameLengthType ?? 0, 3).write(0xff, 8);
  const other = c.otherDataLenBits ?? 0;
  w.write(other > 0 ? 1 : 0, 1);
  if (other > 0) {
    if (version === 1) {
      writeLatmValue(w, other, vb);
    } else {
      const bytes: number[] = [];
      for (let v = other; v > 0 || bytes.length === 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
      bytes.forEach((b, i) => w.write(i < bytes.length - 1 ? 1 : 0, 1).write(b, 8));
    }
  }
  w.write(c.crcCheckPresent ? 1 : 0, 1);
  if (c.crcCheckPresent) w.write(0x5a, 8);
  return w;
}

/** A StreamMuxConfig zero-padded to a byte, as in the SDP `config=`. */
export function writeStreamMuxConfig(c: StreamMuxConfigInit): Buffer {
  return writeStreamMuxConfigBits(new BitWriter(), c).alignToByte().finish();
}

/** PayloadLengthInfo (0xFF runs) for one payload. */
export function writePayloadLengthInfo(w: BitWriter, length: number): void {
  let left = length;
  while (left >= 255) {
    w.write(255, 8);
    left -= 255;
  }
  w.write(left, 8);
}

export interface LatmPacketizerInit extends PacketHeaderInit {
  /** Largest RTP payload (default 1400); an AudioMuxElement larger than this is fragmented. */
  maxPayloadSize?: number;
  /** AudioMuxElements per packet (default 1). */
  elementsPerPacket?: number;
  /** Frames per AudioMuxElement = numSubFrames + 1 (default 1). */
  framesPerElement?: number;
  /** cpresent=1: the first element of each packet carries this StreamMuxConfig (useSameStreamMux 0), others 1. */
  inBandConfig?: StreamMuxConfigInit;
  /** otherData bits appended to every element (must match the config's otherDataLenBits). */
  otherDataLenBits?: number;
}

/** One AudioMuxElement (1.7.3.1): [useSameStreamMux + StreamMuxConfig], PayloadLengthInfo+payload per sub-frame. */
export function writeAudioMuxElement(frames: readonly Uint8Array[], init: LatmPacketizerInit = {}, withConfig = false): Buffer {
  const w = new BitWriter();
  if (init.inBandConfig !== undefined) {
    w.write(withConfig ? 0 : 1, 1); // useSameStreamMux
    if (withConfig) writeStreamMuxConfigBits(w, init.inBandConfig);
  }
  for (const f of frames) {
    writePayloadLengthInfo(w, f.length);
    w.writeBytes(f); // PayloadMux
  }
  w.write(0, init.otherDataLenBits ?? 0);
  return w.alignToByte().finish();
}

/**
 * RFC 6416 packetizer: elementsPerPacket AudioMuxElements per packet (timestamp of the first), an element larger
 * than maxPayloadSize fragmented over packets of the same timestamp, marker bit on every packet that ends one.
 */
export function packetizeLatm(frames: readonly Uint8Array[], init: LatmPacketizerInit = {}): RtpPacket[] {
  const h = headerDefaults(init);
  const maxPayload = init.maxPayloadSize ?? 1400;
  const perElement = init.framesPerElement ?? 1;
  const perPacket = init.elementsPerPacket ?? 1;
  const out: RtpPacket[] = [];
  for (let i = 0; i < frames.length; i += perElement * perPacket) {
    const elements: Buffer[] = [];
    for (let e = 0; e < perPacket && i + e * perElement < frames.length; e++) {
      const start = i + e * perElement;
      elements.push(writeAudioMuxElement(frames.slice(start, start + perElement), init, e === 0));
    }
    const payload = Buffer.concat(elements);
    const ts = h.rtpTimestamp + i * h.samplesPerFrame;
    for (let off = 0; off < payload.length; off += maxPayload) {
      const end = Math.min(payload.length, off + maxPayload);
      out.push(packet(h, out.length, ts, end === payload.length, payload.subarray(off, end)));
    }
  }
  return out;
}

/** Raw AAC frames of an ADTS file (headers stripped; 7 or 9-byte headers). */
export function adtsRawFrames(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 7 <= file.length) {
    if (file[off] !== 0xff || (file[off + 1]! & 0xf0) !== 0xf0) throw new Error(`no ADTS sync at ${off}`);
    const headerLength = (file[off + 1]! & 1) === 1 ? 7 : 9;
    const frameLength = ((file[off + 3]! & 0x03) << 11) | (file[off + 4]! << 3) | (file[off + 5]! >> 5);
    out.push(file.subarray(off + headerLength, off + frameLength));
    off += frameLength;
  }
  return out;
}

/** AudioMuxElements of a LOAS file (AudioSyncStream, ISO/IEC 14496-3 1.7.2: 0x2B7 sync, 13-bit length). */
export function loasAudioMuxElements(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 3 <= file.length) {
    if (((file[off]! << 3) | (file[off + 1]! >> 5)) !== 0x2b7) throw new Error(`no LOAS sync at ${off}`);
    const length = ((file[off + 1]! & 0x1f) << 8) | file[off + 2]!;
    out.push(file.subarray(off + 3, off + 3 + length));
    off += 3 + length;
  }
  return out;
}

/** A LOAS file from AudioMuxElements (for ffmpeg's `-f loas` demuxer). */
export function writeLoas(elements: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of elements) {
    parts.push(Buffer.from([0x56, 0xe0 | (e.length >> 8), e.length & 0xff]), Buffer.from(e));
  }
  return Buffer.concat(parts);
}

/**
 * The fmtp of an SDP `a=fmtp:` line (ffmpeg's -sdp_file) or of GStreamer caps (`key=(string)value, ...`), keys
 * lower-cased, as the RTSP caster hands them over.
 */
export function fmtpFromSdpOrCaps(text: string): Map<string, string> {
  const m = new Map<string, string>();
  const line = text.split(/\r?\n/).find((l) => l.startsWith('a=fmtp:'));
  if (line !== undefined) {
    for (const kv of line.replace(/^a=fmtp:\d+\s*/, '').split(';')) {
      const eq = kv.indexOf('=');
      if (eq > 0) m.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
    }
    return m;
  }
  for (const match of text.matchAll(/([\w-]+)=\(string\)([^,]+)/g)) m.set(match[1]!.toLowerCase(), match[2]!.trim());
  return m;
}

/** Frames of the given sizes, each filled with its own byte so a swap or a cut shows. */
export function makeAudioFrames(sizes: readonly number[]): Buffer[] {
  return sizes.map((size, i) => Buffer.alloc(size, (i * 37 + 1) & 0xff));
}

/** What the AAC depacketizers (RFC 3640, RFC 6416) have in common. */
export interface AudioDepacketizer {
  push(packet: RtpPacket, sink: AudioFrameSink): number;
  onPacketLoss(): void;
}

/** The frames one push delivered: the unit's RTP timestamp (of frames[0]) and the frames in order. */
export interface AudioFrames {
  readonly frames: readonly Uint8Array[];
  readonly rtpTimestamp: number;
}

/**
 * One `push` with a collecting sink. @returns what it delivered (a new object per call), or undefined when it
 * delivered nothing. Asserts the sink calls are consistent: one timestamp, indexes 0, 1, 2..., and the count
 * `push` returns.
 */
export function pushFrames(d: AudioDepacketizer, packet: RtpPacket): AudioFrames | undefined {
  const frames: Uint8Array[] = [];
  let rtpTimestamp: number | undefined;
  const count = d.push(packet, {
    onAudioFrame(frame, ts, index) {
      assert.equal(index, frames.length, 'frame index');
      if (rtpTimestamp !== undefined) assert.equal(ts, rtpTimestamp, 'one timestamp per unit');
      rtpTimestamp = ts;
      frames.push(frame);
    },
  });
  assert.equal(count, frames.length, 'push returns the frames delivered');
  return rtpTimestamp === undefined ? undefined : { frames, rtpTimestamp };
}

/**
 * Feeds `packets` (made by a packetizer from `frames`, first RTP timestamp 90000, 1024 samples per frame) with
 * packet number `lose` left out, as a receiver signalling the gap. Asserts the input is never mutated and that
 * each frame returned sits at its own timestamp. @returns the frames returned, in order.
 */
export function depacketizeWithLoss(d: AudioDepacketizer, packets: readonly RtpPacket[], lose: number | undefined, frames: readonly Buffer[]): Buffer[] {
  const got: Buffer[] = [];
  let lost = false;
  for (let i = 0; i < packets.length; i++) {
    const packet = packets[i] as RtpPacket;
    if (i === lose) {
      lost = true;
      continue;
    }
    if (lost) d.onPacketLoss();
    lost = false;
    const before = Buffer.from(packet.payload);
    const r = pushFrames(d, packet);
    assert.deepEqual(packet.payload, before, 'input integrity');
    if (r === undefined) continue;
    const firstIndex = (r.rtpTimestamp - 90000) / 1024;
    r.frames.forEach((f, k) => assert.deepEqual(Buffer.from(f), frames[firstIndex + k], `frame ${firstIndex + k} at its timestamp`));
    for (const f of r.frames) got.push(Buffer.from(f));
  }
  return got;
}
