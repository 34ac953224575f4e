/** SRS's mux rules: exact patterns, trailing-slash patterns with a rest id (longest wins), the bare folder name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiRouter } from '../../../core/http/api-router.ts';

function router(): ApiRouter<void, string> {
  return new ApiRouter<void, string>()
    .add('/', () => 'root')
    .add('/api/', (_c, rest) => `api:${rest}`)
    .add('/api/v1/versions', () => 'versions')
    .add('/api/v1/clients/', (_c, rest) => `clients:${rest}`);
}

test('exact, folder and rest-id matches; the longest folder wins; no match is undefined', () => {
  const r = router();
  const run = (path: string): string | undefined => {
    const m = r.match(path);
    return m === undefined ? undefined : m.handler(undefined, m.rest);
  };
  const table: readonly [string, string | undefined][] = [
    ['/', 'root'],
    ['/api/v1/versions', 'versions'],
    ['/api/v1/versions/', 'api:v1/versions/'],
    ['/api/v1/clients', 'clients:'],
    ['/api/v1/clients/', 'clients:'],
    ['/api/v1/clients/rtmp-17', 'clients:rtmp-17'],
    ['/api/v1/clients/ingest-cam/0', 'clients:ingest-cam/0'],
    ['/api/v1/clients/ingest-cam%2F0', 'clients:ingest-cam/0'],
    ['/api/v1/other', 'api:v1/other'],
    ['/api', 'api:'],
    ['/apix', undefined],
    ['/metrics', undefined],
    ['/api/v1/clients/%E0%A4%A', undefined],
  ];
  for (const [path, want] of table) assert.equal(run(path), want, path);
});

test('a pattern added twice is a programming error', () => {
  assert.throws(() => router().add('/api/v1/versions', () => 'again'), /already added/);
});
