/**
 * RTMP chunk writer / reader benchmark (1 MB = 10^6 bytes, one core):
 * - chunking: encodeChunks throughput in MB/s of payload at chunk sizes 128, 4096 and 60000 on a 25 fps,
 *   ~1.5 Mbit/s H.264 + AAC message mix (keyframe 60 kB, P-frames 6 kB, audio 300 B);
 * - fan-out: cost per player per message of mediaChunks when the chunks are already cached on the message
 *   (what players 2..N pay) and of one full serialization (what the first player pays), for 1000 players;
 * - reading: ChunkReader throughput in MB/s of wire bytes, in 64 KiB pushes.
 * Run: npx tsx test/bench/chunk-writer.bench.ts
 */
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';
import { encodeChunks, mediaChunks } from '../../core/protocol/rtmp/chunk-writer.ts';
import { ChunkReader } from '../../core/protocol/rtmp/chunk-reader.ts';

const STREAM_MESSAGES = 2000;
const PLAYERS = 1000;
const RUNS = 5;

function makeStream(count: number): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  let v = 0;
  let a = 0;
  while (out.length < count) {
    let payload: Buffer;
    let type: MessageType;
    let ts: number;
    if (a * 23 <= v * 40) {
      type = MessageType.Audio;
      payload = Buffer.alloc(300, 1);
      payload[0] = 0xaf;
      ts = a++ * 23;
    } else {
      type = MessageType.Video;
      const key = v % 50 === 0;
      payload = Buffer.alloc(key ? 60_000 : 6_000, 2);
      payload[0] = key ? 0x17 : 0x27;
      payload[1] = 1;
      ts = v++ * 40;
    }
    out.push(createMessage(type, ts, payload) as RtmpMessage);
  }
  return out;
}

function best(fn: () => number): number {
  let min = Infinity;
  for (let i = 0; i < RUNS; i++) min = Math.min(min, fn());
  return min;
}

const stream = makeStream(STREAM_MESSAGES);
const payloadBytes = stream.reduce((n, m) => n + m.payload.length, 0);

for (const chunkSize of [128, 4096, 60_000]) {
  const ms = best(() => {
    const t0 = process.hrtime.bigint();
    for (const m of stream) encodeChunks({ chunkStreamId: m.type === MessageType.Audio ? 4 : 6, messageStreamId: 1, typeId: m.type, timestampMs: m.timestamp }, m.payload, chunkSize);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  });
  console.log(`chunking  chunk size ${String(chunkSize).padStart(5)}: ${((payloadBytes / 1e6) / (ms / 1000)).toFixed(0).padStart(6)} MB/s of payload`);
}

{
  // First player: one serialization per message (fresh messages so the cache is cold).
  const fresh = makeStream(STREAM_MESSAGES);
  const t0 = process.hrtime.bigint();
  for (const m of fresh) mediaChunks(m, 60_000, 1, m.type === MessageType.Audio ? 4 : 6);
  const firstNs = Number(process.hrtime.bigint() - t0) / fresh.length;
  // Players 2..N: cache hits.
  const hitNs = best(() => {
    const t1 = process.hrtime.bigint();
    let sink = 0;
    for (const m of fresh) {
      const csid = m.type === MessageType.Audio ? 4 : 6;
      for (let p = 1; p < PLAYERS; p++) sink += mediaChunks(m, 60_000, 1, csid).length;
    }
    if (sink === 0) throw new Error('unreachable');
    return Number(process.hrtime.bigint() - t1) / (fresh.length * (PLAYERS - 1));
  });
  console.log(`fan-out   first player: ${firstNs.toFixed(0)} ns/message (serialize); each other player: ${hitNs.toFixed(1)} ns/message (cached)`);
  const perMessageAllPlayers = firstNs + hitNs * (PLAYERS - 1);
  console.log(`fan-out   ${PLAYERS} players: ${(perMessageAllPlayers / 1000).toFixed(1)} us/message in total (uncached would be ${((firstNs * PLAYERS) / 1000).toFixed(0)} us)`);
}

{
  const wire = Buffer.concat(stream.map((m) => encodeChunks({ chunkStreamId: m.type === MessageType.Audio ? 4 : 6, messageStreamId: 1, typeId: m.type, timestampMs: m.timestamp }, m.payload, 4096)));
  // Set Chunk Size 4096 first.
  const scs = Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]);
  const PUSH = 64 * 1024;
  const ms = best(() => {
    let n = 0;
    const r = new ChunkReader({ onMessage: () => n++ });
    const t0 = process.hrtime.bigint();
    r.push(scs);
    for (let off = 0; off < wire.length; off += PUSH) r.push(wire.subarray(off, off + PUSH));
    if (n !== stream.length) throw new Error(`read ${n} of ${stream.length}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  });
  console.log(`reading   chunk size  4096: ${((wire.length / 1e6) / (ms / 1000)).toFixed(0).padStart(6)} MB/s of wire bytes`);
}
