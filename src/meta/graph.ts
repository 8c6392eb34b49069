/**
 * Send API client for both ways of connecting an account (../shared/reference/meta-instagram.md
 * §4): Instagram Login on graph.instagram.com and Facebook Login on graph.facebook.com, chosen by
 * GRAPH_API_BASE. Errors are classified from Meta's code table (§5) into retryable and final, so
 * callers never guess. fetch and the token are injected; no message text or token is ever logged.
 */

import { classifyGraphError, GraphError, META_MESSAGE_MAX, throttleHintMs } from './graph-errors'

export { classifyGraphError, GraphError, MAX_THROTTLE_HINT_MS, throttleHintMs, type GraphErrorCategory, type GraphErrorInfo } from './graph-errors'

export type LoginFlavour = 'instagram' | 'facebook'

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
