import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForwardDestination, type ForwardDestination } from '../../../core/config/forward-config.ts';
import { forwardUrl, HubForwardSink } from '../../../core/output/forwarder.ts';
import { makeStreamKey } from '../../../core/media/stream-key.ts';
import type { Publisher } from '../../../core/hub/ports.ts';
import type { RtmpMessage } from '../../../core/media/message.ts';
import { key } from '../../helpers/rtmp-recording-server.ts';

function dest(text: string): ForwardDestination {
  const r = parseForwardDestination(text);
  assert.ok('value' in r, text);
  return r.value;
}

const CAM = makeStreamKey('__defaultVhost__', 'live', 'cam');
const CAM_V = makeStreamKey('v.example', 'live/sub', 'cam');

/** destination, stream key, publisher's query → URL (SRS srs_generate_rtmp_url + srs_generate_stream_with_query). */
const URL_CASES: readonly (readonly [string, typeof CAM, string, string])[] = [
  ['127.0.0.1:1936', CAM, '', 'rtmp://127.0.0.1:1936/live/cam'],
  ['10.0.0.1', CAM, '', 'rtmp://10.0.0.1:1935/live/cam'], // SRS: port 1935 when absent
  ['127.0.0.1:1936', CAM, 'token=abc', 'rtmp://127.0.0.1:1936/live/cam?token=abc'], // the publisher's query kept
  ['127.0.0.1:1936', CAM_V, '', 'rtmp://127.0.0.1:1936/live/sub/cam?vhost=v.example'], // not the default vhost: named
  ['127.0.0.1:1936', CAM_V, 'vhost=v.example&token=abc', 'rtmp://127.0.0.1:1936/live/sub/cam?vhost=v.example&token=abc'],
  ['127.0.0.1:1936?vhost=backup', CAM_V, 'token=abc', 'rtmp://127.0.0.1:1936/live/sub/cam?token=abc&vhost=backup'], // the destination's query wins
  ['[::1]:1936', CAM, '', 'rtmp://[::1]:1936/live/cam'],
  ['rtmp://cdn.example/app/key', CAM_V, 'token=abc', 'rtmp://cdn.example/app/key'], // a full URL as given
  ['rtmp://cdn.example/[app]/[stream]_hd?vhost=[vhost]', CAM_V, '', 'rtmp://cdn.example/live/sub/cam_hd?vhost=v.example'],
  ['rtmp://127.0.0.1:[port]/[app]?vhost=x/[stream]', CAM, '', 'rtmp://127.0.0.1:[port]/live?vhost=x/cam'], // [port], SRS form: the resolver's
];

test('forwardUrl: host:port keeps app/stream and the query (vhost named unless default); a full URL is used as given', () => {
  for (const [d, k, query, want] of URL_CASES) assert.equal(forwardUrl(dest(d), k, query), want, `${d} ${k.vhost}/${k.app}/${k.stream}?${query}`);
});

test('HubForwardSink: an in-process publisher, never congested; counts what it wrote; close is idempotent', () => {
  const written: RtmpMessage[] = [];
  const closed: (string | undefined)[] = [];
  const publisher: Publisher = { key: CAM, write: (m) => written.push(m), close: (r) => closed.push(r) };
  const sink = new HubForwardSink(publisher);
  const k = key(0, 95);
  sink.write(k);
  assert.equal(sink.congested, false);
  assert.deepEqual(sink.stats(), { state: 'publishing', connects: 1, publishStarts: 1, sentMessages: 1, sentBytes: 100, droppedMessages: 0, lastError: undefined });
  sink.close('unpublished');
  sink.close('again');
  sink.write(k);
  assert.deepEqual(written, [k]);
  assert.deepEqual(closed, ['unpublished']);
  assert.equal(sink.stats().state, 'closed');
});
