/**
 * Builds the fuzz seed corpus fixtures/fuzz/<target>/ from the real captures in fixtures/ (see fixtures/README.md
 * "Fuzz seeds" for what each file is). Seeds are small (≤ 24 KiB) so mutations stay fast and reach deep.
 *
 *   node --import tsx test/fuzz/make-seeds.ts          # everything derived from fixtures/ (deterministic)
 *   node --import tsx test/fuzz/make-seeds.ts --rtmp   # also capture RTMP from ffmpeg and GStreamer (needs both)
 *
 * The RTMP capture runs this project's RTMP server (fake hub) on 127.0.0.1 behind a recording TCP proxy and stores
 * what the clients sent; handshakes carry random bytes, so those files differ per capture.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { SEED_ROOT } from './corpus.ts';
import { joinRecords } from './mutate.ts';
import { splitRtpCapture } from '../helpers/rtp-capture.ts';
import { FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';
import { flvFileHeader, flvTag } from '../../core/protocol/flv/flv-muxer.ts';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';
import { TsToRtmp } from '../../core/remux/ts-to-rtmp.ts';
import { splitAnnexB } from '../../core/codec/h264/nalu.ts';
import { buildHevcDecoderConfigurationRecord } from '../../core/codec/h265/hevc-decoder-config.ts';
import { serializeRtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { ChunkReader, RtmpTypeId } from '../../core/protocol/rtmp/chunk-reader.ts';
import { RTMP_HANDSHAKE_SIZE } from '../../core/protocol/rtmp/handshake.ts';
import { decodeAmf0 } from '../../core/protocol/amf0.ts';
import type { RtmpMessage } from '../../core/media/message.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const fixture = (p: string): Buffer => readFileSync(join(FIXTURES, p));
const TS = 188;

/** Write one seed; returns its path relative to fixtures/fuzz. */
function put(target: string, name: string, bytes: Uint8Array | string): void {
  const dir = join(SEED_ROOT, target);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), bytes);
  console.log(`${target}/${name}: ${typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length} bytes`);
}

// ----- MPEG-TS / PES ---------------------------------------------------------------------------------------------

function packets(ts: Buffer, from: number, count: number): Buffer {
  return ts.subarray(from * TS, Math.min(ts.length, (from + count) * TS));
}

/** Index of the n-th packet (0-based) on PID 0 with payload_unit_start_indicator: the n-th PAT. */
function nthPat(ts: Buffer, n: number): number {
  let seen = 0;
  for (let i = 0; i * TS < ts.length; i++) {
    const p = i * TS;
    const pid = ((ts[p + 1]! & 0x1f) << 8) | ts[p + 2]!;
    if (pid === 0 && (ts[p + 1]! & 0x40) !== 0 && seen++ === n) return i;
  }
  throw new Error(`no PAT #${n}`);
}

/** Whole PES packets (header included) of the PID whose first PES has stream_id `streamId`, in order. */
function pesPackets(ts: Buffer, streamIdMask: number): Buffer[] {
  const byPid = new Map<number, Buffer[]>();
  const done: Buffer[] = [];
  let pid = -1;
  for (let p = 0; p + TS <= ts.length; p += TS) {
    const pusi = (ts[p + 1]! & 0x40) !== 0;
    const thisPid = ((ts[p + 1]! & 0x1f) << 8) | ts[p + 2]!;
    const afc = (ts[p + 3]! >> 4) & 3;
    if ((afc & 1) === 0) continue;
    const start = afc === 3 ? p + 5 + ts[p + 4]! : p + 4;
    const payload = ts.subarray(start, p + TS);
    if (pid < 0 && pusi && payload[0] === 0 && payload[1] === 0 && payload[2] === 1 && (payload[3]! & 0xf0) === streamIdMask) pid = thisPid;
    if (thisPid !== pid) continue;
    if (pusi) {
      const prev = byPid.get(pid);
      if (prev !== undefined) done.push(Buffer.concat(prev));
      byPid.set(pid, [payload]);
    } else {
      byPid.get(pid)?.push(payload);
    }
  }
  return done;
}

function tsSeeds(): void {
  const h264 = fixture('ts/h264-aac-320x240-25fps-10s.ts');
  const bframes = fixture('ts/h264-bframes-aac-320x240-10s.ts');
  const mp3 = fixture('ts/h264-mp3-320x240-10s.ts');
  const h265 = fixture('h265/testsrc2-320x240-bf3-2s.ts');
  const programs = fixture('ts/demux-two-programs-2s.ts');
  put('ts', 'h264-aac-start.ts', packets(h264, 0, 64));
  put('ts', 'h264-bframes-aac-second-pat.ts', packets(bframes, nthPat(bframes, 2), 64));
  put('ts', 'h264-mp3-start.ts', packets(mp3, 0, 64));
  put('ts', 'h265-start.ts', packets(h265, 0, 64));
  put('ts', 'two-programs-start.ts', packets(programs, 0, 64));

  // UDP: 7 × 188-byte datagrams (GStreamer, ffmpeg pkt_size=1316), ffmpeg's default 1472-byte datagrams (packets
  // cut across datagrams), and the same TS wrapped in RTP (RFC 2250, PT 33, as ffmpeg -f rtp_mpegts sends it).
  const head = packets(h264, 0, 56);
  const cut = (b: Buffer, size: number): Buffer[] => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));
  put('ts-udp', 'h264-aac-1316.bin', joinRecords(cut(head, 7 * TS)));
  put('ts-udp', 'h264-aac-1472.bin', joinRecords(cut(head, 1472)));
  put('ts-udp', 'h265-1316.bin', joinRecords(cut(packets(h265, 0, 56), 7 * TS)));
  put('ts-udp', 'h264-aac-rtp-mp2t.bin', joinRecords(cut(head, 7 * TS).map((payload, i) => serializeRtpPacket({ payloadType: 33, sequenceNumber: 65530 + i, timestamp: 90_000 + 3600 * i, ssrc: 0x5eed, payload }))));

  const audio = pesPackets(h264, 0xc0);
  const video = pesPackets(bframes, 0xe0);
  const smallVideo = video.filter((p) => p.length < 4096 && (p[7]! >> 6) === 3)[0];
  const mp3Pes = pesPackets(mp3, 0xc0);
  const hevc = pesPackets(h265, 0xe0);
  put('pes', 'aac-pes.bin', audio[0]!);
  put('pes', 'h264-pts-dts-pes.bin', smallVideo!);
  put('pes', 'mp3-pes.bin', mp3Pes[0]!);
  put('pes', 'h265-pes-head.bin', hevc[0]!.subarray(0, 4096));
}

// ----- FLV / AMF0 ------------------------------------------------------------------------------------------------

function flvTags(flv: Buffer): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const d = new FlvDemuxer({ onMessage: (m) => out.push(m), onDecodeError: (e) => { throw e; } });
  d.push(flv);
  d.end();
  return out;
}

function flvFile(msgs: readonly RtmpMessage[], maxBytes: number): Buffer {
  const parts: Buffer[] = [flvFileHeader(true, true)];
  let size = parts[0]!.length;
  for (const m of msgs) {
    const tag = flvTag(m);
    if (size + tag.length > maxBytes && parts.length > 4) break;
    parts.push(tag);
    size += tag.length;
  }
  return Buffer.concat(parts);
}

/** H.265 TS → Enhanced RTMP (hvc1) messages through the project's own remuxer. */
function hevcMessages(): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const remux = new TsToRtmp({ onMessage: (m) => out.push(m), onDecodeError: () => undefined });
  const d = new TsDemuxer(remux);
  d.push(fixture('h265/testsrc2-320x240-bf3-2s.ts'));
  d.flush();
  return out;
}

function flvSeeds(): void {
  const msgs = flvTags(fixture('flv/h264-aac-320x240-10s.flv'));
  put('flv', 'h264-aac-start.flv', flvFile(msgs, 12 * 1024));
  // The middle of a stream (what a late FLV POST chunk or an RTMP player sees): config tags, then tags from 4 s on.
  const configs = msgs.filter((m) => m.kind === 'metadata' || m.kind === 'video-config' || m.kind === 'audio-config');
  const middle = msgs.filter((m) => m.timestamp >= 4000 && m.kind !== 'metadata' && m.kind !== 'video-config' && m.kind !== 'audio-config');
  put('flv', 'h264-aac-middle.flv', flvFile([...configs, ...middle], 12 * 1024));
  put('flv', 'h265-enhanced-rtmp.flv', flvFile(hevcMessages(), 12 * 1024));
  const meta = msgs.find((m) => m.kind === 'metadata');
  put('amf0', 'flv-onmetadata.bin', meta!.payload);
}

// ----- RTSP / SDP ------------------------------------------------------------------------------------------------

/** Whole `$` frames of an after-record capture up to maxBytes. */
function interleavedPrefix(bin: Buffer, maxBytes: number): Buffer {
  let off = 0;
  while (off + 4 <= bin.length && bin[off] === 0x24) {
    const next = off + 4 + bin.readUInt16BE(off + 2);
    if (next > maxBytes) break;
    off = next;
  }
  return bin.subarray(0, off);
}

function rtspSeeds(): void {
  for (const name of readdirSync(join(FIXTURES, 'rtsp')).filter((n) => n.endsWith('.txt')).sort()) {
    const text = fixture(`rtsp/${name}`);
    put('rtsp-request', name, text);
    const s = text.toString('latin1');
    const announce = s.indexOf('ANNOUNCE ');
    const headEnd = s.indexOf('\r\n\r\n', announce);
    const length = Number(/Content-Length:\s*(\d+)/i.exec(s.slice(announce, headEnd))?.[1]);
    put('sdp', name.replace(/\.txt$/, '.sdp'), s.slice(headEnd + 4, headEnd + 4 + length));
  }
  for (const tool of ['ffmpeg', 'gst']) {
    const head = fixture(`rtsp/${tool}-tcp-h264-aac.txt`);
    const after = interleavedPrefix(fixture(`rtsp/${tool}-tcp-h264-aac-after-record.bin`), 6000);
    put('rtsp-request', `${tool}-tcp-h264-aac-with-frames.bin`, Buffer.concat([head, after]));
  }
  for (const name of readdirSync(join(FIXTURES, 'rtp')).filter((n) => n.endsWith('.sdp')).sort()) put('sdp', `rtp-${name}`, fixture(`rtp/${name}`));
}

// ----- RTP -------------------------------------------------------------------------------------------------------

interface DatagramCapture {
  rtp: Array<{ hex: string }>;
  rtcp: Array<{ hex: string }>;
}

function datagrams(name: string): DatagramCapture {
  return JSON.parse(fixture(`rtp/${name}`).toString('utf8')) as DatagramCapture;
}

/** The first packet of `packets` whose payload (after a 12-byte header without CSRC/extension) matches. */
function firstWhere(packets: readonly Buffer[], pred: (payload: Buffer) => boolean): Buffer {
  const p = packets.find((x) => pred(x.subarray(12)));
  if (p === undefined) throw new Error('no such packet');
  return p;
}

function rtpSeeds(): void {
  const h264 = splitRtpCapture(fixture('rtp/h264-320x240-25fps-2s.rtp.bin'));
  const h265 = splitRtpCapture(fixture('rtp/h265-bf3-2s.bin'));
  const ff264 = datagrams('datagrams-ffmpeg-h264.json');
  const gst = datagrams('datagrams-gst-h264-twcc.json');
  const rr = datagrams('datagrams-gst-receiver-reports.json');
  put('rtp', 'h264-stap-a.rtp', firstWhere(h264, (p) => (p[0]! & 0x1f) === 24));
  put('rtp', 'h264-fu-a.rtp', firstWhere(h264, (p) => (p[0]! & 0x1f) === 28));
  put('rtp', 'h264-single.rtp', firstWhere(h264, (p) => (p[0]! & 0x1f) < 24).subarray(0, 1500));
  put('rtp', 'h265-ap.rtp', firstWhere(h265, (p) => ((p[0]! >> 1) & 0x3f) === 48));
  put('rtp', 'h265-fu.rtp', firstWhere(h265, (p) => ((p[0]! >> 1) & 0x3f) === 49));
  put('rtp', 'gst-h264-header-extension.rtp', Buffer.from(gst.rtp[0]!.hex, 'hex'));
  put('rtp', 'aac-mpeg4-generic.rtp', splitRtpCapture(fixture('rtp/aac-mpeg4-generic-ffmpeg.rtp'))[0]!);
  put('rtp', 'aac-latm.rtp', splitRtpCapture(fixture('rtp/aac-latm-ffmpeg.rtp'))[0]!);
  put('rtp', 'pcma.rtp', splitRtpCapture(fixture('rtp/pcma-8k-mono-ffmpeg.rtp'))[0]!);
  put('rtp', 'ffmpeg-rtcp-sr.rtcp', Buffer.from(ff264.rtcp[0]!.hex, 'hex'));
  put('rtp', 'gst-rtcp-sr-sdes.rtcp', Buffer.from(gst.rtcp[0]!.hex, 'hex'));
  put('rtp', 'gst-rtcp-sr-sdes-bye.rtcp', Buffer.from(gst.rtcp[gst.rtcp.length - 1]!.hex, 'hex'));
  put('rtp', 'gst-rtcp-rr-sdes.rtcp', Buffer.from(rr.rtcp[0]!.hex, 'hex'));

  put('rtp-h264', 'ffmpeg-first-16.bin', joinRecords(h264.slice(0, 16)));
  put('rtp-h264', 'ffmpeg-idr-at-1s.bin', joinRecords(h264.slice(30, 46)));
  put('rtp-h264', 'ffmpeg-datagrams-24.bin', joinRecords(ff264.rtp.map((r) => Buffer.from(r.hex, 'hex'))));
  put('rtp-h264', 'gst-twcc-24.bin', joinRecords(gst.rtp.map((r) => Buffer.from(r.hex, 'hex'))));
  put('rtp-h265', 'ffmpeg-first-16.bin', joinRecords(h265.slice(0, 16)));
  put('rtp-h265', 'ffmpeg-cra-at-1s.bin', joinRecords(h265.slice(40, 56)));

  const audio = (target: string, name: string, fmtp: string, capture: string, count: number): void => {
    put(target, name, joinRecords([Buffer.from(fmtp, 'latin1'), ...splitRtpCapture(fixture(`rtp/${capture}`)).slice(0, count)]));
  };
  const ffGeneric = 'profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=119056E500';
  audio('rtp-mpeg4-generic', 'ffmpeg.bin', ffGeneric, 'aac-mpeg4-generic-ffmpeg.rtp', 6);
  audio('rtp-mpeg4-generic', 'ffmpeg-fragmented.bin', ffGeneric, 'aac-mpeg4-generic-fragmented-ffmpeg.rtp', 10);
  audio('rtp-mpeg4-generic', 'gstreamer.bin', 'streamtype=5;profile-level-id=2;mode=AAC-hbr;config=120856e500;sizelength=13;indexlength=3;indexdeltalength=3', 'aac-mpeg4-generic-gstreamer.rtp', 8);
  audio('rtp-mp4a-latm', 'ffmpeg.bin', '48000/2 profile-level-id=41;cpresent=0;config=400023203fc0', 'aac-latm-ffmpeg.rtp', 8);
  audio('rtp-mp4a-latm', 'ffmpeg-fragmented.bin', '48000/2 profile-level-id=41;cpresent=0;config=400023203fc0', 'aac-latm-fragmented-ffmpeg.rtp', 12);
  audio('rtp-mp4a-latm', 'gstreamer.bin', '44100/1 cpresent=0;config=40002410adca00', 'aac-latm-gstreamer.rtp', 8);
  // cpresent=1: ffmpeg's LOAS frames (AudioSyncStream 0x2B7 + 13-bit length + AudioMuxElement(1)), one per packet.
  const loas = fixture('rtp/aac-48k-stereo-2s.loas');
  const elements: Buffer[] = [];
  for (let off = 0; off + 3 <= loas.length && elements.length < 8;) {
    const len = ((loas[off + 1]! & 0x1f) << 8) | loas[off + 2]!;
    elements.push(loas.subarray(off + 3, off + 3 + len));
    off += 3 + len;
  }
  const inBand = elements.map((payload, i) => serializeRtpPacket({ payloadType: 96, sequenceNumber: 1000 + i, timestamp: 5000 + 1024 * i, ssrc: 0x11223344, marker: true, payload }));
  put('rtp-mp4a-latm', 'ffmpeg-loas-cpresent1.bin', joinRecords([Buffer.from('48000/2 cpresent=1', 'latin1'), ...inBand]));
  put('rtp-g711', 'pcma-ffmpeg.bin', joinRecords(splitRtpCapture(fixture('rtp/pcma-8k-mono-ffmpeg.rtp')).slice(0, 6)));

  // StreamMuxConfig: the SDP configs, and the in-band one of the first LOAS element (it starts at bit 1, after
  // useSameStreamMux = 0: shifted left one bit so it starts on a byte).
  put('latm', 'ffmpeg-config.bin', Buffer.from('400023203fc0', 'hex'));
  put('latm', 'gstreamer-config.bin', Buffer.from('40002410adca00', 'hex'));
  const first = elements[0]!.subarray(0, 16);
  const shifted = Buffer.alloc(first.length);
  for (let i = 0; i < first.length; i++) shifted[i] = ((first[i]! << 1) | ((first[i + 1] ?? 0) >> 7)) & 0xff;
  put('latm', 'ffmpeg-loas-inband.bin', shifted);
}

// ----- Codec configuration ---------------------------------------------------------------------------------------

/** NAL units of the first video PES of a TS file. */
function firstAuNalus(file: string): Uint8Array[] {
  const pes = pesPackets(fixture(file), 0xe0)[0]!;
  return splitAnnexB(pes.subarray(9 + pes[8]!));
}

function codecSeeds(): void {
  for (const [file, name] of [
    ['h264/x264-bf3-pyramid-3s.ts', 'x264-high'],
    ['h264/x264-bf0-3s.ts', 'x264-main'],
    ['h264/x264-interlaced-bf2-3s.ts', 'x264-high-mbaff'],
    ['h264/gst-x264enc-bf2-3s.ts', 'gst-x264enc'],
  ] as const) {
    const nalus = firstAuNalus(file);
    put('h264-sps', `${name}-sps.bin`, nalus.find((n) => (n[0]! & 0x1f) === 7)!);
    put('h264-sps', `${name}-pps.bin`, nalus.find((n) => (n[0]! & 0x1f) === 8)!);
  }
  put('h264-sps', 'rtp-sdp-sprop-sps.bin', Buffer.from('Z01ADdoFB+wEQAAAAwBAAAAMg8UKqA==', 'base64'));
  const flvConfig = flvTags(fixture('flv/h264-aac-320x240-10s.flv')).find((m) => m.kind === 'video-config')!;
  put('h264-sps', 'flv-avc-decoder-configuration-record.bin', flvConfig.payload.subarray(5));

  const hevc = firstAuNalus('h265/testsrc2-320x240-bf3-2s.ts');
  const byType = (t: number): Uint8Array => hevc.find((n) => ((n[0]! >> 1) & 0x3f) === t)!;
  put('h265-sps', 'x265-vps.bin', byType(32));
  put('h265-sps', 'x265-sps.bin', byType(33));
  put('h265-sps', 'x265-pps.bin', byType(34));
  put('h265-sps', 'x265-hvcc.bin', buildHevcDecoderConfigurationRecord(byType(32), byType(33), byType(34)));

  const flvAac = flvTags(fixture('flv/h264-aac-320x240-10s.flv')).find((m) => m.kind === 'audio-config')!;
  put('asc', 'flv-aac-lc-44k-stereo.bin', flvAac.payload.subarray(2));
  put('asc', 'ffmpeg-rtp-48k-stereo-sync-ext.bin', Buffer.from('119056E500', 'hex'));
  put('asc', 'gst-rtp-44k-mono-sync-ext.bin', Buffer.from('120856e500', 'hex'));
  put('asc', 'ffmpeg-latm-48k-stereo.bin', Buffer.from('1190', 'hex'));
}

/** Run a peer without blocking the event loop (the capture proxy lives in this process). */
function runPeer(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ----- RTMP (captured) -------------------------------------------------------------------------------------------

async function captureRtmp(): Promise<void> {
  const { RtmpServer } = await import('../../core/output/rtmp-server.ts');
  const { fakeHub } = await import('../helpers/fake-hub.ts');
  const hub = fakeHub();
  const server = new RtmpServer({ hub, listen: [{ host: '127.0.0.1', port: 0 }], maxConnections: 20, log: pino({ level: 'silent' }) });
  await server.start();
  const upstream = server.ports[0] as number;
  const recorded: Buffer[][] = [];
  const proxy = createServer((client: Socket) => {
    const chunks: Buffer[] = [];
    recorded.push(chunks);
    const up = connect(upstream, '127.0.0.1');
    client.on('data', (d) => { chunks.push(Buffer.from(d)); up.write(d); });
    up.on('data', (d) => client.write(d));
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as AddressInfo).port;
  const flv = join(FIXTURES, 'flv/h264-aac-320x240-10s.flv');
  const publisher = runPeer('ffmpeg', ['-nostdin', '-v', 'error', '-re', '-i', flv, '-t', '3', '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/seed`], 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  await runPeer('ffmpeg', ['-nostdin', '-v', 'error', '-i', `rtmp://127.0.0.1:${port}/live/seed`, '-t', '0.5', '-f', 'null', '-'], 20_000);
  await publisher;
  await runPeer('gst-launch-1.0', ['-q', '-e', 'videotestsrc', 'is-live=true', 'num-buffers=20', '!', 'video/x-raw,width=160,height=120,framerate=25/1', '!', 'x264enc', 'tune=zerolatency', 'key-int-max=10', '!', 'h264parse', '!', 'queue', '!', 'm.', 'audiotestsrc', 'is-live=true', 'num-buffers=30', '!', 'audioconvert', '!', 'avenc_aac', '!', 'aacparse', '!', 'queue', '!', 'm.', 'flvmux', 'name=m', 'streamable=true', '!', 'rtmp2sink', `location=rtmp://127.0.0.1:${port}/live/gstseed`], 30_000);
  proxy.close();
  await server.close();
  const names = ['ffmpeg-publish', 'ffmpeg-play', 'gst-publish'];
  if (recorded.length !== 3) throw new Error(`expected 3 RTMP connections, captured ${recorded.length}`);
  recorded.forEach((chunks, i) => {
    const all = Buffer.concat(chunks);
    const name = names[i] as string;
    put('rtmp-handshake', `${name}-c0c1c2.bin`, all.subarray(0, 1 + 2 * RTMP_HANDSHAKE_SIZE));
    const stream = all.subarray(1 + 2 * RTMP_HANDSHAKE_SIZE);
    put('rtmp-chunk', `${name}.bin`, stream.subarray(0, Math.min(stream.length, 12 * 1024)));
    if (i === 1) return;
    let n = 0;
    const seen = new Set<string>();
    const reader = new ChunkReader({
      onMessage(msg) {
        if ((msg.typeId !== RtmpTypeId.CommandAmf0 && msg.typeId !== RtmpTypeId.DataAmf0) || n >= 8) return;
        if (seen.has(msg.payload.toString('hex'))) return;
        seen.add(msg.payload.toString('hex'));
        const first = decodeAmf0(msg.payload)[0];
        put('amf0', `${name}-${n++}-${String(first).replace(/[^A-Za-z@]/g, '')}.bin`, msg.payload);
      },
    });
    try {
      reader.push(stream);
    } catch {
      // the capture may end inside a message
    }
  });
}

const rtmp = process.argv.includes('--rtmp');
const derived = ['ts', 'ts-udp', 'pes', 'flv', 'rtsp-request', 'sdp', 'rtp', 'rtp-h264', 'rtp-h265', 'rtp-mpeg4-generic', 'rtp-mp4a-latm', 'rtp-g711', 'h264-sps', 'h265-sps', 'asc', 'latm'];
for (const dir of rtmp ? [...derived, 'amf0', 'rtmp-handshake', 'rtmp-chunk'] : derived) rmSync(join(SEED_ROOT, dir), { recursive: true, force: true });
tsSeeds();
flvSeeds();
rtspSeeds();
rtpSeeds();
codecSeeds();
if (rtmp) await captureRtmp();
