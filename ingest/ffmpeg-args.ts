/**
 * ffmpeg command line of one ingest engine (SRS app/srs_app_ffmpeg.cpp SrsFFMPEG::start, srs_app_ingest.cpp
 * SrsIngester::initialize_ffmpeg). Pure: directives in, argv out (without the binary itself).
 *
 * Order, as SRS builds it:
 *   global options (-nostdin, log level, `-progress pipe:2` for stats)
 *   perfile params, then `-re` (file input, or the lavfi virtual device), `-rtsp_transport tcp` (rtsp:// input),
 *   `-stream_loop -1` (file input looping in ffmpeg), `-f iformat`, `-i url`
 *   vfilter params
 *   `-c copy` when the engine is disabled or names no codec; else video (`-vn` | `-c:v copy` | `-c:v X -b:v -r -s
 *   -threads -profile:v -preset vparams`) and audio (`-an` | `-c:a copy` | `-c:a X -b:a -ar -ac aparams`)
 *   `-f oformat` (default flv), then `pipe:1` (this gateway reads FLV from stdout) or the output URL.
 * Param blocks (perfile, vfilter, vparams, aparams) are SRS's: each `name args...;` becomes `-name args...`.
 */

/** `vcodec vn;` = no video, `acodec an;` = no audio, `copy` = pass through (SRS SRS_RTMP_ENCODER_*). */
export const NO_VIDEO = 'vn';
export const NO_AUDIO = 'an';
export const COPY = 'copy';

export type IngestInputType = 'file' | 'stream' | 'device';

/** One `name args...;` line of a param block (perfile, vfilter, vparams, aparams). */
export interface FfmpegParam {
  readonly name: string;
  readonly args: readonly string[];
}

/** The engine directives the argv depends on (a subset of IngestEngineConfig; absent = not set). */
export interface EngineDirectives {
  readonly enabled: boolean;
  readonly perfile?: readonly FfmpegParam[];
  readonly iformat?: string | undefined;
  readonly vfilter?: readonly FfmpegParam[];
  readonly vcodec?: string | undefined;
  /** kbps (SRS: written as bps = vbitrate × 1000). */
  readonly vbitrate?: number | undefined;
  readonly vfps?: number | undefined;
  readonly vwidth?: number | undefined;
  readonly vheight?: number | undefined;
  readonly vthreads?: number | undefined;
  readonly vprofile?: string | undefined;
  readonly vpreset?: string | undefined;
  readonly vparams?: readonly FfmpegParam[];
  readonly acodec?: string | undefined;
  /** kbps. */
  readonly abitrate?: number | undefined;
  /** Hz. */
  readonly asampleRate?: number | undefined;
  readonly achannels?: number | undefined;
  readonly aparams?: readonly FfmpegParam[];
  /** Default 'flv'. */
  readonly oformat?: string | undefined;
}

export interface FfmpegArgsInput {
  readonly type: IngestInputType;
  /** File path, stream URL, device name (or lavfi graph); a concat list when several files go through ffmpeg. */
  readonly url: string;
}

export interface FfmpegArgsOptions {
  readonly input: FfmpegArgsInput;
  readonly engine: EngineDirectives;
  /** `pipe` = FLV on stdout for this gateway; otherwise ffmpeg pushes to this URL. */
  readonly output: { readonly pipe: true } | { readonly pipe: false; readonly url: string };
  /** File input: loop forever inside ffmpeg (`-stream_loop -1`). Default true for `type file`. */
  readonly loop?: boolean;
  /** ffmpeg -loglevel; default 'warning' (progress goes to stderr as key=value lines, not logged). */
  readonly logLevel?: string;
}

/** True when the engine transcodes nothing: disabled, or neither vcodec nor acodec set (SRS initialize_copy). */
export function engineCopies(engine: EngineDirectives): boolean {
  if (!engine.enabled) return true;
  const v = engine.vcodec;
  const a = engine.acodec;
  return (v === undefined || v === COPY) && (a === undefined || a === COPY);
}

function pushParams(out: string[], params: readonly FfmpegParam[] | undefined): void {
  for (const p of params ?? []) out.push(`-${p.name}`, ...p.args);
}

function hasParam(params: readonly FfmpegParam[] | undefined, name: string): boolean {
  return (params ?? []).some((p) => p.name === name);
}

function pushVideo(out: string[], e: EngineDirectives): void {
  const vcodec = e.vcodec ?? COPY;
  if (vcodec === NO_VIDEO) {
    out.push('-vn');
    return;
  }
  out.push('-c:v', vcodec);
  if (vcodec === COPY) return;
  if (e.vbitrate !== undefined && e.vbitrate > 0) out.push('-b:v', String(e.vbitrate * 1000));
  if (e.vfps !== undefined && e.vfps > 0) out.push('-r', String(e.vfps));
  if (e.vwidth !== undefined && e.vheight !== undefined && e.vwidth > 0 && e.vheight > 0) {
    out.push('-s', `${e.vwidth}x${e.vheight}`);
  }
  if (e.vthreads !== undefined && e.vthreads > 0) out.push('-threads', String(e.vthreads));
  if (e.vprofile !== undefined) out.push('-profile:v', e.vprofile);
  if (e.vpreset !== undefined) out.push('-preset', e.vpreset);
  pushParams(out, e.vparams);
}

function pushAudio(out: string[], e: EngineDirectives): void {
  const acodec = e.acodec ?? COPY;
  if (acodec === NO_AUDIO) {
    out.push('-an');
    return;
  }
  out.push('-c:a', acodec);
  if (acodec === COPY) return;
  if (e.abitrate !== undefined && e.abitrate > 0) out.push('-b:a', String(e.abitrate * 1000));
  if (e.asampleRate !== undefined && e.asampleRate > 0) out.push('-ar', String(e.asampleRate));
  if (e.achannels !== undefined && e.achannels > 0) out.push('-ac', String(e.achannels));
  pushParams(out, e.aparams);
}

/** The ffmpeg argv (without argv[0]) for one engine. */
export function buildFfmpegArgs(opts: FfmpegArgsOptions): string[] {
  const { input, engine } = opts;
  const out = ['-nostdin', '-hide_banner', '-loglevel', opts.logLevel ?? 'warning', '-nostats', '-progress', 'pipe:2'];
  pushParams(out, engine.perfile);
  const lavfi = input.type === 'device' && engine.iformat === 'lavfi';
  // Files and the lavfi stand-in device would be read as fast as possible: pace them (SRS set_iparams("-re")).
  if ((input.type === 'file' || lavfi) && !hasParam(engine.perfile, 're')) out.push('-re');
  if (/^rtsps?:\/\//i.test(input.url) && !hasParam(engine.perfile, 'rtsp_transport')) out.push('-rtsp_transport', 'tcp');
  if (input.type === 'file' && (opts.loop ?? true) && !hasParam(engine.perfile, 'stream_loop')) out.push('-stream_loop', '-1');
  if (engine.iformat !== undefined && engine.iformat !== 'off') out.push('-f', engine.iformat);
  out.push('-i', input.url);
  pushParams(out, engine.vfilter);
  if (engineCopies(engine)) {
    out.push('-c', COPY);
  } else {
    pushVideo(out, engine);
    pushAudio(out, engine);
  }
  const oformat = engine.oformat === undefined || engine.oformat === 'off' ? 'flv' : engine.oformat;
  out.push('-f', oformat);
  if (opts.output.pipe) {
    // A pipe cannot be seeked back to patch duration/filesize into onMetaData: do not try (no warning per run).
    if (oformat === 'flv') out.push('-flvflags', 'no_duration_filesize');
    out.push('pipe:1');
  } else {
    out.push('-y', opts.output.url);
  }
  return out;
}

/** ffconcat list for several files played in order through ffmpeg (`-f concat -safe 0`). */
export function concatList(files: readonly string[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const f of files) lines.push(`file '${f.replaceAll("'", "'\\''")}'`);
  return `${lines.join('\n')}\n`;
}
