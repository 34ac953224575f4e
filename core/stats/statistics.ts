/**
 * The gateway's statistics in SRS's shapes (SRS trunk/src/app/srs_app_statistic.cpp SrsStatistic: vhosts, streams,
 * clients; v5.0.216), read from the hub when asked, never kept in step by hand: every publisher and player reaches
 * the hub with its SessionInfo, so every caster, ingester, RTMP and HTTP session appears without code of its own.
 *
 * Ids: streams carry the hub source's `vid-xxxxxxx` (generateStatId), vhosts get one per name, clients are the
 * SessionInfo ids (`rtmp-17`, `rtsp-3`, `ingest-cam/0`). Rates (`kbps.recv_30s`/`send_30s`) come from RateBook
 * samples taken every `sampleIntervalMs`.
 *
 * Where castgate differs from SRS (also in the JSON docs of each type):
 * - bytes are FLV tag body bytes through the hub (media payload), not socket bytes: RTMP chunk headers, RTP/TS
 *   overhead and HTTP framing are not counted; a stream's `send_bytes` counts every consumer of it, the
 *   gateway's own outputs (HLS muxer, DVR, forward, transcode input) included;
 * - `tcUrl` is `rtmp://<vhost>/<app>` from the stream key (the client's own tcUrl is not kept);
 * - internal consumers (HLS muxer, DVR, fast cache, transcode input, forwarder input, the shared HTTP-TS muxer) are
 *   not clients (HTTP-TS players are: each is a hub consumer that writes the shared muxer's packets); players the
 *   hub does not feed are listed when their output registers them (ClientRegistry.attachClient);
 * - `/clients?count=N` returns at most N (SRS returns at least 10).
 */
import { randomBytes } from 'node:crypto';
import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import type { ClientRegistry, ClientSnapshot } from '../hub/ports.ts';
import { generateStatId, type HubTotals, type StreamSnapshot } from '../hub/source-hub.ts';
import { DEFAULT_VHOST, type StreamKey } from '../media/stream-key.ts';
import { RateBook } from './rate-window.ts';
import { srsAudio, srsClientType, srsVideo } from './srs-names.ts';
import type { SrsClientJson, SrsStreamJson, SrsSummariesJson, SrsVhostJson } from './srs-json.ts';

export type { SrsClientJson, SrsKbpsJson, SrsStreamJson, SrsSummariesJson, SrsVhostJson } from './srs-json.ts';

/** How often rates and CPU are sampled. */
export const STATS_SAMPLE_INTERVAL_MS = 5_000;

/**
 * Consumers that are the gateway's own outputs, not clients (SessionInfo.protocol of their subscribe): the HLS
 * muxer, DVR, the audio fast cache, a transcode's input, a forwarder's input, the shared HTTP-TS muxer.
 */
export const INTERNAL_CONSUMER_PROTOCOLS: ReadonlySet<string> = new Set(['hls', 'dvr', 'fast-cache', 'transcode', 'forward', 'http-ts-mux']);

/** The hub as the statistics read it (SourceHub). */
export interface StatsHub extends ClientRegistry {
  streams(): readonly StreamSnapshot[];
  totals(): HubTotals;
}

/** A vhost as the config has it, read at each call (so a reloaded config shows at once). */
export interface VhostView {
  readonly name: string;
  readonly enabled: boolean;
  readonly hls: { readonly enabled: boolean; readonly fragmentMs: number };
}

export interface StatisticsOptions {
  readonly hub: StatsHub;
  readonly vhosts: () => readonly VhostView[];
  /** castgate's version, e.g. `0.1.0`. */
  readonly version: string;
  /** Rates and CPU sampling period, ms (default STATS_SAMPLE_INTERVAL_MS). */
  readonly sampleIntervalMs?: number;
  /** Extra sampling each round (castgate's own views: caster sessions), with the time of the round. */
  readonly onSample?: (nowMs: number) => void;
}


/** A client as the API lists it: the hub's snapshot plus what the JSON needs. */
function isClient(c: ClientSnapshot): boolean {
  return c.publish || c.attached === true || !INTERNAL_CONSUMER_PROTOCOLS.has(c.who.protocol);
}

/** SRS srs_generate_stream_url: `/app/stream` on the default vhost, `vhost/app/stream` otherwise. */
export function srsStreamUrl(key: StreamKey): string {
  return `${key.vhost === DEFAULT_VHOST ? '' : key.vhost}/${key.app}/${key.stream}`;
}

/** `ip` of a SessionInfo.remote `ip:port` (IPv6 without brackets: the port is after the last colon). */
export function remoteIp(remote: string | undefined): string {
  if (remote === undefined) return '';
  const i = remote.lastIndexOf(':');
  const ip = i > 0 && /^\d+$/.test(remote.slice(i + 1)) ? remote.slice(0, i) : remote;
  return ip.replace(/^\[(.*)\]$/, '$1');
}

/** A random string of `n` characters of [0-9a-z] (SRS srs_random_str; the `service` id). */
function randomString(n: number): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (const b of randomBytes(n)) out += alphabet[b % alphabet.length];
  return out;
}

function clientKey(c: ClientSnapshot): string {
  return `c:${c.who.id}:${c.streamId}:${c.publish ? 'p' : 'c'}`;
}

export class Statistics {
  /** SRS `server`: changes at every start, so a client knows the earlier ids are void. */
  readonly serverId = generateStatId();
  /** SRS `service`: 8 random characters. */
  readonly serviceId = randomString(8);
  /** SRS `pid`: a string. */
  readonly pid = String(process.pid);
  readonly startedAtMs = Date.now();
  readonly #opts: StatisticsOptions;
  readonly #rates = new RateBook();
  readonly #vhostIds = new Map<string, string>();
  /** Last seen counters of each stream, so a vhost keeps the bytes of streams that are gone. */
  readonly #lastStreams = new Map<string, { readonly vhost: string; readonly recv: number; readonly send: number }>();
  readonly #goneVhostBytes = new Map<string, { recv: number; send: number }>();
  #timer: NodeJS.Timeout | undefined;
  #cpu = { wallMs: Date.now(), usage: process.cpuUsage(), selfRatio: 0, system: systemCpuTimes(), systemRatio: 0 };

  constructor(opts: StatisticsOptions) {
    this.#opts = opts;
  }

  /** Start sampling (an unref'd timer). Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.sample(), this.#opts.sampleIntervalMs ?? STATS_SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One sampling round: rates of every stream, client and vhost, CPU usage (the timer calls it; tests too). */
  sample(nowMs = Date.now()): void {
    const rates = this.#rates;
    const streams = this.#opts.hub.streams();
    const live = new Set<string>();
    for (const s of streams) {
      rates.sample(`s:${s.id}`, nowMs, s.recvBytes, s.sendBytes, s.createdAtMs);
      live.add(s.id);
      this.#lastStreams.set(s.id, { vhost: vhostOf(s.key), recv: s.recvBytes, send: s.sendBytes });
    }
    for (const [id, last] of this.#lastStreams) {
      if (live.has(id)) continue;
      const gone = this.#goneVhostBytes.get(last.vhost) ?? { recv: 0, send: 0 };
      gone.recv += last.recv;
      gone.send += last.send;
      this.#goneVhostBytes.set(last.vhost, gone);
      this.#lastStreams.delete(id);
    }
    for (const c of this.#opts.hub.clients()) if (isClient(c)) rates.sample(clientKey(c), nowMs, c.recvBytes, c.sendBytes, c.sinceMs);
    for (const v of this.#vhostBytes()) rates.sample(`v:${v.name}`, nowMs, v.recv, v.send, undefined);
    this.#opts.onSample?.(nowMs);
    rates.sweep();
    this.#sampleCpu(nowMs);
  }

  /** The rates of an entity of castgate's own views (caster sessions), sampled by `onSample`. */
  get rates(): RateBook {
    return this.#rates;
  }

  /** Every stream with a publisher or a client (SRS removes a stream's statistics when it has neither). */
  streams(): SrsStreamJson[] {
    const clients = this.#clientsByStream();
    const out: SrsStreamJson[] = [];
    for (const s of this.#opts.hub.streams()) {
      const n = clients.get(s.id) ?? 0;
      if (s.publisher === undefined && n === 0) continue;
      out.push(this.#streamJson(s, n));
    }
    return out;
  }

  stream(id: string): SrsStreamJson | undefined {
    return this.streams().find((s) => s.id === id);
  }

  /** Every publisher and player (internal consumers left out), in stream order. */
  clients(): SrsClientJson[] {
    const now = Date.now();
    const out: SrsClientJson[] = [];
    for (const c of this.#opts.hub.clients()) if (isClient(c)) out.push(this.#clientJson(c, now));
    return out;
  }

  client(id: string): SrsClientJson | undefined {
    return this.clients().find((c) => c.id === id);
  }

  /**
   * Kick a client (SRS DELETE /api/v1/clients/{id}): its publish or play ends and its session closes.
   * @returns false when no client has that id (internal consumers cannot be kicked).
   */
  kick(id: string, reason = 'kicked by the HTTP API'): boolean {
    if (this.client(id) === undefined) return false;
    return this.#opts.hub.kick(id, reason);
  }

  /** Configured vhosts, then any other vhost a stream names (served by __defaultVhost__'s settings). */
  vhosts(): SrsVhostJson[] {
    const now = Date.now();
    const streams = this.streams();
    const clients = this.#opts.hub.clients().filter(isClient);
    const bytes = new Map(this.#vhostBytes().map((v) => [v.name, v]));
    const views = new Map(this.#opts.vhosts().map((v) => [v.name, v]));
    for (const s of this.#opts.hub.streams()) {
      const name = vhostOf(s.key);
      if (!views.has(name)) views.set(name, { ...(views.get(DEFAULT_VHOST) ?? { enabled: true, hls: { enabled: false, fragmentMs: 0 } }), name });
    }
    const out: SrsVhostJson[] = [];
    for (const v of views.values()) {
      const id = this.vhostId(v.name);
      const b = bytes.get(v.name) ?? { recv: 0, send: 0 };
      const k = this.#rates.kbps(`v:${v.name}`, now, b.recv, b.send, undefined);
      out.push({
        id,
        name: v.name,
        enabled: v.enabled,
        clients: clients.filter((c) => c.key.vhost === v.name).length,
        streams: streams.filter((s) => s.vhost === id && s.publish.active).length,
        send_bytes: b.send,
        recv_bytes: b.recv,
        kbps: { recv_30s: k.recv, send_30s: k.send },
        hls: v.hls.enabled ? { enabled: true, fragment: v.hls.fragmentMs / 1000 } : { enabled: false },
      });
    }
    return out;
  }

  vhost(id: string): SrsVhostJson | undefined {
    return this.vhosts().find((v) => v.id === id);
  }

  /** The stable id of a vhost name (SRS `vid-xxxxxxx`). */
  vhostId(name: string): string {
    let id = this.#vhostIds.get(name);
    if (id === undefined) {
      id = generateStatId();
      this.#vhostIds.set(name, id);
    }
    return id;
  }

  /** SRS `/api/v1/summaries` data: this process and the machine. */
  summaries(nowMs = Date.now()): SrsSummariesJson {
    const rss = process.memoryUsage.rss();
    const total = totalmem();
    const free = freemem();
    const [load1, load5, load15] = loadavg();
    const n = cpus().length;
    return {
      ok: true,
      now_ms: nowMs,
      self: {
        version: this.#opts.version,
        pid: process.pid,
        ppid: process.ppid,
        argv: process.argv.join(' '),
        cwd: process.cwd(),
        mem_kbyte: Math.round(rss / 1024),
        mem_percent: total > 0 ? rss / total : 0,
        cpu_percent: this.#cpu.selfRatio,
        srs_uptime: Math.floor((nowMs - this.startedAtMs) / 1000),
      },
      system: {
        cpu_percent: this.#cpu.systemRatio,
        mem_ram_kbyte: Math.round(total / 1024),
        mem_ram_percent: total > 0 ? (total - free) / total : 0,
        cpus: n,
        cpus_online: n,
        uptime: uptime(),
        load_1m: load1 ?? 0,
        load_5m: load5 ?? 0,
        load_15m: load15 ?? 0,
      },
    };
  }

  /** Hub totals since start (the exporter's counters). */
  totals(): HubTotals {
    return this.#opts.hub.totals();
  }

  /** The process's CPU use over the last sample period, a ratio (the exporter's srs_cpu_percent / 100). */
  get cpuRatio(): number {
    return this.#cpu.selfRatio;
  }

  #clientsByStream(): Map<string, number> {
    const n = new Map<string, number>();
    for (const c of this.#opts.hub.clients()) if (isClient(c)) n.set(c.streamId, (n.get(c.streamId) ?? 0) + 1);
    return n;
  }

  #streamJson(s: StreamSnapshot, clients: number): SrsStreamJson {
    const [vhost, app, name] = splitKey(s.key);
    const now = Date.now();
    const k = this.#rates.kbps(`s:${s.id}`, now, s.recvBytes, s.sendBytes, s.createdAtMs);
    return {
      id: s.id,
      name,
      vhost: this.vhostId(vhost),
      app,
      tcUrl: `rtmp://${vhost}/${app}`,
      url: srsStreamUrl({ vhost, app, stream: name }),
      live_ms: now,
      clients,
      frames: s.videoFrames,
      send_bytes: s.sendBytes,
      recv_bytes: s.recvBytes,
      kbps: { recv_30s: k.recv, send_30s: k.send },
      publish: s.publisher === undefined ? { active: false } : { active: true, cid: s.publisher.id },
      video: srsVideo(s.video, s.videoConfig),
      audio: srsAudio(s.audio),
    };
  }

  #clientJson(c: ClientSnapshot, nowMs: number): SrsClientJson {
    const k = this.#rates.kbps(clientKey(c), nowMs, c.recvBytes, c.sendBytes, c.sinceMs);
    return {
      id: c.who.id,
      vhost: this.vhostId(c.key.vhost),
      stream: c.streamId,
      ip: remoteIp(c.who.remote),
      pageUrl: '',
      swfUrl: '',
      tcUrl: `rtmp://${c.key.vhost}/${c.key.app}`,
      url: srsStreamUrl(c.key),
      name: c.key.stream,
      type: srsClientType(c.who.protocol, c.publish),
      publish: c.publish,
      alive: Math.max(0, nowMs - c.sinceMs) / 1000,
      send_bytes: c.sendBytes,
      recv_bytes: c.recvBytes,
      kbps: { recv_30s: k.recv, send_30s: k.send },
      protocol: c.who.protocol,
      remote: c.who.remote ?? '',
      param: c.who.query ?? '',
    };
  }

  /** Bytes per vhost (every configured one, and any other a stream names): live streams plus the streams that are gone. */
  #vhostBytes(): { name: string; recv: number; send: number }[] {
    const by = new Map<string, { name: string; recv: number; send: number }>();
    for (const v of this.#opts.vhosts()) by.set(v.name, { name: v.name, recv: 0, send: 0 });
    for (const [name, gone] of this.#goneVhostBytes) by.set(name, { name, recv: gone.recv, send: gone.send });
    for (const s of this.#opts.hub.streams()) {
      const name = vhostOf(s.key);
      const v = by.get(name) ?? { name, recv: 0, send: 0 };
      v.recv += s.recvBytes;
      v.send += s.sendBytes;
      by.set(name, v);
    }
    return [...by.values()];
  }

  #sampleCpu(nowMs: number): void {
    const prev = this.#cpu;
    const usage = process.cpuUsage();
    const system = systemCpuTimes();
    const wallUs = (nowMs - prev.wallMs) * 1000;
    const usedUs = usage.user - prev.usage.user + usage.system - prev.usage.system;
    const busy = system.busy - prev.system.busy;
    const all = system.total - prev.system.total;
    this.#cpu = {
      wallMs: nowMs,
      usage,
      selfRatio: wallUs > 0 ? usedUs / wallUs : prev.selfRatio,
      system,
      systemRatio: all > 0 ? busy / all : prev.systemRatio,
    };
  }
}

/** Sum of every core's busy and total CPU time, ms. */
function systemCpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const sum = t.user + t.nice + t.sys + t.idle + t.irq;
    total += sum;
    busy += sum - t.idle;
  }
  return { busy, total };
}

/** `vhost/app/stream` (app may contain `/`) → its three parts. */
function splitKey(key: string): [vhost: string, app: string, stream: string] {
  const first = key.indexOf('/');
  const last = key.lastIndexOf('/');
  return [key.slice(0, first), key.slice(first + 1, last), key.slice(last + 1)];
}

function vhostOf(key: string): string {
  return key.slice(0, key.indexOf('/'));
}
