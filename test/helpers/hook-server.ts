/**
 * A local SRS-style hook server for tests: records every POSTed JSON body and answers per path as told
 * (`0`, `{"code":0}`, `0\n`, `{"code":1}`, HTTP 500, 201, or never). Binds 127.0.0.1 (or ::1) on port 0.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a path answers: a status and body, or 'hang' (headers never sent; the caller's timeout must fire). */
export type HookAnswer = { readonly status: number; readonly body: string } | 'hang';

export const ALLOW: HookAnswer = { status: 200, body: '0' };
export const ALLOW_JSON: HookAnswer = { status: 200, body: '{"code":0,"data":null}' };
export const DENY_CODE: HookAnswer = { status: 200, body: '{"code":1}' };
export const DENY_NEWLINE: HookAnswer = { status: 200, body: '0\n' };
export const DENY_500: HookAnswer = { status: 500, body: '0' };

export interface RecordedHook {
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** Date.now() when the body was received. */
  readonly atMs: number;
}

export interface HookServer {
  /** `http://127.0.0.1:port` (no trailing slash). */
  readonly base: string;
  readonly received: RecordedHook[];
  /** Set how `path` answers from now on (default ALLOW). */
  answer(path: string, answer: HookAnswer): void;
  /** Resolves when `count` bodies with `action` have been received (polls every 20 ms up to `timeoutMs`). */
  waitFor(action: string, count?: number, timeoutMs?: number): Promise<RecordedHook[]>;
  /** Bodies received with `action`. */
  bodies(action: string): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startHookServer(host = '127.0.0.1'): Promise<HookServer> {
  const answers = new Map<string, HookAnswer>();
  const received: RecordedHook[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { unparsable: Buffer.concat(chunks).toString('utf8') };
      }
      received.push({ path, body, atMs: Date.now() });
      const a = answers.get(path) ?? ALLOW;
      if (a === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(a.status, { 'Content-Type': 'text/plain' }).end(a.body);
    });
  });
  await new Promise<void>((ok) => server.listen(0, host, ok));
  const port = (server.address() as AddressInfo).port;
  const bodies = (action: string): Record<string, unknown>[] => received.filter((r) => r.body.action === action).map((r) => r.body);
  return {
    base: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    received,
    answer: (path, answer) => answers.set(path, answer),
    bodies,
    async waitFor(action, count = 1, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const got = received.filter((r) => r.body.action === action);
        if (got.length >= count) return got;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`hook server: ${count} × ${action} not received in ${timeoutMs} ms; got ${JSON.stringify(received.map((r) => r.body.action))}`);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
