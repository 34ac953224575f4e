/**
 * Shared HTTP-TS serialization: one TsStreamSerializer per stream (core/remux/rtmp-to-ts-stream.ts) for all of
 * its HTTP-TS players, instead of one TS muxer per player. Each message is turned into TS packets once and every
 * player writes the same Buffer.
 *
 * The fan-out is itself a hub consumer of the stream, subscribed before its first player: the hub delivers each
 * message to its consumers in subscription order, so every message is serialized in stream order before any
 * player sees it (the GOP cache replayed to the fan-out when it subscribes included), and its `send` never
 * reports "full", so it never skips one. Players look their message up (`chunkOf`); a player whose queue
 * dropped frames resumes at a keyframe, whose chunk starts with PAT/PMT.
 *
 * Each chunk carries its position in the stream's output (`seq`). A player whose next chunk is not one past its
 * last one skipped packets: its continuity_counters jump on every PID of the program (`programPids`), so it flags
 * the first packet of each PID after the gap with discontinuity_indicator, on copies of those packets
 * (core/protocol/mpegts/ts-discontinuity.ts); the shared chunks are never written.
 *
 * Lifetime: acquired by each HTTP-TS player (`acquireTsFanout`), released when it stops; the last release leaves
 * the hub. An unpublish resets the serializer (the next publish is a new program).
 */
import type { ConsumerTarget, HubPort, SourceEvent, Subscriber } from '../hub/ports.ts';
import { nextSessionId } from '../log.ts';
import type { RtmpMessage } from '../media/message.ts';
import { streamKeyString, type StreamKey } from '../media/stream-key.ts';
import { TsStreamSerializer, type TsChunk } from '../remux/rtmp-to-ts-stream.ts';
import { parsePmt } from '../protocol/mpegts/psi.ts';
import { PAT_PID, TS_PACKET_SIZE } from '../protocol/mpegts/ts-packet.ts';

/** One message's packets, numbered in the stream's output. */
export interface TsFanoutChunk extends TsChunk {
  /** 0, 1, 2, ... per fan-out: a player whose next chunk is not `seq + 1` of its last one skipped packets. */
  readonly seq: number;
}

/** Fan-outs per hub, by stream key string. */
const fanouts = new WeakMap<HubPort, Map<string, TsFanout>>();

export class TsFanout implements ConsumerTarget {
  readonly #registry: Map<string, TsFanout>;
  readonly #name: string;
  readonly #serializer = new TsStreamSerializer();
  /** Each message's packets (undefined: it writes none). Entries go with the messages (GOP cache, queues). */
  readonly #chunks = new WeakMap<RtmpMessage, TsFanoutChunk | null>();
  #seq = 0;
  /** `tables` that `#pids` was read from. */
  #pidsOf: Buffer | undefined;
  #pids: readonly number[] = [];
  #sub: Subscriber | undefined;
  #players = 0;
  #failure: string | undefined;
  #closed = false;

  constructor(registry: Map<string, TsFanout>, name: string) {
    this.#registry = registry;
    this.#name = name;
  }

  /** Why the stream cannot be served as TS (its codec), once known; players then stop with it. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** The last PAT/PMT packets: written first to a player whose first chunk has none. */
  get tables(): Buffer | undefined {
    return this.#serializer.tables;
  }

  /**
   * The packets of `msg` as serialized for this stream: undefined when it writes none (configs, metadata,
   * skipped frames) or was never seen by this fan-out (a message of another publish).
   */
  chunkOf(msg: RtmpMessage): TsFanoutChunk | undefined {
    return this.#chunks.get(msg) ?? undefined;
  }

  /**
   * The PIDs of the current program, from the last PAT/PMT written: PAT (0), the PMT's, and its elementary
   * streams; empty before the program started. Read again only when the tables changed.
   */
  get programPids(): readonly number[] {
    const tables = this.#serializer.tables;
    if (tables === this.#pidsOf) return this.#pids;
    this.#pidsOf = tables;
    this.#pids = tables === undefined ? [] : pidsOfTables(tables);
    return this.#pids;
  }

  /** ConsumerTarget: serialize in stream order; never full. */
  send(msg: RtmpMessage): boolean {
    if (this.#failure !== undefined) return true;
    try {
      const chunk = this.#serializer.write(msg);
      this.#chunks.set(msg, chunk === undefined ? null : { bytes: chunk.bytes, startsWithTables: chunk.startsWithTables, seq: this.#seq++ });
    } catch (err) {
      this.#failure = err instanceof Error ? err.message : String(err);
    }
    return true;
  }

  onSourceEvent(event: SourceEvent): void {
    if (event !== 'unpublish') return;
    this.#serializer.reset(); // chunks of the old publish stay: slow players still write their queued tail
    this.#failure = undefined;
  }

  /** The hub detached the fan-out (gateway stopping): its players are detached too. */
  onClose(): void {
    this.#sub = undefined;
    this.#close();
  }

  /** One player stopped; the last one closes the fan-out. */
  release(): void {
    if (--this.#players > 0) return;
    this.#sub?.close();
    this.#sub = undefined;
    this.#close();
  }

  /** @internal acquireTsFanout: count a player; subscribe on the first. */
  attach(hub: HubPort, key: StreamKey): void {
    this.#players++;
    if (this.#sub !== undefined || this.#closed) return;
    this.#sub = hub.subscribe(key, { id: nextSessionId('http-ts-mux'), protocol: 'http-ts-mux' }, this, { useGopCache: true });
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#registry.get(this.#name) === this) this.#registry.delete(this.#name);
  }
}

/** PAT, PMT and elementary PIDs of table packets as the serializer writes them (a PAT packet, then the PMT's). */
function pidsOfTables(tables: Buffer): number[] {
  const pids = [PAT_PID];
  if (tables.length < 2 * TS_PACKET_SIZE) return pids;
  const o = TS_PACKET_SIZE;
  pids.push(((tables[o + 1] & 0x1f) << 8) | tables[o + 2]);
  try {
    const afc = (tables[o + 3] >> 4) & 0x03;
    const payload = (afc & 0x02) !== 0 ? o + 5 + tables[o + 4] : o + 4;
    const pmt = parsePmt(tables.subarray(payload + 1 + tables[payload], o + TS_PACKET_SIZE));
    for (const s of pmt.streams) pids.push(s.elementaryPid);
  } catch {
    // not a PMT we wrote: the tables' PIDs alone
  }
  return pids;
}

/**
 * The stream's TS fan-out, subscribed to the hub (created, and subscribed, when this is its first player).
 * Call before subscribing the player, so the fan-out sees each message first; `release()` when the player stops.
 * @throws whatever HubPort.subscribe throws (GW_ERR_STREAM_BUSY while the gateway stops); nothing is then held.
 */
export function acquireTsFanout(hub: HubPort, key: StreamKey): TsFanout {
  let byKey = fanouts.get(hub);
  if (byKey === undefined) {
    byKey = new Map();
    fanouts.set(hub, byKey);
  }
  const name = streamKeyString(key);
  let fanout = byKey.get(name);
  if (fanout === undefined) {
    fanout = new TsFanout(byKey, name);
    byKey.set(name, fanout);
  }
  try {
    fanout.attach(hub, key);
  } catch (err) {
    fanout.release();
    throw err;
  }
  return fanout;
}
