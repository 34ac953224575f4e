/**
 * One live stream's RTMP messages → one continuous MPEG-TS stream (ISO/IEC 13818-1), serialized once per stream
 * and shared by every HTTP-TS player (SRS SrsTsStreamEncoder keeps a muxer per connection; here one muxer serves
 * all, so N players cost one serialization and one continuity counter sequence per PID).
 *
 * - Program start: how the program looks (which tracks, H.264 or H.265) depends on the stream, so the configs a
 *   stream starts with are held until the first media message (held-configs.ts); then PAT/PMT are written and
 *   the first media message follows.
 * - PAT/PMT go out again before every keyframe, so a player that joins at a keyframe (or resumes at one after its
 *   queue dropped a GOP) starts with the tables; for an audio-only program every TS_AUDIO_ONLY_TABLE_INTERVAL
 *   frames. `tables` keeps the last table packets written, for a joiner whose first message carries none.
 * - A track that appears later (MP3 has no sequence header; video after audio) changes the PMT version and the
 *   tables are written before that message.
 * - Each message's packets are one Buffer (`TsChunk.bytes`), handed to every player by reference.
 *
 * Continuity counters are the stream's: a player sees a continuous sequence from the keyframe it joins at, and a
 * jump only where its own queue dropped frames (it resumes at a keyframe, with PAT/PMT first), which the player
 * flags with discontinuity_indicator on copies of the first packets (core/output/http-stream.ts HttpTsStream).
 * Pure: no I/O, no timers.
 */
import { ErrorCode, isGatewayError } from '../errors.ts';
import { MessageType, SoundFormat, type RtmpMessage } from '../media/message.ts';
import { HeldConfigs } from './held-configs.ts';
import { TsMuxer, tsVideoCodecOf, type TsAudioCodec, type TsVideoCodec } from './rtmp-to-ts.ts';
/** Audio PES written between PAT/PMT repetitions of an audio-only TS (≈ 1 s of AAC at 44.1 kHz). */
export const TS_AUDIO_ONLY_TABLE_INTERVAL = 43;

/** The TS packets of one message. */
export interface TsChunk {
  /** Whole 188-byte packets; shared, never written after creation. */
  readonly bytes: Buffer;
  /** The chunk starts with PAT and PMT: a player may start with it. */
  readonly startsWithTables: boolean;
}

/** The audio codec of an AUDIODATA body, for the PMT: AAC, MP3, or undefined for anything else. */
export function tsAudioCodecOf(msg: RtmpMessage): TsAudioCodec | undefined {
  const soundFormat = msg.payload[0] >> 4;
  return soundFormat === SoundFormat.Aac ? 'aac' : soundFormat === SoundFormat.Mp3 ? 'mp3' : undefined;
}

export class TsStreamSerializer {
  #muxer = new TsMuxer();
  readonly #held = new HeldConfigs();
  #audioSinceTables = 0;
  /** The program (re)started: PAT/PMT go before the next message's packets. */
  #tablesDue = false;
  readonly #out: Buffer[] = [];
  #tables: Buffer | undefined;

  /** The last PAT + PMT packets written (undefined before the program started). */
  get tables(): Buffer | undefined {
    return this.#tables;
  }

  /** A new publish: the next messages start a new program (configs held again, counters from 0). */
  reset(): void {
    this.#muxer = new TsMuxer();
    this.#held.reset();
    this.#audioSinceTables = 0;
    this.#tablesDue = false;
    this.#tables = undefined;
  }

  /**
   * Serialize one message, in stream order.
   * @returns its packets, or undefined when it writes none (a held or repeated config, metadata, a skipped frame).
   * @throws GatewayError TsUnsupportedCodec when the stream's codec cannot be carried in TS (fatal for the
   *   stream); other GatewayErrors (malformed message) are caught: the message is skipped, the stream goes on.
   */
  write(msg: RtmpMessage): TsChunk | undefined {
    const out = this.#out;
    out.length = 0;
    const held = this.#held.offer(msg);
    if (held === 'held') return undefined;
    if (held !== undefined) this.#start(held, msg);
    const startsWithTables = this.#encode(msg);
    if (out.length === 0) return undefined;
    const bytes = out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
    out.length = 0;
    return { bytes, startsWithTables };
  }

  /** Choose the program from the held configs and the first media message; read the configs (tables next). */
  #start(held: readonly RtmpMessage[], first: RtmpMessage): void {
    let video: TsVideoCodec | undefined = first.type === MessageType.Video ? (tsVideoCodecOf(first) ?? 'h264') : undefined;
    let audio: TsAudioCodec | undefined = first.type === MessageType.Audio ? tsAudioCodecOf(first) : undefined;
    for (const m of held) {
      // The PMT must name the codec of the held sequence header (H.264 or H.265): players keep the first PMT's.
      if (m.kind === 'video-config') video = tsVideoCodecOf(m) ?? 'h264';
      if (m.kind === 'audio-config') audio = 'aac';
    }
    this.#muxer.configure(video, audio);
    for (const m of held) this.#writeMessage(m); // codec state only: configs write no packets
    this.#tablesDue = true;
  }

  /** @returns whether tables were written before the message. */
  #encode(msg: RtmpMessage): boolean {
    const muxer = this.#muxer;
    let tables = this.#tablesDue;
    // A track that appears after the start (MP3 has no sequence header): new PMT version, tables again.
    if (msg.type === MessageType.Audio && muxer.audioCodec === undefined && msg.kind === 'audio') {
      const codec = tsAudioCodecOf(msg);
      if (codec !== undefined) {
        muxer.configure(muxer.videoCodec, codec);
        tables = true;
      }
    } else if (msg.type === MessageType.Video && muxer.videoCodec === undefined && !msg.isConfig) {
      muxer.configure(tsVideoCodecOf(msg) ?? 'h264', muxer.audioCodec);
      tables = true;
    }
    if (msg.kind === 'keyframe' && muxer.videoCodec !== undefined) tables = true;
    else if (msg.kind === 'audio' && muxer.videoCodec === undefined && ++this.#audioSinceTables >= TS_AUDIO_ONLY_TABLE_INTERVAL) {
      tables = true;
    }
    if (tables) this.#writeTables();
    this.#writeMessage(msg);
    return tables;
  }

  #writeMessage(msg: RtmpMessage): void {
    try {
      this.#muxer.writeMessage(msg, this.#out);
    } catch (err) {
      if (!isGatewayError(err) || err.code === ErrorCode.TsUnsupportedCodec) throw err;
      // else: a malformed message is skipped, the stream goes on
    }
  }

  #writeTables(): void {
    const out = this.#out;
    const from = out.length;
    this.#muxer.writeTables(out);
    this.#tables = Buffer.concat(out.slice(from));
    this.#audioSinceTables = 0;
    this.#tablesDue = false;
  }
}
