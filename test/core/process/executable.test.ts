import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, resolveFfmpegPath } from '../../../core/process/executable.ts';

test('resolveFfmpegPath: directive, then FFMPEG_PATH, then ffmpeg on PATH', () => {
  assert.equal(resolveFfmpegPath('/opt/ff', { FFMPEG_PATH: '/env/ff' }), '/opt/ff');
  assert.equal(resolveFfmpegPath(undefined, { FFMPEG_PATH: '/env/ff' }), '/env/ff');
  assert.equal(resolveFfmpegPath('', { FFMPEG_PATH: '' }), 'ffmpeg');
  assert.equal(resolveFfmpegPath(undefined, {}), 'ffmpeg');
});

test('findExecutable: a path is checked as it is, a bare name is searched on PATH; files without x or folders are not found', () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-exe-'));
  try {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ff'), '#!/bin/sh\n');
    chmodSync(join(bin, 'ff'), 0o755);
    writeFileSync(join(bin, 'noexec'), '');
    chmodSync(join(bin, 'noexec'), 0o644);
    mkdirSync(join(bin, 'adir'));
    const env = { PATH: `/nonexistent:${bin}` };
    assert.equal(findExecutable('ff', env), join(bin, 'ff'));
    assert.equal(findExecutable('noexec', env), undefined);
    assert.equal(findExecutable('adir', env), undefined);
    assert.equal(findExecutable('missing', env), undefined);
    assert.equal(findExecutable(join(bin, 'ff'), {}), join(bin, 'ff'));
    assert.equal(findExecutable('bin/ff', {}, dir), join(bin, 'ff'), 'relative to cwd');
    assert.equal(findExecutable('/nonexistent/ffmpeg', env), undefined);
    assert.equal(findExecutable('', env), undefined);
    assert.equal(findExecutable('ff', {}), undefined, 'no PATH: nothing found');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
