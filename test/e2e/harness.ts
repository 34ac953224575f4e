/**
 * End-to-end harness: start the whole gateway in-process on free loopback ports from a config text (the same
 * path `castgate -c` takes: loadConfigText → startGateway), so tests drive it with real ffmpeg/GStreamer.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config/config.ts';
import { createLogger } from '../../core/log.ts';
import { startGateway, type Gateway } from '../../core/main.ts';
import { freeTcpPort } from '../helpers/peers.ts';

export interface TestGateway {
  readonly gw: Gateway;
  readonly rtmpPort: number;
  readonly httpPort: number;
  rtmpUrl(path: string): string;
  httpUrl(path: string): string;
  stop(): Promise<void>;
}

/**
 * @param body config text placed after the generated `listen`/`http_server` lines; `{RTMP}` and `{HTTP}` in it
 *   are replaced by the chosen ports.
 */
export async function startTestGateway(body: string): Promise<TestGateway> {
  const rtmpPort = await freeTcpPort();
  const httpPort = await freeTcpPort();
  const dir = mkdtempSync(join(tmpdir(), 'castgate-e2e-'));
  const file = join(dir, 'test.conf');
  const text = `listen 127.0.0.1:${rtmpPort};\nmax_connections 1000;\nhttp_server { enabled on; listen 127.0.0.1:${httpPort}; dir ${dir}; }\n`
    + body.replaceAll('{RTMP}', String(rtmpPort)).replaceAll('{HTTP}', String(httpPort));
  writeFileSync(file, text);
  const { config } = loadConfig(file);
  const log = createLogger((process.env.CASTGATE_LOG_LEVEL as 'silent' | undefined) ?? 'silent', true);
  const gw = await startGateway(config, log);
  return {
    gw,
    rtmpPort,
    httpPort,
    rtmpUrl: (path) => `rtmp://127.0.0.1:${rtmpPort}/${path}`,
    httpUrl: (path) => `http://127.0.0.1:${httpPort}/${path}`,
    stop: async () => {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A default vhost with HTTP-FLV on, as in conf/http.flv.live.conf. */
export const HTTP_FLV_VHOST = `vhost __defaultVhost__ { gop_cache on; queue_length 10; time_jitter full; http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n`;
