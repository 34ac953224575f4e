/**
 * mpegts_over_udp asks admission (PublishTarget.admit: security, then http_hooks on_publish) for each sender
 * session once its program is found: real UDP datagrams on loopback (the fixture's 7×188-byte datagrams, paced
 * and looped), the fake hub, an admission under the test's control and a short retry interval. Checks: the
 * question (sender ip:port, no query), datagrams dropped and counted while pending or refused, nothing published
 * on refusal, the retry no sooner than the interval, publishing from a keyframe after a late allow, a sender gone
 * before the answer publishes nothing, and a refused sender neither blocks nor displaces another one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { MpegtsUdpCaster } from '../../../casters/mpegts-udp/mpegts-udp-caster.ts';
import { makeStreamKey } from '../../../core/media/stream-key.ts';
import { fakeHub, type FakeHub } from '../../helpers/fake-hub.ts';
import { admittedTarget, controlledAdmission, type ControlledAdmission } from '../../helpers/fake-admission.ts';
import { fixture, waitFor } from '../../helpers/peers.ts';

const log = pino({ level: 'silent' });
const TS = readFileSync(fixture('ts/h264-aac-320x240-25fps-10s.ts'));
const KEY = makeStreamKey('__defaultVhost__', 'live', 'udp');
const KEY_STRING = '__defaultVhost__/live/udp';
const DATAGRAMS: Buffer[] = [];
for (let i = 0; i < TS.length; i += 7 * 188) DATAGRAMS.push(TS.subarray(i, Math.min(i + 7 * 188, TS.length)));
/** Short retry interval for the tests (the default is ADMISSION_RETRY_MS, 5 s). */
const RETRY_MS = 400;

interface Harness {
  readonly caster: MpegtsUdpCaster;
  readonly hub: FakeHub;
  readonly admission: ControlledAdmission;
  stop(): Promise<void>;
}

async function start(admission: ControlledAdmission, idleTimeoutMs = 10_000): Promise<Harness> {
  const hub = fakeHub();
  const caster = new MpegtsUdpCaster({
    target: admittedTarget(hub, KEY, admission), listen: { host: '127.0.0.1', port: 0 }, idleTimeoutMs, log, admissionRetryMs: RETRY_MS,
  });
  await caster.start();
  return { caster, hub, admission, stop: () => caster.stop() };
}

/** A sender looping the fixture at about 4× real time (80 datagrams per 100 ms) until stopped. */
class Sender {
  readonly socket: Socket = createSocket('udp4');
  #running = true;
  #done: Promise<void> | undefined;
  sent = 0;

  async open(): Promise<string> {
    await new Promise<void>((ok) => this.socket.bind(0, '127.0.0.1', ok));
    return `127.0.0.1:${this.socket.address().port}`;
  }

  start(port: number): void {
    this.#done = (async () => {
      for (let i = 0; this.#running; i = (i + 1) % DATAGRAMS.length) {
        await new Promise<void>((ok) => this.socket.send(DATAGRAMS[i]!, port, '127.0.0.1', () => ok()));
        if (++this.sent % 8 === 0) await sleep(10);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
    this.socket.close();
  }
}

test('refused, then asked again no sooner than the retry interval and allowed: published from a keyframe; datagrams dropped meanwhile', { timeout: 20_000 }, async () => {
  const admission = controlledAdmission((i) => (i === 0 ? 'hook' : 'allow'));
  const h = await start(admission);
  const sender = new Sender();
  const remote = await sender.open();
  sender.start(h.caster.port);
  try {
    await waitFor(() => admission.asked.length === 1, 5000, 5);
    assert.deepEqual(admission.asked[0]?.who, { id: String(h.caster.stats()['session']), protocol: 'mpegts_over_udp', remote }, 'sender ip:port, no query');
    assert.equal(admission.asked[0]?.extra, undefined);
    await sleep(RETRY_MS / 2);
    assert.deepEqual(h.hub.events, [], 'refused: not published');
    assert.ok(Number(h.caster.stats()['admissionDropped']) > 0, 'datagrams of the refused sender dropped and counted');
    assert.equal(admission.asked.length, 1, 'not asked again before the interval');
    await waitFor(() => h.hub.events.length === 1, 5000, 5);
    assert.equal(admission.asked.length, 2);
    const gapMs = admission.asked[1]!.atMs - admission.asked[0]!.atMs;
    assert.ok(gapMs >= RETRY_MS && gapMs < RETRY_MS + 500, `asked again after ${gapMs} ms`);
    assert.match(h.hub.events[0]!, /^publish __defaultVhost__\/live\/udp udp-\d+$/);
    await waitFor(() => (h.hub.published.get(KEY_STRING) ?? []).some((m) => m.kind === 'keyframe'), 5000, 5);
    const video = (h.hub.published.get(KEY_STRING) ?? []).filter((m) => m.type === 9);
    assert.equal(video[0]?.kind, 'video-config', 'sequence header first');
    assert.equal(video[1]?.kind, 'keyframe', 'then a keyframe, never an orphan interframe');
  } finally {
    await sender.stop();
    await h.stop();
  }
});

test('pending: datagrams dropped and nothing published until the answer; a late allow publishes from a keyframe', { timeout: 20_000 }, async () => {
  const admission = controlledAdmission('pending');
  const h = await start(admission);
  const sender = new Sender();
  await sender.open();
  sender.start(h.caster.port);
  try {
    await waitFor(() => admission.pending === 1, 5000, 5);
    await sleep(300);
    assert.deepEqual(h.hub.events, []);
    assert.equal(h.caster.stats()['admission'], 'pending');
    const dropped = Number(h.caster.stats()['admissionDropped']);
    assert.ok(dropped > 10, `dropped ${dropped}`);
    admission.settle('allow');
    await waitFor(() => (h.hub.published.get(KEY_STRING) ?? []).some((m) => m.kind === 'keyframe'), 5000, 5);
    const video = (h.hub.published.get(KEY_STRING) ?? []).filter((m) => m.type === 9);
    assert.deepEqual(video.slice(0, 2).map((m) => m.kind), ['video-config', 'keyframe']);
    assert.equal(admission.asked.length, 1);
  } finally {
    await sender.stop();
    await h.stop();
  }
});

test('the sender goes idle while admission is pending: an allow afterwards publishes nothing', { timeout: 20_000 }, async () => {
  const admission = controlledAdmission('pending');
  const h = await start(admission, 300);
  const sender = new Sender();
  await sender.open();
  sender.start(h.caster.port);
  await waitFor(() => admission.pending === 1, 5000, 5);
  await sender.stop();
  try {
    await waitFor(() => h.caster.stats()['session'] === undefined, 3000, 20);
    admission.settle('allow');
    await sleep(100);
    assert.deepEqual(h.hub.events, []);
  } finally {
    await h.stop();
  }
});

test('a refused sender neither displaces nor blocks another: the second is asked and published while the first keeps sending', { timeout: 20_000 }, async () => {
  const a = new Sender();
  const b = new Sender();
  const remoteA = await a.open();
  const remoteB = await b.open();
  const admission = controlledAdmission((i) => (i === 0 ? 'security' : 'allow'));
  const h = await start(admission);
  a.start(h.caster.port);
  try {
    await waitFor(() => admission.asked.length === 1, 5000, 5);
    assert.equal(admission.asked[0]?.who.remote, remoteA);
    b.start(h.caster.port);
    await waitFor(() => h.hub.events.length === 1, 5000, 5);
    assert.equal(admission.asked[1]?.who.remote, remoteB);
    assert.equal(h.caster.stats()['sender'], remoteB);
    await sleep(RETRY_MS + 200);
    assert.equal(h.caster.stats()['sender'], remoteB, 'the refused sender did not take the stream back');
    assert.equal(admission.asked.length, 2, 'A is not asked again while B owns the stream');
    assert.deepEqual(h.hub.events.length, 1);
  } finally {
    await a.stop();
    await b.stop();
    await h.stop();
  }
});

test('a codec change mid-stream republishes through admission again (a new on_publish for the new publish)', { timeout: 20_000 }, async () => {
  const admission = controlledAdmission('allow');
  const h = await start(admission);
  const socket = createSocket('udp4');
  await new Promise<void>((ok) => socket.bind(0, '127.0.0.1', ok));
  const send = async (datagrams: readonly Buffer[]): Promise<void> => {
    for (let i = 0; i < datagrams.length; i++) {
      await new Promise<void>((ok) => socket.send(datagrams[i]!, h.caster.port, '127.0.0.1', () => ok()));
      if (i % 8 === 7) await sleep(5);
    }
  };
  const hevc = readFileSync(fixture('ts/demux-h265-1s.ts'));
  const hevcDatagrams: Buffer[] = [];
  for (let i = 0; i < hevc.length; i += 7 * 188) hevcDatagrams.push(hevc.subarray(i, Math.min(i + 7 * 188, hevc.length)));
  try {
    await send(DATAGRAMS.slice(0, 120));
    await waitFor(() => (h.hub.published.get(KEY_STRING) ?? []).some((m) => m.kind === 'keyframe'), 5000, 5);
    assert.equal(admission.asked.length, 1);
    await send(hevcDatagrams);
    await waitFor(() => h.hub.events.filter((e) => e.startsWith('publish ')).length === 2, 5000, 5);
    assert.equal(admission.asked.length, 2, 'the republish after the codec change was admitted again');
    assert.equal(admission.asked[1]?.who.id, admission.asked[0]?.who.id, 'same sender session');
    const events = h.hub.events.map((e) => e.split(' ')[0]);
    assert.deepEqual(events.slice(0, 3), ['publish', 'unpublish', 'publish'], h.hub.events.join(', '));
  } finally {
    socket.close();
    await h.stop();
  }
});
