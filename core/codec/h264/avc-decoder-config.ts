/**
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): the body of an FLV/RTMP AVC sequence header
 * (AVCPacketType 0) and of the MP4 `avcC` box. Carries profile/level, the NALU length size and the SPS/PPS lists.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { parseSps } from './sps.ts';

/** numOfSequenceParameterSets is 5 bits (5.3.3.1.2). */
export const MAX_SPS_COUNT = 31;
/** numOfPictureParameterSets is 8 bits. */
export const MAX_PPS_COUNT = 255;
/** sequence/pictureParameterSetLength are 16 bits. */
export const MAX_PARAMETER_SET_LENGTH = 0xffff;
/** Profiles for which the record carries chroma_format/bit depth and SPS-extension fields (5.3.3.1.2). */
const PROFILES_WITH_EXTENSION: ReadonlySet<number> = new Set([100, 110, 122, 144]);
const CONFIGURATION_VERSION = 1;
/** NALU lengths written by this gateway are 4 bytes (lengthSizeMinusOne = 3). */
const LENGTH_SIZE_MINUS_ONE = 3;

export interface AvcDecoderConfigurationRecord {
  profileIdc: number;
  profileCompatibility: number;
  levelIdc: number;
  lengthSizeMinusOne: number;
  spsList: Uint8Array[];
  ppsList: Uint8Array[];
}

/**
 * Build a record (lengthSizeMinusOne = 3) from SPS and PPS NAL units (with their NAL headers, no start codes).
 * Profile, compatibility and level are copied from the first SPS; for High profiles (100/110/122/144) the
 * chroma_format/bit depth fields are filled from the parsed SPS, with no SPS extensions.
 * @throws GatewayError(AvcConfig) on empty/oversized lists or parameter sets; GatewayError(H264Sps) when the
 *   first SPS of a High profile cannot be parsed.
 */
export function buildAvcDecoderConfigurationRecord(spsList: Uint8Array[], ppsList: Uint8Array[]): Buffer {
  if (spsList.length === 0 || spsList.length > MAX_SPS_COUNT) throw configError(`${spsList.length} SPS (1..${MAX_SPS_COUNT})`);
  if (ppsList.length === 0 || ppsList.length > MAX_PPS_COUNT) throw configError(`${ppsList.length} PPS (1..${MAX_PPS_COUNT})`);
  let size = 7; // 5 fixed bytes + numOfSequenceParameterSets + numOfPictureParameterSets
  for (const ps of [...spsList, ...ppsList]) {
    if (ps.length === 0 || ps.length > MAX_PARAMETER_SET_LENGTH) throw configError(`parameter set of ${ps.length} bytes`);
    size += 2 + ps.length;
  }
  const sps0 = spsList[0];
  if (sps0.length < 4) throw configError(`SPS of ${sps0.length} bytes`);
  const profileIdc = sps0[1];
  const extension = PROFILES_WITH_EXTENSION.has(profileIdc) ? parseSps(sps0) : undefined;
  if (extension) size += 4;

  const out = Buffer.allocUnsafe(size);
  out[0] = CONFIGURATION_VERSION;
  out[1] = profileIdc; // AVCProfileIndication
  out[2] = sps0[2]; // profile_compatibility
  out[3] = sps0[3]; // AVCLevelIndication
  out[4] = 0xfc | LENGTH_SIZE_MINUS_ONE; // reserved '111111' + lengthSizeMinusOne
  out[5] = 0xe0 | spsList.length; // reserved '111' + numOfSequenceParameterSets
  let o = writeParameterSets(out, 6, spsList);
  out[o++] = ppsList.length;
  o = writeParameterSets(out, o, ppsList);
  if (extension) {
    out[o++] = 0xfc | extension.chromaFormatIdc; // reserved '111111' + chroma_format
    out[o++] = 0xf8 | (extension.bitDepthLuma - 8); // reserved '11111' + bit_depth_luma_minus8
    out[o++] = 0xf8 | (extension.bitDepthLuma - 8); // bit_depth_chroma_minus8 (x264/ffmpeg use luma depth)
    out[o++] = 0; // numOfSequenceParameterSetExt
  }
  return out;
}

function writeParameterSets(out: Buffer, offset: number, list: Uint8Array[]): number {
  let o = offset;
  for (const ps of list) {
    out.writeUInt16BE(ps.length, o);
    out.set(ps, o + 2);
    o += 2 + ps.length;
  }
  return o;
}

/**
 * Parse a record. SPS/PPS entries are views into `b`. Trailing High-profile extension bytes are ignored.
 * @throws GatewayError(AvcConfig) on a wrong version, truncation or an empty SPS/PPS list.
 */
export function parseAvcDecoderConfigurationRecord(b: Uint8Array): AvcDecoderConfigurationRecord {
  if (b.length < 7) throw configError(`record of ${b.length} bytes is truncated`);
  if (b[0] !== CONFIGURATION_VERSION) throw configError(`configurationVersion ${b[0]}`);
  const lengthSizeMinusOne = b[4] & 0x03;
  if (lengthSizeMinusOne === 2) throw configError('lengthSizeMinusOne 2 (3-byte lengths) is not allowed');
  const spsCount = b[5] & 0x1f;
  const sps = readParameterSets(b, 6, spsCount, 'SPS');
  if (sps.end >= b.length) throw configError('record truncated before numOfPictureParameterSets');
  const pps = readParameterSets(b, sps.end + 1, b[sps.end], 'PPS');
  if (sps.list.length === 0 || pps.list.length === 0) throw configError(`${sps.list.length} SPS / ${pps.list.length} PPS`);
  return { profileIdc: b[1], profileCompatibility: b[2], levelIdc: b[3], lengthSizeMinusOne, spsList: sps.list, ppsList: pps.list };
}

function readParameterSets(b: Uint8Array, offset: number, count: number, what: string): { list: Uint8Array[]; end: number } {
  const list: Uint8Array[] = [];
  let o = offset;
  for (let i = 0; i < count; i++) {
    if (o + 2 > b.length) throw configError(`${what} #${i} length truncated`);
    const len = (b[o] << 8) | b[o + 1];
    o += 2;
    if (len === 0 || o + len > b.length) throw configError(`${what} #${i} of ${len} bytes truncated or empty`);
    list.push(b.subarray(o, o + len));
    o += len;
  }
  return { list, end: o };
}

function configError(message: string): GatewayError {
  return new GatewayError(ErrorCode.AvcConfig, `AVCDecoderConfigurationRecord: ${message}`);
}
