/**
 * Meta webhook signatures: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw
 * request bytes keyed with the app secret. Meta signs the body exactly as it sends it (with
 * `\u00e4` and `\/` escapes), so the MAC must be computed over the received bytes, never over a
 * re-serialised object. See ../shared/reference/meta-instagram.md §2.
 */
import { hmacHex, hmacKey } from '../core/hmac'

export { toHex } from '../core/hmac'

const HEADER_PATTERN = /^sha256=([0-9a-fA-F]{64})$/
const encoder = new TextEncoder()

/** Decodes the hex digest of a well-formed header, or returns null for anything else. */
export function parseSignatureHeader(header: string | null | undefined): Uint8Array | null {
  if (!header) return null
  const match = HEADER_PATTERN.exec(header.trim())
  if (!match) return null
  const hex = match[1]!
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/**
 * True when `header` is a valid `sha256=` HMAC of `body` under any of `secrets` (the current
 * app secret first, then the previous one while it is being rotated). `crypto.subtle.verify`
 * compares in constant time. Mismatch returns false; an empty secret list is a programming
 * error and throws, so a missing secret can never turn into "verification skipped".
 */
export async function verifySignature(
  body: Uint8Array,
  header: string | null | undefined,
  secrets: readonly string[]
): Promise<boolean> {
  const usable = secrets.filter((s) => s.length > 0)
  if (usable.length === 0) throw new TypeError('verifySignature: no app secret configured')
  const digest = parseSignatureHeader(header)
  if (!digest) return false
  let ok = false
  // Every secret is tried, so timing does not reveal which one matched.
  for (const secret of usable) {
    const valid = await crypto.subtle.verify('HMAC', await hmacKey(secret), digest, body)
    ok = ok || valid
  }
  return ok
}

/** `sha256=<lowercase hex>` for `body`: what Meta would send. Used by tests and the simulator. */
export async function signBody(body: Uint8Array | string, secret: string): Promise<string> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body
  return `sha256=${await hmacHex(secret, bytes)}`
}
