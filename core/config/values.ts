/**
 * Value parsers for config directive arguments (SRS semantics: srs_config_bool/`on`, srs_app_config.cpp
 * get_* conversions; listen forms from srs_parse_endpoint). Pure: each takes the argument text and returns
 * `{ value }` or `{ error }` (a message without location; the caller adds `file:line:col`).
 */
import { isIPv6 } from 'node:net';

/** A listening address. `host` undefined = all interfaces (SRS `listen 1935;`). Port 0 = an ephemeral port. */
export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

export type ValueResult<T> = { readonly value: T } | { readonly error: string };

const MAX_PORT = 65535;
/** Largest seconds value accepted (a day): beyond that a timer value is a typo, and ms stays a safe integer. */
export const MAX_SECONDS = 86_400;

const TRUE_WORDS = new Set(['on', 'yes', 'true']);
const FALSE_WORDS = new Set(['off', 'no', 'false']);

/** `on|off` (also yes/no, true/false; case-insensitive) → boolean. */
export function parseOnOff(arg: string): ValueResult<boolean> {
  const w = arg.toLowerCase();
  if (TRUE_WORDS.has(w)) return { value: true };
  if (FALSE_WORDS.has(w)) return { value: false };
  return { error: 'expected on or off' };
}

/** Decimal integer within [min, max]. */
export function parseInteger(arg: string, min: number, max: number): ValueResult<number> {
  if (!/^-?\d{1,15}$/.test(arg)) return { error: 'expected an integer' };
  const n = Number(arg);
  if (n < min || n > max) return { error: `expected an integer in [${min}, ${max}]` };
  return { value: n };
}

/** Decimal number (fraction allowed: `29.97`) within [min, max]. */
export function parseNumber(arg: string, min: number, max: number): ValueResult<number> {
  if (!/^-?\d{1,9}(\.\d{1,6})?$/.test(arg)) return { error: 'expected a number' };
  const n = Number(arg);
  if (n < min || n > max) return { error: `expected a number in [${min}, ${max}]` };
  return { value: n };
}

/** Seconds (a decimal number, fraction allowed: `0.5`) within [min, max] seconds → integer milliseconds. */
export function parseSecondsToMs(arg: string, min: number, max: number = MAX_SECONDS): ValueResult<number> {
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(arg)) return { error: 'expected a number of seconds' };
  const s = Number(arg);
  if (s < min || s > max) return { error: `expected seconds in [${min}, ${max}]` };
  return { value: Math.round(s * 1000) };
}

/** One of `values` (exact match, as SRS compares). */
export function parseEnum<const V extends string>(arg: string, values: readonly V[]): ValueResult<V> {
  const found = values.find((v) => v === arg);
  return found === undefined ? { error: `expected one of ${values.join(', ')}` } : { value: found };
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= MAX_PORT ? port : undefined;
}

/** `1935`, `127.0.0.1:1935`, `host:1935`, `[::1]:1935` → ListenAddress. A bare IPv6 address needs brackets. */
export function parseListenAddress(arg: string): ValueResult<ListenAddress> {
  const portError = { error: `invalid port in '${arg}': expected 0..${MAX_PORT}` };
  if (/^\d+$/.test(arg)) {
    const port = parsePort(arg);
    return port === undefined ? portError : { value: { host: undefined, port } };
  }
  if (arg.startsWith('[')) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(arg);
    if (m === null) return { error: `invalid address '${arg}': expected [ipv6]:port` };
    const host = m[1] as string;
    if (!isIPv6(host)) return { error: `invalid IPv6 address '${host}'` };
    const port = parsePort(m[2] as string);
    return port === undefined ? portError : { value: { host, port } };
  }
  const colon = arg.lastIndexOf(':');
  if (colon <= 0) return { error: `invalid address '${arg}': expected port, host:port or [ipv6]:port` };
  const host = arg.slice(0, colon);
  if (host.includes(':')) return { error: `invalid address '${arg}': write an IPv6 address as [addr]:port` };
  if (!/^[A-Za-z0-9._-]+$/.test(host)) return { error: `invalid host '${host}'` };
  const port = parsePort(arg.slice(colon + 1));
  return port === undefined ? portError : { value: { host, port } };
}

/** One or more listen addresses (SRS `listen 1935 1936;`). */
export function parseListen(args: readonly string[]): ValueResult<readonly ListenAddress[]> {
  const out: ListenAddress[] = [];
  for (const arg of args) {
    const r = parseListenAddress(arg);
    if ('error' in r) return r;
    out.push(r.value);
  }
  return { value: out };
}

/** A non-empty string. */
export function parseString(arg: string): ValueResult<string> {
  return arg === '' ? { error: 'expected a non-empty string' } : { value: arg };
}

/**
 * An RTMP URL template (SRS stream_caster `output`): `rtmp://host[:port]/app/stream`, where parts may be the
 * variables [app], [stream], [vhost], [port]. Checked for shape only; templates are resolved per stream.
 */
export function parseRtmpUrl(arg: string): ValueResult<string> {
  if (!/^rtmp:\/\/[^/\s]+\/\S+$/.test(arg)) return { error: 'expected rtmp://host[:port]/app/stream' };
  return { value: arg };
}
