/**
 * Business Login for Instagram (OAuth), the pure protocol parts: the authorize URL, a signed and
 * expiring `state`, the callback's query, and the requests and answers of the code exchange, the
 * long-lived exchange, `/me` and `/me/subscribed_apps`. No I/O here; `connect.ts` runs the flow
 * with an injected fetch. See meta-instagram.md §8.1 and §8.1b.
 */
import { safeEqual } from '../core/compare'
import { hmacHex } from '../core/hmac'

export const DEFAULT_AUTHORIZE_URL = 'https://www.instagram.com/oauth/authorize'
export const DEFAULT_TOKEN_URL = 'https://api.instagram.com/oauth/access_token'
export const MESSAGING_SCOPES = ['instagram_business_basic', 'instagram_business_manage_messages'] as const
export const COMMENTS_SCOPE = 'instagram_business_manage_comments'
/** The webhook fields a DM bot needs (messages carry echoes; seen, reactions and referrals too). */
export const MESSAGING_FIELDS = ['messages', 'messaging_postbacks', 'messaging_seen', 'message_reactions', 'messaging_referral'] as const
/** A consent screen left open longer than this needs a fresh start. */
export const STATE_TTL_MS = 15 * 60_000

export interface ConnectOptions {
  /** Comment automation is configured: ask for the comments permission and field too. */
  comments: boolean
}

export function scopesFor(opts: ConnectOptions): string[] {
  return opts.comments ? [...MESSAGING_SCOPES, COMMENTS_SCOPE] : [...MESSAGING_SCOPES]
}

export function webhookFieldsFor(opts: ConnectOptions): string[] {
  return opts.comments ? [...MESSAGING_FIELDS, 'comments'] : [...MESSAGING_FIELDS]
}

export function authorizeUrl(p: { authorizeUrl?: string; appId: string; redirectUri: string; state: string; scopes: string[] }): string {
  const url = new URL(p.authorizeUrl ?? DEFAULT_AUTHORIZE_URL)
  url.searchParams.set('client_id', p.appId)
  url.searchParams.set('redirect_uri', p.redirectUri)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('scope', p.scopes.join(','))
  url.searchParams.set('state', p.state)
  return url.toString()
}

// ---- state: v1.<expiry seconds>.<nonce>.<mac> -------------------------------------------------

const STATE_PATTERN = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{16,64})\.([0-9a-f]{32})$/
const STATE_CONTEXT = 'instagram-oauth-state'

function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** A `state` only this Worker can make: HMAC over its expiry and a random nonce. */
export async function signState(secret: string, now: number, opts: { ttlMs?: number; nonce?: string } = {}): Promise<string> {
  const expires = Math.floor((now + (opts.ttlMs ?? STATE_TTL_MS)) / 1000)
  const nonce = opts.nonce ?? randomNonce()
  const mac = await hmacHex(secret, `${STATE_CONTEXT}|v1|${expires}|${nonce}`, 16)
  return `v1.${expires}.${nonce}.${mac}`
}

export type StateCheck = { ok: true } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' }

/** Checks the MAC before the expiry, in constant time, so a forged state learns nothing. */
export async function verifyState(secret: string, state: string | null | undefined, now: number): Promise<StateCheck> {
  const m = STATE_PATTERN.exec(state ?? '')
  if (!m) return { ok: false, reason: 'malformed' }
  const [, expires, nonce, mac] = m
  const expected = await hmacHex(secret, `${STATE_CONTEXT}|v1|${expires}|${nonce}`, 16)
  if (!(await safeEqual(mac!, expected))) return { ok: false, reason: 'bad_signature' }
  if (Number(expires) * 1000 <= now) return { ok: false, reason: 'expired' }
  return { ok: true }
}

// ---- callback ---------------------------------------------------------------------------------

export type CallbackQuery =
  | { ok: true; code: string; state: string }
  | { ok: false; reason: 'denied' | 'provider_error' | 'missing_code' }

/** Reads `?code=&state=` or `?error=access_denied&error_reason=user_denied…`. */
export function parseCallback(query: URLSearchParams): CallbackQuery {
  const error = query.get('error')
  if (error !== null) {
    const denied = error === 'access_denied' || query.get('error_reason') === 'user_denied'
    return { ok: false, reason: denied ? 'denied' : 'provider_error' }
  }
  // Meta appends `#_` to the redirect; browsers keep fragments out of the query, but a pasted
  // URL may carry it into the code.
  const code = (query.get('code') ?? '').replace(/#_$/, '')
  const state = query.get('state') ?? ''
  if (!/^[\x21-\x7e]{1,2048}$/.test(code) || !state) return { ok: false, reason: 'missing_code' }
  return { ok: true, code, state }
}

// ---- requests and answers ---------------------------------------------------------------------

export interface HttpRequest {
  url: string
  init: RequestInit
}

export function codeExchangeRequest(p: { tokenUrl?: string; appId: string; appSecret: string; redirectUri: string; code: string }): HttpRequest {
  const body = new URLSearchParams({
    client_id: p.appId,
    client_secret: p.appSecret,
    grant_type: 'authorization_code',
    redirect_uri: p.redirectUri,
    code: p.code,
  })
  return {
    url: p.tokenUrl ?? DEFAULT_TOKEN_URL,
    init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() },
  }
}

/** GET only, like the refresh (Meta answers other methods with "Unsupported request"). */
export function longLivedRequest(p: { graphBase: string; appSecret: string; shortToken: string }): HttpRequest {
  const q = new URLSearchParams({ grant_type: 'ig_exchange_token', client_secret: p.appSecret, access_token: p.shortToken })
  return { url: `${p.graphBase.replace(/\/+$/, '')}/access_token?${q}`, init: { method: 'GET' } }
}

export function meRequest(p: { graphBase: string; version: string; token: string }): HttpRequest {
  return {
    url: `${p.graphBase.replace(/\/+$/, '')}/${p.version}/me?fields=user_id,username`,
    init: { method: 'GET', headers: { authorization: `Bearer ${p.token}` } },
  }
}

export function subscribeRequest(p: { graphBase: string; version: string; token: string; fields: string[] }): HttpRequest {
  const q = new URLSearchParams({ subscribed_fields: p.fields.join(',') })
  return {
    url: `${p.graphBase.replace(/\/+$/, '')}/${p.version}/me/subscribed_apps?${q}`,
    init: { method: 'POST', headers: { authorization: `Bearer ${p.token}` } },
  }
}

/** Why a step failed, in terms an operator can act on. */
export type OAuthFailure =
  | 'denied'
  | 'code_expired'
  | 'wrong_app_secret'
  | 'wrong_app_id'
  | 'redirect_mismatch'
  | 'token_invalid'
  | 'permission_missing'
  | 'rejected'
  | 'bad_response'
  | 'network'

export type Parsed<T> = { ok: true; value: T } | { ok: false; failure: OAuthFailure }

const TOKEN = /^[\x21-\x7e]{1,4096}$/
const ID = /^\d{1,32}$/

/** Both error shapes: Graph's `{error:{message,code}}` and the OAuth host's `{error_type,code,error_message}`. */
function errorOf(body: unknown): { message: string; code?: number } | null {
  if (typeof body !== 'object' || body === null) return null
  const b = body as Record<string, unknown>
  if (typeof b.error === 'object' && b.error !== null) {
    const e = b.error as Record<string, unknown>
    return { message: typeof e.message === 'string' ? e.message : '', code: typeof e.code === 'number' ? e.code : undefined }
  }
  if (typeof b.error_message === 'string' || typeof b.error_type === 'string') {
    return { message: typeof b.error_message === 'string' ? b.error_message : '', code: typeof b.code === 'number' ? b.code : undefined }
  }
  return null
}

/** Maps Meta's error texts to a failure; the text itself is never shown or logged. */
export function classifyError(status: number, body: unknown): OAuthFailure {
  const e = errorOf(body)
  const msg = e?.message ?? ''
  if (/redirect_uri/i.test(msg)) return 'redirect_mismatch'
  if (/\bcode\b/i.test(msg) && /expired|been used|invalid/i.test(msg)) return 'code_expired'
  if (/client[_ ]secret|app secret/i.test(msg)) return 'wrong_app_secret'
  if (/platform app|client_id|app id|invalid app/i.test(msg)) return 'wrong_app_id'
  if (e?.code === 190) return 'token_invalid'
  if (e?.code === 10 || (e?.code !== undefined && e.code >= 200 && e.code < 300) || /permission/i.test(msg)) return 'permission_missing'
  if (e || status >= 400) return 'rejected'
  return 'bad_response'
}

function fail<T>(status: number, body: unknown): Parsed<T> {
  return { ok: false, failure: classifyError(status, body) }
}

/** The code exchange answer: `{access_token, user_id, permissions}`, or the same wrapped in `data: [...]`. */
export function parseShortLivedToken(status: number, body: unknown): Parsed<{ token: string; userId: string | null; permissions: string[] }> {
  if (status >= 400 || errorOf(body)) return fail(status, body)
  let b = body as Record<string, unknown> | null
  if (b && Array.isArray(b.data)) b = (b.data[0] ?? null) as Record<string, unknown> | null
  if (!b || typeof b !== 'object') return { ok: false, failure: 'bad_response' }
  const token = b.access_token
  if (typeof token !== 'string' || !TOKEN.test(token)) return { ok: false, failure: 'bad_response' }
  // Meta sends this user_id as a JSON number, and real ids exceed 2^53, so JSON.parse may have
  // rounded it: only a string or a safe integer is kept. The account id comes from /me anyway.
  const raw = b.user_id
  const userId = typeof raw === 'string' && ID.test(raw) ? raw : typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0 ? String(raw) : null
  const perms = typeof b.permissions === 'string' ? b.permissions.split(',') : Array.isArray(b.permissions) ? b.permissions : []
  return { ok: true, value: { token, userId, permissions: perms.filter((p): p is string => typeof p === 'string').map((p) => p.trim()).filter(Boolean).slice(0, 20) } }
}

export function parseLongLivedToken(status: number, body: unknown): Parsed<{ token: string; expiresInSeconds: number }> {
  if (status >= 400 || errorOf(body)) return fail(status, body)
  const b = (body ?? {}) as Record<string, unknown>
  const seconds = typeof b.expires_in === 'string' && /^\d+$/.test(b.expires_in) ? Number(b.expires_in) : b.expires_in
  if (typeof b.access_token !== 'string' || !TOKEN.test(b.access_token) || typeof seconds !== 'number' || !(seconds > 0) || !Number.isFinite(seconds)) {
    return { ok: false, failure: 'bad_response' }
  }
  return { ok: true, value: { token: b.access_token, expiresInSeconds: seconds } }
}

/** `user_id` is the professional account id webhooks carry in `entry.id` (`id` is app-scoped). */
export function parseMe(status: number, body: unknown): Parsed<{ userId: string; username: string }> {
  if (status >= 400 || errorOf(body)) return fail(status, body)
  const b = (body ?? {}) as Record<string, unknown>
  const userId = typeof b.user_id === 'number' ? String(b.user_id) : b.user_id
  const username = b.username
  if (typeof userId !== 'string' || !ID.test(userId) || typeof username !== 'string' || !/^[A-Za-z0-9._]{1,30}$/.test(username)) {
    return { ok: false, failure: 'bad_response' }
  }
  return { ok: true, value: { userId, username } }
}

export function parseSubscribe(status: number, body: unknown): Parsed<true> {
  if (status >= 400 || errorOf(body)) return fail(status, body)
  return (body as { success?: unknown } | null)?.success === true ? { ok: true, value: true } : { ok: false, failure: 'bad_response' }
}

/** Plain words for the operator page. */
export const FAILURE_TEXT: Record<OAuthFailure | 'state_invalid' | 'state_expired' | 'provider_error' | 'missing_code' | 'not_configured', string> = {
  denied: 'Instagram says the permission request was declined. Nothing was changed. Click Connect again and choose Allow to connect the account.',
  code_expired: 'The one-time code from Instagram has expired or was already used. Nothing was changed. Click Connect again.',
  wrong_app_secret: 'Instagram did not accept the app secret. Check INSTAGRAM_APP_SECRET: it must be the Instagram app secret (App Dashboard → Instagram → API setup with Instagram Login), not the Meta app secret.',
  wrong_app_id: 'Instagram did not recognise the app. Check INSTAGRAM_APP_ID: it must be the Instagram app ID from the same page as the Instagram app secret.',
  redirect_mismatch: 'Instagram did not accept the return address. Add the callback URL shown on this page to the app\'s "Valid OAuth Redirect URIs" (Business login settings), exactly as shown.',
  token_invalid: 'Instagram rejected the new token. Nothing was changed. Click Connect again.',
  permission_missing: 'The app lacks a permission it needs (messaging or comments). Check the app\'s permissions, and that the account is a professional (business or creator) account. Nothing was changed.',
  rejected: 'Instagram refused the request. Nothing was changed. Click Connect again; if it keeps failing, check the app settings.',
  bad_response: 'Instagram answered with something unexpected. Nothing was changed. Try again in a minute.',
  network: 'Instagram could not be reached. Nothing was changed. Try again in a minute.',
  state_invalid: 'This sign-in link was not made by this Worker (or was altered). Nothing was changed. Start again from the Connect button.',
  state_expired: 'This sign-in link has expired. Nothing was changed. Start again from the Connect button.',
  provider_error: 'Instagram reported an error and sent no code. Nothing was changed. Click Connect again.',
  missing_code: 'Instagram sent no code back. Nothing was changed. Start again from the Connect button.',
  not_configured: 'Set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET (and ADMIN_TOKEN) to connect an account with Instagram Login.',
}
