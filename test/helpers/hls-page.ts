/**
 * The hls.js test page of the browser e2e tests: `index.html` and `hls.min.js` written into the gateway's HTTP
 * folder; the page plays `playlistPath` muted in `<video id="v">`, keeps hls.js in `window.hls` and its errors
 * in `window.hlsErrors` (`details`, then " (fatal)", the URL if any, "@" the video's currentTime), and keeps every
 * resource timing entry (the URLs requested).
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** @param hlsConfig the `new Hls(...)` argument as JSON, e.g. `{ lowLatencyMode: true }`. */
export function writeHlsJsPage(httpDir: string, playlistPath: string, hlsConfig: Record<string, unknown> = {}): void {
  writeFileSync(join(httpDir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>castgate hls.js</title>
<video id="v" muted autoplay playsinline></video>
<script src="hls.min.js"></script>
<script>
  performance.setResourceTimingBufferSize(100000);
  window.hlsErrors = [];
  const video = document.getElementById('v');
  const hls = new Hls(${JSON.stringify(hlsConfig)});
  window.hls = hls;
  hls.on(Hls.Events.ERROR, (_e, d) => window.hlsErrors.push(d.details + (d.fatal ? ' (fatal)' : '') + (d.url ? ' ' + d.url : '') + ' @' + video.currentTime.toFixed(1)));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource(${JSON.stringify(playlistPath)});
  hls.attachMedia(video);
</script>`);
  copyFileSync(createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js'), join(httpDir, 'hls.min.js'));
}
