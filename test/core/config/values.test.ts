import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_SECONDS,
  parseEnum,
  parseInteger,
  parseListen,
  parseListenAddress,
  parseOnOff,
  parseRtmpUrl,
  parseSecondsToMs,
  parseString,
} from '../../../core/config/values.ts';

test('on/off and its synonyms', () => {
  for (const w of ['on', 'yes', 'true', 'ON', 'True']) assert.deepEqual(parseOnOff(w), { value: true });
  for (const w of ['off', 'no', 'false', 'OFF']) assert.deepEqual(parseOnOff(w), { value: false });
  for (const w of ['', '1', '0', 'enable', 'onn']) assert.deepEqual(parseOnOff(w), { error: 'expected on or off' });
});

test('integers with a range', () => {
  assert.deepEqual(parseInteger('1000', 1, 1000), { value: 1000 });
  assert.deepEqual(parseInteger('-5', -10, 0), { value: -5 });
  assert.deepEqual(parseInteger('0', 1, 10), { error: 'expected an integer in [1, 10]' });
  for (const bad of ['', '1.5', '1e3', '0x10', ' 1', '12345678901234567890']) {
    assert.deepEqual(parseInteger(bad, 0, 100), { error: 'expected an integer' }, bad);
  }
});

test('seconds become milliseconds, fractions allowed', () => {
  assert.deepEqual(parseSecondsToMs('10', 0), { value: 10_000 });
  assert.deepEqual(parseSecondsToMs('0.5', 0), { value: 500 });
  assert.deepEqual(parseSecondsToMs('0', 0), { value: 0 });
  assert.deepEqual(parseSecondsToMs('0.0001', 0), { value: 0 });
  assert.deepEqual(parseSecondsToMs('0', 0.1), { error: `expected seconds in [0.1, ${MAX_SECONDS}]` });
  assert.deepEqual(parseSecondsToMs(String(MAX_SECONDS + 1), 0), { error: `expected seconds in [0, ${MAX_SECONDS}]` });
  for (const bad of ['', '-1', '1s', '.5', '5.', 'ten', '1e2']) {
    assert.deepEqual(parseSecondsToMs(bad, 0), { error: 'expected a number of seconds' }, bad);
  }
});

test('enums match exactly', () => {
  const values = ['full', 'zero', 'off'] as const;
  assert.deepEqual(parseEnum('zero', values), { value: 'zero' });
  assert.deepEqual(parseEnum('Full', values), { error: 'expected one of full, zero, off' });
});

test('listen addresses: port, host:port, [ipv6]:port, several', () => {
  assert.deepEqual(parseListenAddress('1935'), { value: { host: undefined, port: 1935 } });
  assert.deepEqual(parseListenAddress('0'), { value: { host: undefined, port: 0 } });
  assert.deepEqual(parseListenAddress('127.0.0.1:1935'), { value: { host: '127.0.0.1', port: 1935 } });
  assert.deepEqual(parseListenAddress('0.0.0.0:8080'), { value: { host: '0.0.0.0', port: 8080 } });
  assert.deepEqual(parseListenAddress('localhost:65535'), { value: { host: 'localhost', port: 65535 } });
  assert.deepEqual(parseListenAddress('[::1]:1935'), { value: { host: '::1', port: 1935 } });
  assert.deepEqual(parseListenAddress('[::]:1935'), { value: { host: '::', port: 1935 } });
  assert.deepEqual(parseListenAddress('65536'), { error: "invalid port in '65536': expected 0..65535" });
  assert.deepEqual(parseListenAddress('1.2.3.4:70000'), { error: "invalid port in '1.2.3.4:70000': expected 0..65535" });
  assert.deepEqual(parseListenAddress('[::1]:99999'), { error: "invalid port in '[::1]:99999': expected 0..65535" });
  assert.deepEqual(parseListenAddress('::1:1935'), { error: "invalid address '::1:1935': write an IPv6 address as [addr]:port" });
  assert.deepEqual(parseListenAddress('[zz]:1935'), { error: "invalid IPv6 address 'zz'" });
  assert.deepEqual(parseListenAddress('[::1]'), { error: "invalid address '[::1]': expected [ipv6]:port" });
  assert.deepEqual(parseListenAddress('abc'), { error: "invalid address 'abc': expected port, host:port or [ipv6]:port" });
  assert.deepEqual(parseListenAddress(':1935'), { error: "invalid address ':1935': expected port, host:port or [ipv6]:port" });
  assert.deepEqual(parseListenAddress('h/x:1'), { error: "invalid host 'h/x'" });
  assert.deepEqual(parseListenAddress('-1'), { error: "invalid address '-1': expected port, host:port or [ipv6]:port" });
  assert.deepEqual(parseListen(['1935', '[::1]:1936']), {
    value: [{ host: undefined, port: 1935 }, { host: '::1', port: 1936 }],
  });
  assert.deepEqual(parseListen(['1935', 'x']), { error: "invalid address 'x': expected port, host:port or [ipv6]:port" });
});

test('strings and RTMP URL templates', () => {
  assert.deepEqual(parseString('./html'), { value: './html' });
  assert.deepEqual(parseString(''), { error: 'expected a non-empty string' });
  for (const ok of ['rtmp://127.0.0.1/live/livestream', 'rtmp://127.0.0.1:[port]/[app]/[stream]', 'rtmp://h/a/s?vhost=v']) {
    assert.deepEqual(parseRtmpUrl(ok), { value: ok });
  }
  for (const bad of ['http://h/a/s', 'rtmp://h', 'rtmp:///a/s', 'rtmp://h/', 'rtmp://h/a b']) {
    assert.deepEqual(parseRtmpUrl(bad), { error: 'expected rtmp://host[:port]/app/stream' }, bad);
  }
});
