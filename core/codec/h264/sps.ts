/**
 * H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1 seq_parameter_set_data, E.1.1 vui_parameters,
 * E.1.2 hrd_parameters): profile/level, chroma format and bit depth (high profiles), picture size with
 * frame cropping, POC type, and from the VUI the frame rate (timing_info) and max_num_reorder_frames.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { BitReader } from '../bit-reader.ts';
import { NaluType, removeEmulationPrevention } from './nalu.ts';

export interface SpsInfo {
  profileIdc: number;
  /** constraint_set0..5_flag + reserved_zero_2bits: the whole byte after profile_idc. */
  constraintSetFlags: number;
  levelIdc: number;
  spsId: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 when absent). */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  /** Cropped picture size in luma samples. */
  width: number;
  height: number;
  frameMbsOnly: boolean;
  pocType: number;
  log2MaxFrameNum: number;
  /** log2_max_pic_order_cnt_lsb_minus4 + 4 when pocType is 0, else 0. */
  log2MaxPocLsb: number;
  /** time_scale / (2 · num_units_in_tick) from VUI timing_info; undefined when absent. */
  fps: number | undefined;
  /** VUI bitstream_restriction max_num_reorder_frames, when present. */
  maxNumReorderFrames?: number;
}

/** Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists (7.3.2.1.1 `if( profile_idc == 100 ...`). */
const HIGH_PROFILES: ReadonlySet<number> = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
/** seq_parameter_set_id range (7.4.2.1.1). */
const MAX_SPS_ID = 31;
/** bit_depth_luma/chroma_minus8 range (7.4.2.1.1). */
const MAX_BIT_DEPTH_MINUS8 = 6;
/** log2_max_frame_num_minus4 and log2_max_pic_order_cnt_lsb_minus4 range (7.4.2.1.1). */
const MAX_LOG2_MINUS4 = 12;
/** num_ref_frames_in_pic_order_cnt_cycle range (7.4.2.1.1). */
const MAX_REF_FRAMES_IN_POC_CYCLE = 255;
/** Largest picture side in macroblocks: sqrt(8 · MaxFS) for level 6.2 (Table A-1, MaxFS 139264) ≈ 1055. */
const MAX_PIC_SIDE_IN_MBS = 1055;
/** cpb_cnt_minus1 range (E.2.2). */
const MAX_CPB_CNT_MINUS1 = 31;
/** max_num_reorder_frames ≤ max_dec_frame_buffering ≤ MaxDpbFrames ≤ 16 (E.2.1, A.3.1). */
const MAX_REORDER_FRAMES = 16;
/** aspect_ratio_idc value announcing explicit sar_width/sar_height (Table E-1). */
const EXTENDED_SAR = 255;

/**
 * Parse an SPS NAL unit (including its 1-byte NAL header; emulation prevention bytes are removed here).
 * The VUI is parsed leniently: a truncated or odd VUI leaves fps/maxNumReorderFrames as far as they were read.
 * @throws GatewayError(H264Sps) on a wrong NAL type, truncation, or an out-of-range field.
 */
export function parseSps(nalu: Uint8Array): SpsInfo {
  if (nalu.length < 4) throw spsError(`SPS too short (${nalu.length} bytes)`);
  if ((nalu[0] & 0x1f) !== NaluType.Sps) throw spsError(`NAL type ${nalu[0] & 0x1f} is not an SPS`);
  const r = new BitReader(removeEmulationPrevention(nalu.subarray(1)), ErrorCode.H264Sps);

  const profileIdc = r.readBits(8);
  const constraintSetFlags = r.readBits(8);
  const levelIdc = r.readBits(8);
  const spsId = bounded(r.readUe(), MAX_SPS_ID, 'seq_parameter_set_id');

  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = bounded(r.readUe(), 3, 'chroma_format_idc');
    if (chromaFormatIdc === 3) separateColourPlane = r.readFlag();
    bitDepthLuma = bounded(r.readUe(), MAX_BIT_DEPTH_MINUS8, 'bit_depth_luma_minus8') + 8;
    bounded(r.readUe(), MAX_BIT_DEPTH_MINUS8, 'bit_depth_chroma_minus8');
    r.skipBits(1); // qpprime_y_zero_transform_bypass_flag
    if (r.readFlag()) {
      // seq_scaling_matrix_present_flag
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) {
        if (r.readFlag()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }

  const log2MaxFrameNum = bounded(r.readUe(), MAX_LOG2_MINUS4, 'log2_max_frame_num_minus4') + 4;
  const pocType = bounded(r.readUe(), 2, 'pic_order_cnt_type');
  let log2MaxPocLsb = 0;
  if (pocType === 0) {
    log2MaxPocLsb = bounded(r.readUe(), MAX_LOG2_MINUS4, 'log2_max_pic_order_cnt_lsb_minus4') + 4;
  } else if (pocType === 1) {
    r.skipBits(1); // delta_pic_order_always_zero_flag
    r.readSe(); // offset_for_non_ref_pic
    r.readSe(); // offset_for_top_to_bottom_field
    const cycle = bounded(r.readUe(), MAX_REF_FRAMES_IN_POC_CYCLE, 'num_ref_frames_in_pic_order_cnt_cycle');
    for (let i = 0; i < cycle; i++) r.readSe(); // offset_for_ref_frame[i]
  }
  r.readUe(); // max_num_ref_frames
  r.skipBits(1); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = bounded(r.readUe(), MAX_PIC_SIDE_IN_MBS - 1, 'pic_width_in_mbs_minus1') + 1;
  const heightInMapUnits = bounded(r.readUe(), MAX_PIC_SIDE_IN_MBS - 1, 'pic_height_in_map_units_minus1') + 1;
  const frameMbsOnly = r.readFlag();
  if (!frameMbsOnly) r.skipBits(1); // mb_adaptive_frame_field_flag
  r.skipBits(1); // direct_8x8_inference_flag

  let width = widthInMbs * 16;
  let height = (frameMbsOnly ? 1 : 2) * heightInMapUnits * 16;
  if (r.readFlag()) {
    // frame_cropping_flag; crop units per 7.4.2.1.1 (ChromaArrayType, SubWidthC, SubHeightC from Table 6-1)
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
    const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2);
    const left = r.readUe();
    const right = r.readUe();
    const top = r.readUe();
    const bottom = r.readUe();
    width -= cropUnitX * (left + right);
    height -= cropUnitY * (top + bottom);
    if (width <= 0 || height <= 0) throw spsError(`frame cropping leaves ${width}x${height}`);
  }

  const info: SpsInfo = {
    profileIdc, constraintSetFlags, levelIdc, spsId, chromaFormatIdc, bitDepthLuma, width, height,
    frameMbsOnly, pocType, log2MaxFrameNum, log2MaxPocLsb, fps: undefined,
  };
  if (r.readFlag()) parseVuiLeniently(r, info); // vui_parameters_present_flag
  return info;
}

function parseVuiLeniently(r: BitReader, info: SpsInfo): void {
  try {
    parseVui(r, info);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    // Truncated/odd VUI: keep what was read. Picture size, profile and level do not depend on it.
  }
}

/** E.1.1 vui_parameters(): fills fps and maxNumReorderFrames. */
function parseVui(r: BitReader, info: SpsInfo): void {
  if (r.readFlag()) {
    // aspect_ratio_info_present_flag
    if (r.readBits(8) === EXTENDED_SAR) r.skipBits(32); // sar_width, sar_height
  }
  if (r.readFlag()) r.skipBits(1); // overscan_info_present_flag → overscan_appropriate_flag
  if (r.readFlag()) {
    // video_signal_type_present_flag: video_format(3) video_full_range_flag(1) colour_description_present_flag
    r.skipBits(4);
    if (r.readFlag()) r.skipBits(24); // colour_primaries, transfer_characteristics, matrix_coefficients
  }
  if (r.readFlag()) {
    r.readUe(); // chroma_sample_loc_type_top_field
    r.readUe(); // chroma_sample_loc_type_bottom_field
  }
  if (r.readFlag()) {
    // timing_info_present_flag
    const numUnitsInTick = r.readBits(32);
    const timeScale = r.readBits(32);
    r.skipBits(1); // fixed_frame_rate_flag
    if (numUnitsInTick > 0 && timeScale > 0) info.fps = timeScale / (2 * numUnitsInTick);
  }
  const nalHrd = r.readFlag();
  if (nalHrd) skipHrdParameters(r);
  const vclHrd = r.readFlag();
  if (vclHrd) skipHrdParameters(r);
  if (nalHrd || vclHrd) r.skipBits(1); // low_delay_hrd_flag
  r.skipBits(1); // pic_struct_present_flag
  if (r.readFlag()) {
    // bitstream_restriction_flag
    r.skipBits(1); // motion_vectors_over_pic_boundaries_flag
    r.readUe(); // max_bytes_per_pic_denom
    r.readUe(); // max_bits_per_mb_denom
    r.readUe(); // log2_max_mv_length_horizontal
    r.readUe(); // log2_max_mv_length_vertical
    const reorder = r.readUe();
    r.readUe(); // max_dec_frame_buffering
    if (reorder <= MAX_REORDER_FRAMES) info.maxNumReorderFrames = reorder;
  }
}

/** E.1.2 hrd_parameters(): skipped field by field. */
function skipHrdParameters(r: BitReader): void {
  const cpbCnt = bounded(r.readUe(), MAX_CPB_CNT_MINUS1, 'cpb_cnt_minus1') + 1;
  r.skipBits(8); // bit_rate_scale(4), cpb_size_scale(4)
  for (let i = 0; i < cpbCnt; i++) {
    r.readUe(); // bit_rate_value_minus1
    r.readUe(); // cpb_size_value_minus1
    r.skipBits(1); // cbr_flag
  }
  r.skipBits(20); // initial_cpb_removal_delay_length_minus1, cpb_removal_delay_length_minus1, dpb_output_delay_length_minus1, time_offset_length
}

/** 7.3.2.1.1.1 scaling_list(): only the delta_scale values are consumed. */
function skipScalingList(r: BitReader, size: number): void {
  let lastScale = 8;
  let nextScale = 8;
  for (let j = 0; j < size; j++) {
    if (nextScale !== 0) {
      const deltaScale = r.readSe();
      if (deltaScale < -128 || deltaScale > 127) throw spsError(`delta_scale ${deltaScale} out of range`);
      nextScale = (lastScale + deltaScale + 256) % 256;
    }
    lastScale = nextScale === 0 ? lastScale : nextScale;
  }
}

function bounded(value: number, max: number, name: string): number {
  if (value > max) throw spsError(`${name} ${value} out of range (max ${max})`);
  return value;
}

function spsError(message: string): GatewayError {
  return new GatewayError(ErrorCode.H264Sps, `SPS: ${message}`);
}
