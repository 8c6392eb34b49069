/**
 * GET /healthz. Anyone (an uptime monitor) gets the status and the version, with the HTTP code
 * saying whether DMs can be answered; the detail (budget, token expiry, counters, what to do) is
 * for the operator, behind `Authorization: Bearer <HEALTHZ_TOKEN>`. The account's state comes
 * from a per-isolate cache, so a flood of requests cannot load the account object.
 */
import type { Context } from 'hono'
import { bearerMatches } from './auth'
import { healthStatusCode } from './health-status'
import { readConfig } from '../core/config'
import { counterSnapshot } from '../core/metrics'
import { accountHealth } from '../conversation/health'
import { accountMismatch } from './operator'

/** What the operator should do about each degraded reason. */
export const ACTIONS: Record<string, string> = {
  misconfigured: 'Set the settings named in "missing" (wrangler secret put NAME, or .dev.vars locally); webhooks get 503 until then.',
  app_deauthorized:
    'The account owner removed the app. Connect the account again and store its new access token (npx wrangler secret put IG_ACCESS_TOKEN); replies resume with the first token that differs from the revoked one.',
  token_invalid: 'Meta rejected the access token (error 190). Generate a new long-lived token and store it: npx wrangler secret put IG_ACCESS_TOKEN.',
  token_expired: 'The access token has expired. Generate a new long-lived token and store it: npx wrangler secret put IG_ACCESS_TOKEN.',
  token_expires_within_7_days: 'The token expires within 7 days and the daily refresh has not renewed it: check the token_refresh log lines, or store a new token.',
  llm_budget_exhausted: 'The daily LLM budget is used up: senders get BUDGET_REPLY until 00:00 UTC. Raise LLM_DAILY_BUDGET if this is real traffic.',
  send_throttled:
    'Meta throttled the account (rate limit): no DM is sent until send_paused_until, then the waiting replies go out. If it keeps happening, the account is sending more than Meta allows.',
  no_account_connected: 'No Instagram account is connected and IG_ACCESS_TOKEN is not set: open /admin, sign in with ADMIN_TOKEN and click Connect Instagram account.',
  account_mismatch: 'IG_ACCOUNT_ID names another account than the one connected on /admin: set IG_ACCOUNT_ID to the connected account id (shown on /admin), or to me.',
  account_object_unreachable: 'The account Durable Object did not answer: check the Worker logs (wrangler tail) and the Durable Object bindings.',
}

/** HEALTHZ_TOKEN as set, even when some other setting is invalid (so the detail can say which). */
function healthzToken(env: object, invalid: string[] = []): string | undefined {
  const t = (env as { HEALTHZ_TOKEN?: unknown }).HEALTHZ_TOKEN
  return typeof t === 'string' && t.trim().length >= 24 && !invalid.includes('HEALTHZ_TOKEN') ? t.trim() : undefined
}

export async function healthz<E extends { Bindings: Env }>(c: Context<E>, version: string): Promise<Response> {
  c.header('Cache-Control', 'no-store')
  const cfg = readConfig(c.env)
  const detail = await bearerMatches(c.req.header('authorization'), cfg.ok ? cfg.config.HEALTHZ_TOKEN : healthzToken(c.env, cfg.invalid))
  if (!cfg.ok) {
    const degraded = ['misconfigured']
    const body = { status: 'misconfigured', version }
    if (!detail) return c.json(body, healthStatusCode(degraded))
    const missing = [...cfg.missing, ...cfg.invalid]
    return c.json({ ...body, missing, degraded, actions: [ACTIONS.misconfigured], counters: counterSnapshot() }, healthStatusCode(degraded))
  }
  const degraded: string[] = []
  const account = await accountHealth(c.env, cfg.config)
  if (account) {
    degraded.push(...account.token.degraded_reasons)
    if (account.budgetExhausted) degraded.push('llm_budget_exhausted')
    if (account.sendPausedUntil !== null && account.sendPausedUntil > Date.now()) degraded.push('send_throttled')
    // Deployed for the connect page and nothing connected yet: no token to send with.
    if (!cfg.config.IG_ACCESS_TOKEN && !account.connections.length) degraded.push('no_account_connected')
    if (account.connections.some((a) => accountMismatch(cfg.config.IG_ACCOUNT_ID, a))) degraded.push('account_mismatch')
  } else {
    degraded.push('account_object_unreachable')
  }
  const body = { status: degraded.length ? 'degraded' : 'ok', version }
  if (!detail) return c.json(body, healthStatusCode(degraded))
  return c.json(
    {
      ...body,
      missing: [],
      degraded,
      actions: degraded.map((r) => ACTIONS[r]).filter((a): a is string => a !== undefined),
      counters: counterSnapshot(),
      last_reply_at: account?.lastReplyAt ? new Date(account.lastReplyAt).toISOString() : null,
      send_failed_total: account?.sendFailed ?? null,
      send_paused_until: account?.sendPausedUntil ? new Date(account.sendPausedUntil).toISOString() : null,
      llm_budget: account ? { day: account.day, used: account.llmCallsToday, limit: account.budget, per_sender: cfg.config.LLM_DAILY_PER_SENDER } : null,
      token: account ? { ...account.token, invalid: account.tokenInvalid !== null, deauthorized: account.deauthorized } : null,
    },
    healthStatusCode(degraded)
  )
}
