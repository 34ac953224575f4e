/**
 * The `security { allow|deny publish|play ...; }` evaluator: pure, no I/O.
 *
 * SRS's order (trunk/src/app/srs_app_security.cpp, SRS 4 and later, SrsSecurity::do_check / deny_check /
 * allow_check), read from the source:
 * 1. security disabled → allowed;
 * 2. any `deny <action>` rule matching the client → denied ("deny by rule<...>"), whatever the allow rules say;
 * 3. any `allow <action>` rule matching the client → allowed;
 * 4. otherwise denied when the block has at least one `allow` rule (of either action: `allow play all` alone
 *    refuses every publisher) or no rule at all ("not allowed by any of N/M rules"), and allowed when it has
 *    only `deny` rules (none of which matched).
 * SRS 3 evaluated allow first and denied by default; SRS 4+ is followed here.
 *
 * Matching: `all`, an IP or a CIDR. SRS compares the rule and the client IP as strings and knows IPv4 CIDR only;
 * castgate compares parsed addresses, so `::1`, IPv6 networks and an IPv4 client seen as `::ffff:a.b.c.d` on a
 * dual-stack socket (matched as a.b.c.d) work as an operator expects. An IPv4 rule never matches an IPv6 client and
 * the reverse (except the mapped form). A client whose address cannot be parsed matches `all` only.
 */
import { networkMask, parseIp, type AddressMatch, type IpAddress, type SecurityAction, type SecurityConfig } from '../config/security-config.ts';

export type SecurityDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string };

const ALLOWED: SecurityDecision = { allowed: true };

/** Whether `match` covers the client address `ip` (undefined: an address that did not parse). */
export function addressMatches(match: AddressMatch, ip: IpAddress | undefined): boolean {
  if (match.kind === 'all') return true;
  if (ip === undefined || ip.family !== match.family) return false;
  return (ip.value & networkMask(ip.family === 4 ? 32 : 128, match.prefixLength)) === match.network;
}

/**
 * Decide whether the client at `ip` (as the socket reports it, without port) may `action` on a vhost with `cfg`.
 * @returns `{ allowed: false, reason }` with SRS's wording of the rule that decided.
 */
export function checkSecurity(cfg: SecurityConfig, action: SecurityAction, ip: string): SecurityDecision {
  if (!cfg.enabled) return ALLOWED;
  const client = parseIp(ip);
  let allowRules = 0;
  let denyRules = 0;
  for (const rule of cfg.rules) {
    if (rule.verdict === 'deny') {
      denyRules++;
      if (rule.action === action && addressMatches(rule.match, client)) {
        return { allowed: false, reason: `${ip} denied by rule 'deny ${action} ${rule.text}'` };
      }
    } else {
      allowRules++;
    }
  }
  for (const rule of cfg.rules) {
    if (rule.verdict === 'allow' && rule.action === action && addressMatches(rule.match, client)) return ALLOWED;
  }
  if (allowRules > 0 || denyRules === 0) {
    return { allowed: false, reason: `${ip} not allowed to ${action} by any of ${allowRules} allow / ${denyRules} deny rules` };
  }
  return ALLOWED;
}
