/** WebSocket opening handshake (core/protocol/websocket/handshake.ts) against RFC 6455 §1.3, §4.2.1, §4.4. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkUpgradeRequest, isWebSocketUpgrade, refusalResponse, secWebSocketAccept, switchingProtocolsResponse, type UpgradeRequestHead,
} from '../../../../core/protocol/websocket/handshake.ts';

/** RFC 6455 §1.3: the sample nonce and the accept value the RFC derives from it. */
const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const GOOD: UpgradeRequestHead = {
  method: 'GET',
  httpVersion: '1.1',
  headers: {
    host: 'server.example.com', upgrade: 'websocket', connection: 'keep-alive, Upgrade',
    'sec-websocket-key': RFC_KEY, 'sec-websocket-version': '13', origin: 'http://example.com',
  },
};

test('RFC 6455 §1.3: Sec-WebSocket-Accept of the sample nonce', () => {
  assert.equal(secWebSocketAccept(RFC_KEY), RFC_ACCEPT);
  assert.deepEqual(checkUpgradeRequest(GOOD), { ok: true, accept: RFC_ACCEPT });
  assert.equal(switchingProtocolsResponse(RFC_ACCEPT),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${RFC_ACCEPT}\r\n\r\n`);
});

test('header tokens are case-insensitive lists (Firefox sends "keep-alive, Upgrade", some clients "WebSocket")', () => {
  assert.equal(checkUpgradeRequest({ ...GOOD, headers: { ...GOOD.headers, upgrade: 'WebSocket', connection: 'upgrade' } }).ok, true);
  assert.equal(isWebSocketUpgrade({ ...GOOD, headers: { ...GOOD.headers, upgrade: 'h2c' } }), false);
});

test('refusals: 405 not GET, 400 HTTP/1.0 / no Upgrade token / bad key, 426 other version (with Sec-WebSocket-Version: 13)', () => {
  const cases: [Partial<UpgradeRequestHead>, number][] = [
    [{ method: 'POST' }, 405],
    [{ httpVersion: '1.0' }, 400],
    [{ headers: { ...GOOD.headers, connection: 'keep-alive' } }, 400],
    [{ headers: { ...GOOD.headers, upgrade: 'h2c' } }, 400],
    [{ headers: { ...GOOD.headers, 'sec-websocket-version': '8' } }, 426],
    [{ headers: { ...GOOD.headers, 'sec-websocket-version': undefined } }, 426],
    [{ headers: { ...GOOD.headers, 'sec-websocket-key': undefined } }, 400],
    [{ headers: { ...GOOD.headers, 'sec-websocket-key': 'dG9vIHNob3J0' } }, 400], // 9 bytes
    [{ headers: { ...GOOD.headers, 'sec-websocket-key': 'not base64 at all!!!!!==' } }, 400],
  ];
  for (const [override, status] of cases) {
    const v = checkUpgradeRequest({ ...GOOD, ...override });
    assert.equal(v.ok, false, JSON.stringify(override));
    if (!v.ok) assert.equal(v.status, status, `${JSON.stringify(override)}: ${v.reason}`);
  }
  const r426 = refusalResponse(426, 'Sec-WebSocket-Version 8');
  assert.match(r426, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
  assert.match(r426, /\r\nSec-WebSocket-Version: 13\r\n/);
  assert.match(r426, /\r\nContent-Length: 24\r\n\r\nSec-WebSocket-Version 8\n$/);
});
