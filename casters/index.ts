/**
 * Caster registry: the `caster` directive value of a `stream_caster { }` block → a Caster (SRS stream_caster).
 * `output rtmp://host[:port]/app/stream` names the stream; `[app]`, `[stream]` and `[vhost]` are substituted here
 * per stream, then the context's PublishTargetResolver (built once by core/main.ts) substitutes `[port]` and
 * decides: this gateway (the caster publishes in-process, no socket) or a foreign server (the caster gets a
 * HubPort whose publishers push there over RTMP), so the caster code is the same either way (STYLE habit 6).
 *
 * Types: `mpegts_over_udp` (one fixed stream per port) and `flv` (HTTP POST/PUT of FLV; `[app]`/`[stream]` come
 * from each request's path, `[vhost]` from its `?vhost=`), and `rtsp` (RTSP push; `[app]`/`[stream]` from the
 * ANNOUNCE URL).
 */
import { ErrorCode, GatewayError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { PublishTargetResolver } from '../core/hub/ports.ts';
import type { StreamCasterConfig } from '../core/config/config.ts';
import { resolveTemplate } from '../core/media/stream-key.ts';
import type { Caster, CasterOutput } from './caster.ts';
import { MpegtsUdpCaster } from './mpegts-udp/mpegts-udp-caster.ts';
import { FlvPostCaster } from './flv-post/flv-post-caster.ts';
import { RtspCaster } from './rtsp/rtsp-caster.ts';

export type { Caster, CasterOutput, CasterOutputVars, CasterStats } from './caster.ts';

export interface CasterContext {
  readonly log: Logger;
  /** The gateway's one resolver of output URLs (core/main.ts): this hub, or an RTMP push to a foreign server. */
  readonly publishTarget: PublishTargetResolver;
  /** The gateway's `max_connections`, enforced on each TCP caster's listener; each caster's default when absent. */
  readonly maxConnections?: number;
}

/**
 * A caster `output` template resolved per stream: `[app]`, `[stream]`, `[vhost]` from the stream, then
 * `ctx.publishTarget` (which substitutes `[port]` and remembers foreign URLs, so a second publisher of the same
 * foreign URL is refused with GW_ERR_STREAM_BUSY instead of pushing twice).
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID (from the returned function) when the resolved URL is not
 *   rtmp://host[:port]/app/stream.
 */
export function casterOutput(template: string, ctx: CasterContext): CasterOutput {
  return (vars) => ctx.publishTarget(resolveTemplate(template, vars));
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
    return new FlvPostCaster({ output, listen: cfg.listen, idleTimeoutMs: cfg.idleTimeoutMs, log: ctx.log, ...(ctx.maxConnections === undefined ? {} : { maxConnections: ctx.maxConnections }) });
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
      ...(ctx.maxConnections === undefined ? {} : { maxConnections: ctx.maxConnections }),
    });
  }
  if (cfg.caster !== 'mpegts_over_udp') {
    throw new GatewayError(ErrorCode.ConfInvalid, `${where}: caster '${cfg.caster}' is not available in this build yet`);
  }
  return new MpegtsUdpCaster({
    target: casterOutput(cfg.output, ctx)({ app: 'live', stream: 'livestream' }),
    listen: cfg.listen,
    multicastInterface: cfg.multicastInterface,
    program: cfg.program,
    pids: cfg.pids,
    idleTimeoutMs: cfg.idleTimeoutMs,
    log: ctx.log,
  });
}
