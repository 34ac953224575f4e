/**
 * HlsSessions: one admission per viewer (concurrent first requests share it), keyed by hls_ctx or ip + stream;
 * refusals not remembered; segments keep a session alive and count bytes; idle, kick and close end it with one
 * on_stop (`end`); listed through the registry while alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import type { AdmissionRequest, AttachedClient, SessionEnd } from '../../../../core/hub/ports.ts';
import { HlsSessions } from '../../../../core/output/hls/hls-sessions.ts';
import { silentLog } from '../../hub/hub-vectors.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'cam' };
const PATH = '/live/cam.m3u8';

function req(ip: string, port = 5000): IncomingMessage {
  return { socket: { remoteAddress: ip, remotePort: port }, headers: { host: 'gw:8080' } } as unknown as IncomingMessage;
}

function setup(idleMs = 10_000): {
  sessions: HlsSessions;
  asked: AdmissionRequest[];
  ended: SessionEnd[];
  attached: Map<string, AttachedClient>;
  refuse: { on: boolean };
} {
  const asked: AdmissionRequest[] = [];
  const ended: SessionEnd[] = [];
  const attached = new Map<string, AttachedClient>();
  const refuse = { on: false };
  const sessions = new HlsSessions({
    log: silentLog,
    admission: {
      admit: async (r) => {
        asked.push(r);
        await new Promise((ok) => setTimeout(ok, 20));
        if (refuse.on) throw new GatewayError(ErrorCode.HookRejected, 'on_play refused (test)');
      },
      end: (e) => ended.push(e),
    },
    registry: {
      attachClient: (c) => {
        attached.set(c.who.id, c);
        return () => attached.delete(c.who.id);
      },
    },
    idleMs: () => idleMs,
  });
  return { sessions, asked, ended, attached, refuse };
}

test('one admission per viewer: concurrent first requests share it, reloads do not ask again', async () => {
  const { sessions, asked, attached } = setup();
  await Promise.all([sessions.playlist(req('10.0.0.1'), KEY, PATH, '?t=1'), sessions.playlist(req('10.0.0.1', 5001), KEY, PATH, '?t=1')]);
  await sessions.playlist(req('10.0.0.1'), KEY, PATH, '?t=1');
  assert.equal(asked.length, 1);
  assert.deepEqual(asked[0]?.who.query, 't=1');
  assert.equal(asked[0]?.who.protocol, 'hls');
  assert.equal(asked[0]?.who.remote, '10.0.0.1:5000');
  assert.equal(asked[0]?.tcUrl, 'http://gw:8080/live/cam.m3u8');
  assert.equal(attached.size, 1);
  // another IP is another viewer; the same IP with its own hls_ctx too
  await sessions.playlist(req('10.0.0.2'), KEY, PATH, '');
  await sessions.playlist(req('10.0.0.1'), KEY, PATH, '?hls_ctx=abc');
  await sessions.playlist(req('10.0.0.1'), KEY, PATH, '?hls_ctx=abc');
  assert.equal(asked.length, 3);
  assert.equal(sessions.size, 3);
  sessions.close();
  assert.equal(attached.size, 0);
});

test('a refusal rejects and is not remembered: the next request asks again', async () => {
  const { sessions, asked, refuse, attached } = setup();
  refuse.on = true;
  await assert.rejects(sessions.playlist(req('10.0.0.9'), KEY, PATH, ''), /on_play refused/);
  assert.equal(sessions.size, 0);
  assert.equal(attached.size, 0);
  refuse.on = false;
  await sessions.playlist(req('10.0.0.9'), KEY, PATH, '');
  assert.equal(asked.length, 2);
  assert.equal(sessions.size, 1);
  sessions.close();
});

test('idle: ended with one on_stop; segment requests keep it alive and count bytes', async () => {
  const { sessions, ended, attached } = setup(300);
  await sessions.playlist(req('10.0.0.3'), KEY, PATH, '');
  const client = [...attached.values()][0];
  for (let i = 0; i < 4; i++) {
    await new Promise((ok) => setTimeout(ok, 150));
    sessions.segment(req('10.0.0.3', 6000), `/live/cam-${i}.ts`, 1000);
    sessions.segment(req('10.0.0.4'), `/live/cam-${i}.ts`, 1000); // another IP: not this session
  }
  assert.equal(ended.length, 0, 'alive after 600 ms of segment requests with a 300 ms idle limit');
  assert.equal(client?.sendBytes(), 4000);
  await new Promise((ok) => setTimeout(ok, 500));
  assert.equal(ended.length, 1);
  assert.deepEqual([ended[0]?.action, ended[0]?.who.id, ended[0]?.key], ['play', client?.who.id, KEY]);
  assert.equal(attached.size, 0);
  sessions.close();
  assert.equal(ended.length, 1, 'close does not end it twice');
});

test('kick (registry): on_stop once, and the next request is a new session', async () => {
  const { sessions, ended, attached, asked } = setup();
  await sessions.playlist(req('10.0.0.5'), KEY, PATH, '');
  const client = [...attached.values()][0] as AttachedClient;
  attached.delete(client.who.id); // the registry detaches, then calls kick
  client.kick('kicked by the API');
  assert.equal(ended.length, 1);
  assert.equal(sessions.size, 0);
  await sessions.playlist(req('10.0.0.5'), KEY, PATH, '');
  assert.equal(asked.length, 2);
  assert.notEqual([...attached.values()][0]?.who.id, client.who.id);
  sessions.close();
  assert.equal(ended.length, 2);
});
