/**
 * The media model: one immutable RtmpMessage type flows through the hub (DESIGN.md "The media model").
 *
 * An RTMP message payload *is* an FLV tag body (FLV spec v10.1 Annex E.4: AUDIODATA, VIDEODATA, SCRIPTDATA),
 * so one type serves every input and output. A message is classified once, when created (its `kind`), so no
 * consumer re-parses FLV headers. Serialized forms (the FLV tag, RTMP chunks for one chunk size) are computed
 * lazily by the muxers and cached on the message, so N players cost one serialization.
 */

/** RTMP message type IDs (= FLV TagType): 8 audio, 9 video, 18 AMF0 data. */
export const MessageType = { Audio: 8, Video: 9, Data: 18 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export type FrameKind =
  | 'metadata' // AMF0 data: @setDataFrame / onMetaData
  | 'audio-config' // AACPacketType 0 → AudioSpecificConfig
  | 'audio'
  | 'video-config' // AVCPacketType 0 → AVCDecoderConfigurationRecord (or Enhanced RTMP SequenceStart)
  | 'keyframe' // FrameType 1 coded frame
  | 'interframe'; // any other video message (FrameType 2/3, end of sequence, command frames)

/** FLV SoundFormat (Annex E.4.2.1, 4 bits). */
export const SoundFormat = { Mp3: 2, Aac: 10 } as const;
/** FLV video CodecID (Annex E.4.3.1, 4 bits); 12 = legacy HEVC (Chinese CDN extension). */
export const VideoCodecId = { Avc: 7, HevcLegacy: 12 } as const;
/** FLV video FrameType (Annex E.4.3.1, 4 bits). */
export const VideoFrameType = { Key: 1, Inter: 2, DisposableInter: 3, Generated: 4, Command: 5 } as const;

/** Serialized-form caches filled lazily by the FLV muxer and the RTMP chunk writer. */
export interface MessageEncodingCache {
  /** FLV tag: 11-byte tag header + body + 4-byte PreviousTagSize. */
  flvTag?: Buffer;
  /** RTMP chunks of this message for one (chunk size, message stream id, chunk stream id). */
  rtmpChunks?: Buffer;
  rtmpChunksKey?: number;
}

/** One media message. Public fields are never written after construction; `cache` is for muxers only. */
export class RtmpMessage {
  readonly type: MessageType;
  readonly kind: FrameKind;
  /** DTS in ms on the RTMP 32-bit clock. CTS (SI24, signed) stays inside the VIDEODATA payload. */
  readonly timestamp: number;
  /** FLV tag body. Owned bytes; never mutated after creation (shared by all consumers). */
  readonly payload: Buffer;
  /** Lazily filled serialized forms; see MessageEncodingCache. */
  readonly cache: MessageEncodingCache = {};

  constructor(type: MessageType, kind: FrameKind, timestamp: number, payload: Buffer) {
    this.type = type;
    this.kind = kind;
    this.timestamp = timestamp;
    this.payload = payload;
  }

  /** True for metadata and sequence headers: what a late joiner needs before media. */
  get isConfig(): boolean {
    return this.kind === 'metadata' || this.kind === 'audio-config' || this.kind === 'video-config';
  }

  /** A copy of this message with another timestamp (jitter correction); payload bytes are shared. */
  withTimestamp(timestampMs: number): RtmpMessage {
    if (timestampMs === this.timestamp) return this;
    return new RtmpMessage(this.type, this.kind, timestampMs, this.payload);
  }
}

/**
 * Classify an FLV tag body once (FLV spec Annex E.4.2/E.4.3, Enhanced RTMP v1 ExVideoTagHeader).
 * Returns undefined for an empty body (nothing to classify; callers drop it).
 */
export function classifyPayload(type: MessageType, payload: Uint8Array): FrameKind | undefined {
  if (type === MessageType.Data) return 'metadata';
  if (payload.length === 0) return undefined;
  const b0 = payload[0];
  if (type === MessageType.Audio) {
    // SoundFormat 10 (AAC): AACPacketType 0 = AudioSpecificConfig.
    if (b0 >> 4 === SoundFormat.Aac && payload.length >= 2 && payload[1] === 0) return 'audio-config';
    return 'audio';
  }
  if ((b0 & 0x80) !== 0) {
    // Enhanced RTMP: IsExHeader | FrameType(3 bits) | PacketType(4 bits); PacketType 0 = SequenceStart.
    const frameType = (b0 >> 4) & 0x07;
    const packetType = b0 & 0x0f;
    // A command frame (FrameType 5) carries a VideoCommand byte, not media: never a sequence start.
    if (frameType === VideoFrameType.Command) return 'interframe';
    if (packetType === 0) return 'video-config';
    return frameType === VideoFrameType.Key && (packetType === 1 || packetType === 3) ? 'keyframe' : 'interframe';
  }
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  // A video info/command frame (FrameType 5) has a command byte where AVCPacketType would be (FLV spec E.4.3.1).
  if (frameType === VideoFrameType.Command) return 'interframe';
  if (codecId === VideoCodecId.Avc || codecId === VideoCodecId.HevcLegacy) {
    if (payload.length < 2) return 'interframe';
    const avcPacketType = payload[1];
    if (avcPacketType === 0) return 'video-config';
    if (avcPacketType === 2) return 'interframe'; // end of sequence
  }
  return frameType === VideoFrameType.Key ? 'keyframe' : 'interframe';
}

/**
 * Create a message from an FLV tag body, classifying it once.
 * @param timestamp DTS in ms (RTMP 32-bit clock).
 * @param payload owned bytes (never a view into a socket chunk that is reused); not copied here.
 * @returns undefined when the body is empty (an empty audio/video tag carries nothing).
 */
export function createMessage(type: MessageType, timestamp: number, payload: Buffer): RtmpMessage | undefined {
  const kind = classifyPayload(type, payload);
  if (kind === undefined) return undefined;
  return new RtmpMessage(type, kind, timestamp >>> 0, payload);
}
