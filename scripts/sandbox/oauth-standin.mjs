/**
 * Instagram Login (OAuth) as the Graph API stand-in plays it: the consent page
 * (GET /oauth/authorize, Allow or Cancel), the code exchange (POST /oauth/access_token), the
 * long-lived exchange (GET /access_token), and GET/POST /:version/me/subscribed_apps. Codes are
 * single use and expire after an hour, the redirect URI must match, errors have Meta's shapes.
 */
import { randomBytes } from 'node:crypto'

const CODE_TTL_MS = 60 * 60_000
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:15px/1.5 system-ui,sans-serif;background:#fafafa;margin:0}main{max-width:420px;margin:60px auto;background:#fff;border:1px solid #dbdbdb;border-radius:12px;padding:28px;text-align:center}
.logo{font:600 26px cursive;margin-bottom:6px}.muted{color:#737373;font-size:13px}ul{text-align:left}.btn{display:block;margin:10px 0;padding:10px;border-radius:8px;text-decoration:none;font-weight:600}
.allow{background:#0095f6;color:#fff}.cancel{background:#efefef;color:#262626}.tag{display:inline-block;background:#fff4e5;border:1px solid #f5c07a;border-radius:6px;padding:2px 8px;font-size:12px;margin-bottom:12px}
</style></head><body><main>${body}</main></body></html>`
}

/** Options: { appId, appSecret, tokens (Set the Send API accepts) }. */
export function createOAuthStandin(opts) {
  const codes = new Map()
  const issued = { short: [], long: [] }
  const subscriptions = []
  let counter = 0

  const oauthError = (status, message) => ({ status, body: { error_type: 'OAuthException', code: status, error_message: message } })
  const graphError = (status, message, code) => ({ status, body: { error: { message, type: 'OAuthException', code, fbtrace_id: 'Asandbox' } } })

  function authorize(url) {
    const q = url.searchParams
    if (q.get('client_id') !== opts.appId) return { status: 400, html: page('Error', '<div class="logo">Instagram</div><p><b>Invalid Request:</b> Invalid platform app</p>') }
    let redirect
    try {
      redirect = new URL(q.get('redirect_uri') ?? '')
    } catch {
      return { status: 400, html: page('Error', '<div class="logo">Instagram</div><p><b>Invalid Request:</b> invalid redirect_uri</p>') }
    }
    const state = q.get('state') ?? ''
    if (q.get('decision') === 'allow') {
      const code = `AQsandbox${randomBytes(12).toString('hex')}`
      codes.set(code, { redirectUri: redirect.toString(), scope: q.get('scope') ?? '', at: Date.now(), used: false })
      redirect.searchParams.set('code', code)
      redirect.searchParams.set('state', state)
      return { status: 302, redirect: `${redirect}#_` }
    }
    if (q.get('decision') === 'deny') {
      redirect.searchParams.set('error', 'access_denied')
      redirect.searchParams.set('error_reason', 'user_denied')
      redirect.searchParams.set('error_description', 'The user denied your request.')
      redirect.searchParams.set('state', state)
      return { status: 302, redirect: redirect.toString() }
    }
    const allow = new URL(url)
    allow.searchParams.set('decision', 'allow')
    const deny = new URL(url)
    deny.searchParams.set('decision', 'deny')
    const scopes = (q.get('scope') ?? '').split(',').filter(Boolean)
    return {
      status: 200,
      html: page(
        'Allow access · sandbox',
        `<div class="tag">Sandbox stand-in for instagram.com</div><div class="logo">Instagram</div>
<p><b>Instagram DM bot</b> would like to access <b>@sandbox_shop</b></p><ul>${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<a class="btn allow" id="allow" href="${esc(allow.pathname + allow.search)}">Allow</a><a class="btn cancel" id="deny" href="${esc(deny.pathname + deny.search)}">Cancel</a>
<p class="muted">After your choice you return to ${esc(redirect.origin)}</p>`
      ),
    }
  }

  function exchange(form) {
    if (form.get('client_id') !== opts.appId) return oauthError(400, 'Invalid platform app')
    if (form.get('client_secret') !== opts.appSecret) return oauthError(400, 'Error validating client secret.')
    if (form.get('grant_type') !== 'authorization_code') return oauthError(400, 'Unsupported grant_type')
    const entry = codes.get(form.get('code') ?? '')
    if (!entry) return oauthError(400, 'Invalid authorization code')
    if (entry.redirectUri !== form.get('redirect_uri')) {
      return oauthError(400, 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request')
    }
    if (entry.used) return oauthError(400, 'This authorization code has been used')
    if (Date.now() - entry.at > CODE_TTL_MS) return oauthError(400, 'This authorization code has expired')
    entry.used = true
    const token = `IGsandbox-short-${++counter}`
    issued.short.push(token)
    // Like Meta: user_id is a JSON number here (a safe one in the sandbox).
    return { status: 200, body: { access_token: token, user_id: 17841400000001, permissions: entry.scope } }
  }

  function longLived(url) {
    if (url.searchParams.get('grant_type') !== 'ig_exchange_token') return graphError(400, 'Unsupported grant_type', 100)
    if (url.searchParams.get('client_secret') !== opts.appSecret) return graphError(400, 'Error validating client secret.', 1)
    if (!issued.short.includes(url.searchParams.get('access_token') ?? '')) return graphError(400, 'Invalid OAuth access token - Cannot parse access token', 190)
    const token = `IGsandbox-long-${++counter}`
    issued.long.push(token)
    opts.tokens.add(token)
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: 5184000 } }
  }

  function bearer(req, url) {
    const m = /^Bearer\s+(.+)$/i.exec((req.headers.authorization ?? '').trim())
    return m ? m[1].trim() : url.searchParams.get('access_token') ?? ''
  }

  return {
    /** Answers an OAuth or subscription request, or returns null for other routes. */
    async handle(req, url, readBody, accountId) {
      if (url.pathname === '/oauth/authorize' && req.method === 'GET') return authorize(url)
      if (url.pathname === '/oauth/access_token' && req.method === 'POST') return exchange(new URLSearchParams(await readBody()))
      if (/^(\/v\d+\.\d+)?\/access_token$/.test(url.pathname) && req.method === 'GET') return longLived(url)
      if (/^\/v\d+\.\d+\/me\/subscribed_apps$/.test(url.pathname)) {
        if (!opts.tokens.has(bearer(req, url))) return graphError(400, 'Invalid OAuth access token - Cannot parse access token', 190)
        if (req.method === 'GET') {
          const last = subscriptions.at(-1)
          return { status: 200, body: { data: last ? [{ id: opts.appId, subscribed_fields: last.fields }] : [] } }
        }
        const fields = (url.searchParams.get('subscribed_fields') ?? '').split(',').filter(Boolean)
        if (!fields.length) return graphError(400, '(#100) The parameter subscribed_fields is required', 100)
        subscriptions.push({ at: Date.now(), accountId, fields })
        return { status: 200, body: { success: true } }
      }
      return null
    },
    snapshot() {
      return {
        codesIssued: codes.size,
        codesUsed: [...codes.values()].filter((c) => c.used).length,
        shortTokens: issued.short.length,
        longTokens: [...issued.long],
        subscriptions: subscriptions.map((s) => ({ ...s, fields: [...s.fields] })),
      }
    },
  }
}
