/**
 * 30-second rates from cumulative counters (SRS kbps.recv_30s/send_30s): the span starts at the oldest sample
 * still inside the window, integer kbit/s, counters that went down read 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KBPS_WINDOW_MS, RateBook, RateWindow } from '../../../core/stats/rate-window.ts';

test('from the start baseline: 125 000 bytes in 1 s is 1000 kbit/s; under 0.5 s no rate yet', () => {
  const w = new RateWindow(1_000);
  assert.deepEqual(w.kbps(1_400, 50_000, 0), { recv: 0, send: 0 }, 'span 400 ms: too short to tell');
  assert.deepEqual(w.kbps(2_000, 125_000, 62_500), { recv: 1000, send: 500 });
});

test('the window slides: after a rate change the old rate is gone within one window', () => {
  const w = new RateWindow(0);
  // 10 s samples: 1 Mbit/s (125 000 B/s) for 60 s, then 2 Mbit/s.
  let bytes = 0;
  for (let t = 10_000; t <= 60_000; t += 10_000) w.sample(t, (bytes += 1_250_000), 0);
  assert.equal(w.kbps(60_000, bytes, 0).recv, 1000);
  for (let t = 70_000; t <= 90_000; t += 10_000) w.sample(t, (bytes += 2_500_000), 0);
  assert.equal(w.kbps(90_000, bytes, 0).recv, 2000, 'the 30 s window holds only the new rate');
  assert.equal(w.kbps(95_000, bytes + 1_250_000, 0).recv, Math.round(((7_500_000 + 1_250_000) * 8) / 35_000), 'span = oldest sample in the window to now');
  assert.equal(KBPS_WINDOW_MS, 30_000);
});

test('a counter that went down (the entity was reset) reads 0, not a negative rate', () => {
  const w = new RateWindow(undefined);
  w.sample(0, 1_000_000, 500);
  assert.deepEqual(w.kbps(2_000, 10, 900), { recv: 0, send: 2 });
  assert.deepEqual(new RateWindow(undefined).kbps(5_000, 1, 1), { recv: 0, send: 0 }, 'no baseline: no rate');
});

test('RateBook: keys not sampled in a round are forgotten; an unseen key is measured from its start', () => {
  const book = new RateBook();
  book.sample('a', 0, 0, 0, 0);
  book.sample('b', 0, 0, 0, 0);
  book.sweep();
  book.sample('a', 10_000, 1_250_000, 0, 0);
  book.sweep();
  assert.equal(book.size, 1);
  assert.equal(book.kbps('a', 10_000, 1_250_000, 0, 0).recv, 1000);
  assert.equal(book.kbps('never', 2_000, 250_000, 0, 0).recv, 1000, 'from its start');
  assert.equal(book.kbps('never', 2_000, 250_000, 0, undefined).recv, 0, 'start unknown');
});
