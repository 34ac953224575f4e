import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../../core/config/config.ts';
import type { SecurityConfig } from '../../../core/config/security-config.ts';
import { checkSecurity } from '../../../core/control/security.ts';

/** The security section of a conf whose default vhost has `lines` in `security { enabled on; ... }`. */
function security(lines: string, enabled = 'on'): SecurityConfig {
  const { config } = loadConfigText(`vhost __defaultVhost__ { security { enabled ${enabled}; ${lines} } }`, 't.conf');
  return config.vhosts.get('__defaultVhost__')?.security as SecurityConfig;
}

const allowed = (cfg: SecurityConfig, action: 'publish' | 'play', ip: string): boolean => checkSecurity(cfg, action, ip).allowed;

test('disabled: everyone may publish and play, whatever the rules', () => {
  const cfg = security('deny publish all; deny play all;', 'off');
  assert.equal(allowed(cfg, 'publish', '1.2.3.4'), true);
  assert.equal(allowed(cfg, 'play', '::1'), true);
});

test('enabled with no rule: everything is refused (SRS "not allowed by any of 0/0 rules")', () => {
  const cfg = security('');
  assert.equal(allowed(cfg, 'publish', '127.0.0.1'), false);
  assert.equal(allowed(cfg, 'play', '127.0.0.1'), false);
});

test('a matching deny wins over a matching allow, in either order', () => {
  for (const lines of ['allow play all; deny play 10.0.0.1;', 'deny play 10.0.0.1; allow play all;']) {
    const cfg = security(lines);
    assert.equal(allowed(cfg, 'play', '10.0.0.1'), false, lines);
    assert.equal(allowed(cfg, 'play', '10.0.0.2'), true, lines);
  }
});

test('any allow rule makes the unmatched refused, even an allow of the other action', () => {
  const cfg = security('allow play all;');
  assert.equal(allowed(cfg, 'play', '8.8.8.8'), true);
  assert.equal(allowed(cfg, 'publish', '127.0.0.1'), false);
});

test('deny rules only: what no deny matches is allowed', () => {
  const cfg = security('deny publish 10.0.0.0/8;');
  assert.equal(allowed(cfg, 'publish', '10.20.30.40'), false);
  assert.equal(allowed(cfg, 'publish', '11.0.0.1'), true);
  assert.equal(allowed(cfg, 'play', '10.20.30.40'), true);
});

test('the issue example: allow publish 10.0.0.0/8; deny play all', () => {
  const cfg = security('allow publish 10.0.0.0/8; deny play all;');
  assert.equal(allowed(cfg, 'publish', '10.255.0.1'), true);
  assert.equal(allowed(cfg, 'publish', '11.0.0.1'), false);
  assert.equal(allowed(cfg, 'play', '10.255.0.1'), false);
});

test('CIDR edges: /32, /0, /31 and the network boundary', () => {
  const cfg = security('allow publish 192.168.1.0/31; allow play 0.0.0.0/0; deny play 172.16.0.7/32;');
  assert.equal(allowed(cfg, 'publish', '192.168.1.0'), true);
  assert.equal(allowed(cfg, 'publish', '192.168.1.1'), true);
  assert.equal(allowed(cfg, 'publish', '192.168.1.2'), false);
  assert.equal(allowed(cfg, 'publish', '192.168.0.255'), false);
  assert.equal(allowed(cfg, 'play', '172.16.0.7'), false);
  assert.equal(allowed(cfg, 'play', '172.16.0.8'), true);
  // 0.0.0.0/0 is every IPv4 address, no IPv6 one
  assert.equal(allowed(cfg, 'play', '2001:db8::1'), false);
});

test('IPv6: ::1 and networks; IPv4 rules never match IPv6 clients', () => {
  const cfg = security('allow publish ::1; allow play 2001:db8::/32; deny play 2001:db8:bad::/48; allow play 127.0.0.1;');
  assert.equal(allowed(cfg, 'publish', '::1'), true);
  assert.equal(allowed(cfg, 'publish', '0:0:0:0:0:0:0:1'), true);
  assert.equal(allowed(cfg, 'publish', '127.0.0.1'), false);
  assert.equal(allowed(cfg, 'play', '2001:db8:1::5'), true);
  assert.equal(allowed(cfg, 'play', '2001:db8:bad::5'), false);
  assert.equal(allowed(cfg, 'play', '2001:db9::1'), false);
  assert.equal(allowed(cfg, 'play', '::1'), false);
  assert.equal(allowed(cfg, 'play', '127.0.0.1'), true);
});

test('IPv4-mapped IPv6 clients (dual-stack sockets) are their IPv4 address, for IPv4 and mapped rules', () => {
  const cfg = security('deny play 127.0.0.1; allow play all; allow publish ::ffff:10.0.0.0/104;');
  assert.equal(allowed(cfg, 'play', '::ffff:127.0.0.1'), false);
  assert.equal(allowed(cfg, 'play', '::FFFF:127.0.0.2'), true);
  assert.equal(allowed(cfg, 'publish', '10.1.2.3'), true);
  assert.equal(allowed(cfg, 'publish', '::ffff:10.1.2.3'), true);
  assert.equal(allowed(cfg, 'publish', '::ffff:11.1.2.3'), false);
});

test('an unparsable client address matches `all` only', () => {
  const cfg = security('allow play all; allow publish 10.0.0.0/8;');
  assert.equal(allowed(cfg, 'play', ''), true);
  assert.equal(allowed(cfg, 'publish', ''), false);
});

test('refusals say which rule decided', () => {
  const d = checkSecurity(security('deny publish 10.0.0.0/8; allow play all;'), 'publish', '10.1.1.1');
  assert.deepEqual(d, { allowed: false, reason: "10.1.1.1 denied by rule 'deny publish 10.0.0.0/8'" });
  const n = checkSecurity(security('allow publish 10.0.0.0/8; allow play all;'), 'publish', '11.1.1.1');
  assert.deepEqual(n, { allowed: false, reason: '11.1.1.1 not allowed to publish by any of 2 allow / 0 deny rules' });
});
