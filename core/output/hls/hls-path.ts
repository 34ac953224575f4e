/**
 * HLS path templates (SRS srs_path_build_stream + srs_path_build_timestamp, as used by hls_m3u8_file and
 * hls_ts_file) and segment URLs relative to the playlist (SRS SrsHlsMuxer::segment_open ts_url). Pure.
 *
 * Variables: [vhost] [app] [stream] [seq] (media sequence number) [timestamp] (ms since 1970) [duration] (ms) and
 * the date of `timestampMs` in Go layout: [2006] year, [01] month, [02] day, [15] hour, [04] minute, [05] second,
 * [999] millisecond (zero-padded). A variable whose value is not given is left as written (SRS does the same).
 */
import { posix, resolve, sep } from 'node:path';
import { ErrorCode, GatewayError } from '../../errors.ts';

export interface HlsPathVariables {
  readonly vhost: string;
  readonly app: string;
  readonly stream: string;
  /** [seq]: the segment's media sequence number. */
  readonly sequence?: number;
  /** [timestamp] and the date variables: wall-clock ms since 1970 (the segment start). */
  readonly timestampMs?: number;
  /** [duration]: the segment duration in ms (known when the segment is closed). */
  readonly durationMs?: number;
}

export interface HlsPathOptions {
  /** Time zone of the date variables: 'local' (SRS, localtime_r) or 'utc'. Default 'local'. */
  readonly timeZone?: 'local' | 'utc';
}

const VARIABLE = /\[(vhost|app|stream|seq|timestamp|duration|2006|01|02|15|04|05|999)\]/g;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function dateField(name: string, timestampMs: number, utc: boolean): string {
  const d = new Date(timestampMs);
  switch (name) {
    case '2006':
      return pad(utc ? d.getUTCFullYear() : d.getFullYear(), 4);
    case '01':
      return pad((utc ? d.getUTCMonth() : d.getMonth()) + 1, 2);
    case '02':
      return pad(utc ? d.getUTCDate() : d.getDate(), 2);
    case '15':
      return pad(utc ? d.getUTCHours() : d.getHours(), 2);
    case '04':
      return pad(utc ? d.getUTCMinutes() : d.getMinutes(), 2);
    case '05':
      return pad(utc ? d.getUTCSeconds() : d.getSeconds(), 2);
    default: // '999'
      return pad(utc ? d.getUTCMilliseconds() : d.getMilliseconds(), 3);
  }
}

/**
 * Expands an hls_m3u8_file / hls_ts_file template. Values are inserted once (a stream named "[seq]" stays as is).
 * The result is a path relative to hls_path; place it with resolveHlsFile, which refuses escapes.
 */
export function expandHlsPath(template: string, vars: HlsPathVariables, options: HlsPathOptions = {}): string {
  const utc = options.timeZone === 'utc';
  return template.replace(VARIABLE, (whole, name: string) => {
    switch (name) {
      case 'vhost':
        return vars.vhost;
      case 'app':
        return vars.app;
      case 'stream':
        return vars.stream;
      case 'seq':
        return vars.sequence === undefined ? whole : String(vars.sequence);
      case 'duration':
        return vars.durationMs === undefined ? whole : String(Math.round(vars.durationMs));
      case 'timestamp':
        return vars.timestampMs === undefined ? whole : String(Math.floor(vars.timestampMs));
      default:
        return vars.timestampMs === undefined ? whole : dateField(name, vars.timestampMs, utc);
    }
  });
}

/**
 * The absolute file of an expanded relative path under `root` (hls_path). A leading '/' is taken as relative to
 * root (SRS joins hls_path + "/" + file).
 * @throws GatewayError(StreamKeyInvalid) when the path is empty, holds a NUL, or resolves to root itself or
 *   outside it (a stream name with '..').
 */
export function resolveHlsFile(root: string, relativePath: string): string {
  if (relativePath === '' || relativePath.includes('\0')) {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `invalid HLS path ${JSON.stringify(relativePath)}`);
  }
  const base = resolve(root);
  const file = resolve(base, `.${sep}${relativePath.replace(/^[/\\]+/, '')}`);
  if (!file.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `HLS path ${JSON.stringify(relativePath)} leaves ${base}`);
  }
  return file;
}

/**
 * The URL of a segment as written in the playlist: the segment path relative to the playlist's folder, each
 * path segment percent-encoded (RFC 3986), '/' separated. Both arguments are paths relative to hls_path.
 * Example: segmentUri('live/s.m3u8', 'live/s-1.ts') = 's-1.ts'; segmentUri('live/s/i.m3u8', 'live/t.ts') = '../t.ts'.
 */
export function segmentUri(m3u8Path: string, tsPath: string): string {
  const toPosix = (p: string): string => posix.normalize(`/${p.replace(/\\/g, '/')}`);
  const rel = posix.relative(posix.dirname(toPosix(m3u8Path)), toPosix(tsPath));
  return rel
    .split('/')
    .map((part) => (part === '..' ? part : encodeURIComponent(part)))
    .join('/');
}
