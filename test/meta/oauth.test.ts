import { describe, expect, it } from 'vitest'
import {
  authorizeUrl,
  classifyError,
  codeExchangeRequest,
  longLivedRequest,
  meRequest,
  parseCallback,
  parseLongLivedToken,
  parseMe,
  parseShortLivedToken,
  parseSubscribe,
  scopesFor,
  signState,
  STATE_TTL_MS,
  subscribeRequest,
  verifyState,
  webhookFieldsFor,
} from '../../src/meta/oauth'
import { connectAccount, type ConnectDeps } from '../../src/meta/connect'

const NOW = 1_800_000_000_000
const NONCE = 'AAAAAAAAAAAAAAAAAAAAAA'
// Known answer, computed independently: HMAC-SHA256('state-secret', 'instagram-oauth-state|v1|1800000900|' + NONCE), first 16 bytes.
const KNOWN_STATE = `v1.1800000900.${NONCE}.542fb8b1a2715875643ae21368606db2`

describe('OAuth state', () => {
  it('matches the known-answer vector', async () => {
    expect(await signState('state-secret', NOW, { nonce: NONCE })).toBe(KNOWN_STATE)
    expect(await verifyState('state-secret', KNOWN_STATE, NOW)).toEqual({ ok: true })
  })

  it('is different every time (random nonce) and each one verifies', async () => {
    const a = await signState('state-secret', NOW)
    const b = await signState('state-secret', NOW)
    expect(a).not.toBe(b)
    expect(await verifyState('state-secret', a, NOW)).toEqual({ ok: true })
  })

  it('refuses a state signed with another secret', async () => {
    const other = await signState('another-secret', NOW, { nonce: NONCE })
    expect(await verifyState('state-secret', other, NOW)).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('refuses forgeries: a changed expiry, nonce or MAC', async () => {
    const [v, exp, nonce, mac] = KNOWN_STATE.split('.') as [string, string, string, string]
    const forged = [
      [v, String(Number(exp) + 3600), nonce, mac],
      [v, exp, `B${nonce.slice(1)}`, mac],
      [v, exp, nonce, `${mac.slice(0, -1)}${mac.endsWith('0') ? '1' : '0'}`],
    ]
    for (const parts of forged) expect(await verifyState('state-secret', parts.join('.'), NOW)).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('refuses an expired state, even a genuine one', async () => {
    expect(await verifyState('state-secret', KNOWN_STATE, NOW + STATE_TTL_MS)).toEqual({ ok: false, reason: 'expired' })
    expect(await verifyState('state-secret', KNOWN_STATE, NOW + STATE_TTL_MS - 1000)).toEqual({ ok: true })
  })

  it('refuses hostile shapes without throwing', async () => {
    for (const hostile of [null, undefined, '', 'v1', 'v2.1800000900.AAAAAAAAAAAAAAAAAAAAAA.542fb8b1a2715875643ae21368606db2', `${KNOWN_STATE}.x`, KNOWN_STATE.toUpperCase(), '<script>', 'v1.1e9.AAAAAAAAAAAAAAAAAAAAAA.542fb8b1a2715875643ae21368606db2', 'x'.repeat(5000)]) {
      expect(await verifyState('state-secret', hostile, NOW)).toEqual({ ok: false, reason: 'malformed' })
    }
  })
})

describe('authorize URL', () => {
  it('asks for the messaging permissions, and comments only when configured', () => {
    const url = new URL(authorizeUrl({ appId: '123', redirectUri: 'https://bot.example/admin/oauth/callback', state: KNOWN_STATE, scopes: scopesFor({ comments: false }) }))
    expect(url.origin + url.pathname).toBe('https://www.instagram.com/oauth/authorize')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: '123',
      redirect_uri: 'https://bot.example/admin/oauth/callback',
      response_type: 'code',
      scope: 'instagram_business_basic,instagram_business_manage_messages',
      state: KNOWN_STATE,
    })
    expect(scopesFor({ comments: true })).toContain('instagram_business_manage_comments')
    expect(webhookFieldsFor({ comments: false })).toEqual(['messages', 'messaging_postbacks', 'messaging_seen', 'message_reactions', 'messaging_referral'])
    expect(webhookFieldsFor({ comments: true })).toContain('comments')
  })

  it('encodes hostile values instead of letting them add parameters', () => {
    const url = new URL(authorizeUrl({ appId: '1&scope=all', redirectUri: 'https://x/cb?a=1&b=2', state: 's"<>', scopes: ['a'] }))
    expect(url.searchParams.get('client_id')).toBe('1&scope=all')
    expect(url.searchParams.getAll('scope')).toEqual(['a'])
    expect(url.searchParams.get('redirect_uri')).toBe('https://x/cb?a=1&b=2')
  })
})

describe('callback query', () => {
  it('reads code and state, dropping the #_ Meta appends', () => {
    expect(parseCallback(new URLSearchParams('code=AQBx#_&state=s'))).toEqual({ ok: true, code: 'AQBx', state: 's' })
  })

  it('recognises denied consent', () => {
    expect(parseCallback(new URLSearchParams('error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request.&state=s'))).toEqual({ ok: false, reason: 'denied' })
  })

  it('treats other provider errors and missing or hostile codes as failures', () => {
    expect(parseCallback(new URLSearchParams('error=server_error'))).toEqual({ ok: false, reason: 'provider_error' })
    expect(parseCallback(new URLSearchParams('state=s'))).toEqual({ ok: false, reason: 'missing_code' })
    expect(parseCallback(new URLSearchParams('code=a%20b&state=s'))).toEqual({ ok: false, reason: 'missing_code' })
    expect(parseCallback(new URLSearchParams(`code=${'a'.repeat(3000)}&state=s`))).toEqual({ ok: false, reason: 'missing_code' })
    expect(parseCallback(new URLSearchParams('code=abc'))).toEqual({ ok: false, reason: 'missing_code' })
  })
})

describe('token exchange requests', () => {
  it('posts the code as a form with the same redirect URI', async () => {
    const req = codeExchangeRequest({ appId: '123', appSecret: 'sek', redirectUri: 'https://bot/cb', code: 'C' })
    expect(req.url).toBe('https://api.instagram.com/oauth/access_token')
    expect(req.init.method).toBe('POST')
    expect(Object.fromEntries(new URLSearchParams(String(req.init.body)))).toEqual({ client_id: '123', client_secret: 'sek', grant_type: 'authorization_code', redirect_uri: 'https://bot/cb', code: 'C' })
  })

  it('exchanges for a long-lived token with GET, and reads /me and subscribes with the token as a bearer', () => {
    const long = new URL(longLivedRequest({ graphBase: 'https://graph.instagram.com/', appSecret: 'sek', shortToken: 'short' }).url)
    expect(long.pathname).toBe('/access_token')
    expect(Object.fromEntries(long.searchParams)).toEqual({ grant_type: 'ig_exchange_token', client_secret: 'sek', access_token: 'short' })
    const me = meRequest({ graphBase: 'https://graph.instagram.com', version: 'v25.0', token: 'T' })
    expect(me.url).toBe('https://graph.instagram.com/v25.0/me?fields=user_id,username')
    expect((me.init.headers as Record<string, string>).authorization).toBe('Bearer T')
    const sub = subscribeRequest({ graphBase: 'https://graph.instagram.com', version: 'v25.0', token: 'T', fields: ['messages', 'comments'] })
    expect(sub.init.method).toBe('POST')
    expect(new URL(sub.url).searchParams.get('subscribed_fields')).toBe('messages,comments')
  })
})

describe('token exchange answers', () => {
  it('reads the short-lived token flat or wrapped in data', () => {
    const flat = { access_token: 'IGQ-short', user_id: 17841400000000001, permissions: 'instagram_business_basic,instagram_business_manage_messages' }
    // 17841400000000001 is past 2^53: the parsed number is not the id, so it is not kept.
    expect(parseShortLivedToken(200, flat)).toEqual({ ok: true, value: { token: 'IGQ-short', userId: null, permissions: ['instagram_business_basic', 'instagram_business_manage_messages'] } })
    expect(parseShortLivedToken(200, { ...flat, user_id: '17841400000000001' })).toMatchObject({ ok: true, value: { userId: '17841400000000001' } })
    expect(parseShortLivedToken(200, { data: [{ ...flat, permissions: ['instagram_business_basic'] }] })).toMatchObject({ ok: true, value: { permissions: ['instagram_business_basic'] } })
  })

  it('names the usual failures of the code exchange', () => {
    const oauthError = (m: string) => ({ error_type: 'OAuthException', code: 400, error_message: m })
    expect(parseShortLivedToken(400, oauthError('This authorization code has expired'))).toEqual({ ok: false, failure: 'code_expired' })
    expect(parseShortLivedToken(400, oauthError('This authorization code has been used'))).toEqual({ ok: false, failure: 'code_expired' })
    expect(parseShortLivedToken(400, oauthError('Error validating client secret.'))).toEqual({ ok: false, failure: 'wrong_app_secret' })
    expect(parseShortLivedToken(400, oauthError('Invalid platform app'))).toEqual({ ok: false, failure: 'wrong_app_id' })
    expect(parseShortLivedToken(400, oauthError('Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request'))).toEqual({ ok: false, failure: 'redirect_mismatch' })
    expect(parseShortLivedToken(500, 'oops')).toEqual({ ok: false, failure: 'rejected' })
  })

  it('refuses answers with hostile or missing fields', () => {
    for (const body of [null, {}, { access_token: 'a b', user_id: '1' }, { user_id: '1' }, { data: [] }, { access_token: 'x'.repeat(5000), user_id: '1' }]) {
      expect(parseShortLivedToken(200, body)).toEqual({ ok: false, failure: 'bad_response' })
    }
    expect(parseShortLivedToken(200, { access_token: 'ok', user_id: '1; drop' })).toMatchObject({ ok: true, value: { userId: null } })
  })

  it('reads the long-lived token and its lifetime, and names a wrong secret', () => {
    expect(parseLongLivedToken(200, { access_token: 'IGQ-long', token_type: 'bearer', expires_in: 5183944 })).toEqual({ ok: true, value: { token: 'IGQ-long', expiresInSeconds: 5183944 } })
    expect(parseLongLivedToken(200, { access_token: 'IGQ-long', expires_in: -1 })).toEqual({ ok: false, failure: 'bad_response' })
    expect(parseLongLivedToken(400, { error: { message: 'Error validating client secret.', type: 'OAuthException', code: 1 } })).toEqual({ ok: false, failure: 'wrong_app_secret' })
    expect(parseLongLivedToken(400, { error: { message: 'Invalid OAuth access token - Cannot parse access token', type: 'OAuthException', code: 190 } })).toEqual({ ok: false, failure: 'token_invalid' })
  })

  it('takes user_id (what webhooks carry), not the app-scoped id, from /me', () => {
    expect(parseMe(200, { id: '999', user_id: '17841400000000001', username: 'shop' })).toEqual({ ok: true, value: { userId: '17841400000000001', username: 'shop' } })
    expect(parseMe(200, { id: '999', username: 'shop' })).toEqual({ ok: false, failure: 'bad_response' })
    expect(parseMe(200, { user_id: '1', username: '<img src=x>' })).toEqual({ ok: false, failure: 'bad_response' })
  })

  it('accepts only an explicit success from subscribed_apps', () => {
    expect(parseSubscribe(200, { success: true })).toEqual({ ok: true, value: true })
    expect(parseSubscribe(200, { success: 'true' })).toEqual({ ok: false, failure: 'bad_response' })
    expect(parseSubscribe(403, { error: { message: '(#10) Application does not have permission for this action', code: 10 } })).toEqual({ ok: false, failure: 'permission_missing' })
  })

  it('does not mistake an expired session token for an expired code', () => {
    expect(classifyError(400, { error: { message: 'Error validating access token: Session has expired', code: 190 } })).toBe('token_invalid')
  })
})

describe('connectAccount', () => {
  function deps(answers: Record<string, () => Response | Promise<Response>>) {
    const calls: string[] = []
    const d: ConnectDeps = {
      fetch: (async (input: RequestInfo | URL) => {
        const url = new URL(String(input))
        calls.push(url.pathname)
        const answer = answers[url.pathname]
        if (!answer) throw new TypeError('unexpected call')
        return answer()
      }) as typeof fetch,
      now: () => NOW,
      appId: '123',
      appSecret: 'sek',
      redirectUri: 'https://bot/cb',
      tokenUrl: 'https://api.test/oauth/access_token',
      graphBase: 'https://graph.test',
      version: 'v25.0',
      fields: ['messages'],
    }
    return { d, calls }
  }
  const ok = {
    '/oauth/access_token': () => Response.json({ access_token: 'short', user_id: '17841400000000001', permissions: 'instagram_business_basic' }),
    '/access_token': () => Response.json({ access_token: 'long', token_type: 'bearer', expires_in: 5184000 }),
    '/v25.0/me': () => Response.json({ user_id: '17841400000000001', username: 'shop' }),
    '/v25.0/me/subscribed_apps': () => Response.json({ success: true }),
  }

  it('runs every step and returns the long-lived token with its expiry', async () => {
    const { d, calls } = deps(ok)
    const r = await connectAccount(d, 'CODE')
    expect(calls).toEqual(['/oauth/access_token', '/access_token', '/v25.0/me', '/v25.0/me/subscribed_apps'])
    expect(r).toEqual({ ok: true, account: { userId: '17841400000000001', username: 'shop', token: 'long', obtainedAt: NOW, expiresAt: NOW + 5184000 * 1000, permissions: ['instagram_business_basic'], fields: ['messages'] } })
  })

  it('stops at the first failing step and says which', async () => {
    const expired = deps({ ...ok, '/oauth/access_token': () => Response.json({ error_type: 'OAuthException', code: 400, error_message: 'This authorization code has expired' }, { status: 400 }) })
    expect(await connectAccount(expired.d, 'CODE')).toEqual({ ok: false, step: 'code_exchange', failure: 'code_expired' })
    expect(expired.calls).toHaveLength(1)
    const badSecret = deps({ ...ok, '/access_token': () => Response.json({ error: { message: 'Error validating client secret.', code: 1 } }, { status: 400 }) })
    expect(await connectAccount(badSecret.d, 'CODE')).toEqual({ ok: false, step: 'long_lived', failure: 'wrong_app_secret' })
    const noSub = deps({ ...ok, '/v25.0/me/subscribed_apps': () => Response.json({ error: { message: '(#10) Application does not have permission', code: 10 } }, { status: 403 }) })
    expect(await connectAccount(noSub.d, 'CODE')).toEqual({ ok: false, step: 'subscribe', failure: 'permission_missing' })
    const down = deps({ ...ok, '/v25.0/me': () => Promise.reject(new TypeError('network down')) })
    expect(await connectAccount(down.d, 'CODE')).toEqual({ ok: false, step: 'me', failure: 'network' })
    const html = deps({ ...ok, '/access_token': () => new Response('<html>oops</html>', { status: 502 }) })
    expect(await connectAccount(html.d, 'CODE')).toEqual({ ok: false, step: 'long_lived', failure: 'rejected' })
  })
})
