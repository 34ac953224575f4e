/**
 * The console's pure part (no DOM): where the HTTP API is, which URLs play a stream, how API values read.
 * Imported by console.js in the browser and by test/console/model.test.ts in Node.
 *
 * API base, in order:
 * 1. `?api=` in the page URL: a full origin (`?api=http://10.0.0.2:1985`) or just a port (`?api=8085`, same host);
 * 2. else this page's host on port 1985, SRS's and castgate's default `http_api listen` (SRS's console does the same:
 *    it is served by http_server and reads http_api on 1985 of the same host). The API answers cross-origin
 *    requests while `http_api { crossdomain on; }`, its default.
 * Media always comes from the page's own origin: http_server serves the live mounts (.flv) and HLS (.m3u8).
 */

/** SRS's and castgate's default `http_api listen`. */
export const DEFAULT_API_PORT = 1985;
/** The vhost a stream key names when none is given (SRS). */
export const DEFAULT_VHOST = '__defaultVhost__';

/**
 * The API base URL (origin plus any path prefix, no trailing slash) for a page at `pageUrl`.
 * @param {string} pageUrl location.href
 * @returns {string}
 */
export function apiBaseOf(pageUrl) {
  const page = new URL(pageUrl);
  const given = (page.searchParams.get('api') ?? '').trim();
  if (/^\d{1,5}$/.test(given)) return `${page.protocol}//${page.hostname}:${given}`;
  if (given !== '') {
    try {
      const u = new URL(given.includes('://') ? given : `${page.protocol}//${given}`);
      if (u.protocol === 'http:' || u.protocol === 'https:') return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    } catch {
      // not a URL: fall back to the default below
    }
  }
  return `${page.protocol}//${page.hostname}:${DEFAULT_API_PORT}`;
}

/**
 * The page URL that selects `api` (what the API form navigates to); the default base drops the parameter.
 * @param {string} pageUrl
 * @param {string} api
 * @returns {string}
 */
export function pageUrlWithApi(pageUrl, api) {
  const u = new URL(pageUrl);
  u.searchParams.delete('api');
  const given = api.trim();
  const explicit = new URL(u.href);
  explicit.searchParams.set('api', given);
  if (given !== '' && apiBaseOf(explicit.href) !== apiBaseOf(u.href)) u.searchParams.set('api', given);
  return u.href;
}

/**
 * Path and query of a stream on http_server, without extension: `/live/cam` or `/live/cam` + `?vhost=v`.
 * Each app segment and the stream name are percent-encoded (an API string never shapes the URL).
 * @param {{ app: string, name: string }} stream `/api/v1/streams` entry
 * @param {string} vhostName
 * @param {'flv' | 'm3u8'} ext
 * @returns {string}
 */
export function mediaPath(stream, vhostName, ext) {
  const app = String(stream.app).split('/').map(encodeURIComponent).join('/');
  const query = vhostName !== DEFAULT_VHOST && vhostName !== '' ? `?vhost=${encodeURIComponent(vhostName)}` : '';
  return `/${app}/${encodeURIComponent(String(stream.name))}.${ext}${query}`;
}

/**
 * The `vhost/app/stream` key of an API stream (what caster sessions and ingest engines name).
 * @param {{ app: string, name: string }} stream
 * @param {string} vhostName
 */
export function streamKeyOf(stream, vhostName) {
  return `${vhostName}/${stream.app}/${stream.name}`;
}

/**
 * The input of a stream as the casters and ingesters report it: one line, or '' when it is published otherwise
 * (RTMP, FLV POST: the publisher is in the clients list).
 * @param {string} key `vhost/app/stream`
 * @param {readonly any[]} casters `/api/v1/casters`
 * @param {readonly any[]} ingesters `/api/v1/ingesters`
 * @returns {string}
 */
export function inputQos(key, casters, ingesters) {
  for (const c of casters) {
    for (const s of c.sessions ?? []) {
      if (s.stream !== key) continue;
      const parts = [`${c.type}${s.remote ? ` from ${s.remote}` : ''}`, s.state];
      if (s.lost !== null && s.lost !== undefined) parts.push(`lost ${s.lost}`);
      if (s.reordered !== null && s.reordered !== undefined) parts.push(`reordered ${s.reordered}`);
      if (s.cc_errors !== null && s.cc_errors !== undefined) parts.push(`CC errors ${s.cc_errors}`);
      if (s.resyncs !== null && s.resyncs !== undefined) parts.push(`resyncs ${s.resyncs}`);
      parts.push(`${num(s.kbps)} kbps`);
      return parts.join(', ');
    }
  }
  for (const ing of ingesters) {
    for (const e of ing.engines ?? []) {
      if (e.stream !== key) continue;
      const parts = [`ingest ${ing.id} (${e.mode})`, e.state];
      if (e.fps !== null && e.fps !== undefined) parts.push(`${num(e.fps)} fps`);
      if (e.speed !== null && e.speed !== undefined) parts.push(`speed ${num(e.speed)}x`);
      if (e.restarts > 0) parts.push(`restarts ${e.restarts}`);
      return parts.join(', ');
    }
  }
  return '';
}

/** @param {any} video `/api/v1/streams` `video` (null without video) */
export function videoText(video) {
  if (!video) return '—';
  const size = video.width > 0 && video.height > 0 ? ` ${video.width}×${video.height}` : '';
  const profile = video.profile && video.profile !== 'Other' ? ` ${video.profile}` : '';
  return `${video.codec}${profile}${size}`;
}

/** @param {any} audio `/api/v1/streams` `audio` (null without audio) */
export function audioText(audio) {
  if (!audio) return '—';
  const rate = audio.sample_rate > 0 ? ` ${audio.sample_rate / 1000} kHz` : '';
  const ch = audio.channel > 0 ? ` ${audio.channel === 1 ? 'mono' : audio.channel === 2 ? 'stereo' : `${audio.channel} ch`}` : '';
  return `${audio.codec}${rate}${ch}`;
}

/** A number as text, '—' when the API has none. @param {unknown} v */
export function num(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
}

/** Seconds as `1h 02m`, `3m 05s`, `12s`. @param {unknown} seconds */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Bytes as `812 B`, `1.2 MB`. @param {unknown} bytes */
export function byteSize(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
