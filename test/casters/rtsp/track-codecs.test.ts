/**
 * The per-codec pipelines of an RTSP track (casters/rtsp/track-codecs.ts), driven through RtspTrack as a session
 * drives them: RTP packets of real ffmpeg captures (fixtures/rtp, fixtures/rtsp) in, RtmpMessages out through the
 * TrackSink. Checked: which messages come out (sequence header first, then frames), that their timestamps rise on
 * the track's own clock, that the bytes are the encoder's, the onMetaData facts, and what a lost packet costs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, isGatewayError, type GatewayError } from '../../../core/errors.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { parseRtpPacket } from '../../../core/protocol/rtp/rtp-packet.ts';
import { RtpWallClock } from '../../../core/protocol/rtp/rtp-clock.ts';
import { DEFAULT_UDP_REORDER } from '../../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { parseAnnounceSdp, type SdpTrack } from '../../../core/protocol/rtsp/sdp-tracks.ts';
import { RtspTimeline, SESSION_START_OFFSET_90K } from '../../../casters/rtsp/rtsp-timeline.ts';
import { RtspTrack } from '../../../casters/rtsp/rtsp-track.ts';
import { TCP_REORDER } from '../../../casters/rtsp/rtsp-interleaved.ts';
import { createTrackCodec, type TrackSink } from '../../../casters/rtsp/track-codecs.ts';
import { fixture } from '../../helpers/peers.ts';
import { readRtpCapture } from '../../helpers/rtp-capture.ts';
import { adtsRawFrames } from '../../helpers/rtp-audio-packetizer.ts';

/** A sink that keeps everything, in order. */
class CollectingSink implements TrackSink {
  readonly messages: RtmpMessage[] = [];
  readonly errors: GatewayError[] = [];
  onMessage(msg: RtmpMessage): void {
    this.messages.push(msg);
  }
  onDecodeError(err: GatewayError): void {
    this.errors.push(err);
  }
}

const START_MS = SESSION_START_OFFSET_90K / 90;

function sdpTrack(sdpFile: string): SdpTrack {
  const tracks = parseAnnounceSdp(readFileSync(fixture(sdpFile), 'utf8'), 'rtsp://127.0.0.1/live/test');
  assert.equal(tracks.length, 1);
  return tracks[0] as SdpTrack;
}

/** Feed a capture (5 ms apart on the arrival clock) through one UDP track; `skip(i)` drops datagram i. */
function runCapture(sdpFile: string, capture: string, skip: (i: number) => boolean = () => false): { sink: CollectingSink; track: RtspTrack } {
  const sink = new CollectingSink();
  const track = new RtspTrack({ sdp: sdpTrack(sdpFile), timeline: new RtspTimeline(), reorder: DEFAULT_UDP_REORDER, sink });
  let nowMs = 1000;
  readRtpCapture(fixture(capture)).forEach((datagram, i) => {
    nowMs += 5;
    if (!skip(i)) track.onRtp(datagram, nowMs);
  });
  track.flush(nowMs + 1000);
  return { sink, track };
}

function assertRising(msgs: readonly RtmpMessage[], what: string): void {
  for (let i = 1; i < msgs.length; i++) {
    assert.ok((msgs[i]?.timestamp ?? 0) > (msgs[i - 1]?.timestamp ?? 0), `${what}: timestamp rises at ${i} (${msgs[i - 1]?.timestamp} → ${msgs[i]?.timestamp})`);
  }
}

test('H.264 (ffmpeg, RFC 6184 FU-A/STAP-A): sequence header first, 50 frames at 40 ms steps from the session start, two keyframes', () => {
  const { sink, track } = runCapture('rtp/h264-320x240-25fps-2s.sdp', 'rtp/h264-320x240-25fps-2s.rtp.bin');
  assert.deepEqual(sink.errors, []);
  const kinds = sink.messages.map((m) => m.kind);
  assert.equal(kinds[0], 'video-config', 'the AVC sequence header first');
  assert.equal(kinds[1], 'keyframe');
  assert.equal(kinds.filter((k) => k === 'video-config').length, 1, 'one sequence header: the parameter sets never change');
  const frames = sink.messages.filter((m) => !m.isConfig);
  assert.equal(frames.length, 50, '2 s at 25 fps');
  assert.deepEqual(frames.filter((m) => m.kind === 'keyframe').map((m) => m.timestamp), [START_MS, START_MS + 1000], 'a keyframe each second');
  assertRising(frames, 'video');
  frames.forEach((m, i) => assert.equal(m.timestamp, START_MS + 40 * i, `frame ${i} DTS`));
  assert.equal(sink.messages[0]?.timestamp, frames[0]?.timestamp);
  assert.deepEqual(track.codec.metadata(), { media: 'video', videocodecid: 7, width: 320, height: 240, framerate: 25 });
  const stats = track.stats();
  assert.deepEqual([stats.codec, stats.frames, stats.droppedFrames, stats.lost, stats.decodeErrors, stats.sync], ['h264', 50, 0, 0, 0, 'anchor']);
});

test('H.264: a lost packet drops the frames up to the next keyframe, reports the loss once, and time keeps rising', () => {
  const all = readRtpCapture(fixture('rtp/h264-320x240-25fps-2s.rtp.bin'));
  const lose = 10; // inside the first GOP
  const { sink, track } = runCapture('rtp/h264-320x240-25fps-2s.sdp', 'rtp/h264-320x240-25fps-2s.rtp.bin', (i) => i === lose);
  assert.ok(all.length > lose + 20);
  assert.deepEqual(sink.errors.map((e) => e.code), [ErrorCode.RtpMissingPacket]);
  const frames = sink.messages.filter((m) => !m.isConfig);
  assertRising(frames, 'video');
  const gapAt = frames.findIndex((m, i) => i > 0 && m.timestamp - (frames[i - 1]?.timestamp ?? 0) > 40);
  assert.ok(gapAt > 0, 'frames are missing');
  assert.equal(frames[gapAt]?.kind, 'keyframe', 'the picture comes back at a keyframe');
  assert.equal(frames[gapAt]?.timestamp, START_MS + 1000);
  assert.equal(frames.at(-1)?.timestamp, START_MS + 40 * 49, 'the rest of the stream is there');
  assert.equal(track.stats().lost, 1);
});

test('H.265 (ffmpeg, RFC 7798 AP/FU): HEVC sequence header first, frames rising, hvc1 in onMetaData', () => {
  const sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n';
  const sink = new CollectingSink();
  const track = new RtspTrack({ sdp: parseAnnounceSdp(sdp, 'rtsp://127.0.0.1/live/h265')[0] as SdpTrack, timeline: new RtspTimeline(), reorder: TCP_REORDER, sink });
  assert.equal(track.codec.metadata(), undefined, 'no SPS yet: nothing to say');
  for (const d of readRtpCapture(fixture('rtp/h265-bf3-2s.bin'))) track.onRtp(d, 0);
  assert.deepEqual(sink.errors, []);
  assert.equal(sink.messages[0]?.kind, 'video-config');
  assert.equal(sink.messages[1]?.kind, 'keyframe');
  const frames = sink.messages.filter((m) => !m.isConfig);
  assert.ok(frames.length >= 45, `${frames.length} frames`);
  assertRising(frames, 'video');
  assert.deepEqual(track.codec.metadata(), { media: 'video', videocodecid: 0x68766331, width: 320, height: 240, framerate: 25 });
});

test('AAC MPEG4-GENERIC (ffmpeg, several AUs per packet): ASC first, then the encoder\'s raw frames at 1024-sample steps', () => {
  const { sink, track } = runCapture('rtp/aac-mpeg4-generic-ffmpeg.sdp', 'rtp/aac-mpeg4-generic-ffmpeg.rtp');
  assert.deepEqual(sink.errors, []);
  assert.equal(sink.messages[0]?.kind, 'audio-config');
  assert.equal(sink.messages.filter((m) => m.isConfig).length, 1);
  const frames = sink.messages.filter((m) => !m.isConfig);
  const want = adtsRawFrames(readFileSync(fixture('rtp/aac-48k-stereo-2s.adts')));
  assert.ok(frames.length > 80 && frames.length <= want.length, `${frames.length} frames`);
  // AACAUDIODATA: 0xAF, AACPacketType 1, then the raw frame as the encoder wrote it.
  frames.forEach((m, i) => assert.deepEqual(m.payload.subarray(2), want[i], `frame ${i} bytes`));
  assertRising(frames, 'audio');
  frames.forEach((m, i) => assert.equal(m.timestamp, START_MS + Math.round((i * 1024 * 1000) / 48000), `frame ${i} timestamp`));
  assert.deepEqual(track.codec.metadata(), { media: 'audio', audiocodecid: 10, audiosamplerate: 48000, audiochannels: 2 });
  assert.equal(track.stats().frames, frames.length);
});

test('AAC MP4A-LATM (ffmpeg): ASC first, frames rising, same bytes as the encoder', () => {
  const { sink } = runCapture('rtp/aac-latm-ffmpeg.sdp', 'rtp/aac-latm-ffmpeg.rtp');
  assert.deepEqual(sink.errors, []);
  assert.equal(sink.messages[0]?.kind, 'audio-config');
  const frames = sink.messages.filter((m) => !m.isConfig);
  const want = adtsRawFrames(readFileSync(fixture('rtp/aac-48k-stereo-2s.adts')));
  assert.equal(frames.length, 95);
  frames.forEach((m, i) => assert.deepEqual(m.payload.subarray(2), want[i], `frame ${i} bytes`));
  assertRising(frames, 'audio');
});

test('G.711 A-law (ffmpeg, static payload type 8): one message per packet, 128 ms apart, no sequence header', () => {
  const { sink, track } = runCapture('rtp/pcma-8k-mono-ffmpeg.sdp', 'rtp/pcma-8k-mono-ffmpeg.rtp');
  assert.deepEqual(sink.errors, []);
  assert.equal(sink.messages.length, 16);
  assert.ok(sink.messages.every((m) => m.kind === 'audio' && m.payload[0] === 0x72), 'SoundFormat 7, mono');
  sink.messages.forEach((m, i) => assert.equal(m.timestamp, START_MS + 128 * i));
  assert.deepEqual(track.codec.metadata(), { media: 'audio', audiocodecid: 7, audiosamplerate: 8000, audiochannels: 1 });
});

test('H.264 + AAC of a real interleaved ffmpeg push: both tracks on one timeline, aligned by the sender reports', () => {
  const txt = readFileSync(fixture('rtsp/ffmpeg-tcp-h264-aac.txt'), 'latin1');
  const sdp = /\r?\n\r?\n(v=0[\s\S]*?a=control:streamid=1\r?\n)/.exec(txt)?.[1];
  assert.ok(sdp !== undefined, 'ANNOUNCE body in the transcript');
  const timeline = new RtspTimeline();
  const sinks = [new CollectingSink(), new CollectingSink()];
  const tracks = parseAnnounceSdp(sdp, 'rtsp://127.0.0.1/live/cam1').map((t, i) => new RtspTrack({ sdp: t, timeline, reorder: TCP_REORDER, sink: sinks[i] as CollectingSink }));
  const bin = readFileSync(fixture('rtsp/ffmpeg-tcp-h264-aac-after-record.bin'));
  for (let o = 0, nowMs = 0; o + 4 <= bin.length && bin[o] === 0x24; nowMs += 1) {
    const channel = bin[o + 1] as number;
    const payload = bin.subarray(o + 4, o + 4 + bin.readUInt16BE(o + 2));
    const track = tracks[channel >> 1] as RtspTrack;
    if (channel % 2 === 0) track.onRtp(payload, nowMs);
    else track.onRtcp(payload, nowMs);
    o += 4 + payload.length;
  }
  const [video, audio] = sinks as [CollectingSink, CollectingSink];
  assert.deepEqual([...video.errors, ...audio.errors], []);
  assert.deepEqual([video.messages[0]?.kind, video.messages[1]?.kind], ['video-config', 'keyframe']);
  assert.deepEqual([audio.messages[0]?.kind, audio.messages[1]?.kind], ['audio-config', 'audio']);
  assertRising(video.messages.filter((m) => !m.isConfig), 'video');
  assertRising(audio.messages.filter((m) => !m.isConfig), 'audio');
  assert.deepEqual(tracks.map((t) => t.stats().sync), ['anchor', 'sender-report']);
  // ffmpeg starts both streams together: the first audio frame is within one video frame of the first picture.
  const skew = (audio.messages[1]?.timestamp ?? 0) - (video.messages[1]?.timestamp ?? 0);
  assert.ok(Math.abs(skew) <= 100, `A/V start skew ${skew} ms`);
});

test('packets of another payload type are counted and never reach the pipeline', () => {
  const { sink, track } = runCapture('rtp/h264-320x240-25fps-2s.sdp', 'rtp/h264-320x240-25fps-2s.rtp.bin');
  const before = sink.messages.length;
  const rtcpLike = Buffer.from(readRtpCapture(fixture('rtp/h264-320x240-25fps-2s.rtp.bin'))[0] as Buffer);
  rtcpLike[1] = ((rtcpLike[1] as number) & 0x80) | 72; // payload type 72 (an RTCP SR on the RTP port, rtcp-mux)
  track.onRtp(rtcpLike, 99_999);
  assert.equal(sink.messages.length, before);
  assert.equal(track.stats().wrongPayloadType, 1);
  assert.equal(parseRtpPacket(rtcpLike).payloadType, 72);
});

test('createTrackCodec: an encoding castgate cannot publish is refused with RtpUnsupportedCodec', () => {
  const sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n';
  const track = parseAnnounceSdp(sdp, 'rtsp://127.0.0.1/live/vp8')[0] as SdpTrack;
  const clock = new RtspTimeline().track(90000, new RtpWallClock(90000));
  assert.throws(() => createTrackCodec(track, clock, new CollectingSink()), (e: unknown) => isGatewayError(e, ErrorCode.RtpUnsupportedCodec));
  assert.throws(() => new RtspTrack({ sdp: track, timeline: new RtspTimeline(), reorder: TCP_REORDER, sink: new CollectingSink() }), /VP8/);
});
