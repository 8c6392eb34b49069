/**
 * Lifecycle of the Instagram Login long-lived token (60 days, refreshable once at least 24 h
 * old): when to refresh, the refresh call, which token to send with, and health. Storage-agnostic:
 * the account Durable Object supplies a TokenStore. See ../shared/reference/meta-instagram.md §8.
 */
import type { Logger } from '../core/log'

export interface TokenRecord {
  token: string
  /** When this token was obtained; UNKNOWN_OBTAINED_AT for a configured token of unknown age. */
  obtainedAt: number
  expiresAt?: number
  invalid?: { at: number; reason: string }
  /** configured: IG_ACCESS_TOKEN; connected: obtained on the connect page; refreshed: by the cron. */
  source: 'refreshed' | 'configured' | 'connected'
}

export interface TokenStore {
  get(): Promise<TokenRecord | null>
  put(r: TokenRecord): Promise<void>
  /** Marks the stored record invalid; a no-op when nothing is stored. */
  markInvalid(reason: string, at: number): Promise<void>
}

export type TokenFlavour = 'instagram_login' | 'facebook_login'

export type RefreshOutcome = {
  outcome: 'refreshed' | 'not_due' | 'failed' | 'invalid' | 'skipped_page_token'
  reason?: string
}

export interface RefreshDeps {
  fetch: typeof fetch
  now(): number
  /** GRAPH_API_BASE of the Instagram Login host. */
  base?: string
  configuredToken: string
  store: TokenStore
  log: Logger
  timeoutMs?: number
  /** IG_ACCOUNT_ID: a refreshed token must belong to it ('me' or '': compared with the old token's /me). */
  accountId?: string
  /** GRAPH_API_VERSION, for the /me call that identifies a rotated token. */
  version?: string
}

/** A token pasted into IG_ACCESS_TOKEN may already be weeks old, so its age counts as unknown. */
export const UNKNOWN_OBTAINED_AT = 0
export const DEFAULT_INSTAGRAM_GRAPH_BASE = 'https://graph.instagram.com'
const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR
/** Meta refuses to refresh a token younger than this. */
export const MIN_REFRESH_AGE_MS = DAY
/**
 * Refresh once less than this is left. With a daily cron, a 60-day token is refreshed about
 * monthly and a Meta or Cloudflare outage has some thirty daily attempts before expiry.
 */
export const REFRESH_WHEN_EXPIRING_WITHIN_MS = 30 * DAY
/** /healthz turns degraded below this. */
export const DEGRADED_WITHIN_MS = 7 * DAY
const DEFAULT_TIMEOUT_MS = 10_000
/** Meta documents refreshed tokens as valid for 60 days; used when a response omits expires_in. */
const DOCUMENTED_LIFETIME_S = 60 * 24 * 3600

/** graph.facebook.com serves Page tokens (Facebook Login), which do not expire. */
export function flavour(graphApiBase: string): TokenFlavour {
  let host: string
  try {
    host = new URL(graphApiBase).hostname.toLowerCase()
  } catch {
    return 'instagram_login'
  }
  return host === 'facebook.com' || host.endsWith('.facebook.com') ? 'facebook_login' : 'instagram_login'
}

export function refreshDue(
  record: TokenRecord,
  now: number,
  kind: TokenFlavour = 'instagram_login'
): { due: boolean; reason: string } {
  if (kind === 'facebook_login') return { due: false, reason: 'page_token_does_not_expire' }
  if (record.invalid) return { due: false, reason: 'token_invalid' }
  if (record.obtainedAt !== UNKNOWN_OBTAINED_AT && now - record.obtainedAt < MIN_REFRESH_AGE_MS) {
    return { due: false, reason: 'younger_than_24h' }
  }
  // Unknown expiry (a configured token never refreshed here): refresh to learn it.
  if (record.expiresAt === undefined) return { due: true, reason: 'expiry_unknown' }
  // Meta says an expired token cannot be refreshed, but our expiry is an estimate: one try a day.
  if (record.expiresAt <= now) return { due: true, reason: 'past_expiry' }
  if (record.expiresAt - now <= REFRESH_WHEN_EXPIRING_WITHIN_MS) {
    return { due: true, reason: 'expires_within_30_days' }
  }
  return { due: false, reason: 'expires_in_more_than_30_days' }
}

/**
 * The record whose token should be used: the stored one unless it is invalid and the configured
 * token differs from it (the owner has installed a new token since). Otherwise the configured
 * token, of unknown age and expiry.
 */
export function effectiveRecord(stored: TokenRecord | null, configuredToken: string): TokenRecord {
  if (stored && (!stored.invalid || stored.token === configuredToken)) return stored
  return { token: configuredToken, obtainedAt: UNKNOWN_OBTAINED_AT, source: 'configured' }
}

/**
 * The token the Send API client should use now. When every known token is invalid this is
 * still the configured one: the send fails with 190 and /healthz already says why.
 */
export async function currentToken(store: TokenStore, configuredToken: string): Promise<string> {
  return effectiveRecord(await store.get(), configuredToken).token
}

/** True for a Graph API error body that means the token is expired or revoked (code 190). */
export function isInvalidTokenError(body: unknown): boolean {
  return graphError(body)?.code === 190
}

/**
 * Records that Meta rejected `token` (the token that request carried) with 190. The stored record
 * is marked only when it holds that very token; a token that is not stored may replace the record
 * only when it is the configured token, which is then the one in use (the stored one is missing or
 * already invalid). Anything else is stale: a send that raced a refresh cannot invalidate, or
 * overwrite, the refreshed token.
 */
export async function reportInvalidToken(
  store: TokenStore,
  token: string,
  reason: string,
  now: number,
  configuredToken: string
): Promise<'marked' | 'stale'> {
  if (!token) return 'stale'
  return withLock(store, async () => {
    const stored = await store.get()
    if (stored && stored.token === token) {
      if (!stored.invalid) await store.markInvalid(reason, now)
      return 'marked'
    }
    if (token !== configuredToken || (stored && !stored.invalid)) return 'stale'
    await store.put({ token, obtainedAt: UNKNOWN_OBTAINED_AT, source: 'configured', invalid: { at: now, reason } })
    return 'marked'
  })
}

/**
 * A send with `token` succeeded: if that token is stored as invalid, the mark was wrong (a proxy's
 * error page, a passing outage) and is cleared, so sends and the daily refresh go on with it.
 */
export async function clearInvalidToken(store: TokenStore, token: string): Promise<'cleared' | 'unchanged'> {
  if (!token) return 'unchanged'
  return withLock(store, async () => {
    const stored = await store.get()
    if (!stored || stored.token !== token || !stored.invalid) return 'unchanged'
    const { invalid: _invalid, ...valid } = stored
    await store.put(valid)
    return 'cleared'
  })
}

/**
 * Refreshes the Instagram Login token when due. Never throws for Meta or network failures; the
 * outcome says what happened and the log line says why. Calls on the same store object are
 * serialised, so a second concurrent call sees the first one's result and is not due.
 */
export function refreshToken(deps: RefreshDeps): Promise<RefreshOutcome> {
  return withLock(deps.store, () => refreshUnlocked(deps))
}

async function refreshUnlocked(deps: RefreshDeps): Promise<RefreshOutcome> {
  const { store, log } = deps
  const base = (deps.base ?? DEFAULT_INSTAGRAM_GRAPH_BASE).replace(/\/+$/, '')
  if (flavour(base) === 'facebook_login') {
    log.info('token_refresh', { outcome: 'skipped_page_token' })
    return { outcome: 'skipped_page_token' }
  }
  const started = deps.now()
  const stored = await store.get()
  const record = effectiveRecord(stored, deps.configuredToken)
  if (record.invalid) {
    log.warn('token_refresh', { outcome: 'invalid', reason: record.invalid.reason })
    return { outcome: 'invalid', reason: record.invalid.reason }
  }
  const due = refreshDue(record, started)
  if (!due.due) {
    log.info('token_refresh', { outcome: 'not_due', reason: due.reason })
    return { outcome: 'not_due', reason: due.reason }
  }

  const query = `grant_type=ig_refresh_token&access_token=${encodeURIComponent(record.token)}`
  const url = `${base}/refresh_access_token?${query}`
  let res: Response
  let text: string
  try {
    // GET only: Meta answers POST with "Unsupported request - method type".
    res = await deps.fetch(url, {
      method: 'GET',
      signal: AbortSignal.timeout(deps.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    })
    text = await res.text()
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
    const reason = timedOut ? 'timeout' : 'network'
    log.warn('token_refresh', {
      outcome: 'failed',
      reason,
      due: due.reason,
      url: redactUrl(url),
      error: err instanceof Error ? err.name : 'unknown',
      message: err instanceof Error ? scrub(err.message, record.token).slice(0, 200) : undefined,
    })
    return { outcome: 'failed', reason }
  }

  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  const error = graphError(body)
  if (!res.ok || error) {
    const fields = {
      status: res.status,
      code: error?.code,
      subcode: error?.subcode,
      type: error?.type,
      fbtrace_id: error?.fbtrace_id,
      due: due.reason,
      url: redactUrl(url),
    }
    if (error?.code === 190) {
      const reason = `graph_190${error.subcode !== undefined ? `_${error.subcode}` : ''}`
      if (record.obtainedAt === UNKNOWN_OBTAINED_AT) {
        // A configured token may simply be younger than 24 h, and Meta's error for that is not
        // documented; sends report a truly dead token themselves (reportInvalidToken).
        log.warn('token_refresh', { outcome: 'failed', reason: 'rejected_age_unknown', ...fields })
        return { outcome: 'failed', reason: 'rejected_age_unknown' }
      }
      await reportInvalidTokenUnlocked(store, stored, record.token, reason, deps.now())
      log.error('token_refresh', { outcome: 'invalid', reason, ...fields })
      return { outcome: 'invalid', reason }
    }
    const reason = error ? `graph_error_${error.code ?? 'unknown'}` : `http_${res.status}`
    log.warn('token_refresh', { outcome: 'failed', reason, ...fields })
    return { outcome: 'failed', reason }
  }

  const fresh = parseRefreshResponse(body)
  if (!fresh) {
    log.warn('token_refresh', { outcome: 'failed', reason: 'bad_response', status: res.status, due: due.reason })
    return { outcome: 'failed', reason: 'bad_response' }
  }
  // A token for another account would send this account's replies as someone else (a misrouted
  // or tampered answer): a new token, or any answer naming an account, must name ours.
  if (fresh.token !== record.token || fresh.accountId !== undefined) {
    const mismatch = await otherAccount(deps, base, record.token, fresh)
    if (mismatch) {
      log.error('token_refresh', { outcome: 'failed', reason: mismatch, status: res.status, due: due.reason })
      return { outcome: 'failed', reason: mismatch }
    }
  }
  // A rotated token must not be lost for want of an expiry: assume Meta's documented 60 days.
  const expiresInSeconds = fresh.expiresInSeconds ?? DOCUMENTED_LIFETIME_S
  // Expiry counts from before the request and age from after it: both err on the safe side.
  await store.put({
    token: fresh.token,
    obtainedAt: deps.now(),
    expiresAt: started + expiresInSeconds * 1000,
    source: 'refreshed',
  })
  log.info('token_refresh', {
    outcome: 'refreshed',
    due: due.reason,
    expires_in_days: Math.floor((expiresInSeconds * 1000) / DAY),
    ...(fresh.expiresInSeconds === undefined ? { expires_in_assumed: true } : {}),
    token_changed: fresh.token !== record.token,
  })
  return { outcome: 'refreshed' }
}

/**
 * Null when the refreshed token belongs to the configured account, else why not. The expected id
 * is IG_ACCOUNT_ID when it is numeric, otherwise what /me says for the old token; the new token's
 * id is what the refresh answer names, otherwise what /me says for it.
 */
async function otherAccount(
  deps: RefreshDeps,
  base: string,
  oldToken: string,
  fresh: { token: string; accountId?: string }
): Promise<'other_account' | 'account_unverified' | null> {
  const configured = (deps.accountId ?? '').trim()
  const expected = /^\d{1,32}$/.test(configured) ? configured : await accountOf(deps, base, oldToken)
  const actual = fresh.accountId ?? (await accountOf(deps, base, fresh.token))
  if (expected === undefined || actual === undefined) return 'account_unverified'
  return expected === actual ? null : 'other_account'
}

/** The Instagram account id a token belongs to (GET /me), or undefined when Meta does not say. */
async function accountOf(deps: RefreshDeps, base: string, token: string): Promise<string | undefined> {
  const version = deps.version ? `/${encodeURIComponent(deps.version)}` : ''
  try {
    const res = await deps.fetch(`${base}${version}/me?fields=user_id`, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(deps.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    })
    if (!res.ok) return undefined
    const body = (await res.json()) as Record<string, unknown>
    return accountIdOf(body.user_id) ?? accountIdOf(body.id)
  } catch {
    return undefined
  }
}

function accountIdOf(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return String(v)
  return typeof v === 'string' && /^\d{1,32}$/.test(v) ? v : undefined
}

async function reportInvalidTokenUnlocked(
  store: TokenStore,
  stored: TokenRecord | null,
  token: string,
  reason: string,
  now: number
): Promise<void> {
  if (stored && stored.token === token) await store.markInvalid(reason, now)
  else {
    await store.put({ token, obtainedAt: UNKNOWN_OBTAINED_AT, source: 'configured', invalid: { at: now, reason } })
  }
}

function parseRefreshResponse(body: unknown): { token: string; expiresInSeconds?: number; accountId?: string } | null {
  if (typeof body !== 'object' || body === null) return null
  const { access_token, expires_in, user_id } = body as Record<string, unknown>
  if (typeof access_token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(access_token)) return null
  const seconds = typeof expires_in === 'string' && /^\d+$/.test(expires_in) ? Number(expires_in) : expires_in
  const usable = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0
  // A user_id that is present but not an id is not trusted either way: the /me check decides.
  const accountId = accountIdOf(user_id)
  return { token: access_token, ...(usable ? { expiresInSeconds: seconds } : {}), ...(accountId ? { accountId } : {}) }
}

interface GraphError {
  code?: number
  subcode?: number
  type?: string
  fbtrace_id?: string
}

function graphError(body: unknown): GraphError | null {
  if (typeof body !== 'object' || body === null) return null
  const error = (body as { error?: unknown }).error
  if (typeof error !== 'object' || error === null) return null
  const e = error as Record<string, unknown>
  const num = (v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) return v
    return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined
  }
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 64) : undefined)
  return { code: num(e.code), subcode: num(e.error_subcode), type: str(e.type), fbtrace_id: str(e.fbtrace_id) }
}

/** A URL safe to log: the value of any access_token (or client_secret) parameter is replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|client_secret|fb_exchange_token)=)[^&#]*/gi, '$1REDACTED')
}

function scrub(message: string, token: string): string {
  const redacted = redactUrl(message)
  if (!token) return redacted
  return redacted.split(token).join('REDACTED').split(encodeURIComponent(token)).join('REDACTED')
}

export function tokenHealth(
  record: TokenRecord | null,
  kind: TokenFlavour,
  now: number
): { days_until_expiry: number | null; degraded_reasons: string[] } {
  const degraded: string[] = []
  // Page tokens do not expire but can still be revoked, so invalid counts for both flavours.
  if (record?.invalid) degraded.push('token_invalid')
  if (kind === 'facebook_login' || record?.expiresAt === undefined) {
    return { days_until_expiry: null, degraded_reasons: degraded }
  }
  const left = record.expiresAt - now
  if (left <= 0) degraded.push('token_expired')
  else if (left < DEGRADED_WITHIN_MS) degraded.push('token_expires_within_7_days')
  return { days_until_expiry: Math.max(0, Math.floor(left / DAY)), degraded_reasons: degraded }
}

const locks = new WeakMap<TokenStore, Promise<unknown>>()

/** Serialises work per store object within an isolate (the account Durable Object's). */
function withLock<T>(store: TokenStore, work: () => Promise<T>): Promise<T> {
  const previous = locks.get(store) ?? Promise.resolve()
  const run = previous.then(work, work)
  const settled = run.then(
    () => undefined,
    () => undefined
  )
  locks.set(store, settled)
  void settled.then(() => {
    if (locks.get(store) === settled) locks.delete(store)
  })
  return run
}
