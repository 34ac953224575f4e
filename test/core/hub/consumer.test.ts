import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, type ConsumerOwner } from '../../../core/hub/consumer.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { aac, audioConfig, CaptureTarget, interframe, keyframe, metadata, silentLog, videoConfig } from './hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'test' };

class Owner implements ConsumerOwner {
  detached: Consumer[] = [];
  detach(c: Consumer): void {
    this.detached.push(c);
  }
}

function makeConsumer(target: CaptureTarget | { send(m: RtmpMessage): boolean }, queueLengthMs = 10_000, queueMaxBytes = 1 << 20) {
  const owner = new Owner();
  const consumer = new Consumer({ key: KEY, who: { id: 'test-1', protocol: 'test' }, target, owner, log: silentLog, queueLengthMs, queueMaxBytes });
  return { consumer, owner };
}

/** metadata, configs, then `gops` GOPs of 1 keyframe + 24 frames + audio, 40 ms per video frame. */
function feed(c: Consumer, startMs: number, gops: number): number {
  let t = startMs;
  for (let g = 0; g < gops; g++) {
    c.enqueue(keyframe(t));
    c.enqueue(aac(t));
    for (let i = 1; i < 25; i++) {
      t += 40;
      c.enqueue(interframe(t));
      c.enqueue(aac(t));
    }
    t += 40;
  }
  return t;
}

test('fast path: sends at once; false blocks and queues; resume flushes in order until send is false again', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target);
  consumer.enqueue(metadata());
  consumer.enqueue(videoConfig());
  consumer.enqueue(keyframe(0));
  assert.deepEqual(target.kinds, ['metadata', 'video-config', 'keyframe']);
  target.accept = false;
  consumer.enqueue(interframe(40)); // taken by the transport, which is now full
  consumer.enqueue(interframe(80));
  consumer.enqueue(interframe(120));
  assert.equal(target.messages.length, 4);
  assert.equal(consumer.stats().queuedMessages, 2);
  consumer.resume(); // still full: one more taken, then blocked again
  assert.deepEqual(target.trace.slice(4), ['interframe@80']);
  target.accept = true;
  consumer.resume();
  assert.deepEqual(target.trace.slice(4), ['interframe@80', 'interframe@120']);
  consumer.enqueue(interframe(160));
  assert.equal(target.messages.length, 7, 'back on the fast path');
  const s = consumer.stats();
  assert.equal(s.sentMessages, 7);
  assert.equal(s.queuedMessages, 0);
  assert.equal(s.queuedBytes, 0);
  assert.equal(s.droppedMessages, 0);
});

test('a new consumer skips frames until a keyframe; audio is skipped once the stream has video', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target);
  consumer.enqueue(videoConfig());
  consumer.enqueue(audioConfig());
  consumer.enqueue(interframe(40));
  consumer.enqueue(aac(40));
  consumer.enqueue(keyframe(80));
  consumer.enqueue(aac(80));
  consumer.enqueue(interframe(120));
  assert.deepEqual(target.trace, ['video-config@0', 'audio-config@0', 'keyframe@80', 'audio@80', 'interframe@120']);
  assert.equal(consumer.stats().droppedMessages, 0, 'start-up skipping is not a drop');
});

test('audio-only stream: audio flows without any keyframe', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target);
  consumer.enqueue(audioConfig());
  consumer.enqueue(aac(0));
  consumer.enqueue(aac(23));
  assert.deepEqual(target.kinds, ['audio-config', 'audio', 'audio']);
});

test('slow consumer: time overflow drops whole GOPs; after resume it gets configs, then a keyframe', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target, 3000);
  consumer.enqueue(metadata());
  consumer.enqueue(videoConfig());
  consumer.enqueue(audioConfig());
  target.accept = false;
  consumer.enqueue(keyframe(0)); // taken, transport full from now on
  const end = feed(consumer, 40, 5); // 5 s of media into a 3 s queue, never resumed
  const s = consumer.stats();
  assert.ok(s.droppedMessages > 0, 'dropped');
  assert.ok(s.queuedMessages > 0);
  target.accept = true;
  target.messages.length = 0;
  consumer.resume();
  assert.deepEqual(target.kinds.slice(0, 4), ['metadata', 'video-config', 'audio-config', 'keyframe']);
  // Then only complete GOPs: every interframe comes after that keyframe.
  const kfTs = target.messages[3].timestamp;
  assert.ok(target.messages.slice(4).every((m) => m.timestamp >= kfTs));
  // The dropped + delivered media add up to what was fed.
  const fed = 5 * 50;
  const delivered = target.messages.filter((m) => !m.isConfig).length;
  assert.equal(delivered + consumer.stats().droppedMessages, fed);
  consumer.enqueue(interframe(end));
  assert.equal(target.messages.at(-1)?.timestamp, end, 'live again');
});

test('overflow by bytes; a keyframe that overflows starts the new queue', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target, 0, 1000); // no time bound, 1000 bytes
  consumer.enqueue(videoConfig());
  consumer.enqueue(keyframe(0, 100));
  target.accept = false;
  consumer.enqueue(interframe(40, 400)); // taken; blocked
  consumer.enqueue(interframe(80, 400));
  consumer.enqueue(interframe(120, 400)); // 2 × 409 = 818 bytes queued
  assert.equal(consumer.stats().droppedMessages, 0);
  consumer.enqueue(keyframe(160, 300)); // > 1000 bytes: drop the two, keep config + this keyframe
  assert.equal(consumer.stats().droppedMessages, 2);
  assert.equal(consumer.stats().queuedMessages, 2);
  consumer.enqueue(interframe(200, 10));
  target.accept = true;
  target.messages.length = 0;
  consumer.resume();
  assert.deepEqual(target.trace, ['video-config@0', 'keyframe@160', 'interframe@200']);
});

test('after an overflow on a video stream, audio and P-frames are skipped until the next keyframe', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target, 0, 500);
  consumer.enqueue(videoConfig());
  consumer.enqueue(keyframe(0));
  target.accept = false;
  consumer.enqueue(interframe(40));
  consumer.enqueue(interframe(80, 600)); // overflow: wait for a keyframe
  consumer.enqueue(aac(90));
  consumer.enqueue(interframe(120));
  target.accept = true;
  consumer.resume();
  consumer.enqueue(aac(130));
  consumer.enqueue(keyframe(160));
  consumer.enqueue(aac(170));
  assert.deepEqual(target.trace.slice(2), ['interframe@40', 'video-config@0', 'keyframe@160', 'audio@170']);
  assert.equal(consumer.stats().droppedMessages, 4);
});

test('a throwing target is closed with onClose and detached; later messages are ignored', () => {
  const owner = new Owner();
  let closed = '';
  const target = {
    send(): boolean {
      throw new Error('socket gone');
    },
    onClose(reason: string): void {
      closed = reason;
    },
  };
  const consumer = new Consumer({ key: KEY, who: { id: 't', protocol: 'test' }, target, owner, log: silentLog, queueLengthMs: 1000, queueMaxBytes: 1000 });
  consumer.enqueue(videoConfig());
  assert.ok(consumer.closed);
  assert.match(closed, /socket gone/);
  assert.deepEqual(owner.detached, [consumer]);
  consumer.enqueue(keyframe(0));
  consumer.resume();
  consumer.close();
  assert.equal(owner.detached.length, 1, 'close is idempotent');
});

test('queue with a head index stays ordered across thousands of partial flushes', () => {
  const received: number[] = [];
  let budget = 0;
  const target = {
    send(m: RtmpMessage): boolean {
      received.push(m.timestamp);
      return --budget > 0;
    },
  };
  const { consumer } = makeConsumer(target, 0, 1 << 30);
  consumer.enqueue(keyframe(0));
  for (let i = 1; i <= 20_000; i++) {
    consumer.enqueue(interframe(i));
    if (i % 7 === 0) {
      budget = 3;
      consumer.resume();
    }
  }
  budget = Infinity;
  consumer.resume();
  assert.equal(received.length, 20_001);
  assert.ok(received.every((t, i) => t === i));
  assert.equal(consumer.stats().queuedMessages, 0);
});

test('a source event while media is queued reaches the player after that media, not before', () => {
  const target = new CaptureTarget();
  const { consumer } = makeConsumer(target);
  consumer.enqueue(videoConfig(0));
  consumer.enqueue(keyframe(0));
  target.accept = false;
  consumer.enqueue(interframe(40)); // send returns false: blocked from here on
  consumer.enqueue(interframe(80));
  consumer.enqueue(interframe(120));
  consumer.sourceEvent('unpublish');
  assert.deepEqual(target.events, [], 'held back while old media waits in the queue');
  target.accept = true;
  consumer.resume();
  assert.deepEqual(target.trace.slice(-2), ['interframe@80', 'interframe@120']);
  assert.deepEqual(target.events, ['unpublish'], 'told once the queue drained');
  consumer.sourceEvent('publish');
  assert.deepEqual(target.events, ['unpublish', 'publish'], 'nothing queued: told at once');
});
