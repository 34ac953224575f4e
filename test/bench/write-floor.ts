/**
 * The syscall floor of a live fan-out in Node, for the fan-out table (fanout-table.bench.ts, server "floor"): a
 * bare HTTP server that writes a synthetic FLV stream of `--kbps` to every player with ONE socket.write per video
 * frame (`--fps` writes a second) of one shared Buffer — no hub, no queue, no framing, no audio of its own (the
 * audio's bytes ride in the frame). No real server can write a live stream at once with fewer writes, so its CPU
 * is the least `min_latency` can cost on this machine: the rest of the table reads against it.
 *
 * Run (the table bench starts it): node --import tsx test/bench/write-floor.ts --port P [--kbps 2149] [--fps 25]
 * Answers `GET /<anything>` with 200 and a close-delimited body. Stops on SIGTERM.
 */
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, kbps: { type: 'string', default: '2149' }, fps: { type: 'string', default: '25' } },
});
const fps = Number(args.fps);
const frameBytes = Math.round((Number(args.kbps) * 1000) / 8 / fps);
const frameMs = 1000 / fps;
const HEAD = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\nCache-Control: no-cache\r\n\r\n'
  + 'FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1');

/** One FLV video tag (FLV 10.1 E.4.1 + E.4.3.1: keyframe, AVC NALU) of `frameBytes` body bytes at `ts` ms. */
function videoTag(ts: number): Buffer {
  const b = Buffer.alloc(11 + frameBytes + 4);
  b[0] = 9;
  b.writeUIntBE(frameBytes, 1, 3);
  b.writeUIntBE(ts & 0xffffff, 4, 3);
  b[7] = (ts >>> 24) & 0xff;
  b[11] = 0x17;
  b[12] = 1;
  b.writeUInt32BE(11 + frameBytes, 11 + frameBytes);
  return b;
}

const players: Socket[] = [];
const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => undefined);
  socket.once('data', () => {
    socket.write(HEAD);
    players.push(socket);
  });
  socket.on('close', () => {
    const i = players.indexOf(socket);
    if (i >= 0) players.splice(i, 1);
  });
});
server.listen(Number(args.port), '127.0.0.1');

const t0 = performance.now();
let ts = 0;
const timer = setInterval(() => {
  while (ts <= performance.now() - t0) {
    const tag = videoTag(Math.round(ts));
    for (let i = 0; i < players.length; i++) (players[i] as Socket).write(tag);
    ts += frameMs;
  }
}, 2);
process.on('SIGTERM', () => {
  clearInterval(timer);
  for (const s of players) s.destroy();
  server.close(() => process.exit(0));
});
