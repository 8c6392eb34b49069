/**
 * What a failed Graph API call means (../shared/reference/meta-instagram.md §5): Meta's code
 * table classified into retryable, rate-limited and final categories, and the throttle hints
 * (Retry-After, X-Business-Use-Case-Usage, X-App-Usage) read into a pause. Pure: the Send API
 * client (graph.ts), the comment replies and the token refresh all classify through here.
 */
export type GraphErrorCategory =
  | 'transient'
  | 'rate_limited'
  | 'token_invalid'
  | 'outside_window'
  | 'user_unavailable'
  | 'bad_request'
  | 'permission'
  | 'policy'
  | 'unknown'

export interface GraphErrorInfo {
  status?: number
  code?: number
  subcode?: number
  type?: string
  isTransient?: boolean
  fbtraceId?: string
  /** Meta's own `error.message`, shortened; it names the problem, never the recipient's text. */
  metaMessage?: string
  networkError?: boolean
  /** How long Meta asks us to stay away (Retry-After, or usage headers), for rate limits. */
  retryAfterMs?: number
  retryable: boolean
  category: GraphErrorCategory
}

export const META_MESSAGE_MAX = 300

/** A failed Send API call, classified. The message never contains the access token. */
export class GraphError extends Error {
  override readonly name = 'GraphError'
  readonly status?: number
  readonly code?: number
  readonly subcode?: number
  readonly type?: string
  readonly isTransient?: boolean
  readonly fbtraceId?: string
  readonly networkError?: boolean
  readonly retryAfterMs?: number
  readonly retryable: boolean
  readonly category: GraphErrorCategory

  constructor(info: GraphErrorInfo, options?: { cause?: unknown }) {
    super(describe(info), options)
    if (info.status !== undefined) this.status = info.status
    if (info.code !== undefined) this.code = info.code
    if (info.subcode !== undefined) this.subcode = info.subcode
    if (info.type !== undefined) this.type = info.type
    if (info.isTransient !== undefined) this.isTransient = info.isTransient
    if (info.fbtraceId !== undefined) this.fbtraceId = info.fbtraceId
    if (info.networkError) this.networkError = true
    if (info.retryAfterMs !== undefined) this.retryAfterMs = info.retryAfterMs
    this.retryable = info.retryable
    this.category = info.category
  }
}

function describe(info: GraphErrorInfo): string {
  const where: string[] = []
  if (info.status !== undefined) where.push(`HTTP ${info.status}`)
  if (info.code !== undefined) {
    where.push(`code ${info.code}${info.subcode !== undefined ? `/${info.subcode}` : ''}`)
  }
  if (info.networkError) where.push('network error')
  const head = `Send API ${info.category}${where.length ? ` (${where.join(', ')})` : ''}`
  return info.metaMessage ? `${head}: ${info.metaMessage}` : head
}

const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v)
    ? v
    : typeof v === 'string' && /^\d{1,12}$/.test(v)
      ? Number(v)
      : undefined

// Codes Meta documents as "wait and retry" (§5): downtime (1, 2, 1200) and throttling.
const TRANSIENT_CODES = new Set([1, 2, 1200])
const RATE_LIMIT_CODES = new Set([4, 17, 32, 341, 613])
// Business use case rate limits (80001 Page, 80002 Instagram, 80006 Messenger, …): the 800xx range.
const isBusinessRateLimit = (code: number) => code >= 80000 && code <= 80099
const OUTSIDE_WINDOW_SUBCODES = new Set([2534022, 2018278])
// 1/1357046: "The messages are all sent successfully, but the endpoint returns an error" (§5).
// Retrying would send the DM twice, so it is final.
const SENT_BUT_ERRORED = 1357046

/**
 * Classifies a Send API failure. Meta's error code decides when there is one, because it is more
 * specific than the HTTP status (Meta returns code 10/2534022 with 400 and with 403, code 2 with
 * 500); final codes win over `is_transient`. Without a code, the HTTP status decides: 429, 5xx
 * and a bare 401 are retryable, other statuses are final.
 */
export function classifyGraphError(
  status: number | undefined,
  body: unknown,
  networkError = false
): GraphErrorInfo {
  const info: Omit<GraphErrorInfo, 'retryable' | 'category'> = {}
  if (status !== undefined) info.status = status
  if (networkError) {
    return { ...info, networkError: true, retryable: true, category: 'transient' }
  }
  const err = body && typeof body === 'object' ? (body as { error?: unknown }).error : undefined
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>
    const code = int(e.code)
    const subcode = int(e.error_subcode)
    if (code !== undefined) info.code = code
    if (subcode !== undefined) info.subcode = subcode
    if (typeof e.type === 'string') info.type = e.type.slice(0, 64)
    if (typeof e.is_transient === 'boolean') info.isTransient = e.is_transient
    if (typeof e.fbtrace_id === 'string') info.fbtraceId = e.fbtrace_id.slice(0, 64)
    if (typeof e.message === 'string' && e.message) {
      info.metaMessage = e.message.slice(0, META_MESSAGE_MAX)
    }
  }
  const { code, subcode } = info
  const final = (category: GraphErrorCategory) => ({ ...info, retryable: false, category })
  const again = (category: GraphErrorCategory) => ({ ...info, retryable: true, category })

  if (code === 190) return final('token_invalid')
  if (code === 10 && subcode !== undefined && OUTSIDE_WINDOW_SUBCODES.has(subcode)) {
    return final('outside_window')
  }
  if (code === 551) return final('user_unavailable')
  if (code === 100) return final('bad_request')
  if (code === 10 || (code !== undefined && code >= 200 && code <= 299)) return final('permission')
  if (code === 368) return final('policy')
  if (code === 1 && subcode === SENT_BUT_ERRORED) return final('unknown')
  if (code !== undefined && (RATE_LIMIT_CODES.has(code) || isBusinessRateLimit(code))) return again('rate_limited')
  if (code !== undefined && TRANSIENT_CODES.has(code)) return again('transient')
  if (info.isTransient === true) return again('transient')

  if (status === 429) return again('rate_limited')
  if (status !== undefined && status >= 500 && status <= 599) return again('transient')
  // Without code 190 a 401 is not Meta's verdict on the token (a proxy's or gateway's page):
  // marking the token invalid on it would stop sends and the refresh for good.
  if (status === 401) return again('transient')
  if (status === 403) return final('permission')
  if (status !== undefined && status >= 400 && status <= 499) return final('bad_request')
  return final('unknown')
}

/** A throttle hint is believed up to this long; the messaging window is 24 hours anyway. */
export const MAX_THROTTLE_HINT_MS = 24 * 3_600_000

/**
 * How long Meta asks us to stay away, from a throttled answer's headers (§5.x): `Retry-After`
 * (seconds or an HTTP date) if present, and `estimated_time_to_regain_access` (minutes) from
 * `X-Business-Use-Case-Usage` (`{"<id>":[{…}]}`) and `X-App-Usage`; the longest wins, capped at
 * MAX_THROTTLE_HINT_MS. Undefined when no header gives a usable wait. Never throws.
 */
export function throttleHintMs(headers: Headers, now: number): number | undefined {
  const waits: number[] = []
  const retryAfter = headers.get('retry-after')?.trim()
  if (retryAfter) {
    if (/^\d{1,10}$/.test(retryAfter)) waits.push(Number(retryAfter) * 1000)
    else {
      const at = Date.parse(retryAfter)
      if (Number.isFinite(at)) waits.push(at - now)
    }
  }
  for (const name of ['x-business-use-case-usage', 'x-app-usage']) {
    const raw = headers.get(name)
    if (!raw || raw.length > 8192) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      continue
    }
    for (const minutes of regainMinutes(parsed, 0)) waits.push(minutes * 60_000)
  }
  const longest = Math.max(0, ...waits.filter((w) => Number.isFinite(w)))
  return longest > 0 ? Math.min(longest, MAX_THROTTLE_HINT_MS) : undefined
}

/** Every numeric `estimated_time_to_regain_access` in a usage header's JSON (a few levels deep). */
function regainMinutes(v: unknown, depth: number): number[] {
  if (depth > 3 || v === null || typeof v !== 'object') return []
  const out: number[] = []
  for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 64)) {
    if (k === 'estimated_time_to_regain_access') {
      const n = typeof x === 'string' && /^\d{1,7}$/.test(x) ? Number(x) : x
      if (typeof n === 'number' && Number.isFinite(n) && n > 0) out.push(n)
    } else out.push(...regainMinutes(x, depth + 1))
  }
  return out
}
