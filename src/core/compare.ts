/** Constant-time string comparison for shared secrets such as the webhook verify token. */

const encoder = new TextEncoder()

/**
 * Compares SHA-256 digests of both strings with `crypto.subtle.timingSafeEqual`, so neither the
 * content nor the length of the secret leaks through timing (timingSafeEqual itself throws on
 * buffers of different lengths; digests are always 32 bytes).
 */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ])
  return crypto.subtle.timingSafeEqual(da, db) && a.length === b.length
}
