/**
 * Retries with exponential backoff and full jitter inside a hard deadline (the `waitUntil`
 * window or an alarm's slot). It never sleeps past the deadline: when the next wait would end
 * after it, the last error is handed back as BudgetExhausted so the caller can persist the work
 * for the sender's Durable Object alarm instead of losing it. Clock and sleep are injected.
 */

export interface RetryOptions {
  /** Epoch ms after which no attempt may start. */
  deadline: number
  now: () => number
  sleep: (ms: number) => Promise<void>
  /** First backoff ceiling; doubles per failed attempt. Default 500. */
  baseMs?: number
  /** Largest backoff ceiling. Default 8000. */
  maxMs?: number
  /** Uniform [0, 1) source for the jitter. Default Math.random. */
  random?: () => number
  /** Hard cap on attempts, for errors worth only a few tries. Default unlimited. */
  maxAttempts?: number
  isRetryable: (err: unknown) => boolean
}

/** The retry budget (deadline or attempt cap) ran out; `cause` is the last error, if any. */
export class BudgetExhausted extends Error {
  override readonly name = 'BudgetExhausted'
  override readonly cause: unknown
  readonly attempts: number
  readonly reason: 'deadline' | 'attempts'

  constructor(cause: unknown, attempts: number, reason: 'deadline' | 'attempts') {
    const what = reason === 'deadline' ? 'deadline reached' : 'attempt limit reached'
    super(`retry budget exhausted after ${attempts} attempt(s): ${what}`, { cause })
    this.cause = cause
    this.attempts = attempts
    this.reason = reason
  }
}

/**
 * Full-jitter backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"): a uniform
 * wait in [0, min(maxMs, baseMs·2^(attempt-1))), where `attempt` is the 1-based number of the
 * attempt that just failed. Full jitter spreads the retries of many senders that failed together
 * on one Meta outage, instead of having them all come back at the same instant.
 */
export function backoffDelay(
  attempt: number,
  baseMs = 500,
  maxMs = 8000,
  random: () => number = Math.random
): number {
  const exp = Math.max(0, attempt - 1)
  // 2^31 already exceeds any sensible maxMs; capping the exponent keeps the math finite.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(exp, 31))
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.floor(r * ceiling)
}

/**
 * Calls `fn(1)`, `fn(2)`, … until it resolves. A non-retryable error is rethrown as is. A
 * retryable one is followed by a backoff wait, unless that wait would end after the deadline
 * (or the attempt cap is reached): then BudgetExhausted is thrown with the error as its cause.
 * A deadline already past on entry throws BudgetExhausted without calling `fn`.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions
): Promise<T> {
  const baseMs = opts.baseMs ?? 500
  const maxMs = opts.maxMs ?? 8000
  const random = opts.random ?? Math.random
  const maxAttempts = opts.maxAttempts ?? Infinity
  let lastError: unknown
  for (let attempt = 1; ; attempt++) {
    if (opts.now() >= opts.deadline) throw new BudgetExhausted(lastError, attempt - 1, 'deadline')
    try {
      return await fn(attempt)
    } catch (err) {
      if (!opts.isRetryable(err)) throw err
      lastError = err
    }
    if (attempt >= maxAttempts) throw new BudgetExhausted(lastError, attempt, 'attempts')
    const wait = backoffDelay(attempt, baseMs, maxMs, random)
    if (opts.now() + wait >= opts.deadline) {
      throw new BudgetExhausted(lastError, attempt, 'deadline')
    }
    await opts.sleep(wait)
  }
}
