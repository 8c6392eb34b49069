import { describe, expect, it } from 'vitest'
import { readCookie, sessionValid, signSession } from '../../src/http/session'

const NOW = 1_800_000_000_000

describe('operator session cookie', () => {
  it('matches the known-answer vector and verifies until it expires', async () => {
    // HMAC-SHA256('admin-token-for-tests-0123456789', 'admin-session|v1|1800043200'), first 16 bytes.
    const v = await signSession('admin-token-for-tests-0123456789', NOW)
    expect(v).toBe('v1.1800043200.f49c4367a35ef8d3e01e0bf899785d01')
    expect(await sessionValid('admin-token-for-tests-0123456789', v, NOW)).toBe(true)
    expect(await sessionValid('admin-token-for-tests-0123456789', v, NOW + 12 * 3_600_000)).toBe(false)
  })

  it('is refused under another token, when altered, or with no token configured', async () => {
    const v = await signSession('admin-token-for-tests-0123456789', NOW)
    expect(await sessionValid('another-admin-token-0123456789', v, NOW)).toBe(false)
    expect(await sessionValid('admin-token-for-tests-0123456789', v.replace('v1.1800043200', 'v1.1900043200'), NOW)).toBe(false)
    expect(await sessionValid(undefined, v, NOW)).toBe(false)
    for (const hostile of [undefined, '', 'v1', `${v};`, '<script>', 'v1.1800043200.' + 'g'.repeat(32)]) {
      expect(await sessionValid('admin-token-for-tests-0123456789', hostile, NOW)).toBe(false)
    }
  })

  it('reads the named cookie only', () => {
    expect(readCookie('a=1; igbot_admin=v1.2.x; b=3', 'igbot_admin')).toBe('v1.2.x')
    expect(readCookie('xigbot_admin=1', 'igbot_admin')).toBeUndefined()
    expect(readCookie(null, 'igbot_admin')).toBeUndefined()
  })
})
