/**
 * RTP/H.264 depacketizer benchmark: throughput in Mbit/s of RTP payload (1 Mbit = 10^6 bits) on one core.
 * Inputs, packetized at a 1,200-byte MTU by the test packetizer (single NAL, STAP-A, FU-A):
 *  - the 10 s x264 fixture (fixtures/ts/h264-bframes-aac-320x240-10s.ts: 200 kbit/s, small frames, many STAP-A);
 *  - synthetic 5 Mbit/s-like AUs (25 kB slices, FU-A heavy).
 * Measured twice: depacketize only (pre-parsed RtpPacket objects), and parseRtpPacket + depacketize (datagrams).
 * Run: npx tsx test/bench/rtp-h264.bench.ts
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsDemuxer } from '../../core/protocol/mpegts/ts-demuxer.ts';
import { splitAnnexB } from '../../core/codec/h264/nalu.ts';
import { RtpH264Depacketizer } from '../../core/codec/h264/rtp-h264-depacketizer.ts';
import { parseRtpPacket, serializeRtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import type { RtpPacket } from '../../core/protocol/rtp/rtp-packet.ts';
import { RtpH264Packetizer } from '../helpers/rtp-h264-packetizer.ts';

const MTU = 1200;
const TARGET_BYTES = 400e6;
const RUNS = 5;

function fixtureAus(): Uint8Array[][] {
  const aus: Uint8Array[][] = [];
  const d = new TsDemuxer({
    onProgram: () => {},
    onPes: (t, data) => { if (t.codec === 'h264') aus.push(splitAnnexB(data)); },
    onDecodeError: () => {},
  });
  d.push(readFileSync(fileURLToPath(new URL('../../fixtures/ts/h264-bframes-aac-320x240-10s.ts', import.meta.url))));
  d.flush();
  return aus;
}

function syntheticAus(count: number): Uint8Array[][] {
  const slice = (header: number, size: number): Uint8Array => {
    const b = new Uint8Array(size);
    for (let i = 0; i < size; i++) b[i] = (i * 131) & 0xff;
    b[0] = header;
    return b;
  };
  return Array.from({ length: count }, (_, i) => (i % 25 === 0 ? [slice(0x09, 2), slice(0x67, 20), slice(0x68, 4), slice(0x65, 80_000)] : [slice(0x09, 2), slice(0x41, 25_000)]));
}

function packetize(aus: Uint8Array[][]): RtpPacket[] {
  const p = new RtpH264Packetizer({ mtu: MTU });
  return aus.flatMap((au, i) => p.packetize(au, i * 3600));
}

function bench(label: string, packets: RtpPacket[]): void {
  const payloadBytes = packets.reduce((s, p) => s + p.payload.length, 0);
  const datagrams = packets.map((p) => serializeRtpPacket(p));
  const loops = Math.max(1, Math.round(TARGET_BYTES / payloadBytes));
  for (const mode of ['depacketize', 'parse + depacketize'] as const) {
    let best = Infinity;
    let aus = 0;
    for (let run = 0; run < RUNS; run++) {
      const d = new RtpH264Depacketizer(() => {});
      aus = 0;
      const t0 = process.hrtime.bigint();
      for (let l = 0; l < loops; l++) {
        if (mode === 'depacketize') {
          for (const p of packets) if (d.push(p)) aus++;
        } else {
          for (const g of datagrams) if (d.push(parseRtpPacket(g))) aus++;
        }
      }
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const mbits = (payloadBytes * loops * 8) / best / 1e6;
    console.log(`${label.padEnd(34)} ${mode.padEnd(20)} ${mbits.toFixed(0).padStart(7)} Mbit/s  ${(packets.length * loops / best / 1e6).toFixed(2)} M packets/s  ${(aus / best / 1e3).toFixed(0)} k AU/s`);
  }
}

bench('x264 320x240 200 kbit/s fixture', packetize(fixtureAus()));
bench('synthetic 25 kB slices', packetize(syntheticAus(250)));
