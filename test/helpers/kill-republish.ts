/**
 * Publisher killed mid-GOP (issue 12 §3), shared by the fault tests of every ingest (RTMP, FLV POST, RTSP, UDP):
 * one HTTP-FLV and one RTMP player follow the stream; the publisher is killed in the middle of a GOP and a new
 * one starts within 1 s. Checks that the HTTP-FLV player ends and the RTMP player gets
 * NetStream.Play.UnpublishNotify within a deadline, and that the same RTMP player plays the republished stream
 * from a keyframe with timestamps that never go back.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { playHttpFlv } from './http-flv-player.ts';
import { waitFor } from './peers.ts';
import { RtmpTestClient } from './rtmp-test-client.ts';

/** "At once": an ended publisher reaches its players within this (the socket close is immediate on loopback). */
export const AT_ONCE_MS = 2_000;
/** The new publisher starts this long after the old one died ("a republish within 1 s"). */
export const REPUBLISH_AFTER_MS = 300;

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())));
}

/** What checkKillAndRepublish measured, in ms after the kill. */
export interface KillFigures {
  readonly httpEndMs: number;
  readonly unpublishMs: number;
  readonly republishedMs: number;
  readonly publishNotifyMs: number;
  readonly firstKeyframeMs: number;
}

/**
 * Plays `/live/<stream>` over HTTP-FLV and RTMP until the RTMP player is 400 ms into its third GOP, calls `kill`,
 * then `republish` REPUBLISH_AFTER_MS later. Asserts: HTTP-FLV ended and UnpublishNotify within `unpublishWithinMs`
 * (default AT_ONCE_MS) of the kill; the kill was mid-GOP; PublishNotify after UnpublishNotify; the first video after
 * the unpublish is a keyframe; audio and video timestamps never go back; the RTMP player stayed connected.
 * @param ports the gateway's RTMP and HTTP (HTTP-FLV mounted at [vhost]/[app]/[stream].flv) ports.
 */
export async function checkKillAndRepublish(t: TestContext, ports: { readonly rtmp: number; readonly http: number }, stream: string, kill: () => void, republish: () => void,
  opts: { unpublishWithinMs?: number } = {}): Promise<KillFigures> {
  const within = opts.unpublishWithinMs ?? AT_ONCE_MS;
  const http = playHttpFlv(ports.http, `/live/${stream}.flv`);
  const rtmp = RtmpTestClient.player(ports.rtmp, 'live', stream);
  try {
    // Play until the player is in the middle of its third GOP (keyframe every 1 s in the fixtures).
    await waitFor(() => {
      const keys = rtmp.media.filter((m) => m.keyframe);
      const lastVideo = rtmp.media.filter((m) => m.typeId === 9).pop();
      return keys.length >= 3 && lastVideo !== undefined && lastVideo.timestampMs - (keys[keys.length - 1] as { timestampMs: number }).timestampMs >= 400;
    }, 20_000);
    await waitFor(() => http.video.length > 25, 5_000);
    const killedAt = Date.now();
    const mediaBefore = rtmp.media.length;
    kill();
    await sleep(REPUBLISH_AFTER_MS);
    republish();
    const republishedAt = Date.now();
    await Promise.all([http.ended, waitFor(() => rtmp.statusCodes().includes('NetStream.Play.UnpublishNotify'), within + 3_000)]);
    const httpEndMs = (http.endedAt() as number) - killedAt;
    const unpublishMs = (rtmp.statuses.find((s) => s.code === 'NetStream.Play.UnpublishNotify') as { atMs: number }).atMs - killedAt;
    assert.ok(httpEndMs <= within, `HTTP-FLV player ended ${httpEndMs} ms after the publisher died (limit ${within} ms)`);
    assert.ok(unpublishMs <= within, `RTMP player got UnpublishNotify ${unpublishMs} ms after the publisher died (limit ${within} ms)`);
    const last = http.video[http.video.length - 1];
    assert.ok(last !== undefined && !last.keyframe, 'the publisher died mid-GOP (the last frame played was not a keyframe)');

    assert.ok(republishedAt - killedAt <= 1_000, `republished ${republishedAt - killedAt} ms after the kill`);
    await waitFor(() => rtmp.media.slice(mediaBefore).filter((m) => m.typeId === 9).length >= 60, 20_000);
    assert.ok(rtmp.statusCodes().lastIndexOf('NetStream.Play.PublishNotify') > rtmp.statusCodes().indexOf('NetStream.Play.UnpublishNotify'), `PublishNotify after UnpublishNotify: ${rtmp.statusCodes().join(', ')}`);
    // What the old publisher had in flight when it died may still arrive before the notification.
    const unpublishedAt = (rtmp.statuses.find((s) => s.code === 'NetStream.Play.UnpublishNotify') as { atMs: number }).atMs;
    const after = rtmp.media.filter((m) => m.atMs > unpublishedAt);
    const firstVideo = after.find((m) => m.typeId === 9);
    assert.ok(firstVideo?.keyframe === true, `the same player restarts at a keyframe (first video after the republish: ${JSON.stringify(firstVideo)})`);
    for (const [type, name] of [[8, 'audio'], [9, 'video']] as const) {
      const before = rtmp.media.filter((m) => m.typeId === type && m.atMs <= unpublishedAt).map((m) => m.timestampMs);
      const later = after.filter((m) => m.typeId === type).map((m) => m.timestampMs);
      assert.ok(later.length > 0 && (later[0] as number) >= Math.max(...before), `${name} timestamps rise across the republish (last before ${Math.max(...before)}, first after ${later[0]})`);
      const ts = rtmp.media.filter((m) => m.typeId === type).map((m) => m.timestampMs);
      const back = ts.findIndex((x, i) => i > 0 && x < (ts[i - 1] as number));
      assert.ok(back < 0, `${name} timestamps never go back (at ${back} of ${ts.length}: ${ts.slice(Math.max(0, back - 3), back + 3).join(', ')})`);
    }
    assert.equal(rtmp.socket.destroyed, false, 'the RTMP player stayed connected throughout');
    const publishNotify = rtmp.statuses.filter((s) => s.code === 'NetStream.Play.PublishNotify').pop() as { atMs: number };
    const figures: KillFigures = {
      httpEndMs,
      unpublishMs,
      republishedMs: republishedAt - killedAt,
      publishNotifyMs: publishNotify.atMs - killedAt,
      firstKeyframeMs: (firstVideo as { atMs: number }).atMs - killedAt,
    };
    t.diagnostic(`HTTP-FLV ended ${httpEndMs} ms and UnpublishNotify ${unpublishMs} ms after the kill; republished after ${figures.republishedMs} ms; `
      + `PublishNotify ${figures.publishNotifyMs} ms, first keyframe ${figures.firstKeyframeMs} ms after the kill`);
    return figures;
  } finally {
    http.stop();
    rtmp.close();
  }
}
