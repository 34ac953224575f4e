/**
 * H.265 parameter sets (ITU-T H.265): the video parameter set's profile_tier_level (7.3.2.1, 7.3.3), the sequence
 * parameter set (7.3.2.2.1: picture size with conformance window, bit depths, POC lsb size, reorder depth,
 * short-term RPS 7.3.7, VUI E.2.1 with hrd_parameters E.2.2) and the fields of the picture parameter set
 * (7.3.2.3.1) that the slice header, the DTS extractor and the HEVCDecoderConfigurationRecord need.
 *
 * Input NAL units carry their 2-byte header; emulation prevention bytes are removed here. Parsers are pure.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { BitReader } from '../bit-reader.ts';
import { removeEmulationPrevention } from '../h264/nalu.ts';
import { H265_NALU_HEADER_SIZE, H265NaluType, h265NaluType } from './nalu.ts';

/** general_* fields of profile_tier_level (7.3.3). */
export interface H265ProfileTierLevel {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flag[0..31] as one uint32 (flag 0 = most significant bit). */
  profileCompatibilityFlags: number;
  /** The 48 bits from general_progressive_source_flag to general_inbld_flag/reserved bit, as 6 bytes. */
  constraintIndicatorFlags: Uint8Array;
  levelIdc: number;
}

export interface H265SpsInfo extends H265ProfileTierLevel {
  spsId: number;
  vpsId: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormatIdc: number;
  separateColourPlaneFlag: boolean;
  /** Picture size in luma samples, conformance window applied. */
  width: number;
  height: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** log2_max_pic_order_cnt_lsb_minus4 + 4. */
  log2MaxPocLsb: number;
  /** sps_max_num_reorder_pics of the highest sub-layer. */
  maxNumReorderPics: number;
  temporalIdNestingFlag: boolean;
  /** sps_max_sub_layers_minus1 + 1. */
  numTemporalLayers: number;
  /** vui_time_scale / vui_num_units_in_tick, when the VUI carries timing info. */
  fps?: number;
  /** VUI timing (E.2.1) when present: one picture lasts numUnitsInTick / timeScale seconds. */
  numUnitsInTick?: number;
  timeScale?: number;
  /** VUI bitstream_restriction min_spatial_segmentation_idc (0 when absent). */
  minSpatialSegmentationIdc: number;
}

export interface H265PpsInfo {
  ppsId: number;
  spsId: number;
  dependentSliceSegmentsEnabledFlag: boolean;
  outputFlagPresentFlag: boolean;
  numExtraSliceHeaderBits: number;
  tilesEnabledFlag: boolean;
  entropyCodingSyncEnabledFlag: boolean;
}

export interface H265VpsInfo extends H265ProfileTierLevel {
  vpsId: number;
  /** vps_max_sub_layers_minus1 + 1. */
  numTemporalLayers: number;
}

/** sps_max_sub_layers_minus1 / vps_max_sub_layers_minus1 are 3 bits with a maximum of 6 (7.4.3.2.1). */
const MAX_SUB_LAYERS_MINUS1 = 6;
/** sps_seq_parameter_set_id range (7.4.3.2.1). */
const MAX_SPS_ID = 15;
/** pps_pic_parameter_set_id range (7.4.3.3.1). */
const MAX_PPS_ID = 63;
/** bit_depth_*_minus8 range (7.4.3.2.1). */
const MAX_BIT_DEPTH_MINUS8 = 8;
/** log2_max_pic_order_cnt_lsb_minus4 range (7.4.3.2.1). */
const MAX_LOG2_POC_LSB_MINUS4 = 12;
/** Largest picture side: 8 · sqrt(MaxLumaPs) for level 6.2 (Table A.8, MaxLumaPs 35 651 584) ≈ 16 888. */
const MAX_PIC_SIDE = 16888;
/** sps_max_dec_pic_buffering_minus1 / sps_max_num_reorder_pics ≤ MaxDpbSize − 1 ≤ 15 (A.4.2). */
const MAX_DPB_SIZE = 16;
/** num_short_term_ref_pic_sets range (7.4.3.2.1). */
const MAX_SHORT_TERM_REF_PIC_SETS = 64;
/** num_long_term_ref_pics_sps range (7.4.3.2.1). */
const MAX_LONG_TERM_REF_PICS_SPS = 32;
/** cpb_cnt_minus1 range (E.3.2). */
const MAX_CPB_CNT_MINUS1 = 31;
/** aspect_ratio_idc announcing explicit sar_width/sar_height (Table E.1). */
const EXTENDED_SAR = 255;

/**
 * Parse a VPS NAL unit: id, sub-layer count and the general profile_tier_level.
 * @throws GatewayError(H265Sps) on a wrong NAL type or truncation.
 */
export function parseH265Vps(nalu: Uint8Array): H265VpsInfo {
  const r = rbspReader(nalu, H265NaluType.Vps, 'VPS');
  const vpsId = r.readBits(4);
  r.skipBits(8); // vps_base_layer_internal_flag, vps_base_layer_available_flag, vps_max_layers_minus1(6)
  const maxSubLayersMinus1 = bounded(r.readBits(3), MAX_SUB_LAYERS_MINUS1, 'vps_max_sub_layers_minus1');
  r.skipBits(17); // vps_temporal_id_nesting_flag, vps_reserved_0xffff_16bits
  const ptl = parseProfileTierLevel(r, maxSubLayersMinus1);
  return { ...ptl, vpsId, numTemporalLayers: maxSubLayersMinus1 + 1 };
}

/**
 * Parse an SPS NAL unit. The VUI is read leniently: a truncated or odd VUI leaves fps and
 * minSpatialSegmentationIdc as far as they were read.
 * @throws GatewayError(H265Sps) on a wrong NAL type, truncation, or an out-of-range field before the VUI.
 */
export function parseH265Sps(nalu: Uint8Array): H265SpsInfo {
  const r = rbspReader(nalu, H265NaluType.Sps, 'SPS');
  const vpsId = r.readBits(4);
  const maxSubLayersMinus1 = bounded(r.readBits(3), MAX_SUB_LAYERS_MINUS1, 'sps_max_sub_layers_minus1');
  const temporalIdNestingFlag = r.readFlag();
  const ptl = parseProfileTierLevel(r, maxSubLayersMinus1);
  const spsId = bounded(r.readUe(), MAX_SPS_ID, 'sps_seq_parameter_set_id');
  const chromaFormatIdc = bounded(r.readUe(), 3, 'chroma_format_idc');
  const separateColourPlaneFlag = chromaFormatIdc === 3 ? r.readFlag() : false;
  const picWidth = bounded(r.readUe(), MAX_PIC_SIDE, 'pic_width_in_luma_samples');
  const picHeight = bounded(r.readUe(), MAX_PIC_SIDE, 'pic_height_in_luma_samples');
  let width = picWidth;
  let height = picHeight;
  if (r.readFlag()) {
    // conformance_window_flag: offsets in chroma units (7-10, 7-11; SubWidthC/SubHeightC from Table 6-1)
    const chromaArrayType = separateColourPlaneFlag ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const left = r.readUe();
    const right = r.readUe();
    const top = r.readUe();
    const bottom = r.readUe();
    width -= subWidthC * (left + right);
    height -= subHeightC * (top + bottom);
  }
  if (width <= 0 || height <= 0) throw spsError(`picture size ${width}x${height}`);
  const bitDepthLuma = bounded(r.readUe(), MAX_BIT_DEPTH_MINUS8, 'bit_depth_luma_minus8') + 8;
  const bitDepthChroma = bounded(r.readUe(), MAX_BIT_DEPTH_MINUS8, 'bit_depth_chroma_minus8') + 8;
  const log2MaxPocLsb = bounded(r.readUe(), MAX_LOG2_POC_LSB_MINUS4, 'log2_max_pic_order_cnt_lsb_minus4') + 4;
  const subLayerOrderingInfoPresent = r.readFlag();
  let maxNumReorderPics = 0;
  for (let i = subLayerOrderingInfoPresent ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    bounded(r.readUe(), MAX_DPB_SIZE - 1, 'sps_max_dec_pic_buffering_minus1');
    maxNumReorderPics = bounded(r.readUe(), MAX_DPB_SIZE - 1, 'sps_max_num_reorder_pics');
    r.readUe(); // sps_max_latency_increase_plus1
  }
  r.readUe(); // log2_min_luma_coding_block_size_minus3
  r.readUe(); // log2_diff_max_min_luma_coding_block_size
  r.readUe(); // log2_min_luma_transform_block_size_minus2
  r.readUe(); // log2_diff_max_min_luma_transform_block_size
  r.readUe(); // max_transform_hierarchy_depth_inter
  r.readUe(); // max_transform_hierarchy_depth_intra
  if (r.readFlag() && r.readFlag()) skipScalingListData(r); // scaling_list_enabled_flag, sps_scaling_list_data_present_flag
  r.skipBits(2); // amp_enabled_flag, sample_adaptive_offset_enabled_flag
  if (r.readFlag()) {
    // pcm_enabled_flag
    r.skipBits(8); // pcm_sample_bit_depth_luma_minus1(4), pcm_sample_bit_depth_chroma_minus1(4)
    r.readUe(); // log2_min_pcm_luma_coding_block_size_minus3
    r.readUe(); // log2_diff_max_min_pcm_luma_coding_block_size
    r.skipBits(1); // pcm_loop_filter_disabled_flag
  }
  const numShortTermRefPicSets = bounded(r.readUe(), MAX_SHORT_TERM_REF_PIC_SETS, 'num_short_term_ref_pic_sets');
  const sets: ShortTermRefPicSet[] = [];
  for (let i = 0; i < numShortTermRefPicSets; i++) sets.push(parseShortTermRefPicSet(r, i, sets));
  if (r.readFlag()) {
    // long_term_ref_pics_present_flag
    const n = bounded(r.readUe(), MAX_LONG_TERM_REF_PICS_SPS, 'num_long_term_ref_pics_sps');
    for (let i = 0; i < n; i++) r.skipBits(log2MaxPocLsb + 1); // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
  }
  r.skipBits(2); // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag

  const info: H265SpsInfo = {
    ...ptl, spsId, vpsId, chromaFormatIdc, separateColourPlaneFlag, width, height, bitDepthLuma, bitDepthChroma,
    log2MaxPocLsb, maxNumReorderPics, temporalIdNestingFlag, numTemporalLayers: maxSubLayersMinus1 + 1,
    minSpatialSegmentationIdc: 0,
  };
  if (r.readFlag()) {
    // vui_parameters_present_flag
    try {
      parseVui(r, maxSubLayersMinus1, info);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      // Truncated/odd VUI: keep what was read. Size, profile and POC fields do not depend on it.
    }
  }
  return info;
}

/**
 * Parse the PPS fields up to entropy_coding_sync_enabled_flag (7.3.2.3.1).
 * @throws GatewayError(H265Sps) on a wrong NAL type, truncation or an out-of-range id.
 */
export function parseH265Pps(nalu: Uint8Array): H265PpsInfo {
  const r = rbspReader(nalu, H265NaluType.Pps, 'PPS');
  const ppsId = bounded(r.readUe(), MAX_PPS_ID, 'pps_pic_parameter_set_id');
  const spsId = bounded(r.readUe(), MAX_SPS_ID, 'pps_seq_parameter_set_id');
  const dependentSliceSegmentsEnabledFlag = r.readFlag();
  const outputFlagPresentFlag = r.readFlag();
  const numExtraSliceHeaderBits = r.readBits(3);
  r.skipBits(2); // sign_data_hiding_enabled_flag, cabac_init_present_flag
  r.readUe(); // num_ref_idx_l0_default_active_minus1
  r.readUe(); // num_ref_idx_l1_default_active_minus1
  r.readSe(); // init_qp_minus26
  r.skipBits(2); // constrained_intra_pred_flag, transform_skip_enabled_flag
  if (r.readFlag()) r.readUe(); // cu_qp_delta_enabled_flag → diff_cu_qp_delta_depth
  r.readSe(); // pps_cb_qp_offset
  r.readSe(); // pps_cr_qp_offset
  r.skipBits(4); // pps_slice_chroma_qp_offsets_present_flag, weighted_pred_flag, weighted_bipred_flag, transquant_bypass_enabled_flag
  const tilesEnabledFlag = r.readFlag();
  const entropyCodingSyncEnabledFlag = r.readFlag();
  return {
    ppsId, spsId, dependentSliceSegmentsEnabledFlag, outputFlagPresentFlag, numExtraSliceHeaderBits,
    tilesEnabledFlag, entropyCodingSyncEnabledFlag,
  };
}

function rbspReader(nalu: Uint8Array, type: number, what: string): BitReader {
  if (nalu.length < H265_NALU_HEADER_SIZE + 2) throw spsError(`${what} too short (${nalu.length} bytes)`);
  if (h265NaluType(nalu) !== type) throw spsError(`NAL type ${h265NaluType(nalu)} is not a ${what}`);
  return new BitReader(removeEmulationPrevention(nalu.subarray(H265_NALU_HEADER_SIZE)), ErrorCode.H265Sps);
}

/** 7.3.3 profile_tier_level(1, maxNumSubLayersMinus1): general fields kept, sub-layer fields skipped. */
function parseProfileTierLevel(r: BitReader, maxNumSubLayersMinus1: number): H265ProfileTierLevel {
  const profileSpace = r.readBits(2);
  const tierFlag = r.readBits(1);
  const profileIdc = r.readBits(5);
  const profileCompatibilityFlags = r.readBits(32);
  const constraintIndicatorFlags = new Uint8Array(6);
  for (let i = 0; i < 6; i++) constraintIndicatorFlags[i] = r.readBits(8);
  const levelIdc = r.readBits(8);
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxNumSubLayersMinus1; i++) {
    profilePresent.push(r.readFlag());
    levelPresent.push(r.readFlag());
  }
  if (maxNumSubLayersMinus1 > 0) r.skipBits(2 * (8 - maxNumSubLayersMinus1)); // reserved_zero_2bits
  for (let i = 0; i < maxNumSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skipBits(88); // sub_layer profile space .. inbld/reserved
    if (levelPresent[i]) r.skipBits(8); // sub_layer_level_idc
  }
  return { profileSpace, tierFlag, profileIdc, profileCompatibilityFlags, constraintIndicatorFlags, levelIdc };
}

/** 7.3.4 scaling_list_data(): consumed, not kept. */
function skipScalingListData(r: BitReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!r.readFlag()) {
        r.readUe(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      const coefNum = Math.min(64, 1 << (4 + (sizeId << 1)));
      if (sizeId > 1) r.readSe(); // scaling_list_dc_coef_minus8
      for (let i = 0; i < coefNum; i++) r.readSe(); // scaling_list_delta_coef
    }
  }
}

/** DeltaPocS0/S1 of one short-term RPS (7.4.8); S0 negative, S1 positive, each in the spec's order. */
interface ShortTermRefPicSet {
  deltaPocS0: number[];
  deltaPocS1: number[];
}

/**
 * 7.3.7 st_ref_pic_set(stRpsIdx) as found in the SPS (stRpsIdx < num_short_term_ref_pic_sets), with the
 * inter-RPS prediction derivation of 7.4.8 (equations 7-61, 7-62) so the next sets know NumDeltaPocs.
 */
function parseShortTermRefPicSet(r: BitReader, idx: number, sets: readonly ShortTermRefPicSet[]): ShortTermRefPicSet {
  if (idx !== 0 && r.readFlag()) {
    // inter_ref_pic_set_prediction_flag; in the SPS delta_idx_minus1 is absent, so RefRpsIdx = idx − 1
    const ref = sets[idx - 1];
    const sign = r.readBit();
    const absDeltaRps = bounded(r.readUe(), 2 ** 15 - 1, 'abs_delta_rps_minus1') + 1;
    const deltaRps = sign ? -absDeltaRps : absDeltaRps;
    const numNeg = ref.deltaPocS0.length;
    const numDelta = numNeg + ref.deltaPocS1.length;
    const useDelta: boolean[] = [];
    for (let j = 0; j <= numDelta; j++) {
      const used = r.readFlag(); // used_by_curr_pic_flag
      useDelta.push(used ? true : r.readFlag()); // use_delta_flag (inferred 1)
    }
    const s0: number[] = [];
    const s1: number[] = [];
    for (let j = ref.deltaPocS1.length - 1; j >= 0; j--) {
      const dPoc = ref.deltaPocS1[j] + deltaRps;
      if (dPoc < 0 && useDelta[numNeg + j]) s0.push(dPoc);
    }
    if (deltaRps < 0 && useDelta[numDelta]) s0.push(deltaRps);
    for (let j = 0; j < numNeg; j++) {
      const dPoc = ref.deltaPocS0[j] + deltaRps;
      if (dPoc < 0 && useDelta[j]) s0.push(dPoc);
    }
    for (let j = numNeg - 1; j >= 0; j--) {
      const dPoc = ref.deltaPocS0[j] + deltaRps;
      if (dPoc > 0 && useDelta[j]) s1.push(dPoc);
    }
    if (deltaRps > 0 && useDelta[numDelta]) s1.push(deltaRps);
    for (let j = 0; j < ref.deltaPocS1.length; j++) {
      const dPoc = ref.deltaPocS1[j] + deltaRps;
      if (dPoc > 0 && useDelta[numNeg + j]) s1.push(dPoc);
    }
    if (s0.length + s1.length > MAX_DPB_SIZE) throw spsError(`short-term RPS #${idx} with ${s0.length + s1.length} pictures`);
    return { deltaPocS0: s0, deltaPocS1: s1 };
  }
  const numNegative = bounded(r.readUe(), MAX_DPB_SIZE, 'num_negative_pics');
  const numPositive = bounded(r.readUe(), MAX_DPB_SIZE - numNegative, 'num_positive_pics');
  const s0: number[] = [];
  const s1: number[] = [];
  let poc = 0;
  for (let i = 0; i < numNegative; i++) {
    poc -= bounded(r.readUe(), 2 ** 15 - 1, 'delta_poc_s0_minus1') + 1;
    r.skipBits(1); // used_by_curr_pic_s0_flag
    s0.push(poc);
  }
  poc = 0;
  for (let i = 0; i < numPositive; i++) {
    poc += bounded(r.readUe(), 2 ** 15 - 1, 'delta_poc_s1_minus1') + 1;
    r.skipBits(1); // used_by_curr_pic_s1_flag
    s1.push(poc);
  }
  return { deltaPocS0: s0, deltaPocS1: s1 };
}

/** E.2.1 vui_parameters(): timing info and min_spatial_segmentation_idc. */
function parseVui(r: BitReader, maxSubLayersMinus1: number, info: H265SpsInfo): void {
  if (r.readFlag() && r.readBits(8) === EXTENDED_SAR) r.skipBits(32); // aspect_ratio_info_present_flag → sar
  if (r.readFlag()) r.skipBits(1); // overscan_info_present_flag → overscan_appropriate_flag
  if (r.readFlag()) {
    // video_signal_type_present_flag: video_format(3) video_full_range_flag(1) colour_description_present_flag
    r.skipBits(4);
    if (r.readFlag()) r.skipBits(24);
  }
  if (r.readFlag()) {
    r.readUe(); // chroma_sample_loc_type_top_field
    r.readUe(); // chroma_sample_loc_type_bottom_field
  }
  r.skipBits(3); // neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag
  if (r.readFlag()) {
    // default_display_window_flag
    for (let i = 0; i < 4; i++) r.readUe();
  }
  if (r.readFlag()) {
    // vui_timing_info_present_flag
    const numUnitsInTick = r.readBits(32);
    const timeScale = r.readBits(32);
    if (numUnitsInTick > 0 && timeScale > 0) {
      info.numUnitsInTick = numUnitsInTick;
      info.timeScale = timeScale;
      info.fps = timeScale / numUnitsInTick;
    }
    if (r.readFlag()) r.readUe(); // vui_poc_proportional_to_timing_flag → vui_num_ticks_poc_diff_one_minus1
    if (r.readFlag()) skipHrdParameters(r, maxSubLayersMinus1); // vui_hrd_parameters_present_flag
  }
  if (r.readFlag()) {
    // bitstream_restriction_flag
    r.skipBits(3); // tiles_fixed_structure_flag, motion_vectors_over_pic_boundaries_flag, restricted_ref_pic_lists_flag
    info.minSpatialSegmentationIdc = bounded(r.readUe(), 4095, 'min_spatial_segmentation_idc');
  }
}

/** E.2.2 hrd_parameters(1, maxNumSubLayersMinus1): consumed field by field. */
function skipHrdParameters(r: BitReader, maxNumSubLayersMinus1: number): void {
  const nalHrd = r.readFlag();
  const vclHrd = r.readFlag();
  let subPicHrdParamsPresent = false;
  if (nalHrd || vclHrd) {
    subPicHrdParamsPresent = r.readFlag();
    if (subPicHrdParamsPresent) r.skipBits(19); // tick_divisor_minus2(8) du_cpb_removal_delay_increment_length_minus1(5) sub_pic_cpb_params_in_pic_timing_sei_flag(1) dpb_output_delay_du_length_minus1(5)
    r.skipBits(8); // bit_rate_scale, cpb_size_scale
    if (subPicHrdParamsPresent) r.skipBits(4); // cpb_size_du_scale
    r.skipBits(15); // initial_cpb_removal_delay_length_minus1, au_cpb_removal_delay_length_minus1, dpb_output_delay_length_minus1
  }
  for (let i = 0; i <= maxNumSubLayersMinus1; i++) {
    const fixedPicRateGeneral = r.readFlag();
    const fixedPicRateWithinCvs = fixedPicRateGeneral ? true : r.readFlag();
    let lowDelayHrd = false;
    if (fixedPicRateWithinCvs) r.readUe(); // elemental_duration_in_tc_minus1
    else lowDelayHrd = r.readFlag();
    const cpbCnt = lowDelayHrd ? 1 : bounded(r.readUe(), MAX_CPB_CNT_MINUS1, 'cpb_cnt_minus1') + 1;
    const layers = (nalHrd ? 1 : 0) + (vclHrd ? 1 : 0);
    for (let l = 0; l < layers; l++) {
      for (let k = 0; k < cpbCnt; k++) {
        r.readUe(); // bit_rate_value_minus1
        r.readUe(); // cpb_size_value_minus1
        if (subPicHrdParamsPresent) {
          r.readUe(); // cpb_size_du_value_minus1
          r.readUe(); // bit_rate_du_value_minus1
        }
        r.skipBits(1); // cbr_flag
      }
    }
  }
}

function bounded(value: number, max: number, name: string): number {
  if (value > max) throw spsError(`${name} ${value} out of range (max ${max})`);
  return value;
}

function spsError(message: string): GatewayError {
  return new GatewayError(ErrorCode.H265Sps, `H.265 parameter set: ${message}`);
}
