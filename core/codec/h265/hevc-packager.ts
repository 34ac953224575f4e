/**
 * The one shared H.265 "access unit → RtmpMessage" converter, as Enhanced RTMP (veovera enhanced-rtmp v1/v2:
 * ExVideoTagHeader with IsExHeader, FrameType, PacketType and FourCC 'hvc1'; ISO/IEC 14496-15 8.3.3.1
 * HEVCDecoderConfigurationRecord). Same shape as the H.264 AvcPackager (STYLE habit 7).
 *
 * One VIDEODATA message per AU with 4-byte NALU lengths; VPS/SPS/PPS/AUD are dropped from the frame; a new or
 * changed parameter set first yields a 'video-config' message (PacketType SequenceStart = 0, the hvcC). Frames are
 * CodedFrames (1) with a SI24 CompositionTime = PTS − DTS in ms, or CodedFramesX (3) when that is 0. Timestamp =
 * DTS in ms. Corrupt input never throws: it is dropped and counted in `errors`.
 */
import { createMessage, MessageType, VideoFrameType } from '../../media/message.ts';
import type { RtmpMessage } from '../../media/message.ts';
import { ticks90kToMs } from '../../media/timestamp.ts';
import { ErrorCode, GatewayError } from '../../errors.ts';
import { ExVideoPacketType, writeSi24 } from '../../protocol/flv/flv-tag.ts';
import { buildHevcDecoderConfigurationRecord } from './hevc-decoder-config.ts';
import { H265NaluType, h265NaluType, isIrap, isParameterSetOrAud, isVcl, MAX_H265_ACCESS_UNIT_SIZE, MAX_H265_NALUS_PER_AU } from './nalu.ts';
import { parseH265Pps, parseH265Sps, parseH265Vps } from './sps.ts';
import type { H265SpsInfo } from './sps.ts';

/** Enhanced RTMP FourCC of HEVC. */
export const HEVC_FOURCC = 'hvc1';
/** 'hvc1' as a big-endian uint32: Enhanced RTMP's onMetaData `videocodecid` for H.265. */
export const HEVC_FOURCC_ID = 0x68766331;
/** ExVideoTagHeader byte + FourCC. */
export const EX_VIDEO_TAG_HEADER_SIZE = 5;
/** ExVideoTagHeader + SI24 CompositionTime (PacketType CodedFrames). */
const CODED_FRAMES_HEADER_SIZE = 8;
/** NALU length field size in every frame this packager writes (lengthSizeMinusOne = 3). */
const NALU_LENGTH_SIZE = 4;
const IS_EX_HEADER = 0x80;

/**
 * Write an Enhanced RTMP ExVideoTagHeader for 'hvc1' at offset 0: IsExHeader | FrameType(3) | PacketType(4),
 * FourCC; for CodedFrames also the SI24 CompositionTime (ms). @returns the header length (5 or 8).
 */
export function writeHevcExVideoTagHeader(out: Uint8Array, key: boolean, packetType: number, ctsMs: number): number {
  out[0] = IS_EX_HEADER | ((key ? VideoFrameType.Key : VideoFrameType.Inter) << 4) | packetType;
  for (let i = 0; i < 4; i++) out[1 + i] = HEVC_FOURCC.charCodeAt(i);
  if (packetType !== ExVideoPacketType.CodedFrames) return EX_VIDEO_TAG_HEADER_SIZE;
  writeSi24(out, EX_VIDEO_TAG_HEADER_SIZE, ctsMs);
  return CODED_FRAMES_HEADER_SIZE;
}

export class HevcPackager {
  #vps: Uint8Array | undefined;
  #sps: Uint8Array | undefined;
  #pps: Uint8Array | undefined;
  #spsInfo: H265SpsInfo | undefined;
  #configDirty = false;
  #configSent = false;
  #droppedBeforeConfig = 0;
  #errors = 0;

  /** Latest parsed SPS facts (width/height/profile/level/fps), or undefined before the first valid SPS. */
  get sps(): H265SpsInfo | undefined {
    return this.#spsInfo;
  }

  /** Access units dropped because no VPS+SPS+PPS had been seen yet. */
  get droppedBeforeConfig(): number {
    return this.#droppedBeforeConfig;
  }

  /** Input errors so far: unparseable parameter sets, oversized access units (each dropped). */
  get errors(): number {
    return this.#errors;
  }

  /**
   * Prime from out-of-band parameter sets (SDP sprop-vps/sprop-sps/sprop-pps, RFC 7798 7.1). The next AU then
   * starts with a 'video-config' message.
   * @throws GatewayError(H265Sps) when a parameter set cannot be parsed.
   */
  setParameterSets(vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): void {
    const expected = [H265NaluType.Vps, H265NaluType.Sps, H265NaluType.Pps];
    for (const [i, ps] of [vps, sps, pps].entries()) {
      if (ps.length < 2 || h265NaluType(ps) !== expected[i]) {
        throw new GatewayError(ErrorCode.H265Sps, `HEVC packager: parameter set #${i} is not of NAL type ${expected[i]}`);
      }
      const err = this.#accept(ps);
      if (err) throw err;
    }
  }

  /**
   * Package one access unit (NALUs without start codes; views are fine — bytes are copied once into the message).
   * PTS/DTS are unwrapped 90 kHz ticks.
   * @returns [] while waiting for VPS+SPS+PPS (counted in droppedBeforeConfig), [config] for an AU without VCL
   *   NALUs when parameters changed, else [config?, frame]. Never throws on corrupt input.
   */
  packAccessUnit(nalus: readonly Uint8Array[], pts90k: number, dts90k: number): RtmpMessage[] {
    let dataSize = 0;
    let kept = 0;
    let hasVcl = false;
    let key = false;
    for (const nalu of nalus) {
      if (nalu.length < 2) continue;
      const type = h265NaluType(nalu);
      if (isParameterSetOrAud(type)) {
        if (type !== H265NaluType.Aud && this.#accept(nalu)) this.#errors++;
        continue;
      }
      dataSize += NALU_LENGTH_SIZE + nalu.length;
      kept++;
      if (isVcl(type)) hasVcl = true;
      if (isIrap(type)) key = true;
    }

    const out: RtmpMessage[] = [];
    const timestampMs = Math.max(0, ticks90kToMs(dts90k));
    if (this.#configDirty && this.#vps && this.#sps && this.#pps) {
      const config = this.#configMessage(timestampMs);
      if (config) out.push(config);
    }
    if (!hasVcl) return out;
    if (!this.#configSent) {
      this.#droppedBeforeConfig++;
      return out;
    }
    if (kept > MAX_H265_NALUS_PER_AU || dataSize > MAX_H265_ACCESS_UNIT_SIZE) {
      this.#errors++;
      return out;
    }

    const ctsMs = ticks90kToMs(pts90k) - ticks90kToMs(dts90k);
    const packetType = ctsMs === 0 ? ExVideoPacketType.CodedFramesX : ExVideoPacketType.CodedFrames;
    const headerSize = packetType === ExVideoPacketType.CodedFrames ? CODED_FRAMES_HEADER_SIZE : EX_VIDEO_TAG_HEADER_SIZE;
    const payload = Buffer.allocUnsafe(headerSize + dataSize);
    let o = writeHevcExVideoTagHeader(payload, key, packetType, ctsMs);
    for (const nalu of nalus) {
      if (nalu.length < 2 || isParameterSetOrAud(h265NaluType(nalu))) continue;
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
      record = buildHevcDecoderConfigurationRecord(this.#vps!, this.#sps!, this.#pps!);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#errors++;
      this.#configDirty = false; // wait for a new parameter set rather than failing on every AU
      return undefined;
    }
    this.#configDirty = false;
    this.#configSent = true;
    const payload = Buffer.allocUnsafe(EX_VIDEO_TAG_HEADER_SIZE + record.length);
    writeHevcExVideoTagHeader(payload, true, ExVideoPacketType.SequenceStart, 0);
    payload.set(record, EX_VIDEO_TAG_HEADER_SIZE);
    return createMessage(MessageType.Video, timestampMs, payload);
  }

  /** Store a VPS/SPS/PPS when new or changed; returns the parse error instead when it cannot be parsed. */
  #accept(nalu: Uint8Array): GatewayError | undefined {
    const type = h265NaluType(nalu);
    try {
      if (type === H265NaluType.Vps) {
        if (this.#vps && bytesEqual(this.#vps, nalu)) return undefined;
        parseH265Vps(nalu);
        this.#vps = Uint8Array.from(nalu);
      } else if (type === H265NaluType.Sps) {
        if (this.#sps && bytesEqual(this.#sps, nalu)) return undefined;
        const info = parseH265Sps(nalu);
        this.#sps = Uint8Array.from(nalu);
        this.#spsInfo = info;
      } else {
        if (this.#pps && bytesEqual(this.#pps, nalu)) return undefined;
        parseH265Pps(nalu);
        this.#pps = Uint8Array.from(nalu);
      }
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    this.#configDirty = true;
    return undefined;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
