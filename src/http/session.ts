/**
 * The operator's browser session: after the login form, a cookie holding an expiry and an HMAC
 * of it under ADMIN_TOKEN. HttpOnly (no script reads it), Secure, SameSite=Strict (no other site
 * can make the browser send it, so a form elsewhere cannot act as the operator), Path=/admin.
 * Changing ADMIN_TOKEN signs everyone out.
 */
import { safeEqual } from '../core/compare'
import { hmacHex } from '../core/hmac'

export const SESSION_COOKIE = 'igbot_admin'
export const SESSION_TTL_MS = 12 * 60 * 60_000
const CONTEXT = 'admin-session'
const PATTERN = /^v1\.(\d{1,12})\.([0-9a-f]{32})$/

export async function signSession(secret: string, now: number, ttlMs = SESSION_TTL_MS): Promise<string> {
  const expires = Math.floor((now + ttlMs) / 1000)
  return `v1.${expires}.${await hmacHex(secret, `${CONTEXT}|v1|${expires}`, 16)}`
}

export async function sessionValid(secret: string | undefined, value: string | undefined, now: number): Promise<boolean> {
  if (!secret) return false
  const m = PATTERN.exec(value ?? '')
  if (!m) return false
  const ok = await safeEqual(m[2]!, await hmacHex(secret, `${CONTEXT}|v1|${m[1]}`, 16))
  return ok && Number(m[1]) * 1000 > now
}

export function sessionCookie(value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAgeSeconds}`
}

/** Reads one cookie from a Cookie header (the last one wins, as in browsers' ordering by path). */
export function readCookie(header: string | undefined | null, name: string): string | undefined {
  let found: string | undefined
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) found = part.slice(i + 1).trim()
  }
  return found
}
