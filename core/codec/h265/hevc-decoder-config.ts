/**
 * HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1): the body of an Enhanced RTMP `hvc1` SequenceStart (and
 * of a legacy CodecID 12 sequence header) and of the MP4 `hvcC` box.
 *
 * The builder fills the fields the way ffmpeg's `ff_isom_write_hvcc` does (libavformat/hevc.c), so the record is
 * byte-identical to ffmpeg's `hvcC` for `hvc1` (array_completeness = 1) for the same parameter sets: the general
 * profile/tier/level merged from VPS and SPS, min_spatial_segmentation_idc from the SPS VUI, parallelismType from
 * the PPS, numTemporalLayers = max(VPS, SPS sub-layers), avgFrameRate and constantFrameRate 0, 4-byte NALU lengths.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { H265NaluType, h265NaluType } from './nalu.ts';
import { parseH265Pps, parseH265Sps, parseH265Vps, type H265ProfileTierLevel } from './sps.ts';

const CONFIGURATION_VERSION = 1;
/** NALU lengths written by this gateway are 4 bytes. */
const LENGTH_SIZE_MINUS_ONE = 3;
/** Fixed part of the record before the arrays (8.3.3.1.1): 22 bytes + numOfArrays. */
const FIXED_PART_SIZE = 23;
/** nalUnitLength is 16 bits. */
export const MAX_HEVC_PARAMETER_SET_LENGTH = 0xffff;
/** numOfArrays is 8 bits; real records carry 3 (VPS, SPS, PPS) to 5 (+ SEI). */
const MAX_ARRAYS = 255;
/** NAL units per parameter-set array kept by the parser (numNalus is 16 bits; VPS/SPS/PPS ids allow 16/16/64). */
export const MAX_HEVC_NALUS_PER_ARRAY = 64;
/** parallelismType (8.3.3.1.2): 0 mixed/unknown, 1 slice, 2 tile, 3 wavefront. */
const ParallelismType = { Mixed: 0, Slice: 1, Tile: 2, Wavefront: 3 } as const;

export interface HevcDecoderConfig {
  lengthSizeMinusOne: number;
  /** NAL units of the VPS/SPS/PPS arrays (views into the record); other arrays (SEI) are skipped. */
  vps: Buffer[];
  sps: Buffer[];
  pps: Buffer[];
}

/**
 * Build a record (lengthSizeMinusOne = 3, array_completeness = 1) from one VPS, SPS and PPS NAL unit (with their
 * 2-byte headers, no start codes).
 * @throws GatewayError(HevcConfig) on a wrong NAL type or an oversized parameter set; GatewayError(H265Sps) when
 *   a parameter set cannot be parsed.
 */
export function buildHevcDecoderConfigurationRecord(vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): Buffer {
  const sets: Array<[number, Uint8Array]> = [[H265NaluType.Vps, vps], [H265NaluType.Sps, sps], [H265NaluType.Pps, pps]];
  let size = FIXED_PART_SIZE;
  for (const [type, ps] of sets) {
    if (ps.length < 3 || ps.length > MAX_HEVC_PARAMETER_SET_LENGTH) throw configError(`parameter set of ${ps.length} bytes`);
    if (h265NaluType(ps) !== type) throw configError(`NAL type ${h265NaluType(ps)} where ${type} was expected`);
    size += 3 + 2 + ps.length; // array header (type + numNalus) + nalUnitLength + NAL unit
  }
  const vpsInfo = parseH265Vps(vps);
  const spsInfo = parseH265Sps(sps);
  const ppsInfo = parseH265Pps(pps);
  const ptl = mergeProfileTierLevel(vpsInfo, spsInfo);
  const minSpatialSegmentationIdc = spsInfo.minSpatialSegmentationIdc;
  let parallelismType: number;
  if (minSpatialSegmentationIdc === 0) parallelismType = ParallelismType.Mixed;
  else if (ppsInfo.entropyCodingSyncEnabledFlag && ppsInfo.tilesEnabledFlag) parallelismType = ParallelismType.Mixed;
  else if (ppsInfo.entropyCodingSyncEnabledFlag) parallelismType = ParallelismType.Wavefront;
  else if (ppsInfo.tilesEnabledFlag) parallelismType = ParallelismType.Tile;
  else parallelismType = ParallelismType.Slice;
  const numTemporalLayers = Math.max(vpsInfo.numTemporalLayers, spsInfo.numTemporalLayers);

  const out = Buffer.allocUnsafe(size);
  out[0] = CONFIGURATION_VERSION;
  out[1] = (ptl.profileSpace << 6) | (ptl.tierFlag << 5) | ptl.profileIdc;
  out.writeUInt32BE(ptl.profileCompatibilityFlags >>> 0, 2);
  out.set(ptl.constraintIndicatorFlags, 6);
  out[12] = ptl.levelIdc;
  out.writeUInt16BE(0xf000 | minSpatialSegmentationIdc, 13); // reserved '1111' + min_spatial_segmentation_idc
  out[15] = 0xfc | parallelismType;
  out[16] = 0xfc | spsInfo.chromaFormatIdc;
  out[17] = 0xf8 | (spsInfo.bitDepthLuma - 8);
  out[18] = 0xf8 | (spsInfo.bitDepthChroma - 8);
  out.writeUInt16BE(0, 19); // avgFrameRate: unspecified
  // constantFrameRate(2) = 0, numTemporalLayers(3), temporalIdNested(1), lengthSizeMinusOne(2)
  out[21] = ((numTemporalLayers & 0x07) << 3) | ((spsInfo.temporalIdNestingFlag ? 1 : 0) << 2) | LENGTH_SIZE_MINUS_ONE;
  out[22] = sets.length; // numOfArrays
  let o = FIXED_PART_SIZE;
  for (const [type, ps] of sets) {
    out[o] = 0x80 | type; // array_completeness = 1, reserved 0, NAL_unit_type
    out.writeUInt16BE(1, o + 1); // numNalus
    out.writeUInt16BE(ps.length, o + 3);
    out.set(ps, o + 5);
    o += 5 + ps.length;
  }
  return out;
}

/** ffmpeg's hvcc_update_ptl: tier and level take the maximum, compatibility/constraint flags the intersection. */
function mergeProfileTierLevel(a: H265ProfileTierLevel, b: H265ProfileTierLevel): H265ProfileTierLevel {
  const constraintIndicatorFlags = new Uint8Array(6);
  for (let i = 0; i < 6; i++) constraintIndicatorFlags[i] = a.constraintIndicatorFlags[i] & b.constraintIndicatorFlags[i];
  let levelIdc: number;
  if (a.tierFlag < b.tierFlag) levelIdc = b.levelIdc;
  else if (a.tierFlag > b.tierFlag) levelIdc = a.levelIdc;
  else levelIdc = Math.max(a.levelIdc, b.levelIdc);
  return {
    profileSpace: b.profileSpace,
    tierFlag: Math.max(a.tierFlag, b.tierFlag),
    profileIdc: Math.max(a.profileIdc, b.profileIdc),
    profileCompatibilityFlags: (a.profileCompatibilityFlags & b.profileCompatibilityFlags) >>> 0,
    constraintIndicatorFlags,
    levelIdc,
  };
}

/**
 * Parse a record: lengthSizeMinusOne and the VPS/SPS/PPS NAL units (views into `rec`); SEI and other arrays are
 * skipped. A record may list several of each; callers usually take the first.
 * @throws GatewayError(HevcConfig) on a wrong version, truncation, a NAL count over MAX_HEVC_NALUS_PER_ARRAY,
 *   lengthSizeMinusOne 2 (3-byte lengths) or a missing VPS/SPS/PPS.
 */
export function parseHevcDecoderConfigurationRecord(rec: Uint8Array): HevcDecoderConfig {
  if (rec.length < FIXED_PART_SIZE) throw configError(`record of ${rec.length} bytes is truncated`);
  if (rec[0] !== CONFIGURATION_VERSION) throw configError(`configurationVersion ${rec[0]}`);
  const lengthSizeMinusOne = rec[21] & 0x03;
  if (lengthSizeMinusOne === 2) throw configError('lengthSizeMinusOne 2 (3-byte lengths) is not allowed');
  const numOfArrays = rec[22];
  if (numOfArrays > MAX_ARRAYS) throw configError(`${numOfArrays} arrays`);
  const buf = Buffer.from(rec.buffer, rec.byteOffset, rec.byteLength);
  const out: HevcDecoderConfig = { lengthSizeMinusOne, vps: [], sps: [], pps: [] };
  let o = FIXED_PART_SIZE;
  for (let a = 0; a < numOfArrays; a++) {
    if (o + 3 > rec.length) throw configError(`array #${a} header truncated`);
    const type = rec[o] & 0x3f;
    const numNalus = (rec[o + 1] << 8) | rec[o + 2];
    o += 3;
    const list = type === H265NaluType.Vps ? out.vps : type === H265NaluType.Sps ? out.sps : type === H265NaluType.Pps ? out.pps : undefined;
    if (list !== undefined && numNalus > MAX_HEVC_NALUS_PER_ARRAY) throw configError(`${numNalus} NAL units of type ${type}`);
    for (let i = 0; i < numNalus; i++) {
      if (o + 2 > rec.length) throw configError(`array #${a} NAL unit #${i} length truncated`);
      const len = (rec[o] << 8) | rec[o + 1];
      o += 2;
      if (len === 0 || o + len > rec.length) throw configError(`array #${a} NAL unit #${i} of ${len} bytes truncated or empty`);
      list?.push(buf.subarray(o, o + len));
      o += len;
    }
  }
  if (out.vps.length === 0 || out.sps.length === 0 || out.pps.length === 0) {
    throw configError(`${out.vps.length} VPS / ${out.sps.length} SPS / ${out.pps.length} PPS`);
  }
  return out;
}

function configError(message: string): GatewayError {
  return new GatewayError(ErrorCode.HevcConfig, `HEVCDecoderConfigurationRecord: ${message}`);
}
