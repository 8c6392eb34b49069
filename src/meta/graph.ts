/**
 * Send API client for both ways of connecting an account (../shared/reference/meta-instagram.md
 * §4): Instagram Login on graph.instagram.com and Facebook Login on graph.facebook.com, chosen by
 * GRAPH_API_BASE. Errors are classified from Meta's code table (§5) into retryable and final, so
 * callers never guess. fetch and the token are injected; no message text or token is ever logged.
 */

export type LoginFlavour = 'instagram' | 'facebook'

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

export interface GraphDeps {
  fetch: typeof fetch
  /** GRAPH_API_BASE without a trailing slash, e.g. https://graph.instagram.com */
  base: string
  /** GRAPH_API_VERSION, e.g. v25.0 */
  version: string
  /** IG_ACCOUNT_ID (Instagram Login) or the Page id (Facebook Login); 'me' or '' for /me. */
  accountId: string
  token: () => Promise<string> | string
}

export type SenderAction = 'typing_on' | 'typing_off' | 'mark_seen'

export interface SendOptions {
  /** Bounds one request, e.g. AbortSignal.timeout(); an abort is a retryable network error. */
  signal?: AbortSignal
  /**
   * Suggestion chips under the message (plain text; a tap comes back as a `quick_reply` message
   * whose text and payload are the title).
   */
  quickReplies?: readonly string[]
}

export interface Graph {
  readonly flavour: LoginFlavour
  sendText(recipientId: string, text: string, opts?: SendOptions): Promise<{ messageId: string }>
  senderAction(recipientId: string, action: SenderAction, opts?: SendOptions): Promise<void>
  /** A private reply (§12): a DM to the author of `commentId`, at most one per comment. */
  privateReply(commentId: string, text: string, opts?: SendOptions): Promise<{ messageId: string }>
  /** A public reply under `commentId` (POST /<comment-id>/replies); resolves to the new comment's id. */
  publicReply(commentId: string, text: string, opts?: SendOptions): Promise<{ id: string }>
}

/** Meta's limit: "Message text must be UTF-8 and be a 1000 bytes or less" (§4.1, §4.2). */
export const MAX_TEXT_BYTES = 1000

const SENDER_ACTIONS: readonly string[] = ['typing_on', 'typing_off', 'mark_seen']
/** Meta: "A maximum of 13 quick replies are supported and each quick reply allows up to 20 characters". */
export const MAX_QUICK_REPLIES = 13
export const MAX_QUICK_REPLY_CHARS = 20

/** Why a quick-reply title is not acceptable, or null. Characters are code points. */
export function quickReplyProblem(title: string): string | null {
  if (title.trim() === '') return 'must not be empty'
  if ([...title].length > MAX_QUICK_REPLY_CHARS) return `must be at most ${MAX_QUICK_REPLY_CHARS} characters`
  // Controls and bidi overrides could fake or hide a chip's text.
  if (/[\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]/.test(title)) return 'must be plain text'
  return null
}
// Meta's messages are short; the cap only keeps a hostile or broken proxy out of our logs.
const META_MESSAGE_MAX = 300

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

/** Instagram Login unless the base is Facebook's Graph host; stand-ins behave like Instagram. */
export function loginFlavour(base: string): LoginFlavour {
  let host = ''
  try {
    host = new URL(base).hostname.toLowerCase()
  } catch {
    return 'instagram'
  }
  return host === 'graph.facebook.com' || host.endsWith('.facebook.com') ? 'facebook' : 'instagram'
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

function graphUrl(deps: GraphDeps): string {
  const base = deps.base.replace(/\/+$/, '')
  const account = deps.accountId.trim() || 'me'
  return `${base}/${encodeURIComponent(deps.version)}/${encodeURIComponent(account)}/messages`
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text
}

/**
 * Builds the client. Token placement: `Authorization: Bearer` for both flavours. Meta's
 * Instagram Login examples use it (§4.1); for Facebook Login Meta's Messenger samples put
 * `access_token` in the query string, but graph.facebook.com takes the same OAuth bearer header
 * (Meta's WhatsApp Cloud API, on that host, documents only the header). A token in a URL ends up
 * in request logs, traces and any error that echoes the URL; a header does not.
 */
export function createGraph(deps: GraphDeps): Graph {
  const url = graphUrl(deps)
  const flavour = loginFlavour(deps.base)

  async function post(
    body: unknown,
    signal: AbortSignal | undefined,
    target = url
  ): Promise<{ status: number; data: unknown }> {
    const token = await deps.token()
    if (typeof token !== 'string' || token.trim() === '') {
      const info = { retryable: false, category: 'token_invalid' as const }
      throw new GraphError({ ...info, metaMessage: 'no access token' })
    }
    let res: Response
    try {
      const form = body instanceof URLSearchParams
      res = await deps.fetch(target, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
          accept: 'application/json',
        },
        body: form ? body.toString() : JSON.stringify(body),
        ...(signal ? { signal } : {}),
      })
    } catch (cause) {
      const info = classifyGraphError(undefined, undefined, true)
      const reason =
        cause instanceof Error ? `${cause.name}: ${redact(cause.message, token)}` : 'fetch failed'
      throw new GraphError({ ...info, metaMessage: reason.slice(0, META_MESSAGE_MAX) }, { cause })
    }
    let text = ''
    try {
      text = await res.text()
    } catch (cause) {
      // The body was lost mid-stream. A 2xx may already have delivered the message, so only
      // a failed status is treated like a network error.
      if (!res.ok) throw new GraphError(classifyGraphError(res.status, undefined, true), { cause })
      const info = { status: res.status, retryable: false, category: 'unknown' as const }
      throw new GraphError({ ...info, metaMessage: 'response body lost' }, { cause })
    }
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
    if (!res.ok) {
      const info = classifyGraphError(res.status, parsed)
      if (info.category === 'rate_limited') {
        const wait = throttleHintMs(res.headers, Date.now())
        if (wait !== undefined) info.retryAfterMs = wait
      }
      if (info.metaMessage) info.metaMessage = redact(info.metaMessage, token)
      throw new GraphError(info)
    }
    return { status: res.status, data: parsed }
  }

  function checkRecipient(recipientId: string): void {
    if (typeof recipientId !== 'string' || recipientId.trim() === '') {
      throw new TypeError('graph: recipientId must be a non-empty string')
    }
  }

  return {
    flavour,

    async sendText(recipientId, text, opts) {
      checkRecipient(recipientId)
      if (typeof text !== 'string' || text.trim() === '') {
        throw new TypeError('graph.sendText: text must be a non-empty string')
      }
      const bytes = new TextEncoder().encode(text).byteLength
      if (bytes > MAX_TEXT_BYTES) {
        const limit = `split it to ≤ ${MAX_TEXT_BYTES} bytes first`
        throw new TypeError(`graph.sendText: text is ${bytes} bytes; ${limit}`)
      }
      const chips = opts?.quickReplies ?? []
      if (chips.length > MAX_QUICK_REPLIES || chips.some((t) => typeof t !== 'string' || quickReplyProblem(t))) {
        throw new TypeError(`graph.sendText: at most ${MAX_QUICK_REPLIES} quick replies of plain text, ${MAX_QUICK_REPLY_CHARS} characters each`)
      }
      const message = chips.length
        ? { text, quick_replies: chips.map((title) => ({ content_type: 'text', title, payload: title })) }
        : { text }
      // messaging_type RESPONSE: every bot message answers a user inside the 24-hour window.
      // Meta's IG quick-replies doc sends it to /<IG_ID>/messages and the Messenger Send API
      // expects it, so it is correct for both flavours. Never a message tag: HUMAN_AGENT is for
      // people, not bots (§7).
      const { status, data } = await post(
        { recipient: { id: recipientId }, messaging_type: 'RESPONSE', message },
        opts?.signal
      )
      const messageId =
        data && typeof data === 'object' && 'message_id' in data
          ? (data as { message_id: unknown }).message_id
          : undefined
      if (typeof messageId !== 'string' || messageId === '') {
        // A 2xx without an id may still have delivered the message: final, never retried.
        throw new GraphError({
          status,
          retryable: false,
          category: 'unknown',
          metaMessage: 'success response without message_id',
        })
      }
      return { messageId }
    },

    async senderAction(recipientId, action, opts) {
      checkRecipient(recipientId)
      if (!SENDER_ACTIONS.includes(action)) {
        throw new TypeError('graph.senderAction: unknown action')
      }
      // Meta: sender-action requests "should only include the sender_action parameter and the
      // recipient object" (§4.1).
      await post({ recipient: { id: recipientId }, sender_action: action }, opts?.signal)
    },

    async privateReply(commentId, text, opts) {
      checkText(commentId, text, new TextEncoder().encode(text).byteLength > MAX_TEXT_BYTES)
      // No messaging_type: a private reply answers a comment, not a message in the 24-hour window.
      const { data } = await post({ recipient: { comment_id: commentId }, message: { text } }, opts?.signal)
      const id = data && typeof data === 'object' ? (data as { message_id?: unknown }).message_id : undefined
      // Delivered either way (2xx); without an id its echo cannot be matched by id, only by text.
      return { messageId: typeof id === 'string' ? id : '' }
    },

    async publicReply(commentId, text, opts) {
      // Instagram's limit for a comment.
      checkText(commentId, text, text.length > 2200)
      const target = `${deps.base.replace(/\/+$/, '')}/${encodeURIComponent(deps.version)}/${commentId}/replies`
      const { data } = await post(new URLSearchParams({ message: text }), opts?.signal, target)
      const id = data && typeof data === 'object' ? (data as { id?: unknown }).id : undefined
      return { id: typeof id === 'string' ? id : '' }
    },
  }
}

/** A comment id goes into a URL path: only the characters of Graph ids may reach it. */
function checkText(commentId: string, text: string, tooLong: boolean): void {
  if (typeof commentId !== 'string' || !/^[0-9A-Za-z_-]{1,128}$/.test(commentId)) throw new TypeError('graph: commentId is not a Graph id')
  if (typeof text !== 'string' || text.trim() === '') throw new TypeError('graph: text must be a non-empty string')
  if (tooLong) throw new TypeError('graph: text too long')
}
