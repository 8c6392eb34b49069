import { describe, expect, it } from 'vitest'
import { createGraph, GraphError } from '../../src/meta/graph'
import { backoffDelay, BudgetExhausted, retry } from '../../src/core/retry'

/** A fake clock whose sleep advances time and records every wait; no real timers. */
function clock(start = 1_000_000) {
  let t = start
  const waits: number[] = []
  return {
    waits,
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
    sleep: async (ms: number) => {
      waits.push(ms)
      t += ms
    },
  }
}

class Flaky extends Error {
  constructor(readonly retryable: boolean) {
    super(retryable ? 'flaky' : 'broken')
  }
}
const isRetryable = (err: unknown) => err instanceof Flaky && err.retryable

/** fn that fails `failures` times with a retryable error, then returns 'done'. */
function failing(failures: number, cost = 0, advance?: (ms: number) => void) {
  const attempts: number[] = []
  const fn = async (attempt: number) => {
    attempts.push(attempt)
    advance?.(cost)
    if (attempts.length <= failures) throw new Flaky(true)
    return 'done'
  }
  return { fn, attempts }
}

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to maxMs, scaled by the jitter draw', () => {
    const half = () => 0.5
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, 500, 8000, half))).toEqual([
      250, 500, 1000, 2000, 4000, 4000, 4000,
    ])
  })

  it('spans [0, ceiling) with full jitter', () => {
    expect(backoffDelay(3, 500, 8000, () => 0)).toBe(0)
    expect(backoffDelay(3, 500, 8000, () => 0.999999)).toBe(1999)
    expect(backoffDelay(1, 100, 8000, () => 0.25)).toBe(25)
  })

  it('stays finite and capped for huge attempt numbers and clamps a bad random source', () => {
    expect(backoffDelay(10_000, 500, 8000, () => 0.5)).toBe(4000)
    expect(backoffDelay(2, 500, 8000, () => 7)).toBe(1000)
    expect(backoffDelay(2, 500, 8000, () => -1)).toBe(0)
  })

  it('uses 500 ms base and 8 s cap by default', () => {
    expect(backoffDelay(1, undefined, undefined, () => 0.5)).toBe(250)
    expect(backoffDelay(9, undefined, undefined, () => 0.5)).toBe(4000)
  })
})

describe('retry', () => {
  it('returns the first success without sleeping', async () => {
    const c = clock()
    const { fn, attempts } = failing(0)
    await expect(retry(fn, { ...c, deadline: c.now() + 10_000, isRetryable })).resolves.toBe('done')
    expect(attempts).toEqual([1])
    expect(c.waits).toEqual([])
  })

  it('retries retryable errors with exponential full-jitter waits', async () => {
    const c = clock()
    const { fn, attempts } = failing(4)
    const result = retry(fn, { ...c, deadline: c.now() + 60_000, isRetryable, random: () => 0.5 })
    await expect(result).resolves.toBe('done')
    expect(attempts).toEqual([1, 2, 3, 4, 5])
    expect(c.waits).toEqual([250, 500, 1000, 2000])
  })

  it('honours baseMs and maxMs', async () => {
    const c = clock()
    const { fn } = failing(5)
    const random = () => 1 - 1e-9
    await retry(fn, { ...c, deadline: c.now() + 60_000, isRetryable, random, baseMs: 100, maxMs: 300 })
    expect(c.waits).toEqual([99, 199, 299, 299, 299])
  })

  it('rethrows a final error at once, unchanged', async () => {
    const c = clock()
    const broken = new Flaky(false)
    let calls = 0
    const fn = async () => {
      calls++
      throw broken
    }
    await expect(retry(fn, { ...c, deadline: c.now() + 60_000, isRetryable })).rejects.toBe(broken)
    expect(calls).toBe(1)
    expect(c.waits).toEqual([])
  })

  it('stops with BudgetExhausted instead of sleeping past the deadline', async () => {
    const c = clock()
    const start = c.now()
    const deadline = start + 2_000
    const { fn, attempts } = failing(100)
    const err = await retry(fn, { ...c, deadline, isRetryable, random: () => 0.5 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BudgetExhausted)
    const budget = err as BudgetExhausted
    expect(budget.cause).toBeInstanceOf(Flaky)
    expect(budget.reason).toBe('deadline')
    // Waits 250 + 500 + 1000 = 1750 fit; the next 2000 would end after the deadline.
    expect(c.waits).toEqual([250, 500, 1000])
    expect(attempts).toEqual([1, 2, 3, 4])
    expect(budget.attempts).toBe(4)
    expect(c.now()).toBeLessThanOrEqual(deadline)
  })

  it('counts the time attempts take against the deadline', async () => {
    const c = clock()
    const deadline = c.now() + 5_000
    const { fn, attempts } = failing(100, 1_500, c.advance)
    const err = await retry(fn, { ...c, deadline, isRetryable, random: () => 0.5 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BudgetExhausted)
    // 1500 + 250 + 1500 + 500 = 3750 < deadline, so attempt 3 runs and ends at 5250.
    expect(attempts).toEqual([1, 2, 3])
    expect(c.waits).toEqual([250, 500])
    expect(c.now() - deadline).toBe(250)
  })

  it('never lets the waits run past the deadline whatever the jitter draws', async () => {
    for (let seed = 1; seed <= 50; seed++) {
      let s = seed
      const random = () => ((s = (s * 16807) % 2147483647) / 2147483647)
      const c = clock()
      const deadline = c.now() + 1_000 + seed * 397
      const { fn } = failing(1_000)
      await expect(retry(fn, { ...c, deadline, isRetryable, random })).rejects.toBeInstanceOf(BudgetExhausted)
      expect(c.now()).toBeLessThan(deadline)
    }
  })

  it('does not call fn when the deadline has already passed', async () => {
    const c = clock()
    const { fn, attempts } = failing(0)
    const err = await retry(fn, { ...c, deadline: c.now(), isRetryable }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BudgetExhausted)
    expect((err as BudgetExhausted).attempts).toBe(0)
    expect((err as BudgetExhausted).cause).toBeUndefined()
    expect(attempts).toEqual([])
  })

  it('stops after maxAttempts with the last error as cause', async () => {
    const c = clock()
    const { fn, attempts } = failing(100)
    const opts = { ...c, deadline: c.now() + 60_000, isRetryable, maxAttempts: 3, random: () => 0 }
    const err = await retry(fn, opts).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BudgetExhausted)
    expect((err as BudgetExhausted).reason).toBe('attempts')
    expect(attempts).toEqual([1, 2, 3])
    expect(c.waits).toEqual([0, 0])
  })

  it('retries a transient Send API failure and stops on a final one', async () => {
    const c = clock()
    const responses = [
      new Response('oops', { status: 500 }),
      Response.json({ error: { code: 4, type: 'OAuthException', message: 'throttled' } }, { status: 400 }),
      Response.json({ recipient_id: '1', message_id: 'mid.1' }),
      Response.json({ error: { code: 10, error_subcode: 2534022, type: 'IGApiException' } }, { status: 403 }),
    ]
    let calls = 0
    const graph = createGraph({
      fetch: (async () => {
        calls++
        return responses.shift()!
      }) as typeof fetch,
      base: 'https://graph.instagram.com',
      version: 'v25.0',
      accountId: 'me',
      token: () => 'tok',
    })
    const opts = {
      ...c,
      deadline: c.now() + 20_000,
      random: () => 0.5,
      isRetryable: (err: unknown) => err instanceof GraphError && err.retryable,
    }
    await expect(retry(() => graph.sendText('1', 'hi'), opts)).resolves.toEqual({ messageId: 'mid.1' })
    expect(calls).toBe(3)
    expect(c.waits).toEqual([250, 500])
    const final = await retry(() => graph.sendText('1', 'hi'), opts).catch((e: unknown) => e)
    expect(final).toMatchObject({ category: 'outside_window', retryable: false })
    expect(calls).toBe(4)
  })
})
