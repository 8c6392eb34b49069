/**
 * Plays Meta's side of a webhook delivery from Node: builds realistic payloads with the shared
 * builders in tools/payloads.ts, serialises them like Meta, signs the exact bytes with the app
 * secret (HMAC-SHA256) and posts them. Used by the simulator, the inbox page and the e2e tests.
 */
import { createHmac } from 'node:crypto'
import * as payloads from '../../tools/payloads.ts'

export { payloads }

/** `sha256=<hex>` over exactly these bytes, as Meta's X-Hub-Signature-256. */
export function signBody(body, secret) {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/**
 * Posts bytes to a webhook URL. `signature`: a header value to send instead of the real one
 * (null sends none); `headers` are added as given.
 */
export async function postWebhook(url, body, secret, { signature, headers = {}, timeoutMs = 15000 } = {}) {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  const h = { 'content-type': 'application/json', ...headers }
  const sig = signature === undefined ? signBody(bytes, secret) : signature
  if (sig !== null) h['x-hub-signature-256'] = sig
  const started = performance.now()
  const res = await fetch(url, { method: 'POST', headers: h, body: bytes, signal: AbortSignal.timeout(timeoutMs) })
  const text = await res.text()
  return { status: res.status, text, ms: performance.now() - started }
}

/**
 * One event as Meta would deliver it. Returns the serialised body and the message id used
 * (for duplicates and for replies/reactions to refer to).
 */
export function buildDelivery({ kind = 'text', text, senderId, accountId, mid, targetMid, payload, url } = {}) {
  const item = payloads.messagingItem({ kind, text, senderId, accountId, mid, targetMid, payload, url })
  const body = payloads.metaJson(payloads.delivery([item], accountId ?? payloads.DEFAULT_ACCOUNT_ID))
  const usedMid = item.message?.mid ?? item.postback?.mid ?? item.reaction?.mid ?? item.message_edit?.mid ?? mid
  return { body, mid: usedMid, item }
}

/** Kinds a bot answers with a message under the default settings (issue 4). */
export const REPLYING_KINDS = new Set([
  'text', 'image', 'video', 'audio', 'file', 'share', 'ig_reel', 'reel', 'ig_post', 'ig_story',
  'story_mention', 'story_reply', 'reply', 'quick_reply', 'postback', 'ice_breaker',
])
