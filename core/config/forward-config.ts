/**
 * The typed `vhost { forward { } }` section (SRS SrsConfig get_forward_enabled/get_forward_destinations; SRS 3+
 * block form of trunk/conf/full.conf) and the forms one `destination` may take:
 *
 * - `host[:port][?query]` (SRS `{ip}:{port}`, port 1935 when absent, `[v6]:port` for IPv6): the stream keeps its
 *   app and stream name and the publisher's query, the destination's query is added (it may pick a `vhost=`);
 * - `rtmp://host[:port]/app/stream[?query]` (castgate; SRS's backend hook returns such URLs): used as given, after
 *   the template variables `[vhost]`, `[app]`, `[stream]` are substituted (without `[stream]` every stream of the
 *   vhost goes to the same key, so the destination accepts only one of them at a time).
 *
 * Built by config.ts; the forwarder (core/output/forward-server.ts) turns a destination into a URL per stream.
 */
import type { ValueResult } from './values.ts';

/** RTMP's default port: a `destination` without a port uses it (SRS SRS_CONSTS_RTMP_DEFAULT_PORT). */
export const FORWARD_DEFAULT_PORT = 1935;

/** One `destination` argument, parsed. */
export type ForwardDestination =
  | {
      readonly kind: 'server';
      /** As written, for logs and stats. */
      readonly text: string;
      /** Host name or address; IPv6 without brackets. */
      readonly host: string;
      readonly port: number;
      /** The destination's own query without `?` ('' when none). */
      readonly query: string;
    }
  | {
      readonly kind: 'url';
      readonly text: string;
      /** `rtmp://...` with [vhost] [app] [stream] still in it. */
      readonly template: string;
    };

export interface ForwardConfig {
  /** default false. */
  readonly enabled: boolean;
  /** The `destination` arguments in order; empty when the directive is absent (allowed only when disabled). */
  readonly destinations: readonly ForwardDestination[];
}

const HOST_PORT_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?(?:\?(.*))?$/;

/**
 * Parse one `destination` argument.
 * @returns the destination, or `{ error }` naming the expected forms (never throws).
 */
export function parseForwardDestination(text: string): ValueResult<ForwardDestination> {
  if (text.startsWith('rtmp://')) {
    // Shape only (host, app, stream; SRS's app?vhost=v/stream too); the names are checked per stream when resolved.
    if (!/^rtmp:\/\/[^/\s]+\/[^/\s]+\/[^/\s][^\s]*$/.test(text)) {
      return { error: 'expected rtmp://host[:port]/app/stream' };
    }
    return { value: { kind: 'url', text, template: text } };
  }
  const m = HOST_PORT_RE.exec(text);
  if (m === null) return { error: 'expected host[:port] (e.g. 127.0.0.1:1936) or rtmp://host[:port]/app/stream' };
  const port = m[3] === undefined ? FORWARD_DEFAULT_PORT : Number(m[3]);
  if (port < 1 || port > 65535) return { error: `port ${m[3] as string} out of range 1..65535` };
  return { value: { kind: 'server', text, host: m[1] ?? (m[2] as string), port, query: m[4] ?? '' } };
}

/**
 * The ForwardConfig of one vhost from its `enabled` value and its `destination` arguments (undefined when absent).
 * @returns the config, or `{ error }` for the first argument that is not a destination.
 */
export function buildForwardConfig(enabled: boolean, destinations: readonly string[] | undefined): ValueResult<ForwardConfig> {
  const parsed: ForwardDestination[] = [];
  for (const text of destinations ?? []) {
    const r = parseForwardDestination(text);
    if ('error' in r) return { error: `invalid destination '${text}': ${r.error}` };
    parsed.push(r.value);
  }
  return { value: { enabled, destinations: parsed } };
}
