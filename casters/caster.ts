/**
 * What every caster is (DESIGN.md "Casters"): created from one `stream_caster { }` block, owns its listening
 * sockets and sessions, publishes to the hub. `start()` binds; `stop()` unpublishes and closes, idempotent.
 */
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
