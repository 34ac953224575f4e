/**
 * Logging: pino, with one child logger per connection/session (`log.child({ caster, session, stream })`), so one
 * stream's life can be followed by its ids. Parsers never log (STYLE habit 3/20); sessions do.
 *
 * `PithyLog` rate-limits periodic or per-packet reports: it prints at most once per interval with a count
 * (SRS SrsPithyPrint, mediamtx errordumper).
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Build a root logger at `level` writing JSON lines to stdout (or to fd 2 when `stderr` is set). */
export function createLogger(level: LevelWithSilent, stderr = false): Logger {
  return pino({ level, base: { service: 'castgate' } }, stderr ? pino.destination(2) : pino.destination(1));
}

let nextId = 1;
/** A short process-unique id for a connection or session, e.g. `rtmp-17`. */
export function nextSessionId(prefix: string): string {
  return `${prefix}-${nextId++}`;
}

/**
 * Rate-limited reporter: `hit(err)` counts; at most once per `intervalMs` it logs
 * "N <what>, last was: <message>" at warn level.
 */
export class PithyLog {
  readonly #log: Logger;
  readonly #what: string;
  readonly #intervalMs: number;
  #count = 0;
  #lastPrintMs = 0;
  #total = 0;

  constructor(log: Logger, what: string, intervalMs = 5000) {
    this.#log = log;
    this.#what = what;
    this.#intervalMs = intervalMs;
  }

  /** Count one occurrence; log if the interval has passed. */
  hit(err: Error | string): void {
    this.#count++;
    this.#total++;
    const now = Date.now();
    if (now - this.#lastPrintMs >= this.#intervalMs) {
      const message = typeof err === 'string' ? err : err.message;
      const code = typeof err === 'string' ? undefined : (err as { code?: string }).code;
      this.#log.warn({ count: this.#count, total: this.#total, code }, `${this.#count} ${this.#what}, last was: ${message}`);
      this.#count = 0;
      this.#lastPrintMs = now;
    }
  }

  /** Occurrences since creation. */
  get total(): number {
    return this.#total;
  }
}
