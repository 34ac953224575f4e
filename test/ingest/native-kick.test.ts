/**
 * A native file ingest kicked through the hub (DELETE /api/v1/clients/{id}) loops again from the start: the new
 * publish begins with the file's metadata and sequence headers, so players that reconnect can decode it (the hub
 * clears its caches at unpublish; before, the republish carried frames only until the file looped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfigText } from '../../core/config/config.ts';
import type { ConsumerTarget, SourceEvent } from '../../core/hub/ports.ts';
import { SourceHub } from '../../core/hub/source-hub.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { createPublishTargetResolver } from '../../core/output/publish-target.ts';
import { createIngesters } from '../../ingest/index.ts';
import { fixture, waitFor } from '../helpers/peers.ts';

/** Records message kinds and source events in one trace. */
class TraceTarget implements ConsumerTarget {
  readonly trace: string[] = [];
  send(msg: RtmpMessage): boolean {
    this.trace.push(msg.kind);
    return true;
  }
  onSourceEvent(event: SourceEvent): void {
    this.trace.push(event);
  }
}

test('native ingest kicked: it republishes at once from the file start, metadata and sequence headers first', { timeout: 15_000 }, async () => {
  const log = pino({ level: 'silent' });
  const hub = new SourceHub({ log, vhost: () => ({ gopCache: true, queueLengthMs: 10_000, timeJitter: 'full' }), sourceLingerMs: 0 });
  const { config } = loadConfigText(`vhost __defaultVhost__ {
    ingest demo { enabled on; input { type file; url ${fixture('flv/demo.flv')}; } engine { output rtmp://127.0.0.1:[port]/live/loop; } }
  }`, 'conf/t.conf');
  const [ingester] = createIngesters(config.vhosts.values(), { log, publishTarget: createPublishTargetResolver({ hub, log, rtmpPorts: [19350] }) });
  assert.ok(ingester !== undefined);
  const key = { vhost: '__defaultVhost__', app: 'live', stream: 'loop' };
  const player = new TraceTarget();
  hub.subscribe(key, { id: 'http-flv-1', protocol: 'http-flv' }, player);
  ingester.start();
  try {
    await waitFor(() => player.trace.filter((k) => k === 'keyframe').length >= 1 && player.trace.length > 20, 5_000);
    const publisher = hub.clients().find((c) => c.publish);
    assert.ok(publisher !== undefined);
    assert.equal(publisher.who.protocol, 'ingest');
    const kickedAt = player.trace.length;
    assert.equal(hub.kick(publisher.who.id, 'kicked by the HTTP API'), true);
    await waitFor(() => player.trace.slice(kickedAt).includes('keyframe'), 5_000);
    const after = player.trace.slice(kickedAt);
    assert.deepEqual(after.slice(0, 2), ['unpublish', 'publish']);
    const firstKeyframe = after.indexOf('keyframe');
    const head = new Set(after.slice(2, firstKeyframe));
    for (const kind of ['metadata', 'video-config', 'audio-config']) assert.ok(head.has(kind), `${kind} before the first keyframe: ${after.slice(0, firstKeyframe + 1).join(' ')}`);
    assert.equal((ingester.stats().engines[0] as { starts: number }).starts, 2, 'counted as a restart');
    assert.equal(hub.clients().find((c) => c.publish)?.who.id, publisher.who.id, 'the same client id publishes again');
  } finally {
    await ingester.stop();
    hub.close();
  }
});
