/**
 * Hub fan-out benchmark: one publisher, N counting consumers. Prints messages/s written by the publisher and
 * ns per message per consumer, for the fast path (send returns true) and the queue path (send returns false,
 * the output resumes every 4 messages, as a socket 'drain' would).
 * Run: npx tsx test/bench/hub-fanout.bench.ts
 */
import { pino } from 'pino';
import { SourceHub } from '../../core/hub/source-hub.ts';
import type { ConsumerTarget, Subscriber } from '../../core/hub/ports.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../core/media/message.ts';

const KEY = { vhost: '__defaultVhost__', app: 'live', stream: 'bench' };
const CONSUMER_COUNTS = [1, 100, 1000, 5000];
/** Total consumer deliveries per run (messages × consumers), so every run takes similar time. */
const DELIVERIES_PER_RUN = 20_000_000;
/** Distinct messages (payloads shared across cycles; the time corrector re-bases at each wrap, as after a
 * publisher restart, and still builds one corrected message per write). */
const STREAM_CYCLE = 1000;
const MAX_MESSAGES_PER_RUN = 2_000_000;

function msg(type: MessageType, ts: number, body: number[], size: number): RtmpMessage {
  const payload = Buffer.alloc(size);
  payload.set(body);
  const m = createMessage(type, ts, payload);
  if (m === undefined) throw new Error('empty');
  return m;
}

/** 25 fps video with a keyframe every 50 frames, AAC at ~43 fps: a 2-s-GOP 1.5 Mbit/s stream. */
function makeStream(count: number): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  let v = 0;
  let a = 0;
  for (let i = 0; out.length < count; i++) {
    if (a * 23 <= v * 40) {
      out.push(msg(MessageType.Audio, a * 23, [0xaf, 0x01], 300));
      a++;
    } else {
      const key = v % 50 === 0;
      out.push(msg(MessageType.Video, v * 40, key ? [0x17, 0x01] : [0x27, 0x01], key ? 60_000 : 6_000));
      v++;
    }
  }
  return out;
}

class CountingTarget implements ConsumerTarget {
  count = 0;
  send(): boolean {
    this.count++;
    return true;
  }
}

class SlowTarget implements ConsumerTarget {
  count = 0;
  send(): boolean {
    this.count++;
    return (this.count & 7) !== 0; // full every 8th message
  }
}

function run(label: string, consumers: number, slow: boolean): void {
  const hub = new SourceHub({
    log: pino({ level: 'silent' }),
    vhost: () => ({ gopCache: true, queueLengthMs: 30_000, timeJitter: 'full' }),
  });
  const pub = hub.publish(KEY, { id: 'bench-pub', protocol: 'bench' });
  pub.write(msg(MessageType.Video, 0, [0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f], 40));
  pub.write(msg(MessageType.Audio, 0, [0xaf, 0x00, 0x12, 0x10], 4));
  const subs: Subscriber[] = [];
  const targets: (CountingTarget | SlowTarget)[] = [];
  for (let i = 0; i < consumers; i++) {
    const t = slow ? new SlowTarget() : new CountingTarget();
    targets.push(t);
    subs.push(hub.subscribe(KEY, { id: `p${i}`, protocol: 'bench' }, t));
  }
  const messages = Math.min(MAX_MESSAGES_PER_RUN, Math.max(2000, Math.floor(DELIVERIES_PER_RUN / consumers)));
  const stream = makeStream(STREAM_CYCLE);
  // Warm-up.
  for (let i = 0; i < STREAM_CYCLE; i++) pub.write(stream[i]);
  const start = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) {
    pub.write(stream[i % STREAM_CYCLE]);
    if (slow && i % 4 === 3) for (const s of subs) s.resume();
  }
  const ns = Number(process.hrtime.bigint() - start);
  let delivered = 0;
  for (const t of targets) delivered += t.count;
  let dropped = 0;
  for (const s of subs) dropped += s.stats().droppedMessages;
  hub.close();
  const msgsPerSec = (messages / ns) * 1e9;
  const nsPerDelivery = ns / (messages * consumers);
  console.log(
    `${label.padEnd(6)} consumers=${String(consumers).padStart(5)}  ${msgsPerSec.toFixed(0).padStart(10)} msg/s in  ` +
      `${nsPerDelivery.toFixed(1).padStart(7)} ns/msg/consumer  delivered=${delivered} dropped=${dropped}`,
  );
}

for (const n of CONSUMER_COUNTS) run('fast', n, false);
for (const n of CONSUMER_COUNTS) run('queue', n, true);
