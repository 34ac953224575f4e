/**
 * SRS's answer shapes: the envelope, error bodies, JSONP (callback, method override, bad names), CORS only with an
 * Origin and crossdomain on, OPTIONS, Basic authentication of /api/ paths, list windows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkBasicAuth,
  codeResponse,
  CORS_HEADERS,
  effectiveMethod,
  httpError,
  jsonpCallback,
  listWindow,
  okResponse,
  optionsResponse,
  SrsErrorCode,
  withCors,
  type ApiRequest,
} from '../../../core/http/api-response.ts';

const IDS = { server: 'vid-0000001', service: 'abcdefgh', pid: '42' };

function req(pathAndQuery: string, init: Partial<Pick<ApiRequest, 'method' | 'origin' | 'authorization'>> = {}): ApiRequest {
  const u = new URL(pathAndQuery, 'http://x');
  return { method: init.method ?? 'GET', path: u.pathname, query: u.searchParams, origin: init.origin, authorization: init.authorization };
}

test('success envelope: code 0 then server, service, pid (a string), then the data; errors are {"code":N} with HTTP 200', () => {
  const ok = okResponse(req('/api/v1/versions'), IDS, { data: { major: 1 } });
  assert.deepEqual([ok.status, ok.headers['Content-Type'], ok.body], [200, 'application/json', '{"code":0,"server":"vid-0000001","service":"abcdefgh","pid":"42","data":{"major":1}}']);
  const err = codeResponse(req('/api/v1/streams/x'), SrsErrorCode.StreamNotFound);
  assert.deepEqual([err.status, err.body], [200, '{"code":2048}']);
  assert.deepEqual([SrsErrorCode.ClientNotFound, SrsErrorCode.ConfigRawDisabled, SrsErrorCode.ConfigRaw], [2049, 1061, 1060]);
  assert.deepEqual(httpError(404), { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Not Found' });
});

test('JSONP: callback(json) as text/javascript; ?method= overrides only for JSONP; names outside [A-Za-z0-9._-] are refused', () => {
  const r = codeResponse(req('/api/v1/clients/x?callback=angular.callbacks._0'), SrsErrorCode.ClientNotFound);
  assert.deepEqual([r.headers['Content-Type'], r.body], ['text/javascript', 'angular.callbacks._0({"code":2049})']);
  assert.equal(effectiveMethod(req('/a?callback=cb&method=DELETE')), 'DELETE');
  assert.equal(effectiveMethod(req('/a?callback=cb&method=delete')), 'DELETE');
  assert.equal(effectiveMethod(req('/a?method=DELETE')), 'GET', 'no callback: no override');
  assert.equal(effectiveMethod(req('/a?callback=cb&method=PATCH')), 'GET', 'only GET/PUT/POST/DELETE');
  assert.equal(jsonpCallback(req('/a?callback=')), undefined);
  for (const bad of ['alert(1)', 'a b', '<script>', 'x'.repeat(129)]) assert.equal(jsonpCallback(req(`/a?callback=${encodeURIComponent(bad)}`)), null, bad);
});

test('CORS headers only with crossdomain on and an Origin; OPTIONS 200, or 405 when crossdomain is off', () => {
  const body = okResponse(req('/api/v1/versions'), IDS);
  assert.deepEqual(withCors(body, req('/api/v1/versions', { origin: 'http://a' }), true).headers, { 'Content-Type': 'application/json', ...CORS_HEADERS });
  assert.equal(withCors(body, req('/api/v1/versions', { origin: 'http://a' }), false), body);
  assert.equal(withCors(body, req('/api/v1/versions'), true), body);
  assert.equal(CORS_HEADERS['Access-Control-Allow-Origin'], '*');
  assert.deepEqual([optionsResponse(true).status, optionsResponse(false).status], [200, 405]);
});

test('Basic auth: /api/ paths only; missing, other scheme, wrong user or password → 401 with WWW-Authenticate', () => {
  const auth = { enabled: true, username: 'admin', password: 'pa:ss' };
  const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
  const table: readonly [string, string | undefined, boolean][] = [
    ['/api/v1/versions', undefined, false],
    ['/api/v1/versions', 'Bearer abc', false],
    ['/api/v1/versions', basic('admin:nope'), false],
    ['/api/v1/versions', basic('root:pa:ss'), false],
    ['/api/v1/versions', basic('admin'), false],
    ['/api/v1/versions', basic('admin:pa:ss'), true],
    ['/api/v1/versions', `basic   ${Buffer.from('admin:pa:ss').toString('base64')}`, true],
    ['/metrics', undefined, true],
    ['/', undefined, true],
  ];
  for (const [path, authorization, allowed] of table) {
    const denied = checkBasicAuth(req(path, { authorization }), auth);
    assert.equal(denied === undefined, allowed, `${path} ${authorization ?? '(none)'}`);
    if (denied !== undefined) assert.deepEqual([denied.status, denied.headers['WWW-Authenticate']], [401, 'Basic realm="castgate"']);
  }
  assert.equal(checkBasicAuth(req('/api/v1/versions'), { ...auth, enabled: false }), undefined);
});

test('list windows: start ≥ 0 (default 0), count ≥ 1 (default 10, as SRS)', () => {
  const w = (q: string) => listWindow(new URLSearchParams(q));
  assert.deepEqual(w(''), { start: 0, count: 10 });
  assert.deepEqual(w('start=3&count=2'), { start: 3, count: 2 });
  assert.deepEqual(w('start=-1&count=0'), { start: 0, count: 10 });
  assert.deepEqual(w('start=x&count=y'), { start: 0, count: 10 });
});
