/**
 * HTTP live fan-out, JavaScript side only: one publisher, N HTTP players (HttpLiveStream over a null connection: a
 * node:stream Writable whose writes complete at once, so no syscall is counted), through the real hub, written at
 * once (min_latency; two messages per event-loop turn). Prints ns per message per player and write calls per
 * message per player for HTTP-FLV (chunked), WebSocket-FLV and HTTP-TS; after a warm-up round, ROUNDS (default 5)
 * interleaved rounds, the last printed in full, then the minimum and median per case. The kernel's share (writev on a real socket) comes on top: see
 * http-ts-fanout.bench.ts and /work/shared/bench for whole-server figures.
 * Run: npx tsx test/bench/http-live-fanout.bench.ts [players=1000] [seconds of media=10]
 */
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { SourceHub } from '../../core/hub/source-hub.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';
import { createHttpLiveStream, type HttpLiveBody, type HttpLiveFormat } from '../../core/output/http-stream.ts';

const PLAYERS = Number(process.argv[2] ?? 1000);
const MEDIA_SECONDS = Number(process.argv[3] ?? 10);
const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'bench' };

/** A connection whose writes complete at once; counts bytes and write calls. */
class NullConnection extends Writable {
  bytes = 0;
  writes = 0;
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.bytes += chunk.length;
    this.writes++;
    cb();
  }
  override _writev(chunks: { chunk: Buffer }[], cb: () => void): void {
    for (const c of chunks) this.bytes += c.chunk.length;
    this.writes++;
    cb();
  }
}

function msg(type: MessageType, ts: number, head: number[], size: number): RtmpMessage {
  const payload = Buffer.alloc(size, 0x11);
  payload.set(head);
  const m = createMessage(type, ts, payload);
  if (m === undefined) throw new Error('empty');
  return m;
}

/** A 2.15 Mbit/s-like stream: AVC config, AAC config, 25 fps video (2 s GOP), AAC every 23 ms. */
function makeStream(seconds: number): RtmpMessage[] {
  const out: RtmpMessage[] = [
    msg(MessageType.Video, 0, [0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1f, 0x01, 0x00, 0x04, 0x68, 0xee, 0x3c, 0x80], 24),
    msg(MessageType.Audio, 0, [0xaf, 0x00, 0x12, 0x10], 4),
  ];
  let v = 0;
  let a = 0;
  while (v * 40 < seconds * 1000) {
    if (a * 23 <= v * 40) {
      out.push(msg(MessageType.Audio, a * 23, [0xaf, 0x01], 380));
      a++;
    } else {
      const key = v % 50 === 0;
      const size = key ? 60_000 : 9_000;
      const body = [key ? 0x17 : 0x27, 0x01, 0, 0, 0, ...[0, 0, 0, 0].map((_, i) => ((size - 9) >> (24 - 8 * i)) & 0xff), key ? 0x65 : 0x41];
      out.push(msg(MessageType.Video, v * 40, body, size));
      v++;
    }
  }
  return out;
}

/** @returns ns per message per player. */
async function run(format: HttpLiveFormat, transport: 'http' | 'websocket', mwLatencyMs: number, print: boolean): Promise<number> {
  const hub = new SourceHub({ log: pino({ level: 'silent' }), vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'off' }), sourceLingerMs: 0 });
  const pub = hub.publish(KEY, { id: 'pub', protocol: 'bench' });
  const conns: NullConnection[] = [];
  for (let i = 0; i < PLAYERS; i++) {
    const socket = new NullConnection();
    conns.push(socket);
    const body: HttpLiveBody = transport === 'websocket' ? { transport, socket: socket as unknown as import('node:stream').Duplex } : { transport, socket, chunked: true };
    createHttpLiveStream(format, body, { mwLatencyMs }).play(hub, KEY, { id: `p${i}`, protocol: 'bench' });
  }
  const stream = makeStream(MEDIA_SECONDS);
  const t0 = process.hrtime.bigint();
  // deliver as a live publisher would: a few messages per event-loop turn, flushes in between
  for (let i = 0; i < stream.length; i++) {
    pub.write(stream[i] as RtmpMessage);
    if (i % 2 === 1) await tick();
  }
  await new Promise((ok) => setTimeout(ok, mwLatencyMs + 20));
  const ns = Number(process.hrtime.bigint() - t0);
  const writes = conns.reduce((s, c) => s + c.writes, 0);
  const bytes = conns.reduce((s, c) => s + c.bytes, 0);
  if (print) console.log(`${format.padEnd(3)} ${transport.padEnd(9)} mw_latency ${String(mwLatencyMs).padStart(3)}: ${(ns / stream.length / PLAYERS).toFixed(0).padStart(5)} ns/message/player, `
    + `${(writes / stream.length / PLAYERS).toFixed(2)} write calls/message/player, ${(bytes / PLAYERS / 1e6).toFixed(1)} MB/player (${stream.length} messages × ${PLAYERS} players)`);
  hub.close();
  return ns / stream.length / PLAYERS;
}

const CASES = [['flv', 'http'], ['flv', 'websocket'], ['ts', 'http']] as const;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const results = CASES.map(() => [] as number[]);
for (const [format, transport] of CASES) await run(format, transport, 0, false); // JIT warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, [format, transport]] of CASES.entries()) results[i]?.push(await run(format, transport, 0, r === ROUNDS - 1));
}
// the machine is shared: the minimum over the rounds is the figure least disturbed by other processes
for (const [i, [format, transport]] of CASES.entries()) {
  const v = [...(results[i] ?? [])].sort((a, b) => a - b);
  console.log(`${format} ${transport}: min ${(v[0] ?? 0).toFixed(0)} ns, median ${(v[Math.floor(v.length / 2)] ?? 0).toFixed(0)} ns per message per player over ${ROUNDS} rounds`);
}
