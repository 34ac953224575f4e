/**
 * ADTS frame header (ISO/IEC 14496-3 1.A.2.2 adts_fixed_header + adts_variable_header, 1.A.3.2 semantics;
 * same layout as ISO/IEC 13818-7 6.2). 7 bytes, or 9 with the CRC (protection_absent = 0).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { SAMPLING_FREQUENCIES } from './audio-specific-config.ts';
import type { AudioSpecificConfig } from './audio-specific-config.ts';

/** Header size without / with the 16-bit CRC. */
export const ADTS_HEADER_LENGTH = 7;
export const ADTS_HEADER_LENGTH_WITH_CRC = 9;
/** aac_frame_length is 13 bits. */
export const MAX_ADTS_FRAME_LENGTH = 0x1fff;
/** adts_buffer_fullness 0x7FF = variable bit rate. */
const BUFFER_FULLNESS_VBR = 0x7ff;

export interface AdtsHeader {
  /** profile_ObjectType + 1 (2 = AAC LC). */
  objectType: number;
  samplingFrequencyIndex: number;
  channelConfiguration: number;
  /** aac_frame_length: the whole frame, header included. */
  frameLength: number;
  headerLength: 7 | 9;
  /** number_of_raw_data_blocks_in_frame (0 = one block). */
  numRawDataBlocks: number;
}

/** True when a syncword (0xFFF) with layer '00' starts at `offset` (false when fewer than 2 bytes remain). */
export function isAdtsSyncAt(buf: Uint8Array, offset: number): boolean {
  return offset + 1 < buf.length && buf[offset] === 0xff && (buf[offset + 1] & 0xf6) === 0xf0;
}

/**
 * Parse the header at `offset`.
 * @returns undefined when fewer bytes than the header remain (need more data).
 * @throws GatewayError(AacAdts) on a bad syncword or layer, a reserved sampling_frequency_index, or
 *   aac_frame_length shorter than the header.
 */
export function parseAdtsHeader(buf: Uint8Array, offset: number): AdtsHeader | undefined {
  const available = buf.length - offset;
  if (available >= 1 && buf[offset] !== 0xff) throw adtsError(`bad syncword at ${offset}`);
  if (available >= 2 && (buf[offset + 1] & 0xf6) !== 0xf0) throw adtsError(`bad syncword or layer at ${offset}`);
  if (available < ADTS_HEADER_LENGTH) return undefined;
  const b1 = buf[offset + 1];
  const b2 = buf[offset + 2];
  const b3 = buf[offset + 3];
  const protectionAbsent = b1 & 0x01;
  const headerLength = protectionAbsent ? ADTS_HEADER_LENGTH : ADTS_HEADER_LENGTH_WITH_CRC;
  const samplingFrequencyIndex = (b2 >> 2) & 0x0f;
  if (samplingFrequencyIndex >= SAMPLING_FREQUENCIES.length) {
    throw adtsError(`reserved sampling_frequency_index ${samplingFrequencyIndex}`);
  }
  const frameLength = ((b3 & 0x03) << 11) | (buf[offset + 4] << 3) | (buf[offset + 5] >> 5);
  if (frameLength < headerLength) throw adtsError(`aac_frame_length ${frameLength} < header ${headerLength}`);
  if (available < headerLength) return undefined;
  return {
    objectType: (b2 >> 6) + 1,
    samplingFrequencyIndex,
    channelConfiguration: ((b2 & 0x01) << 2) | (b3 >> 6),
    frameLength,
    headerLength,
    numRawDataBlocks: buf[offset + 6] & 0x03,
  };
}

/**
 * Write a 7-byte ADTS header (MPEG-4 ID, no CRC, VBR fullness, one raw data block) for `payloadLength` bytes of
 * raw AAC. Only object types 1..4 fit the 2-bit profile field; an explicit-frequency ASC cannot be expressed.
 * @throws GatewayError(AacAdts) when the ASC or the length cannot be expressed in ADTS.
 */
export function writeAdtsHeader(out: Uint8Array, offset: number, asc: AudioSpecificConfig, payloadLength: number): void {
  const frameLength = ADTS_HEADER_LENGTH + payloadLength;
  if (payloadLength < 0 || frameLength > MAX_ADTS_FRAME_LENGTH) throw adtsError(`frame of ${frameLength} bytes`);
  if (asc.audioObjectType < 1 || asc.audioObjectType > 4) throw adtsError(`audioObjectType ${asc.audioObjectType} has no ADTS profile`);
  const sfi = asc.samplingFrequencyIndex;
  if (sfi >= SAMPLING_FREQUENCIES.length) throw adtsError(`samplingFrequencyIndex ${sfi} has no ADTS form`);
  if (asc.channelConfiguration > 7) throw adtsError(`channelConfiguration ${asc.channelConfiguration}`);
  out[offset] = 0xff; // syncword
  out[offset + 1] = 0xf1; // syncword, ID 0 (MPEG-4), layer 00, protection_absent 1
  out[offset + 2] = ((asc.audioObjectType - 1) << 6) | (sfi << 2) | (asc.channelConfiguration >> 2); // private_bit 0
  out[offset + 3] = ((asc.channelConfiguration & 0x03) << 6) | (frameLength >> 11); // original/home/copyright 0
  out[offset + 4] = (frameLength >> 3) & 0xff;
  out[offset + 5] = ((frameLength & 0x07) << 5) | (BUFFER_FULLNESS_VBR >> 6);
  out[offset + 6] = (BUFFER_FULLNESS_VBR & 0x3f) << 2; // number_of_raw_data_blocks_in_frame 0
}

function adtsError(message: string): GatewayError {
  return new GatewayError(ErrorCode.AacAdts, `ADTS: ${message}`);
}

/**
 * ASC equivalent to an ADTS header (1.A.2.2.1: profile_ObjectType + 1, sampling_frequency_index,
 * channel_configuration). HE-AAC in ADTS is signaled implicitly, so no extension is set.
 * @throws GatewayError(AacConfig) on a reserved frequency index.
 */
export function ascFromAdts(h: AdtsHeader): AudioSpecificConfig {
  const samplingFrequency = SAMPLING_FREQUENCIES[h.samplingFrequencyIndex];
  if (samplingFrequency === undefined) throw new GatewayError(ErrorCode.AacConfig, `AudioSpecificConfig: reserved samplingFrequencyIndex ${h.samplingFrequencyIndex}`);
  return {
    audioObjectType: h.objectType,
    samplingFrequencyIndex: h.samplingFrequencyIndex,
    samplingFrequency,
    channelConfiguration: h.channelConfiguration,
  };
}
