/**
 * The typed `vhost { security { } }` section (SRS trunk/conf/full.conf `security`, srs_app_config.cpp
 * get_security_enabled / get_security_rules) and the client-address values its rules name:
 *
 *     security {
 *         enabled on;
 *         allow publish 10.0.0.0/8;
 *         deny  play    all;
 *     }
 *
 * Each rule is `allow|deny publish|play all|IP|CIDR`. SRS compares IPs as strings and knows IPv4 CIDR only
 * (srs_ipv4_within_mask); castgate parses every address, so `::1`, `2001:db8::/32` and IPv4-mapped IPv6
 * (`::ffff:10.1.2.3`, how a dual-stack socket reports an IPv4 peer) work too: a mapped address is the IPv4 address.
 * The order of evaluation is core/control/security.ts's.
 */
import { isIP } from 'node:net';
import type { Directive } from './directive-parser.ts';

export type SecurityAction = 'publish' | 'play';
export type SecurityVerdict = 'allow' | 'deny';

/** A parsed client address: IPv4 as a 32-bit value, IPv6 as 128 bits; an IPv4-mapped IPv6 address is family 4. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** What a rule's address argument matches: `all`, or a network (a single IP is a /32 or /128). */
export type AddressMatch =
  | { readonly kind: 'all' }
  | { readonly kind: 'network'; readonly family: 4 | 6; readonly network: bigint; readonly prefixLength: number };

export interface SecurityRule {
  readonly verdict: SecurityVerdict;
  readonly action: SecurityAction;
  readonly match: AddressMatch;
  /** The address argument as written (`all`, `10.0.0.0/8`), for logs and error messages. */
  readonly text: string;
}

export interface SecurityConfig {
  /** default false: everyone may publish and play. */
  readonly enabled: boolean;
  /** Every allow and deny line, in file order. */
  readonly rules: readonly SecurityRule[];
}

/** Parse a dotted-quad IPv4 address (net.isIP has validated it). */
function ipv4Value(text: string): bigint {
  let v = 0n;
  for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part));
  return v;
}

/** Parse an IPv6 address (net.isIP has validated it), with `::` and an IPv4 tail. */
function ipv6Value(text: string): bigint {
  let head = text;
  let tail: bigint | undefined;
  const lastColon = head.lastIndexOf(':');
  if (head.includes('.', lastColon)) {
    tail = ipv4Value(head.slice(lastColon + 1));
    head = `${head.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = head.split('::') as [string, string | undefined];
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? leftGroups : [...leftGroups, ...new Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(Number.parseInt(g, 16));
  if (tail !== undefined) v = (v & ~0xffffffffn) | tail;
  return v;
}

/**
 * Parse a client IP: IPv4, IPv6 (a `%zone` suffix and `[...]` brackets are dropped). `::ffff:a.b.c.d` (or its hex
 * form) is returned as the IPv4 address a.b.c.d.
 * @returns undefined when `text` is not an IP address.
 */
export function parseIp(text: string): IpAddress | undefined {
  let t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  const family = isIP(t);
  if (family === 4) return { family: 4, value: ipv4Value(t) };
  if (family !== 6) return undefined;
  const value = ipv6Value(t);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/**
 * Parse a rule's address argument: `all`, an IP, or `IP/prefix` (a mapped IPv6 network `::ffff:a.b.c.d/n` with
 * n >= 96 is the IPv4 network of prefix n - 96). Host bits set in a CIDR are ignored (`10.1.2.3/8` = `10.0.0.0/8`).
 */
export function parseAddressMatch(text: string): { readonly value: AddressMatch } | { readonly error: string } {
  if (text === 'all') return { value: { kind: 'all' } };
  const slash = text.indexOf('/');
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(ipText);
  if (ip === undefined) return { error: `'${ipText}' is not an IPv4 or IPv6 address` };
  const mappedV6 = isIP(ipText) === 6 && ip.family === 4;
  const bits = ip.family === 4 ? 32 : 128;
  let prefixLength = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    const max = mappedV6 ? 128 : bits;
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return { error: `prefix length '${p}' must be 0..${max}` };
    prefixLength = Number(p);
    if (mappedV6) {
      if (prefixLength < 96) return { error: `prefix length ${prefixLength} of an IPv4-mapped address must be 96..128` };
      prefixLength -= 96;
    }
  }
  const mask = networkMask(bits, prefixLength);
  return { value: { kind: 'network', family: ip.family, network: ip.value & mask, prefixLength } };
}

/** The mask of the first `prefixLength` of `bits` bits. */
export function networkMask(bits: 32 | 128, prefixLength: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return prefixLength === 0 ? 0n : all ^ ((1n << BigInt(bits - prefixLength)) - 1n);
}

const ACTIONS: readonly string[] = ['publish', 'play'];

/**
 * Build the section from `enabled` and the allow/deny lines (in file order).
 * @returns `{ error, at }` naming the first bad line: wrong number of arguments, an action other than publish or
 *   play, an address that is neither `all`, an IP nor a CIDR.
 */
export function buildSecurityConfig(
  enabled: boolean,
  lines: readonly Directive[],
): { readonly value: SecurityConfig } | { readonly error: string; readonly at: Directive } {
  const rules: SecurityRule[] = [];
  for (const d of lines) {
    const verdict = d.name as SecurityVerdict;
    if (d.args.length !== 2) return { error: `'${d.name}' takes 2 arguments (publish|play all|IP|CIDR), got ${d.args.length}`, at: d };
    const [action, address] = d.args as [string, string];
    if (!ACTIONS.includes(action)) return { error: `invalid action '${action}' for '${d.name}': expected publish or play`, at: d };
    const m = parseAddressMatch(address);
    if ('error' in m) return { error: `invalid address '${address}' for '${d.name}': ${m.error}`, at: d };
    rules.push({ verdict, action: action as SecurityAction, match: m.value, text: address });
  }
  return { value: { enabled, rules } };
}
