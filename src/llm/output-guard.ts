/**
 * Checks every candidate reply before it can be sent, assuming the model was fooled: caps the raw
 * output, strips invisible characters, blocks system-prompt leaks (canary, long verbatim runs,
 * also look-alike-spelled or inside entity/percent/base64/hex/reversed/ROT13 text), refuses
 * executable or exfiltrating markup, removes links outside ALLOWED_LINK_DOMAINS and enforces a
 * byte limit. Pure and synchronous; every step is linear in the (capped) output, so a hostile
 * answer costs the isolate microseconds to a few milliseconds, not seconds.
 */
import { findForbidden } from './forbidden'
import { hasVisible, stripInvisible } from './invisible'
import { findLeak, LEAK_WINDOW } from './leak'
import { LINK_REMOVED, stripLinks } from './links'

export { findForbidden, findLeak, LEAK_WINDOW, LINK_REMOVED }

export interface ReplyCheckContext {
  canary: string
  /** Operator text that must never be echoed: persona and policy, not the business facts. */
  systemPrompt: string
  /** The part of systemPrompt that is new in every request (the fence boundary), if any. */
  volatile?: string
  allowedDomains: string[]
  maxBytes?: number
}

export type ReplyCheck =
  | { ok: true; text: string; linksRemoved?: number; truncated?: boolean }
  | { ok: false; reason: 'leak' | 'forbidden' | 'empty'; rule: string; text?: string }

export const DEFAULT_MAX_REPLY_BYTES = 3000
/**
 * Raw model output beyond this many UTF-16 units is dropped before any check. Far above what a
 * reply can use (LLM_MAX_TOKENS ≤ 4000 at ~4 characters a token, and at most 10 × 1000 bytes are
 * sent), so only a model that ignores max_tokens, or a hostile endpoint, ever reaches it.
 */
export const MAX_RAW_REPLY_CHARS = 16 * 1024

/** The first MAX_RAW_REPLY_CHARS units of `raw`, never ending inside a surrogate pair. */
export function capRaw(raw: string): string {
  if (raw.length <= MAX_RAW_REPLY_CHARS) return raw
  const high = raw.charCodeAt(MAX_RAW_REPLY_CHARS - 1)
  return raw.slice(0, high >= 0xd800 && high <= 0xdbff ? MAX_RAW_REPLY_CHARS - 1 : MAX_RAW_REPLY_CHARS)
}

function truncateBytes(text: string, maxBytes: number): string {
  const enc = new TextEncoder()
  if (enc.encode(text).byteLength <= maxBytes) return text
  let out = ''
  let used = 0
  const budget = maxBytes - 3 // room for the ellipsis
  for (const ch of text) {
    const n = enc.encode(ch).byteLength
    if (used + n > budget) break
    out += ch
    used += n
  }
  const cut = out.search(/[.!?](?=[^.!?]*$)/)
  return (cut > out.length / 2 ? out.slice(0, cut + 1) : out.trimEnd()) + '…'
}

export function checkReply(raw: string, ctx: ReplyCheckContext): ReplyCheck {
  const capped = capRaw(raw)
  const reply = stripInvisible(capped)
  const leak = findLeak(reply, ctx.canary, ctx.systemPrompt, ctx.volatile)
  if (leak) return { ok: false, reason: 'leak', rule: leak }
  const forbidden = findForbidden(reply)
  if (forbidden) return { ok: false, reason: 'forbidden', rule: forbidden }
  const { text: linked, removed } = stripLinks(reply, ctx.allowedDomains)
  const text = linked.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '').trim()
  if (!hasVisible(text.split(LINK_REMOVED).join(''))) {
    const rule = removed ? 'only_links' : reply.trim() !== capped.trim() ? 'invisible' : 'blank'
    return { ok: false, reason: 'empty', rule }
  }
  const max = ctx.maxBytes ?? DEFAULT_MAX_REPLY_BYTES
  const cut = truncateBytes(text, max)
  return {
    ok: true,
    text: cut,
    ...(removed ? { linksRemoved: removed } : {}),
    ...(cut !== text || capped !== raw ? { truncated: true } : {}),
  }
}
