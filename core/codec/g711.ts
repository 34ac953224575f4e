/**
 * G.711 (ITU-T G.711 A-law / µ-law, RTP PCMA/PCMU of RFC 3551 §4.5.14) into FLV AUDIODATA
 * (FLV spec v10.1 Annex E.4.2.1: SoundFormat 7 = G.711 A-law, 8 = G.711 µ-law).
 *
 * FLV has no rate code for 8 kHz: like ffmpeg's flvenc (get_audio_flags: FLV_SAMPLERATE_SPECIAL |
 * FLV_SAMPLESSIZE_16BIT for PCM_ALAW/PCM_MULAW) the header byte carries SoundRate 0 and SoundSize 1, and ffmpeg's
 * flvdec decodes SoundFormat 7/8 as 8000 Hz whatever SoundRate says, channels from SoundType. So ffmpeg writes 0x72
 * (A-law) / 0x82 (µ-law) for mono. Unlike flvenc (which drops the flag) we set SoundType 1 for stereo. Only 8 kHz
 * G.711 can be carried (see G711_FLV_CLOCK_RATE).
 */
import { createMessage, MessageType } from '../media/message.ts';
import type { RtmpMessage } from '../media/message.ts';
import { audioTagHeaderByte, SoundRate, SoundSize, SoundType } from '../protocol/flv/flv-tag.ts';

/** RTP encoding names (lower-cased) of the two laws. */
export const G711Law = { ALaw: 'pcma', MuLaw: 'pcmu' } as const;
export type G711Law = (typeof G711Law)[keyof typeof G711Law];
/** FLV SoundFormat of G.711 (Annex E.4.2.1); core/media/message.ts SoundFormat has only MP3/AAC. */
export const G711SoundFormat = { ALaw: 7, MuLaw: 8 } as const;
/** The only G.711 sample rate FLV carries (ffmpeg's flvdec sets 8000 Hz for SoundFormat 7/8). */
export const G711_FLV_CLOCK_RATE = 8000;
/** AUDIODATA header size for G.711 (the SoundFormat|SoundRate|SoundSize|SoundType byte). */
export const G711_AUDIO_TAG_HEADER_SIZE = 1;
/** Largest G.711 payload packed in one message: an RTP packet cannot be larger. */
export const MAX_G711_FRAME_SIZE = 0xffff;

/** The AUDIODATA header byte for a law and channel count (mono 0x72 / 0x82, stereo 0x73 / 0x83). */
export function g711AudioTagHeaderByte(law: G711Law, channels: number): number {
  return audioTagHeaderByte({
    soundFormat: law === G711Law.ALaw ? G711SoundFormat.ALaw : G711SoundFormat.MuLaw,
    soundRate: SoundRate.Rate5512,
    soundSize: SoundSize.Bits16,
    soundType: channels > 1 ? SoundType.Stereo : SoundType.Mono,
  });
}

/**
 * One FLV AUDIODATA message holding G.711 samples (one byte per sample per channel, interleaved).
 * @param samples the RTP payload (not mutated; copied once into the message).
 * @param timestampMs RTMP timestamp (ms, 32-bit clock).
 * @param channels 1 = mono; 2 or more is flagged stereo (FLV knows no more than two).
 * @returns undefined for an empty or oversized (> MAX_G711_FRAME_SIZE) payload.
 */
export function packG711Frame(samples: Uint8Array, timestampMs: number, law: G711Law, channels: number): RtmpMessage | undefined {
  if (samples.length === 0 || samples.length > MAX_G711_FRAME_SIZE) return undefined;
  const payload = Buffer.allocUnsafe(G711_AUDIO_TAG_HEADER_SIZE + samples.length);
  payload[0] = g711AudioTagHeaderByte(law, channels);
  payload.set(samples, G711_AUDIO_TAG_HEADER_SIZE);
  return createMessage(MessageType.Audio, timestampMs, payload);
}
