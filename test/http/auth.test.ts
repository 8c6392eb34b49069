import { describe, expect, it } from 'vitest'
import { bearerMatches } from '../../src/http/auth'

const TOKEN = 'op-token-0123456789abcdefghij'

describe('operator bearer tokens', () => {
  it('accepts exactly the configured token', async () => {
    expect(await bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true)
  })

  it('refuses everyone when no token is configured, even an empty bearer', async () => {
    expect(await bearerMatches('Bearer ', undefined)).toBe(false)
    expect(await bearerMatches('Bearer anything', '')).toBe(false)
    expect(await bearerMatches(undefined, undefined)).toBe(false)
  })

  it('refuses wrong, truncated, extended, differently cased and malformed credentials', async () => {
    for (const h of [
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `bearer ${TOKEN}`,
      `Basic ${TOKEN}`,
      TOKEN,
      `Bearer  ${TOKEN}`,
      `Bearer ${TOKEN} `,
      `Bearer ${TOKEN}\n`,
      '',
      null,
    ]) {
      expect(await bearerMatches(h, TOKEN)).toBe(false)
    }
  })
})
