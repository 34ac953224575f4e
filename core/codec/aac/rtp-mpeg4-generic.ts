/**
 * MPEG4-GENERIC RTP payload format for AAC (RFC 3640, mode=AAC-hbr / AAC-lbr): ffmpeg's default AAC payload and
 * GStreamer's rtpmp4gpay. Payload = AU Header Section (§3.2.1: AU-headers-length, AU-headers), optional Auxiliary
 * Section (§3.2.2), Access Unit Data Section (§3.2.3): several AUs per packet, or one AU fragmented over several
 * packets (§3.2.3.1/§3.3.6: same timestamp, AU-size = the whole AU, marker bit on the last fragment).
 *
 * Interleaving (§3.2.3.2: AU-Index ≠ 0 or AU-Index-delta ≠ 0) is not supported: such packets are reported and
 * dropped (no known AAC sender interleaves; gortsplib rejects it too). Also here: a walker over a whole
 * AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1, GASpecificConfig 4.4.1, 0x2B7 sync extension) that yields
 * frameLengthFlag and the bit length, shared with the MP4A-LATM StreamMuxConfig parser.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import type { RtpPacket } from '../../protocol/rtp/rtp-packet.ts';
import { BitReader } from '../bit-reader.ts';
import { AAC_SAMPLES_PER_FRAME, MAX_AAC_RAW_FRAME_SIZE } from './aac-packager.ts';
import { SAMPLING_FREQUENCIES } from './audio-specific-config.ts';
import type { AudioSpecificConfig } from './audio-specific-config.ts';

/** Samples per frame when the GASpecificConfig frameLengthFlag is 1 (960-sample transform). */
export const AAC_SAMPLES_PER_FRAME_960 = 960;
/** AU-headers per packet: a 64 KiB packet of 16-bit AAC-hbr headers with ≥ 1-byte AUs holds < 22 000; real ones < 100. */
export const MAX_AUS_PER_PACKET = 1024;
/** Largest SDP field length accepted for sizeLength (AU sizes above 65535 are no AAC frame). */
const MAX_SIZE_LENGTH = 16;
/** Largest SDP field length for the other AU-header fields (read as one ≤ 32-bit value). */
const MAX_HEADER_FIELD_LENGTH = 32;
/** Longest `config=` hex accepted (a real ASC is 2–7 bytes). */
const MAX_CONFIG_SIZE = 64;
/** RFC 3640 modes for AAC (§3.3.5, §3.3.6), lower-cased. */
const AAC_MODES = ['aac-hbr', 'aac-lbr'];

/** Where the AAC depacketizers (RFC 3640 here, RFC 6416 in rtp-mp4a-latm.ts) deliver raw AAC frames. */
export interface AudioFrameSink {
  /**
   * One raw AAC frame, called synchronously from `push` once the whole packet (or reassembled unit) has been read
   * and found good, in order. `frame` is a view into the packet payload or an owned copy, never written
   * afterwards. Must not throw.
   * @param rtpTimestamp RTP timestamp of the unit's first frame.
   * @param index the frame's position in its unit: it sits index·samplesPerFrame samples after rtpTimestamp
   *   (uint32 arithmetic is the sink's).
   */
  onAudioFrame(frame: Uint8Array, rtpTimestamp: number, index: number): void;
}

/** The fmtp of an MPEG4-GENERIC track (RFC 3640 §4.1), field lengths in bits. */
export interface Mpeg4GenericFmtp {
  /** As given (e.g. 'AAC-hbr'). */
  readonly mode: string;
  readonly asc: AudioSpecificConfig;
  /** The `config=` bytes (the ASC as sent). */
  readonly ascBytes: Buffer;
  /** 960 with frameLengthFlag, else 1024. */
  readonly samplesPerFrame: number;
  readonly sizeLength: number;
  readonly indexLength: number;
  readonly indexDeltaLength: number;
  readonly ctsDeltaLength: number;
  readonly dtsDeltaLength: number;
  readonly randomAccessIndication: boolean;
  readonly streamStateIndication: number;
  readonly auxiliaryDataSizeLength: number;
}

function configError(message: string): GatewayError {
  return new GatewayError(ErrorCode.AacConfig, `MPEG4-GENERIC fmtp: ${message}`);
}

function fieldLength(fmtp: ReadonlyMap<string, string>, key: string, max: number, required = false): number {
  const value = fmtp.get(key)?.trim();
  if (value === undefined || value === '') {
    if (required) throw configError(`${key} missing`);
    return 0;
  }
  if (!/^\d{1,3}$/.test(value) || Number(value) > max) throw configError(`${key}=${value.slice(0, 16)} (0..${max})`);
  return Number(value);
}

/**
 * Parse the fmtp of an MPEG4-GENERIC audio track (keys lower-cased, values as strings).
 * @throws GatewayError(AacConfig) when mode is missing or not AAC-hbr/AAC-lbr, config is missing, not hex or not an
 *   ASC, sizelength is missing or 0, or a field length is out of range.
 */
export function parseMpeg4GenericFmtp(fmtp: ReadonlyMap<string, string>): Mpeg4GenericFmtp {
  const mode = fmtp.get('mode')?.trim();
  if (mode === undefined || mode === '') throw configError('mode missing');
  if (!AAC_MODES.includes(mode.toLowerCase())) throw configError(`mode=${mode.slice(0, 32)} is not supported (AAC-hbr, AAC-lbr)`);
  const configHex = fmtp.get('config')?.trim();
  if (configHex === undefined || configHex === '') throw configError('config missing');
  if (!/^([0-9a-fA-F]{2})+$/.test(configHex) || configHex.length > 2 * MAX_CONFIG_SIZE) {
    throw configError(`config=${configHex.slice(0, 32)} is not a hex AudioSpecificConfig`);
  }
  const ascBytes = Buffer.from(configHex, 'hex');
  const walked = readAudioSpecificConfig(ascBytes, 0, ascBytes.length * 8, ErrorCode.AacConfig);
  const sizeLength = fieldLength(fmtp, 'sizelength', MAX_SIZE_LENGTH, true);
  if (sizeLength === 0) throw configError('sizelength=0 (AAC modes carry AU sizes)');
  return {
    mode, asc: walked.asc, ascBytes, samplesPerFrame: samplesPerFrameOf(walked.frameLengthFlag), sizeLength,
    indexLength: fieldLength(fmtp, 'indexlength', MAX_HEADER_FIELD_LENGTH),
    indexDeltaLength: fieldLength(fmtp, 'indexdeltalength', MAX_HEADER_FIELD_LENGTH),
    ctsDeltaLength: fieldLength(fmtp, 'ctsdeltalength', MAX_HEADER_FIELD_LENGTH),
    dtsDeltaLength: fieldLength(fmtp, 'dtsdeltalength', MAX_HEADER_FIELD_LENGTH),
    randomAccessIndication: fmtp.get('randomaccessindication')?.trim() === '1',
    streamStateIndication: fieldLength(fmtp, 'streamstateindication', MAX_HEADER_FIELD_LENGTH),
    auxiliaryDataSizeLength: fieldLength(fmtp, 'auxiliarydatasizelength', MAX_HEADER_FIELD_LENGTH),
  };
}

/**
 * RFC 3640 depacketizer: RTP packets in order → raw AAC frames. Never throws: a malformed packet goes to `onError`
 * (GatewayError RtpPayload) and is dropped together with a fragmented AU in progress.
 */
export class RtpMpeg4GenericDepacketizer {
  readonly #fmtp: Mpeg4GenericFmtp;
  readonly #onError: (err: GatewayError) => void;
  readonly #fragments: Buffer[] = [];
  #fragmentsSize = 0;
  #fragmentedAuSize = 0;
  #fragmentsTimestamp = 0;
  /** AU-sizes of the packet being read (AU-header section, §3.2.1), reused for every packet. */
  readonly #sizes = new Uint32Array(MAX_AUS_PER_PACKET);
  /** AU-sizes read by the last #readHeaders. */
  #sizeCount = 0;

  constructor(fmtp: Mpeg4GenericFmtp, onError: (err: GatewayError) => void) {
    this.#fmtp = fmtp;
    this.#onError = onError;
  }

  /** 1024, or 960 when the ASC's frameLengthFlag is set. */
  get samplesPerFrame(): number {
    return this.#fmtp.samplesPerFrame;
  }

  /** The caller saw a sequence gap: drop a fragmented AU in progress. */
  onPacketLoss(): void {
    this.#resetFragments();
  }

  /**
   * Read one packet and hand its AUs to `sink`: the AUs of this packet (views into the payload), or a reassembled
   * fragmented AU (one copy) when this packet completes it. Nothing is delivered while a fragmented AU is
   * incomplete or when the packet is dropped (reported to onError).
   * @returns how many frames were delivered.
   */
  push(pkt: RtpPacket, sink: AudioFrameSink): number {
    const payload = pkt.payload;
    let dataOffset: number;
    let count: number;
    try {
      dataOffset = this.#readHeaders(payload);
      count = this.#read(pkt, dataOffset);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#resetFragments();
      this.#onError(new GatewayError(ErrorCode.RtpPayload, `MPEG4-GENERIC: packet ${pkt.sequenceNumber} dropped: ${err.message}`, { cause: err }));
      return 0;
    }
    if (count === 0) return 0;
    if (count < 0) {
      // The last fragment of an AU: one copy of the whole AU.
      const au = Buffer.concat(this.#fragments, this.#fragmentsSize);
      const rtpTimestamp = this.#fragmentsTimestamp;
      this.#resetFragments();
      sink.onAudioFrame(au, rtpTimestamp, 0);
      return 1;
    }
    let offset = dataOffset;
    for (let i = 0; i < count; i++) {
      const size = this.#sizes[i] as number;
      sink.onAudioFrame(payload.subarray(offset, offset + size), pkt.timestamp, i);
      offset += size;
    }
    return count;
  }

  /**
   * Checks the packet's AUs (AU-sizes already in #sizes) against its data, which starts at `dataOffset`.
   * @returns the number of whole AUs in the packet, 0 when it starts or continues a fragmented AU, -1 when it
   *   completes one (the fragments are then in #fragments).
   * @throws GatewayError on a malformed packet.
   */
  #read(pkt: RtpPacket, dataOffset: number): number {
    const count = this.#sizeCount;
    const payload = pkt.payload;
    const dataLength = payload.length - dataOffset;
    if (this.#fragments.length > 0) {
      if (pkt.timestamp === this.#fragmentsTimestamp) return this.#continueFragment(pkt, payload.subarray(dataOffset));
      this.#resetFragments();
      this.#onError(new GatewayError(ErrorCode.RtpPayload, `MPEG4-GENERIC: fragmented AU at ${this.#fragmentsTimestamp} not completed before timestamp ${pkt.timestamp}; dropped`));
    }
    const sizes = this.#sizes;
    if (count === 1 && (sizes[0] as number) > dataLength) {
      // First fragment of an AU (§3.2.3.1): AU-size is the whole AU.
      if (pkt.marker) throw payloadError(`AU-size ${sizes[0]} > ${dataLength} bytes in a packet with the marker bit (truncated AU)`);
      this.#fragments.push(payload.subarray(dataOffset));
      this.#fragmentsSize = dataLength;
      this.#fragmentedAuSize = sizes[0] as number;
      this.#fragmentsTimestamp = pkt.timestamp;
      return 0;
    }
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const size = sizes[i] as number;
      if (offset + size > dataLength) throw payloadError(`AU ${i} of ${size} bytes runs past the payload (${dataLength - offset} left)`);
      offset += size;
    }
    return count;
  }

  /** @returns 0 while the AU is incomplete, -1 when this fragment completes it. */
  #continueFragment(pkt: RtpPacket, data: Buffer): number {
    const count = this.#sizeCount;
    if (count !== 1 || this.#sizes[0] !== this.#fragmentedAuSize) {
      throw payloadError(`fragment of a ${this.#fragmentedAuSize}-byte AU announces ${count} AU(s) of ${this.#sizes.subarray(0, count).join(',')} bytes`);
    }
    if (this.#fragmentsSize + data.length > this.#fragmentedAuSize) {
      throw payloadError(`fragments exceed AU-size ${this.#fragmentedAuSize}`);
    }
    this.#fragments.push(data);
    this.#fragmentsSize += data.length;
    if (this.#fragmentsSize < this.#fragmentedAuSize) {
      if (pkt.marker) throw payloadError(`last fragment leaves the AU at ${this.#fragmentsSize} of ${this.#fragmentedAuSize} bytes`);
      return 0;
    }
    return -1;
  }

  /**
   * AU Header Section (§3.2.1) and Auxiliary Section (§3.2.2): AU sizes into #sizes / #sizeCount.
   * @returns where the AU data starts. @throws GatewayError on a malformed section.
   */
  #readHeaders(payload: Buffer): number {
    this.#sizeCount = 0;
    const f = this.#fmtp;
    if (payload.length < 2) throw payloadError(`${payload.length}-byte payload, no AU-headers-length`);
    const headersBits = payload.readUInt16BE(0);
    if (headersBits === 0) throw payloadError('AU-headers-length 0 (AAC modes need AU-size)');
    const headersEnd = 2 + Math.ceil(headersBits / 8);
    if (headersEnd > payload.length) throw payloadError(`AU-headers-length ${headersBits} bits runs past the ${payload.length}-byte payload`);
    const r = new BitReader(payload.subarray(2, headersEnd), ErrorCode.RtpPayload);
    let count = 0;
    while (r.position < headersBits) {
      if (count === MAX_AUS_PER_PACKET) throw payloadError(`more than ${MAX_AUS_PER_PACKET} AU-headers`);
      const size = r.readBits(f.sizeLength);
      const index = r.readBits(count === 0 ? f.indexLength : f.indexDeltaLength);
      if (index !== 0) throw payloadError(`AU-${count === 0 ? 'Index' : 'Index-delta'} ${index}: interleaving is not supported`);
      if (f.ctsDeltaLength > 0 && r.readFlag()) r.skipBits(f.ctsDeltaLength);
      if (f.dtsDeltaLength > 0 && r.readFlag()) r.skipBits(f.dtsDeltaLength);
      if (f.randomAccessIndication) r.skipBits(1);
      r.skipBits(f.streamStateIndication);
      if (size === 0 || size > MAX_AAC_RAW_FRAME_SIZE) throw payloadError(`AU-size ${size} (1..${MAX_AAC_RAW_FRAME_SIZE})`);
      this.#sizes[count++] = size;
    }
    this.#sizeCount = count;
    if (r.position !== headersBits) throw payloadError(`AU-headers take ${r.position} bits, AU-headers-length says ${headersBits}`);
    let dataOffset = headersEnd;
    if (f.auxiliaryDataSizeLength > 0) {
      const aux = new BitReader(payload.subarray(dataOffset), ErrorCode.RtpPayload);
      const auxBits = aux.readBits(f.auxiliaryDataSizeLength);
      dataOffset += Math.ceil((f.auxiliaryDataSizeLength + auxBits) / 8);
      if (dataOffset > payload.length) throw payloadError(`auxiliary-data-size ${auxBits} bits runs past the payload`);
    }
    return dataOffset;
  }

  #resetFragments(): void {
    this.#fragments.length = 0;
    this.#fragmentsSize = 0;
    this.#fragmentedAuSize = 0;
  }
}

function payloadError(message: string): GatewayError {
  return new GatewayError(ErrorCode.RtpPayload, message);
}

// --- AudioSpecificConfig walker (ISO/IEC 14496-3 1.6.2.1) -------------------------------------------------------

/** audioObjectType escape (31 → 32 + 6 bits), SBR (5), PS (29), ER BSAC (22). */
const AOT_ESCAPE = 31;
const AOT_SBR = 5;
const AOT_PS = 29;
const AOT_ER_BSAC = 22;
/** Object types whose specific config is GASpecificConfig (Table 1.15). */
const GA_OBJECT_TYPES = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23]);
/** Error-resilient object types: epConfig (2 bits) follows the specific config. */
const ER_OBJECT_TYPES = new Set([17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 39]);
/** syncExtensionType of the backward-compatible SBR/PS signaling (1.6.2.1). */
const SYNC_EXTENSION_SBR = 0x2b7;
const SYNC_EXTENSION_PS = 0x548;

/** A walked AudioSpecificConfig. */
export interface WalkedAudioSpecificConfig {
  readonly asc: AudioSpecificConfig;
  /** The ASC bits copied out, zero-padded to a byte. */
  readonly ascBytes: Buffer;
  /** GASpecificConfig frameLengthFlag (960-sample frames); false for object types not walked. */
  readonly frameLengthFlag: boolean;
  /** Bits the ASC takes (the given ascLenBits when the object type cannot be walked). */
  readonly bitLength: number;
}

/** 960 samples per frame with frameLengthFlag, else 1024. */
export function samplesPerFrameOf(frameLengthFlag: boolean): number {
  return frameLengthFlag ? AAC_SAMPLES_PER_FRAME_960 : AAC_SAMPLES_PER_FRAME;
}

/**
 * Walk an AudioSpecificConfig starting at bit `startBit` of `data`.
 * @param ascLenBits the ASC's length when known (an SDP config, LATM audioMuxVersion 1): bounds the sync-extension
 *   probe, and lets an object type without GASpecificConfig pass; undefined = it runs to the end of `data` at most.
 * @throws GatewayError(errorCode) on truncation, AOT 0, a reserved frequency index, channelConfiguration 0
 *   (program_config_element), epConfig 2/3, or (without ascLenBits) an object type that cannot be walked.
 */
export function readAudioSpecificConfig(data: Uint8Array, startBit: number, ascLenBits: number | undefined, errorCode: ErrorCode): WalkedAudioSpecificConfig {
  const fail = (message: string): GatewayError => new GatewayError(errorCode, `AudioSpecificConfig: ${message}`);
  const r = new BitReader(data, errorCode);
  r.skipBits(startBit);
  const endBit = ascLenBits === undefined ? data.length * 8 : startBit + ascLenBits;
  const readAot = (reader: BitReader): number => {
    const aot = reader.readBits(5);
    const full = aot === AOT_ESCAPE ? 32 + reader.readBits(6) : aot;
    if (full === 0) throw fail('audioObjectType 0');
    return full;
  };
  const readFrequency = (reader: BitReader): { index: number; hz: number } => {
    const index = reader.readBits(4);
    if (index === 0xf) return { index, hz: reader.readBits(24) };
    if (index >= SAMPLING_FREQUENCIES.length) throw fail(`reserved samplingFrequencyIndex ${index}`);
    return { index, hz: SAMPLING_FREQUENCIES[index]! };
  };
  let audioObjectType = readAot(r);
  const core = readFrequency(r);
  if (core.hz === 0) throw fail('samplingFrequency 0');
  const channelConfiguration = r.readBits(4);
  let extensionAudioObjectType: number | undefined;
  let extensionSamplingFrequency: number | undefined;
  if (audioObjectType === AOT_SBR || audioObjectType === AOT_PS) {
    extensionAudioObjectType = audioObjectType;
    extensionSamplingFrequency = readFrequency(r).hz;
    audioObjectType = readAot(r);
    if (audioObjectType === AOT_ER_BSAC) r.skipBits(4); // extensionChannelConfiguration
  }
  let frameLengthFlag = false;
  if (GA_OBJECT_TYPES.has(audioObjectType)) {
    frameLengthFlag = r.readFlag();
    if (r.readFlag()) r.skipBits(14); // dependsOnCoreCoder → coreCoderDelay
    const extensionFlag = r.readFlag();
    if (channelConfiguration === 0) throw fail('channelConfiguration 0 (program_config_element) is not supported');
    if (audioObjectType === 6 || audioObjectType === 20) r.skipBits(3); // layerNr
    if (extensionFlag) {
      if (audioObjectType === AOT_ER_BSAC) r.skipBits(5 + 11); // numOfSubFrame, layer_length
      if (audioObjectType === 17 || audioObjectType === 19 || audioObjectType === 20 || audioObjectType === 23) r.skipBits(3);
      r.skipBits(1); // extensionFlag3
    }
    if (ER_OBJECT_TYPES.has(audioObjectType)) {
      const epConfig = r.readBits(2);
      if (epConfig >= 2) throw fail(`epConfig ${epConfig} (ErrorProtectionSpecificConfig) is not supported`);
    }
  } else if (ascLenBits === undefined) {
    throw fail(`audioObjectType ${audioObjectType} cannot be walked without a known ASC length`);
  } else {
    r.skipBits(endBit - r.position);
  }
  // Backward-compatible SBR/PS signaling: "extensionAudioObjectType != 5 && bits_to_decode() >= 16".
  if (extensionAudioObjectType === undefined && endBit - r.position >= 16) {
    const probe = new BitReader(data, errorCode);
    probe.skipBits(r.position);
    if (probe.readBits(11) === SYNC_EXTENSION_SBR) {
      const extAot = readAot(probe);
      if (extAot === AOT_SBR && probe.readFlag()) {
        extensionAudioObjectType = AOT_SBR;
        extensionSamplingFrequency = readFrequency(probe).hz;
        if (endBit - probe.position >= 12) {
          const psProbe = new BitReader(data, errorCode);
          psProbe.skipBits(probe.position);
          if (psProbe.readBits(11) === SYNC_EXTENSION_PS) {
            probe.skipBits(11);
            if (probe.readFlag()) extensionAudioObjectType = AOT_PS;
          }
        }
      } else if (extAot === AOT_ER_BSAC) {
        if (probe.readFlag()) readFrequency(probe); // sbrPresentFlag → extensionSamplingFrequency (BSAC: not recorded)
        probe.skipBits(4); // extensionChannelConfiguration
      }
      if (probe.position > endBit) throw fail('sync extension runs past the ASC length');
      r.skipBits(probe.position - r.position);
    }
  }
  const bitLength = r.position - startBit;
  const asc: AudioSpecificConfig = { audioObjectType, samplingFrequencyIndex: core.index, samplingFrequency: core.hz, channelConfiguration };
  if (extensionAudioObjectType !== undefined && extensionSamplingFrequency !== undefined) {
    asc.extensionAudioObjectType = extensionAudioObjectType;
    asc.extensionSamplingFrequency = extensionSamplingFrequency;
  }
  return { asc, ascBytes: copyBits(data, startBit, bitLength), frameLengthFlag, bitLength };
}

/** Copy `bitLength` bits from bit `startBit` of `data` into a new zero-padded Buffer. */
function copyBits(data: Uint8Array, startBit: number, bitLength: number): Buffer {
  const out = Buffer.alloc(Math.ceil(bitLength / 8));
  const r = new BitReader(data);
  r.skipBits(startBit);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.min(8, bitLength - i * 8);
    out[i] = r.readBits(bits) << (8 - bits);
  }
  return out;
}
