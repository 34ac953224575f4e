/**
 * The typed `vhost { dvr { } }` section (SRS SrsConfig get_dvr_*; directives and defaults of SRS trunk/conf/full.conf,
 * SRS 3+: the `append` plan is gone). Built from the schema by config.ts; kept here so the vhost builder stays small.
 */
import type { LeafKey, ValueOf } from './schema.ts';

export type DvrPlan = 'session' | 'segment';
export type DvrTimeJitter = 'full' | 'zero' | 'off';

/** SRS: a dvr_path that does not name a .flv or .mp4 file is a folder, and gets this file name. */
export const DVR_DEFAULT_FILE_NAME = '[stream].[timestamp].flv';

export interface DvrConfig {
  /** default false. */
  readonly enabled: boolean;
  /** `dvr_apply`: ['all'] (default) or `app/stream` names. */
  readonly apply: readonly string[];
  /** default 'session'. */
  readonly plan: DvrPlan;
  /** `dvr_path` template, always naming a .flv or .mp4 file (a folder gets /[stream].[timestamp].flv). */
  readonly path: string;
  /** `dvr_duration` seconds → ms (default 30 s): the segment plan's file length. */
  readonly durationMs: number;
  /** default true: the segment plan cuts at a keyframe. */
  readonly waitKeyframe: boolean;
  /** default 'full'. */
  readonly timeJitter: DvrTimeJitter;
}

type DvrKey = Extract<LeafKey, `vhost.dvr.${string}`>;
/** Reads one `vhost.dvr.*` value (parsed, or its default) of the section being built. */
export type DvrValueReader = <K extends DvrKey>(key: K) => ValueOf<K>;

/** The DvrConfig of one vhost from its values. */
export function buildDvrConfig(read: DvrValueReader): DvrConfig {
  return {
    enabled: read('vhost.dvr.enabled'),
    apply: read('vhost.dvr.dvr_apply'),
    plan: read('vhost.dvr.dvr_plan'),
    path: dvrFilePath(read('vhost.dvr.dvr_path')),
    durationMs: read('vhost.dvr.dvr_duration'),
    waitKeyframe: read('vhost.dvr.dvr_wait_keyframe'),
    timeJitter: read('vhost.dvr.time_jitter'),
  };
}

/**
 * A dvr_path as a file template: one ending in .flv or .mp4 (any case) is kept; anything else is a folder and gets
 * `/[stream].[timestamp].flv` (SRS SrsDvrSegmenter::generate_path).
 */
export function dvrFilePath(path: string): string {
  if (/\.(flv|mp4)$/i.test(path)) return path;
  return `${path.replace(/[/\\]+$/, '')}/${DVR_DEFAULT_FILE_NAME}`;
}

/** Whether `dvr_apply` selects the stream app/stream: `all`, or the exact `app/stream` name (SRS srs_config_apply_filter). */
export function dvrApplies(cfg: DvrConfig, app: string, stream: string): boolean {
  const name = `${app}/${stream}`;
  return cfg.apply.some((a) => a === 'all' || a === name);
}
