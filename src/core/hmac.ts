/** HMAC-SHA256 keys, imported once per secret and isolate, and hex MACs built on them. */

const encoder = new TextEncoder()
const keyCache = new Map<string, Promise<CryptoKey>>()

export function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret)
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ])
    // A failed import must not poison the cache for the life of the isolate.
    key.catch(() => keyCache.delete(secret))
    keyCache.set(secret, key)
  }
  return key
}

export function toHex(bytes: Uint8Array): string {
  let hex = ''
  for (const b of bytes) hex += b.toString(16).padStart(2, '0')
  return hex
}

/** The first `bytes` bytes of HMAC-SHA256(secret, message), as lowercase hex. */
export async function hmacHex(secret: string, message: string | Uint8Array, bytes = 32): Promise<string> {
  const data = typeof message === 'string' ? encoder.encode(message) : message
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), data))
  return toHex(mac.subarray(0, bytes))
}
