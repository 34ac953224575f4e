/**
 * AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1): the body of an FLV/RTMP AAC sequence header (AACPacketType 0),
 * the MP4 `esds` DecoderSpecificInfo and the SDP `config=` of RFC 3640. Handles the audioObjectType escape (31),
 * the explicit 24-bit sampling frequency (index 0xF) and explicit SBR/PS signaling (AOT 5/29, 1.6.5.2).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { BitReader } from '../bit-reader.ts';

/** Table 1.18 samplingFrequencyIndex → Hz (0x0..0xC; 0xD/0xE reserved, 0xF = explicit 24-bit value). */
export const SAMPLING_FREQUENCIES: readonly number[] = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];
/** samplingFrequencyIndex announcing an explicit 24-bit samplingFrequency. */
export const EXPLICIT_FREQUENCY_INDEX = 0xf;
/** audioObjectType escape: 31 → 32 + audioObjectTypeExt (6 bits). */
const AOT_ESCAPE = 31;
/** AOT 5 (SBR) and 29 (PS): explicit hierarchical signaling with an extension frequency and a core AOT. */
const AOT_SBR = 5;
const AOT_PS = 29;
/** Largest object type expressible: 32 + 63. */
const MAX_AUDIO_OBJECT_TYPE = 95;

export interface AudioSpecificConfig {
  /** Core audio object type (2 = AAC LC); for explicit SBR/PS signaling the AOT that follows the extension. */
  audioObjectType: number;
  /** Core samplingFrequencyIndex (0xF when the frequency is explicit). */
  samplingFrequencyIndex: number;
  /** Core sampling frequency in Hz. */
  samplingFrequency: number;
  /** 0 = defined by a program_config_element, 1..7 = Table 1.19. */
  channelConfiguration: number;
  /** Explicit SBR/PS signaling: 5 (HE-AAC) or 29 (HE-AAC v2). Absent for implicit signaling. */
  extensionAudioObjectType?: number;
  /** SBR output sampling frequency in Hz (with extensionAudioObjectType). */
  extensionSamplingFrequency?: number;
}

/**
 * Parse an AudioSpecificConfig. Only the leading fields are read; GASpecificConfig and later are ignored.
 * @throws GatewayError(AacConfig) on truncation, AOT 0, a reserved frequency index or a zero frequency.
 */
export function parseAudioSpecificConfig(b: Uint8Array): AudioSpecificConfig {
  const r = new BitReader(b, ErrorCode.AacConfig);
  let audioObjectType = readAudioObjectType(r);
  const core = readFrequency(r);
  const channelConfiguration = r.readBits(4);
  const asc: AudioSpecificConfig = {
    audioObjectType, samplingFrequencyIndex: core.index, samplingFrequency: core.hz, channelConfiguration,
  };
  if (audioObjectType === AOT_SBR || audioObjectType === AOT_PS) {
    const extension = readFrequency(r);
    asc.extensionAudioObjectType = audioObjectType;
    asc.extensionSamplingFrequency = extension.hz;
    audioObjectType = readAudioObjectType(r);
    asc.audioObjectType = audioObjectType;
  }
  return asc;
}

function readAudioObjectType(r: BitReader): number {
  let aot = r.readBits(5);
  if (aot === AOT_ESCAPE) aot = 32 + r.readBits(6);
  if (aot === 0) throw ascError('audioObjectType 0 (null object)');
  return aot;
}

function readFrequency(r: BitReader): { index: number; hz: number } {
  const index = r.readBits(4);
  if (index === EXPLICIT_FREQUENCY_INDEX) {
    const hz = r.readBits(24);
    if (hz === 0) throw ascError('explicit samplingFrequency 0');
    return { index, hz };
  }
  if (index >= SAMPLING_FREQUENCIES.length) throw ascError(`reserved samplingFrequencyIndex ${index}`);
  return { index, hz: SAMPLING_FREQUENCIES[index] };
}

/**
 * Serialize: object type (escaped when ≥ 31), frequency index (explicit 24-bit value for index 0xF, or when
 * the index does not match the rate and the rate is not in Table 1.18), channelConfiguration, the SBR/PS
 * extension when present, then a GASpecificConfig with frameLengthFlag/dependsOnCoreCoder/extensionFlag all 0;
 * zero-padded to a byte.
 * @throws GatewayError(AacConfig) on an out-of-range field.
 */
export function writeAudioSpecificConfig(asc: AudioSpecificConfig): Buffer {
  const w = new AscBitWriter();
  const extension = asc.extensionAudioObjectType;
  if (extension !== undefined) {
    writeAudioObjectType(w, extension);
    writeFrequency(w, asc.samplingFrequencyIndex, asc.samplingFrequency);
    writeChannels(w, asc.channelConfiguration);
    const extHz = asc.extensionSamplingFrequency ?? asc.samplingFrequency * 2;
    writeFrequency(w, frequencyIndexOf(extHz), extHz);
    writeAudioObjectType(w, asc.audioObjectType);
  } else {
    writeAudioObjectType(w, asc.audioObjectType);
    writeFrequency(w, asc.samplingFrequencyIndex, asc.samplingFrequency);
    writeChannels(w, asc.channelConfiguration);
  }
  w.write(0, 3); // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag
  return w.finish();
}

function writeAudioObjectType(w: AscBitWriter, aot: number): void {
  if (!Number.isInteger(aot) || aot < 1 || aot > MAX_AUDIO_OBJECT_TYPE) throw ascError(`audioObjectType ${aot}`);
  if (aot >= AOT_ESCAPE) {
    w.write(AOT_ESCAPE, 5);
    w.write(aot - 32, 6);
  } else {
    w.write(aot, 5);
  }
}

function writeFrequency(w: AscBitWriter, index: number, hz: number): void {
  const i = index === EXPLICIT_FREQUENCY_INDEX || SAMPLING_FREQUENCIES[index] === hz ? index : frequencyIndexOf(hz);
  w.write(i, 4);
  if (i === EXPLICIT_FREQUENCY_INDEX) {
    if (!Number.isInteger(hz) || hz <= 0 || hz > 0xffffff) throw ascError(`samplingFrequency ${hz}`);
    w.write(hz, 24);
  }
}

function writeChannels(w: AscBitWriter, channelConfiguration: number): void {
  if (!Number.isInteger(channelConfiguration) || channelConfiguration < 0 || channelConfiguration > 15) {
    throw ascError(`channelConfiguration ${channelConfiguration}`);
  }
  w.write(channelConfiguration, 4);
}

/** Table index of a rate, or 0xF (explicit) when the rate is not in Table 1.18. */
function frequencyIndexOf(hz: number): number {
  const i = SAMPLING_FREQUENCIES.indexOf(hz);
  return i >= 0 ? i : EXPLICIT_FREQUENCY_INDEX;
}

/** True when two configs describe the same stream (a change means a new sequence header). */
export function ascEquals(a: AudioSpecificConfig, b: AudioSpecificConfig): boolean {
  return (
    a.audioObjectType === b.audioObjectType &&
    a.samplingFrequency === b.samplingFrequency &&
    a.channelConfiguration === b.channelConfiguration &&
    a.extensionAudioObjectType === b.extensionAudioObjectType &&
    a.extensionSamplingFrequency === b.extensionSamplingFrequency
  );
}

/** Minimal MSB-first writer for the few fields of an ASC (at most 5 + 6 + 4 + 24 + 4 + 4 + 24 + 11 + 3 bits). */
class AscBitWriter {
  readonly #bytes = new Uint8Array(16);
  #bitPos = 0;

  write(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      const bit = Math.floor(value / 2 ** i) % 2;
      if (bit) this.#bytes[this.#bitPos >> 3] |= 0x80 >> (this.#bitPos & 7);
      this.#bitPos++;
    }
  }

  finish(): Buffer {
    return Buffer.from(this.#bytes.subarray(0, (this.#bitPos + 7) >> 3));
  }
}

function ascError(message: string): GatewayError {
  return new GatewayError(ErrorCode.AacConfig, `AudioSpecificConfig: ${message}`);
}
