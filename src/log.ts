/**
 * Structured logs: one JSON object per line, so Workers Logs and `wrangler tail --format json`
 * can filter on fields. Never pass message text, tokens or raw Instagram ids here; ids go through
 * `hashId` first.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error'
export type Fields = Record<string, string | number | boolean | null | undefined | string[] | number[]>

export interface Logger {
  debug(event: string, fields?: Fields): void
  info(event: string, fields?: Fields): void
  warn(event: string, fields?: Fields): void
  error(event: string, fields?: Fields): void
  child(fields: Fields): Logger
}

export function createLogger(base: Fields = {}): Logger {
  const emit = (level: Level, event: string, fields?: Fields) => {
    const line = JSON.stringify({ level, event, ...base, ...fields })
    if (level === 'error') console.error(line)
    else if (level === 'warn') console.warn(line)
    else console.log(line)
  }
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  }
}

const encoder = new TextEncoder()
const hashKeys = new Map<string, Promise<CryptoKey>>()

/**
 * A short keyed hash of an Instagram id for logs: stable within a deployment (so a sender's
 * lines can be correlated) but not reversible without the key, unlike a plain hash of a
 * 17-digit number, which can be brute-forced.
 */
export async function hashId(id: string, key: string): Promise<string> {
  let k = hashKeys.get(key)
  if (!k) {
    k = crypto.subtle.importKey(
      'raw',
      encoder.encode(`log-id:${key}`),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign']
    )
    hashKeys.set(key, k)
  }
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await k, encoder.encode(id)))
  let hex = ''
  for (let i = 0; i < 6; i++) hex += mac[i]!.toString(16).padStart(2, '0')
  return hex
}
