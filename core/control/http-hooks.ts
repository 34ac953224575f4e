/**
 * HTTP hook calls (SRS trunk/src/app/srs_app_http_hooks.cpp, SrsHttpHooks::do_post, SRS 5+):
 * POST the JSON body to each URL in order; a URL allows only when it answers HTTP 200 or 201 with a body that is
 * exactly `0`, or a JSON object whose `code` is the integer 0. Anything else refuses: another status, an empty
 * body, `0\n` (SRS: JSON that is not an object must be the string "0" exactly), `{"code":1}`, `{"code":"0"}`,
 * a connection error, or no complete answer within the timeout (castgate's `timeout`; SRS hard-codes 30 s).
 * The first refusal stops the list (SRS returns on the first failing URL).
 */
import { ErrorCode, GatewayError } from '../errors.ts';

/** A hook body: SRS's JSON fields, in SRS's order (insertion order is kept by JSON.stringify). */
export type HookBody = Readonly<Record<string, string | number>>;

/** Bound on a hook answer read into memory; SRS's answers are `0` or a small JSON object. */
export const MAX_HOOK_RESPONSE_BYTES = 64 * 1024;

/**
 * Whether an answer allows (SrsHttpHooks::do_post).
 * @returns undefined when it allows, else the reason it refuses.
 */
export function hookAnswerRefusal(status: number, body: string): string | undefined {
  if (status !== 200 && status !== 201) return `HTTP status ${status}`;
  if (body === '') return 'empty response';
  if (body === '0') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `response is not JSON: ${clip(body)}`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return `response is not 0 nor a JSON object: ${clip(body)}`;
  const code = (parsed as Record<string, unknown>).code;
  if (typeof code !== 'number' || !Number.isInteger(code)) return `response object has no integer code: ${clip(body)}`;
  if (code !== 0) return `response code ${code}`;
  return undefined;
}

function clip(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}...` : s);
}

/** Read at most `limit` bytes of a response body as UTF-8; more is an error. */
async function readBody(res: Response, limit: number): Promise<string> {
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`response larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/**
 * POST `body` as JSON to `url` and judge the answer.
 * @param timeoutMs the whole call, connect to the last body byte.
 * @throws GatewayError GW_ERR_HOOK_REJECTED (rejects) with the URL and the reason: refused answer, connection
 *   error, timeout.
 */
export async function postHook(url: string, body: HookBody, timeoutMs: number): Promise<void> {
  const action = String(body.action ?? 'hook');
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    text = await readBody(res, MAX_HOOK_RESPONSE_BYTES);
  } catch (err) {
    const e = err as Error & { cause?: { message?: string; code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new GatewayError(ErrorCode.HookRejected, `${action} ${url}: ${why}`, { cause: err });
  }
  const refusal = hookAnswerRefusal(status, text);
  if (refusal !== undefined) throw new GatewayError(ErrorCode.HookRejected, `${action} ${url}: ${refusal}`);
}

/**
 * Call each URL in order; all must allow.
 * @throws GatewayError GW_ERR_HOOK_REJECTED (rejects) for the first URL that refuses; the later ones are not called.
 */
export async function callHooks(urls: readonly string[], body: HookBody, timeoutMs: number): Promise<void> {
  for (const url of urls) await postHook(url, body, timeoutMs);
}
