/**
 * Connection floods and slowloris against the whole gateway on loopback (issue 12 §3): thousands of idle TCP
 * connections on the RTMP, HTTP and RTSP ports and slowloris peers (one byte of a request head per second) on HTTP,
 * RTSP and the FLV POST caster. The handshake/header deadlines (core/listener-guard.ts, 10 s) close every one of
 * them, an ffmpeg publish and an HTTP-FLV play keep working meanwhile, and afterwards the process holds no more file
 * descriptors than before. `max_connections` is enforced on each listener with one log line saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEADER_TIMEOUT_MS } from '../../core/listener-guard.ts';
import { decodeCheck, fixture, publishRtmp, waitFor } from '../helpers/peers.ts';
import { fdLimit, openFds, startRobustGateway, type LogLine } from './robustness-harness.ts';

/**
 * Idle connections per port: 2000 by default (FLOOD_N to change; issue 12 says 5000, which takes ~40 s to open on a
 * busy 2-core machine), never more than the descriptor limit allows in one process (each costs two).
 */
const IDLE_PER_PORT = Math.max(100, Math.min(Number(process.env.FLOOD_N ?? 2000), Math.floor((fdLimit() - 2000) / 6)));
const SLOWLORIS_PER_PORT = 5;
/** Connections opened at once per port (stays below the listen backlog of 511). */
const CONNECT_BATCH = 100;
/** A deadline fires no earlier than this before its nominal time (timer granularity and clock reads). */
const EARLY_MS = 300;
/** ...and, on a busy 2-core machine, no later than this after it (the HTTP servers check every 500 ms). */
const LATE_MS = 8_000;

interface Probe {
  readonly socket: Socket;
  readonly openedAt: number;
  closedAt: number | undefined;
  /** Bytes the server sent (an error answer before closing is fine). */
  received: number;
}

function openProbe(port: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const probe: Probe = { socket, openedAt: 0, closedAt: undefined, received: 0 };
    socket.on('data', (d) => (probe.received += d.length));
    socket.on('error', () => undefined);
    socket.once('close', () => (probe.closedAt ??= Date.now()));
    socket.once('connect', () => {
      (probe as { openedAt: number }).openedAt = Date.now();
      resolve(probe);
    });
    socket.once('error', (err) => (probe.openedAt === 0 ? reject(err) : undefined));
  });
}

async function openMany(port: number, count: number): Promise<Probe[]> {
  const out: Probe[] = [];
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, () => openProbe(port)))));
  }
  return out;
}

/** A peer that sends `head` one byte per second and never finishes it (the head is longer than the test). */
function slowloris(probe: Probe, head: string): void {
  let i = 0;
  const timer = setInterval(() => {
    if (probe.closedAt !== undefined || probe.socket.destroyed) return clearInterval(timer);
    probe.socket.write(head[i++ % head.length] as string);
  }, 1000);
  probe.socket.once('close', () => clearInterval(timer));
}

const padding = 'a'.repeat(200);

test(`${IDLE_PER_PORT} idle connections on RTMP, HTTP and RTSP and slowloris on HTTP, RTSP and FLV POST are closed by their deadlines; publish and play work meanwhile; no descriptor leaks`, { timeout: 120_000 }, async (t) => {
  const g = await startRobustGateway({ maxConnections: IDLE_PER_PORT + 100 });
  try {
    const before = openFds();
    const t0 = Date.now();
    const [rtmp, http, rtsp] = await Promise.all([openMany(g.ports.rtmp, IDLE_PER_PORT), openMany(g.ports.http, IDLE_PER_PORT), openMany(g.ports.rtsp, IDLE_PER_PORT)]);
    const idle = { rtmp, http, rtsp };
    const slow = {
      http: await openMany(g.ports.http, SLOWLORIS_PER_PORT),
      rtsp: await openMany(g.ports.rtsp, SLOWLORIS_PER_PORT),
      flv: await openMany(g.ports.flv, SLOWLORIS_PER_PORT),
    };
    for (const p of slow.http) slowloris(p, `GET /live/flood.flv HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${padding}`);
    for (const p of slow.rtsp) slowloris(p, `ANNOUNCE rtsp://127.0.0.1:${g.ports.rtsp}/live/slow RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ${padding}`);
    for (const p of slow.flv) slowloris(p, `POST /live/slow.flv HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${padding}`);
    const opened = Date.now() - t0;

    // During the flood: a real publisher and a real HTTP-FLV player.
    const publisher = publishRtmp(fixture('flv/h264-aac-320x240-10s.flv'), `rtmp://127.0.0.1:${g.ports.rtmp}/live/flood`, { timeoutMs: 60_000 });
    try {
      await waitFor(() => g.gw.hub.isPublishing({ vhost: '__defaultVhost__', app: 'live', stream: 'flood' }), 15_000);
      const play = await decodeCheck(`http://127.0.0.1:${g.ports.http}/live/flood.flv`, 3);
      assert.equal(play.code, 0, play.errors.join('\n'));
      assert.deepEqual(play.errors, [], 'the player decoded without an error');
      assert.ok(play.videoFrames >= 50, `player decoded ${play.videoFrames} video frames during the flood`);
    } finally {
      await publisher.stop();
    }

    const all = [...idle.rtmp, ...idle.http, ...idle.rtsp, ...slow.http, ...slow.rtsp, ...slow.flv];
    const lifetimes: string[] = [];
    await waitFor(() => all.every((p) => p.closedAt !== undefined), HEADER_TIMEOUT_MS + LATE_MS + opened);
    for (const [name, probes] of Object.entries({ ...idle, ...Object.fromEntries(Object.entries(slow).map(([k, v]) => [`slowloris ${k}`, v])) })) {
      const lives = probes.map((p) => (p.closedAt as number) - p.openedAt);
      const min = Math.min(...lives);
      const max = Math.max(...lives);
      assert.ok(min >= HEADER_TIMEOUT_MS - EARLY_MS, `${name}: closed after ${min} ms, not before the ${HEADER_TIMEOUT_MS} ms deadline`);
      assert.ok(max <= HEADER_TIMEOUT_MS + LATE_MS, `${name}: every connection closed by ${HEADER_TIMEOUT_MS + LATE_MS} ms (slowest ${max} ms)`);
      lifetimes.push(`${name} ${min}-${max} ms`);
    }
    t.diagnostic(`${3 * IDLE_PER_PORT} idle + ${3 * SLOWLORIS_PER_PORT} slowloris connections opened in ${opened} ms; closed after: ${lifetimes.join(', ')}`);

    // Nothing left behind: sessions, connections, descriptors.
    await waitFor(() => g.gw.rtmp.stats().connections === 0 && g.gw.casters.every((c) => (c.stats().connections ?? 0) === 0), 5_000);
    for (const p of all) p.socket.destroy();
    await sleep(500);
    await waitFor(() => openFds() <= before + 2, 10_000).catch(() => undefined);
    const after = openFds();
    assert.ok(after <= before + 2, `open descriptors ${before} before the flood, ${after} after`);
    t.diagnostic(`open descriptors: ${before} before the flood, ${after} after`);
  } finally {
    await g.stop();
  }
});

test('max_connections is enforced on each listener (RTMP, HTTP, RTSP, FLV POST) with a log line, and frees up when connections go', { timeout: 60_000 }, async () => {
  const MAX = 40;
  const OVER = 25;
  const g = await startRobustGateway({ maxConnections: MAX });
  try {
    const ports = { RTMP: g.ports.rtmp, HTTP: g.ports.http, RTSP: g.ports.rtsp, 'flv caster': g.ports.flv };
    for (const [listener, port] of Object.entries(ports)) {
      const probes = await openMany(port, MAX + OVER);
      // Refused connections are closed by the server at once; accepted ones live until their deadline.
      await waitFor(() => probes.filter((p) => p.closedAt !== undefined).length >= OVER, 5_000).catch(() => undefined);
      await sleep(300);
      const refused = probes.filter((p) => p.closedAt !== undefined);
      assert.equal(refused.length, OVER, `${listener}: ${OVER} of ${MAX + OVER} connections refused`);
      assert.ok(refused.every((p) => p.received === 0), `${listener}: refused connections got no bytes`);
      const line = g.logs.find((l: LogLine) => l.level >= 40 && l.msg.includes(`${listener} connections refused: max_connections ${MAX} reached`));
      assert.ok(line !== undefined, `${listener}: a warning names the limit (got: ${g.logs.map((l) => l.msg).join(' | ')})`);
      // Connections going away make room again.
      for (const p of probes) p.socket.destroy();
      await sleep(300);
      const again = await openMany(port, 1);
      await sleep(500);
      assert.equal(again[0]?.closedAt, undefined, `${listener}: a new connection is accepted once others closed`);
      again[0]?.socket.destroy();
    }
  } finally {
    await g.stop();
  }
});
