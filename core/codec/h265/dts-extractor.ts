/**
 * H.265 DTS from PTS for sources that carry only PTS (RTP, RFC 7798), from the picture order count (ITU-T H.265
 * 7.3.6.1 slice_segment_header up to slice_pic_order_cnt_lsb, 8.3.1 decoding process for picture order count).
 * The idea is mediacommon's (pkg/codecs/h265/dts_extractor.go): the POC says how far a picture sits from its
 * decode position; this implementation is its own.
 *
 * For each picture, in decode order: k = (pictures displayed before it but not yet decoded) − (pictures already
 * decoded but displayed after it), counted in POC steps over a window of recent POCs. Then
 * DTS = PTS − (k + R) · frameDuration, with R = sps_max_num_reorder_pics (raised when the stream reorders more).
 * For a constant frame rate this is exactly the encoder's DTS (PTS of the IRAP + (decodeIndex − R) · duration).
 * frameDuration comes from the VUI timing info, else from the PTS gap between pictures of neighbouring POC.
 * The result is forced to be strictly increasing; a DTS that cannot stay ≤ PTS is an error (the AU is dropped).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { BitReader } from '../bit-reader.ts';
import { removeEmulationPrevention } from '../h264/nalu.ts';
import {
  H265_NALU_HEADER_SIZE, H265NaluType, h265NaluType, h265TemporalId, isIdr, isIrap, isRadl, isRasl,
  isSubLayerNonReference, isVcl,
} from './nalu.ts';
import { parseH265Pps, parseH265Sps, type H265PpsInfo, type H265SpsInfo } from './sps.ts';

/** Slice header bytes read to reach slice_pic_order_cnt_lsb: ue(v) ids, ≤ 7 extra bits, 16-bit lsb fit in 24. */
const MAX_SLICE_HEADER_BYTES_FOR_POC = 24;
/** Pictures decoded ahead of their output: bounded by the DPB size (A.4.2: MaxDpbSize ≤ 16). */
const MAX_PENDING_POCS = 16;
/** POC → PTS entries kept to learn the frame duration. */
const MAX_PTS_HISTORY = 32;
/** Pictures seen before the POC step (gcd of POC distances) is trusted; until then it is 1. */
const POC_STEP_WARMUP = 8;
/** Frame duration used before it is known (no VUI timing, a single picture so far): 25 fps. */
const DEFAULT_FRAME_DURATION_90K = 3600;

export class H265DtsExtractor {
  readonly #spsById = new Map<number, H265SpsInfo>();
  readonly #ppsById = new Map<number, H265PpsInfo>();
  #started = false;
  #prevDts90k = 0;
  /** prevTid0Pic (8.3.1): its POC lsb and msb. */
  #prevTid0PocLsb = 0;
  #prevTid0PocMsb = 0;
  /** True between an IRAP with NoRaslOutputFlag = 1 and the next IRAP: its RASL pictures are not decodable. */
  #skipRasl = false;
  /** Every POC ≤ this one has been decoded (in this coded video sequence). */
  #maxContiguousPoc = 0;
  /** Decoded POCs above #maxContiguousPoc. */
  readonly #pending = new Set<number>();
  readonly #ptsByPoc = new Map<number, number>();
  #anchorPoc = 0;
  #pocStepGcd = 0;
  #pocSamples = 0;
  #learnedDuration90k = 0;
  #reorder = 0;

  /**
   * Out-of-band parameter sets (SDP sprop-*). The VPS is accepted for symmetry and not needed.
   * @throws GatewayError(H265Sps) when the SPS or PPS cannot be parsed.
   */
  setParameterSets(_vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): void {
    const spsInfo = parseH265Sps(sps);
    const ppsInfo = parseH265Pps(pps);
    this.#spsById.set(spsInfo.spsId, spsInfo);
    this.#ppsById.set(ppsInfo.ppsId, ppsInfo);
  }

  /**
   * DTS of one access unit (NAL units without start codes, in decode order).
   * @param pts90k unwrapped PTS in 90 kHz ticks.
   * @returns DTS in 90 kHz ticks: ≤ pts90k and strictly greater than the previous result.
   * @throws GatewayError(H265Nalu) before the first IRAP, for an AU without a first slice segment, for the RASL
   *   pictures of the IRAP decoding started at, or when DTS cannot stay increasing and ≤ PTS (drop the AU);
   *   GatewayError(H265Sps) for an in-band SPS/PPS that cannot be parsed.
   */
  extract(nalus: readonly Uint8Array[], pts90k: number): number {
    let slice: Uint8Array | undefined;
    for (const nalu of nalus) {
      if (nalu.length < H265_NALU_HEADER_SIZE) continue;
      const type = h265NaluType(nalu);
      if (type === H265NaluType.Sps) {
        const info = parseH265Sps(nalu);
        this.#spsById.set(info.spsId, info);
      } else if (type === H265NaluType.Pps) {
        const info = parseH265Pps(nalu);
        this.#ppsById.set(info.ppsId, info);
      } else if (slice === undefined && isVcl(type)) {
        slice = nalu;
      }
    }
    if (slice === undefined) throw naluError('access unit without a VCL NAL unit');
    const type = h265NaluType(slice);
    if (!this.#started && !isIrap(type)) throw naluError(`waiting for an IRAP picture (got NAL type ${type})`);
    if (isRasl(type) && this.#skipRasl) throw naluError('RASL picture of the random access point decoding started at');

    const { sps, pocLsb } = this.#readSliceHeader(slice, type);
    const maxPocLsb = 2 ** sps.log2MaxPocLsb;
    const noRaslOutput = isIrap(type) && (!this.#started || type !== H265NaluType.Cra);
    let pocMsb: number;
    if (noRaslOutput) {
      pocMsb = 0;
    } else if (pocLsb < this.#prevTid0PocLsb && this.#prevTid0PocLsb - pocLsb >= maxPocLsb / 2) {
      pocMsb = this.#prevTid0PocMsb + maxPocLsb; // (8-1)
    } else if (pocLsb > this.#prevTid0PocLsb && pocLsb - this.#prevTid0PocLsb > maxPocLsb / 2) {
      pocMsb = this.#prevTid0PocMsb - maxPocLsb;
    } else {
      pocMsb = this.#prevTid0PocMsb;
    }
    const poc = pocMsb + pocLsb;
    if (h265TemporalId(slice) === 0 && !isRasl(type) && !isRadl(type) && !isSubLayerNonReference(type)) {
      this.#prevTid0PocLsb = pocLsb;
      this.#prevTid0PocMsb = pocMsb;
    }
    if (isIrap(type)) this.#skipRasl = noRaslOutput;

    let k = 0;
    if (noRaslOutput) {
      this.#startSequence(poc);
    } else {
      k = this.#placePicture(poc);
    }
    const duration90k = this.#frameDuration90k(sps, poc, pts90k);
    this.#reorder = Math.max(this.#reorder, sps.maxNumReorderPics, -k);
    let dts90k = Math.round(pts90k - (k + this.#reorder) * duration90k);
    if (this.#started && dts90k <= this.#prevDts90k) dts90k = this.#prevDts90k + 1;
    if (dts90k > pts90k) throw naluError(`DTS ${dts90k} cannot stay at or below PTS ${pts90k} and increasing`);
    this.#started = true;
    this.#prevDts90k = dts90k;
    return dts90k;
  }

  /** 7.3.6.1 up to slice_pic_order_cnt_lsb (0 for IDR pictures). */
  #readSliceHeader(slice: Uint8Array, type: number): { pps: H265PpsInfo; sps: H265SpsInfo; pocLsb: number } {
    const rbsp = removeEmulationPrevention(slice.subarray(H265_NALU_HEADER_SIZE, H265_NALU_HEADER_SIZE + MAX_SLICE_HEADER_BYTES_FOR_POC));
    const r = new BitReader(rbsp, ErrorCode.H265Nalu);
    if (!r.readFlag()) throw naluError('access unit does not start with first_slice_segment_in_pic_flag = 1');
    if (isIrap(type)) r.skipBits(1); // no_output_of_prior_pics_flag
    const ppsId = r.readUe();
    const pps = this.#ppsById.get(ppsId);
    if (pps === undefined) throw naluError(`slice refers to unknown PPS ${ppsId}`);
    const sps = this.#spsById.get(pps.spsId);
    if (sps === undefined) throw naluError(`PPS ${ppsId} refers to unknown SPS ${pps.spsId}`);
    r.skipBits(pps.numExtraSliceHeaderBits); // slice_reserved_flag[i] (dependent_slice_segment_flag is absent: first slice)
    r.readUe(); // slice_type
    if (pps.outputFlagPresentFlag) r.skipBits(1); // pic_output_flag
    if (sps.separateColourPlaneFlag) r.skipBits(2); // colour_plane_id
    const pocLsb = isIdr(type) ? 0 : r.readBits(sps.log2MaxPocLsb);
    return { pps, sps, pocLsb };
  }

  /** A new coded video sequence (IDR, BLA, or the CRA decoding starts at): POC origin and window reset. */
  #startSequence(poc: number): void {
    this.#anchorPoc = poc;
    this.#maxContiguousPoc = poc;
    this.#pending.clear();
    this.#ptsByPoc.clear();
  }

  /** Add a picture to the POC window; returns k (pictures displayed before it yet undecoded − decoded after it). */
  #placePicture(poc: number): number {
    const distance = Math.abs(poc - this.#anchorPoc);
    if (distance > 0) {
      this.#pocStepGcd = gcd(this.#pocStepGcd, distance);
      this.#pocSamples++;
    }
    const step = this.#pocStep();
    let decodedBelow = 0;
    let decodedAbove = 0;
    for (const p of this.#pending) {
      if (p > poc) decodedAbove++;
      else if (p < poc) decodedBelow++;
    }
    const between = poc > this.#maxContiguousPoc ? Math.floor((poc - this.#maxContiguousPoc) / step) - 1 : 0;
    const k = Math.max(0, between - decodedBelow) - decodedAbove;
    if (poc > this.#maxContiguousPoc) this.#pending.add(poc);
    this.#advance(step);
    return k;
  }

  #advance(step: number): void {
    for (;;) {
      while (this.#pending.delete(this.#maxContiguousPoc + step)) this.#maxContiguousPoc += step;
      if (this.#pending.size <= MAX_PENDING_POCS) return;
      // A picture never came (lost, or a POC gap): give up on it and move on to the lowest decoded POC.
      let lowest = Infinity;
      for (const p of this.#pending) lowest = Math.min(lowest, p);
      this.#pending.delete(lowest);
      this.#maxContiguousPoc = lowest;
    }
  }

  #pocStep(): number {
    return this.#pocSamples >= POC_STEP_WARMUP && this.#pocStepGcd > 0 ? this.#pocStepGcd : 1;
  }

  /** VUI timing when present, else the PTS distance to the picture of nearest POC, per POC step. */
  #frameDuration90k(sps: H265SpsInfo, poc: number, pts90k: number): number {
    let nearest: number | undefined;
    for (const p of this.#ptsByPoc.keys()) {
      if (p !== poc && (nearest === undefined || Math.abs(p - poc) < Math.abs(nearest - poc))) nearest = p;
    }
    if (nearest !== undefined) {
      const steps = Math.abs(nearest - poc) / this.#pocStep();
      const d = Math.abs(pts90k - this.#ptsByPoc.get(nearest)!) / steps;
      if (d > 0 && steps >= 1) this.#learnedDuration90k = d;
    }
    this.#ptsByPoc.set(poc, pts90k);
    if (this.#ptsByPoc.size > MAX_PTS_HISTORY) this.#ptsByPoc.delete(this.#ptsByPoc.keys().next().value!);
    if (sps.numUnitsInTick !== undefined && sps.timeScale !== undefined) return (90_000 * sps.numUnitsInTick) / sps.timeScale;
    return this.#learnedDuration90k > 0 ? this.#learnedDuration90k : DEFAULT_FRAME_DURATION_90K;
  }
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

function naluError(message: string): GatewayError {
  return new GatewayError(ErrorCode.H265Nalu, `H.265 DTS: ${message}`);
}
