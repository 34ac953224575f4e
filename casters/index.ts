/**
 * Caster registry: the `caster` directive value of a `stream_caster { }` block → a Caster (SRS stream_caster).
 * `output rtmp://host[:port]/app/stream` names the stream; `[app]`, `[stream]`, `[vhost]` and `[port]` (our first
 * RTMP port) are substituted first. When host:port is this gateway, the caster publishes in-process (no socket);
 * a loopback host without a port also means this gateway, whichever port it listens on. Any other output is a
 * foreign server: the caster gets a HubPort whose publishers push there over RTMP (core/output/rtmp-push.ts), so
 * the caster code is the same either way (STYLE habit 6).
 */
import { ErrorCode, GatewayError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { HubPort } from '../core/hub/ports.ts';
import type { StreamCasterConfig } from '../core/config/config.ts';
import { isOwnAddress, parseRtmpUrl, resolveTemplate } from '../core/media/stream-key.ts';
import { remotePublishPort } from '../core/output/rtmp-push.ts';
import type { Caster } from './caster.ts';
import { MpegtsUdpCaster } from './mpegts-udp/mpegts-udp-caster.ts';

export type { Caster, CasterStats } from './caster.ts';

export interface CasterContext {
  readonly hub: HubPort;
  readonly log: Logger;
  /** Our RTMP listen ports (to recognise `output` URLs that point at this gateway). */
  readonly rtmpPorts: readonly number[];
}

/**
 * Build the caster for one enabled `stream_caster` block.
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID when `output` is not an rtmp://host[:port]/app/stream URL,
 *   GW_ERR_CONF_INVALID for a caster type this build does not have yet.
 */
export function createCaster(cfg: StreamCasterConfig, ctx: CasterContext): Caster {
  const where = `${cfg.file}:${cfg.line}`;
  if (cfg.caster !== 'mpegts_over_udp') {
    throw new GatewayError(ErrorCode.ConfInvalid, `${where}: caster '${cfg.caster}' is not available in this build yet`);
  }
  const url = resolveTemplate(cfg.output, { app: 'live', stream: 'livestream' }).replaceAll('[port]', String(ctx.rtmpPorts[0] ?? 1935));
  const out = parseRtmpUrl(url);
  // A loopback output without a port means this gateway whatever its RTMP port (SRS confs say
  // `rtmp://127.0.0.1/[app]/[stream]` and mean "the server I am part of").
  const port = new URL(url).port === '' && ctx.rtmpPorts.length > 0 ? ctx.rtmpPorts[0] : out.port;
  const hub = isOwnAddress(out.host, port, ctx.rtmpPorts) ? ctx.hub : remotePublishPort(url, ctx.log);
  return new MpegtsUdpCaster({
    hub,
    key: out.key,
    listen: cfg.listen,
    multicastInterface: cfg.multicastInterface,
    idleTimeoutMs: cfg.idleTimeoutMs,
    log: ctx.log,
  });
}
