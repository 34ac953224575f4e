/**
 * Real RTP/RTCP datagrams captured from ffmpeg and GStreamer by fixtures/rtp/capture-datagrams.ts
 * (fixtures/README.md, "RTP/RTCP datagram fixtures").
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Capture { readonly rtp: Buffer[]; readonly rtcp: Buffer[]; readonly rtpAtMs: number[] }

interface CaptureJson { rtp: { atMs: number; hex: string }[]; rtcp: { atMs: number; hex: string }[] }

export function loadCapture(name: 'ffmpeg-h264' | 'gst-h264-twcc' | 'gst-receiver-reports'): Capture {
  const path = fileURLToPath(new URL(`../../../../fixtures/rtp/datagrams-${name}.json`, import.meta.url));
  const json = JSON.parse(readFileSync(path, 'utf8')) as CaptureJson;
  return {
    rtp: json.rtp.map((d) => Buffer.from(d.hex, 'hex')),
    rtcp: json.rtcp.map((d) => Buffer.from(d.hex, 'hex')),
    rtpAtMs: json.rtp.map((d) => d.atMs),
  };
}
