/**
 * Replays real RTSP push connections captured from ffmpeg and GStreamer (fixtures/rtsp: the requests up to
 * RECORD, then the interleaved RTP/RTCP frames that followed) into the RTSP caster, request by request with our
 * Session id substituted, and checks what reaches the hub: metadata, sequence headers, frames with rising DTS
 * and PTS ≥ DTS. Also replays the interleaved bytes split at awkward places and with garbage channels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { RtspRequestReader, type RtspRequest } from '../../../core/protocol/rtsp/rtsp-message.ts';
import { startTestRtspCaster } from '../../helpers/rtsp-caster.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';
import { RtspTestClient } from '../../helpers/rtsp-client.ts';


/** Missing RTP sequence numbers per even (RTP) channel of a run of interleaved frames. */
function sequenceGaps(frames: Buffer): number {
  const last = new Map<number, number>();
  let gaps = 0;
  for (let o = 0; o + 4 <= frames.length && frames[o] === 0x24; ) {
    const channel = frames[o + 1] as number;
    const length = frames.readUInt16BE(o + 2);
    if (channel % 2 === 0) {
      const seq = frames.readUInt16BE(o + 4 + 2);
      const prev = last.get(channel);
      if (prev !== undefined) gaps += (seq - prev - 1 + 0x10000) % 0x10000;
      last.set(channel, seq);
    }
    o += 4 + length;
  }
  return gaps;
}

function requestsOf(file: string): RtspRequest[] {
  const out: RtspRequest[] = [];
  for (const input of new RtspRequestReader().push(readFileSync(fixture(file)))) if (input.kind === 'request') out.push(input.request);
  return out;
}

/** Re-send a captured request with the URL's port and the Session id rewritten to ours. */
function rewrite(req: RtspRequest, port: number, session: string): string {
  const uri = req.uri.replace(/^rtsp:\/\/127\.0\.0\.1:\d+/, `rtsp://127.0.0.1:${port}`);
  let text = `${req.method} ${uri} RTSP/1.0\r\n`;
  for (const [name, value] of req.headers.entries()) {
    if (name.toLowerCase() === 'session') text += `Session: ${session}\r\n`;
    else text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n${req.body.toString('latin1')}`;
}

async function replaySetup(c: RtspTestClient, file: string, port: number): Promise<string> {
  let session = '';
  for (const req of requestsOf(file)) {
    c.write(rewrite(req, port, session));
    const r = await c.response();
    assert.equal(r.status, 200, `${req.method} → ${r.status}`);
    const s = r.headers.get('session');
    if (s !== undefined) session = s.split(';')[0] as string;
  }
  return session;
}

for (const [name, stream, wantAudio] of [
  ['ffmpeg-tcp-h264-aac', 'live/cam1', 'aac'],
  ['gst-tcp-h264-aac', 'live/gst1', 'aac'],
] as const) {
  test(`replayed ${name} session publishes metadata, sequence headers and ordered frames`, async () => {
    const { caster, hub } = await startTestRtspCaster();
    const c = await RtspTestClient.connect(caster.port);
    try {
      await replaySetup(c, `rtsp/${name}.txt`, caster.port);
      const after = readFileSync(fixture(`rtsp/${name}-after-record.bin`));
      // Split the interleaved bytes at odd places (mid '$' header, mid payload).
      for (let off = 0; off < after.length; off += 777) c.write(after.subarray(off, off + 777));
      const key = `__defaultVhost__/${stream}`;
      await waitFor(() => (hub.published.get(key) ?? []).some((m) => m.kind === 'keyframe'), 3000);
      await sleep(100);
      const msgs = hub.published.get(key) ?? [];
      assert.equal(msgs[0]?.kind, 'metadata', 'onMetaData first');
      assert.ok(msgs.some((m) => m.kind === 'video-config'), 'AVC sequence header');
      if (wantAudio === 'aac') assert.ok(msgs.some((m) => m.kind === 'audio-config'), 'AAC sequence header');
      const video = msgs.filter((m) => m.type === 9 && !m.isConfig);
      assert.ok(video.length >= 3, `${video.length} video frames`);
      assert.equal(video[0]?.kind, 'keyframe', 'video starts at a keyframe');
      for (let i = 1; i < video.length; i++) assert.ok((video[i]?.timestamp ?? 0) > (video[i - 1]?.timestamp ?? 0), `video DTS rises at ${i}`);
      const audio = msgs.filter((m) => m.type === 8 && !m.isConfig);
      for (let i = 1; i < audio.length; i++) assert.ok((audio[i]?.timestamp ?? 0) >= (audio[i - 1]?.timestamp ?? 0), `audio timestamps rise at ${i}`);
      const stats = caster.stats() as unknown as { active: Array<{ tracks: Array<{ packets: number; lost: number; decodeErrors: number }> }> };
      const tracks = stats.active[0]?.tracks ?? [];
      assert.ok(tracks.every((t) => t.packets > 0), JSON.stringify(tracks));
      // Interleaved TCP: every sequence gap in the capture is a loss at once (the GStreamer capture skipped the
      // frames that did not fit its 24 KB budget).
      const lost = tracks.reduce((n, t) => n + t.lost, 0);
      assert.equal(lost, sequenceGaps(after), JSON.stringify(tracks));
    } finally {
      c.close();
      await caster.stop();
    }
  });
}

test('interleaved frames on channels nobody set up are dropped; the session keeps going', async () => {
  const { caster, hub } = await startTestRtspCaster();
  const c = await RtspTestClient.connect(caster.port);
  try {
    await replaySetup(c, 'rtsp/ffmpeg-tcp-h264-aac.txt', caster.port);
    const junk = Buffer.concat([Buffer.from([0x24, 9, 0, 4]), Buffer.from('junk'), Buffer.from([0x24, 0, 0, 3, 1, 2, 3])]);
    c.write(junk); // channel 9 unknown; channel 0 with a 3-byte "RTP packet" (too short: a decode error)
    c.write(readFileSync(fixture('rtsp/ffmpeg-tcp-h264-aac-after-record.bin')));
    await waitFor(() => (hub.published.get('__defaultVhost__/live/cam1') ?? []).some((m) => m.kind === 'keyframe'), 3000);
    assert.equal(c.closed, false);
  } finally {
    c.close();
    await caster.stop();
  }
});
