/**
 * Join time: connect → the first video keyframe complete at the player, for HTTP-FLV and RTMP (issue 13 target:
 * ≤ 5 ms p50 on loopback). The gateway runs in its own process (fanout-gateway.ts; or any server already running,
 * e.g. node-media-server, with --http-url/--rtmp-url), a fixture is published with ffmpeg, and `--joins` players
 * join one after the other (150 ms apart, never aligned with the GOP), each reading until its first keyframe and
 * leaving. `--players N` keeps N HTTP-FLV players on the stream meanwhile (load). Prints p50/p90/max per protocol.
 * Run: npx tsx test/bench/join-fanout.bench.ts [--joins 40] [--players 0] [--fixture F.flv] [--latency min|MS]
 */
import { get } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeAmf0 } from '../../core/protocol/amf0.ts';
import { ChunkReader, RtmpTypeId } from '../../core/protocol/rtmp/chunk-reader.ts';
import { encodeChunks } from '../../core/protocol/rtmp/chunk-writer.ts';
import { RTMP_HANDSHAKE_SIZE } from '../../core/protocol/rtmp/handshake.ts';
import { publishLoop, startGatewayProcess } from './fanout-gateway.ts';

const { values: args } = parseArgs({
  options: {
    joins: { type: 'string', default: '40' },
    players: { type: 'string', default: '0' },
    fixture: { type: 'string', default: fileURLToPath(new URL('../../fixtures/flv/h264-aac-320x240-10s.flv', import.meta.url)) },
    latency: { type: 'string', default: 'min' },
    root: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    /** A server already running (the stream is published here by this bench): its play URLs and publish URL. */
    'http-url': { type: 'string' },
    'rtmp-url': { type: 'string' },
    label: { type: 'string', default: 'castgate' },
  },
});

/** FLV E.4.3.1: FrameType 1 (keyframe), AVCPacketType 1 (NALU): a keyframe, not the sequence header. */
const isKeyframe = (tagBody: Buffer): boolean => tagBody.length > 1 && tagBody[0] !== undefined && (tagBody[0] >> 4) === 1 && tagBody[1] === 1;

/** HTTP-FLV: ms from the request to the first keyframe tag complete. */
function joinHttpFlv(url: string): Promise<number> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    let buf: Buffer = Buffer.alloc(0);
    let off = 13; // FLV header + PreviousTagSize0
    const req = get(url, { agent: false }, (res) => {
      res.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        while (off + 11 <= buf.length) {
          const size = buf.readUIntBE(off + 1, 3);
          if (off + 11 + size + 4 > buf.length) return;
          if (buf[off] === 9 && isKeyframe(buf.subarray(off + 11, off + 11 + size))) {
            ok(performance.now() - t0);
            req.destroy();
            return;
          }
          off += 11 + size + 4;
        }
      });
    });
    req.on('error', fail);
    req.setTimeout(10_000, () => fail(new Error('no keyframe in 10 s')));
  });
}

/** RTMP: ms from the TCP connect call to the first keyframe message complete (simple handshake, connect/createStream/play). */
function joinRtmp(url: string): Promise<number> {
  const u = new URL(url);
  const app = u.pathname.split('/')[1] ?? 'live';
  const stream = u.pathname.split('/').slice(2).join('/');
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const socket = connect({ port: Number(u.port || 1935), host: u.hostname, noDelay: true });
    let skip = 1 + 2 * RTMP_HANDSHAKE_SIZE; // S0 S1 S2
    const reader = new ChunkReader({
      onMessage: (m) => {
        if (m.typeId === RtmpTypeId.Video && isKeyframe(m.payload)) {
          ok(performance.now() - t0);
          socket.destroy();
        }
      },
    });
    const cmd = (values: Parameters<typeof encodeAmf0>[0], msid = 0): Buffer =>
      encodeChunks({ chunkStreamId: 3, messageStreamId: msid, typeId: RtmpTypeId.CommandAmf0, timestampMs: 0 }, encodeAmf0(values), 128);
    socket.on('error', fail);
    socket.on('data', (d: Buffer) => {
      if (skip > 0) {
        const n = Math.min(skip, d.length);
        skip -= n;
        d = d.subarray(n);
        if (skip === 0) {
          // C2 and the commands in one write (a player that waits for no answer, as ffmpeg's does)
          socket.write(Buffer.concat([Buffer.alloc(RTMP_HANDSHAKE_SIZE), cmd(['connect', 1, { app, tcUrl: `rtmp://${u.host}/${app}` }]),
            cmd(['createStream', 2, null]), cmd(['play', 3, null, stream], 1)]));
        }
      }
      if (d.length > 0) reader.push(d);
    });
    const c1 = Buffer.alloc(RTMP_HANDSHAKE_SIZE, 1);
    c1.writeUInt32BE(0, 4);
    socket.write(Buffer.concat([Buffer.of(3), c1])); // C0 C1
    socket.setTimeout(10_000, () => fail(new Error('no keyframe in 10 s')));
  });
}

function quantiles(v: number[]): string {
  const s = [...v].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return `p50 ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms, max ${(s.at(-1) ?? NaN).toFixed(1)} ms`;
}

const external = args['http-url'] !== undefined && args['rtmp-url'] !== undefined;
const gw = external ? undefined : await startGatewayProcess(args.root, args.latency === 'min' ? 'min_latency on;' : `play { mw_latency ${Number(args.latency)}; }`);
const rtmpUrl = args['rtmp-url'] ?? `rtmp://127.0.0.1:${gw?.rtmpPort ?? 0}/live/j`;
const httpUrl = args['http-url'] ?? `http://127.0.0.1:${gw?.httpPort ?? 0}/live/j.flv`;
const pub = publishLoop(args.fixture, rtmpUrl);
const load: { destroy(): void }[] = [];
try {
  await sleep(3000);
  for (let i = 0; i < Number(args.players); i++) {
    load.push(get(httpUrl, { agent: false }, (res) => res.resume()).on('error', () => undefined));
    if (i % 10 === 9) await sleep(50);
  }
  if (load.length > 0) await sleep(3000);
  const results: Record<'http-flv' | 'rtmp', number[]> = { 'http-flv': [], rtmp: [] };
  for (let i = 0; i < Number(args.joins); i++) {
    results['http-flv'].push(await joinHttpFlv(httpUrl));
    await sleep(150);
    results.rtmp.push(await joinRtmp(rtmpUrl));
    await sleep(150);
  }
  for (const [proto, v] of Object.entries(results)) {
    console.log(`${args.label} join ${proto} (${args.latency === 'min' ? 'min_latency' : `mw_latency ${args.latency}`}, ${load.length} other players): connect → first keyframe ${quantiles(v)} over ${v.length} joins`);
  }
} finally {
  for (const l of load) l.destroy();
  pub.kill('SIGTERM');
  await gw?.stop();
}
