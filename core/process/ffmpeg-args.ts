/**
 * ffmpeg command line of one engine (SRS app/srs_app_ffmpeg.cpp SrsFFMPEG::start, srs_app_ingest.cpp
 * SrsIngester::initialize_ffmpeg, srs_app_encoder.cpp SrsEncoder::initialize_ffmpeg). Pure: directives in, argv
 * out (without the binary itself). Shared by the ingester (ingest/) and the transcoder (core/output/transcoder.ts).
 *
 * Order, as SRS builds it:
 *   global options (-nostdin, log level, `-progress pipe:2` for stats)
 *   perfile params, then `-re` (file input, or the lavfi virtual device), `-rtsp_transport tcp` (rtsp:// input),
 *   `-stream_loop -1` (file input looping in ffmpeg), `-f iformat`, `-i url`
 *   — or, for the transcoder, `-f flv -i pipe:0`: the hub writes the source stream as FLV to stdin
 *   (`-nostdin` only turns off ffmpeg's interactive keys; reading `pipe:0` is unaffected)
 *   vfilter params
 *   `-c copy` when the engine is disabled or names no codec; else video (`-vn` | `-c:v copy` | `-c:v X -b:v -r -s
 *   -threads -profile:v -preset vparams`) and audio (`-an` | `-c:a copy` | `-c:a X -b:a -ar -ac aparams`)
 *   `-f flv pipe:1` (this gateway reads FLV from stdout, whatever oformat says) or `-f oformat` (default flv) and
 *   the output URL.
 * Param blocks (perfile, vfilter, vparams, aparams) are SRS's: each `name args...;` becomes `-name args...`.
 */
import type { EngineConfig } from '../config/config.ts';

/** `vcodec vn;` = no video, `acodec an;` = no audio, `copy` = pass through (SRS SRS_RTMP_ENCODER_*). */
export const NO_VIDEO = 'vn';
export const NO_AUDIO = 'an';
export const COPY = 'copy';

export type IngestInputType = 'file' | 'stream' | 'device';

/** The transcoder's input: FLV written by the hub to ffmpeg's stdin. */
export const FLV_STDIN = 'pipe:0';

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

/** What ffmpeg reads: an ingest input, or (`pipe`) FLV on stdin from the hub (transcode). */
export type FfmpegArgsInput =
  | {
    readonly type: IngestInputType;
    /** File path, stream URL, device name (or lavfi graph); a concat list when several files go through ffmpeg. */
    readonly url: string;
  }
  | { readonly type: 'pipe' };

export interface FfmpegArgsOptions {
  readonly input: FfmpegArgsInput;
  readonly engine: EngineDirectives;
  /** `pipe` = FLV on stdout for this gateway (oformat ignored); otherwise ffmpeg pushes to this URL as oformat. */
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

/** True when the engine would write no stream at all (`vcodec vn` and `acodec an`): ffmpeg refuses such an output. */
export function engineOutputsNothing(engine: EngineDirectives): boolean {
  return engine.vcodec === NO_VIDEO && engine.acodec === NO_AUDIO;
}

/** The argv-relevant directives of a config engine (numbers 0 = not set → undefined). */
export function engineDirectives(e: EngineConfig): EngineDirectives {
  const n = (v: number): number | undefined => (v > 0 ? v : undefined);
  return {
    enabled: e.enabled,
    perfile: e.perfile,
    iformat: e.iformat,
    vfilter: e.vfilter,
    vcodec: e.vcodec,
    vbitrate: n(e.vbitrate),
    vfps: n(e.vfps),
    vwidth: n(e.vwidth),
    vheight: n(e.vheight),
    vthreads: n(e.vthreads),
    vprofile: e.vprofile,
    vpreset: e.vpreset,
    vparams: e.vparams,
    acodec: e.acodec,
    abitrate: n(e.abitrate),
    asampleRate: n(e.asampleRate),
    achannels: n(e.achannels),
    aparams: e.aparams,
    oformat: e.oformat,
  };
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

/** The engine's `-f` for an output URL: oformat, flv when absent or `off`. */
export function outputFormat(engine: EngineDirectives): string {
  return engine.oformat === undefined || engine.oformat === 'off' ? 'flv' : engine.oformat;
}

/** The ffmpeg argv (without argv[0]) for one engine. */
export function buildFfmpegArgs(opts: FfmpegArgsOptions): string[] {
  const { input, engine } = opts;
  const out = ['-nostdin', '-hide_banner', '-loglevel', opts.logLevel ?? 'warning', '-nostats', '-progress', 'pipe:2'];
  pushParams(out, engine.perfile);
  if (input.type === 'pipe') {
    // The hub writes FLV, whatever iformat says (SRS's iformat names how ffmpeg reads its RTMP input: FLV too).
    out.push('-f', 'flv', '-i', FLV_STDIN);
  } else {
    const lavfi = input.type === 'device' && engine.iformat === 'lavfi';
    // Files and the lavfi stand-in device would be read as fast as possible: pace them (SRS set_iparams("-re")).
    if ((input.type === 'file' || lavfi) && !hasParam(engine.perfile, 're')) out.push('-re');
    if (/^rtsps?:\/\//i.test(input.url) && !hasParam(engine.perfile, 'rtsp_transport')) out.push('-rtsp_transport', 'tcp');
    if (input.type === 'file' && (opts.loop ?? true) && !hasParam(engine.perfile, 'stream_loop')) out.push('-stream_loop', '-1');
    if (engine.iformat !== undefined && engine.iformat !== 'off') out.push('-f', engine.iformat);
    out.push('-i', input.url);
  }
  pushParams(out, engine.vfilter);
  if (engineCopies(engine)) {
    out.push('-c', COPY);
  } else {
    pushVideo(out, engine);
    pushAudio(out, engine);
  }
  if (opts.output.pipe) {
    // This gateway demuxes FLV from the pipe, whatever oformat says. A pipe cannot be seeked back to patch
    // duration/filesize into onMetaData: do not try (no warning per run).
    out.push('-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1');
  } else {
    out.push('-f', outputFormat(engine), '-y', opts.output.url);
  }
  return out;
}

/** ffconcat list for several files played in order through ffmpeg (`-f concat -safe 0`). */
export function concatList(files: readonly string[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const f of files) lines.push(`file '${f.replaceAll("'", "'\\''")}'`);
  return `${lines.join('\n')}\n`;
}
