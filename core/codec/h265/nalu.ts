/**
 * H.265 NAL units: the 2-byte nal_unit_header (ITU-T H.265 7.3.1.2), the NAL unit type table (Table 7-1) and
 * the RFC 7798 (4.4) RTP payload types, plus the IRAP/VCL classes the packager, the DTS extractor and the TS
 * muxer branch on.
 *
 * Annex B split/join, AVCC split and emulation prevention removal are the same as H.264's (Annex B / 7.4.2 of
 * both specs): use splitAnnexB, splitAvcc, joinAnnexB, joinAvcc and removeEmulationPrevention from
 * ../h264/nalu.ts.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';

/** ITU-T H.265 Table 7-1 (subset) + RFC 7798 4.4 aggregation/fragmentation/PACI types. */
export const H265NaluType = {
  TrailN: 0,
  TrailR: 1,
  TsaN: 2,
  TsaR: 3,
  StsaN: 4,
  StsaR: 5,
  RadlN: 6,
  RadlR: 7,
  RaslN: 8,
  RaslR: 9,
  BlaWLp: 16,
  BlaWRadl: 17,
  BlaNLp: 18,
  IdrWRadl: 19,
  IdrNLp: 20,
  Cra: 21,
  RsvIrapVcl22: 22,
  RsvIrapVcl23: 23,
  Vps: 32,
  Sps: 33,
  Pps: 34,
  Aud: 35,
  EndOfSequence: 36,
  EndOfBitstream: 37,
  FillerData: 38,
  PrefixSei: 39,
  SuffixSei: 40,
  /** RFC 7798 4.4.2 Aggregation Packet. */
  Ap: 48,
  /** RFC 7798 4.4.3 Fragmentation Unit. */
  Fu: 49,
  /** RFC 7798 4.4.4 PACI packet. */
  Paci: 50,
} as const;
export type H265NaluType = (typeof H265NaluType)[keyof typeof H265NaluType];

/** Size of nal_unit_header (7.3.1.2): forbidden_zero_bit(1) nal_unit_type(6) nuh_layer_id(6) nuh_temporal_id_plus1(3). */
export const H265_NALU_HEADER_SIZE = 2;
/** Max H.265 access unit (same reasoning as H.264: a 50 Mbit/s 2160p60 AU stays far below 8 MiB). */
export const MAX_H265_ACCESS_UNIT_SIZE = 8 * 1024 * 1024;
/** NAL units per access unit: slices + parameter sets + SEI; camera streams stay far below this. */
export const MAX_H265_NALUS_PER_AU = 64;

/** nal_unit_type: bits 1..6 of the first header byte (7.3.1.2). */
export function h265NaluType(nalu: Uint8Array): number {
  return (nalu[0] >> 1) & 0x3f;
}

/** nuh_temporal_id_plus1 − 1 (7.4.2.2); −1 when the header is truncated or the field is the forbidden 0. */
export function h265TemporalId(nalu: Uint8Array): number {
  return nalu.length < H265_NALU_HEADER_SIZE ? -1 : (nalu[1] & 0x07) - 1;
}

/** IRAP picture: BLA, IDR, CRA and the reserved IRAP types 22/23 (nal_unit_type 16..23, 3.73). */
export function isIrap(type: number): boolean {
  return type >= H265NaluType.BlaWLp && type <= H265NaluType.RsvIrapVcl23;
}

/** IDR picture (IDR_W_RADL, IDR_N_LP): POC lsb is not coded, PicOrderCntVal = 0 (8.3.1). */
export function isIdr(type: number): boolean {
  return type === H265NaluType.IdrWRadl || type === H265NaluType.IdrNLp;
}

/** VCL NAL unit (nal_unit_type 0..31, Table 7-1 "NAL unit type class"). */
export function isVcl(type: number): boolean {
  return type >= 0 && type <= 31;
}

/** RASL picture (8, 9): skipped by the decoder after a CRA that starts decoding (8.1.3). */
export function isRasl(type: number): boolean {
  return type === H265NaluType.RaslN || type === H265NaluType.RaslR;
}

/** RADL picture (6, 7). */
export function isRadl(type: number): boolean {
  return type === H265NaluType.RadlN || type === H265NaluType.RadlR;
}

/** Sub-layer non-reference picture: TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N10/12/14 (even types ≤ 14). */
export function isSubLayerNonReference(type: number): boolean {
  return type <= 14 && type % 2 === 0;
}

/** Parameter sets and the AUD, which the packager keeps out of coded frames (they go to the hvcC). */
export function isParameterSetOrAud(type: number): boolean {
  return type === H265NaluType.Vps || type === H265NaluType.Sps || type === H265NaluType.Pps || type === H265NaluType.Aud;
}

/**
 * Check that a NAL unit has a full 2-byte header with forbidden_zero_bit 0 and nuh_temporal_id_plus1 > 0.
 * @throws GatewayError(H265Nalu) otherwise.
 */
export function checkH265NaluHeader(nalu: Uint8Array): void {
  if (nalu.length < H265_NALU_HEADER_SIZE) throw new GatewayError(ErrorCode.H265Nalu, `H.265 NAL unit of ${nalu.length} bytes has no 2-byte header`);
  if ((nalu[0] & 0x80) !== 0) throw new GatewayError(ErrorCode.H265Nalu, 'H.265 NAL unit with forbidden_zero_bit set');
  if ((nalu[1] & 0x07) === 0) throw new GatewayError(ErrorCode.H265Nalu, 'H.265 NAL unit with nuh_temporal_id_plus1 = 0');
}
