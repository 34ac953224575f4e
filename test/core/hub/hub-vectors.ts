/**
 * Labelled FLV tag bodies and a capturing ConsumerTarget for the hub tests (not a test file itself).
 */
import { pino } from 'pino';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import type { ConsumerTarget, SourceEvent } from '../../../core/hub/ports.ts';

export const silentLog = pino({ level: 'silent' });

function must(m: RtmpMessage | undefined): RtmpMessage {
  if (m === undefined) throw new Error('createMessage returned undefined');
  return m;
}

/** SCRIPTDATA: AMF0 string "onMetaData" + empty ECMA array. */
export function metadata(ts = 0): RtmpMessage {
  const body = Buffer.from([
    0x02, 0x00, 0x0a, ...Buffer.from('onMetaData'), // AMF0 string marker, length 10, "onMetaData"
    0x08, 0x00, 0x00, 0x00, 0x00, // ECMA array marker, approximate count 0
    0x00, 0x00, 0x09, // object end marker
  ]);
  return must(createMessage(MessageType.Data, ts, body));
}

/** AVC sequence header: High profile (0x64) level 3.1 (0x1f), one SPS, one PPS. */
export function videoConfig(ts = 0): RtmpMessage {
  const body = Buffer.from([
    0x17, // FrameType 1 (key) | CodecID 7 (AVC)
    0x00, // AVCPacketType 0: AVCDecoderConfigurationRecord
    0x00, 0x00, 0x00, // CompositionTime 0
    0x01, 0x64, 0x00, 0x1f, // configurationVersion 1, AVCProfileIndication 100, compat 0, AVCLevelIndication 31
    0xff, // reserved | lengthSizeMinusOne 3
    0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1f, // 1 SPS of 4 bytes (NALU type 7)
    0x01, 0x00, 0x04, 0x68, 0xee, 0x3c, 0x80, // 1 PPS of 4 bytes (NALU type 8)
  ]);
  return must(createMessage(MessageType.Video, ts, body));
}

function avcFrame(header: number, ts: number, naluHeader: number, size: number): RtmpMessage {
  const body = Buffer.alloc(5 + 4 + size);
  body[0] = header; // FrameType | CodecID 7
  body[1] = 0x01; // AVCPacketType 1: NALUs
  // CompositionTime 0 (bytes 2..4)
  body.writeUInt32BE(size, 5); // 4-byte NALU length
  body[9] = naluHeader;
  return must(createMessage(MessageType.Video, ts, body));
}

/** AVC IDR frame (0x17 0x01, NALU type 5) with a `size`-byte NALU. */
export function keyframe(ts: number, size = 100): RtmpMessage {
  return avcFrame(0x17, ts, 0x65, size);
}

/** AVC inter frame (0x27 0x01, NALU type 1). */
export function interframe(ts: number, size = 20): RtmpMessage {
  return avcFrame(0x27, ts, 0x41, size);
}

/** AAC sequence header: AudioSpecificConfig AAC LC, 44100 Hz, stereo (0x12 0x10). */
export function audioConfig(ts = 0): RtmpMessage {
  return must(createMessage(MessageType.Audio, ts, Buffer.from([0xaf, 0x00, 0x12, 0x10])));
}

/** AAC raw frame (0xAF 0x01 + bytes). */
export function aac(ts: number, size = 10): RtmpMessage {
  const body = Buffer.alloc(2 + size, 0x21);
  body[0] = 0xaf; // SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo
  body[1] = 0x01; // AACPacketType 1: raw
  return must(createMessage(MessageType.Audio, ts, body));
}

/** A ConsumerTarget that records everything; `accept = false` makes send report a full transport. */
export class CaptureTarget implements ConsumerTarget {
  readonly messages: RtmpMessage[] = [];
  readonly events: SourceEvent[] = [];
  readonly closes: string[] = [];
  accept = true;

  send(msg: RtmpMessage): boolean {
    this.messages.push(msg);
    return this.accept;
  }
  onSourceEvent(event: SourceEvent): void {
    this.events.push(event);
  }
  onClose(reason: string): void {
    this.closes.push(reason);
  }
  /** `kind@timestamp` per message: compact, readable assertions. */
  get trace(): string[] {
    return this.messages.map((m) => `${m.kind}@${m.timestamp}`);
  }
  get kinds(): string[] {
    return this.messages.map((m) => m.kind);
  }
}
