/**
 * H.264 SDP format parameters (RFC 6184 8.1 media type registration, 8.2.1 mapping to SDP): the `a=fmtp`
 * parameters packetization-mode, profile-level-id and sprop-parameter-sets.
 *
 * sprop-parameter-sets is a comma-separated list of base64 NAL units (RFC 6184 8.1); the first SPS (type 7) and
 * the first PPS (type 8) found are returned as owned Buffers.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { NaluType } from './nalu.ts';

export interface H264Fmtp {
  /** 0 single NAL unit mode, 1 non-interleaved (default 0, RFC 6184 8.1); 2 (interleaved) is not supported downstream. */
  readonly packetizationMode: number;
  /** First SPS NAL unit from sprop-parameter-sets (1-byte NAL header included, no start code). */
  readonly sps?: Buffer;
  /** First PPS NAL unit from sprop-parameter-sets. */
  readonly pps?: Buffer;
  /** profile-level-id as written (6 hex digits: profile_idc, constraint flags, level_idc). */
  readonly profileLevelId?: string;
}

/** sprop-parameter-sets longer than this is refused: a handful of SPS/PPS of at most a few hundred bytes each. */
export const MAX_SPROP_PARAMETER_SETS_LENGTH = 8192;
/** RFC 6184 8.1: packetization-mode is 0, 1 or 2. */
const MAX_PACKETIZATION_MODE = 2;
/** Standard base64 (RFC 4648 4) with optional padding; RFC 6184 8.1 says "base64 [RFC 4648]". */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PROFILE_LEVEL_ID = /^[0-9A-Fa-f]{6}$/;

/**
 * Parse the fmtp parameters of an H.264 track (keys as written in SDP; matched case-insensitively).
 * An absent or empty packetization-mode is 0. A malformed profile-level-id is ignored (left undefined): it is
 * informative only, the SPS carries the truth.
 * @throws GatewayError(H264Nalu) on bad base64 or an oversized sprop-parameter-sets, and on a packetization-mode
 *   that is not 0, 1 or 2.
 */
export function parseH264Fmtp(fmtp: ReadonlyMap<string, string>): H264Fmtp {
  let packetizationMode = 0;
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  let profileLevelId: string | undefined;
  for (const [rawKey, rawValue] of fmtp) {
    const key = rawKey.trim().toLowerCase();
    const value = rawValue.trim();
    if (key === 'packetization-mode') {
      if (value === '') continue;
      const mode = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(mode >= 0 && mode <= MAX_PACKETIZATION_MODE)) throw fmtpError(`packetization-mode '${value}' is not 0, 1 or 2`);
      packetizationMode = mode;
    } else if (key === 'profile-level-id') {
      if (PROFILE_LEVEL_ID.test(value)) profileLevelId = value;
    } else if (key === 'sprop-parameter-sets') {
      if (value.length > MAX_SPROP_PARAMETER_SETS_LENGTH) {
        throw fmtpError(`sprop-parameter-sets is ${value.length} characters (max ${MAX_SPROP_PARAMETER_SETS_LENGTH})`);
      }
      for (const item of value.split(',')) {
        const b64 = item.trim();
        if (b64 === '') continue;
        if (!BASE64.test(b64) || b64.replace(/=+$/, '').length % 4 === 1) {
          throw fmtpError(`sprop-parameter-sets entry '${b64.slice(0, 32)}' is not base64`);
        }
        const nalu = Buffer.from(b64, 'base64');
        if (nalu.length === 0) continue;
        const type = nalu[0]! & 0x1f;
        if (type === NaluType.Sps && sps === undefined) sps = nalu;
        else if (type === NaluType.Pps && pps === undefined) pps = nalu;
      }
    }
  }
  return {
    packetizationMode,
    ...(sps !== undefined ? { sps } : {}),
    ...(pps !== undefined ? { pps } : {}),
    ...(profileLevelId !== undefined ? { profileLevelId } : {}),
  };
}

function fmtpError(message: string): GatewayError {
  return new GatewayError(ErrorCode.H264Nalu, `H.264 fmtp: ${message}`);
}
