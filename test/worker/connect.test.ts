/**
 * The operator page and the Instagram Login connect flow through the Worker's routes, with the
 * OAuth host and the Graph API played by a fetch stand-in.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import worker from '../../src/index'
import { signState, verifyState } from '../../src/meta/oauth'
import { delivery, messagingItem, metaJson } from '../../tools/payloads'
import { signedRequest } from '../helpers/sign'
import { eventually } from '../helpers/network'
import { newSender } from '../helpers/deliver'

const ADMIN = 'admin-token-for-tests-0123456789'
const HEALTHZ = 'healthz-token-for-tests-0123456789'
const healthzDetail = { headers: { authorization: `Bearer ${HEALTHZ}` } }
const BASE = 'https://bot.test'

let seq = 0
/** Each test gets its own accounts, so Durable Object state never leaks between tests. */
function accounts() {
  seq++
  return { configured: `1000${seq}`, connected: `17841400000${String(seq).padStart(4, '0')}`, username: `shop_${seq}` }
}

function settings(over: Record<string, string> = {}): Partial<Env> {
  return {
    ADMIN_TOKEN: ADMIN,
    HEALTHZ_TOKEN: HEALTHZ,
    INSTAGRAM_APP_ID: '424242',
    INSTAGRAM_APP_SECRET: 'ig-app-secret',
    INSTAGRAM_TOKEN_URL: 'https://oauth.test/oauth/access_token',
    // The test bindings configure comment automation; most tests here are about DMs only.
    COMMENT_RULES: '',
    ...over,
  } as Partial<Env>
}

async function call(path: string, init: RequestInit = {}, over: Partial<Env> = {}) {
  const ctx = createExecutionContext()
  const res = await worker.fetch(new Request(`${BASE}${path}`, { redirect: 'manual', ...init }) as Request<unknown, IncomingRequestCfProperties>, { ...env, ...over } as Env, ctx)
  await waitOnExecutionContext(ctx)
  return res
}

interface Calls {
  paths: string[]
  subscribed: string[]
  sendAuth: string[]
}

/** OAuth host + Graph API stand-in; `fail` makes one step answer with Meta's error. */
function standIn(acct: ReturnType<typeof accounts>, fail: Partial<Record<'code' | 'long' | 'me' | 'subscribe', Response>> = {}): Calls {
  const calls: Calls = { paths: [], subscribed: [], sendAuth: [] }
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input as RequestInfo, init)
    const url = new URL(req.url)
    calls.paths.push(`${url.host}${url.pathname}`)
    if (url.host === 'oauth.test') {
      if (fail.code) return fail.code
      const form = new URLSearchParams(new TextDecoder().decode(await req.arrayBuffer()))
      if (form.get('code') !== 'good-code' || form.get('client_secret') !== 'ig-app-secret') return Response.json({ error_type: 'OAuthException', code: 400, error_message: 'This authorization code has been used' }, { status: 400 })
      return Response.json({ access_token: 'short-token', user_id: Number(acct.connected), permissions: 'instagram_business_basic,instagram_business_manage_messages' })
    }
    if (url.host === 'graph.test' && url.pathname === '/access_token') return fail.long ?? Response.json({ access_token: `long-token-${acct.connected}`, token_type: 'bearer', expires_in: 5184000 })
    if (url.host === 'graph.test' && url.pathname.endsWith('/me')) return fail.me ?? Response.json({ id: '555', user_id: acct.connected, username: acct.username })
    if (url.host === 'graph.test' && url.pathname.endsWith('/me/subscribed_apps')) {
      calls.subscribed.push(url.searchParams.get('subscribed_fields') ?? '')
      return fail.subscribe ?? Response.json({ success: true })
    }
    if (url.host === 'graph.test' && url.pathname.endsWith('/messages')) {
      calls.sendAuth.push(`${url.pathname} ${req.headers.get('authorization')}`)
      const body = (await req.json()) as { sender_action?: string; recipient: { id: string } }
      return Response.json(body.sender_action ? { recipient_id: body.recipient.id } : { recipient_id: body.recipient.id, message_id: `m_${calls.sendAuth.length}` })
    }
    if (url.host === 'llm.test') {
      return Response.json({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'We open at nine.' }, finish_reason: 'stop' }] })
    }
    throw new TypeError(`network access to ${url.host} is not allowed in tests`)
  })
  return calls
}

afterEach(() => vi.restoreAllMocks())

async function login(over: Partial<Env>) {
  const res = await call('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: BASE }, body: `token=${ADMIN}` }, over)
  return { res, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]! }
}

async function startConnect(over: Partial<Env>) {
  const res = await call('/admin/connect', { headers: { authorization: `Bearer ${ADMIN}` } }, over)
  expect(res.status).toBe(302)
  return new URL(res.headers.get('location')!)
}

describe('operator page access', () => {
  it('is closed (404) when ADMIN_TOKEN is not set', async () => {
    expect((await call('/admin')).status).toBe(404)
    expect((await call('/admin/connect')).status).toBe(404)
    expect((await call('/admin/oauth/callback?code=x&state=y')).status).toBe(404)
  })

  it('shows only the login form without a valid token or session', async () => {
    const over = settings()
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token-wrong' }, { cookie: 'igbot_admin=v1.9999999999.00000000000000000000000000000000' }, { cookie: 'igbot_admin=<script>' }]
    for (const headers of attempts) {
      const res = await call('/admin', { headers }, over)
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toContain('action="/admin/login"')
      expect(text).not.toContain('Connected account')
    }
  })

  it('signs in with the form: a Secure, HttpOnly, SameSite=Strict cookie that opens the page', async () => {
    const over = settings({ IG_ACCOUNT_ID: accounts().configured })
    const wrong = await call('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope' }, over)
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    const { res, cookie } = await login(over)
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toMatch(/^igbot_admin=v1\.\d+\.[0-9a-f]{32}; Path=\/admin; HttpOnly; Secure; SameSite=Strict; Max-Age=43200$/)
    const page = await call('/admin', { headers: { cookie } }, over)
    expect(await page.text()).toContain('Connected account')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
  })

  it('refuses a login posted from another site', async () => {
    const attempts: Record<string, string>[] = [{ origin: 'https://evil.test' }, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' }, { 'sec-fetch-site': 'cross-site' }]
    for (const headers of attempts) {
      const res = await call('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: `token=${ADMIN}` }, settings())
      expect(res.status).toBe(403)
      expect(res.headers.get('set-cookie')).toBeNull()
    }
  })

  it('sends a signed-out visitor of /admin/connect back to the login form instead of Instagram', async () => {
    const res = await call('/admin/connect', {}, settings())
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/admin')
  })
})

describe('connecting an Instagram account', () => {
  it('redirects to Instagram with the messaging permissions, this Worker\'s callback and a state it signed', async () => {
    const url = await startConnect(settings())
    expect(url.origin + url.pathname).toBe('https://www.instagram.com/oauth/authorize')
    expect(url.searchParams.get('client_id')).toBe('424242')
    expect(url.searchParams.get('redirect_uri')).toBe(`${BASE}/admin/oauth/callback`)
    expect(url.searchParams.get('scope')).toBe('instagram_business_basic,instagram_business_manage_messages')
    expect(await verifyState(ADMIN, url.searchParams.get('state'), Date.now())).toEqual({ ok: true })
  })

  it('asks for the comments permission when comment automation is configured', async () => {
    const url = await startConnect(settings({ COMMENT_RULES: '[{"keywords":["price"],"private_reply":"Here is our price list"}]' }))
    expect(url.searchParams.get('scope')).toBe('instagram_business_basic,instagram_business_manage_messages,instagram_business_manage_comments')
  })

  it('exchanges the code, stores the long-lived token under the account id, subscribes, and sends with that token', async () => {
    const acct = accounts()
    const over = settings({ IG_ACCOUNT_ID: acct.connected })
    const calls = standIn(acct)
    const state = (await startConnect(over)).searchParams.get('state')!
    const res = await call(`/admin/oauth/callback?code=good-code&state=${encodeURIComponent(state)}`, {}, over)
    const text = await res.text()
    expect(res.status).toBe(200)
    expect(text).toContain(`Connected @${acct.username}`)
    expect(text).toContain('messages, messaging_postbacks, messaging_seen, message_reactions, messaging_referral')
    expect(calls.subscribed).toEqual(['messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral'])
    expect((await env.ACCOUNT.getByName(acct.connected).connectedSendState())?.token).toBe(`long-token-${acct.connected}`)
    // The token never appears on the page.
    expect(text).not.toContain('long-token')
    // A DM to that account is answered with its connected token.
    const sender = newSender()
    const ctx = createExecutionContext()
    const req = await signedRequest(metaJson(delivery([messagingItem({ senderId: sender, text: 'when do you open?', accountId: acct.connected })], acct.connected)))
    expect((await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, { ...env, ...over } as Env, ctx)).status).toBe(200)
    await waitOnExecutionContext(ctx)
    expect(calls.sendAuth.some((l) => l === `/v25.0/${acct.connected}/messages Bearer long-token-${acct.connected}`)).toBe(true)
    // The operator page shows the account, its fields and today's answered DM.
    const page = await (await call('/admin', { headers: { authorization: `Bearer ${ADMIN}` } }, over)).text()
    expect(page).toContain(`@${acct.username}`)
    expect(page).toContain('<code>messaging_referral</code>')
    expect(page).toMatch(/<b>1<\/b>DMs answered/)
    // A handoff right after is counted at once (not held back by the 30-second report throttle).
    const ctx2 = createExecutionContext()
    const req2 = await signedRequest(metaJson(delivery([messagingItem({ senderId: sender, text: 'can I talk to a person please', accountId: acct.connected })], acct.connected)))
    await worker.fetch(req2 as Request<unknown, IncomingRequestCfProperties>, { ...env, ...over } as Env, ctx2)
    await waitOnExecutionContext(ctx2)
    const after = await (await call('/admin', { headers: { authorization: `Bearer ${ADMIN}` } }, over)).text()
    expect(after).toMatch(/<b>1<\/b>handed off to a person/)
    expect(page).not.toContain('Settings disagree')
  })

  it('refuses a forged, foreign or expired state and stores nothing', async () => {
    const acct = accounts()
    const over = settings({ IG_ACCOUNT_ID: acct.connected })
    const calls = standIn(acct)
    const genuine = await signState(ADMIN, Date.now())
    const forged = genuine.replace(/.$/, (ch) => (ch === '0' ? '1' : '0'))
    const foreign = await signState('some-other-secret-some-other', Date.now())
    const expired = await signState(ADMIN, Date.now() - 60 * 60_000)
    for (const [state, words] of [[forged, 'not made by this Worker'], [foreign, 'not made by this Worker'], [expired, 'expired'], ['', 'not made by this Worker'], ['"><script>alert(1)</script>', 'not made by this Worker']] as const) {
      const res = await call(`/admin/oauth/callback?code=good-code&state=${encodeURIComponent(state)}`, {}, over)
      expect(res.status).toBe(403)
      const text = await res.text()
      expect(text).toContain(words)
      expect(text).not.toContain('<script>alert')
    }
    expect(calls.paths).toEqual([])
    expect(await env.ACCOUNT.getByName(acct.connected).connectedSendState()).toBeNull()
  })

  it('explains denied consent in plain words and calls nobody', async () => {
    const acct = accounts()
    const calls = standIn(acct)
    const state = await signState(ADMIN, Date.now())
    const res = await call(`/admin/oauth/callback?error=access_denied&error_reason=user_denied&error_description=The+user+denied&state=${state}`, {}, settings())
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('permission request was declined')
    expect(calls.paths).toEqual([])
  })

  it('names an expired code and a wrong app secret, and stores nothing when a later step fails', async () => {
    const acct = accounts()
    const over = settings({ IG_ACCOUNT_ID: acct.connected })
    standIn(acct)
    const state = await signState(ADMIN, Date.now())
    const used = await call(`/admin/oauth/callback?code=used-code&state=${state}`, {}, over)
    expect(used.status).toBe(502)
    expect(await used.text()).toContain('expired or was already used')
    vi.restoreAllMocks()
    standIn(acct, { long: Response.json({ error: { message: 'Error validating client secret.', type: 'OAuthException', code: 1 } }, { status: 400 }) })
    const secret = await call(`/admin/oauth/callback?code=good-code&state=${state}`, {}, over)
    expect(await secret.text()).toContain('INSTAGRAM_APP_SECRET')
    vi.restoreAllMocks()
    standIn(acct, { subscribe: Response.json({ error: { message: '(#10) Application does not have permission for this action', code: 10 } }, { status: 403 }) })
    const sub = await call(`/admin/oauth/callback?code=good-code&state=${state}`, {}, over)
    expect(await sub.text()).toContain('lacks a permission')
    expect(await env.ACCOUNT.getByName(acct.connected).connectedSendState()).toBeNull()
  })

  it('says so on the page and in /healthz when IG_ACCOUNT_ID and the connected account disagree', async () => {
    const acct = accounts()
    const over = settings({ IG_ACCOUNT_ID: acct.configured })
    standIn(acct)
    const state = await signState(ADMIN, Date.now())
    const res = await call(`/admin/oauth/callback?code=good-code&state=${state}`, {}, over)
    expect(await res.text()).toContain(`IG_ACCOUNT_ID is ${acct.configured}`)
    const page = await (await call('/admin', { headers: { authorization: `Bearer ${ADMIN}` } }, over)).text()
    expect(page).toContain('Settings disagree')
    expect(page).toContain(`@${acct.username}`)
    const health = (await (await call('/healthz', healthzDetail, over)).json()) as { degraded: string[] }
    expect(health.degraded).toContain('account_mismatch')
  })

  it('lets a Worker set up for the connect page start without IG_ACCESS_TOKEN, and says it cannot send yet', async () => {
    const acct = accounts()
    const over = { ...settings({ IG_ACCOUNT_ID: acct.configured }), IG_ACCESS_TOKEN: '' } as Partial<Env>
    const res = await call('/healthz', healthzDetail, over)
    expect(res.status).toBe(503)
    expect(((await res.json()) as { degraded: string[] }).degraded).toContain('no_account_connected')
    const page = await call('/admin', { headers: { authorization: `Bearer ${ADMIN}` } }, over)
    expect(await page.text()).toContain('Connect Instagram account')
    // Without the connect settings, the token is required as before.
    const bare = await call('/healthz', healthzDetail, { IG_ACCESS_TOKEN: '', HEALTHZ_TOKEN: HEALTHZ } as Partial<Env>)
    expect(((await bare.json()) as { missing: string[] }).missing).toContain('IG_ACCESS_TOKEN')
  })

  it('keeps using IG_ACCESS_TOKEN for accounts that were never connected', async () => {
    const acct = accounts()
    const calls = standIn(acct)
    const sender = newSender()
    const ctx = createExecutionContext()
    const over = { IG_ACCOUNT_ID: acct.configured } as Partial<Env>
    const req = await signedRequest(metaJson(delivery([messagingItem({ senderId: sender, text: 'hello there' })])))
    await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, { ...env, ...over } as Env, ctx)
    await waitOnExecutionContext(ctx)
    await eventually(() => calls.sendAuth.length > 0)
    expect(calls.sendAuth.every((l) => l.startsWith(`/v25.0/${acct.configured}/messages Bearer test-ig-token`))).toBe(true)
  })
})
