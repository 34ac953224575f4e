/**
 * Output path templates (SRS srs_path_build_stream + srs_path_build_timestamp), shared by every output that names
 * files after a stream: HLS (hls_m3u8_file, hls_ts_file) and DVR (dvr_path). Pure.
 *
 * Variables: [vhost] [app] [stream] [seq] (a sequence number) [timestamp] (ms since 1970) [duration] (ms) and the
 * date of `timestampMs` in Go layout: [2006] year, [01] month, [02] day, [15] hour, [04] minute, [05] second,
 * [999] millisecond (zero-padded). A variable whose value is not given is left as written (SRS does the same).
 */
import { resolve, sep } from 'node:path';
import { ErrorCode, GatewayError } from '../errors.ts';

export interface PathVariables {
  readonly vhost: string;
  readonly app: string;
  readonly stream: string;
  /** [seq]: a sequence number (HLS: the segment's media sequence number). */
  readonly sequence?: number;
  /** [timestamp] and the date variables: wall-clock ms since 1970 (the file's start). */
  readonly timestampMs?: number;
  /** [duration]: the file's duration in ms (known when it is closed). */
  readonly durationMs?: number;
}

export interface PathTemplateOptions {
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
 * Expands a path template. Values are inserted once (a stream named "[seq]" stays as is). The result is a
 * path relative to the output's root folder; place it with resolveUnderRoot, which refuses escapes.
 */
export function expandPathTemplate(template: string, vars: PathVariables, options: PathTemplateOptions = {}): string {
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
 * The absolute file of an expanded relative path under `root`. A leading '/' is taken as relative to root (SRS
 * joins hls_path + "/" + file).
 * @param what names the output in error messages ('HLS', 'DVR').
 * @throws GatewayError(StreamKeyInvalid) when the path is empty, holds a NUL, or resolves to root itself or
 *   outside it (a stream name with '..').
 */
export function resolveUnderRoot(root: string, relativePath: string, what: string): string {
  if (relativePath === '' || relativePath.includes('\0')) {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `invalid ${what} path ${JSON.stringify(relativePath)}`);
  }
  const base = resolve(root);
  const file = resolve(base, `.${sep}${relativePath.replace(/^[/\\]+/, '')}`);
  if (!file.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new GatewayError(ErrorCode.StreamKeyInvalid, `${what} path ${JSON.stringify(relativePath)} leaves ${base}`);
  }
  return file;
}
