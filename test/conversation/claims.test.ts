import { describe, expect, it } from 'vitest'
import { Claims, CLAIM_RETENTION_MS } from '../../src/conversation/claims'
import { withStores } from './stores'

const T = 1_800_000_000_000

describe('claims', () => {
  it('claims a key once; a redelivery of the same key is refused', async () => {
    await withStores(({ sql }) => {
      const claims = new Claims(sql)
      expect(claims.take('mid.1', T, T)).toBe(true)
      expect(claims.take('mid.1', T, T + 5)).toBe(false)
      expect(claims.take('mid.2', T, T)).toBe(true)
      expect(claims.count()).toBe(2)
    })
  })

  it('records what was decided per claim', async () => {
    await withStores(({ sql }) => {
      const claims = new Claims(sql)
      claims.take('a', T, T, 'new')
      claims.take('b', T, T, 'new')
      claims.take('c', T, T, 'rate_limited')
      expect(claims.has('c')).toBe(true)
      expect(claims.has('d')).toBe(false)
      // A redelivery changes nothing that was recorded.
      expect(claims.take('c', T, T + 5, 'new')).toBe(false)
      expect(claims.decisions()).toEqual({ new: 2, rate_limited: 1 })
    })
  })

  it('keeps a claim past Meta\'s 36-hour redelivery horizon, then forgets it', async () => {
    expect(CLAIM_RETENTION_MS).toBeGreaterThan(36 * 3_600_000)
    await withStores(({ sql }) => {
      const claims = new Claims(sql)
      claims.take('old', T, T)
      claims.take('new', T, T + 3_600_000)
      expect(claims.oldest()).toBe(T)
      claims.expire(T + 36 * 3_600_000)
      expect(claims.keys().sort()).toEqual(['new', 'old'])
      claims.expire(T + CLAIM_RETENTION_MS + 1)
      expect(claims.keys()).toEqual(['new'])
      // Forgotten means a (very late) redelivery would be claimed again: that is why it outlives 36 h.
      expect(claims.take('old', T, T + CLAIM_RETENTION_MS + 2)).toBe(true)
    })
  })

  it('knows its oldest claim without reading the table again, and agrees with a store that reads it', async () => {
    await withStores(({ sql }) => {
      const claims = new Claims(sql)
      expect(claims.oldest()).toBeNull()
      claims.take('b', T, T + 10)
      claims.take('a', T, T + 5)
      claims.take('a', T, T + 1)
      expect(claims.oldest()).toBe(T + 5)
      expect(new Claims(sql).oldest()).toBe(T + 5)
      claims.expire(T + 6 + CLAIM_RETENTION_MS)
      expect(claims.oldest()).toBe(T + 10)
      expect(new Claims(sql).oldest()).toBe(T + 10)
    })
  })
})
