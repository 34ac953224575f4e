/**
 * RTSP caster receive path benchmark: RTP datagrams → header parse → reorder buffer → depacketizer → DTS
 * extractor → packager → RtmpMessages into a TrackSink (one RtspTrack per track, exactly as a session runs them),
 * on one core.
 *
 * Input: a 5 Mbit/s 1280x720 H.264 (B-frames) + AAC stream made once by ffmpeg into os.tmpdir(), split into AUs by
 * our TS demuxer and packetized (1400-byte RTP payloads: single NAL, STAP-A, FU-A; RFC 3640 AAC) before timing.
 * Printed:
 * 1. throughput: Mbit/s of RTP (headers included) per CPU core, packets/s, frames/s — as UDP datagrams, and as
 *    TCP interleaved `$` frames in 64 KiB socket chunks through the RTSP reader;
 * 2. loss recovery: with 0.1 %, 1 % and 5 % of the packets dropped (and 1 % of neighbours swapped), the share of
 *    video frames still published, the access units dropped, and how many frames a loss costs before a keyframe
 *    brings the picture back (each loss drops the rest of its GOP: a 1 s GOP here).
 * Run: npx tsx test/bench/rtsp.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayError } from '../../core/errors.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { splitAnnexB } from '../../core/codec/h264/nalu.ts';
import { parseAdtsHeader } from '../../core/codec/aac/adts.ts';
import { TsDemuxer, type TsTrack } from '../../core/protocol/mpegts/ts-demuxer.ts';
import { serializeRtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { DEFAULT_UDP_REORDER } from '../../core/protocol/rtp/rtp-reorder-buffer.ts';
import { parseAnnounceSdp } from '../../core/protocol/rtsp/sdp-tracks.ts';
import { RtspRequestReader } from '../../core/protocol/rtsp/rtsp-message.ts';
import { serializeInterleavedFrame } from '../../core/protocol/rtsp/rtsp-response.ts';
import { RtspTimeline } from '../../casters/rtsp/rtsp-timeline.ts';
import { RtspTrack, type TrackSink } from '../../casters/rtsp/rtsp-track.ts';
import { RtpH264Packetizer } from '../helpers/rtp-h264-packetizer.ts';
import { packetizeMpeg4Generic } from '../helpers/rtp-audio-packetizer.ts';

const SECONDS = 20;
const LOOPS = 5;
const FILE = join(tmpdir(), `castgate-bench-rtsp-720p-5M-${SECONDS}s.ts`);

function makeInput(): Buffer {
  if (!existsSync(FILE) || statSync(FILE).size === 0) {
    console.log(`generating ${FILE} (once)...`);
    execFileSync('ffmpeg', [
      '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
      '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '5M', '-maxrate', '5M', '-bufsize', '5M', '-g', '25', '-bf', '2',
      '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', FILE,
    ]);
  }
  return readFileSync(FILE);
}

interface Datagram {
  readonly track: 0 | 1;
  readonly bytes: Buffer;
}

/** AUs of the TS file → RTP datagrams of LOOPS passes (sequence numbers and timestamps keep rising). */
function packetize(ts: Buffer): { datagrams: Datagram[]; videoFrames: number } {
  const video: Array<{ nalus: Uint8Array[]; pts: number }> = [];
  const audio: Array<{ frame: Uint8Array; pts: number }> = [];
  const demuxer = new TsDemuxer({
    onProgram() {},
    onDecodeError() {},
    onPes(track: TsTrack, data: Buffer, pts90k: number | undefined) {
      if (pts90k === undefined) return;
      if (track.codec === 'h264') video.push({ nalus: splitAnnexB(data), pts: pts90k });
      else if (track.codec === 'aac') {
        for (let o = 0, i = 0; o < data.length; i++) {
          const h = parseAdtsHeader(data, o);
          if (h === undefined) break;
          audio.push({ frame: data.subarray(o + h.headerLength, o + h.frameLength), pts: pts90k + Math.round((i * 1024 * 90000) / 48000) });
          o += h.frameLength;
        }
      }
    },
  });
  demuxer.push(ts);
  const durationTicks = SECONDS * 90000;
  const h264 = new RtpH264Packetizer({ mtu: 1400, payloadType: 96, ssrc: 0x1111 });
  const datagrams: Datagram[] = [];
  let audioSeq = 0;
  for (let loop = 0; loop < LOOPS; loop++) {
    // Interleave by time: video AU, then the audio frames up to its PTS.
    let a = 0;
    for (const au of video) {
      const pts = au.pts + loop * durationTicks;
      for (const p of h264.packetize(au.nalus, pts >>> 0)) datagrams.push({ track: 0, bytes: serializeRtpPacket(p) });
      while (a < audio.length && (audio[a]?.pts ?? 0) <= au.pts) {
        const f = audio[a] as { frame: Uint8Array; pts: number };
        const rtpTs = Math.round(((f.pts + loop * durationTicks) * 48000) / 90000);
        for (const p of packetizeMpeg4Generic([f.frame], { payloadType: 97, ssrc: 0x2222, sequenceNumber: audioSeq++ & 0xffff, rtpTimestamp: rtpTs })) {
          datagrams.push({ track: 1, bytes: serializeRtpPacket(p) });
        }
        a++;
      }
    }
  }
  return { datagrams, videoFrames: video.length * LOOPS };
}

const SDP = [
  'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=bench', 't=0 0',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1', 'a=control:streamid=0',
  'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MPEG4-GENERIC/48000/1',
  'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1188', 'a=control:streamid=1', '',
].join('\r\n');

interface RunResult {
  cpuMs: number;
  messages: number;
  videoFrames: number;
  keyframes: number;
  errors: number;
  lossRuns: number[];
}

/** Feed datagrams through two RtspTracks; `drop(i)` says whether datagram i is lost, `swap(i)` whether i and i+1 trade places. */
function run(datagrams: readonly Datagram[], drop: (i: number) => boolean, swap: (i: number) => boolean): RunResult {
  const tracks = parseAnnounceSdp(SDP, 'rtsp://127.0.0.1/live/bench');
  const timeline = new RtspTimeline();
  const result: RunResult = { cpuMs: 0, messages: 0, videoFrames: 0, keyframes: 0, errors: 0, lossRuns: [] };
  let lastVideoTs = -1;
  const sink: TrackSink = {
    onMessage(m: RtmpMessage): void {
      result.messages++;
      if (m.type === 9 && !m.isConfig) {
        result.videoFrames++;
        if (m.kind === 'keyframe') result.keyframes++;
        // A gap of more than two frame durations in published video = frames lost to a packet loss.
        if (lastVideoTs >= 0 && m.timestamp - lastVideoTs > 80) result.lossRuns.push(Math.round((m.timestamp - lastVideoTs) / 40) - 1);
        lastVideoTs = m.timestamp;
      }
    },
    onDecodeError(_e: GatewayError): void {
      result.errors++;
    },
  };
  const receivers = tracks.map((sdp) => new RtspTrack({ sdp, timeline, reorder: DEFAULT_UDP_REORDER, sink }));
  const order = datagrams.map((_, i) => i);
  for (let i = 0; i + 1 < order.length; i++) {
    if (swap(i)) {
      const t = order[i] as number;
      order[i] = order[i + 1] as number;
      order[i + 1] = t;
      i++;
    }
  }
  const t0 = process.cpuUsage();
  let nowMs = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    if (drop(i)) continue;
    const d = datagrams[i] as Datagram;
    nowMs += 0.05; // arrival clock: 20 packets per ms (a 5 Mbit/s stream arrives far slower; gaps flush by count)
    (receivers[d.track] as RtspTrack).onRtp(d.bytes, nowMs);
  }
  for (const r of receivers) r.flush(nowMs + 1000);
  const used = process.cpuUsage(t0);
  result.cpuMs = (used.user + used.system) / 1000;
  return result;
}

/** Deterministic pseudo-random numbers (xorshift32) so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const ts = makeInput();
const { datagrams, videoFrames } = packetize(ts);
const rtpBytes = datagrams.reduce((n, d) => n + d.bytes.length, 0);
console.log(`input: ${datagrams.length} RTP packets, ${(rtpBytes / 1e6).toFixed(1)} MB, ${videoFrames} video frames (${LOOPS}× ${SECONDS} s of 720p25 5 Mbit/s H.264 + AAC)`);

run(datagrams, () => false, () => false); // warm-up
const best: RunResult[] = [];
for (let i = 0; i < 3; i++) best.push(run(datagrams, () => false, () => false));
const clean = best.reduce((a, b) => (a.cpuMs < b.cpuMs ? a : b));
const mbitPerCore = (rtpBytes * 8) / 1e6 / (clean.cpuMs / 1000);
console.log(
  `throughput: ${mbitPerCore.toFixed(0)} Mbit/s of RTP per core, ${((datagrams.length / clean.cpuMs) * 1000 / 1e6).toFixed(2)} M packets/s, ` +
    `${Math.round((clean.videoFrames / clean.cpuMs) * 1000)} video frames/s (${(mbitPerCore / 5).toFixed(0)} such 5 Mbit/s cameras per core); ` +
    `published ${clean.videoFrames}/${videoFrames} frames, ${clean.errors} errors`,
);

// TCP interleaved: the same packets as `$` frames (channel 0/2), read from 64 KiB chunks by the RTSP reader.
const interleaved = Buffer.concat(datagrams.map((d) => serializeInterleavedFrame(d.track * 2, d.bytes)));
const CHUNK = 64 * 1024;
function runTcp(): number {
  const tracks = parseAnnounceSdp(SDP, 'rtsp://127.0.0.1/live/bench');
  const timeline = new RtspTimeline();
  const sink: TrackSink = { onMessage() {}, onDecodeError() {} };
  const receivers = tracks.map((sdp) => new RtspTrack({ sdp, timeline, reorder: { maxPackets: 0, maxDelayMs: 0 }, sink }));
  const reader = new RtspRequestReader();
  const t0 = process.cpuUsage();
  for (let o = 0; o < interleaved.length; o += CHUNK) {
    for (const input of reader.push(interleaved.subarray(o, o + CHUNK))) {
      if (input.kind === 'interleaved') (receivers[input.channel / 2] as RtspTrack).onRtp(input.payload, 0);
    }
  }
  const used = process.cpuUsage(t0);
  return (used.user + used.system) / 1000;
}
runTcp();
const tcpMs = Math.min(runTcp(), runTcp(), runTcp());
console.log(`TCP interleaved: ${((rtpBytes * 8) / 1e6 / (tcpMs / 1000)).toFixed(0)} Mbit/s of RTP per core (RTSP reader included)`);

console.log('\nloss recovery (random drops; 1 % of neighbours swapped, put back by the reorder buffer):');
console.log('| loss | video frames published | decode errors reported | frames lost per loss event (mean / max) |');
console.log('|---:|---:|---:|---:|');
for (const loss of [0.001, 0.01, 0.05]) {
  const r1 = rng(42);
  const dropSet = new Set<number>();
  for (let i = 0; i < datagrams.length; i++) if (r1() < loss) dropSet.add(i);
  const r2 = rng(7);
  const r = run(datagrams, (i) => dropSet.has(i), () => r2() < 0.01);
  const mean = r.lossRuns.length === 0 ? 0 : r.lossRuns.reduce((a, b) => a + b, 0) / r.lossRuns.length;
  const max = r.lossRuns.length === 0 ? 0 : Math.max(...r.lossRuns);
  console.log(`| ${(loss * 100).toFixed(1)} % | ${((r.videoFrames / videoFrames) * 100).toFixed(1)} % | ${r.errors} | ${mean.toFixed(1)} / ${max} |`);
}
