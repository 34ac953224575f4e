import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfigText } from '../../core/config/config.ts';
import { createPublishTargetResolver } from '../../core/output/publish-target.ts';
import { createIngesters, inputNames } from '../../ingest/index.ts';
import { fakeHub } from '../helpers/fake-hub.ts';

test('inputNames: [app] and [stream] from a URL or a file name', () => {
  assert.deepEqual(inputNames('stream', 'rtmp://h/live/src'), { app: 'live', stream: 'src' });
  assert.deepEqual(inputNames('stream', 'http://h:8080/app/cam.flv'), { app: 'app', stream: 'cam' });
  assert.deepEqual(inputNames('stream', 'rtsp://cam:554/stream1'), { app: 'live', stream: 'stream1' });
  assert.deepEqual(inputNames('file', './fixtures/flv/demo.flv'), { app: 'live', stream: 'demo' });
  assert.deepEqual(inputNames('device', 'testsrc2=size=320x240'), { app: 'live', stream: 'testsrc2=size=320x240' });
  assert.deepEqual(inputNames('file', '/x/my movie.mp4'), { app: 'live', stream: 'my_movie' });
});

test('createIngesters: enabled blocks of enabled vhosts; outputs resolved to in-process or remote', async () => {
  const { config } = loadConfigText(`vhost __defaultVhost__ {
    ingest a { enabled on; input { type file; url a.flv; } engine { output rtmp://127.0.0.1:[port]/live/[stream]; } }
    ingest b { enabled off; input { type file; url b.flv; } engine { output rtmp://127.0.0.1/live/b; } }
    ingest c { enabled on; input { type stream; url rtmp://h/app/src; } engine x { output rtmp://10.0.0.1/[app]/[stream]_[engine]; } }
  }
  vhost off.com { enabled off; ingest d { enabled on; input { type file; url d.flv; } engine { output rtmp://127.0.0.1/live/d; } } }`, 'conf/t.conf');
  const log = pino({ level: 'silent' });
  const ingesters = createIngesters(config.vhosts.values(), { log, publishTarget: createPublishTargetResolver({ hub: fakeHub(), log, rtmpPorts: [19350] }) });
  assert.deepEqual(ingesters.map((i) => i.id), ['a', 'c']);
  const a = ingesters[0]?.stats().engines[0];
  assert.equal(a?.mode, 'native');
  assert.equal(a?.stream, '__defaultVhost__/live/a');
  const c = ingesters[1]?.stats().engines[0];
  assert.equal(c?.mode, 'ffmpeg-push', 'a foreign server: ffmpeg pushes itself');
  assert.equal(c?.stream, undefined);
  for (const i of ingesters) await i.stop();
});
