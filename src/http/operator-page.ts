/**
 * The operator page's HTML: the login form, the at-a-glance overview with the Connect button,
 * and the result of a connection attempt. Every value is escaped; the page runs no script.
 */
import type { AccountOverview } from '../conversation/account'

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#fafafa;color:#262626}
main{max-width:760px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:0 0 10px}
.card{background:#fff;border:1px solid #dbdbdb;border-radius:12px;padding:16px 18px;margin:14px 0}
.muted{color:#737373} .ok{color:#1a7f37} .bad{color:#b42318}
.warn{background:#fff4e5;border-color:#f5c07a}
.error{background:#fdecea;border-color:#f1a29b}
.success{background:#ecfdf3;border-color:#8fd6a8}
table{border-collapse:collapse;width:100%} td{padding:4px 0;vertical-align:top} td:first-child{color:#737373;width:42%}
.nums{display:flex;gap:10px;flex-wrap:wrap} .num{flex:1;min-width:110px;border:1px solid #efefef;border-radius:10px;padding:8px 10px}
.num b{display:block;font-size:22px}
.btn{display:inline-block;background:#0095f6;color:#fff;border:0;border-radius:8px;padding:9px 16px;font-weight:600;text-decoration:none;font-size:14px;cursor:pointer}
.btn.secondary{background:#efefef;color:#262626}
code{background:#f3f3f3;padding:1px 5px;border-radius:4px;word-break:break-all}
input[type=password]{font:inherit;padding:8px;border:1px solid #dbdbdb;border-radius:8px;width:100%;box-sizing:border-box;margin:8px 0}
`

export function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${esc(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`
}

export function loginPage(opts: { failed?: boolean } = {}): string {
  return layout(
    'Sign in · Instagram DM bot',
    `<h1>Instagram DM bot</h1><p class="muted">Operator page. Sign in with the ADMIN_TOKEN you set for this Worker.</p>
<div class="card${opts.failed ? ' error' : ''}">${opts.failed ? '<p class="bad"><b>That token is not right.</b> Try again.</p>' : ''}
<form method="post" action="/admin/login"><label for="token">Admin token</label><input id="token" name="token" type="password" autocomplete="current-password" required><button class="btn" type="submit">Sign in</button></form></div>`
  )
}

function when(ms: number | null | undefined, now: number): string {
  if (!ms) return '<span class="muted">never</span>'
  const ago = Math.max(0, Math.round((now - ms) / 60_000))
  const rel = ago < 1 ? 'just now' : ago < 120 ? `${ago} min ago` : `${Math.round(ago / 60)} h ago`
  return `${esc(new Date(ms).toISOString().replace('T', ' ').slice(0, 16))} UTC <span class="muted">(${rel})</span>`
}

function tokenLine(o: AccountOverview, now: number): string {
  const source = o.tokenSource === 'connected' ? 'from the Connect button' : o.tokenSource === 'refreshed' ? 'refreshed by the daily cron' : 'IG_ACCESS_TOKEN setting'
  if (o.deauthorized) return '<span class="bad">Removed: the account owner removed the app. Connect again.</span>'
  if (o.tokenInvalid) return `<span class="bad">Invalid (Instagram rejected it). Connect again.</span> <span class="muted">${esc(source)}</span>`
  if (o.token.flavour === 'facebook_login') return `Page token (does not expire) <span class="muted">${esc(source)}</span>`
  const exp = o.tokenExpiresAt
  if (!exp) return `Expiry not known yet <span class="muted">(${esc(source)}; the daily refresh will learn it)</span>`
  const days = Math.floor((exp - now) / 86_400_000)
  const cls = days < 7 ? 'bad' : 'ok'
  return `<span class="${cls}">Valid until ${esc(new Date(exp).toISOString().slice(0, 10))} (${days} days)</span> <span class="muted">${esc(source)}; refreshed automatically</span>`
}

export interface OverviewInput {
  overview: AccountOverview
  configuredAccountId: string
  origin: string
  canConnect: boolean
  mismatch: string | null
  now: number
  /** Shown once after a connection. */
  notice?: string
}

export function overviewPage(p: OverviewInput): string {
  const o = p.overview
  const c = o.connection
  const account = c
    ? `<b>@${esc(c.username)}</b> <span class="muted">(account id ${esc(c.userId)}, connected ${when(c.connectedAt, p.now)})</span>`
    : `<span class="muted">No account connected on this page.</span> ${o.tokenSource ? 'Replies use the IG_ACCESS_TOKEN setting.' : ''}`
  const fields = c ? c.fields.map((f) => `<code>${esc(f)}</code>`).join(' ') : '<span class="muted">not known: subscribed in the App Dashboard or by hand</span>'
  const t = o.today
  const connect = p.canConnect
    ? `<a class="btn" id="connect" href="/admin/connect">${c ? 'Reconnect Instagram account' : 'Connect Instagram account'}</a>`
    : '<p class="muted">To connect with one click, set <code>INSTAGRAM_APP_ID</code> and <code>INSTAGRAM_APP_SECRET</code> (App Dashboard → Instagram → API setup with Instagram Login).</p>'
  return layout(
    'Instagram DM bot',
    `<h1>Instagram DM bot</h1><p class="muted">Operator page · everything here is this Worker's total, not one instance's.</p>
${p.notice ?? ''}
${p.mismatch ? `<div class="card warn" id="mismatch"><b>Settings disagree.</b> ${esc(p.mismatch)}</div>` : ''}
<div class="card" id="account"><h2>Instagram account</h2><table>
<tr><td>Connected account</td><td>${account}</td></tr>
<tr><td>Access token</td><td>${tokenLine(o, p.now)}</td></tr>
<tr><td>Webhook fields subscribed</td><td id="fields">${fields}</td></tr>
<tr><td>Last message received</td><td>${when(o.lastReceivedAt, p.now)}</td></tr>
<tr><td>Last reply sent</td><td>${when(o.lastReplyAt, p.now)}</td></tr>
</table><p>${connect}</p></div>
<div class="card" id="today"><h2>Today (${esc(t.day)}, UTC)</h2><div class="nums">
<div class="num"><b>${t.answered}</b>DMs answered</div><div class="num"><b>${t.refused}</b>refused</div>
<div class="num"><b>${t.handed_off}</b>handed off to a person</div><div class="num"><b>${t.failed}</b>failed to send</div>
<div class="num"><b>${o.llmCallsToday} / ${o.budget}</b>LLM budget used</div></div>
<p class="muted">Numbers reach this page with the bot's next call to its account record, so the newest replies may show up to half a minute late.</p></div>
<div class="card"><h2>For the App Dashboard</h2><table>
<tr><td>OAuth redirect URI</td><td><code>${esc(p.origin)}/admin/oauth/callback</code></td></tr>
<tr><td>Webhook callback URL</td><td><code>${esc(p.origin)}/webhook</code></td></tr>
<tr><td>IG_ACCOUNT_ID setting</td><td><code>${esc(p.configuredAccountId)}</code></td></tr>
</table></div>
<form method="post" action="/admin/logout"><button class="btn secondary" type="submit">Sign out</button></form>`
  )
}

export function resultCard(kind: 'success' | 'error', title: string, text: string): string {
  return `<div class="card ${kind}" id="result"><b>${esc(title)}</b><br>${esc(text)}</div>`
}
