/**
 * Fuzz targets: one per parser the gateway exposes to the network (issue 12 §4). Each target takes one mutated
 * input (bytes; some targets read it as a sequence of length-prefixed records, see mutate.ts splitRecords) and
 * drives the parser the way its caller does: stream parsers get the input in random chunkings, datagram parsers one
 * record per datagram, RTP depacketizers
 * get the packets that parse and `onPacketLoss()` on sequence gaps, and what a parser yields is fed on to the next
 * stage the caster uses (TS → TsToRtmp packagers, RTP → DTS extractor + packager, SDP → fmtp parsers).
 *
 * A target fails on:
 * - any throw that is not a GatewayError (TypeError, RangeError from a Buffer read...): a crash;
 * - a GatewayError thrown by a call whose documentation does not list that code (or says it never throws):
 *   `allow()` names the documented codes of each call;
 * - a broken invariant (`check()`): output larger than the input or than the parser's named bound, a field out
 *   of its range, an input written to.
 * Hangs (> 1 s for one input) are detected by the runner.
 *
 * Seeds live in fixtures/fuzz/<target name>/ (see fixtures/README.md, "Fuzz seeds").
 */
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import { decodeAmf0, decodeAmf0Value, encodeAmf0 } from '../../core/protocol/amf0.ts';
import { FLV_MAX_TAG_SIZE, FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';
import type { TsTrack } from '../../core/protocol/mpegts/ts-demuxer.ts';
import { MAX_PES_SIZE, parsePesHeader, PesAddResult, PesAssembler } from '../../core/protocol/mpegts/pes.ts';
import { TsToRtmp } from '../../core/remux/ts-to-rtmp.ts';
import { TsDatagramReader } from '../../core/protocol/mpegts/ts-datagram-reader.ts';
import { TsMuxer, tsVideoCodecOf } from '../../core/remux/rtmp-to-ts.ts';
import { ChunkReader, RTMP_MAX_MESSAGE_SIZE, RtmpTypeId } from '../../core/protocol/rtmp/chunk-reader.ts';
import { RTMP_HANDSHAKE_SIZE, ServerHandshake } from '../../core/protocol/rtmp/handshake.ts';
import { RTSP_MAX_BODY, RTSP_MAX_INTERLEAVED_PAYLOAD, RtspRequestError, RtspRequestReader } from '../../core/protocol/rtsp/rtsp-message.ts';
import { parseTransportHeader } from '../../core/protocol/rtsp/transport-header.ts';
import { parseRtspStreamUrl } from '../../core/protocol/rtsp/rtsp-url.ts';
import { parseAnnounceSdp, parseFmtpParameters, SDP_MAX_TRACKS } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { parseRtpPacket, RTP_HEADER_SIZE } from '../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { parseRtcpCompound } from '../../core/protocol/rtp/rtcp.ts';
import { parseH264Fmtp } from '../../core/codec/h264/h264-fmtp.ts';
import { parseH265Fmtp } from '../../core/codec/h265/h265-fmtp.ts';
import { RtpH264Depacketizer } from '../../core/codec/h264/rtp-h264-depacketizer.ts';
import { RtpH265Depacketizer } from '../../core/codec/h265/rtp-h265-depacketizer.ts';
import { H264DtsExtractor } from '../../core/codec/h264/dts-extractor.ts';
import { H265DtsExtractor } from '../../core/codec/h265/dts-extractor.ts';
import { AvcPackager, MAX_ACCESS_UNIT_SIZE, MAX_NALUS_PER_AU } from '../../core/codec/h264/avc-packager.ts';
import { HevcPackager } from '../../core/codec/h265/hevc-packager.ts';
import { MAX_H265_ACCESS_UNIT_SIZE, MAX_H265_NALUS_PER_AU } from '../../core/codec/h265/nalu.ts';
import { parseSps } from '../../core/codec/h264/sps.ts';
import { parsePpsForSlice } from '../../core/codec/h264/slice-header.ts';
import { parseH265Pps, parseH265Sps, parseH265Vps } from '../../core/codec/h265/sps.ts';
import { parseAvcDecoderConfigurationRecord } from '../../core/codec/h264/avc-decoder-config.ts';
import { parseHevcDecoderConfigurationRecord } from '../../core/codec/h265/hevc-decoder-config.ts';
import { parseAudioSpecificConfig, writeAudioSpecificConfig } from '../../core/codec/aac/audio-specific-config.ts';
import { MAX_AAC_RAW_FRAME_SIZE, AacPackager } from '../../core/codec/aac/aac-packager.ts';
import { parseMpeg4GenericFmtp, readAudioSpecificConfig, RtpMpeg4GenericDepacketizer } from '../../core/codec/aac/rtp-mpeg4-generic.ts';
import type { AudioFrameSink } from '../../core/codec/aac/rtp-mpeg4-generic.ts';
import { MAX_AUDIO_MUX_ELEMENT_SIZE, parseLatmFmtp, parseStreamMuxConfig, RtpMp4aLatmDepacketizer } from '../../core/codec/aac/rtp-mp4a-latm.ts';
import { G711Law, MAX_G711_FRAME_SIZE, packG711Frame } from '../../core/codec/g711.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { randomChunks, splitRecords } from './mutate.ts';
import type { Prng } from './prng.ts';

export interface FuzzTarget {
  /** Also the seed folder: fixtures/fuzz/<name>/. */
  readonly name: string;
  /** Which parser(s) it drives, for the report. */
  readonly what: string;
  /** Largest mutated input (bytes). */
  readonly maxInputSize: number;
  /** Run one input; throws on failure (see the module comment). `rng` decides chunkings and the like. */
  run(input: Buffer, rng: Prng): void;
}

/** A broken invariant: the parser returned, but what it returned is wrong. */
export class FuzzInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzInvariantError';
  }
}

/** A GatewayError with a code the called function does not document (or from a function documented not to throw). */
export class UndocumentedError extends Error {
  constructor(call: string, err: GatewayError) {
    super(`${call} threw ${err.code} (not documented for it): ${err.message}`, { cause: err });
    this.name = 'UndocumentedError';
  }
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new FuzzInvariantError(message);
}

/**
 * Call `fn`; a GatewayError with one of `codes` (a documented fatal path) gives undefined, any other throw
 * escapes (GatewayErrors with another code as UndocumentedError).
 */
export function allow<T>(call: string, codes: readonly string[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GatewayError) {
      if (codes.includes(err.code)) return undefined;
      throw new UndocumentedError(call, err);
    }
    throw err;
  }
}

/** Call `fn`, documented never to throw: a GatewayError escapes as UndocumentedError. */
function never<T>(call: string, fn: () => T): T {
  return allow(call, [], fn) as T;
}

/** The input must come back unchanged (STYLE habit 10: parsers never write their input). */
function checkUnchanged(input: Buffer, before: Buffer, what: string): void {
  check(input.equals(before), `${what} wrote into its input`);
}

// ---------------------------------------------------------------------------------------------------------------
// MPEG-TS

/**
 * The TS receive chain both TS targets drive: TsDemuxer → TsToRtmp, with the invariants checked on every PES and
 * message. `messages()` counts the RTMP messages produced so far.
 */
function checkedTsChain(input: Uint8Array): { demuxer: TsDemuxer; messages: () => number } {
  let pesBytes = 0;
  let messages = 0;
  const remux = new TsToRtmp({
    onMessage(msg) {
      messages++;
      check(msg.payload.length <= MAX_ACCESS_UNIT_SIZE + 64 * 1024, `message of ${msg.payload.length} bytes`);
    },
    onDecodeError(err) {
      check(err instanceof GatewayError, 'onDecodeError got a non-GatewayError');
    },
  });
  const demuxer = new TsDemuxer({
    onProgram(programNumber: number, tracks: readonly TsTrack[]) {
      check(tracks.length <= 8192, `${tracks.length} tracks`);
      remux.onProgram(programNumber, tracks);
    },
    onPes(track, data, pts90k, dts90k) {
      pesBytes += data.length;
      check(data.length <= MAX_PES_SIZE, `PES of ${data.length} bytes > MAX_PES_SIZE`);
      check(pesBytes <= input.length, `PES bytes ${pesBytes} > input ${input.length}`);
      check(pts90k === undefined || (Number.isInteger(pts90k) && pts90k >= 0 && pts90k < 2 ** 33), `pts90k ${pts90k}`);
      check(dts90k === undefined || (Number.isInteger(dts90k) && dts90k >= 0 && dts90k < 2 ** 33), `dts90k ${dts90k}`);
      remux.onPes(track, data, pts90k, dts90k);
    },
    onDecodeError(err) {
      remux.onDecodeError(err);
    },
  });
  return { demuxer, messages: () => messages };
}

const tsTarget: FuzzTarget = {
  name: 'ts',
  what: 'TsDemuxer (sync, PAT/PMT, CC, PES) → TsToRtmp (AVC/HEVC/AAC/MP3 packagers, onMetaData)',
  maxInputSize: 64 * 1024,
  run(input, rng) {
    const before = Buffer.from(input);
    const { demuxer, messages } = checkedTsChain(input);
    never('TsDemuxer.push/flush', () => {
      for (const chunk of randomChunks(rng, input)) demuxer.push(chunk);
      demuxer.flush();
    });
    check(messages() <= 4 * (input.length / 188 + 2) + 16, `${messages()} messages from ${input.length} bytes`);
    checkUnchanged(input, before, 'TsDemuxer');
  },
};

/** UDP input: record i = datagram i (plain TS, or RTP-wrapped MP2T), one every 5 ms, the reorder timer every 4th. */
const tsUdpTarget: FuzzTarget = {
  name: 'ts-udp',
  what: 'TsDatagramReader (RFC 2250 RTP/MP2T detection, SSRC, reorder) → TsDemuxer.pushDatagram (188/204 framing, ragged tails) → TsToRtmp',
  maxInputSize: 64 * 1024,
  run(input) {
    const before = Buffer.from(input);
    const { demuxer } = checkedTsChain(input);
    const reader = new TsDatagramReader({ pushDatagram: (d) => demuxer.pushDatagram(d), onDecodeError: () => undefined });
    never('TsDatagramReader/TsDemuxer', () => {
      let nowMs = 0;
      for (const datagram of splitRecords(input)) {
        nowMs += 5;
        reader.push(datagram, nowMs);
        if (nowMs % 20 === 0) reader.flushExpired(nowMs);
      }
      reader.flush();
      demuxer.flush();
    });
    checkUnchanged(input, before, 'TsDatagramReader');
  },
};

const pesTarget: FuzzTarget = {
  name: 'pes',
  what: 'parsePesHeader + PesAssembler (PES header, PES_packet_length, reassembly over 184-byte payloads)',
  maxInputSize: 64 * 1024,
  run(input) {
    const header = allow('parsePesHeader', [ErrorCode.TsPes], () => parsePesHeader(input));
    if (header !== undefined) {
      check(header.headerLength <= input.length, `headerLength ${header.headerLength} > ${input.length}`);
      check(header.pts90k === undefined || (header.pts90k >= 0 && header.pts90k < 2 ** 33), `pts ${header.pts90k}`);
    }
    const pes = new PesAssembler();
    let result: PesAddResult = PesAddResult.Collecting;
    for (let off = 0; off < input.length && result === PesAddResult.Collecting; off += 184) {
      const end = Math.min(input.length, off + 184);
      result = off === 0 ? pes.start(input, off, end, false, (off & 1) === 0) : pes.add(input, off, end, false);
    }
    if (result === PesAddResult.Complete || (result === PesAddResult.Collecting && !pes.lengthPending && pes.active)) {
      const packet = allow('PesAssembler.finish', [ErrorCode.TsPes], () => pes.finish());
      if (packet !== undefined) {
        check(packet.data.length + packet.header.headerLength <= input.length, `PES data ${packet.data.length} from ${input.length} bytes`);
      }
    }
  },
};

// ---------------------------------------------------------------------------------------------------------------
// FLV, AMF0, RTMP

const flvTarget: FuzzTarget = {
  name: 'flv',
  what: 'FlvDemuxer (header, PreviousTagSize, tags; message classification) → TsMuxer (AVC/HEVC config, AVCC, ASC)',
  maxInputSize: 64 * 1024,
  run(input, rng) {
    const before = Buffer.from(input);
    let bodyBytes = 0;
    const msgs: RtmpMessage[] = [];
    const demuxer = new FlvDemuxer({
      onMessage(msg) {
        bodyBytes += msg.payload.length;
        check(msg.payload.length <= FLV_MAX_TAG_SIZE, `tag body of ${msg.payload.length} bytes`);
        check(bodyBytes <= input.length, `tag bodies ${bodyBytes} > input ${input.length}`);
        msgs.push(msg);
      },
      onDecodeError(err) {
        check(err instanceof GatewayError, 'onDecodeError got a non-GatewayError');
      },
    });
    never('FlvDemuxer.push/end', () => {
      for (const chunk of randomChunks(rng, input)) demuxer.push(chunk);
      demuxer.end();
    });
    checkUnchanged(input, before, 'FlvDemuxer');
    // What a publisher sends is remuxed to TS for HTTP-TS and HLS players.
    const muxer = new TsMuxer();
    const out: Buffer[] = [];
    for (const msg of msgs) {
      const video = tsVideoCodecOf(msg);
      if (video !== undefined) muxer.configure(video, muxer.audioCodec ?? 'aac');
      allow('TsMuxer.writeMessage', TS_MUXER_CODES, () => muxer.writeMessage(msg, out));
      if (msg.type === 18) allow('decodeAmf0(script tag)', [ErrorCode.Amf0Decode], () => decodeAmf0(msg.payload));
    }
    let outBytes = 0;
    for (const b of out) outBytes += b.length;
    check(outBytes <= 4 * input.length + 188 * 64, `TS output ${outBytes} bytes from ${input.length}`);
  },
};

const TS_MUXER_CODES = [
  ErrorCode.TsUnsupportedCodec, ErrorCode.FlvTag, ErrorCode.AvcConfig, ErrorCode.HevcConfig, ErrorCode.AacConfig,
  ErrorCode.H264Nalu, ErrorCode.AacAdts, ErrorCode.TooLarge,
];

const amf0Target: FuzzTarget = {
  name: 'amf0',
  what: 'decodeAmf0 / decodeAmf0Value (RTMP commands, onMetaData), re-encoded with encodeAmf0',
  maxInputSize: 16 * 1024,
  run(input) {
    const values = allow('decodeAmf0', [ErrorCode.Amf0Decode], () => decodeAmf0(input));
    const one = allow('decodeAmf0Value', [ErrorCode.Amf0Decode], () => decodeAmf0Value(input, 0));
    if (one !== undefined) check(one.next > 0 && one.next <= input.length, `next ${one.next} of ${input.length}`);
    if (values !== undefined) {
      check(values.length <= input.length, `${values.length} values from ${input.length} bytes`);
      // What was read can be written back (the RTMP server echoes parts of commands, e.g. the transaction id).
      const encoded = allow('encodeAmf0', [ErrorCode.TooLarge], () => encodeAmf0(values));
      if (encoded !== undefined) allow('decodeAmf0(re-encoded)', [ErrorCode.Amf0Decode], () => decodeAmf0(encoded));
    }
  },
};

const rtmpChunkTarget: FuzzTarget = {
  name: 'rtmp-chunk',
  what: 'ChunkReader (basic/message headers, extended timestamps, Set Chunk Size, Abort) + AMF0 of command/data messages',
  maxInputSize: 64 * 1024,
  run(input, rng) {
    const before = Buffer.from(input);
    let payloadBytes = 0;
    const reader = new ChunkReader({
      onMessage(msg) {
        payloadBytes += msg.payload.length;
        check(msg.payload.length <= RTMP_MAX_MESSAGE_SIZE, `message of ${msg.payload.length} bytes`);
        check(payloadBytes <= input.length, `message bytes ${payloadBytes} > input ${input.length}`);
        check(msg.timestampMs >= 0 && msg.timestampMs <= 0xffffffff && Number.isInteger(msg.timestampMs), `timestamp ${msg.timestampMs}`);
        if (msg.typeId === RtmpTypeId.CommandAmf0 || msg.typeId === RtmpTypeId.DataAmf0) {
          allow('decodeAmf0(command)', [ErrorCode.Amf0Decode], () => decodeAmf0(msg.payload));
        }
      },
    });
    allow('ChunkReader.push', [ErrorCode.RtmpChunk], () => {
      for (const chunk of randomChunks(rng, input)) reader.push(chunk);
    });
    checkUnchanged(input, before, 'ChunkReader');
  },
};

const rtmpHandshakeTarget: FuzzTarget = {
  name: 'rtmp-handshake',
  what: 'ServerHandshake (C0/C1/C2, simple and digest forms: digest offsets, HMAC-SHA256)',
  maxInputSize: 8 * 1024,
  run(input, rng) {
    const hs = new ServerHandshake();
    let replies = 0;
    let done = false;
    allow('ServerHandshake.push', [ErrorCode.RtmpHandshake], () => {
      for (const chunk of randomChunks(rng, input)) {
        const step = hs.push(chunk);
        if (step.reply !== undefined) {
          replies++;
          check(step.reply.length === 1 + 2 * RTMP_HANDSHAKE_SIZE, `reply of ${step.reply.length} bytes`);
        }
        check(step.rest.length <= chunk.length, `rest ${step.rest.length} > chunk ${chunk.length}`);
        if (step.done) {
          done = true;
          break;
        }
      }
    });
    check(replies <= 1, `${replies} S0S1S2 replies`);
    check(!done || input.length >= 1 + 2 * RTMP_HANDSHAKE_SIZE, `done after ${input.length} bytes`);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// RTSP, SDP

const rtspRequestTarget: FuzzTarget = {
  name: 'rtsp-request',
  what: 'RtspRequestReader (request line, headers, Content-Length body, $ frames) + Transport header + request URL',
  maxInputSize: 64 * 1024,
  run(input, rng) {
    const before = Buffer.from(input);
    const reader = new RtspRequestReader();
    let outBytes = 0;
    try {
      for (const chunk of randomChunks(rng, input)) {
        for (const item of reader.push(chunk)) {
          if (item.kind === 'interleaved') {
            outBytes += item.payload.length;
            check(item.payload.length <= RTSP_MAX_INTERLEAVED_PAYLOAD, `frame of ${item.payload.length} bytes`);
            check(item.channel >= 0 && item.channel <= 255, `channel ${item.channel}`);
          } else {
            const req = item.request;
            outBytes += req.body.length;
            check(req.body.length <= RTSP_MAX_BODY, `body of ${req.body.length} bytes`);
            const transport = req.headers.get('Transport');
            if (transport !== undefined) allow('parseTransportHeader', [ErrorCode.RtspTransport], () => parseTransportHeader(transport));
            if (req.uri !== '*') allow('parseRtspStreamUrl', [ErrorCode.RtspRequest], () => parseRtspStreamUrl(req.uri));
          }
          check(outBytes <= input.length, `output ${outBytes} > input ${input.length}`);
        }
      }
    } catch (err) {
      if (!(err instanceof RtspRequestError)) {
        if (err instanceof GatewayError) throw new UndocumentedError('RtspRequestReader.push', err);
        throw err;
      }
      check(err.status >= 400 && err.status <= 599, `status ${err.status}`);
    }
    checkUnchanged(input, before, 'RtspRequestReader');
  },
};

/** The fmtp parsers the RTSP caster calls per track encoding. */
function parseTrackFmtp(encodingName: string, fmtp: ReadonlyMap<string, string>, clockRate: number, channels: number): void {
  switch (encodingName) {
    case 'H264':
      allow('parseH264Fmtp', [ErrorCode.H264Nalu], () => parseH264Fmtp(fmtp));
      break;
    case 'H265':
      allow('parseH265Fmtp', [ErrorCode.SdpInvalid, ErrorCode.RtpUnsupportedCodec], () => parseH265Fmtp(fmtp));
      break;
    case 'MPEG4-GENERIC':
      allow('parseMpeg4GenericFmtp', [ErrorCode.AacConfig], () => parseMpeg4GenericFmtp(fmtp));
      break;
    case 'MP4A-LATM':
      allow('parseLatmFmtp', [ErrorCode.AacLatm], () => parseLatmFmtp(fmtp, clockRate, channels));
      break;
    default:
      break;
  }
}

const sdpTarget: FuzzTarget = {
  name: 'sdp',
  what: 'parseAnnounceSdp (sdp-transform + rtpmap/control) → fmtp of H264, H265, MPEG4-GENERIC, MP4A-LATM',
  maxInputSize: 16 * 1024,
  run(input) {
    const text = input.toString('utf8');
    const tracks = allow('parseAnnounceSdp', [ErrorCode.SdpInvalid], () => parseAnnounceSdp(text, 'rtsp://127.0.0.1:8554/live/fuzz'));
    if (tracks === undefined) return;
    check(tracks.length >= 1 && tracks.length <= SDP_MAX_TRACKS, `${tracks.length} tracks`);
    for (const t of tracks) {
      check(t.payloadType >= 0 && t.payloadType <= 127, `payload type ${t.payloadType}`);
      check(Number.isInteger(t.clockRate) && t.clockRate > 0, `clock rate ${t.clockRate}`);
      parseTrackFmtp(t.encodingName, t.fmtp, t.clockRate, t.channels);
      // Every encoding's parser also sees every fmtp (a camera may label its track wrongly).
      for (const name of ['H264', 'H265', 'MPEG4-GENERIC', 'MP4A-LATM']) if (name !== t.encodingName) parseTrackFmtp(name, t.fmtp, t.clockRate, t.channels);
    }
  },
};

// ---------------------------------------------------------------------------------------------------------------
// RTP and depacketizers

const rtpTarget: FuzzTarget = {
  name: 'rtp',
  what: 'parseRtpPacket (CSRC, extension, padding) + parseRtcpCompound (SR, RR, SDES, BYE)',
  maxInputSize: 0xffff + 64,
  run(input) {
    const before = Buffer.from(input);
    const pkt = allow('parseRtpPacket', [ErrorCode.RtpPacket], () => parseRtpPacket(input));
    if (pkt !== undefined) {
      const start = pkt.payload.byteOffset - input.byteOffset;
      check(pkt.payload.buffer === input.buffer && start >= RTP_HEADER_SIZE && start + pkt.payload.length <= input.length, 'payload outside the datagram');
      check(pkt.payloadType <= 127 && pkt.sequenceNumber <= 0xffff, 'header field out of range');
    }
    const rtcp = allow('parseRtcpCompound', [ErrorCode.RtcpPacket], () => parseRtcpCompound(input));
    if (rtcp !== undefined) check(rtcp.length * 4 <= input.length, `${rtcp.length} RTCP packets from ${input.length} bytes`);
    checkUnchanged(input, before, 'parseRtpPacket');
  },
};

/**
 * The packets of a record sequence that parse as RTP, each with whether a sequence gap came before it (what the
 * reorder buffer tells a depacketizer through onPacketLoss).
 */
function rtpPackets(records: readonly Buffer[]): Array<{ pkt: RtpPacket; gap: boolean }> {
  const out: Array<{ pkt: RtpPacket; gap: boolean }> = [];
  let expected = -1;
  for (const r of records) {
    const pkt = allow('parseRtpPacket', [ErrorCode.RtpPacket], () => parseRtpPacket(r));
    if (pkt === undefined) continue;
    const gap = expected >= 0 && pkt.sequenceNumber !== expected;
    expected = (pkt.sequenceNumber + 1) & 0xffff;
    out.push({ pkt, gap });
  }
  return out;
}

function checkAccessUnit(nalus: readonly Uint8Array[], maxNalus: number, maxSize: number, inputSize: number): void {
  let size = 0;
  for (const n of nalus) size += n.length;
  check(nalus.length <= maxNalus, `${nalus.length} NAL units in one AU`);
  check(size <= maxSize && size <= inputSize, `AU of ${size} bytes from ${inputSize} input bytes`);
}

interface VideoAccessUnit {
  readonly nalus: readonly Uint8Array[];
  readonly rtpTimestamp: number;
}

/** The video path of the RTSP caster (casters/rtsp/track-codecs.ts): depacketizer → DTS extractor → packager. */
interface VideoPipeline {
  readonly depacketizer: { push(pkt: RtpPacket): VideoAccessUnit | undefined; onPacketLoss(): void; flush?(): VideoAccessUnit | undefined };
  readonly dts: { extract(nalus: readonly Uint8Array[], pts90k: number): number };
  readonly packager: { packAccessUnit(nalus: readonly Uint8Array[], pts90k: number, dts90k: number): RtmpMessage[] };
}

function videoRtpTarget(name: string, what: string, codec: string, dtsCodes: readonly string[], maxNalus: number, maxSize: number, make: () => VideoPipeline): FuzzTarget {
  return {
    name,
    what,
    maxInputSize: 64 * 1024,
    run(input) {
      const before = Buffer.from(input);
      const { depacketizer, dts, packager } = make();
      const onAu = (au: VideoAccessUnit): void => {
        checkAccessUnit(au.nalus, maxNalus, maxSize, input.length);
        const d = allow(`${codec} DtsExtractor.extract`, dtsCodes, () => dts.extract(au.nalus, au.rtpTimestamp));
        if (d === undefined) return;
        check(d <= au.rtpTimestamp, `DTS ${d} > PTS ${au.rtpTimestamp}`);
        never(`${codec} packAccessUnit`, () => packager.packAccessUnit(au.nalus, au.rtpTimestamp, d));
      };
      never(`${codec} depacketizer`, () => {
        for (const { pkt, gap } of rtpPackets(splitRecords(input))) {
          if (gap) depacketizer.onPacketLoss();
          const au = depacketizer.push(pkt);
          if (au !== undefined) onAu(au);
        }
        const last = depacketizer.flush?.();
        if (last !== undefined) onAu(last);
      });
      checkUnchanged(input, before, `${codec} depacketizer`);
    },
  };
}

const rtpH264Target = videoRtpTarget(
  'rtp-h264',
  'RtpH264Depacketizer (single NAL, STAP-A, FU-A, loss) → H264DtsExtractor (SPS/PPS/slice header) → AvcPackager',
  'H.264', [ErrorCode.H264Nalu, ErrorCode.H264Sps], MAX_NALUS_PER_AU, MAX_ACCESS_UNIT_SIZE,
  () => ({ depacketizer: new RtpH264Depacketizer(() => undefined), dts: new H264DtsExtractor(), packager: new AvcPackager() }),
);

const rtpH265Target = videoRtpTarget(
  'rtp-h265',
  'RtpH265Depacketizer (single NAL, AP, FU, loss) → H265DtsExtractor (VPS/SPS/PPS/slice header) → HevcPackager',
  'H.265', [ErrorCode.H265Nalu, ErrorCode.H265Sps], MAX_H265_NALUS_PER_AU, MAX_H265_ACCESS_UNIT_SIZE,
  () => ({ depacketizer: new RtpH265Depacketizer(() => undefined), dts: new H265DtsExtractor(), packager: new HevcPackager() }),
);

/** A sink that checks each AAC frame and counts bytes. */
function audioSink(input: Buffer, maxFrame: number): AudioFrameSink & { bytes: number } {
  const sink = {
    bytes: 0,
    onAudioFrame(frame: Uint8Array, rtpTimestamp: number, index: number): void {
      sink.bytes += frame.length;
      check(frame.length <= maxFrame, `frame of ${frame.length} bytes`);
      check(sink.bytes <= input.length, `frames ${sink.bytes} bytes > input ${input.length}`);
      check(Number.isInteger(rtpTimestamp) && rtpTimestamp >= 0 && rtpTimestamp <= 0xffffffff, `rtpTimestamp ${rtpTimestamp}`);
      check(index >= 0 && index < 1024, `frame index ${index}`);
    },
  };
  return sink;
}

/**
 * Audio RTP inputs: record 0 is the track's `a=fmtp` text, the rest are RTP packets. `setup` parses the fmtp (an
 * allowed error ends the input) and gives the depacketizer and what to do with each frame afterwards.
 */
function audioRtpTarget(
  name: string,
  what: string,
  maxFrame: number,
  setup: (fmtpText: string) => { depacketizer: { push(pkt: RtpPacket, sink: AudioFrameSink): number; onPacketLoss(): void }; onFrame(frame: Uint8Array): void } | undefined,
): FuzzTarget {
  return {
    name,
    what,
    maxInputSize: 64 * 1024,
    run(input) {
      const before = Buffer.from(input);
      const records = splitRecords(input);
      if (records.length === 0) return;
      const parts = setup((records[0] as Buffer).toString('latin1'));
      if (parts === undefined) return;
      const sink = audioSink(input, maxFrame);
      const frames: Uint8Array[] = [];
      never(`${name} depacketizer`, () => {
        for (const { pkt, gap } of rtpPackets(records.slice(1))) {
          if (gap) parts.depacketizer.onPacketLoss();
          parts.depacketizer.push(pkt, { onAudioFrame: (f, ts, i) => { sink.onAudioFrame(f, ts, i); frames.push(f); } });
        }
      });
      for (const f of frames) parts.onFrame(f);
      checkUnchanged(input, before, `${name} depacketizer`);
    },
  };
}

const rtpMpeg4GenericTarget = audioRtpTarget(
  'rtp-mpeg4-generic',
  'MPEG4-GENERIC fmtp + RtpMpeg4GenericDepacketizer (AU headers, fragmented AUs, loss) → AacPackager',
  MAX_AAC_RAW_FRAME_SIZE + 0xffff,
  (text) => {
    const fmtp = allow('parseMpeg4GenericFmtp', [ErrorCode.AacConfig], () => parseMpeg4GenericFmtp(parseFmtpParameters(text)));
    if (fmtp === undefined) return undefined;
    const packager = new AacPackager();
    return {
      depacketizer: new RtpMpeg4GenericDepacketizer(fmtp, () => undefined),
      onFrame: (f) => never('AacPackager.packRawFrame', () => packager.packRawFrame(f, 0, fmtp.asc)),
    };
  },
);

/** Record 0: `<clockRate>/<channels> <fmtp parameters>`. */
const rtpMp4aLatmTarget = audioRtpTarget(
  'rtp-mp4a-latm',
  'MP4A-LATM fmtp (StreamMuxConfig) + RtpMp4aLatmDepacketizer (AudioMuxElement, in-band config, fragments, loss)',
  MAX_AUDIO_MUX_ELEMENT_SIZE,
  (text) => {
    const m = /^(\d{1,6})\/(\d{1,2}) (.*)$/s.exec(text);
    const clockRate = m === null ? 44100 : Number(m[1]);
    const channels = m === null ? 2 : Number(m[2]);
    const fmtp = allow('parseLatmFmtp', [ErrorCode.AacLatm], () => parseLatmFmtp(parseFmtpParameters(m === null ? text : (m[3] as string)), clockRate, channels));
    if (fmtp === undefined) return undefined;
    const depacketizer = new RtpMp4aLatmDepacketizer(fmtp, () => undefined);
    const packager = new AacPackager();
    return {
      depacketizer,
      onFrame: (f) => {
        const asc = depacketizer.asc;
        if (asc !== undefined) never('AacPackager.packRawFrame', () => packager.packRawFrame(f, 0, asc));
      },
    };
  },
);

const rtpG711Target: FuzzTarget = {
  name: 'rtp-g711',
  what: 'RTP PCMA/PCMU → packG711Frame (FLV AUDIODATA)',
  maxInputSize: 64 * 1024,
  run(input) {
    for (const { pkt } of rtpPackets(splitRecords(input))) {
      const law = pkt.payloadType === 0 ? G711Law.MuLaw : G711Law.ALaw;
      const msg = never('packG711Frame', () => packG711Frame(pkt.payload, pkt.timestamp, law, (pkt.ssrc & 1) + 1));
      if (msg !== undefined) check(msg.payload.length === pkt.payload.length + 1 && pkt.payload.length <= MAX_G711_FRAME_SIZE, 'G.711 message size');
      else check(pkt.payload.length === 0 || pkt.payload.length > MAX_G711_FRAME_SIZE, 'G.711 payload dropped');
    }
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Codec configuration

/** Largest picture side: H.264 level 6.2 ≈ 1055 MBs; H.265 SPS pic_width_in_luma_samples is bounded by level 6.2 (8444). */
const MAX_PICTURE_SIDE = 16 * 1055;

/** The parameter sets a decoder configuration record lists are views of it: never more bytes than it has. */
function checkParameterSets(sets: readonly Uint8Array[], recordSize: number): void {
  let size = 0;
  for (const p of sets) size += p.length;
  check(size <= recordSize, `parameter sets ${size} bytes from ${recordSize}`);
}

const h264SpsTarget: FuzzTarget = {
  name: 'h264-sps',
  what: 'parseSps (VUI, HRD, scaling lists, cropping) + parsePpsForSlice + parseAvcDecoderConfigurationRecord',
  maxInputSize: 4096,
  run(input) {
    const sps = allow('parseSps', [ErrorCode.H264Sps], () => parseSps(input));
    if (sps !== undefined) {
      check(sps.width > 0 && sps.width <= MAX_PICTURE_SIDE && sps.height > 0 && sps.height <= 2 * MAX_PICTURE_SIDE, `picture ${sps.width}x${sps.height}`);
      check(sps.fps === undefined || (Number.isFinite(sps.fps) && sps.fps > 0), `fps ${sps.fps}`);
    }
    allow('parsePpsForSlice', [ErrorCode.H264Nalu], () => parsePpsForSlice(input));
    const rec = allow('parseAvcDecoderConfigurationRecord', [ErrorCode.AvcConfig], () => parseAvcDecoderConfigurationRecord(input));
    if (rec !== undefined) checkParameterSets([...rec.spsList, ...rec.ppsList], input.length);
  },
};

const h265SpsTarget: FuzzTarget = {
  name: 'h265-sps',
  what: 'parseH265Vps / parseH265Sps (profile_tier_level, sub-layers, VUI) / parseH265Pps + HEVCDecoderConfigurationRecord',
  maxInputSize: 4096,
  run(input) {
    allow('parseH265Vps', [ErrorCode.H265Sps], () => parseH265Vps(input));
    const sps = allow('parseH265Sps', [ErrorCode.H265Sps], () => parseH265Sps(input));
    if (sps !== undefined) {
      check(sps.width > 0 && sps.width <= MAX_PICTURE_SIDE && sps.height > 0 && sps.height <= MAX_PICTURE_SIDE, `picture ${sps.width}x${sps.height}`);
    }
    allow('parseH265Pps', [ErrorCode.H265Sps], () => parseH265Pps(input));
    const rec = allow('parseHevcDecoderConfigurationRecord', [ErrorCode.HevcConfig], () => parseHevcDecoderConfigurationRecord(input));
    if (rec !== undefined) checkParameterSets([...rec.vps, ...rec.sps, ...rec.pps], input.length);
  },
};

const ascTarget: FuzzTarget = {
  name: 'asc',
  what: 'parseAudioSpecificConfig (+ write round trip) and readAudioSpecificConfig (GASpecificConfig, 0x2B7 extension)',
  maxInputSize: 256,
  run(input) {
    const asc = allow('parseAudioSpecificConfig', [ErrorCode.AacConfig], () => parseAudioSpecificConfig(input));
    if (asc !== undefined) {
      check(asc.samplingFrequency > 0 && asc.samplingFrequency < 2 ** 24, `sampling frequency ${asc.samplingFrequency}`);
      const written = allow('writeAudioSpecificConfig', [ErrorCode.AacConfig], () => writeAudioSpecificConfig(asc));
      if (written !== undefined) {
        const again = never('parseAudioSpecificConfig(written)', () => parseAudioSpecificConfig(written));
        check(again.audioObjectType === asc.audioObjectType && again.samplingFrequency === asc.samplingFrequency && again.channelConfiguration === asc.channelConfiguration, 'ASC write/parse round trip differs');
      }
    }
    const walked = allow('readAudioSpecificConfig', [ErrorCode.AacConfig], () => readAudioSpecificConfig(input, 0, input.length * 8, ErrorCode.AacConfig));
    if (walked !== undefined) check(walked.bitLength >= 0 && walked.bitLength <= input.length * 8, `ASC bit length ${walked.bitLength}`);
  },
};

const latmTarget: FuzzTarget = {
  name: 'latm',
  what: 'parseStreamMuxConfig (audioMuxVersion 0/1, LatmGetValue, ASC inside, otherData, CRC), strict and lenient',
  maxInputSize: 512,
  run(input) {
    for (const lenient of [true, false]) {
      const c = allow('parseStreamMuxConfig', [ErrorCode.AacLatm], () => parseStreamMuxConfig(input, lenient));
      if (c !== undefined) {
        check(c.numSubFrames >= 0 && c.numSubFrames < 64, `numSubFrames ${c.numSubFrames}`);
        check(c.ascBytes.length <= input.length, `ASC of ${c.ascBytes.length} bytes from ${input.length}`);
      }
    }
  },
};

/** Every target, in report order. */
export const TARGETS: readonly FuzzTarget[] = [
  tsTarget, tsUdpTarget, pesTarget, flvTarget, amf0Target, rtmpChunkTarget, rtmpHandshakeTarget, rtspRequestTarget, sdpTarget,
  rtpTarget, rtpH264Target, rtpH265Target, rtpMpeg4GenericTarget, rtpMp4aLatmTarget, rtpG711Target,
  h264SpsTarget, h265SpsTarget, ascTarget, latmTarget,
];
