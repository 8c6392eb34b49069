import { describe, expect, it } from 'vitest'
import { noticeCooldownMs, refill } from '../../src/conversation/limits'
import { testConfig } from '../helpers/deliver'
import { rowsWritten, withStores } from './stores'

describe('token bucket arithmetic', () => {
  it('starts a sender never seen before with a full bucket', () => {
    expect(refill(null, 1_000, 5, 6)).toEqual({ tokens: 5, at: 1_000 })
  })

  it('refills at the per-minute rate and never above capacity', () => {
    expect(refill({ tokens: 0, at: 0 }, 10_000, 5, 6)).toEqual({ tokens: 1, at: 10_000 })
    expect(refill({ tokens: 2.5, at: 0 }, 5_000, 5, 6).tokens).toBeCloseTo(3)
    expect(refill({ tokens: 4, at: 0 }, 3_600_000, 5, 6).tokens).toBe(5)
  })

  it('does not refill when the clock goes backwards', () => {
    expect(refill({ tokens: 1, at: 10_000 }, 5_000, 5, 6).tokens).toBe(1)
  })

  it('keeps slow-down notices at least a minute apart, longer for slow rates', () => {
    expect(noticeCooldownMs(6)).toBe(60_000)
    expect(noticeCooldownMs(1000)).toBe(60_000)
    expect(noticeCooldownMs(0.5)).toBe(120_000)
  })
})

describe('limits on the sender object storage', () => {
  it('grants the burst, refuses the next, and grants again after the refill time', async () => {
    const config = { ...testConfig(), RATE_LIMIT_BURST: 3, RATE_LIMIT_PER_MINUTE: 6 }
    await withStores(({ limits }) => {
      const t = 1_000_000
      expect([0, 1, 2, 3].map(() => limits.takeToken(config, t))).toEqual([true, true, true, false])
      expect(limits.takeToken(config, t + 9_000)).toBe(false)
      expect(limits.takeToken(config, t + 10_000)).toBe(true)
    })
  })

  it('keeps the bucket in one state row, written once per token taken', async () => {
    const config = { ...testConfig(), RATE_LIMIT_BURST: 3, RATE_LIMIT_PER_MINUTE: 6 }
    await withStores(({ sql, limits, state }) => {
      limits.takeToken(config, 1_000)
      expect(state.all()).toEqual({ bucket: '2@1000' })
      expect(rowsWritten(sql, () => limits.takeToken(config, 2_000))).toBe(1)
    })
  })

  it('continues a bucket an earlier version kept in two keys, and keeps it in one from then on', async () => {
    const config = { ...testConfig(), RATE_LIMIT_BURST: 3, RATE_LIMIT_PER_MINUTE: 6 }
    await withStores(({ limits, state }) => {
      state.set('bucket_tokens', 0.5)
      state.set('bucket_at', 1_000)
      // Half a token, and 5 s at one token per 10 s: exactly one, taken.
      expect(limits.takeToken(config, 6_000)).toBe(true)
      expect(limits.takeToken(config, 6_000)).toBe(false)
      expect(state.all()).toEqual({ bucket: '0@6000' })
    })
  })

  it('gives one slow-down notice per cooldown', async () => {
    const config = testConfig()
    await withStores(({ limits }) => {
      expect(limits.takeNotice(config, 0)).toBe(true)
      expect(limits.takeNotice(config, 59_999)).toBe(false)
      expect(limits.takeNotice(config, 60_000)).toBe(true)
    })
  })

  it('gives one budget notice per sender per day', async () => {
    await withStores(({ limits }) => {
      expect(limits.takeBudgetNotice('2026-11-29')).toBe(true)
      expect(limits.takeBudgetNotice('2026-11-29')).toBe(false)
      expect(limits.takeBudgetNotice('2026-11-30')).toBe(true)
    })
  })
})
