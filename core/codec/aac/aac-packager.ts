/**
 * AAC → RtmpMessage converter (FLV spec Annex E.4.2.1 AUDIODATA / E.4.2.2 AACAUDIODATA): ADTS from MPEG-TS PES
 * payloads (ISO/IEC 14496-3 1.A.2) or raw frames from RTP (RFC 3640). One 'audio' message per raw AAC frame
 * (ADTS header stripped); an 'audio-config' message (AudioSpecificConfig) first whenever the ASC changes.
 * Corrupt input never throws: garbage is skipped and counted in `errors`.
 */
import { createMessage, MessageType } from '../../media/message.ts';
import type { RtmpMessage } from '../../media/message.ts';
import { ticks90kToMs } from '../../media/timestamp.ts';
import { GatewayError } from '../../errors.ts';
import { AAC_AUDIO_TAG_HEADER_SIZE, AacPacketType, writeAacAudioTagHeader } from '../../protocol/flv/flv-tag.ts';
import { EsFrameSplitter } from '../es-frame-splitter.ts';
import type { EsFrameFormat } from '../es-frame-splitter.ts';
import { ascFromAdts, isAdtsSyncAt, MAX_ADTS_FRAME_LENGTH, parseAdtsHeader } from './adts.ts';
import type { AdtsHeader } from './adts.ts';
import { ascEquals, SAMPLING_FREQUENCIES, writeAudioSpecificConfig } from './audio-specific-config.ts';
import type { AudioSpecificConfig } from './audio-specific-config.ts';

/** Samples per AAC frame (1024; the 960-sample variant is not used in ADTS/RTMP practice). */
export const AAC_SAMPLES_PER_FRAME = 1024;
/** Largest raw AAC frame accepted from RTP: the 13-bit size field of RFC 3640 AU-headers (and of ADTS). */
export const MAX_AAC_RAW_FRAME_SIZE = MAX_ADTS_FRAME_LENGTH;

const ADTS_FORMAT: EsFrameFormat<AdtsHeader> = {
  parseHeader: parseAdtsHeader,
  isSyncAt: isAdtsSyncAt,
  duration90k: (h) => (AAC_SAMPLES_PER_FRAME * 90000) / SAMPLING_FREQUENCIES[h.samplingFrequencyIndex],
  maxFrameLength: MAX_ADTS_FRAME_LENGTH,
};

export class AacPackager {
  readonly #splitter = new EsFrameSplitter(ADTS_FORMAT);
  #config: AudioSpecificConfig | undefined;
  #errors = 0;

  /** The ASC of the last config message sent, or undefined before the first frame. */
  get config(): AudioSpecificConfig | undefined {
    return this.#config;
  }

  /** Garbage runs skipped, abandoned partial frames, unsupported or oversized frames (each dropped). */
  get errors(): number {
    return this.#errors + this.#splitter.errors;
  }

  /**
   * Package a PES payload of ADTS frames. A partial trailing frame (≤ 8191 bytes) is kept and completed by the
   * next call. Frame i starting in this payload gets pts90k + i·1024·90000/sampleRate.
   * @param pts90k unwrapped PES PTS in 90 kHz ticks.
   * @returns ['audio-config'?, 'audio'...] messages, timestamps in ms (never negative).
   */
  packAdts(pesPayload: Uint8Array, pts90k: number): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    for (const frame of this.#splitter.split(pesPayload, pts90k)) {
      const h = frame.header;
      if (h.numRawDataBlocks !== 0) {
        // Several raw_data_blocks per ADTS frame cannot be split without decoding them (mediacommon rejects them too).
        this.#errors++;
        continue;
      }
      const asc = ascFromAdts(h);
      this.#pushFrame(out, frame.bytes.subarray(h.headerLength), frame.pts90k, asc);
    }
    return out;
  }

  /**
   * Package one raw AAC frame (no ADTS header; from RTP) with its PTS and the stream's ASC.
   * @returns ['audio-config'?, 'audio'], or ['audio-config'?] when the frame is empty or oversized (counted).
   */
  packRawFrame(frame: Uint8Array, pts90k: number, asc: AudioSpecificConfig): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    this.#pushFrame(out, frame, pts90k, asc);
    return out;
  }

  #pushFrame(out: RtmpMessage[], raw: Uint8Array, pts90k: number, asc: AudioSpecificConfig): void {
    const timestampMs = Math.max(0, ticks90kToMs(pts90k));
    if (this.#config === undefined || !ascEquals(this.#config, asc)) {
      let ascBytes: Buffer;
      try {
        ascBytes = writeAudioSpecificConfig(asc);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        this.#errors++;
        return;
      }
      this.#config = { ...asc };
      const payload = Buffer.allocUnsafe(AAC_AUDIO_TAG_HEADER_SIZE + ascBytes.length);
      writeAacAudioTagHeader(payload, 0, AacPacketType.SequenceHeader);
      payload.set(ascBytes, AAC_AUDIO_TAG_HEADER_SIZE);
      const config = createMessage(MessageType.Audio, timestampMs, payload);
      if (config) out.push(config);
    }
    if (raw.length === 0 || raw.length > MAX_AAC_RAW_FRAME_SIZE) {
      this.#errors++;
      return;
    }
    const payload = Buffer.allocUnsafe(AAC_AUDIO_TAG_HEADER_SIZE + raw.length);
    writeAacAudioTagHeader(payload, 0, AacPacketType.Raw);
    payload.set(raw, AAC_AUDIO_TAG_HEADER_SIZE);
    const msg = createMessage(MessageType.Audio, timestampMs, payload);
    if (msg) out.push(msg);
  }
}
