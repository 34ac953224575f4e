/**
 * What every caster is (DESIGN.md "Casters"): created from one `stream_caster { }` block, owns its listening
 * sockets and sessions, publishes to the hub. `start()` binds; `stop()` unpublishes and closes, idempotent.
 */
import type { PublishTarget } from '../core/hub/ports.ts';

export interface CasterStats {
  readonly caster: string;
  readonly listen: number;
  readonly [field: string]: unknown;
}

export interface Caster {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): CasterStats;
}

/** Template variables of a caster `output` for one stream (`[port]` is the PublishTargetResolver's). */
export interface CasterOutputVars {
  readonly app: string;
  readonly stream: string;
  /** Default `__defaultVhost__`. */
  readonly vhost?: string;
}

/**
 * A caster's `output` template, resolved for one stream (casters/index.ts casterOutput).
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID when the resolved URL is not rtmp://host[:port]/app/stream.
 */
export type CasterOutput = (vars: CasterOutputVars) => PublishTarget;
