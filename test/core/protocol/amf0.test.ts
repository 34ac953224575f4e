import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AMF0_MAX_DEPTH,
  AMF0_MAX_STRING_BYTES,
  Amf0EcmaArray,
  decodeAmf0,
  decodeAmf0Value,
  encodeAmf0,
  type Amf0Value,
} from '../../../core/protocol/amf0.ts';
import { ErrorCode, isGatewayError } from '../../../core/errors.ts';

/** One case table, tested in both directions (STYLE habit 18). */
const CASES: { name: string; values: Amf0Value[]; bytes: number[] }[] = [
  {
    name: 'number 1.0',
    values: [1],
    bytes: [0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], // marker 0, IEEE-754 double 1.0 big-endian
  },
  { name: 'boolean true, false', values: [true, false], bytes: [0x01, 0x01, 0x01, 0x00] },
  {
    name: 'string "connect"',
    values: ['connect'],
    bytes: [0x02, 0x00, 0x07, ...Buffer.from('connect')], // marker 2, u16 length 7, UTF-8
  },
  { name: 'null, undefined', values: [null, undefined], bytes: [0x05, 0x06] },
  {
    name: 'object {app:"live"}',
    values: [{ app: 'live' }],
    bytes: [
      0x03, // object marker
      0x00, 0x03, ...Buffer.from('app'), // key
      0x02, 0x00, 0x04, ...Buffer.from('live'), // string value
      0x00, 0x00, 0x09, // empty key + object end
    ],
  },
  {
    name: 'ECMA array {duration:0}',
    values: [new Amf0EcmaArray({ duration: 0 })],
    bytes: [
      0x08, 0x00, 0x00, 0x00, 0x01, // marker 8, associative-count 1
      0x00, 0x08, ...Buffer.from('duration'),
      0x00, 0, 0, 0, 0, 0, 0, 0, 0, // number 0
      0x00, 0x00, 0x09,
    ],
  },
  {
    name: 'strict array [1, "a"]',
    values: [[1, 'a']],
    bytes: [0x0a, 0, 0, 0, 2, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x01, 0x61],
  },
  {
    name: 'date epoch',
    values: [new Date(0)],
    bytes: [0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00], // marker 11, double ms, s16 time-zone 0
  },
];

for (const c of CASES) {
  test(`encode ${c.name}`, () => {
    assert.deepEqual([...encodeAmf0(c.values)], c.bytes);
  });
  test(`decode ${c.name}`, () => {
    assert.deepEqual(decodeAmf0(Uint8Array.from(c.bytes)), c.values);
  });
}

test('strings longer than 65535 bytes use the long string marker', () => {
  const s = 'x'.repeat(70_000);
  const buf = encodeAmf0([s]);
  assert.equal(buf[0], 0x0c);
  assert.equal(buf.readUInt32BE(1), 70_000);
  assert.deepEqual(decodeAmf0(buf), [s]);
});

test('decodes an ffmpeg connect command (object with nested values)', () => {
  const values: Amf0Value[] = [
    'connect',
    1,
    { app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; Lavf59.27.100)', tcUrl: 'rtmp://127.0.0.1:1935/live' },
  ];
  assert.deepEqual(decodeAmf0(encodeAmf0(values)), values);
});

test('reference (0x07) resolves to an earlier completed object; bad and cyclic references throw', () => {
  // [ {a:1}, ref 0 ]
  const obj = [0x03, 0x00, 0x01, 0x61, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x09];
  const decoded = decodeAmf0(Uint8Array.from([...obj, 0x07, 0x00, 0x00]));
  assert.deepEqual(decoded, [{ a: 1 }, { a: 1 }]);
  assert.equal(decoded[0], decoded[1]);
  assert.throws(() => decodeAmf0(Uint8Array.from([0x07, 0x00, 0x00])), (e) => isGatewayError(e, ErrorCode.Amf0Decode));
  // object whose property refers to itself
  const cyclic = [0x03, 0x00, 0x01, 0x61, 0x07, 0x00, 0x00, 0x00, 0x00, 0x09];
  assert.throws(() => decodeAmf0(Uint8Array.from(cyclic)), /cyclic/);
});

test('ECMA array without an end marker at the end of the buffer is accepted (encoders that omit it)', () => {
  const bytes = [0x08, 0, 0, 0, 1, 0x00, 0x01, 0x61, 0x01, 0x01];
  assert.deepEqual(decodeAmf0(Uint8Array.from(bytes)), [new Amf0EcmaArray({ a: true })]);
});

test('typed object and XML document decode as object and string', () => {
  const typed = [0x10, 0x00, 0x01, 0x43, 0x00, 0x01, 0x61, 0x05, 0x00, 0x00, 0x09];
  assert.deepEqual(decodeAmf0(Uint8Array.from(typed)), [{ a: null }]);
  assert.deepEqual(decodeAmf0(Uint8Array.from([0x0f, 0, 0, 0, 2, 0x3c, 0x61])), ['<a']);
});

test('a "__proto__" key is an own property, not a prototype change', () => {
  const bytes = [0x03, 0x00, 0x09, ...Buffer.from('__proto__'), 0x05, 0x00, 0x00, 0x09];
  const [obj] = decodeAmf0(Uint8Array.from(bytes)) as [Record<string, Amf0Value>];
  assert.equal(Object.getPrototypeOf(obj), Object.prototype);
  assert.ok(Object.hasOwn(obj, '__proto__'));
});

test('unknown markers, truncation, too-deep nesting and huge lengths throw GW_ERR_AMF0_DECODE', () => {
  const bad: [string, number[]][] = [
    ['movieclip', [0x04]],
    ['AMF3 switch', [0x11, 0x01]],
    ['unknown 0x20', [0x20]],
    ['truncated number', [0x00, 0x3f]],
    ['truncated string', [0x02, 0x00, 0x05, 0x61]],
    ['long string over the cap', [0x0c, 0x7f, 0xff, 0xff, 0xff]],
    ['strict array count over remaining bytes', [0x0a, 0xff, 0xff, 0xff, 0xff, 0x05]],
    ['object without end', [0x03, 0x00, 0x01, 0x61, 0x05]],
    ['stray object end', [0x09]],
  ];
  for (const [name, bytes] of bad) {
    assert.throws(() => decodeAmf0(Uint8Array.from(bytes)), (e) => isGatewayError(e, ErrorCode.Amf0Decode), name);
  }
  const deep = [...Array(AMF0_MAX_DEPTH + 2).fill([0x0a, 0, 0, 0, 1]).flat(), 0x05];
  assert.throws(() => decodeAmf0(Uint8Array.from(deep)), /deeper/);
  assert.ok(AMF0_MAX_STRING_BYTES >= 65535);
});

test('decodeAmf0Value reads one value and returns the next offset', () => {
  const buf = encodeAmf0(['@setDataFrame', 'onMetaData', 1]);
  const first = decodeAmf0Value(buf, 0);
  assert.equal(first.value, '@setDataFrame');
  assert.equal(first.next, 16);
  assert.equal(decodeAmf0Value(buf, first.next).value, 'onMetaData');
});

const amf0Arb: fc.Arbitrary<Amf0Value> = fc.letrec<{ value: Amf0Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double(),
    fc.boolean(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 10 }), tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 5, noNullPrototype: true }).map((d) => new Amf0EcmaArray(d)),
  ),
})).value;

test('property: decode(encode(values)) deep-equals values', () => {
  fc.assert(
    fc.property(fc.array(amf0Arb, { maxLength: 6 }), (values) => {
      assert.deepEqual(decodeAmf0(encodeAmf0(values)), values);
    }),
    { numRuns: 300 },
  );
});

test('property: any bytes decode or throw GatewayError only; input is not mutated', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const before = Uint8Array.from(bytes);
      try {
        decodeAmf0(bytes);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.Amf0Decode), String(e));
      }
      assert.deepEqual(bytes, before, 'input integrity');
    }),
    { numRuns: 2000 },
  );
});

test('property: every truncation of a valid encoding throws GatewayError or decodes a prefix', () => {
  fc.assert(
    fc.property(fc.array(amf0Arb, { minLength: 1, maxLength: 4 }), fc.nat(), (values, cut) => {
      const buf = encodeAmf0(values);
      const truncated = buf.subarray(0, cut % buf.length);
      try {
        decodeAmf0(truncated);
      } catch (e) {
        assert.ok(isGatewayError(e, ErrorCode.Amf0Decode), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
