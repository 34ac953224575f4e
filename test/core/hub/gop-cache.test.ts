import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GopCache } from '../../../core/hub/gop-cache.ts';
import { aac, interframe, keyframe } from './hub-vectors.ts';

const trace = (g: GopCache): string[] => g.messages.map((m) => `${m.kind}@${m.timestamp}`);

test('holds the messages since the last keyframe, audio included; nothing before the first keyframe', () => {
  const g = new GopCache(true);
  g.push(aac(0));
  g.push(interframe(0));
  assert.equal(g.messages.length, 0);
  g.push(keyframe(40));
  g.push(aac(50));
  g.push(interframe(80));
  assert.deepEqual(trace(g), ['keyframe@40', 'audio@50', 'interframe@80']);
  g.push(keyframe(120));
  g.push(aac(130));
  assert.deepEqual(trace(g), ['keyframe@120', 'audio@130']);
  assert.equal(g.bytes, keyframe(0).payload.length + aac(0).payload.length);
});

test('a pure-audio stream caches nothing', () => {
  const g = new GopCache(true);
  for (let t = 0; t < 1000; t += 23) g.push(aac(t));
  assert.equal(g.messages.length, 0);
});

test('byte cap: over the cap the cache empties and stays empty until the next keyframe', () => {
  const g = new GopCache(true, 1000);
  g.push(keyframe(0, 300));
  g.push(interframe(40, 300));
  assert.equal(g.messages.length, 2);
  g.push(interframe(80, 400)); // > 1000 bytes
  assert.equal(g.messages.length, 0);
  assert.equal(g.bytes, 0);
  g.push(interframe(120, 10));
  assert.equal(g.messages.length, 0, 'no GOP without its keyframe');
  g.push(keyframe(160, 10));
  g.push(interframe(200, 10));
  assert.deepEqual(trace(g), ['keyframe@160', 'interframe@200']);
});

test('disabled: caches nothing; turning it off empties it', () => {
  const g = new GopCache(false);
  g.push(keyframe(0));
  assert.equal(g.messages.length, 0);
  g.enabled = true;
  g.push(keyframe(0));
  assert.equal(g.messages.length, 1);
  g.enabled = false;
  assert.equal(g.messages.length, 0);
  g.enabled = true;
  g.push(keyframe(40));
  g.clear();
  assert.equal(g.messages.length, 0);
});
