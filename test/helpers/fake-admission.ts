/**
 * A PublishTarget `admit` under the test's control, for the casters' admission tests: each question is recorded
 * (who, extra, when) and answered by the current policy — allow, refuse with GW_ERR_SECURITY_DENIED or
 * GW_ERR_HOOK_REJECTED, fail with a plain Error, or stay pending until the test settles it.
 */
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import type { AdmissionExtra, HubPort, PublishTarget, SessionInfo } from '../../core/hub/ports.ts';
import type { StreamKey } from '../../core/media/stream-key.ts';

/** `security`/`hook` reject with that GatewayError code; `error` with a plain Error; `pending` waits for settle(). */
export type AdmitAnswer = 'allow' | 'security' | 'hook' | 'error' | 'pending';

export interface AdmissionQuestion {
  readonly who: SessionInfo;
  readonly extra: AdmissionExtra | undefined;
  /** Date.now() when asked. */
  readonly atMs: number;
}

export interface ControlledAdmission {
  /** Every question, in order. */
  readonly asked: AdmissionQuestion[];
  /** How the next questions are answered; or a function of the question's index (0-based). */
  answer: AdmitAnswer | ((index: number) => AdmitAnswer);
  /** Questions still waiting for settle(). */
  readonly pending: number;
  /** Answer every pending question. */
  settle(outcome: Exclude<AdmitAnswer, 'pending'>): void;
  readonly admit: PublishTarget['admit'];
}

function refusal(outcome: 'security' | 'hook' | 'error'): Error {
  if (outcome === 'security') return new GatewayError(ErrorCode.SecurityDenied, 'security: deny publish (test)');
  if (outcome === 'hook') return new GatewayError(ErrorCode.HookRejected, 'on_publish answered code 1 (test)');
  return new Error('admission blew up (test)');
}

export function controlledAdmission(answer: ControlledAdmission['answer'] = 'allow'): ControlledAdmission {
  const waiting: Array<{ ok: () => void; fail: (err: Error) => void }> = [];
  const c: ControlledAdmission = {
    asked: [],
    answer,
    get pending() {
      return waiting.length;
    },
    settle(outcome) {
      for (const w of waiting.splice(0)) {
        if (outcome === 'allow') w.ok();
        else w.fail(refusal(outcome));
      }
    },
    admit(who, extra) {
      const index = c.asked.length;
      c.asked.push({ who, extra, atMs: Date.now() });
      const a = typeof c.answer === 'function' ? c.answer(index) : c.answer;
      if (a === 'allow') return Promise.resolve();
      if (a === 'pending') return new Promise<void>((ok, fail) => waiting.push({ ok, fail }));
      return Promise.reject(refusal(a));
    },
  };
  return c;
}

/** A local target on `hub` for `key` whose admit is `admission`'s. */
export function admittedTarget(hub: HubPort, key: StreamKey, admission: ControlledAdmission): PublishTarget {
  return { hub, key, url: `rtmp://127.0.0.1/${key.app}/${key.stream}`, local: true, admit: (who, extra) => admission.admit(who, extra) };
}
