/** `http_api { crossdomain; raw_api { }; auth { } }` and `exporter { }` (SRS 5 full.conf) as the typed config has them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError } from '../../../core/errors.ts';
import { loadConfigText } from '../../../core/config/config.ts';

const load = (text: string) => loadConfigText(text, 'conf/t.conf');

test("SRS's http_api block with raw_api and auth, and the exporter block, are read with no warning", () => {
  const { config, warnings } = load(`http_api {
    enabled on; listen 1985; crossdomain off;
    raw_api { enabled on; allow_reload on; }
    auth { enabled on; username admin; password secret; }
}
exporter { enabled on; listen 127.0.0.1:9973; label cn-beijing; tag cn-edge; }
`);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.httpApi, {
    enabled: true,
    listen: [{ host: undefined, port: 1985 }],
    crossdomain: false,
    rawApi: { enabled: true, allowReload: true },
    auth: { enabled: true, username: 'admin', password: 'secret' },
  });
  assert.deepEqual(config.exporter, { enabled: true, listen: [{ host: '127.0.0.1', port: 9973 }], label: 'cn-beijing', tag: 'cn-edge' });
});

test('auth enabled without a username or password is an error located at its enabled; disabled, they may be absent', () => {
  for (const [inner, missing] of [['password p;', 'username'], ['username u;', 'password']] as const) {
    assert.throws(() => load(`http_api {\n  auth { enabled on; ${inner} }\n}\n`), (err: unknown) => {
      assert.ok(isGatewayError(err));
      assert.equal(err.message, `conf/t.conf:2:10: 'auth' is enabled and requires '${missing}'`);
      return true;
    });
  }
  assert.deepEqual(load('http_api { auth { enabled off; } }').config.httpApi.auth, { enabled: false, username: undefined, password: undefined });
});

test('bad values are located errors', () => {
  assert.throws(() => load('http_api {\n  crossdomain maybe;\n}\n'), /conf\/t\.conf:2:3: invalid value 'maybe' for 'crossdomain'/);
  assert.throws(() => load('exporter { listen 70000; }'), /conf\/t\.conf:1:12: invalid value '70000' for 'listen'/);
});
