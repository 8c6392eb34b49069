import { describe, expect, it } from 'vitest'
import { flatRecordingLogger } from '../helpers/recording-log'
import {
  clearInvalidToken,
  currentToken,
  effectiveRecord,
  flavour,
  isInvalidTokenError,
  redactUrl,
  refreshDue,
  refreshToken,
  reportInvalidToken,
  tokenHealth,
  UNKNOWN_OBTAINED_AT,
  type TokenRecord,
  type TokenStore,
} from '../../src/meta/token'

const HOUR = 3600_000
const DAY = 24 * HOUR
const NOW = Date.UTC(2026, 2, 1, 3, 0, 0)
const BASE = 'https://graph.test'
const CONFIGURED = 'IGAAconfigured-token'
const REFRESHED = 'IGAArefreshed-token'
const SIXTY_DAYS_S = 5183944

/** Async like Durable Object storage, so interleavings are real in the concurrency test. */
class MemoryStore implements TokenStore {
  record: TokenRecord | null
  constructor(record: TokenRecord | null = null) {
    this.record = record
  }
  async get() {
    await new Promise((r) => setTimeout(r, 1))
    return this.record ? structuredClone(this.record) : null
  }
  async put(r: TokenRecord) {
    await new Promise((r) => setTimeout(r, 1))
    this.record = structuredClone(r)
  }
  async markInvalid(reason: string, at: number) {
    if (this.record) this.record = { ...this.record, invalid: { at, reason } }
  }
}

const captureLog = () => flatRecordingLogger()

type Call = { url: string; method: string }

/** Refresh calls go to `respond` (and are recorded); /me, which identifies a token, to `me`. */
function graph(respond: (call: Call) => Response | Promise<Response>, me: (call: Call) => Response = () => Response.json({ user_id: '17841400000000001' })) {
  const calls: Call[] = []
  const fetchStandIn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = { url: String(input), method: init?.method ?? 'GET' }
    if (new URL(call.url).pathname.endsWith('/me')) return me(call)
    calls.push(call)
    return respond(call)
  }) as typeof fetch
  return { fetch: fetchStandIn, calls }
}

const ok = (token = REFRESHED, expires_in: unknown = SIXTY_DAYS_S) =>
  Response.json({ access_token: token, token_type: 'bearer', expires_in })
const graphError = (status: number, code: number, subcode?: number) =>
  Response.json(
    { error: { message: 'Error validating access token', type: 'OAuthException', code, error_subcode: subcode, fbtrace_id: 'Abc' } },
    { status }
  )

const ACCOUNT_ID = '17841400000000001'

function deps(store: TokenStore, fetchImpl: typeof fetch, extra: { base?: string; now?: number; accountId?: string } = {}) {
  const log = captureLog()
  return {
    log,
    deps: {
      fetch: fetchImpl,
      now: () => extra.now ?? NOW,
      base: extra.base ?? BASE,
      configuredToken: CONFIGURED,
      store,
      log,
      accountId: extra.accountId ?? ACCOUNT_ID,
      version: 'v25.0',
    },
  }
}

const stored = (r: Partial<TokenRecord> = {}): TokenRecord => ({
  token: REFRESHED,
  obtainedAt: NOW - 31 * DAY,
  expiresAt: NOW + 29 * DAY,
  source: 'refreshed',
  ...r,
})

function expectNoTokenIn(lines: unknown[]) {
  const text = JSON.stringify(lines)
  expect(text).not.toContain(CONFIGURED)
  expect(text).not.toContain(REFRESHED)
  expect(text).not.toContain('IGAA')
}

describe('flavour', () => {
  it('treats graph.facebook.com as Facebook Login (Page token) and everything else as Instagram Login', () => {
    expect(flavour('https://graph.facebook.com')).toBe('facebook_login')
    expect(flavour('https://GRAPH.FACEBOOK.COM/')).toBe('facebook_login')
    expect(flavour('https://graph.instagram.com')).toBe('instagram_login')
    expect(flavour('https://graph.test')).toBe('instagram_login')
    expect(flavour('https://facebook.com.evil.test')).toBe('instagram_login')
  })
})

describe('refreshDue', () => {
  it('is due for a configured token of unknown age, so the first cron run refreshes it', () => {
    expect(refreshDue({ token: 't', obtainedAt: UNKNOWN_OBTAINED_AT, source: 'configured' }, NOW)).toEqual({
      due: true,
      reason: 'expiry_unknown',
    })
  })

  it('is not due before the token is 24 hours old, even close to expiry', () => {
    expect(refreshDue(stored({ obtainedAt: NOW - DAY + 1, expiresAt: NOW + DAY }), NOW)).toEqual({
      due: false,
      reason: 'younger_than_24h',
    })
    expect(refreshDue(stored({ obtainedAt: NOW - DAY, expiresAt: NOW + DAY }), NOW).due).toBe(true)
  })

  it('is due once 30 days or less are left, not before', () => {
    expect(refreshDue(stored({ expiresAt: NOW + 30 * DAY }), NOW)).toEqual({ due: true, reason: 'expires_within_30_days' })
    expect(refreshDue(stored({ expiresAt: NOW + 30 * DAY + 1 }), NOW)).toEqual({
      due: false,
      reason: 'expires_in_more_than_30_days',
    })
  })

  it('still tries once our estimate says the token has expired', () => {
    expect(refreshDue(stored({ expiresAt: NOW - 1 }), NOW)).toEqual({ due: true, reason: 'past_expiry' })
  })

  it('is never due for an invalid token or a Page token', () => {
    expect(refreshDue(stored({ invalid: { at: NOW, reason: 'graph_190' } }), NOW).due).toBe(false)
    expect(refreshDue(stored({ expiresAt: NOW + DAY }), NOW, 'facebook_login')).toEqual({
      due: false,
      reason: 'page_token_does_not_expire',
    })
  })
})

describe('refreshToken', () => {
  it('refreshes a configured token on the first run with a GET and stores the new token and expiry', async () => {
    const store = new MemoryStore()
    const g = graph(() => ok())
    const { deps: d, log } = deps(store, g.fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'refreshed' })
    expect(g.calls).toEqual([
      {
        method: 'GET',
        url: `${BASE}/refresh_access_token?grant_type=ig_refresh_token&access_token=${CONFIGURED}`,
      },
    ])
    expect(store.record).toEqual({
      token: REFRESHED,
      obtainedAt: NOW,
      expiresAt: NOW + SIXTY_DAYS_S * 1000,
      source: 'refreshed',
    })
    expect(log.lines).toContainEqual(expect.objectContaining({ event: 'token_refresh', outcome: 'refreshed', expires_in_days: 59 }))
    expectNoTokenIn(log.lines)
  })

  it('refreshes a stored token that expires within 30 days and hands the new one to the send path', async () => {
    const store = new MemoryStore(stored({ token: 'IGAAold' }))
    const g = graph(() => ok('IGAAnew'))
    const { deps: d } = deps(store, g.fetch)
    expect(await currentToken(store, CONFIGURED)).toBe('IGAAold')
    expect(await refreshToken(d)).toEqual({ outcome: 'refreshed' })
    expect(g.calls[0]!.url).toContain('access_token=IGAAold')
    expect(await currentToken(store, CONFIGURED)).toBe('IGAAnew')
  })

  it('does not call Meta when the token is not yet due', async () => {
    for (const record of [stored({ expiresAt: NOW + 58 * DAY }), stored({ obtainedAt: NOW - HOUR, expiresAt: NOW + 10 * DAY })]) {
      const store = new MemoryStore(record)
      const g = graph(() => ok())
      const { deps: d } = deps(store, g.fetch)
      expect(await refreshToken(d)).toMatchObject({ outcome: 'not_due' })
      expect(g.calls).toHaveLength(0)
      expect(store.record).toEqual(record)
    }
  })

  it('reports a server error as failed and keeps the stored token', async () => {
    const record = stored()
    const store = new MemoryStore(record)
    const { deps: d, log } = deps(store, graph(() => new Response('oops', { status: 500 })).fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'http_500' })
    expect(store.record).toEqual(record)
    const line = log.lines.find((l) => l.outcome === 'failed')!
    expect(line).toMatchObject({ level: 'warn', status: 500, url: `${BASE}/refresh_access_token?grant_type=ig_refresh_token&access_token=REDACTED` })
    expectNoTokenIn(log.lines)
  })

  it('reports a Graph error other than 190 with its code', async () => {
    const store = new MemoryStore(stored())
    const { deps: d } = deps(store, graph(() => graphError(400, 4)).fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'graph_error_4' })
    expect(store.record!.invalid).toBeUndefined()
  })

  it('reports a network failure without leaking the token from the error message', async () => {
    const store = new MemoryStore(stored())
    const failing = (async (input: RequestInfo | URL) => {
      throw new TypeError(`connect failed for ${String(input)} (${REFRESHED})`)
    }) as typeof fetch
    const { deps: d, log } = deps(store, failing)
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'network' })
    expect(log.lines.find((l) => l.outcome === 'failed')).toMatchObject({ error: 'TypeError' })
    expectNoTokenIn(log.lines)
  })

  it('gives up on a Graph API that does not answer in time', async () => {
    const store = new MemoryStore(stored())
    const hanging = ((_: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason))
      })) as typeof fetch
    const { deps: d } = deps(store, hanging)
    expect(await refreshToken({ ...d, timeoutMs: 20 })).toEqual({ outcome: 'failed', reason: 'timeout' })
  })

  it('rejects a success response without a usable token', async () => {
    for (const res of [
      () => Response.json({ token_type: 'bearer', expires_in: SIXTY_DAYS_S }),
      () => ok('', SIXTY_DAYS_S),
      () => ok('has space', SIXTY_DAYS_S),
      () => new Response('<html>', { status: 200 }),
    ]) {
      const record = stored()
      const store = new MemoryStore(record)
      const { deps: d } = deps(store, graph(res).fetch)
      expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'bad_response' })
      expect(store.record).toEqual(record)
    }
  })

  it('keeps a rotated token whose answer has no usable expires_in, assuming the documented 60 days, and says so', async () => {
    for (const expires of [undefined, -1, 'soon']) {
      const store = new MemoryStore(stored())
      const g = graph(() => Response.json({ access_token: 'IGAArotated', token_type: 'bearer', ...(expires === undefined ? {} : { expires_in: expires }) }))
      const { deps: d, log } = deps(store, g.fetch)
      expect(await refreshToken(d)).toEqual({ outcome: 'refreshed' })
      expect(store.record).toMatchObject({ token: 'IGAArotated', expiresAt: NOW + 60 * DAY, source: 'refreshed' })
      expect(log.lines.find((l) => l.outcome === 'refreshed')).toMatchObject({ expires_in_assumed: true, expires_in_days: 60 })
    }
  })

  it('refuses a refresh answer whose token belongs to another account, and keeps the stored token', async () => {
    for (const answer of [
      () => Response.json({ access_token: 'IGAAforeign', expires_in: SIXTY_DAYS_S, user_id: '17841499999999999' }),
      () => Response.json({ access_token: REFRESHED, expires_in: SIXTY_DAYS_S, user_id: 17841499999999 }),
    ]) {
      const record = stored()
      const store = new MemoryStore(record)
      const g = graph(answer)
      const { deps: d, log } = deps(store, g.fetch)
      expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'other_account' })
      expect(store.record).toEqual(record)
      expect(log.lines.find((l) => l.outcome === 'failed')).toMatchObject({ level: 'error', reason: 'other_account' })
      expectNoTokenIn(log.lines)
    }
  })

  it('identifies a rotated token with /me (bearer header, no token in the URL) and refuses one /me places elsewhere', async () => {
    const store = new MemoryStore(stored())
    const seen: { url: string; auth: string | null }[] = []
    const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input)
      if (url.includes('/me')) {
        const auth = new Headers(init?.headers).get('authorization')
        seen.push({ url, auth })
        return Response.json({ user_id: auth === 'Bearer IGAAnext' ? '17841411111111111' : ACCOUNT_ID })
      }
      return ok('IGAAnext')
    }) as typeof fetch
    const { deps: d } = deps(store, fetchImpl, { accountId: 'me' })
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'other_account' })
    expect(store.record!.token).toBe(REFRESHED)
    expect(seen.map((c) => c.auth).sort()).toEqual(['Bearer IGAAnext', `Bearer ${REFRESHED}`])
    expect(seen.every((c) => c.url.startsWith(`${BASE}/v25.0/me?`) && !c.url.includes('access_token'))).toBe(true)
  })

  it('does not store a rotated token it cannot identify (/me fails), and tries again next time', async () => {
    const store = new MemoryStore(stored())
    const g = graph(() => ok('IGAAnext'), () => new Response('<html>gateway</html>', { status: 502 }))
    const { deps: d } = deps(store, g.fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'account_unverified' })
    expect(store.record!.token).toBe(REFRESHED)
  })

  it('marks a stored token invalid on error 190 and stops calling Meta with it', async () => {
    const store = new MemoryStore(stored({ token: CONFIGURED }))
    const g = graph(() => graphError(400, 190, 460))
    const { deps: d, log } = deps(store, g.fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'invalid', reason: 'graph_190_460' })
    expect(store.record!.invalid).toEqual({ at: NOW, reason: 'graph_190_460' })
    expect(log.lines.find((l) => l.outcome === 'invalid')).toMatchObject({ level: 'error', code: 190, subcode: 460 })
    expect(await refreshToken(d)).toEqual({ outcome: 'invalid', reason: 'graph_190_460' })
    expect(g.calls).toHaveLength(1)
    expectNoTokenIn(log.lines)
  })

  it('after a refreshed token is marked invalid, tries the configured token instead', async () => {
    const store = new MemoryStore(stored())
    const g = graph(() => graphError(400, 190))
    const { deps: d } = deps(store, g.fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'invalid', reason: 'graph_190' })
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'rejected_age_unknown' })
    expect(g.calls.map((c) => new URL(c.url).searchParams.get('access_token'))).toEqual([REFRESHED, CONFIGURED])
    expect(store.record).toMatchObject({ token: REFRESHED, invalid: { reason: 'graph_190' } })
  })

  it('does not mark a configured token of unknown age invalid on 190, since it may just be too young', async () => {
    const store = new MemoryStore()
    const { deps: d } = deps(store, graph(() => graphError(400, 190)).fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'failed', reason: 'rejected_age_unknown' })
    expect(store.record).toBeNull()
  })

  it('moves on to a newly configured token after the stored one was marked invalid', async () => {
    const store = new MemoryStore(stored({ invalid: { at: NOW - DAY, reason: 'graph_190' } }))
    expect(await currentToken(store, CONFIGURED)).toBe(CONFIGURED)
    const g = graph(() => ok('IGAAafter-reauth'))
    const { deps: d } = deps(store, g.fetch)
    expect(await refreshToken(d)).toEqual({ outcome: 'refreshed' })
    expect(g.calls[0]!.url).toContain(`access_token=${CONFIGURED}`)
    expect(await currentToken(store, CONFIGURED)).toBe('IGAAafter-reauth')
  })

  it('skips Page tokens (Facebook Login) without calling Meta', async () => {
    const store = new MemoryStore()
    const g = graph(() => ok())
    const { deps: d } = deps(store, g.fetch, { base: 'https://graph.facebook.com' })
    expect(await refreshToken(d)).toEqual({ outcome: 'skipped_page_token' })
    expect(g.calls).toHaveLength(0)
    expect(store.record).toBeNull()
  })

  it('refreshes once when called twice concurrently on the same store', async () => {
    const store = new MemoryStore(stored())
    const g = graph(async () => {
      await new Promise((r) => setTimeout(r, 5))
      return ok('IGAAonce')
    })
    const { deps: d } = deps(store, g.fetch)
    const outcomes = await Promise.all([refreshToken(d), refreshToken(d)])
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['not_due', 'refreshed'])
    expect(outcomes.find((o) => o.outcome === 'not_due')!.reason).toBe('younger_than_24h')
    expect(g.calls).toHaveLength(1)
    expect(store.record!.token).toBe('IGAAonce')
  })
})

describe('currentToken and reportInvalidToken', () => {
  it('falls back to the configured token when nothing is stored', async () => {
    expect(await currentToken(new MemoryStore(), CONFIGURED)).toBe(CONFIGURED)
  })

  it('keeps using the configured token when it is the one marked invalid (the send fails visibly)', async () => {
    const store = new MemoryStore({ token: CONFIGURED, obtainedAt: 0, source: 'configured', invalid: { at: NOW, reason: 'x' } })
    expect(await currentToken(store, CONFIGURED)).toBe(CONFIGURED)
    expect(effectiveRecord(store.record, CONFIGURED).invalid).toBeDefined()
  })

  it('marks the stored token invalid when a send with it gets 190', async () => {
    const store = new MemoryStore(stored())
    expect(await reportInvalidToken(store, REFRESHED, 'graph_190', NOW, CONFIGURED)).toBe('marked')
    expect(store.record!.invalid).toEqual({ at: NOW, reason: 'graph_190' })
    expect(await currentToken(store, CONFIGURED)).toBe(CONFIGURED)
  })

  it('records an invalid configured token even when nothing was stored', async () => {
    const store = new MemoryStore()
    expect(await reportInvalidToken(store, CONFIGURED, 'graph_190', NOW, CONFIGURED)).toBe('marked')
    expect(store.record).toEqual({ token: CONFIGURED, obtainedAt: UNKNOWN_OBTAINED_AT, source: 'configured', invalid: { at: NOW, reason: 'graph_190' } })
  })

  it('ignores a 190 for a token that a refresh has already replaced', async () => {
    const store = new MemoryStore(stored({ token: 'IGAAnew' }))
    expect(await reportInvalidToken(store, 'IGAAold', 'graph_190', NOW, CONFIGURED)).toBe('stale')
    expect(store.record!.invalid).toBeUndefined()
  })

  it('never lets a 190 for a token other than the stored one mark or replace a valid refreshed token', async () => {
    const store = new MemoryStore(stored())
    expect(await reportInvalidToken(store, CONFIGURED, 'send_api_190', NOW, CONFIGURED)).toBe('stale')
    expect(await reportInvalidToken(store, 'IGAAolder', 'send_api_190', NOW, CONFIGURED)).toBe('stale')
    expect(store.record).toEqual(stored())
  })

  it('does not overwrite an invalid refreshed token with a report about a token that is neither stored nor configured', async () => {
    const store = new MemoryStore(stored({ invalid: { at: NOW, reason: 'send_api_190' } }))
    expect(await reportInvalidToken(store, 'IGAAolder', 'send_api_190', NOW, CONFIGURED)).toBe('stale')
    expect(store.record!.token).toBe(REFRESHED)
    expect(await reportInvalidToken(store, '', 'send_api_190', NOW, CONFIGURED)).toBe('stale')
  })

  it('clears an invalid mark when a send with that same token succeeded, and nothing else', async () => {
    const store = new MemoryStore(stored({ invalid: { at: NOW, reason: 'send_api_190' } }))
    expect(await clearInvalidToken(store, 'IGAAother')).toBe('unchanged')
    expect(store.record!.invalid).toBeDefined()
    expect(await clearInvalidToken(store, REFRESHED)).toBe('cleared')
    expect(store.record).toEqual(stored())
    expect(await clearInvalidToken(store, REFRESHED)).toBe('unchanged')
  })

  it('recognises error 190 bodies', () => {
    expect(isInvalidTokenError({ error: { code: 190, error_subcode: 463 } })).toBe(true)
    expect(isInvalidTokenError({ error: { code: 10, error_subcode: 2534022 } })).toBe(false)
    expect(isInvalidTokenError('190')).toBe(false)
    expect(isInvalidTokenError(null)).toBe(false)
  })
})

describe('tokenHealth', () => {
  it('reports whole days until expiry', () => {
    expect(tokenHealth(stored({ expiresAt: NOW + 29 * DAY + HOUR }), 'instagram_login', NOW)).toEqual({
      days_until_expiry: 29,
      degraded_reasons: [],
    })
  })

  it('turns degraded below seven days', () => {
    expect(tokenHealth(stored({ expiresAt: NOW + 7 * DAY }), 'instagram_login', NOW).degraded_reasons).toEqual([])
    expect(tokenHealth(stored({ expiresAt: NOW + 7 * DAY - 1 }), 'instagram_login', NOW)).toEqual({
      days_until_expiry: 6,
      degraded_reasons: ['token_expires_within_7_days'],
    })
  })

  it('turns degraded when expired or invalid', () => {
    expect(tokenHealth(stored({ expiresAt: NOW - DAY }), 'instagram_login', NOW)).toEqual({
      days_until_expiry: 0,
      degraded_reasons: ['token_expired'],
    })
    expect(tokenHealth(stored({ invalid: { at: NOW, reason: 'graph_190' } }), 'instagram_login', NOW).degraded_reasons).toEqual([
      'token_invalid',
    ])
  })

  it('reports Page tokens as non-expiring but still shows them invalid', () => {
    expect(tokenHealth(null, 'facebook_login', NOW)).toEqual({ days_until_expiry: null, degraded_reasons: [] })
    expect(tokenHealth(stored({ invalid: { at: NOW, reason: 'graph_190' } }), 'facebook_login', NOW)).toEqual({
      days_until_expiry: null,
      degraded_reasons: ['token_invalid'],
    })
  })

  it('reports an unknown expiry as null without turning degraded', () => {
    expect(tokenHealth(null, 'instagram_login', NOW)).toEqual({ days_until_expiry: null, degraded_reasons: [] })
  })
})

describe('redactUrl', () => {
  it('replaces token and secret parameters wherever they appear', () => {
    expect(redactUrl('https://g.test/x?access_token=abc&grant_type=y')).toBe('https://g.test/x?access_token=REDACTED&grant_type=y')
    expect(redactUrl('https://g.test/x?a=1&ACCESS_TOKEN=abc#f')).toBe('https://g.test/x?a=1&ACCESS_TOKEN=REDACTED#f')
    expect(redactUrl('https://g.test/x?client_secret=s&fb_exchange_token=t')).toBe(
      'https://g.test/x?client_secret=REDACTED&fb_exchange_token=REDACTED'
    )
  })
})
