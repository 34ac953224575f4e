/**
 * Serves HLS files under hls_path (SRS SrsHttpStaticServer / SrsHttpFileServer for .m3u8, .ts, and with fMP4 the
 * .m4s segments and .mp4 init segments; RFC 8216 section 4 MIME types, RFC 9110 14 Range requests, RFC 9110
 * 15.5.17 416).
 *
 * Never serves a file outside its root: each decoded path segment must be a plain name (no '', '.', '..',
 * '/', '\\' or NUL, so percent-encoded traversal fails too), and the file's realpath must lie under the root's
 * realpath (no symlink escape). The file is then opened with O_NOFOLLOW and must be a regular file.
 */
import { constants, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, sep } from 'node:path';

export const HLS_PLAYLIST_CONTENT_TYPE = 'application/vnd.apple.mpegurl';
export const HLS_SEGMENT_CONTENT_TYPE = 'video/mp2t';
/** fMP4 media segments (RFC 8216 section 3.3; the 'video/iso.segment' type registered with IANA). */
export const HLS_FMP4_SEGMENT_CONTENT_TYPE = 'video/iso.segment';
/** fMP4 init segments (EXT-X-MAP). */
export const HLS_INIT_CONTENT_TYPE = 'video/mp4';

type HlsFileKind = 'playlist' | 'segment' | 'fmp4' | 'init';

const CONTENT_TYPE: Readonly<Record<HlsFileKind, string>> = {
  playlist: HLS_PLAYLIST_CONTENT_TYPE, segment: HLS_SEGMENT_CONTENT_TYPE, fmp4: HLS_FMP4_SEGMENT_CONTENT_TYPE, init: HLS_INIT_CONTENT_TYPE,
};

export interface ServeHlsFileOptions {
  /**
   * Called instead of answering 404 when the path is well-formed but no such file exists under the root
   * (lets the caller try another route, e.g. a live .ts stream). Not called for refused (traversal) paths.
   */
  readonly onNotFound?: () => void;
}

/** A byte range, both ends inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Parses a single-range `Range: bytes=...` header against a file size (RFC 9110 14.1.2).
 * @returns the range; 'unsatisfiable' (answer 416); undefined when absent, malformed or multi-range (serve all).
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined; // invalid range-spec: ignore the header
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** The decoded path segments of a request target, or undefined when any segment is not a plain file name. */
function pathSegments(target: string): string[] | undefined {
  let rawPath: string;
  if (target.startsWith('/')) {
    rawPath = target.split(/[?#]/, 1)[0] as string;
  } else {
    return undefined; // absolute-form and authority-form targets are not file requests
  }
  const parts = rawPath.slice(1).split('/');
  const out: string[] = [];
  for (const raw of parts) {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) return undefined;
    out.push(name);
  }
  return out;
}

function kindOf(name: string): HlsFileKind | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.m3u8')) return 'playlist';
  if (lower.endsWith('.ts')) return 'segment';
  if (lower.endsWith('.m4s')) return 'fmp4';
  if (lower.endsWith('.mp4')) return 'init';
  return undefined;
}

/** The extension-based kind of a request target, looked at before any decoding error. */
function targetKind(target: string): HlsFileKind | undefined {
  const path = target.split(/[?#]/, 1)[0] as string;
  return kindOf(path);
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range',
} as const;

function answer(res: ServerResponse, status: number, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...CORS, 'Content-Length': '0', ...headers }).end();
}

const isMissing = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
};

/** Resolves and opens the file; undefined when refused or missing (with `missing` telling which). */
async function openUnderRoot(
  root: string,
  segments: readonly string[],
): Promise<{ fh: FileHandle; stat: Stats } | 'missing' | 'refused'> {
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(join(realRoot, ...segments));
  } catch (e) {
    if (isMissing(e)) return 'missing';
    throw e;
  }
  if (!real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return 'refused';
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    if (isMissing(e)) return 'missing';
    throw e;
  }
  const stat = await fh.stat();
  if (!stat.isFile()) {
    await fh.close();
    return 'missing';
  }
  return { fh, stat };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  kind: HlsFileKind,
  segments: readonly string[],
  options: ServeHlsFileOptions,
): Promise<void> {
  const opened = await openUnderRoot(root, segments);
  if (opened === 'refused') return answer(res, 404);
  if (opened === 'missing') {
    if (options.onNotFound !== undefined) return options.onNotFound();
    return answer(res, 404);
  }
  const { fh, stat } = opened;
  const size = stat.size;
  const headers: Record<string, string> = {
    ...CORS,
    'Content-Type': CONTENT_TYPE[kind],
    'Last-Modified': stat.mtime.toUTCString(),
  };
  if (kind === 'playlist') headers['Cache-Control'] = 'no-cache';
  else headers['Accept-Ranges'] = 'bytes';
  const range = kind !== 'playlist' ? parseByteRange(req.headers.range, size) : undefined;
  if (range === 'unsatisfiable') {
    await fh.close();
    return answer(res, 416, { ...headers, 'Content-Range': `bytes */${size}` });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range !== undefined ? 206 : 200, headers);
  if (req.method === 'HEAD' || size === 0) {
    await fh.close();
    res.end();
    return;
  }
  const body = fh.createReadStream({ start, end, autoClose: true });
  body.on('error', () => res.destroy());
  res.on('close', () => body.destroy());
  body.pipe(res);
}

/**
 * Handles a request for an HLS file (.m3u8, .ts, .m4s or .mp4, by the request path) under `root` (hls_path).
 * Playlists: `application/vnd.apple.mpegurl`, `Cache-Control: no-cache`. Segments: `video/mp2t`,
 * `video/iso.segment` (.m4s), `video/mp4` (init), single byte ranges (206, 416). CORS: `Access-Control-Allow-Origin: *`. GET and HEAD (OPTIONS answered for CORS preflight,
 * other methods 405). Refused or unknown paths: 404.
 * @returns false, without touching `res`, when the path is not an HLS file (the caller routes it); true when
 *   this function answers (asynchronously) or has handed the request to `options.onNotFound`.
 */
export function serveHlsFile(req: IncomingMessage, res: ServerResponse, root: string, options: ServeHlsFileOptions = {}): boolean {
  const target = req.url ?? '/';
  const kind = targetKind(target);
  if (kind === undefined) return false;
  if (req.method === 'OPTIONS') {
    answer(res, 204, { 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers': 'Range', 'Access-Control-Max-Age': '86400' });
    return true;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    answer(res, 405, { Allow: 'GET, HEAD, OPTIONS' });
    return true;
  }
  const segments = pathSegments(target);
  const last = segments?.[segments.length - 1];
  if (segments === undefined || last === undefined || kindOf(last) !== kind) {
    answer(res, 404);
    return true;
  }
  serve(req, res, root, kind, segments, options).catch(() => answer(res, 500));
  return true;
}
