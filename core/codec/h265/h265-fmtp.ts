/**
 * SDP `a=fmtp` parameters of H.265 (RFC 7798 7.1): sprop-vps, sprop-sps, sprop-pps (base64 NAL units, possibly
 * comma-separated lists) and sprop-max-don-diff. A sprop-max-don-diff above 0 announces DONL/DOND fields and
 * NAL units out of decoding order (interleaving, RFC 7798 6.2): not supported, rejected with a clear error.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { H265NaluType, h265NaluType } from './nalu.ts';

/** Largest decoded parameter set accepted from SDP (the hvcC nalUnitLength is 16 bits). */
const MAX_SPROP_NALU_SIZE = 0xffff;
/** sprop-max-don-diff range (RFC 7798 7.1: 0..32767). */
const MAX_DON_DIFF = 32767;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface H265Fmtp {
  /** First NAL unit of each list (with its 2-byte NAL header). */
  vps?: Buffer;
  sps?: Buffer;
  pps?: Buffer;
  /** sprop-max-don-diff (0 when absent); always 0 in a successful result. */
  maxDonDiff: number;
}

/**
 * Read the H.265 fmtp parameters (keys as in the SDP, matched case-insensitively; values are strings).
 * A list keeps its first NAL unit.
 * @throws GatewayError(SdpInvalid) on bad base64, an empty/oversized NAL unit, a NAL unit of the wrong type or a
 *   bad sprop-max-don-diff; GatewayError(RtpUnsupportedCodec) when sprop-max-don-diff > 0 (DONL in use).
 */
export function parseH265Fmtp(fmtp: ReadonlyMap<string, string>): H265Fmtp {
  const params = new Map<string, string>();
  for (const [k, v] of fmtp) params.set(k.trim().toLowerCase(), v.trim());
  const out: H265Fmtp = { maxDonDiff: 0 };
  const donDiff = params.get('sprop-max-don-diff');
  if (donDiff !== undefined) {
    if (!/^\d{1,5}$/.test(donDiff) || Number(donDiff) > MAX_DON_DIFF) {
      throw new GatewayError(ErrorCode.SdpInvalid, `H.265 fmtp: sprop-max-don-diff '${donDiff}' is not 0..${MAX_DON_DIFF}`);
    }
    out.maxDonDiff = Number(donDiff);
    if (out.maxDonDiff > 0) {
      throw new GatewayError(ErrorCode.RtpUnsupportedCodec,
        `H.265 fmtp: sprop-max-don-diff=${out.maxDonDiff} (DONL fields, NAL units out of decoding order) is not supported`);
    }
  }
  const vps = firstNalu(params.get('sprop-vps'), 'sprop-vps', H265NaluType.Vps);
  const sps = firstNalu(params.get('sprop-sps'), 'sprop-sps', H265NaluType.Sps);
  const pps = firstNalu(params.get('sprop-pps'), 'sprop-pps', H265NaluType.Pps);
  if (vps) out.vps = vps;
  if (sps) out.sps = sps;
  if (pps) out.pps = pps;
  return out;
}

function firstNalu(value: string | undefined, name: string, type: number): Buffer | undefined {
  if (value === undefined || value === '') return undefined;
  const first = value.split(',')[0].trim();
  if (!BASE64.test(first) || first.length % 4 === 1) throw sdpError(`${name} is not base64`);
  const nalu = Buffer.from(first, 'base64');
  if (nalu.length < 3 || nalu.length > MAX_SPROP_NALU_SIZE) throw sdpError(`${name} NAL unit of ${nalu.length} bytes`);
  if (h265NaluType(nalu) !== type) throw sdpError(`${name} holds NAL type ${h265NaluType(nalu)}, not ${type}`);
  return nalu;
}

function sdpError(message: string): GatewayError {
  return new GatewayError(ErrorCode.SdpInvalid, `H.265 fmtp: ${message}`);
}
