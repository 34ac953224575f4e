/**
 * The one shared H.264 "access unit → RtmpMessage" converter (FLV spec Annex E.4.3.2 AVCVIDEOPACKET,
 * ISO/IEC 14496-15 5.3.3.1 AVCDecoderConfigurationRecord; STYLE habit 7).
 *
 * One VIDEODATA message per AU with 4-byte NALU lengths; AUD, filler and in-band SPS/PPS are dropped from the
 * frame; a new or changed SPS/PPS first yields a 'video-config' message (and, when it changes mid-stream, the
 * frame that brought it also keeps its SPS/PPS in-band). Timestamp = DTS in ms; CompositionTime =
 * PTS − DTS in ms as signed SI24. Corrupt input never throws: it is dropped and counted in `errors`.
 */
import { createMessage, MessageType } from '../../media/message.ts';
import type { RtmpMessage } from '../../media/message.ts';
import { ticks90kToMs } from '../../media/timestamp.ts';
import { ErrorCode, GatewayError } from '../../errors.ts';
import { AVC_VIDEO_TAG_HEADER_SIZE, AvcPacketType, writeAvcVideoTagHeader } from '../../protocol/flv/flv-tag.ts';
import { BitReader } from '../bit-reader.ts';
import { buildAvcDecoderConfigurationRecord } from './avc-decoder-config.ts';
import { isVclNaluType, NaluType, removeEmulationPrevention } from './nalu.ts';
import { parseSps } from './sps.ts';
import type { SpsInfo } from './sps.ts';

/** Max H.264 access unit. mediacommon: "a 50 Mbps 2160p60 H264 video ... does not seem to exceed 8 MiB". */
export const MAX_ACCESS_UNIT_SIZE = 8 * 1024 * 1024;
/** Some drones use 45 slices per frame (mediacommon MaxNALUsPerAccessUnit). */
export const MAX_NALUS_PER_AU = 50;
/** pic_parameter_set_id range (7.4.2.2). */
const MAX_PPS_ID = 255;
/** AVCC length field size used in every frame this packager writes (lengthSizeMinusOne = 3). */
const NALU_LENGTH_SIZE = 4;

export class AvcPackager {
  /** SPS by seq_parameter_set_id (owned copies). */
  readonly #spsById = new Map<number, Uint8Array>();
  /** PPS by pic_parameter_set_id (owned copies). */
  readonly #ppsById = new Map<number, Uint8Array>();
  #sps: SpsInfo | undefined;
  #configDirty = false;
  #configSent = false;
  #droppedBeforeConfig = 0;
  #errors = 0;

  /** Latest parsed SPS facts (width/height/profile/level/fps), or undefined before the first valid SPS. */
  get sps(): SpsInfo | undefined {
    return this.#sps;
  }

  /** Access units dropped because no SPS+PPS had been seen yet. */
  get droppedBeforeConfig(): number {
    return this.#droppedBeforeConfig;
  }

  /** Input errors so far: unparseable SPS/PPS, oversized access units (each dropped). */
  get errors(): number {
    return this.#errors;
  }

  /**
   * Prime from out-of-band parameter sets (SDP sprop-parameter-sets, RFC 6184 8.2.1). The next AU then starts
   * with a 'video-config' message.
   * @throws GatewayError(H264Sps/H264Nalu) when the SPS or PPS cannot be parsed.
   */
  setParameterSets(sps: Uint8Array, pps: Uint8Array): void {
    const spsError = this.#acceptSps(sps);
    if (spsError) throw spsError;
    const ppsError = this.#acceptPps(pps);
    if (ppsError) throw ppsError;
  }

  /**
   * Package one access unit (NALUs without start codes; views are fine — bytes are copied once into the
   * message). PTS/DTS are unwrapped 90 kHz ticks.
   * @returns [] while waiting for SPS+PPS (counted in droppedBeforeConfig), [config] for an AU without VCL
   *   NALUs when parameters changed, else [config?, frame]. Never throws on corrupt input.
   */
  packAccessUnit(nalus: readonly Uint8Array[], pts90k: number, dts90k: number): RtmpMessage[] {
    let frameSize = AVC_VIDEO_TAG_HEADER_SIZE;
    let kept = 0;
    let hasVcl = false;
    let hasIdr = false;
    // A parameter-set change after the first sequence header: the frame keeps its SPS/PPS in-band too, so
    // decoders that miss or ignore a mid-stream sequence header (ffmpeg 5.1 keeps decoding a GStreamer stream
    // that switched from High 4:4:4 to Baseline with the old PPS) still switch (ffmpeg's flvenc keeps them).
    const midStreamChange = this.#configSent && !this.#configDirty;
    let inBandParameterSets = 0;
    for (const nalu of nalus) {
      if (nalu.length === 0) continue;
      const type = nalu[0] & 0x1f;
      if (type === NaluType.Sps) {
        if (this.#acceptSps(nalu)) this.#errors++;
        inBandParameterSets += NALU_LENGTH_SIZE + nalu.length;
      } else if (type === NaluType.Pps) {
        if (this.#acceptPps(nalu)) this.#errors++;
        inBandParameterSets += NALU_LENGTH_SIZE + nalu.length;
      } else if (type !== NaluType.Aud && type !== NaluType.Filler) {
        frameSize += NALU_LENGTH_SIZE + nalu.length;
        kept++;
        if (isVclNaluType(type)) hasVcl = true;
        if (type === NaluType.Idr) hasIdr = true;
      }
    }

    const keepParameterSets = midStreamChange && this.#configDirty;
    if (keepParameterSets) frameSize += inBandParameterSets;
    const out: RtmpMessage[] = [];
    const timestampMs = Math.max(0, ticks90kToMs(dts90k));
    if (this.#configDirty && this.#spsById.size > 0 && this.#ppsById.size > 0) {
      const config = this.#configMessage(timestampMs);
      if (config) out.push(config);
    }
    if (!hasVcl) return out;
    if (!this.#configSent) {
      this.#droppedBeforeConfig++;
      return out;
    }
    if (kept > MAX_NALUS_PER_AU || frameSize > MAX_ACCESS_UNIT_SIZE) {
      this.#errors++;
      return out;
    }

    const payload = Buffer.allocUnsafe(frameSize);
    const ctsMs = ticks90kToMs(pts90k) - ticks90kToMs(dts90k);
    writeAvcVideoTagHeader(payload, hasIdr, AvcPacketType.Nalu, ctsMs);
    let o = AVC_VIDEO_TAG_HEADER_SIZE;
    for (const nalu of nalus) {
      if (nalu.length === 0) continue;
      const type = nalu[0] & 0x1f;
      if (type === NaluType.Aud || type === NaluType.Filler) continue;
      if ((type === NaluType.Sps || type === NaluType.Pps) && !keepParameterSets) continue;
      payload.writeUInt32BE(nalu.length, o);
      payload.set(nalu, o + NALU_LENGTH_SIZE);
      o += NALU_LENGTH_SIZE + nalu.length;
    }
    const frame = createMessage(MessageType.Video, timestampMs, payload);
    if (frame) out.push(frame);
    return out;
  }

  #configMessage(timestampMs: number): RtmpMessage | undefined {
    let record: Buffer;
    try {
      record = buildAvcDecoderConfigurationRecord([...this.#spsById.values()], [...this.#ppsById.values()]);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#errors++;
      return undefined;
    }
    this.#configDirty = false;
    this.#configSent = true;
    const payload = Buffer.allocUnsafe(AVC_VIDEO_TAG_HEADER_SIZE + record.length);
    writeAvcVideoTagHeader(payload, true, AvcPacketType.SequenceHeader, 0);
    payload.set(record, AVC_VIDEO_TAG_HEADER_SIZE);
    return createMessage(MessageType.Video, timestampMs, payload);
  }

  /** Store an SPS when new or changed; returns the parse error instead when it cannot be parsed. */
  #acceptSps(nalu: Uint8Array): GatewayError | undefined {
    let info: SpsInfo;
    try {
      info = parseSps(nalu);
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    const current = this.#spsById.get(info.spsId);
    if (current && bytesEqual(current, nalu)) return undefined;
    this.#spsById.set(info.spsId, Uint8Array.from(nalu));
    this.#sps = info;
    this.#configDirty = true;
    return undefined;
  }

  /** Store a PPS when new or changed; returns the error instead when its pic_parameter_set_id cannot be read. */
  #acceptPps(nalu: Uint8Array): GatewayError | undefined {
    let ppsId: number;
    try {
      ppsId = readPpsId(nalu);
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    const current = this.#ppsById.get(ppsId);
    if (current && bytesEqual(current, nalu)) return undefined;
    this.#ppsById.set(ppsId, Uint8Array.from(nalu));
    this.#configDirty = true;
    return undefined;
  }
}

/** pic_parameter_set_id: the first ue(v) of the PPS (7.3.2.2). @throws GatewayError(H264Nalu). */
function readPpsId(nalu: Uint8Array): number {
  if ((nalu[0] & 0x1f) !== NaluType.Pps) throw new GatewayError(ErrorCode.H264Nalu, `NAL type ${nalu[0] & 0x1f} is not a PPS`);
  // An id ≤ 255 takes at most 17 bits: 4 bytes after the header hold it even with an emulation prevention byte.
  const r = new BitReader(removeEmulationPrevention(nalu.subarray(1, 5)), ErrorCode.H264Nalu);
  const ppsId = r.readUe();
  if (ppsId > MAX_PPS_ID) throw new GatewayError(ErrorCode.H264Nalu, `pic_parameter_set_id ${ppsId} out of range`);
  return ppsId;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
