import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../../core/config/config.ts';
import { isGatewayError } from '../../../core/errors.ts';
import { parseAddressMatch, parseIp } from '../../../core/config/security-config.ts';

const load = (text: string): ReturnType<typeof loadConfigText> => loadConfigText(text, 'conf/t.conf');

/** The ConfInvalid message a conf text fails with. */
function errorOf(text: string): string {
  try {
    load(text);
  } catch (err) {
    assert.ok(isGatewayError(err) && err.code === 'GW_ERR_CONF_INVALID', String(err));
    return err.message;
  }
  assert.fail('expected a config error');
}

test('security: rules in file order, allow and deny interleaved, every address form', () => {
  const { config, warnings } = load(`vhost __defaultVhost__ {
    security {
        enabled on;
        deny  publish 10.1.0.0/16;
        allow publish 10.0.0.0/8;
        allow play all;
        deny  play ::1;
        allow publish 2001:db8::/32;
        allow play ::ffff:192.168.1.0/120;
    }
}`);
  assert.deepEqual(warnings, []);
  const sec = config.vhosts.get('__defaultVhost__')?.security;
  assert.equal(sec?.enabled, true);
  assert.deepEqual(
    sec?.rules.map((r) => [r.verdict, r.action, r.text, r.match.kind === 'all' ? 'all' : `${r.match.family}/${r.match.prefixLength}`]),
    [
      ['deny', 'publish', '10.1.0.0/16', '4/16'],
      ['allow', 'publish', '10.0.0.0/8', '4/8'],
      ['allow', 'play', 'all', 'all'],
      ['deny', 'play', '::1', '6/128'],
      ['allow', 'publish', '2001:db8::/32', '6/32'],
      // ::ffff:192.168.1.0/120 is the IPv4 network 192.168.1.0/24
      ['allow', 'play', '::ffff:192.168.1.0/120', '4/24'],
    ],
  );
});

test('security: a bad rule is a config error at its file:line:col', () => {
  const wrap = (rule: string): string => `vhost v {\n    security {\n        enabled on;\n        ${rule}\n    }\n}\n`;
  assert.equal(errorOf(wrap('allow publish 10.0.0.256;')), "conf/t.conf:4:9: invalid address '10.0.0.256' for 'allow': '10.0.0.256' is not an IPv4 or IPv6 address");
  assert.equal(errorOf(wrap('deny play 10.0.0.0/33;')), "conf/t.conf:4:9: invalid address '10.0.0.0/33' for 'deny': prefix length '33' must be 0..32");
  assert.equal(errorOf(wrap('deny play ::/129;')), "conf/t.conf:4:9: invalid address '::/129' for 'deny': prefix length '129' must be 0..128");
  assert.equal(errorOf(wrap('allow record all;')), "conf/t.conf:4:9: invalid action 'record' for 'allow': expected publish or play");
  assert.equal(errorOf(wrap('allow play;')), "conf/t.conf:4:9: 'allow' takes 2 arguments (publish|play all|IP|CIDR), got 1");
  assert.equal(errorOf(wrap('deny play example.com;')), "conf/t.conf:4:9: invalid address 'example.com' for 'deny': 'example.com' is not an IPv4 or IPv6 address");
  assert.equal(errorOf(wrap('allow play ::ffff:1.2.3.4/64;')), "conf/t.conf:4:9: invalid address '::ffff:1.2.3.4/64' for 'allow': prefix length 64 of an IPv4-mapped address must be 96..128");
});

test('http_hooks: several URLs per event, timeout in seconds, defaults', () => {
  const { config, warnings } = load(`vhost v {
    http_hooks {
        enabled on;
        on_publish http://127.0.0.1:8085/a https://hooks.example/b?x=1;
        on_play http://[::1]:8085/play;
        timeout 2.5;
    }
}`);
  assert.deepEqual(warnings, []);
  const h = config.vhosts.get('v')?.httpHooks;
  assert.equal(h?.enabled, true);
  assert.equal(h?.timeoutMs, 2500);
  assert.deepEqual(h?.urls.on_publish, ['http://127.0.0.1:8085/a', 'https://hooks.example/b?x=1']);
  assert.deepEqual(h?.urls.on_play, ['http://[::1]:8085/play']);
  assert.deepEqual(h?.urls.on_stop, []);
});

test('http_hooks: a URL that is not http(s) or a bad timeout is a config error at its line', () => {
  assert.equal(
    errorOf('vhost v {\n  http_hooks {\n    on_play http://ok/ ftp://x/y;\n  }\n}\n'),
    "conf/t.conf:3:5: invalid URL 'ftp://x/y' for 'on_play': expected http://host[:port]/path or https://...",
  );
  assert.match(errorOf('vhost v {\n  http_hooks {\n    timeout 0;\n  }\n}\n'), /^conf\/t\.conf:3:5: invalid value '0' for 'timeout'/);
});

test('parseIp: IPv4, IPv6 forms, IPv4-mapped IPv6 as IPv4, junk', () => {
  assert.deepEqual(parseIp('127.0.0.1'), { family: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp('::1'), { family: 6, value: 1n });
  assert.deepEqual(parseIp('[::1]'), { family: 6, value: 1n });
  assert.deepEqual(parseIp('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
  assert.deepEqual(parseIp('2001:db8::8:800:200c:417a'), { family: 6, value: 0x20010db8000000000008_0800200c417an });
  assert.deepEqual(parseIp('::ffff:10.1.2.3'), { family: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp('::ffff:a01:203'), { family: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp('1:2:3:4:5:6:7:8'), { family: 6, value: 0x00010002000300040005000600070008n });
  assert.deepEqual(parseIp('::'), { family: 6, value: 0n });
  for (const bad of ['', 'localhost', '1.2.3', '1.2.3.4.5', '::g', '1.2.3.4:80']) assert.equal(parseIp(bad), undefined, bad);
});

test('parseAddressMatch: host bits of a CIDR are cleared', () => {
  assert.deepEqual(parseAddressMatch('10.1.2.3/8'), { value: { kind: 'network', family: 4, network: 0x0a000000n, prefixLength: 8 } });
  assert.deepEqual(parseAddressMatch('0.0.0.0/0'), { value: { kind: 'network', family: 4, network: 0n, prefixLength: 0 } });
  assert.deepEqual(parseAddressMatch('all'), { value: { kind: 'all' } });
});
