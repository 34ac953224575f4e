/**
 * Path routing of the HTTP API as SRS's SrsHttpServeMux does it (trunk/src/protocol/srs_protocol_http_stack.cpp
 * SrsHttpServeMux::match, SrsHttpMessage::parse_rest_id): a pattern without a trailing slash matches that path
 * only; a pattern with one (`/api/v1/streams/`) also matches every path under it, the longest such pattern wins,
 * and the rest of the path after it is the entity id (`/api/v1/clients/ingest-cam/0` → `ingest-cam/0`,
 * percent-decoded). `/api/v1/streams` without the slash is the same list as `/api/v1/streams/` (SRS redirects it).
 */

/** A route's handler: `rest` is the id after a trailing-slash pattern ('' for the list itself). */
export type RouteHandler<C, R> = (ctx: C, rest: string) => R;

export interface RouteMatch<C, R> {
  readonly handler: RouteHandler<C, R>;
  readonly rest: string;
}

export class ApiRouter<C, R> {
  readonly #exact = new Map<string, RouteHandler<C, R>>();
  /** Trailing-slash patterns, longest first. */
  #prefixes: { readonly pattern: string; readonly handler: RouteHandler<C, R> }[] = [];

  /**
   * Add a route. A pattern ending in `/` (other than `/` itself) serves that folder and everything under it; its
   * name without the slash is served too.
   * @throws Error when the pattern is already routed (a programming error).
   */
  add(pattern: string, handler: RouteHandler<C, R>): this {
    if (this.#exact.has(pattern)) throw new Error(`route ${pattern} already added`);
    this.#exact.set(pattern, handler);
    if (pattern.length > 1 && pattern.endsWith('/')) {
      const bare = pattern.slice(0, -1);
      if (!this.#exact.has(bare)) this.#exact.set(bare, handler);
      this.#prefixes.push({ pattern, handler });
      this.#prefixes = this.#prefixes.sort((a, b) => b.pattern.length - a.pattern.length);
    }
    return this;
  }

  /** The route for `path`, or undefined (404). A rest id that is not valid percent-encoding is no match. */
  match(path: string): RouteMatch<C, R> | undefined {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return { handler: exact, rest: '' };
    for (const p of this.#prefixes) {
      if (!path.startsWith(p.pattern)) continue;
      try {
        return { handler: p.handler, rest: decodeURIComponent(path.slice(p.pattern.length)) };
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}
