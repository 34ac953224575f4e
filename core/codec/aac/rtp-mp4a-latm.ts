/**
 * MP4A-LATM RTP payload format (RFC 6416 §6, §7.3) — GStreamer's default AAC payloader (rtpmp4apay) and ffmpeg's
 * `-rtpflags latm`. Parses the SDP `config=` StreamMuxConfig and the AudioMuxElements of the payload
 * (ISO/IEC 14496-3 1.7.3: AudioMuxElement, StreamMuxConfig, LatmGetValue, PayloadLengthInfo, PayloadMux).
 *
 * Supported: audioMuxVersion 0 and 1, one program and one layer, allStreamsSameTimeFraming = 1, frameLengthType 0
 * (AAC), numSubFrames ≥ 0, otherData (skipped), several AudioMuxElements per packet and an AudioMuxElement
 * fragmented over packets (RFC 6416 §6.2: same timestamp, marker bit on the last fragment), and cpresent=1
 * (in-band StreamMuxConfig, muxConfigPresent = 1). The ASC of the config is walked here (1.6.2.1, GASpecificConfig
 * 4.4.1, the 0x2B7 backward-compatible SBR sync extension) because in audioMuxVersion 0 nothing gives its length.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { RtpPacket } from '../../protocol/rtp/rtp-packet.ts';
import { BitReader } from '../bit-reader.ts';
import { MAX_AAC_RAW_FRAME_SIZE } from './aac-packager.ts';
import type { AudioSpecificConfig } from './audio-specific-config.ts';
import { readAudioSpecificConfig, samplesPerFrameOf } from './rtp-mpeg4-generic.ts';
import type { AudioFrameSink } from './rtp-mpeg4-generic.ts';

/** numSubFrames is 6 bits: at most 64 payloads per AudioMuxElement, each one AAC frame. */
const MAX_SUBFRAMES = 64;
/** A reassembled AudioMuxElement run (fragments of one timestamp): 64 sub-frames of the largest AAC frame. */
export const MAX_AUDIO_MUX_ELEMENT_SIZE = MAX_SUBFRAMES * MAX_AAC_RAW_FRAME_SIZE;
/** Largest StreamMuxConfig accepted from SDP or in-band (a real one is 5–10 bytes). */
const MAX_STREAM_MUX_CONFIG_SIZE = 256;
/** LatmGetValue: bytesForValue (2 bits) + 1 bytes. */
const LATM_VALUE_MAX_BYTES = 4;
/** otherDataLenBits escape loop of audioMuxVersion 0: 4 rounds (32 bits) is already far past any payload. */
const MAX_OTHER_DATA_LEN_ROUNDS = 4;

/** StreamMuxConfig (ISO/IEC 14496-3 1.7.3.1 Table 1.42), single program and layer. */
export interface StreamMuxConfig {
  readonly audioMuxVersion: 0 | 1;
  readonly allStreamsSameTimeFraming: boolean;
  /** numSubFrames: the AudioMuxElement holds numSubFrames + 1 payloads. */
  readonly numSubFrames: number;
  readonly asc: AudioSpecificConfig;
  /** The AudioSpecificConfig bits, copied out and zero-padded to a byte (GASpecificConfig and extensions kept). */
  readonly ascBytes: Buffer;
  /** 960 when the ASC's frameLengthFlag is set, else 1024. */
  readonly samplesPerFrame: number;
  /** Only 0 (payload length in PayloadLengthInfo) is supported. */
  readonly frameLengthType: number;
  readonly latmBufferFullness: number;
  /** Bits of otherData after the payloads of each AudioMuxElement (0 when otherDataPresent is 0). */
  readonly otherDataLenBits: number;
  readonly crcCheckPresent: boolean;
}

/** SDP parameters of an MP4A-LATM track (RFC 6416 §7.3). */
export interface LatmFmtp {
  /** cpresent: true = StreamMuxConfig in-band (muxConfigPresent = 1); RFC 6416 default when absent. */
  readonly cpresent: boolean;
  /** From `config=` (required when cpresent is 0). */
  readonly asc?: AudioSpecificConfig;
  readonly ascBytes?: Buffer;
  /** `object=`: the audio object type (informative). */
  readonly object?: number;
  /** The parsed `config=` StreamMuxConfig. */
  readonly streamMuxConfig?: StreamMuxConfig;
  /** RTP clock rate and channels of the rtpmap (informative: with implicit SBR they differ from the ASC). */
  readonly clockRate: number;
  readonly channels: number;
}

function latmError(message: string): GatewayError {
  return new GatewayError(ErrorCode.AacLatm, `MP4A-LATM: ${message}`);
}

/**
 * Parse a StreamMuxConfig. `lenientTail` (SDP `config=`): GStreamer's rtpmp4apay writes only the header and the
 * ASC, so a config that ends before frameLengthType/latmBufferFullness/otherDataPresent/crcCheckPresent takes
 * their usual values (0, 0xFF, 0, 0) — as ffmpeg's rtpdec_latm does, which never reads them.
 * @throws GatewayError(AacLatm) on truncation or an unsupported layout (several programs/layers,
 *   allStreamsSameTimeFraming 0, frameLengthType ≠ 0, audioMuxVersionA 1, an ASC that cannot be walked).
 */
export function parseStreamMuxConfig(config: Uint8Array, lenientTail = true): StreamMuxConfig {
  if (config.length === 0 || config.length > MAX_STREAM_MUX_CONFIG_SIZE) {
    throw latmError(`StreamMuxConfig of ${config.length} bytes (1..${MAX_STREAM_MUX_CONFIG_SIZE})`);
  }
  return readStreamMuxConfig(config, new BitReader(config, ErrorCode.AacLatm), lenientTail);
}

function readStreamMuxConfig(data: Uint8Array, r: BitReader, lenientTail: boolean): StreamMuxConfig {
  const audioMuxVersion = r.readBit() as 0 | 1;
  const audioMuxVersionA = audioMuxVersion === 1 ? r.readBit() : 0;
  if (audioMuxVersionA !== 0) throw latmError('audioMuxVersionA 1 (reserved) is not supported');
  if (audioMuxVersion === 1) latmGetValue(r); // taraBufferFullness
  const allStreamsSameTimeFraming = r.readFlag();
  const numSubFrames = r.readBits(6);
  const numProgram = r.readBits(4);
  const numLayer = r.readBits(3);
  if (numProgram !== 0 || numLayer !== 0) {
    throw latmError(`${numProgram + 1} programs / ${numLayer + 1} layers; only one program with one layer is supported`);
  }
  if (!allStreamsSameTimeFraming) throw latmError('allStreamsSameTimeFraming 0 is not supported');
  let walked;
  if (audioMuxVersion === 1) {
    const ascLenBits = latmGetValue(r);
    if (ascLenBits > r.bitsLeft) throw latmError(`ascLen ${ascLenBits} bits past the end of the config`);
    walked = readAudioSpecificConfig(data, r.position, ascLenBits, ErrorCode.AacLatm);
    r.skipBits(ascLenBits); // AudioSpecificConfig + fillBits
  } else {
    walked = readAudioSpecificConfig(data, r.position, undefined, ErrorCode.AacLatm);
    r.skipBits(walked.bitLength);
  }
  const tail = (bits: number, fallback: number): number => (lenientTail && r.bitsLeft < bits ? fallback : r.readBits(bits));
  const frameLengthType = tail(3, 0);
  if (frameLengthType !== 0) throw latmError(`frameLengthType ${frameLengthType} (CELP/HVXC/fixed) is not supported`);
  const latmBufferFullness = tail(8, 0xff);
  let otherDataLenBits = 0;
  if (tail(1, 0) === 1) {
    if (audioMuxVersion === 1) {
      otherDataLenBits = latmGetValue(r);
    } else {
      let escape = 1;
      for (let round = 0; escape === 1; round++) {
        if (round === MAX_OTHER_DATA_LEN_ROUNDS) throw latmError('otherDataLenBits escape runs too long');
        escape = r.readBit();
        otherDataLenBits = otherDataLenBits * 256 + r.readBits(8);
      }
    }
  }
  const crcCheckPresent = tail(1, 0) === 1;
  if (crcCheckPresent) r.skipBits(8); // crcCheckSum
  return {
    audioMuxVersion, allStreamsSameTimeFraming, numSubFrames, asc: walked.asc, ascBytes: walked.ascBytes,
    samplesPerFrame: samplesPerFrameOf(walked.frameLengthFlag), frameLengthType, latmBufferFullness,
    otherDataLenBits, crcCheckPresent,
  };
}

/** LatmGetValue (1.7.3.1): bytesForValue (2 bits), then bytesForValue + 1 bytes, big-endian. */
function latmGetValue(r: BitReader): number {
  const bytes = r.readBits(2) + 1;
  let value = 0;
  for (let i = 0; i < bytes && i < LATM_VALUE_MAX_BYTES; i++) value = value * 256 + r.readBits(8);
  return value;
}

/**
 * SDP fmtp of an MP4A-LATM track (RFC 6416 §7.3; keys lower-cased). `config` is the hex StreamMuxConfig;
 * `cpresent` defaults to 1 (RFC 6416). cpresent=1 with a config is accepted (the config is the initial one).
 * @throws GatewayError(AacLatm) when cpresent is 0 and config is missing, or config is not hex or not parsable.
 */
export function parseLatmFmtp(fmtp: ReadonlyMap<string, string>, clockRate: number, channels: number): LatmFmtp {
  const cpresentValue = fmtp.get('cpresent')?.trim() ?? '1';
  if (cpresentValue !== '0' && cpresentValue !== '1') throw latmError(`cpresent=${cpresentValue}, expected 0 or 1`);
  const cpresent = cpresentValue === '1';
  const objectValue = fmtp.get('object')?.trim();
  const object = objectValue !== undefined && /^\d{1,3}$/.test(objectValue) ? Number(objectValue) : undefined;
  const configHex = fmtp.get('config')?.trim();
  const base = object === undefined ? { cpresent, clockRate, channels } : { cpresent, object, clockRate, channels };
  if (configHex === undefined || configHex === '') {
    if (!cpresent) throw latmError('cpresent=0 without config= (the StreamMuxConfig is needed out of band)');
    return base;
  }
  if (!/^([0-9a-fA-F]{2})+$/.test(configHex)) throw latmError(`config=${configHex.slice(0, 32)} is not hex`);
  const streamMuxConfig = parseStreamMuxConfig(Buffer.from(configHex, 'hex'));
  return { ...base, asc: streamMuxConfig.asc, ascBytes: streamMuxConfig.ascBytes, streamMuxConfig };
}

/**
 * MP4A-LATM depacketizer: RTP packets in order → raw AAC frames. Fragments of one timestamp are collected (views)
 * until the marker bit, then concatenated once and parsed as one or more AudioMuxElements. Never throws: errors go to
 * `onError` (GatewayError RtpPayload or AacLatm) and the unit is dropped.
 */
export class RtpMp4aLatmDepacketizer {
  readonly #cpresent: boolean;
  readonly #onError: (err: GatewayError) => void;
  #config: StreamMuxConfig | undefined;
  readonly #fragments: Buffer[] = [];
  #fragmentsSize = 0;
  #fragmentsTimestamp = 0;
  /** Timestamp of an AudioMuxElement cut by a loss: its remaining fragments are dropped. */
  #discardTimestamp: number | undefined;
  /** Frames of the unit being parsed (reused for every unit; delivered only once the whole unit parsed). */
  readonly #frames: Uint8Array[] = [];
  #frameCount = 0;

  constructor(fmtp: LatmFmtp, onError: (err: GatewayError) => void) {
    this.#cpresent = fmtp.cpresent;
    this.#config = fmtp.streamMuxConfig;
    this.#onError = onError;
  }

  /** The current ASC: from the SDP config, or the last in-band StreamMuxConfig (cpresent=1). */
  get asc(): AudioSpecificConfig | undefined {
    return this.#config?.asc;
  }

  /** Samples per frame of the current config (1024, or 960 with frameLengthFlag); 1024 before any config. */
  get samplesPerFrame(): number {
    return this.#config?.samplesPerFrame ?? 1024;
  }

  /**
   * The caller saw a sequence gap: drop an AudioMuxElement in progress, and the fragments of it still to come (same
   * timestamp) — a continuation fragment cannot be told from the start of an element by its bytes.
   */
  onPacketLoss(): void {
    if (this.#fragments.length > 0) this.#discardTimestamp = this.#fragmentsTimestamp;
    this.#resetFragments();
  }

  /**
   * Read one packet and hand `sink` the frames of the AudioMuxElement(s) it completes (views into the payload when
   * the packet held them whole and byte-aligned, else copies). Nothing is delivered while more packets are needed
   * or when the unit is dropped (reported to onError).
   * @returns how many frames were delivered.
   */
  push(pkt: RtpPacket, sink: AudioFrameSink): number {
    if (this.#discardTimestamp !== undefined) {
      if (pkt.timestamp === this.#discardTimestamp) return 0;
      this.#discardTimestamp = undefined;
    }
    if (this.#fragments.length > 0 && pkt.timestamp !== this.#fragmentsTimestamp) {
      this.#fail(ErrorCode.RtpPayload, `AudioMuxElement fragment with timestamp ${pkt.timestamp} after ${this.#fragmentsTimestamp} without marker; dropped`);
      this.#resetFragments();
    }
    if (pkt.payload.length === 0) {
      this.#fail(ErrorCode.RtpPayload, 'empty payload');
      this.#resetFragments();
      return 0;
    }
    if (this.#fragmentsSize + pkt.payload.length > MAX_AUDIO_MUX_ELEMENT_SIZE) {
      this.#fail(ErrorCode.RtpPayload, `AudioMuxElement larger than ${MAX_AUDIO_MUX_ELEMENT_SIZE} bytes; dropped`);
      this.#resetFragments();
      return 0;
    }
    if (this.#fragments.length === 0) this.#fragmentsTimestamp = pkt.timestamp;
    this.#fragments.push(pkt.payload);
    this.#fragmentsSize += pkt.payload.length;
    if (!pkt.marker) return 0;
    const data = this.#fragments.length === 1 ? this.#fragments[0]! : Buffer.concat(this.#fragments, this.#fragmentsSize);
    const rtpTimestamp = this.#fragmentsTimestamp;
    this.#resetFragments();
    const count = this.#parseElements(data);
    const frames = this.#frames;
    for (let i = 0; i < count; i++) sink.onAudioFrame(frames[i] as Uint8Array, rtpTimestamp, i);
    return count;
  }

  /**
   * All AudioMuxElements of a reassembled unit into #frames, all or nothing (a misparse after a loss must not leak
   * frames). @returns the frame count (0 when dropped).
   */
  #parseElements(data: Buffer): number {
    this.#frameCount = 0;
    const r = new BitReader(data, ErrorCode.RtpPayload);
    try {
      while (r.bitsLeft >= 8) this.#readAudioMuxElement(data, r);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#onError(new GatewayError(err.code, `MP4A-LATM: AudioMuxElement(s) of ${data.length} bytes dropped: ${err.message}`, { cause: err }));
      return 0;
    }
    return this.#frameCount;
  }

  /** AudioMuxElement(muxConfigPresent = cpresent) (1.7.3.1 Table 1.41), then byte_alignment(); frames into #frames. */
  #readAudioMuxElement(data: Buffer, r: BitReader): void {
    if (this.#cpresent && !r.readFlag()) {
      // useSameStreamMux = 0: a new StreamMuxConfig.
      this.#config = readStreamMuxConfig(data, r, false);
    }
    const config = this.#config;
    if (config === undefined) throw latmError('AudioMuxElement with useSameStreamMux before any StreamMuxConfig');
    for (let i = 0; i <= config.numSubFrames; i++) {
      // PayloadLengthInfo (Table 1.44), allStreamsSameTimeFraming = 1, frameLengthType 0: 0xFF runs.
      let length = 0;
      let tmp: number;
      do {
        tmp = r.readBits(8);
        length += tmp;
      } while (tmp === 0xff && length <= MAX_AAC_RAW_FRAME_SIZE);
      if (length === 0 || length > MAX_AAC_RAW_FRAME_SIZE) throw latmError(`PayloadLengthInfo ${length} bytes (1..${MAX_AAC_RAW_FRAME_SIZE})`);
      if (length * 8 > r.bitsLeft) throw latmError(`payload of ${length} bytes, only ${r.bitsLeft >> 3} left`);
      this.#frames[this.#frameCount++] = readBytes(data, r, length);
    }
    if (config.otherDataLenBits > 0) {
      if (config.otherDataLenBits > r.bitsLeft) throw latmError(`otherData of ${config.otherDataLenBits} bits past the end`);
      r.skipBits(config.otherDataLenBits);
    }
    const misalignment = r.position % 8;
    if (misalignment !== 0) r.skipBits(8 - misalignment); // byte_alignment()
  }

  #fail(code: ErrorCode, message: string): void {
    this.#onError(new GatewayError(code, `MP4A-LATM: ${message}`));
  }

  #resetFragments(): void {
    this.#fragments.length = 0;
    this.#fragmentsSize = 0;
  }
}

/** `length` bytes at the reader's position: a view when byte-aligned, else a bit-shifted copy. */
function readBytes(data: Buffer, r: BitReader, length: number): Uint8Array {
  const bit = r.position;
  if (bit % 8 === 0) {
    r.skipBits(length * 8);
    return data.subarray(bit / 8, bit / 8 + length);
  }
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = r.readBits(8);
  return out;
}
