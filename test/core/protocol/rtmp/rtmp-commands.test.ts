import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  amf0Property,
  connectResultValues,
  dataMessageName,
  metadataBody,
  parseCommand,
  rtmpConnectTarget,
  rtmpStreamKey,
} from '../../../../core/protocol/rtmp/rtmp-commands.ts';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0 } from '../../../../core/protocol/amf0.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';

test('parseCommand: name, transaction id, command object, arguments', () => {
  const cmd = parseCommand(encodeAmf0(['publish', 5, null, 'livestream', 'live']));
  assert.deepEqual(cmd, { name: 'publish', transactionId: 5, commandObject: null, args: ['livestream', 'live'] });
  assert.throws(() => parseCommand(encodeAmf0([1, 2])), (e) => isGatewayError(e, ErrorCode.RtmpCommand));
  assert.throws(() => parseCommand(Buffer.of(0x02, 0x00)), (e) => isGatewayError(e, ErrorCode.Amf0Decode));
});

test('amf0Property reads objects and ECMA arrays only', () => {
  assert.equal(amf0Property({ app: 'live' }, 'app'), 'live');
  assert.equal(amf0Property(new Amf0EcmaArray({ app: 'x' }), 'app'), 'x');
  assert.equal(amf0Property({ app: 'live' }, 'toString'), undefined);
  assert.equal(amf0Property(null, 'app'), undefined);
  assert.equal(amf0Property(['a'], '0'), undefined);
});

test('connect _result carries fmsVer, capabilities and NetConnection.Connect.Success with objectEncoding', () => {
  const [name, tid, props, info] = decodeAmf0(encodeAmf0(connectResultValues(1, 0)));
  assert.equal(name, '_result');
  assert.equal(tid, 1);
  assert.equal(amf0Property(props, 'fmsVer'), 'FMS/3,5,3,888');
  assert.equal(amf0Property(props, 'capabilities'), 127);
  assert.equal(amf0Property(info, 'code'), 'NetConnection.Connect.Success');
  assert.equal(amf0Property(info, 'objectEncoding'), 0);
});

test('metadataBody strips @setDataFrame (SRS) and keeps onMetaData bodies; other data → undefined', () => {
  const meta = new Amf0EcmaArray({ width: 320, height: 240 });
  const body = encodeAmf0(['@setDataFrame', 'onMetaData', meta]);
  const stored = metadataBody(body) as Buffer;
  assert.deepEqual(decodeAmf0(stored), ['onMetaData', meta]);
  assert.equal(stored.buffer, body.buffer, 'a view, no copy');
  const plain = encodeAmf0(['onMetaData', meta]);
  assert.equal(metadataBody(plain), plain);
  assert.equal(metadataBody(encodeAmf0(['onTextData', { text: 'x' }])), undefined);
  assert.equal(metadataBody(encodeAmf0(['@setDataFrame', 'onCuePoint', {}])), undefined);
  assert.throws(() => metadataBody(Buffer.concat([encodeAmf0(['@setDataFrame', 'onMetaData']), Buffer.of(0x03, 0x00)])), (e) =>
    isGatewayError(e, ErrorCode.Amf0Decode),
  );
  assert.equal(dataMessageName(body), '@setDataFrame');
  assert.equal(dataMessageName(Buffer.of(0x99)), undefined);
});

test('rtmpConnectTarget / rtmpStreamKey: app from tcUrl, vhost rules, stream query stripped', () => {
  const cases: [string | undefined, string | undefined, string, string][] = [
    ['rtmp://127.0.0.1:1935/live', 'live', 'livestream', '__defaultVhost__/live/livestream'],
    ['rtmp://localhost/live', 'live', 'livestream?token=x', '__defaultVhost__/live/livestream'],
    ['rtmp://cdn.example.com/live', 'live', 'a', 'cdn.example.com/live/a'],
    ['rtmp://127.0.0.1/live?vhost=v1', 'live?vhost=v1', 'a', 'v1/live/a'],
    ['rtmp://127.0.0.1/live?vhost=v1', 'live', 'a?vhost=v2&token=t', 'v2/live/a'],
    [undefined, 'live?vhost=v3', 'a', 'v3/live/a'],
    ['rtmp://[::1]:1935/app/sub', 'app/sub', 's', '__defaultVhost__/app/sub/s'],
    ['not a url', 'live', 's', '__defaultVhost__/live/s'],
  ];
  for (const [tcUrl, app, name, expected] of cases) {
    const k = rtmpStreamKey(tcUrl, app, name);
    assert.equal(`${k.vhost}/${k.app}/${k.stream}`, expected, `${tcUrl} ${app} ${name}`);
  }
  assert.deepEqual(rtmpConnectTarget('rtmp://cdn.example.com/live', undefined), { app: 'live', vhost: 'cdn.example.com' });
  assert.throws(() => rtmpStreamKey('rtmp://h/live', 'live', ''), (e) => isGatewayError(e, ErrorCode.StreamKeyInvalid));
  assert.throws(() => rtmpStreamKey('rtmp://h/live', 'live', '../etc'), (e) => isGatewayError(e, ErrorCode.StreamKeyInvalid));
  assert.throws(() => rtmpStreamKey('rtmp://h/', '', 'x'), (e) => isGatewayError(e, ErrorCode.StreamKeyInvalid));
});
