/**
 * Prometheus metrics (text exposition format 0.0.4) through prom-client 15 (LIBRARIES.md), served at `/metrics` on
 * the HTTP API port and on the `exporter { listen 9972; }` port (SRS 5 exporter, srs_app_http_api.cpp
 * SrsGoApiMetrics).
 *
 * SRS's own names are kept for what SRS exports, so existing dashboards work unchanged: srs_build_info,
 * srs_cpu_percent, srs_memory (KiB, as SRS's rss × 4), srs_send_bytes_total, srs_receive_bytes_total, srs_streams,
 * srs_clients. castgate adds (prefix `castgate_`): publishers and players by protocol, per-input packets, loss,
 * reordering, CC errors and resyncs of each caster session, ffmpeg restarts of each ingest engine, messages dropped
 * for slow consumers; and prom-client's default process/Node metrics (process_resident_memory_bytes,
 * nodejs_eventloop_lag_seconds, heap, GC, handles).
 * castgate differs: SRS's srs_clients_total and srs_clients_errs_total are not exported (the hub does not count
 * connections that never publish or play, nor why a client left); bytes are media payload bytes (statistics.ts).
 *
 * Every value is read from the statistics at scrape time (`collect`), nothing is counted twice on the hot path.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { CasterJson, IngesterJson } from './inputs.ts';
import type { Statistics } from './statistics.ts';

export interface MetricsOptions {
  readonly statistics: Statistics;
  /** castgate's version (srs_build_info{version}). */
  readonly version: string;
  /** `exporter { label; tag; }`: extra srs_build_info labels. */
  readonly label?: string | undefined;
  readonly tag?: string | undefined;
  readonly casters: () => readonly CasterJson[];
  readonly ingesters: () => readonly IngesterJson[];
}

/** The labels of one caster input session. */
const INPUT_LABELS = ['caster', 'listen', 'session', 'stream'] as const;

/** Per-input QoS counters: metric name suffix → CasterSessionJson field. */
const INPUT_COUNTERS = [
  ['packets_total', 'packets', 'Packets received by the input session (RTP packets, TS packets)'],
  ['bytes_total', 'bytes', 'Bytes received by the input session'],
  ['lost_packets_total', 'lost', 'Packets lost (RTP sequence gaps never filled)'],
  ['reordered_packets_total', 'reordered', 'Packets that arrived out of order and were put back in order'],
  ['cc_errors_total', 'cc_errors', 'MPEG-TS continuity_counter errors (lost or duplicated TS packets)'],
  ['resyncs_total', 'resyncs', 'Times the MPEG-TS reader lost and found the 0x47 sync byte again'],
] as const;

/**
 * A registry with every castgate metric; `registry.metrics()` renders the text, `registry.contentType` is its MIME
 * type. One registry per API server (default metrics are registered on it, not on prom-client's global one).
 */
export function createMetricsRegistry(opts: MetricsOptions): Registry {
  const registry = new Registry();
  const registers = [registry];
  const stats = opts.statistics;
  collectDefaultMetrics({ register: registry });

  const buildLabels = ['server', 'service', 'pid', 'major', 'version', 'code', ...(opts.label !== undefined ? ['label'] : []), ...(opts.tag !== undefined ? ['tag'] : [])];
  new Gauge({
    name: 'srs_build_info',
    help: "A metric with a constant '1' value labeled by the server ids and the castgate version.",
    labelNames: buildLabels,
    registers,
    collect() {
      this.reset();
      const labels: Record<string, string> = {
        server: stats.serverId,
        service: stats.serviceId,
        pid: stats.pid,
        major: opts.version.split('.')[0] ?? '0',
        version: opts.version,
        code: 'castgate',
      };
      if (opts.label !== undefined) labels.label = opts.label;
      if (opts.tag !== undefined) labels.tag = opts.tag;
      this.set(labels, 1);
    },
  });
  new Gauge({
    name: 'srs_cpu_percent',
    help: 'castgate CPU use in percent of one core over the last sample period.',
    registers,
    collect() {
      this.set(stats.cpuRatio * 100);
    },
  });
  new Gauge({
    name: 'srs_memory',
    help: 'castgate resident memory, KiB.',
    registers,
    collect() {
      this.set(Math.round(process.memoryUsage.rss() / 1024));
    },
  });
  new Counter({
    name: 'srs_send_bytes_total',
    help: 'Media bytes delivered to players and outputs since start.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.totals().sendBytes);
    },
  });
  new Counter({
    name: 'srs_receive_bytes_total',
    help: 'Media bytes received from publishers since start.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.totals().recvBytes);
    },
  });
  new Gauge({
    name: 'srs_streams',
    help: 'Streams with a publisher or players.',
    registers,
    collect() {
      this.set(stats.streams().length);
    },
  });
  new Gauge({
    name: 'srs_clients',
    help: 'Publishers and players connected now.',
    registers,
    collect() {
      this.set(stats.clients().length);
    },
  });
  const byProtocol = (name: string, help: string, publish: boolean): void => {
    new Gauge({
      name,
      help,
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        const n = new Map<string, number>();
        for (const c of stats.clients()) if (c.publish === publish) n.set(c.protocol, (n.get(c.protocol) ?? 0) + 1);
        for (const [protocol, count] of n) this.set({ protocol }, count);
      },
    });
  };
  byProtocol('castgate_publishers', 'Publishers now, by protocol (rtmp, rtsp, mpegts_over_udp, http-flv-post, ingest, ...).', true);
  byProtocol('castgate_players', 'Players now, by protocol (rtmp, http-flv, http-ts, http-mp3, http-aac, ...).', false);
  new Counter({
    name: 'castgate_hub_dropped_messages_total',
    help: 'Messages dropped for consumers that fell behind (whole GOPs), since start.',
    registers,
    collect() {
      this.reset();
      this.inc(stats.totals().droppedMessages);
    },
  });
  for (const [suffix, field, help] of INPUT_COUNTERS) {
    new Counter({
      name: `castgate_input_${suffix}`,
      help: `${help}; one series per live caster session.`,
      labelNames: INPUT_LABELS,
      registers,
      collect() {
        this.reset();
        for (const c of opts.casters()) {
          for (const s of c.sessions) {
            const v = s[field];
            if (v === null) continue;
            this.inc({ caster: c.type, listen: String(c.listen), session: s.id ?? s.remote ?? '', stream: s.stream ?? '' }, v);
          }
        }
      },
    });
  }
  new Counter({
    name: 'castgate_ffmpeg_restarts_total',
    help: 'Restarts of each ingest engine (ffmpeg respawns, native loop retries).',
    labelNames: ['vhost', 'ingest', 'engine'],
    registers,
    collect() {
      this.reset();
      for (const ing of opts.ingesters()) {
        for (const e of ing.engines) this.inc({ vhost: ing.vhost, ingest: ing.id, engine: String(e.index) }, e.restarts);
      }
    },
  });
  return registry;
}
