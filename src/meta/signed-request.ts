/**
 * Meta `signed_request` (data-deletion and deauthorize callbacks): `<base64url sig>.<base64url
 * payload>`, the signature an HMAC-SHA256 of the still-encoded payload keyed with the app secret.
 * Structure is checked before any crypto, claims only after the signature. See
 * ../shared/reference/meta-instagram.md §9.
 */

import { hmacKey } from '../core/hmac'

export type SignedRequestPayload = {
  user_id: string
  algorithm: 'HMAC-SHA256'
  issued_at: number
  [k: string]: unknown
}

export type SignedRequestFailure =
  | 'malformed'
  | 'bad_signature'
  | 'bad_algorithm'
  | 'expired'
  | 'future'
  | 'no_user'

export type SignedRequestResult =
  | { ok: true; payload: SignedRequestPayload }
  | { ok: false; reason: SignedRequestFailure }

export interface SignedRequestOptions {
  /** Current time in milliseconds. */
  now: number
  /**
   * Oldest acceptable `issued_at`. Meta posts the callback when the user acts and documents no
   * delayed redelivery, so an hour covers queueing and clock drift while bounding how long a
   * leaked request can be replayed (a replayed deauthorize would stop the bot again).
   */
  maxAgeSeconds?: number
  /** How far `issued_at` may lie in the future before it is treated as forged or mis-clocked. */
  maxFutureSkewSeconds?: number
}

export const DEFAULT_MAX_AGE_SECONDS = 3600
export const DEFAULT_MAX_FUTURE_SKEW_SECONDS = 300
/** Real requests are a few hundred bytes; the cap keeps decoding and hashing cheap. */
export const MAX_SIGNED_REQUEST_CHARS = 8192

const BASE64URL = /^[A-Za-z0-9_-]+$/
const encoder = new TextEncoder()
/**
 * Strict RFC 7515 §2 base64url: no padding, no `+`/`/`, and the unused low bits of the last
 * character must be zero, so every byte string has exactly one accepted encoding.
 */
export function decodeBase64Url(text: string): Uint8Array | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4)
  let binary: string
  try {
    binary = atob(padded)
  } catch {
    return null
  }
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return encodeBase64Url(bytes) === text ? bytes : null
}

export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * Verifies and decodes a `signed_request` made with any of `secrets` (Instagram Login apps may
 * sign with the Instagram app secret, and a previous secret stays valid during rotation). An
 * empty secret list is a programming error and throws, so a missing secret never means "skip".
 */
export async function parseSignedRequest(
  signedRequest: string,
  secrets: readonly string[],
  opts: SignedRequestOptions
): Promise<SignedRequestResult> {
  const usable = secrets.filter((s) => s.length > 0)
  if (usable.length === 0) throw new TypeError('parseSignedRequest: no app secret configured')
  if (typeof signedRequest !== 'string' || signedRequest.length > MAX_SIGNED_REQUEST_CHARS) {
    return { ok: false, reason: 'malformed' }
  }
  const parts = signedRequest.split('.')
  if (parts.length !== 2) return { ok: false, reason: 'malformed' }
  const [encodedSig, encodedPayload] = parts as [string, string]
  const sig = decodeBase64Url(encodedSig)
  const payloadBytes = decodeBase64Url(encodedPayload)
  if (!sig || !payloadBytes) return { ok: false, reason: 'malformed' }

  // The MAC covers the encoded text exactly as received, as in Meta's PHP sample.
  const signed = encoder.encode(encodedPayload)
  let valid = false
  // Every secret is tried, so timing does not reveal which one matched.
  for (const secret of usable) {
    const match = await crypto.subtle.verify('HMAC', await hmacKey(secret), sig, signed)
    valid = valid || match
  }
  if (!valid) return { ok: false, reason: 'bad_signature' }

  let claims: unknown
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(payloadBytes))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    return { ok: false, reason: 'malformed' }
  }
  const record = claims as Record<string, unknown>

  // Meta's sample upper-cases before comparing; the MAC was already checked as HMAC-SHA256.
  if (typeof record.algorithm !== 'string' || record.algorithm.toUpperCase() !== 'HMAC-SHA256') {
    return { ok: false, reason: 'bad_algorithm' }
  }

  const issuedAt = record.issued_at
  if (typeof issuedAt !== 'number' || !Number.isFinite(issuedAt) || issuedAt <= 0) {
    return { ok: false, reason: 'malformed' }
  }
  const nowSeconds = opts.now / 1000
  if (issuedAt - nowSeconds > (opts.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS)) {
    return { ok: false, reason: 'future' }
  }
  if (nowSeconds - issuedAt > (opts.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS)) {
    return { ok: false, reason: 'expired' }
  }

  const userId = normaliseUserId(record.user_id)
  if (userId === null) return { ok: false, reason: 'no_user' }

  return { ok: true, payload: { ...record, algorithm: 'HMAC-SHA256', issued_at: issuedAt, user_id: userId } }
}

/**
 * App-scoped ids are digit strings. A JSON number is accepted only while it is exact: a
 * 17-digit id parsed as a double can silently become another user's id.
 */
function normaliseUserId(value: unknown): string | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? String(value) : null
  if (typeof value !== 'string') return null
  const id = value.trim()
  return id.length > 0 && id.length <= 128 && !/[\u0000-\u001f\u007f]/.test(id) ? id : null
}

/** Builds the `signed_request` Meta would post for `payload`. For tests and the simulator. */
export async function signSignedRequest(payload: unknown, secret: string): Promise<string> {
  const encodedPayload = encodeBase64Url(encoder.encode(JSON.stringify(payload)))
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(encodedPayload))
  return `${encodeBase64Url(new Uint8Array(mac))}.${encodedPayload}`
}
