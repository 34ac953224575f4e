/**
 * HTTP live streams (core/output/http-stream.ts) on a fake connection: the exact body bytes of each format (FLV,
 * TS, MP3, AAC), chunk framing, backpressure against a connection whose writes report "full", and the end of the
 * body on unpublish / hub close / client close. The fake connection is a real node:stream Writable whose
 * `_write` can be held, so `write()` returns false and 'drain' fires exactly as on a socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumerOptions, HubPort } from '../../../core/hub/ports.ts';
import { SourceHub } from '../../../core/hub/source-hub.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../core/media/message.ts';
import { parsePat, parsePmt, StreamType } from '../../../core/protocol/mpegts/psi.ts';
import { flvTag } from '../../../core/protocol/flv/flv-muxer.ts';
import {
  createHttpLiveStream, HTTP_STREAM_HIGH_WATER_BYTES, type HttpLiveFormat, type HttpLiveStream,
} from '../../../core/output/http-stream.ts';
import { fakeHub } from '../../helpers/fake-hub.ts';
import { ADTS_VECTORS, MP3_VECTORS, hex } from '../../helpers/vectors.ts';
import { aac, audioConfig, interframe, keyframe, metadata, silentLog, videoConfig } from '../hub/hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };
const PUB = { id: 'rtmp-1', protocol: 'rtmp' };

/** A connection whose writes can be held (`blocked`): `write()` then returns false past highWaterMark. */
class FakeConnection extends Writable {
  readonly chunks: Buffer[] = [];
  blocked = false;
  #held: (() => void)[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    if (this.blocked) this.#held.push(callback);
    else callback();
  }

  /** Complete the held writes: the Writable then empties its buffer and emits 'drain'. */
  release(): void {
    this.blocked = false;
    const held = this.#held;
    this.#held = [];
    for (const cb of held) cb();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

interface Player {
  readonly conn: FakeConnection;
  readonly live: HttpLiveStream;
  /** Reasons given to onStop. */
  readonly stops: string[];
}

function play(format: HttpLiveFormat, hub: HubPort, opts: { chunked?: boolean; mwLatencyMs?: number; cached?: RtmpMessage[]; consumer?: ConsumerOptions } = {}): Player {
  const conn = new FakeConnection();
  const stops: string[] = [];
  const live = createHttpLiveStream(format, { transport: 'http', socket: conn, chunked: opts.chunked ?? false }, {
    mwLatencyMs: opts.mwLatencyMs ?? 0,
    onStop: (reason) => stops.push(reason),
  });
  live.play(hub, KEY, { id: `http-${format}-1`, protocol: `http-${format}` }, opts.consumer ?? {}, opts.cached);
  return { conn, live, stops };
}

/** mw_latency 0: what was sent in this tick is written at the end of it. */
const flushed = (): Promise<void> => tick();

function must(m: RtmpMessage | undefined): RtmpMessage {
  assert.ok(m !== undefined);
  return m;
}

interface FlvTag {
  readonly tagType: number;
  readonly timestamp: number;
  readonly body: Buffer;
}

/** Parse an FLV body by hand (FLV spec v10.1 E.2/E.3/E.4.1), asserting every size field on the way. */
function parseFlv(bytes: Buffer): { typeFlags: number; tags: FlvTag[] } {
  assert.equal(bytes.subarray(0, 3).toString('latin1'), 'FLV', 'Signature');
  assert.equal(bytes[3], 1, 'Version');
  assert.equal(bytes.readUInt32BE(5), 9, 'DataOffset');
  assert.equal(bytes.readUInt32BE(9), 0, 'PreviousTagSize0');
  const tags: FlvTag[] = [];
  let i = 13;
  while (i < bytes.length) {
    assert.ok(i + 11 <= bytes.length, `tag header at ${i} is complete`);
    const dataSize = bytes.readUIntBE(i + 1, 3);
    const timestamp = (bytes.readUIntBE(i + 4, 3) | (bytes[i + 7] << 24)) >>> 0;
    assert.equal(bytes.readUIntBE(i + 8, 3), 0, 'StreamID');
    const end = i + 11 + dataSize;
    assert.ok(end + 4 <= bytes.length, `tag at ${i} is complete`);
    assert.equal(bytes.readUInt32BE(end), 11 + dataSize, `PreviousTagSize of the tag at ${i}`);
    tags.push({ tagType: bytes[i], timestamp, body: bytes.subarray(i + 11, end) });
    i = end + 4;
  }
  return { typeFlags: bytes[4], tags };
}

/** Undo HTTP/1.1 chunked framing (RFC 9112 §7.1); returns the data of each chunk and whether the last-chunk came. */
function parseChunks(bytes: Buffer): { chunks: Buffer[]; ended: boolean } {
  const chunks: Buffer[] = [];
  let i = 0;
  while (i < bytes.length) {
    const eol = bytes.indexOf('\r\n', i, 'latin1');
    assert.ok(eol > i, `chunk-size line at ${i}`);
    const size = Number.parseInt(bytes.subarray(i, eol).toString('latin1'), 16);
    if (size === 0) {
      assert.equal(bytes.subarray(eol, eol + 4).toString('latin1'), '\r\n\r\n', 'last-chunk then the empty trailer');
      assert.equal(eol + 4, bytes.length, 'nothing after the last chunk');
      return { chunks, ended: true };
    }
    const data = bytes.subarray(eol + 2, eol + 2 + size);
    assert.equal(data.length, size, 'chunk data complete');
    assert.equal(bytes.subarray(eol + 2 + size, eol + 4 + size).toString('latin1'), '\r\n', 'CRLF after chunk data');
    chunks.push(data);
    i = eol + 4 + size;
  }
  return { chunks, ended: false };
}

test('HTTP-FLV: header TypeFlags describe the stream (held configs + first media decide)', async () => {
  const cases: [string, RtmpMessage[], number][] = [
    ['video + audio configs', [metadata(0), videoConfig(0), audioConfig(0), keyframe(0)], 0x05],
    ['audio only (AAC)', [audioConfig(0), aac(0)], 0x04],
    ['video only', [videoConfig(0), keyframe(0)], 0x01],
    ['no config, first media is audio', [aac(0)], 0x04],
    ['metadata, then a keyframe without config', [metadata(0), keyframe(0)], 0x01],
    ['configs of both, first media video', [videoConfig(0), audioConfig(0), interframe(0)], 0x05],
  ];
  for (const [label, msgs, flags] of cases) {
    const hub = fakeHub();
    const p = play('flv', hub);
    const pub = hub.publish(KEY, PUB);
    for (const m of msgs) pub.write(m);
    await flushed();
    const flv = parseFlv(p.conn.bytes);
    assert.equal(flv.typeFlags, flags, label);
    assert.equal(flv.tags.length, msgs.length, `${label}: every message became a tag`);
  }
});

test('HTTP-FLV: one tag per message, DataSize/Timestamp/TimestampExtended/PreviousTagSize exact; tags shared by players', async () => {
  const hub = fakeHub();
  const pub = hub.publish(KEY, PUB);
  pub.write(metadata(0));
  pub.write(videoConfig(0));
  pub.write(audioConfig(0));
  const a = play('flv', hub);
  const b = play('flv', hub);
  assert.equal(a.conn.bytes.length, 0, 'configs are held until the first media message');
  const media = [keyframe(0, 300), aac(23, 40), interframe(40), keyframe(16_777_300, 50)]; // last: > UI24 ms
  for (const m of media) pub.write(m);
  await flushed();
  const { typeFlags, tags } = parseFlv(a.conn.bytes);
  assert.equal(typeFlags, 0x05);
  const expected = [metadata(0), videoConfig(0), audioConfig(0), ...media];
  assert.deepEqual(tags.map((t) => t.tagType), [18, 9, 8, 9, 8, 9, 9]);
  assert.deepEqual(tags.map((t) => t.timestamp), [0, 0, 0, 0, 23, 40, 16_777_300]);
  for (let i = 0; i < tags.length; i++) assert.deepEqual(tags[i].body, expected[i].payload, `tag ${i} body is the message payload`);
  const last = a.conn.bytes.subarray(a.conn.bytes.length - (11 + media[3].payload.length + 4));
  assert.deepEqual([...last.subarray(4, 8)], [0x00, 0x00, 0x54, 0x01], 'Timestamp 0x000054 + TimestampExtended 0x01');
  assert.deepEqual(b.conn.bytes, a.conn.bytes, 'every player gets the same bytes');
  const kfTag = media[0].cache.flvTag;
  assert.ok(kfTag !== undefined && a.conn.chunks.includes(kfTag) && b.conn.chunks.includes(kfTag), 'the cached tag Buffer itself is written: no copy per player');
  assert.equal(a.live.bytesSent, a.conn.bytes.length);
});

test('HTTP-FLV chunked: one HTTP chunk per FLV header/tag, written together after mw_latency; the zero chunk when the stream is unpublished', async () => {
  const hub = fakeHub();
  const p = play('flv', hub, { chunked: true, mwLatencyMs: 300 });
  const pub = hub.publish(KEY, PUB);
  for (const m of [videoConfig(0), keyframe(0), interframe(40), interframe(80)]) pub.write(m);
  await sleep(20);
  assert.equal(p.conn.bytes.length, 0, 'held for mw_latency');
  await sleep(400);
  const merged = parseChunks(p.conn.bytes);
  assert.equal(merged.chunks.length, 5, 'the FLV header, then one chunk per tag');
  assert.deepEqual(merged.chunks.slice(1), [videoConfig(0), keyframe(0), interframe(40), interframe(80)].map((m) => flvTag(m)), 'each chunk is the shared tag');
  assert.equal(parseFlv(Buffer.concat(merged.chunks)).tags.length, 4);
  assert.equal(merged.ended, false);
  pub.write(interframe(120));
  pub.close('eof');
  await flushed();
  const done = parseChunks(p.conn.bytes);
  assert.equal(done.ended, true, 'the body ends with the last-chunk');
  assert.equal(parseFlv(Buffer.concat(done.chunks)).tags.length, 5, 'queued media is flushed before the end');
  assert.deepEqual(p.stops, ['stream unpublished']);
  assert.ok(p.conn.writableEnded, 'the connection is ended');
  assert.ok(hub.events.includes(`unsubscribe ${KEY.vhost}/live/cam http-flv-1`), 'left the hub');
  assert.equal(p.live.stopped, true);
});

test('min_latency (mw_latency 0): written at the end of the tick, not later', async () => {
  const hub = fakeHub();
  const p = play('flv', hub, { chunked: true });
  const pub = hub.publish(KEY, PUB);
  pub.write(keyframe(0));
  assert.equal(p.conn.bytes.length, 0, 'not inside the hub fan-out');
  await flushed();
  assert.equal(parseChunks(p.conn.bytes).chunks.length, 2, 'FLV header + keyframe tag');
  pub.write(interframe(40));
  await flushed();
  assert.equal(parseChunks(p.conn.bytes).chunks.length, 3);
});

test('the hub detaching the player, the client closing, and stop() each end it once', async () => {
  const hub = fakeHub();
  const pub = hub.publish(KEY, PUB);
  const byHub = play('flv', hub, { chunked: true });
  const byClient = play('ts', hub, { chunked: true });
  const byOwner = play('aac', hub, { chunked: true });
  pub.write(audioConfig(0));
  pub.write(aac(0));
  await flushed();
  byClient.conn.destroy();
  byOwner.live.stop('server closing');
  byOwner.live.stop('again');
  await flushed();
  hub.closeAll('gateway stopping');
  await flushed();
  assert.deepEqual(byHub.stops, ['gateway stopping']);
  assert.equal(parseChunks(byHub.conn.bytes).ended, true);
  assert.deepEqual(byClient.stops, ['client closed']);
  assert.deepEqual(byOwner.stops, ['server closing']);
  assert.equal(parseChunks(byOwner.conn.bytes).ended, true);
  assert.ok(hub.events.includes(`unsubscribe ${KEY.vhost}/live/cam http-ts-1`), 'a closed client leaves the hub');
  const before = byOwner.conn.bytes.length;
  assert.equal(byOwner.live.send(aac(46)), true, 'a stopped player takes messages and writes nothing');
  await flushed();
  assert.equal(byOwner.conn.bytes.length, before);
});

test('backpressure: a connection whose writes report full bounds what is buffered; the hub queue drops GOPs; drain resumes', async () => {
  const hub = new SourceHub({ log: silentLog, vhost: () => ({ gopCache: true, queueLengthMs: 2000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const pub = hub.publish(KEY, PUB);
  pub.write(metadata(0));
  pub.write(videoConfig(0));
  pub.write(audioConfig(0));
  const p = play('flv', hub);
  p.conn.blocked = true;
  let ts = 0;
  let maxBuffered = 0;
  for (let second = 0; second < 10; second++) {
    for (let f = 0; f < 25; f++, ts += 40) {
      pub.write(f === 0 ? keyframe(ts, 100_000) : interframe(ts, 20_000));
      pub.write(aac(ts, 300));
    }
    await flushed();
    maxBuffered = Math.max(maxBuffered, p.conn.writableLength);
  }
  assert.equal(p.conn.writableNeedDrain, true, "the connection's write() returned false");
  const keyframeTag = 11 + 5 + 4 + 100_000 + 4;
  assert.ok(maxBuffered < HTTP_STREAM_HIGH_WATER_BYTES + keyframeTag, `buffered ${maxBuffered} B: stopped writing past the high-water mark (of ~5.8 MB published)`);
  assert.ok(p.live.droppedMessages > 0, 'the hub queue (queue_length 2 s) dropped instead of growing');
  const sentWhileBlocked = p.live.bytesSent;
  p.conn.release();
  for (let i = 0; i < 20; i++) await flushed();
  assert.ok(p.live.bytesSent > sentWhileBlocked, "'drain' resumed the hub's queue (nothing new was published)");
  const live = [keyframe(ts, 1000), interframe(ts + 40), aac(ts + 40)];
  for (const m of live) pub.write(m);
  await flushed();
  const tags = parseFlv(p.conn.bytes).tags;
  assert.deepEqual(tags.slice(-3).map((t) => t.body), live.map((m) => m.payload), 'the player flows live again');
  // After the drop the player restarts cleanly: metadata and sequence headers again, then a keyframe.
  const resent = tags.findIndex((t, i) => i > 2 && t.tagType === 9 && t.body[1] === 0);
  assert.ok(resent > 2, 'sequence header sent again after the drop');
  const next = tags.slice(resent - 1, resent + 3).map((t) => `${t.tagType}:${t.body[0].toString(16)}:${t.body[1]}`);
  assert.deepEqual(next, ['18:2:0', '9:17:0', '8:af:0', '9:17:1'], 'metadata, video-config, audio-config, keyframe');
  hub.close();
});

test('HTTP-TS: starts with PAT then PMT (H.264 + AAC), tables again before every keyframe, PES carry Annex B and ADTS', async () => {
  const hub = fakeHub();
  const pub = hub.publish(KEY, PUB);
  for (const m of [metadata(0), videoConfig(0), audioConfig(0), keyframe(0, 30), aac(0, 10)]) pub.write(m);
  const p = play('ts', hub);
  for (const m of [interframe(40), aac(23, 10), keyframe(80, 30)]) pub.write(m);
  await flushed();
  const packets = tsPackets(p.conn.bytes);
  const pat = parsePat(packets[0].payload.subarray(1 + packets[0].payload[0])); // pointer_field, then the section (CRC checked)
  assert.equal(packets[0].pid, 0, 'first packet: PAT');
  const pmtPid = pat.programs.find((pr) => pr.programNumber !== 0)?.pmtPid;
  assert.equal(packets[1].pid, pmtPid, 'second packet: PMT');
  const pmt = parsePmt(packets[1].payload.subarray(1 + packets[1].payload[0]));
  assert.deepEqual(pmt.streams.map((s) => s.streamType), [StreamType.H264, StreamType.AdtsAac]);
  const [videoPid, audioPid] = pmt.streams.map((s) => s.elementaryPid);
  const starts = packets.filter((k) => k.pusi).map((k) => (k.pid === 0 ? 'PAT' : k.pid === pmtPid ? 'PMT' : k.pid === videoPid ? 'V' : k.pid === audioPid ? 'A' : '?'));
  // Tables at the start of the program (the first keyframe's), then the GOP replay (kf@0, aac@0), live (inter@40,
  // aac@23), tables before kf@80.
  assert.deepEqual(starts, ['PAT', 'PMT', 'V', 'A', 'V', 'A', 'PAT', 'PMT', 'V']);
  const firstVideo = packets.find((k) => k.pid === videoPid && k.pusi)?.payload;
  assert.ok(firstVideo !== undefined);
  assert.deepEqual([...firstVideo.subarray(0, 4)], [0x00, 0x00, 0x01, 0xe0], 'PES start code, stream_id video');
  const es = firstVideo.subarray(9 + firstVideo[8]);
  const sps = hex('000000016764001f');
  const pps = hex('0000000168ee3c80');
  assert.ok(es.includes(sps) && es.includes(pps) && es.includes(hex('0000000165')), 'keyframe PES: SPS, PPS and the IDR NALU, start-coded');
  const firstAudio = packets.find((k) => k.pid === audioPid && k.pusi)?.payload;
  assert.ok(firstAudio !== undefined);
  const adts = firstAudio.subarray(9 + firstAudio[8]);
  assert.deepEqual(adts.subarray(0, 7), hex('fff15080023ffc'), 'ADTS: LC, 44.1 kHz, stereo, frame_length 17 (7 + 10)');
  assertContinuous(packets);
});

interface TsPacket { readonly pid: number; readonly pusi: boolean; readonly cc: number; readonly payload: Buffer }

/** Split a TS body into packets (sync byte checked): PID, payload_unit_start_indicator, continuity_counter, payload. */
function tsPackets(bytes: Buffer): TsPacket[] {
  assert.equal(bytes.length % 188, 0, 'whole 188-byte packets');
  const packets: TsPacket[] = [];
  for (let i = 0; i < bytes.length; i += 188) {
    const pkt = bytes.subarray(i, i + 188);
    assert.equal(pkt[0], 0x47, `sync_byte of packet ${i / 188}`);
    const afc = (pkt[3] >> 4) & 0x03;
    const start = afc === 0x03 ? 5 + pkt[4] : 4;
    packets.push({ pid: ((pkt[1] & 0x1f) << 8) | pkt[2], pusi: (pkt[1] & 0x40) !== 0, cc: pkt[3] & 0x0f, payload: pkt.subarray(start) });
  }
  return packets;
}

/** continuity_counter (ISO/IEC 13818-1 2.4.3.3) rises by one per packet of each PID. */
function assertContinuous(packets: readonly TsPacket[]): void {
  const ccs = new Map<number, number>();
  for (const k of packets) {
    const prev = ccs.get(k.pid);
    if (prev !== undefined) assert.equal(k.cc, (prev + 1) & 0x0f, `continuity_counter of PID ${k.pid}`);
    ccs.set(k.pid, k.cc);
  }
}

test('HTTP-TS is serialized once per stream: players write the same Buffers; a late joiner starts at the GOP keyframe with PAT/PMT, counters continuous', async () => {
  const hub = fakeHub();
  const pub = hub.publish(KEY, PUB);
  for (const m of [metadata(0), videoConfig(0), audioConfig(0), keyframe(0, 30), aac(0, 10)]) pub.write(m);
  const first = play('ts', hub);
  for (const m of [interframe(40), aac(23, 10)]) pub.write(m);
  const late = play('ts', hub); // GOP replay: kf@0, aac@0, inter@40, aac@23
  for (const m of [interframe(80), keyframe(120, 30), aac(46, 10)]) pub.write(m);
  await flushed();
  assert.deepEqual(late.conn.bytes, first.conn.bytes, 'the same TS body');
  const shared = new Set(first.conn.chunks);
  // One serialization: late writes first's very Buffers, or, where its flush queued the same list as first's, one
  // write of their join (merged-write.ts JoinCache: joined once for every player after the first). A Buffer that
  // is neither (a serialization of its own) fails.
  const firstChunks = first.conn.chunks;
  const isJoinOfShared = (c: Buffer): boolean => firstChunks.some((_, i) => {
    let o = 0;
    let k = i;
    while (k < firstChunks.length && o < c.length && c.subarray(o, o + (firstChunks[k] as Buffer).length).equals(firstChunks[k] as Buffer)) o += (firstChunks[k++] as Buffer).length;
    return o === c.length && k - i >= 2;
  });
  assert.ok(first.conn.chunks.length >= 7 && late.conn.chunks.length > 0, 'both wrote');
  assert.ok(late.conn.chunks.every((c) => shared.has(c) || isJoinOfShared(c)), 'the very same Buffer objects or a join of them (one serialization)');
  const packets = tsPackets(late.conn.bytes);
  assert.equal(packets[0]?.pid, 0, 'PAT first');
  assertContinuous(packets);
  first.live.stop('test');
  late.live.stop('test');
  // the fan-out left with its last player: a new player gets a new serialization of the GOP
  const again = play('ts', hub);
  await flushed();
  assert.ok(again.conn.chunks.length > 0 && !again.conn.chunks.some((c) => shared.has(c)), 'serialized again');
  const subscribes = hub.events.filter((e) => e.startsWith('subscribe'));
  assert.equal(subscribes.length, 5, 'three players');
  assert.equal(subscribes.filter((e) => e.includes(' http-ts-mux-')).length, 2, 'one fan-out while players play, a new one after');
});

test('HTTP-TS audio-only: a joiner between table repetitions gets the last PAT/PMT before its first audio', async () => {
  const hub = fakeHub();
  const pub = hub.publish(KEY, PUB);
  pub.write(audioConfig(0));
  const first = play('ts', hub);
  for (let i = 0; i < 5; i++) pub.write(aac(i * 23, 10));
  const late = play('ts', hub);
  pub.write(aac(115, 10));
  await flushed();
  const firstPackets = tsPackets(first.conn.bytes);
  const latePackets = tsPackets(late.conn.bytes);
  assert.deepEqual(firstPackets.slice(0, 2).map((k) => k.pid), [0, 0x1000], 'PAT, PMT');
  assert.deepEqual(latePackets.map((k) => k.pid), [0, 0x1000, 0x101], 'PAT, PMT, then the live audio');
  assert.deepEqual(late.conn.bytes.subarray(0, 376), first.conn.bytes.subarray(0, 376), 'the same table packets (same counters)');
});

/** AAC raw frame of `size` bytes whose first byte is `tag`. */
function aacFrame(ts: number, size: number, tag: number): RtmpMessage {
  const body = Buffer.alloc(2 + size, 0x21);
  body[0] = 0xaf; // SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo
  body[1] = 0x01; // AACPacketType 1: raw
  body[2] = tag;
  return must(createMessage(MessageType.Audio, ts, body));
}

test('HTTP-AAC: one ADTS frame per raw AAC message (header as ffmpeg writes it), video and metadata dropped', async () => {
  const hub = fakeHub();
  const p = play('aac', hub);
  const pub = hub.publish(KEY, PUB);
  const v = ADTS_VECTORS[0]; // AAC-LC 44.1 kHz stereo, frame_length 345: the ASC 0x12 0x10 of audioConfig()
  const frames = [aacFrame(0, v.frameLength - 7, 1), aacFrame(23, v.frameLength - 7, 2)];
  pub.write(metadata(0));
  pub.write(videoConfig(0));
  pub.write(aacFrame(0, 50, 9)); // before the AudioSpecificConfig: no ADTS header can be written, skipped
  pub.write(audioConfig(0));
  pub.write(keyframe(0));
  for (const f of frames) pub.write(f);
  await flushed();
  const expected = Buffer.concat(frames.flatMap((f) => [hex(v.header), f.payload.subarray(2)]));
  assert.deepEqual(p.conn.bytes, expected);
});

test('HTTP-MP3: the MP3 frames themselves (AUDIODATA header byte stripped); an AAC stream on .mp3 ends the response', async () => {
  const hub = fakeHub();
  const p = play('mp3', hub, { chunked: true });
  const pub = hub.publish(KEY, PUB);
  const v = MP3_VECTORS[0]; // MPEG-1 Layer III 44.1 kHz stereo 128k: 417-byte frames
  const frame = (ts: number, fill: number): RtmpMessage => {
    const body = Buffer.alloc(1 + v.frameLength, fill);
    body[0] = 0x2f; // SoundFormat 2 (MP3), 44 kHz, 16-bit, stereo
    hex(v.header).copy(body, 1);
    return must(createMessage(MessageType.Audio, ts, body));
  };
  const frames = [frame(0, 0x11), frame(26, 0x22)];
  for (const f of frames) pub.write(f);
  pub.write(keyframe(0));
  await flushed();
  assert.deepEqual(Buffer.concat(parseChunks(p.conn.bytes).chunks), Buffer.concat(frames.map((f) => f.payload.subarray(1))));

  const wrong = play('mp3', hub, { chunked: true });
  pub.write(aac(52));
  await flushed();
  assert.equal(wrong.stops.length, 1);
  assert.match(wrong.stops[0], /SoundFormat 10\) cannot be served as \.mp3/);
  const ended = parseChunks(wrong.conn.bytes);
  assert.equal(ended.ended, true);
  assert.equal(Buffer.concat(ended.chunks).length, 0, 'nothing of the AAC stream was written');
});

test('fast cache: the cached audio goes first, the GOP replay of the same audio is skipped, live audio follows once', async () => {
  const hub = fakeHub();
  const pub = hub.publish(KEY, PUB);
  const asc = audioConfig(0);
  const a0 = aacFrame(0, 20, 0xa0);
  const a23 = aacFrame(23, 20, 0xa1);
  for (const m of [videoConfig(0), asc, keyframe(0), a0, a23]) pub.write(m); // the hub's GOP cache holds a0, a23
  const p = play('aac', hub, { cached: [asc, a0, a23] });
  const a46 = aacFrame(46, 20, 0xa2);
  pub.write(a46);
  await flushed();
  const adts = hex('fff15080037ffc'); // LC, 44.1 kHz, stereo, frame_length 27 (7 + 20)
  assert.deepEqual(p.conn.bytes, Buffer.concat([a0, a23, a46].flatMap((m) => [adts, m.payload.subarray(2)])));

  const flv = play('flv', hub, { cached: [asc, a0, a23] });
  pub.write(aacFrame(69, 20, 0xa3));
  await flushed();
  const tags = parseFlv(flv.conn.bytes).tags;
  assert.deepEqual(tags.map((t) => t.timestamp), [0, 0, 0, 0, 23, 46, 69], '.flv ignores the fast cache: vc, asc, kf, a0, a23, a46 from the hub, then a69');
});
