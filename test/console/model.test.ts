/**
 * The console's pure part (html/console/model.js, loaded in Node as the browser loads it): the API base from the
 * page URL, media URLs with encoded API strings, input QoS lines from /api/v1/casters and /api/v1/ingesters, and
 * value formatting. Also: no console script writes HTML from strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const consoleDir = new URL('../../html/console/', import.meta.url).pathname;

interface ConsoleModel {
  apiBaseOf(pageUrl: string): string;
  pageUrlWithApi(pageUrl: string, api: string): string;
  mediaPath(stream: { app: string; name: string }, vhostName: string, ext: 'flv' | 'm3u8'): string;
  streamKeyOf(stream: { app: string; name: string }, vhostName: string): string;
  inputQos(key: string, casters: readonly unknown[], ingesters: readonly unknown[]): string;
  videoText(video: unknown): string;
  audioText(audio: unknown): string;
  num(v: unknown): string;
  duration(seconds: unknown): string;
  byteSize(bytes: unknown): string;
}

const model = (await import(join(consoleDir, 'model.js'))) as ConsoleModel;

test('API base: ?api= origin or port, else this host on 1985; bad values fall back', () => {
  assert.equal(model.apiBaseOf('http://gw.example:8080/'), 'http://gw.example:1985');
  assert.equal(model.apiBaseOf('https://[::1]:8443/?x=1'), 'https://[::1]:1985');
  assert.equal(model.apiBaseOf('http://gw:8080/?api=8085'), 'http://gw:8085');
  assert.equal(model.apiBaseOf('http://gw:8080/?api=http://10.0.0.2:1985/'), 'http://10.0.0.2:1985');
  assert.equal(model.apiBaseOf('http://gw:8080/?api=https://proxy.example/castgate/api/'), 'https://proxy.example/castgate/api');
  assert.equal(model.apiBaseOf('http://gw:8080/?api=10.0.0.3:2000'), 'http://10.0.0.3:2000');
  assert.equal(model.apiBaseOf('http://gw:8080/?api=javascript:alert(1)'), 'http://gw:1985', 'only http(s)');
  assert.equal(model.apiBaseOf('http://gw:8080/?api=http://%zz'), 'http://gw:1985');
  assert.equal(model.pageUrlWithApi('http://gw:8080/?api=9', 'http://gw:1985'), 'http://gw:8080/', 'the default drops ?api=');
  assert.equal(model.pageUrlWithApi('http://gw:8080/', ' 8085 '), 'http://gw:8080/?api=8085');
});

test('media paths: app segments and name percent-encoded, ?vhost= for a named vhost', () => {
  assert.equal(model.mediaPath({ app: 'live', name: 'cam1' }, '__defaultVhost__', 'flv'), '/live/cam1.flv');
  assert.equal(model.mediaPath({ app: 'live/sub', name: 'a b' }, 'v.example', 'm3u8'), '/live/sub/a%20b.m3u8?vhost=v.example');
  assert.equal(model.mediaPath({ app: '..', name: '<x>?&' }, '__defaultVhost__', 'flv'), '/../%3Cx%3E%3F%26.flv');
  assert.equal(model.streamKeyOf({ app: 'live', name: 'cam1' }, '__defaultVhost__'), '__defaultVhost__/live/cam1');
});

test('input QoS: a caster session or an ingest engine of the stream, else empty', () => {
  const casters = [
    { index: 0, type: 'rtsp', listen: 8554, state: 'listening', sessions: [
      { id: 'rtsp-4', stream: '__defaultVhost__/live/cam1', remote: '10.0.0.9:5000', state: 'recording', packets: 900, lost: 3, reordered: 1, cc_errors: null, resyncs: null, kbps: 812 },
    ] },
    { index: 1, type: 'mpegts_over_udp', listen: 8935, state: 'listening', sessions: [
      { id: 'udp-2', stream: '__defaultVhost__/live/ts', remote: '10.0.0.8:4000', state: 'publishing', packets: 10, lost: null, reordered: null, cc_errors: 2, resyncs: 0, kbps: 1500.5 },
    ] },
  ];
  const ingesters = [{ id: 'demo', vhost: '__defaultVhost__', type: 'file', state: 'running', engines: [
    { index: 0, mode: 'ffmpeg-pipe', stream: '__defaultVhost__/live/demo', state: 'running', restarts: 2, fps: 25, speed: 1.01 },
  ] }];
  assert.equal(model.inputQos('__defaultVhost__/live/cam1', casters, ingesters), 'rtsp from 10.0.0.9:5000, recording, lost 3, reordered 1, 812 kbps');
  assert.equal(model.inputQos('__defaultVhost__/live/ts', casters, ingesters), 'mpegts_over_udp from 10.0.0.8:4000, publishing, CC errors 2, resyncs 0, 1500.5 kbps');
  assert.equal(model.inputQos('__defaultVhost__/live/demo', casters, ingesters), 'ingest demo (ffmpeg-pipe), running, 25 fps, speed 1.01x, restarts 2');
  assert.equal(model.inputQos('__defaultVhost__/live/other', casters, ingesters), '');
});

test('value formatting', () => {
  assert.equal(model.videoText({ codec: 'H264', profile: 'High', level: '3.1', width: 1280, height: 720 }), 'H264 High 1280×720');
  assert.equal(model.videoText({ codec: 'HEVC', profile: 'Other', level: 'Other', width: 0, height: 0 }), 'HEVC');
  assert.equal(model.videoText(null), '—');
  assert.equal(model.audioText({ codec: 'AAC', sample_rate: 48000, channel: 2, profile: 'LC' }), 'AAC 48 kHz stereo');
  assert.equal(model.audioText({ codec: 'AAC', sample_rate: 44100, channel: 1, profile: 'LC' }), 'AAC 44.1 kHz mono');
  assert.equal(model.audioText(null), '—');
  assert.deepEqual([model.num(3), model.num(1.234), model.num(12.34), model.num(null), model.num(Number.NaN)], ['3', '1.23', '12.3', '—', '—']);
  assert.deepEqual([model.duration(5.9), model.duration(65), model.duration(3720), model.duration(null)], ['5s', '1m 05s', '1h 02m', '—']);
  assert.deepEqual([model.byteSize(812), model.byteSize(1234), model.byteSize(56_700_000), model.byteSize(undefined)], ['812 B', '1.2 kB', '57 MB', '—']);
});

test('console scripts never turn strings into HTML (API strings are text)', () => {
  const scripts = readdirSync(consoleDir).filter((f) => f.endsWith('.js'));
  assert.deepEqual(scripts.sort(), ['console.js', 'model.js']);
  for (const f of scripts) {
    const src = readFileSync(join(consoleDir, f), 'utf8');
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
      assert.ok(!src.includes(sink), `${f} uses ${sink}`);
    }
  }
});
