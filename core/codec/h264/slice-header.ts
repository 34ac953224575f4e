/**
 * H.264 slice header up to the picture order count fields (ITU-T H.264 7.3.3 slice_header(): first_mb_in_slice …
 * delta_pic_order_cnt[1]), the PPS fields it depends on (7.3.2.2: ids, bottom_field_pic_order_in_frame_present_flag)
 * and the SPS fields SpsInfo does not carry (7.3.2.1.1: separate_colour_plane_flag, delta_pic_order_always_zero_flag,
 * offset_for_non_ref_pic, offset_for_top_to_bottom_field, offset_for_ref_frame[]).
 *
 * Pure functions over one NAL unit (1-byte NAL header included); emulation prevention bytes are removed from a
 * bounded prefix only, so a large slice costs no copy of its data.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { BitReader } from '../bit-reader.ts';
import type { SpsInfo } from './sps.ts';
import { NaluType, removeEmulationPrevention } from './nalu.ts';

export interface SliceHeaderPoc {
  /** pic_parameter_set_id: the PPS this slice refers to. */
  readonly ppsId: number;
  /** slice_type 0..9 (Table 7-6; 5..9 = same as 0..4, all slices of the picture alike). */
  readonly sliceType: number;
  readonly frameNum: number;
  readonly fieldPic: boolean;
  readonly bottomField: boolean;
  /** Present in IDR slices only. */
  readonly idrPicId?: number;
  /** pic_order_cnt_type 0 only. */
  readonly picOrderCntLsb?: number;
  /** pic_order_cnt_type 0, frame pictures, when the PPS sets bottom_field_pic_order_in_frame_present_flag. */
  readonly deltaPicOrderCntBottom?: number;
  /** pic_order_cnt_type 1 without delta_pic_order_always_zero_flag. */
  readonly deltaPicOrderCnt0?: number;
  /** pic_order_cnt_type 1, frame pictures, with bottom_field_pic_order_in_frame_present_flag. */
  readonly deltaPicOrderCnt1?: number;
}

/** The PPS fields a slice header depends on (7.3.2.2). */
export interface PpsSliceInfo {
  readonly ppsId: number;
  readonly spsId: number;
  readonly bottomFieldPicOrderInFramePresent: boolean;
}

/** SPS fields needed for slice headers and POC type 1 that SpsInfo (sps.ts) does not expose (7.3.2.1.1). */
export interface SpsPocFields {
  readonly separateColourPlane: boolean;
  readonly deltaPicOrderAlwaysZero: boolean;
  readonly offsetForNonRefPic: number;
  readonly offsetForTopToBottomField: number;
  readonly offsetForRefFrame: readonly number[];
}

/** What parseSliceHeader needs from the SPS: SpsInfo fields, plus SpsPocFields when known (else assumed false). */
export type SpsForSlice = Pick<SpsInfo, 'frameMbsOnly' | 'pocType' | 'log2MaxFrameNum' | 'log2MaxPocLsb'> &
  Partial<Pick<SpsPocFields, 'separateColourPlane' | 'deltaPicOrderAlwaysZero'>>;

/**
 * NAL bytes read for a slice header: 7 Exp-Golomb codes of at most 63 bits (BitReader bound) + 38 fixed bits fit
 * 60 RBSP bytes; ×2 leaves room for emulation prevention bytes.
 */
const MAX_SLICE_HEADER_BYTES = 128;
/** slice_type range (Table 7-6). */
const MAX_SLICE_TYPE = 9;
/** pic_parameter_set_id range (7.4.2.2). */
const MAX_PPS_ID = 255;
/** seq_parameter_set_id range (7.4.2.1.1). */
const MAX_SPS_ID = 31;
/** idr_pic_id range (7.4.3). */
const MAX_IDR_PIC_ID = 65535;
/** num_ref_frames_in_pic_order_cnt_cycle range (7.4.2.1.1). */
const MAX_REF_FRAMES_IN_POC_CYCLE = 255;
/** Profiles whose SPS carries chroma_format_idc etc. (7.3.2.1.1), as in sps.ts. */
const HIGH_PROFILES: ReadonlySet<number> = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** The PPS of the slice: one PPS, or all known PPS by pic_parameter_set_id (the slice's id picks one). */
export type PpsForSlice = Pick<PpsSliceInfo, 'bottomFieldPicOrderInFramePresent'> | ReadonlyMap<number, Pick<PpsSliceInfo, 'bottomFieldPicOrderInFramePresent'>>;

/**
 * Parse a coded slice NAL unit (type 1 or 5) up to the POC fields.
 * @param pps one PPS, or a map by pic_parameter_set_id.
 * @throws GatewayError(H264Nalu) on another NAL type, truncation, an out-of-range field, or a PPS id missing from the map.
 */
export function parseSliceHeader(nalu: Uint8Array, sps: SpsForSlice, ppsInfo: PpsForSlice): SliceHeaderPoc {
  const type = nalu.length > 0 ? nalu[0]! & 0x1f : -1;
  if (type !== NaluType.NonIdr && type !== NaluType.Idr) throw sliceError(`NAL type ${type} is not a coded slice (1 or 5)`);
  const r = new BitReader(removeEmulationPrevention(nalu.subarray(1, 1 + MAX_SLICE_HEADER_BYTES)), ErrorCode.H264Nalu);
  r.readUe(); // first_mb_in_slice
  const sliceType = bounded(r.readUe(), MAX_SLICE_TYPE, 'slice_type');
  const ppsId = bounded(r.readUe(), MAX_PPS_ID, 'pic_parameter_set_id');
  const pps = ppsInfo instanceof Map ? (ppsInfo as ReadonlyMap<number, Pick<PpsSliceInfo, 'bottomFieldPicOrderInFramePresent'>>).get(ppsId) : (ppsInfo as Pick<PpsSliceInfo, 'bottomFieldPicOrderInFramePresent'>);
  if (pps === undefined) throw sliceError(`pic_parameter_set_id ${ppsId} not received`);
  if (sps.separateColourPlane === true) r.skipBits(2); // colour_plane_id
  const frameNum = r.readBits(sps.log2MaxFrameNum);
  let fieldPic = false;
  let bottomField = false;
  if (!sps.frameMbsOnly) {
    fieldPic = r.readFlag();
    if (fieldPic) bottomField = r.readFlag();
  }
  const header: { -readonly [K in keyof SliceHeaderPoc]: SliceHeaderPoc[K] } = { ppsId, sliceType, frameNum, fieldPic, bottomField };
  if (type === NaluType.Idr) header.idrPicId = bounded(r.readUe(), MAX_IDR_PIC_ID, 'idr_pic_id');
  if (sps.pocType === 0) {
    header.picOrderCntLsb = r.readBits(sps.log2MaxPocLsb);
    if (pps.bottomFieldPicOrderInFramePresent && !fieldPic) header.deltaPicOrderCntBottom = r.readSe();
  } else if (sps.pocType === 1 && sps.deltaPicOrderAlwaysZero !== true) {
    header.deltaPicOrderCnt0 = r.readSe();
    if (pps.bottomFieldPicOrderInFramePresent && !fieldPic) header.deltaPicOrderCnt1 = r.readSe();
  }
  return header;
}

/**
 * PPS (7.3.2.2) up to bottom_field_pic_order_in_frame_present_flag.
 * @throws GatewayError(H264Nalu) on another NAL type, truncation or an out-of-range id.
 */
export function parsePpsForSlice(ppsNalu: Uint8Array): PpsSliceInfo {
  const type = ppsNalu.length > 0 ? ppsNalu[0]! & 0x1f : -1;
  if (type !== NaluType.Pps) throw sliceError(`NAL type ${type} is not a PPS`);
  const r = new BitReader(removeEmulationPrevention(ppsNalu.subarray(1, 1 + MAX_SLICE_HEADER_BYTES)), ErrorCode.H264Nalu);
  const ppsId = bounded(r.readUe(), MAX_PPS_ID, 'pic_parameter_set_id');
  const spsId = bounded(r.readUe(), MAX_SPS_ID, 'seq_parameter_set_id');
  r.skipBits(1); // entropy_coding_mode_flag
  return { ppsId, spsId, bottomFieldPicOrderInFramePresent: r.readFlag() };
}

/**
 * The SPS fields of SpsPocFields (7.3.2.1.1), read from the SPS NAL unit. Call after parseSps() accepted it
 * (this reader does not re-validate what parseSps checks).
 * @throws GatewayError(H264Sps) on a wrong NAL type or truncation.
 */
export function parseSpsPocFields(spsNalu: Uint8Array): SpsPocFields {
  const type = spsNalu.length > 0 ? spsNalu[0]! & 0x1f : -1;
  if (type !== NaluType.Sps) throw new GatewayError(ErrorCode.H264Sps, `SPS: NAL type ${type} is not an SPS`);
  const r = new BitReader(removeEmulationPrevention(spsNalu.subarray(1)), ErrorCode.H264Sps);
  const profileIdc = r.readBits(8);
  r.skipBits(16); // constraint_set flags + reserved_zero_2bits, level_idc
  r.readUe(); // seq_parameter_set_id
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    const chromaFormatIdc = r.readUe();
    if (chromaFormatIdc === 3) separateColourPlane = r.readFlag();
    r.readUe(); // bit_depth_luma_minus8
    r.readUe(); // bit_depth_chroma_minus8
    r.skipBits(1); // qpprime_y_zero_transform_bypass_flag
    if (r.readFlag()) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) if (r.readFlag()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.readUe(); // log2_max_frame_num_minus4
  const pocType = r.readUe();
  let deltaPicOrderAlwaysZero = false;
  let offsetForNonRefPic = 0;
  let offsetForTopToBottomField = 0;
  const offsetForRefFrame: number[] = [];
  if (pocType === 1) {
    deltaPicOrderAlwaysZero = r.readFlag();
    offsetForNonRefPic = r.readSe();
    offsetForTopToBottomField = r.readSe();
    const cycle = r.readUe();
    if (cycle > MAX_REF_FRAMES_IN_POC_CYCLE) throw new GatewayError(ErrorCode.H264Sps, `SPS: num_ref_frames_in_pic_order_cnt_cycle ${cycle}`);
    for (let i = 0; i < cycle; i++) offsetForRefFrame.push(r.readSe());
  }
  return { separateColourPlane, deltaPicOrderAlwaysZero, offsetForNonRefPic, offsetForTopToBottomField, offsetForRefFrame };
}

/** 7.3.2.1.1.1 scaling_list(): delta_scale values consumed. */
function skipScalingList(r: BitReader, size: number): void {
  let lastScale = 8;
  let nextScale = 8;
  for (let j = 0; j < size; j++) {
    if (nextScale !== 0) nextScale = (lastScale + r.readSe() + 256) % 256;
    lastScale = nextScale === 0 ? lastScale : nextScale;
  }
}

function bounded(value: number, max: number, name: string): number {
  if (value > max) throw sliceError(`${name} ${value} out of range (max ${max})`);
  return value;
}

function sliceError(message: string): GatewayError {
  return new GatewayError(ErrorCode.H264Nalu, `H.264 slice header: ${message}`);
}
