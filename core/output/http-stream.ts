/**
 * HTTP live stream encoders (SRS ISrsBufferEncoder / SrsFlvStreamEncoder): one ConsumerTarget per HTTP player
 * that writes the hub's messages to the response's socket.
 *
 * HTTP-FLV: the FLV file header's TypeFlagsAudio/TypeFlagsVideo must describe the stream, so the header is held
 * back until the first media message: the configs the hub delivers first (metadata → video-config →
 * audio-config) are buffered, then header + configs + media go out together. Every tag is serialized once per
 * message for all players (`flvTag`, cached on the message), and a player's tags are written with merged
 * writes (mw_latency) as HTTP/1.1 chunks — one writev per batch, no copy per player.
 *
 * HTTP-TS (SRS SrsTsStreamEncoder): a TsMuxer per player — continuity counters are per connection, so TS is
 * serialized once per player (not shared like FLV tags); PAT/PMT go out at the start and before every keyframe.
 * HTTP-MP3 / HTTP-AAC (SrsMp3StreamEncoder / SrsAacStreamEncoder): audio-only, raw MP3 frames (views of the
 * shared payloads) or ADTS frames (a 7-byte header per frame + a view of the raw AAC). With SRS's `fast_cache`
 * (audio-fast-cache.ts) a new player is first `prime`d with the stream's cached audio, then the hub's messages
 * follow; audio the cache already gave (the GOP cache's replay) is skipped by timestamp, so nothing repeats.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConsumerTarget, SourceEvent } from '../hub/ports.ts';
import { isGatewayError, ErrorCode } from '../errors.ts';
import { MessageType, SoundFormat, type RtmpMessage } from '../media/message.ts';
import { flvFileHeader, flvTag } from '../protocol/flv/flv-muxer.ts';
import { AacPacketType, readAudioTagHeader } from '../protocol/flv/flv-tag.ts';
import { TsMuxer, tsVideoCodecOf, type TsVideoCodec } from '../remux/rtmp-to-ts.ts';
import { parseAudioSpecificConfig, type AudioSpecificConfig } from '../codec/aac/audio-specific-config.ts';
import { ADTS_HEADER_LENGTH, MAX_ADTS_FRAME_LENGTH, writeAdtsHeader } from '../codec/aac/adts.ts';
import { MergedSocketWriter } from './merged-write.ts';

/** Bytes queued in the socket (plus our merge buffer) before the hub must queue for us instead. */
export const HTTP_STREAM_HIGH_WATER_BYTES = 1024 * 1024;

/** Config messages held back until the first media message (metadata + two sequence headers + slack). */
const MAX_PENDING_CONFIG = 8;

/** Live formats served by `http_remux`, by URL extension. */
export type HttpLiveFormat = 'flv' | 'ts' | 'mp3' | 'aac';
export const HTTP_LIVE_CONTENT_TYPES: Readonly<Record<HttpLiveFormat, string>> = {
  flv: 'video/x-flv', ts: 'video/MP2T', mp3: 'audio/mpeg', aac: 'audio/aac',
};

/** What the HTTP server needs from any live stream encoder. */
export interface HttpLiveStream extends ConsumerTarget {
  readonly bytesSent: number;
  /**
   * Audio streams only: write `cached` (an AAC sequence header, then audio messages oldest first: the fast
   * cache's snapshot) before anything the hub delivers. Audio the hub then delivers with a timestamp at or
   * before the last cached one is skipped, until newer audio arrives.
   */
  prime?(cached: readonly RtmpMessage[]): void;
  onClose(reason: string): void;
  end(): void;
}

/** Create the encoder for `format`; arguments as for HttpFlvStream's constructor. */
export function createHttpLiveStream(format: HttpLiveFormat, res: ServerResponse, mwLatencyMs: number, onClose: (reason: string) => void): HttpLiveStream {
  switch (format) {
    case 'flv': return new HttpFlvStream(res, mwLatencyMs, onClose);
    case 'ts': return new HttpTsStream(res, mwLatencyMs, onClose);
    case 'mp3':
    case 'aac': return new HttpAudioStream(format, res, mwLatencyMs, onClose);
  }
}

function responseWriter(res: ServerResponse, mwLatencyMs: number): MergedSocketWriter {
  const chunked = (res as unknown as { chunkedEncoding?: boolean }).chunkedEncoding === true;
  return new MergedSocketWriter(res.socket as Socket, { latencyMs: mwLatencyMs, httpChunked: chunked });
}

export class HttpFlvStream implements HttpLiveStream {
  readonly #writer: MergedSocketWriter;
  #headerSent = false;
  #pending: RtmpMessage[] = [];
  #closed = false;
  readonly #onClose: (reason: string) => void;

  /**
   * @param res a response whose status line and headers have been sent (`writeHead` + `flushHeaders`); its body
   *   is written here, straight to the socket (chunked framing when the response is chunked).
   * @param mwLatencyMs merged-write latency (SRS mw_latency), ms.
   * @param onClose called once when this player must stop (hub detached it, stream unpublished); the owner
   *   closes the subscriber and calls `end()`.
   */
  constructor(res: ServerResponse, mwLatencyMs: number, onClose: (reason: string) => void) {
    const chunked = (res as unknown as { chunkedEncoding?: boolean }).chunkedEncoding === true;
    this.#writer = new MergedSocketWriter(res.socket as Socket, { latencyMs: mwLatencyMs, httpChunked: chunked });
    this.#onClose = onClose;
  }

  /** Body bytes written so far. */
  get bytesSent(): number {
    return this.#writer.bytesWritten;
  }

  send(msg: RtmpMessage): boolean {
    if (this.#closed) return true;
    if (!this.#headerSent) {
      if (msg.isConfig && this.#pending.length < MAX_PENDING_CONFIG) {
        this.#pending.push(msg);
        return true;
      }
      this.#writeHeader(msg);
    }
    this.#writer.writeMedia(flvTag(msg));
    return this.#writer.underHighWater(HTTP_STREAM_HIGH_WATER_BYTES);
  }

  /**
   * HTTP-FLV has no in-band signalling, and a new publisher restarts timestamps and sequence headers, so on
   * unpublish the response ends (node-media-server does the same; flv.js/mpegts.js players reconnect).
   * Deferred: the hub is iterating its consumers when it tells us.
   */
  onSourceEvent(event: SourceEvent): void {
    if (event === 'unpublish' && !this.#closed) process.nextTick(() => this.onClose('stream unpublished'));
  }

  onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(reason);
  }

  /** Flush what is queued and write the end of the body (the zero chunk). Idempotent. */
  end(): void {
    this.#closed = true;
    this.#writer.end();
  }

  #writeHeader(first: RtmpMessage): void {
    let hasAudio = first.type === MessageType.Audio;
    let hasVideo = first.type === MessageType.Video;
    for (const m of this.#pending) {
      if (m.kind === 'audio-config') hasAudio = true;
      if (m.kind === 'video-config') hasVideo = true;
    }
    this.#headerSent = true;
    this.#writer.writeMedia(flvFileHeader(hasAudio, hasVideo));
    for (const m of this.#pending) this.#writer.writeMedia(flvTag(m));
    this.#pending = [];
  }
}

/** Common lifecycle of the HTTP live encoders (close once, end on unpublish, merged writer). */
abstract class HttpEncoderBase implements HttpLiveStream {
  protected readonly writer: MergedSocketWriter;
  protected closed = false;
  readonly #onClose: (reason: string) => void;

  constructor(res: ServerResponse, mwLatencyMs: number, onClose: (reason: string) => void) {
    this.writer = responseWriter(res, mwLatencyMs);
    this.#onClose = onClose;
  }

  get bytesSent(): number {
    return this.writer.bytesWritten;
  }

  abstract send(msg: RtmpMessage): boolean;

  /** As HTTP-FLV: a new publisher restarts timestamps and codecs, so the response ends (deferred). */
  onSourceEvent(event: SourceEvent): void {
    if (event === 'unpublish' && !this.closed) process.nextTick(() => this.onClose('stream unpublished'));
  }

  onClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.#onClose(reason);
  }

  end(): void {
    this.closed = true;
    this.writer.end();
  }

  /** Close asynchronously (the hub is delivering when encoders find a fatal problem). */
  protected fail(reason: string): void {
    if (!this.closed) process.nextTick(() => this.onClose(reason));
  }
}

/** Audio PES written between PAT/PMT repetitions of an audio-only TS (≈ 1 s of AAC at 44.1 kHz). */
const TS_AUDIO_ONLY_TABLE_INTERVAL = 43;

/** Live MPEG-TS for one player: its own TsMuxer (continuity counters per connection). */
export class HttpTsStream extends HttpEncoderBase {
  readonly #muxer = new TsMuxer();
  readonly #out: Buffer[] = [];
  #pending: RtmpMessage[] = [];
  #started = false;
  #audioSinceTables = 0;

  send(msg: RtmpMessage): boolean {
    if (this.closed) return true;
    if (!this.#started) {
      if (msg.isConfig && this.#pending.length < MAX_PENDING_CONFIG) {
        this.#pending.push(msg);
        return true;
      }
      this.#start(msg);
    }
    this.#mux(msg);
    return this.writer.underHighWater(HTTP_STREAM_HIGH_WATER_BYTES);
  }

  /** Choose the program from the held configs and the first media message, then write tables + configs. */
  #start(first: RtmpMessage): void {
    this.#started = true;
    let video: TsVideoCodec | undefined = first.type === MessageType.Video ? (tsVideoCodecOf(first) ?? 'h264') : undefined;
    let audio: 'aac' | 'mp3' | undefined = first.type === MessageType.Audio ? audioCodecOf(first) : undefined;
    for (const m of this.#pending) {
      // The PMT must name the codec of the held sequence header (H.264 or H.265): players keep the first PMT's.
      if (m.kind === 'video-config') video = tsVideoCodecOf(m) ?? 'h264';
      if (m.kind === 'audio-config') audio = 'aac';
    }
    this.#muxer.configure(video, audio);
    this.#muxer.writeTables(this.#out);
    for (const m of this.#pending) this.#mux(m);
    this.#pending = [];
  }

  #mux(msg: RtmpMessage): void {
    const out = this.#out;
    // A track that appears after the start (MP3 has no sequence header): new PMT version, tables again.
    if (msg.type === MessageType.Audio && this.#muxer.audioCodec === undefined && msg.kind === 'audio') {
      const codec = audioCodecOf(msg);
      if (codec !== undefined) {
        this.#muxer.configure(this.#muxer.videoCodec, codec);
        this.#muxer.writeTables(out);
      }
    } else if (msg.type === MessageType.Video && this.#muxer.videoCodec === undefined && !msg.isConfig) {
      this.#muxer.configure(tsVideoCodecOf(msg) ?? 'h264', this.#muxer.audioCodec);
      this.#muxer.writeTables(out);
    }
    if (msg.kind === 'keyframe' && this.#muxer.videoCodec !== undefined) this.#muxer.writeTables(out);
    else if (msg.kind === 'audio' && this.#muxer.videoCodec === undefined && ++this.#audioSinceTables >= TS_AUDIO_ONLY_TABLE_INTERVAL) {
      this.#audioSinceTables = 0;
      this.#muxer.writeTables(out);
    }
    try {
      this.#muxer.writeMessage(msg, out);
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      if (err.code === ErrorCode.TsUnsupportedCodec) this.fail(err.message);
      // else: a malformed message is skipped, the stream goes on
    }
    for (let i = 0; i < out.length; i++) this.writer.writeMedia(out[i]);
    out.length = 0;
  }
}

function audioCodecOf(msg: RtmpMessage): 'aac' | 'mp3' | undefined {
  const soundFormat = msg.payload[0] >> 4;
  return soundFormat === SoundFormat.Aac ? 'aac' : soundFormat === SoundFormat.Mp3 ? 'mp3' : undefined;
}

/** Audio-only live stream: raw MP3 frames (`.mp3`) or ADTS frames (`.aac`). Video is dropped. */
export class HttpAudioStream extends HttpEncoderBase {
  readonly #format: 'mp3' | 'aac';
  #asc: AudioSpecificConfig | undefined;
  /** Timestamp of the last primed audio message: hub audio up to it was sent already. -1 = none. */
  #primedUntilMs = -1;

  constructor(format: 'mp3' | 'aac', res: ServerResponse, mwLatencyMs: number, onClose: (reason: string) => void) {
    super(res, mwLatencyMs, onClose);
    this.#format = format;
  }

  /** See HttpLiveStream.prime: the fast cache's audio, written before the hub's messages. */
  prime(cached: readonly RtmpMessage[]): void {
    let last = -1;
    for (const m of cached) {
      this.#write(m);
      if (m.kind === 'audio') last = m.timestamp;
    }
    if (last >= 0) this.#primedUntilMs = last;
  }

  send(msg: RtmpMessage): boolean {
    if (this.closed || msg.type !== MessageType.Audio) return true;
    if (this.#primedUntilMs >= 0 && msg.kind === 'audio') {
      if (msg.timestamp <= this.#primedUntilMs) return true;
      this.#primedUntilMs = -1;
    }
    this.#write(msg);
    return this.writer.underHighWater(HTTP_STREAM_HIGH_WATER_BYTES);
  }

  #write(msg: RtmpMessage): void {
    if (this.closed || msg.type !== MessageType.Audio) return;
    let h;
    try {
      h = readAudioTagHeader(msg.payload);
    } catch {
      return;
    }
    const body = msg.payload.subarray(h.headerLength);
    const wanted = this.#format === 'mp3' ? SoundFormat.Mp3 : SoundFormat.Aac;
    if (h.soundFormat !== wanted) {
      this.fail(`stream audio (SoundFormat ${h.soundFormat}) cannot be served as .${this.#format}`);
      return;
    }
    if (this.#format === 'mp3') {
      if (body.length > 0) this.writer.writeMedia(body);
    } else if (h.aacPacketType === AacPacketType.SequenceHeader) {
      try {
        this.#asc = parseAudioSpecificConfig(body);
      } catch {
        this.#asc = undefined;
      }
    } else if (this.#asc !== undefined && body.length > 0 && body.length + ADTS_HEADER_LENGTH <= MAX_ADTS_FRAME_LENGTH) {
      const adts = Buffer.allocUnsafe(ADTS_HEADER_LENGTH);
      try {
        writeAdtsHeader(adts, 0, this.#asc, body.length);
      } catch {
        this.fail('the AudioSpecificConfig cannot be expressed in ADTS');
        return;
      }
      this.writer.writeMedia(adts);
      this.writer.writeMedia(body);
    }
  }
}
