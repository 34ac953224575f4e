import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, GatewayError, isGatewayError } from '../../core/errors.ts';

test('GatewayError carries a stable code and is recognised by isGatewayError', () => {
  const err = new GatewayError(ErrorCode.StreamBusy, 'live/x is already published by rtmp-1');
  assert.equal(err.code, 'GW_ERR_STREAM_BUSY');
  assert.equal(err.name, 'GatewayError');
  assert.ok(isGatewayError(err, ErrorCode.StreamBusy));
  assert.ok(!isGatewayError(err, ErrorCode.TsCrc));
  assert.ok(!isGatewayError(new Error('x')));
});
