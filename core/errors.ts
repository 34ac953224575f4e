/**
 * GatewayError and the stable error-code table (GW_ERR_*).
 *
 * Three kinds of outcome (STYLE habit 12): "need more data" is a return value (`undefined`), non-fatal decode
 * errors go to a sink's `onDecodeError(err)`, fatal errors throw a GatewayError and the owning session closes.
 * Codes are stable strings a caller, a log query or an API client can match on.
 */
export const ErrorCode = {
  // config
  ConfSyntax: 'GW_ERR_CONF_SYNTAX',
  ConfInvalid: 'GW_ERR_CONF_INVALID',
  ConfInclude: 'GW_ERR_CONF_INCLUDE',
  // generic byte parsing
  Truncated: 'GW_ERR_TRUNCATED',
  TooLarge: 'GW_ERR_TOO_LARGE',
  // AMF0 / FLV
  Amf0Decode: 'GW_ERR_AMF0_DECODE',
  FlvHeader: 'GW_ERR_FLV_HEADER',
  FlvTag: 'GW_ERR_FLV_TAG',
  /** PreviousTagSize ≠ 11 + DataSize of the tag before it: framing is lost (that tag's DataSize was wrong). */
  FlvPreviousTagSize: 'GW_ERR_FLV_PREVIOUS_TAG_SIZE',
  // codecs
  H264Sps: 'GW_ERR_H264_SPS',
  H264Nalu: 'GW_ERR_H264_NALU',
  AvcConfig: 'GW_ERR_AVC_CONFIG',
  AacAdts: 'GW_ERR_AAC_ADTS',
  AacConfig: 'GW_ERR_AAC_CONFIG',
  MpegAudioHeader: 'GW_ERR_MPEG_AUDIO_HEADER',
  H265Nalu: 'GW_ERR_H265_NALU',
  H265Sps: 'GW_ERR_H265_SPS',
  HevcConfig: 'GW_ERR_HEVC_CONFIG',
  AacLatm: 'GW_ERR_AAC_LATM',
  // MPEG-TS
  TsSync: 'GW_ERR_TS_SYNC',
  TsCrc: 'GW_ERR_TS_CRC',
  TsPsi: 'GW_ERR_TS_PSI',
  TsPes: 'GW_ERR_TS_PES',
  TsContinuity: 'GW_ERR_TS_CONTINUITY',
  TsUnsupportedCodec: 'GW_ERR_TS_UNSUPPORTED_CODEC',
  TsMultiProgram: 'GW_ERR_TS_MULTI_PROGRAM',
  // RTMP
  RtmpHandshake: 'GW_ERR_RTMP_HANDSHAKE',
  RtmpChunk: 'GW_ERR_RTMP_CHUNK',
  RtmpCommand: 'GW_ERR_RTMP_COMMAND',
  // RTSP / SDP / RTP / RTCP
  RtspRequest: 'GW_ERR_RTSP_REQUEST',
  RtspTransport: 'GW_ERR_RTSP_TRANSPORT',
  SdpInvalid: 'GW_ERR_SDP_INVALID',
  RtpPacket: 'GW_ERR_RTP_PACKET',
  RtcpPacket: 'GW_ERR_RTCP_PACKET',
  /** A sequence gap: the RTP packets between were lost (or arrived too late to be reordered). */
  RtpMissingPacket: 'GW_ERR_RTP_MISSING_PACKET',
  /** A payload that breaks its RTP payload format (bad STAP-A length, FU without start, AU-header overrun...). */
  RtpPayload: 'GW_ERR_RTP_PAYLOAD',
  RtpUnsupportedCodec: 'GW_ERR_RTP_UNSUPPORTED_CODEC',
  // hub
  StreamBusy: 'GW_ERR_STREAM_BUSY',
  StreamKeyInvalid: 'GW_ERR_STREAM_KEY_INVALID',
  ConsumerTooSlow: 'GW_ERR_CONSUMER_TOO_SLOW',
  // control plane (admission)
  /** `security { deny ...; }` (or no matching allow) refused a publish or play (SRS ERROR_SYSTEM_SECURITY_DENY). */
  SecurityDenied: 'GW_ERR_SECURITY_DENIED',
  /** An `http_hooks` on_publish/on_play/on_connect URL did not allow the session (SRS ERROR_HTTP_HOOKS...). */
  HookRejected: 'GW_ERR_HOOK_REJECTED',
  // casters / outputs
  CasterOutput: 'GW_ERR_CASTER_OUTPUT',
  /** A DVR file could not be written (disk full, missing or read-only folder, muxer failure). */
  DvrWrite: 'GW_ERR_DVR_WRITE',
  /** A track whose codec the MP4 container (or its muxer) cannot carry, e.g. G.711. */
  Mp4UnsupportedCodec: 'GW_ERR_MP4_UNSUPPORTED_CODEC',
  // ingest / child processes
  IngestInput: 'GW_ERR_INGEST_INPUT',
  ProcessSpawn: 'GW_ERR_PROCESS_SPAWN',
  Listen: 'GW_ERR_LISTEN',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a stable code; `message` says what was wrong, with the stream/session id where known. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
  }
}

/** True when `err` is a GatewayError, optionally with the given code. */
export function isGatewayError(err: unknown, code?: ErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}
