/**
 * Which ffmpeg runs, and whether it can run at all (DESIGN.md "ffmpeg is found in this order"): the `ffmpeg`
 * directive, else $FFMPEG_PATH, else `ffmpeg` looked up on PATH. Shared by the ingester and the transcoder.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** ffmpeg binary: the directive, else $FFMPEG_PATH, else `ffmpeg` (looked up on PATH by spawn). */
export function resolveFfmpegPath(directive: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (directive !== undefined && directive !== '') return directive;
  const fromEnv = env['FFMPEG_PATH'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'ffmpeg';
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Find `command` as spawn would (execvp): a name with a slash is used as it is (relative to `cwd`), a bare name is
 * searched in `env.PATH`. Synchronous (a few stat calls): for a check before many spawns of the same binary.
 * @returns the path that would run, or undefined when there is no executable file of that name.
 */
export function findExecutable(command: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string | undefined {
  if (command === '') return undefined;
  if (command.includes('/')) {
    const path = isAbsolute(command) ? command : join(cwd, command);
    return isExecutableFile(path) ? path : undefined;
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    const path = join(dir === '' ? cwd : dir, command);
    if (isExecutableFile(path)) return path;
  }
  return undefined;
}
