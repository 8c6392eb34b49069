/**
 * One Send API call (a DM part, a private or a public comment reply) retried inside the runner's
 * deadline, with the one rule both paths must share: only errors that certainly did not deliver
 * are retried here. The Send API has no idempotency key, so after an unanswered request only the
 * echo webhook can tell whether the message went out (the caller waits for it instead of
 * resending), and retrying through a rate limit only extends it (the caller waits out the pause).
 */
import { BudgetExhausted, retry } from '../core/retry'

export interface SendFailureInfo {
  retryable: boolean
  category: string
  ambiguous?: boolean
  retryAfterMs?: number
}

export interface SendRetryDeps {
  now(): number
  sleep(ms: number): Promise<void>
  classify(err: unknown): SendFailureInfo
}

export type SendOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; final: boolean; category: string; ambiguous?: boolean; retryAfterMs?: number }

export async function sendWithRetry<T>(deps: SendRetryDeps, deadline: number, call: () => Promise<T>): Promise<SendOutcome<T>> {
  try {
    const value = await retry(call, {
      deadline,
      now: deps.now,
      sleep: deps.sleep,
      isRetryable: (err) => {
        const f = deps.classify(err)
        return f.retryable && !f.ambiguous && f.category !== 'rate_limited'
      },
    })
    return { ok: true, value }
  } catch (err) {
    // Out of time before the first attempt: nothing was sent, so nothing to wait for.
    if (err instanceof BudgetExhausted && err.attempts === 0) return { ok: false, final: false, category: 'deadline' }
    const failure = deps.classify(err instanceof BudgetExhausted ? err.cause : err)
    if (!failure.retryable) return { ok: false, final: true, category: failure.category }
    return {
      ok: false,
      final: false,
      category: failure.category,
      ...(failure.ambiguous ? { ambiguous: true } : {}),
      ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
    }
  }
}
