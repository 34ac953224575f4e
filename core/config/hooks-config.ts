/**
 * The typed `vhost { http_hooks { } }` section (SRS trunk/conf/full.conf `http_hooks`, srs_app_config.cpp
 * get_vhost_on_*): per event, the URLs POSTed in order; the castgate-only `timeout` (SRS hard-codes 30 s in its
 * HTTP client). Built from the schema by config.ts.
 */
import type { LeafKey, ValueOf } from './schema.ts';

/** The hook events, as SRS names the directives (and the `action` of the JSON body). */
export const HOOK_EVENTS = ['on_connect', 'on_close', 'on_publish', 'on_unpublish', 'on_play', 'on_stop', 'on_dvr', 'on_hls'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export interface HttpHooksConfig {
  /** default false. */
  readonly enabled: boolean;
  /** Per event, the http:// or https:// URLs in the order written; absent events have none. */
  readonly urls: Readonly<Record<HookEvent, readonly string[]>>;
  /** `timeout` seconds → ms (castgate; default 30 s as SRS's hard-coded one): a slower call is a refusal. */
  readonly timeoutMs: number;
}

type HooksKey = Extract<LeafKey, `vhost.http_hooks.${string}`>;
/** Reads one `vhost.http_hooks.*` value of the section being built: parsed, its default, or undefined when absent. */
export type HooksValueReader = <K extends HooksKey>(key: K) => ValueOf<K> | undefined;

/**
 * The HttpHooksConfig of one vhost.
 * @returns `{ error, event }` for the first URL that is not http:// or https:// (the caller locates the directive).
 */
export function buildHttpHooksConfig(read: HooksValueReader): { readonly value: HttpHooksConfig } | { readonly error: string; readonly event: HookEvent } {
  const urls = {} as Record<HookEvent, readonly string[]>;
  for (const event of HOOK_EVENTS) {
    const list = read(`vhost.http_hooks.${event}`) ?? [];
    for (const u of list) {
      if (!isHttpUrl(u)) return { error: `invalid URL '${u}' for '${event}': expected http://host[:port]/path or https://...`, event };
    }
    urls[event] = list;
  }
  return { value: { enabled: read('vhost.http_hooks.enabled') ?? false, urls, timeoutMs: read('vhost.http_hooks.timeout') ?? 30_000 } };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
