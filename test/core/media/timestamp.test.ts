import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PTS_MODULO, Pts33Unwrapper, ticks90kToMs } from '../../../core/media/timestamp.ts';

test('Pts33Unwrapper returns the first value unchanged and follows small steps both ways', () => {
  const u = new Pts33Unwrapper();
  assert.equal(u.unwrap(900_000), 900_000);
  assert.equal(u.unwrap(903_003), 903_003);
  assert.equal(u.unwrap(900_000), 900_000, 'a step back (B-frame PTS) is not a wrap');
});

test('Pts33Unwrapper grows past 2^33 across a wrap and steps back across it', () => {
  const u = new Pts33Unwrapper();
  const nearEnd = PTS_MODULO - 1800;
  assert.equal(u.unwrap(nearEnd), nearEnd);
  assert.equal(u.unwrap(1200), PTS_MODULO + 1200, 'wrapped forward by 3000 ticks');
  assert.equal(u.unwrap(PTS_MODULO - 600), PTS_MODULO - 600, 'small step back across the wrap point');
  assert.equal(u.unwrap(4200), PTS_MODULO + 4200);
  assert.equal(u.unwrap(PTS_MODULO - 10), PTS_MODULO - 10, 'back across the wrap point again');
  // run the clock forward through a second wrap in steps of 2^31
  let abs = PTS_MODULO - 10;
  for (let i = 0; i < 5; i++) {
    abs += 2 ** 31;
    assert.equal(u.unwrap(abs % PTS_MODULO), abs);
  }
  assert.ok(abs > 2 * PTS_MODULO);
});

test('Pts33Unwrapper: a jump of 2^32 or more is taken as a step back; reset() forgets the clock', () => {
  const u = new Pts33Unwrapper();
  u.unwrap(0);
  assert.equal(u.unwrap(2 ** 32 - 1), 2 ** 32 - 1);
  const v = new Pts33Unwrapper();
  v.unwrap(0);
  assert.equal(v.unwrap(2 ** 32), -(2 ** 32));
  v.reset();
  assert.equal(v.unwrap(12345), 12345);
});

test('Pts33Unwrapper property: unwrapped deltas equal the true deltas for steps within ±2^31', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: PTS_MODULO - 1 }), fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), { maxLength: 50 }), (start, steps) => {
      const u = new Pts33Unwrapper();
      let truth = start;
      assert.equal(u.unwrap(start), start);
      for (const s of steps) {
        truth += s;
        const wire = ((truth % PTS_MODULO) + PTS_MODULO) % PTS_MODULO;
        assert.equal(u.unwrap(wire), truth);
      }
    }),
    { numRuns: 200 },
  );
});

test('ticks90kToMs rounds to the nearest ms and handles values past 2^32', () => {
  assert.equal(ticks90kToMs(0), 0);
  assert.equal(ticks90kToMs(90), 1);
  assert.equal(ticks90kToMs(3003), 33); // 33.37 ms
  assert.equal(ticks90kToMs(3045), 34); // 33.83 ms
  assert.equal(ticks90kToMs(PTS_MODULO), 95_443_718); // 2^33 / 90 = 95443717.69
  assert.equal(ticks90kToMs(-900), -10);
});
