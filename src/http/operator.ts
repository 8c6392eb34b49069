/**
 * Operator routes, closed unless ADMIN_TOKEN is set: the operator page (bearer token or the
 * login form's session cookie), and the Instagram Login connect flow. The protocol lives in
 * meta/oauth.ts and meta/connect.ts; this file only wires requests to it.
 *
 * The OAuth callback carries no session cookie (SameSite=Strict cookies do not ride along on a
 * navigation coming from instagram.com); it is authorised by its `state`, which only a signed-in
 * operator can obtain and which expires after 15 minutes.
 */
import { Hono } from 'hono/tiny'
import type { Context } from 'hono'
import { readBodyCapped } from './body'
import { bearerMatches } from './auth'
import { safeEqual } from '../core/compare'
import { readConfig, type Config } from '../core/config'
import type { Logger } from '../core/log'
import { forgetCachedToken } from '../conversation/deps'
import { senderObjectName } from '../conversation/names'
import { authorizeUrl, FAILURE_TEXT, parseCallback, scopesFor, signState, verifyState, webhookFieldsFor } from '../meta/oauth'
import { connectAccount } from '../meta/connect'
import { layout, loginPage, overviewPage, PAGE_HEADERS, resultCard } from './operator-page'
import { readCookie, sessionCookie, sessionValid, signSession, SESSION_COOKIE, SESSION_TTL_MS } from './session'

type OperatorEnv = { Bindings: Env; Variables: { log: Logger } }

/** Comment automation (COMMENT_RULES) needs the comments permission and webhook field. */
export function commentsConfigured(config: Config): boolean {
  return config.COMMENT_RULES.length > 0
}

/** The configured account id and a connected one disagree (`me` matches anything). */
export function accountMismatch(configured: string, connected: { userId: string; username: string } | undefined): string | null {
  if (!connected || configured === 'me' || configured === connected.userId) return null
  return `IG_ACCOUNT_ID is ${configured}, but the connected account @${connected.username} has id ${connected.userId}. Conversations of @${connected.username} are answered with its connected token; set IG_ACCOUNT_ID to ${connected.userId} (or to me) so /healthz and the numbers here describe the same account.`
}

function html(c: Context, body: string, status: 200 | 400 | 401 | 403 | 502 = 200, extra: Record<string, string> = {}) {
  return c.body(body, status, { ...PAGE_HEADERS, ...extra })
}

export function createOperatorRoutes() {
  const app = new Hono<OperatorEnv>()

  const settings = (c: Context<OperatorEnv>): Config | null => {
    const cfg = readConfig(c.env)
    return cfg.ok && cfg.config.ADMIN_TOKEN ? cfg.config : null
  }
  const signedIn = async (c: Context<OperatorEnv>, config: Config) =>
    (await bearerMatches(c.req.header('authorization'), config.ADMIN_TOKEN)) ||
    (await sessionValid(config.ADMIN_TOKEN, readCookie(c.req.header('cookie'), SESSION_COOKIE), Date.now()))
  /**
   * Defence in depth next to SameSite=Strict: a browser POST must not come from another site.
   * Browsers say so in Sec-Fetch-Site; without it, an Origin header must be this origin.
   */
  const sameOrigin = (c: Context<OperatorEnv>) => {
    const site = c.req.header('sec-fetch-site')
    if (site !== undefined) return site === 'same-origin' || site === 'same-site' || site === 'none'
    const origin = c.req.header('origin')
    return origin === undefined || origin === new URL(c.req.url).origin
  }
  const redirectUri = (c: Context<OperatorEnv>) => `${new URL(c.req.url).origin}/admin/oauth/callback`

  app.get('/admin', async (c) => {
    const config = settings(c)
    if (!config) return c.text('Not Found', 404)
    if (!(await signedIn(c, config))) return html(c, loginPage())
    const home = c.env.ACCOUNT.getByName(config.IG_ACCOUNT_ID)
    const homeView = await home.overview(config.LLM_DAILY_BUDGET)
    const connected = homeView.connections[0]
    const view = connected && connected.userId !== config.IG_ACCOUNT_ID ? await c.env.ACCOUNT.getByName(connected.userId).overview(config.LLM_DAILY_BUDGET) : homeView
    return html(
      c,
      overviewPage({
        overview: view,
        configuredAccountId: config.IG_ACCOUNT_ID,
        origin: new URL(c.req.url).origin,
        canConnect: Boolean(config.INSTAGRAM_APP_ID && config.INSTAGRAM_APP_SECRET),
        mismatch: accountMismatch(config.IG_ACCOUNT_ID, connected),
        now: Date.now(),
      })
    )
  })

  app.post('/admin/login', async (c) => {
    const config = settings(c)
    if (!config) return c.text('Not Found', 404)
    if (!sameOrigin(c)) return c.text('Forbidden', 403)
    const body = await readBodyCapped(c.req.raw, 4096)
    const token = body.ok ? (new URLSearchParams(new TextDecoder().decode(body.bytes)).get('token') ?? '') : ''
    if (!(await safeEqual(token, config.ADMIN_TOKEN!))) {
      c.get('log').warn('operator_login', { outcome: 'rejected' })
      return html(c, loginPage({ failed: true }), 401)
    }
    c.get('log').info('operator_login', { outcome: 'ok' })
    const value = await signSession(config.ADMIN_TOKEN!, Date.now())
    return c.body(null, 303, { location: '/admin', 'set-cookie': sessionCookie(value, SESSION_TTL_MS / 1000), 'cache-control': 'no-store' })
  })

  app.post('/admin/logout', (c) => {
    if (!sameOrigin(c)) return c.text('Forbidden', 403)
    return c.body(null, 303, { location: '/admin', 'set-cookie': sessionCookie('', 0), 'cache-control': 'no-store' })
  })

  app.get('/admin/connect', async (c) => {
    const config = settings(c)
    if (!config) return c.text('Not Found', 404)
    if (!(await signedIn(c, config))) return c.redirect('/admin', 303)
    if (!config.INSTAGRAM_APP_ID || !config.INSTAGRAM_APP_SECRET) {
      return html(c, layout('Connect', resultCard('error', 'Not set up yet', FAILURE_TEXT.not_configured) + '<p><a href="/admin">Back</a></p>'), 400)
    }
    const state = await signState(config.ADMIN_TOKEN!, Date.now())
    const url = authorizeUrl({ authorizeUrl: config.INSTAGRAM_AUTHORIZE_URL, appId: config.INSTAGRAM_APP_ID, redirectUri: redirectUri(c), state, scopes: scopesFor({ comments: commentsConfigured(config) }) })
    return c.body(null, 302, { location: url, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
  })

  app.get('/admin/oauth/callback', async (c) => {
    const config = settings(c)
    if (!config) return c.text('Not Found', 404)
    const log = c.get('log')
    const query = new URL(c.req.url).searchParams
    const back = '<p><a class="btn" href="/admin">Open the operator page</a></p>'
    const failed = (reason: keyof typeof FAILURE_TEXT, status: 400 | 403 | 502, step = 'callback') => {
      log.warn('oauth_connect', { outcome: 'failed', step, reason })
      return html(c, layout('Connect failed', `<h1>Instagram account not connected</h1>${resultCard('error', 'Nothing was changed.', FAILURE_TEXT[reason])}${back}`), status)
    }
    // The state is checked first, also for a denial: otherwise any site could show this page.
    const state = await verifyState(config.ADMIN_TOKEN!, query.get('state'), Date.now())
    if (!state.ok) return failed(state.reason === 'expired' ? 'state_expired' : 'state_invalid', 403)
    const cb = parseCallback(query)
    if (!cb.ok) return failed(cb.reason, 400)
    if (!config.INSTAGRAM_APP_ID || !config.INSTAGRAM_APP_SECRET) return failed('not_configured', 400)
    const fields = webhookFieldsFor({ comments: commentsConfigured(config) })
    const result = await connectAccount(
      {
        fetch: (input, init) => fetch(input, init),
        now: () => Date.now(),
        appId: config.INSTAGRAM_APP_ID,
        appSecret: config.INSTAGRAM_APP_SECRET,
        redirectUri: redirectUri(c),
        tokenUrl: config.INSTAGRAM_TOKEN_URL,
        graphBase: config.GRAPH_API_BASE,
        version: config.GRAPH_API_VERSION,
        fields,
      },
      cb.code
    )
    if (!result.ok) return failed(result.failure, 502, result.step)
    const acct = result.account
    await c.env.ACCOUNT.getByName(acct.userId).storeConnection(acct)
    await c.env.ACCOUNT.getByName(config.IG_ACCOUNT_ID).registerConnection(acct.userId, acct.username)
    forgetCachedToken(config.IG_ACCOUNT_ID)
    log.info('oauth_connect', { outcome: 'connected', fields: fields.length })
    const mismatch = accountMismatch(config.IG_ACCOUNT_ID, acct)
    return html(
      c,
      layout(
        'Connected',
        `<h1>Instagram account connected</h1>${resultCard('success', `Connected @${acct.username}`, `Webhooks subscribed: ${acct.fields.join(', ')}. Replies to this account's DMs now use its own token, refreshed automatically before its 60 days run out.`)}${mismatch ? resultCard('error', 'Settings disagree', mismatch) : ''}${back}`
      )
    )
  })

  // A conversation's state, and resuming the bot after a pause (the sandbox inbox page uses these).
  const conversation = async (c: Context<OperatorEnv>) => {
    const config = settings(c)
    if (!config) return { error: c.text('Not Found', 404) }
    if (!(await signedIn(c, config))) return { error: c.text('Unauthorized', 401) }
    const q = new URL(c.req.url).searchParams
    const account = q.get('account') ?? config.IG_ACCOUNT_ID
    const user = q.get('user') ?? ''
    if (!/^\d{1,32}$/.test(account) || !/^\d{1,32}$/.test(user)) return { error: c.text('Bad Request', 400) }
    return { stub: c.env.SENDER.getByName(senderObjectName(account, user)) }
  }
  app.get('/admin/api/conversation', async (c) => {
    const r = await conversation(c)
    return r.error ?? c.json(await r.stub!.conversationState(), 200, { 'cache-control': 'no-store' })
  })
  app.post('/admin/api/conversation/resume', async (c) => {
    if (!sameOrigin(c)) return c.text('Forbidden', 403)
    const r = await conversation(c)
    if (r.error) return r.error
    c.get('log').info('operator_resume')
    return c.json(await r.stub!.resume(), 200, { 'cache-control': 'no-store' })
  })

  return app
}
