/**
 * Operator authentication: `Authorization: Bearer <token>` compared in constant time. A route
 * whose token is not configured is closed to everyone, so nothing is open by default.
 */
import { safeEqual } from '../core/compare'

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/

/** True only when `token` is configured and the header carries exactly it. */
export async function bearerMatches(header: string | undefined | null, token: string | undefined): Promise<boolean> {
  if (!token) return false
  const m = BEARER.exec(header ?? '')
  // Still compare on a malformed header, so its timing says nothing about the token.
  return (await safeEqual(m?.[1] ?? '', token)) && m !== null
}
