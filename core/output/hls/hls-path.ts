/**
 * HLS path templates (SRS srs_path_build_stream + srs_path_build_timestamp, as used by hls_m3u8_file and
 * hls_ts_file) and segment URLs relative to the playlist (SRS SrsHlsMuxer::segment_open ts_url). Pure.
 *
 * The template expansion is shared with the other file outputs (core/output/path-template.ts): [vhost] [app]
 * [stream] [seq] (media sequence number) [timestamp] [duration] and the date variables [2006] [01] [02] [15] [04]
 * [05] [999]. A variable whose value is not given is left as written (SRS does the same).
 */
import { posix } from 'node:path';
import {
  expandPathTemplate,
  resolveUnderRoot,
  type PathTemplateOptions,
  type PathVariables,
} from '../path-template.ts';

export type HlsPathVariables = PathVariables;
export type HlsPathOptions = PathTemplateOptions;

/**
 * Expands an hls_m3u8_file / hls_ts_file template. Values are inserted once (a stream named "[seq]" stays as is).
 * The result is a path relative to hls_path; place it with resolveHlsFile, which refuses escapes.
 */
export function expandHlsPath(template: string, vars: HlsPathVariables, options: HlsPathOptions = {}): string {
  return expandPathTemplate(template, vars, options);
}

/**
 * The absolute file of an expanded relative path under `root` (hls_path). A leading '/' is taken as relative to
 * root (SRS joins hls_path + "/" + file).
 * @throws GatewayError(StreamKeyInvalid) when the path is empty, holds a NUL, or resolves to root itself or
 *   outside it (a stream name with '..').
 */
export function resolveHlsFile(root: string, relativePath: string): string {
  return resolveUnderRoot(root, relativePath, 'HLS');
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
