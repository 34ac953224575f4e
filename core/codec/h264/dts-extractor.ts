/**
 * H.264 DTS from PTS (RTP carries only the presentation time). Method, after mediacommon
 * pkg/codecs/h264/dts_extractor.go but with an exact reorder window instead of its "+90 ticks" pauses:
 *
 * A decoder holding N = max_num_reorder_frames pictures outputs, after decoding picture i, the picture with the
 * smallest PTS among those not output yet (C.4.5.3 "bumping"). So with a stream whose reordering depth is ≤ N,
 *   DTS(i) = the (i − N)-th smallest PTS of the stream = min(PTS of decoded, not yet released pictures)
 * which is exactly what x264/ffmpeg write (DTS = sorted PTS delayed by the B-frame delay), up to a constant.
 *
 * - N: 0 for pic_order_cnt_type 2 (output order = decoding order, 8.2.1.3); else the SPS VUI
 *   bitstream_restriction max_num_reorder_frames; without it, N grows from 0 when the picture order count
 *   (8.2.1.1 type 0, 8.2.1.2 type 1) jumps over pictures that will come later (the P before its B-frames), the
 *   way mediacommon's reorderedFrames grows.
 * - While the window fills (stream start: DTS = first PTS − missing × frame duration from VUI timing; after N
 *   grew: evenly spaced below the smallest pending or predicted PTS), DTS stays < PTS and increasing.
 * - Limitations: memory_management_control_operation 5 is not parsed (POC continues; only gap detection uses it);
 *   the second field of a PAFF field pair sent as its own AU with the first field's PTS cannot get a DTS that is
 *   both > the previous DTS and ≤ its PTS when N = 0, and is refused (thrown).
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { NaluType } from './nalu.ts';
import { parseSps } from './sps.ts';
import type { SpsInfo } from './sps.ts';
import { parsePpsForSlice, parseSliceHeader, parseSpsPocFields } from './slice-header.ts';
import type { PpsSliceInfo, SliceHeaderPoc, SpsPocFields } from './slice-header.ts';

/** max_num_reorder_frames ≤ max_dec_frame_buffering ≤ MaxDpbFrames ≤ 16 (E.2.1, A.3.1). */
export const MAX_REORDER_FRAMES = 16;
/** Frame duration assumed at stream start when the SPS has no VUI timing_info: 30 fps. */
const DEFAULT_FRAME_DURATION_90K = 3000;
const CLOCK_90K = 90000;

export class H264DtsExtractor {
  #spsNalu: Uint8Array | undefined;
  #sps: SpsInfo | undefined;
  #spsPoc: SpsPocFields | undefined;
  readonly #ppsById = new Map<number, PpsSliceInfo>();
  #idrSeen = false;
  // reorder window
  #reorder = 0;
  #reorderFromVui = false;
  #frameDuration90k = DEFAULT_FRAME_DURATION_90K;
  /** PTS of decoded pictures not yet released as a DTS, ascending. */
  #pending: number[] = [];
  #prevDts: number | undefined;
  /** Predicted PTS of the earliest picture skipped by the last POC jump, while the window fills. */
  #gapFloorPts: number | undefined;
  // picture order count state (8.2.1)
  #prevPocMsb = 0;
  #prevPocLsb = 0;
  #prevFrameNumOffset = 0;
  #prevFrameNum = 0;
  #gopMaxPoc = 0;
  #gopMaxPocPts = 0;
  #pocStep = 2;

  /**
   * Prime with out-of-band SPS/PPS (SDP sprop-parameter-sets).
   * @throws GatewayError(H264Sps/H264Nalu) when either cannot be parsed.
   */
  setParameterSets(sps: Uint8Array, pps: Uint8Array): void {
    this.#acceptSps(sps);
    this.#acceptPps(pps);
  }

  /**
   * @param nalus one access unit (NAL units without start codes); SPS/PPS inside it are used and remembered.
   * @param pts90k unwrapped PTS in 90 kHz ticks.
   * @returns DTS in 90 kHz ticks: ≤ pts90k, strictly increasing across calls, so CTS = PTS − DTS ≥ 0.
   * @throws GatewayError(H264Nalu) while no IDR has been seen, or when the AU cannot be analysed (no SPS/PPS, no
   *   slice, corrupt slice header, or a PTS too early for the reorder window); GatewayError(H264Sps) for an
   *   unparseable SPS. The caller drops that AU. State is left as before the call, except that parameter sets are
   *   kept and, without a VUI reorder depth, a too-early PTS widens the window for the pictures to come.
   */
  extract(nalus: readonly Uint8Array[], pts90k: number): number {
    let slice: Uint8Array | undefined;
    for (const nalu of nalus) {
      if (nalu.length === 0) continue;
      const type = nalu[0]! & 0x1f;
      if (type === NaluType.Sps) this.#acceptSps(nalu);
      else if (type === NaluType.Pps) this.#acceptPps(nalu);
      else if (type === NaluType.Idr || type === NaluType.NonIdr) slice ??= nalu;
    }
    const sps = this.#sps;
    if (sps === undefined) throw dtsError('no SPS received yet');
    if (slice === undefined) throw dtsError('access unit without a coded slice (type 1 or 5)');
    const idr = (slice[0]! & 0x1f) === NaluType.Idr;
    if (!this.#idrSeen && !idr) throw dtsError('waiting for the first IDR');

    if (sps.pocType === 2) {
      const dts = this.#release(pts90k, 0, undefined);
      this.#idrSeen = true;
      return dts;
    }
    const header = parseSliceHeader(slice, { ...sps, ...this.#spsPoc }, this.#ppsById);
    const nalRefIdc = (slice[0]! >> 5) & 3;
    const poc = this.#pictureOrderCount(header, idr, nalRefIdc);

    // Reorder depth from POC jumps (only when the SPS does not state max_num_reorder_frames).
    let reorder = this.#reorder;
    let gapFloor = this.#gapFloorPts;
    let gopMaxPoc = this.#gopMaxPoc;
    let gopMaxPocPts = this.#gopMaxPocPts;
    let pocStep = this.#pocStep;
    if (idr) {
      gopMaxPoc = poc.value;
      gopMaxPocPts = pts90k;
    } else {
      if (pocStep === 2 && poc.value % 2 !== 0) pocStep = 1;
      if (poc.value > gopMaxPoc) {
        const skipped = Math.floor((poc.value - gopMaxPoc) / pocStep) - 1;
        if (skipped > 0 && !this.#reorderFromVui) {
          if (skipped > reorder) reorder = Math.min(skipped, MAX_REORDER_FRAMES);
          const predicted = gopMaxPocPts + Math.floor(((pts90k - gopMaxPocPts) * pocStep) / (poc.value - gopMaxPoc));
          gapFloor = gapFloor === undefined ? predicted : Math.min(gapFloor, predicted);
        }
        gopMaxPoc = poc.value;
        gopMaxPocPts = pts90k;
      }
    }

    let dts: number;
    try {
      dts = this.#release(pts90k, reorder, gapFloor);
    } catch (err) {
      // A picture reordered deeper than the window: widen it for the pictures to come (unless the SPS fixed it).
      if (!this.#reorderFromVui && this.#reorder < MAX_REORDER_FRAMES) this.#reorder = Math.max(this.#reorder, reorder) + 1;
      throw err;
    }
    this.#reorder = reorder;
    this.#gapFloorPts = this.#pending.length > reorder ? undefined : gapFloor;
    this.#gopMaxPoc = gopMaxPoc;
    this.#gopMaxPocPts = gopMaxPocPts;
    this.#pocStep = pocStep;
    poc.commit();
    this.#idrSeen = true;
    return dts;
  }

  /** Insert the picture into the reorder window and compute its DTS; commits the window only on success. */
  #release(pts90k: number, reorder: number, gapFloor: number | undefined): number {
    const pending = this.#pending.slice();
    let i = pending.length;
    while (i > 0 && pending[i - 1]! > pts90k) i--;
    pending.splice(i, 0, pts90k);
    const prev = this.#prevDts;
    let dts: number;
    if (pending.length > reorder) {
      dts = pending.shift()!;
      while (pending.length > reorder) pending.shift(); // the window shrank (new SPS)
    } else {
      const missing = reorder + 1 - pending.length;
      const upper = gapFloor === undefined ? pending[0]! : Math.min(pending[0]!, gapFloor);
      dts = prev === undefined ? upper - missing * this.#frameDuration90k : prev + Math.floor((upper - prev) / (missing + 1));
    }
    if (prev !== undefined && dts <= prev) dts = prev + 1;
    if (dts > pts90k) {
      throw dtsError(`PTS ${pts90k} is earlier than the reorder window allows (previous DTS ${prev}, ${reorder} reordered frames)`);
    }
    this.#pending = pending;
    this.#prevDts = dts;
    return dts;
  }

  /** PicOrderCnt of the picture (8.2.1.1 type 0, 8.2.1.2 type 1); `commit` stores the state for the next picture. */
  #pictureOrderCount(h: SliceHeaderPoc, idr: boolean, nalRefIdc: number): { value: number; commit: () => void } {
    const sps = this.#sps!;
    if (sps.pocType === 0) {
      const maxLsb = 2 ** sps.log2MaxPocLsb;
      const lsb = h.picOrderCntLsb!;
      const prevMsb = idr ? 0 : this.#prevPocMsb;
      const prevLsb = idr ? 0 : this.#prevPocLsb;
      let msb = prevMsb;
      if (lsb < prevLsb && prevLsb - lsb >= maxLsb / 2) msb = prevMsb + maxLsb;
      else if (lsb > prevLsb && lsb - prevLsb > maxLsb / 2) msb = prevMsb - maxLsb;
      const top = msb + lsb;
      const value = h.fieldPic ? top : Math.min(top, top + (h.deltaPicOrderCntBottom ?? 0));
      return {
        value,
        commit: () => {
          if (nalRefIdc !== 0) {
            this.#prevPocMsb = msb;
            this.#prevPocLsb = lsb;
          }
        },
      };
    }
    // pic_order_cnt_type 1
    const f = this.#spsPoc!;
    const maxFrameNum = 2 ** sps.log2MaxFrameNum;
    let frameNumOffset = 0;
    if (!idr) frameNumOffset = this.#prevFrameNum > h.frameNum ? this.#prevFrameNumOffset + maxFrameNum : this.#prevFrameNumOffset;
    const cycleLength = f.offsetForRefFrame.length;
    let absFrameNum = cycleLength !== 0 ? frameNumOffset + h.frameNum : 0;
    if (nalRefIdc === 0 && absFrameNum > 0) absFrameNum--;
    let expected = 0;
    if (absFrameNum > 0) {
      let deltaPerCycle = 0;
      for (const o of f.offsetForRefFrame) deltaPerCycle += o;
      const cycleCount = Math.floor((absFrameNum - 1) / cycleLength);
      const inCycle = (absFrameNum - 1) % cycleLength;
      expected = cycleCount * deltaPerCycle;
      for (let i = 0; i <= inCycle; i++) expected += f.offsetForRefFrame[i]!;
    }
    if (nalRefIdc === 0) expected += f.offsetForNonRefPic;
    const delta0 = h.deltaPicOrderCnt0 ?? 0;
    let value: number;
    if (!h.fieldPic) {
      const top = expected + delta0;
      value = Math.min(top, top + f.offsetForTopToBottomField + (h.deltaPicOrderCnt1 ?? 0));
    } else {
      value = h.bottomField ? expected + f.offsetForTopToBottomField + delta0 : expected + delta0;
    }
    return {
      value,
      commit: () => {
        this.#prevFrameNumOffset = frameNumOffset;
        this.#prevFrameNum = h.frameNum;
      },
    };
  }

  #acceptSps(nalu: Uint8Array): void {
    const known = this.#spsNalu;
    if (known !== undefined && known.length === nalu.length && Buffer.compare(known, nalu) === 0) return;
    const info = parseSps(nalu);
    const pocFields = parseSpsPocFields(nalu);
    this.#spsNalu = Uint8Array.from(nalu);
    this.#sps = info;
    this.#spsPoc = pocFields;
    // A new SPS starts a new coded video sequence: reset the POC state and the reorder depth.
    this.#reorderFromVui = info.pocType === 2 || info.maxNumReorderFrames !== undefined;
    this.#reorder = info.pocType === 2 ? 0 : Math.min(info.maxNumReorderFrames ?? 0, MAX_REORDER_FRAMES);
    if (info.fps !== undefined && info.fps > 0) this.#frameDuration90k = Math.max(1, Math.round(CLOCK_90K / info.fps));
    this.#gapFloorPts = undefined;
    this.#pocStep = 2;
    this.#prevPocMsb = 0;
    this.#prevPocLsb = 0;
    this.#prevFrameNumOffset = 0;
    this.#prevFrameNum = 0;
  }

  #acceptPps(nalu: Uint8Array): void {
    const pps = parsePpsForSlice(nalu);
    this.#ppsById.set(pps.ppsId, pps);
  }
}

function dtsError(message: string): GatewayError {
  return new GatewayError(ErrorCode.H264Nalu, `H.264 DTS: ${message}`);
}
