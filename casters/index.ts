/**
 * Caster registry: the `caster` directive value of a `stream_caster { }` block → a Caster (SRS stream_caster).
 * `output rtmp://host[:port]/app/stream` names the stream; `[app]`, `[stream]`, `[vhost]` and `[port]` (our first
 * RTMP port) are substituted first. When host:port is this gateway, the caster publishes in-process (no socket);
 * a loopback host without a port also means this gateway, whichever port it listens on. Any other output is a
 * foreign server: the caster gets a HubPort whose publishers push there over RTMP (core/output/rtmp-push.ts), so
 * the caster code is the same either way (STYLE habit 6).
 *
 * Types: `mpegts_over_udp` (one fixed stream per port) and `flv` (HTTP POST/PUT of FLV; `[app]`/`[stream]` come
 * from each request's path, `[vhost]` from its `?vhost=`), and `rtsp` (RTSP push; `[app]`/`[stream]` from the
 * ANNOUNCE URL).
 */
import { ErrorCode, GatewayError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { HubPort } from '../core/hub/ports.ts';
import type { StreamKey } from '../core/media/stream-key.ts';
import type { StreamCasterConfig } from '../core/config/config.ts';
import { isOwnAddress, parseRtmpUrl, resolveTemplate } from '../core/media/stream-key.ts';
import { remotePublishPort } from '../core/output/rtmp-push.ts';
import type { Caster } from './caster.ts';
import { MpegtsUdpCaster } from './mpegts-udp/mpegts-udp-caster.ts';
import { FlvPostCaster } from './flv-post/flv-post-caster.ts';
import { RtspCaster } from './rtsp/rtsp-caster.ts';

export type { Caster, CasterStats } from './caster.ts';

export interface CasterContext {
  readonly hub: HubPort;
  readonly log: Logger;
  /** Our RTMP listen ports (to recognise `output` URLs that point at this gateway). */
  readonly rtmpPorts: readonly number[];
}

/** Where a caster publishes one stream: this gateway's hub or an RTMP push port, and the key on it. */
export interface CasterTarget {
  readonly hub: HubPort;
  readonly key: StreamKey;
  /** The resolved `output` URL. */
  readonly url: string;
}

/** Template variables of a caster `output` (`[port]` is always our first RTMP port). */
export interface CasterOutputVars {
  readonly app: string;
  readonly stream: string;
  readonly vhost?: string;
}

/**
 * Bounds the remembered foreign outputs of a templated `output` (one per distinct resolved URL); past it, those
 * not pushing now are forgotten.
 */
const MAX_REMOTE_OUTPUTS = 256;

/**
 * Resolve a caster `output` template per stream. A loopback host with one of our RTMP ports, or with no port,
 * is this gateway: the hub itself. Anything else gets a remotePublishPort per resolved URL, kept so that a
 * second publisher of the same URL is refused (GW_ERR_STREAM_BUSY) instead of pushing twice.
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID (from the returned function) when the resolved URL is not
 *   rtmp://host[:port]/app/stream.
 */
export function casterOutput(template: string, ctx: CasterContext): (vars: CasterOutputVars) => CasterTarget {
  const withPort = template.replaceAll('[port]', String(ctx.rtmpPorts[0] ?? 1935));
  const remotes = new Map<string, { hub: HubPort; key: StreamKey }>();
  return (vars) => {
    const url = resolveTemplate(withPort, vars);
    const out = parseRtmpUrl(url);
    // A loopback output without a port means this gateway whatever its RTMP port (SRS confs say
    // `rtmp://127.0.0.1/[app]/[stream]` and mean "the server I am part of").
    const port = new URL(url).port === '' && ctx.rtmpPorts.length > 0 ? (ctx.rtmpPorts[0] as number) : out.port;
    if (isOwnAddress(out.host, port, ctx.rtmpPorts)) return { hub: ctx.hub, key: out.key, url };
    let remote = remotes.get(url);
    if (remote === undefined) {
      if (remotes.size >= MAX_REMOTE_OUTPUTS) {
        for (const [u, r] of remotes) if (!r.hub.isPublishing(r.key)) remotes.delete(u);
      }
      remote = { hub: remotePublishPort(url, ctx.log), key: out.key };
      remotes.set(url, remote);
    }
    return { hub: remote.hub, key: out.key, url };
  };
}

/**
 * Build the caster for one enabled `stream_caster` block.
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID when `output` is not an rtmp://host[:port]/app/stream URL,
 *   GW_ERR_CONF_INVALID for a caster type this build does not have yet.
 */
export function createCaster(cfg: StreamCasterConfig, ctx: CasterContext): Caster {
  const where = `${cfg.file}:${cfg.line}`;
  if (cfg.caster === 'flv') {
    const output = casterOutput(cfg.output, ctx);
    output({ app: 'live', stream: 'livestream' }); // a broken template fails at start, not at the first POST
    return new FlvPostCaster({ output, listen: cfg.listen, idleTimeoutMs: cfg.idleTimeoutMs, log: ctx.log });
  }
  if (cfg.caster === 'rtsp') {
    const output = casterOutput(cfg.output, ctx);
    output({ app: 'live', stream: 'livestream' }); // a broken template fails at start, not at the first ANNOUNCE
    return new RtspCaster({
      output,
      listen: cfg.listen,
      rtpPortMin: cfg.rtpPortMin,
      rtpPortMax: cfg.rtpPortMax,
      idleTimeoutMs: cfg.idleTimeoutMs,
      log: ctx.log,
    });
  }
  if (cfg.caster !== 'mpegts_over_udp') {
    throw new GatewayError(ErrorCode.ConfInvalid, `${where}: caster '${cfg.caster}' is not available in this build yet`);
  }
  const { hub, key } = casterOutput(cfg.output, ctx)({ app: 'live', stream: 'livestream' });
  return new MpegtsUdpCaster({
    hub,
    key,
    listen: cfg.listen,
    multicastInterface: cfg.multicastInterface,
    idleTimeoutMs: cfg.idleTimeoutMs,
    log: ctx.log,
  });
}
