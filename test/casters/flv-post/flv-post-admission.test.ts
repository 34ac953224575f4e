/**
 * FLV POST asks admission (PublishTarget.admit: security, then http_hooks on_publish) before the first tag is
 * published: a real node:http client against the caster on 127.0.0.1:0, with a fake hub and an admission under
 * the test's control. Refused → 403 with a short text body (with and without `Expect: 100-continue`, the body
 * drained), nothing published; a body sent while the answer is pending waits and is published whole once
 * allowed; a client gone before the answer publishes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { FlvPostCaster } from '../../../casters/flv-post/flv-post-caster.ts';
import type { CasterOutput } from '../../../casters/caster.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { controlledAdmission, type AdmitAnswer, type ControlledAdmission } from '../../helpers/fake-admission.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';

const log = pino({ level: 'silent' });
const FLV = readFileSync(fixture('flv/h264-aac-320x240-10s.flv'));
const KEY = '__defaultVhost__/live/sea';
/** Tags in the fixture (header 9 + PreviousTagSize0 4, then tag + PreviousTagSize). */
const TAGS = ((): number => {
  let n = 0;
  for (let off = 13; off + 11 <= FLV.length; off += 11 + FLV.readUIntBE(off + 1, 3) + 4) n++;
  return n;
})();

interface Setup {
  readonly hub: FakeHub;
  readonly caster: FlvPostCaster;
  readonly admission: ControlledAdmission;
}

async function setup(answer: AdmitAnswer): Promise<Setup> {
  const hub = fakeHub();
  const admission = controlledAdmission(answer);
  const output: CasterOutput = ({ app, stream }) => ({
    hub, key: { vhost: '__defaultVhost__', app, stream }, url: `rtmp://127.0.0.1/${app}/${stream}`, local: true, admit: admission.admit,
  });
  const caster = new FlvPostCaster({ output, listen: { host: '127.0.0.1', port: 0 }, idleTimeoutMs: 5_000, lingerMs: 300, log });
  await caster.start();
  return { hub, caster, admission };
}

interface Reply {
  readonly status: number;
  readonly text: string;
  /** Local port of the client's connection. */
  readonly localPort: number;
}

/** POST `body` in 16 KiB writes; resolves with the response even when it comes before the body is sent. */
function post(port: number, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let localPort = 0;
    let answered = false;
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'Content-Type': 'video/x-flv', ...headers }, agent: false }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8'), localPort }));
      res.on('error', reject);
    });
    req.on('socket', (s) => s.on('connect', () => { localPort = s.localPort ?? 0; }));
    req.on('error', (err) => { if (!answered) reject(err); });
    const send = (): void => {
      for (let i = 0; i < body.length; i += 16384) req.write(body.subarray(i, i + 16384));
      req.end();
    };
    if (headers['Expect'] === '100-continue') req.on('continue', send);
    else send();
  });
}

test('allowed: the question carries the real ip:port, the query as param and tcUrl; every tag published', async () => {
  const { hub, caster, admission } = await setup('allow');
  try {
    const r = await post(caster.port, '/live/sea.flv?token=abc', FLV);
    assert.equal(r.status, 200, r.text);
    assert.equal(hub.published.get(KEY)?.length, TAGS);
    assert.equal(admission.asked.length, 1);
    const q = admission.asked[0]!;
    assert.match(q.who.id, /^flv-\d+$/);
    assert.deepEqual({ ...q.who, id: '' }, { id: '', protocol: 'http-flv-post', remote: `127.0.0.1:${r.localPort}`, query: 'token=abc' });
    assert.deepEqual(q.extra, { tcUrl: `http://127.0.0.1:${caster.port}/live` });
    const r2 = await post(caster.port, '/live/sea.flv', FLV);
    assert.equal(r2.status, 200);
    assert.equal(admission.asked[1]?.who.query, undefined, 'no query: no param');
  } finally {
    await caster.stop();
  }
});

for (const answer of ['security', 'hook'] as const) {
  for (const expect of [false, true]) {
    test(`refused (${answer})${expect ? ' with Expect: 100-continue' : ', body already sent'}: 403 with a short text body, nothing published`, async () => {
      const { hub, caster } = await setup(answer);
      try {
        const r = await post(caster.port, '/live/sea.flv?token=bad', FLV, expect ? { Expect: '100-continue' } : {});
        assert.equal(r.status, 403);
        assert.match(r.text, answer === 'security' ? /^GW_ERR_SECURITY_DENIED: publishing live\/sea is not allowed\n$/ : /^GW_ERR_HOOK_REJECTED: publishing live\/sea is not allowed\n$/);
        assert.deepEqual(hub.events, []);
        assert.equal(hub.published.get(KEY), undefined);
        assert.equal(caster.stats()['admissionRefusals'], 1);
      } finally {
        await caster.stop();
      }
    });
  }
}

test('an admission that fails otherwise: 500, nothing published', async () => {
  const { hub, caster } = await setup('error');
  try {
    assert.equal((await post(caster.port, '/live/sea.flv', FLV)).status, 500);
    assert.deepEqual(hub.events, []);
  } finally {
    await caster.stop();
  }
});

test('body sent while admission is pending: nothing published until allowed, then every tag', async () => {
  const { hub, caster, admission } = await setup('pending');
  try {
    const reply = post(caster.port, '/live/sea.flv', FLV);
    await waitFor(() => admission.pending === 1, 3000, 5);
    await sleep(100);
    assert.deepEqual(hub.events, [], 'nothing published while pending');
    assert.equal(caster.stats()['pendingAdmissions'], 1);
    admission.settle('allow');
    const r = await reply;
    assert.equal(r.status, 200, r.text);
    assert.equal(hub.published.get(KEY)?.length, TAGS, 'the body waited, none of it lost');
    assert.equal(caster.stats()['pendingAdmissions'], 0);
  } finally {
    await caster.stop();
  }
});

test('pending, then denied: 403 and the waiting body drained; pending, then the client leaves: an allow publishes nothing', async () => {
  const { hub, caster, admission } = await setup('pending');
  try {
    const reply = post(caster.port, '/live/sea.flv', FLV);
    await waitFor(() => admission.pending === 1, 3000, 5);
    admission.settle('hook');
    assert.equal((await reply).status, 403);

    const gone = request({ host: '127.0.0.1', port: caster.port, method: 'POST', path: '/live/sea.flv', agent: false });
    gone.on('error', () => {});
    gone.write(FLV.subarray(0, 4096));
    await waitFor(() => admission.pending === 1, 3000, 5);
    gone.destroy();
    await sleep(100);
    admission.settle('allow');
    await sleep(100);
    assert.deepEqual(hub.events, []);
    assert.equal(caster.stats()['connections'], 0);
  } finally {
    await caster.stop();
  }
});

test('caster stopped while admission is pending: nothing published afterwards', async () => {
  const { hub, caster, admission } = await setup('pending');
  const reply = post(caster.port, '/live/sea.flv', FLV).catch((err: unknown) => err);
  await waitFor(() => admission.pending === 1, 3000, 5);
  await caster.stop();
  admission.settle('allow');
  await reply;
  await sleep(50);
  assert.deepEqual(hub.events, []);
});
