import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { callHooks, hookAnswerRefusal, postHook } from '../../../core/control/http-hooks.ts';
import { isGatewayError } from '../../../core/errors.ts';
import { ALLOW, ALLOW_JSON, DENY_500, DENY_CODE, DENY_NEWLINE, startHookServer, type HookAnswer } from '../../helpers/hook-server.ts';

const hooks = await startHookServer();
after(() => hooks.close());

const BODY = { action: 'on_publish', client_id: 'rtmp-1', ip: '127.0.0.1', vhost: '__defaultVhost__', app: 'live', stream: 's', param: '?token=x' };

/** The rejection of `p`, which must be GW_ERR_HOOK_REJECTED. */
async function refusal(p: Promise<void>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isGatewayError(err) && err.code === 'GW_ERR_HOOK_REJECTED', String(err));
    return err.message;
  }
  assert.fail('expected the hook to refuse');
}

test('answers that allow: 200 "0", 200 {"code":0}, 201 "0"', async () => {
  hooks.answer('/zero', ALLOW);
  hooks.answer('/json', ALLOW_JSON);
  hooks.answer('/created', { status: 201, body: '0' });
  for (const p of ['/zero', '/json', '/created']) await postHook(`${hooks.base}${p}`, BODY, 2000);
  const last = hooks.received.at(-1);
  assert.equal(last?.path, '/created');
  assert.deepEqual(last?.body, BODY, 'the JSON body arrives as sent');
});

test('answers that refuse: "0\\n", code 1, HTTP 500, empty, code as a string, an array, not JSON', async () => {
  const cases: [string, HookAnswer, RegExp][] = [
    ['/newline', DENY_NEWLINE, /response is not 0 nor a JSON object: "0\\n"/],
    ['/code1', DENY_CODE, /response code 1$/],
    ['/500', DENY_500, /HTTP status 500$/],
    ['/empty', { status: 200, body: '' }, /empty response$/],
    ['/string-code', { status: 200, body: '{"code":"0"}' }, /no integer code/],
    ['/float-code', { status: 200, body: '{"code":0.5}' }, /no integer code/],
    ['/array', { status: 200, body: '[0]' }, /not 0 nor a JSON object/],
    ['/text', { status: 200, body: 'ok' }, /not JSON/],
    ['/204', { status: 204, body: '' }, /HTTP status 204$/],
  ];
  for (const [path, answer, re] of cases) {
    hooks.answer(path, answer);
    assert.match(await refusal(postHook(`${hooks.base}${path}`, BODY, 2000)), re, path);
  }
});

test('connection refused and a hang past the timeout refuse', async () => {
  const closed = await startHookServer();
  const deadUrl = `${closed.base}/x`;
  await closed.close();
  assert.match(await refusal(postHook(deadUrl, BODY, 2000)), /ECONNREFUSED/);
  hooks.answer('/hang', 'hang');
  const t0 = Date.now();
  assert.match(await refusal(postHook(`${hooks.base}/hang`, BODY, 300)), /no answer within 300 ms$/);
  const took = Date.now() - t0;
  assert.ok(took >= 280 && took < 3000, `timed out after ${took} ms`);
});

test('callHooks: every URL in order; the first refusal stops the list', async () => {
  hooks.answer('/a', ALLOW);
  hooks.answer('/b', DENY_CODE);
  hooks.answer('/c', ALLOW);
  const before = hooks.received.length;
  await callHooks([`${hooks.base}/a`, `${hooks.base}/c`], BODY, 2000);
  assert.deepEqual(hooks.received.slice(before).map((r) => r.path), ['/a', '/c']);
  const mid = hooks.received.length;
  assert.match(await refusal(callHooks([`${hooks.base}/a`, `${hooks.base}/b`, `${hooks.base}/c`], BODY, 2000)), /\/b: response code 1/);
  assert.deepEqual(hooks.received.slice(mid).map((r) => r.path), ['/a', '/b']);
});

test('hookAnswerRefusal is the SRS do_post rule', () => {
  assert.equal(hookAnswerRefusal(200, '0'), undefined);
  assert.equal(hookAnswerRefusal(201, '{"code":0}'), undefined);
  assert.equal(hookAnswerRefusal(200, ' {"code":0} '), undefined, 'JSON whitespace around an object is JSON');
  assert.notEqual(hookAnswerRefusal(200, ' 0'), undefined, 'a number must be the string "0" exactly');
  assert.notEqual(hookAnswerRefusal(200, '{}'), undefined);
  assert.notEqual(hookAnswerRefusal(302, '0'), undefined);
});
