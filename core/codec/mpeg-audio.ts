/**
 * MPEG audio frame header (ISO/IEC 11172-3 2.4.1.3 / 2.4.2.3, ISO/IEC 13818-3 2.4.2.3, and the MPEG-2.5
 * extension): MPEG-1/2/2.5 Layer I/II/III (TS stream_type 0x03/0x04), and its packager: one 'audio' message
 * per frame, FLV SoundFormat 2 (FLV spec Annex E.4.2.1). The whole frame, header included, follows the 1-byte
 * AUDIODATA header; a partial trailing frame is carried into the next PES payload. The packager never throws
 * on corrupt input: garbage is skipped and counted.
 */
import { ErrorCode, GatewayError } from '../errors.ts';
import { createMessage, MessageType, SoundFormat } from '../media/message.ts';
import type { RtmpMessage } from '../media/message.ts';
import { ticks90kToMs } from '../media/timestamp.ts';
import { audioTagHeaderByte, SoundRate, SoundSize, SoundType } from '../protocol/flv/flv-tag.ts';
import { EsFrameSplitter } from './es-frame-splitter.ts';
import type { EsFrameFormat } from './es-frame-splitter.ts';

export const MPEG_AUDIO_HEADER_LENGTH = 4;
/** Largest frame: MPEG-2 Layer II at 160 kbit/s and 8 kHz (144 · 160000 / 8000 + 1 padding byte). */
export const MAX_MPEG_AUDIO_FRAME_LENGTH = 2881;

export interface MpegAudioHeader {
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  bitrateKbps: number;
  sampleRate: number;
  channels: 1 | 2;
  /** Whole frame in bytes, header included. */
  frameLength: number;
  samplesPerFrame: number;
  padding: boolean;
}

/** bitrate_index 1..14 → kbit/s (11172-3 Table 2.4.2.3, 13818-3 Table 2.4.2.3 for the lower rates). */
const BITRATES_V1: readonly (readonly number[])[] = [
  [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // Layer I
  [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // Layer II
  [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // Layer III
];
const BITRATES_V2: readonly (readonly number[])[] = [
  [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], // Layer I
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // Layer II
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // Layer III
];
/** sampling_frequency 0..2 → Hz per version. */
const SAMPLE_RATES_V1 = [44100, 48000, 32000] as const;
const SAMPLE_RATES_V2 = [22050, 24000, 16000] as const;
const SAMPLE_RATES_V25 = [11025, 12000, 8000] as const;
/** mode '11' = single channel. */
const MODE_SINGLE_CHANNEL = 3;

/**
 * True when a plausible MPEG audio syncword starts at `offset`: 11 set bits, a non-reserved version and a
 * non-zero layer (which also tells it apart from ADTS). False when fewer than 2 bytes remain.
 */
export function isMpegAudioSyncAt(buf: Uint8Array, offset: number): boolean {
  if (offset + 1 >= buf.length || buf[offset] !== 0xff) return false;
  const b1 = buf[offset + 1];
  return (b1 & 0xe0) === 0xe0 && ((b1 >> 3) & 0x03) !== 1 && ((b1 >> 1) & 0x03) !== 0;
}

/**
 * Parse the 4-byte header at `offset`.
 * @returns undefined when fewer than 4 bytes remain (need more data).
 * @throws GatewayError(MpegAudioHeader) on a bad syncword, reserved version/layer/sampling_frequency, or a
 *   free-format/forbidden bitrate_index.
 */
export function parseMpegAudioHeader(buf: Uint8Array, offset: number): MpegAudioHeader | undefined {
  const available = buf.length - offset;
  if (available >= 1 && buf[offset] !== 0xff) throw headerError(`bad syncword at ${offset}`);
  if (available >= 2 && !isMpegAudioSyncAt(buf, offset)) throw headerError(`bad syncword, version or layer at ${offset}`);
  if (available < MPEG_AUDIO_HEADER_LENGTH) return undefined;
  const b1 = buf[offset + 1];
  const b2 = buf[offset + 2];
  const versionBits = (b1 >> 3) & 0x03; // 00 MPEG-2.5, 10 MPEG-2, 11 MPEG-1
  const version: 1 | 2 | 2.5 = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - ((b1 >> 1) & 0x03)) as 1 | 2 | 3; // 11 Layer I, 10 Layer II, 01 Layer III
  const bitrateIndex = b2 >> 4;
  if (bitrateIndex === 0) throw headerError('free-format bitrate is not supported');
  if (bitrateIndex === 15) throw headerError('forbidden bitrate_index 15');
  const samplingFrequency = (b2 >> 2) & 0x03;
  if (samplingFrequency === 3) throw headerError('reserved sampling_frequency 3');
  const bitrateKbps = (version === 1 ? BITRATES_V1 : BITRATES_V2)[layer - 1][bitrateIndex - 1];
  const sampleRate = (version === 1 ? SAMPLE_RATES_V1 : version === 2 ? SAMPLE_RATES_V2 : SAMPLE_RATES_V25)[samplingFrequency];
  const padding = (b2 & 0x02) !== 0;
  const channels: 1 | 2 = buf[offset + 3] >> 6 === MODE_SINGLE_CHANNEL ? 1 : 2;
  const bitrate = bitrateKbps * 1000;
  let frameLength: number;
  let samplesPerFrame: number;
  if (layer === 1) {
    frameLength = (Math.floor((12 * bitrate) / sampleRate) + (padding ? 1 : 0)) * 4; // 4-byte slots
    samplesPerFrame = 384;
  } else if (layer === 2 || version === 1) {
    frameLength = Math.floor((144 * bitrate) / sampleRate) + (padding ? 1 : 0);
    samplesPerFrame = 1152;
  } else {
    frameLength = Math.floor((72 * bitrate) / sampleRate) + (padding ? 1 : 0); // Layer III, MPEG-2/2.5
    samplesPerFrame = 576;
  }
  return { version, layer, bitrateKbps, sampleRate, channels, frameLength, samplesPerFrame, padding };
}

function headerError(message: string): GatewayError {
  return new GatewayError(ErrorCode.MpegAudioHeader, `MPEG audio header: ${message}`);
}

const MPEG_AUDIO_FORMAT: EsFrameFormat<MpegAudioHeader> = {
  parseHeader: parseMpegAudioHeader,
  isSyncAt: isMpegAudioSyncAt,
  duration90k: (h) => (h.samplesPerFrame * 90000) / h.sampleRate,
  maxFrameLength: MAX_MPEG_AUDIO_FRAME_LENGTH,
};

/**
 * FLV SoundRate for an MP3 sample rate: 44.1k → 3, 22.05k → 2, 11.025k → 1; 48k/32k are stored as 3 (like
 * ffmpeg's flvenc); other rates map to the nearest lower nominal rate. Decoders read the rate from the frame.
 */
export function flvSoundRateForMp3(sampleRate: number): number {
  if (sampleRate >= 32000) return SoundRate.Rate44100;
  if (sampleRate >= 22050) return SoundRate.Rate22050;
  if (sampleRate >= 11025) return SoundRate.Rate11025;
  return SoundRate.Rate5512;
}

export class MpegAudioPackager {
  readonly #splitter = new EsFrameSplitter(MPEG_AUDIO_FORMAT);
  #header: MpegAudioHeader | undefined;

  /** Header of the last frame packaged, or undefined before the first. */
  get header(): MpegAudioHeader | undefined {
    return this.#header;
  }

  /** Garbage runs skipped and abandoned partial frames. */
  get errors(): number {
    return this.#splitter.errors;
  }

  /**
   * Package a PES payload of MPEG audio frames. Frame i starting in this payload gets
   * pts90k + i·samplesPerFrame·90000/sampleRate; timestamps in ms, never negative.
   */
  packFrames(pesPayload: Uint8Array, pts90k: number): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    for (const frame of this.#splitter.split(pesPayload, pts90k)) {
      const h = frame.header;
      this.#header = h;
      const payload = Buffer.allocUnsafe(1 + frame.bytes.length);
      payload[0] = audioTagHeaderByte({
        soundFormat: SoundFormat.Mp3,
        soundRate: flvSoundRateForMp3(h.sampleRate),
        soundSize: SoundSize.Bits16,
        soundType: h.channels === 2 ? SoundType.Stereo : SoundType.Mono,
      });
      payload.set(frame.bytes, 1);
      const msg = createMessage(MessageType.Audio, Math.max(0, ticks90kToMs(frame.pts90k)), payload);
      if (msg) out.push(msg);
    }
    return out;
  }
}
