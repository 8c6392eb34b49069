/**
 * Which automation rule a comment or a DM matches (COMMENT_RULES, DM_RULES), as pure functions.
 *
 * A keyword matches as whole words, ignoring case, accents and punctuation: "PRICE", "price?" and
 * "Price!!" match "price"; "Précio" matches "precio"; "priceless" does not match "price". A phrase
 * matches its words in sequence. Keywords are never patterns: ".*" or "(a|b)" are plain words
 * (and a keyword without a letter or digit is refused by the configuration). Scripts written
 * without spaces (Chinese, Japanese, Thai, …) match as a substring. Absent or empty keywords match
 * every text. The first matching rule wins.
 */
import type { CommentRule, DmRule } from '../core/rules'

/** Instagram caps a comment at 2200 characters and a DM at 1000; more is read up to here only. */
export const MAX_MATCH_CHARS = 10_000

const NO_SPACE_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u
const WORD_SPLIT = /[^\p{L}\p{N}]+/u

/** Case- and accent-folded text: NFKD, combining marks dropped, lower case. */
export function fold(text: string): string {
  return text.slice(0, MAX_MATCH_CHARS).normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
}

function words(folded: string): string[] {
  return folded.split(WORD_SPLIT).filter(Boolean)
}

interface Prepared {
  /** Per keyword: its words, or (no-space scripts) its compacted text. */
  keys: ({ words: string[] } | { compact: string })[]
}

const prepared = new WeakMap<object, Prepared>()

function prepare(rule: { keywords?: string[] | undefined }): Prepared {
  let p = prepared.get(rule)
  if (!p) {
    p = {
      keys: (rule.keywords ?? []).map((k) => {
        const f = fold(k)
        return NO_SPACE_SCRIPT.test(f) ? { compact: words(f).join('') } : { words: words(f) }
      }),
    }
    prepared.set(rule, p)
  }
  return p
}

function containsSequence(haystack: string[], needle: string[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/** Does `text` match the rule's keywords? (Absent or empty keywords: always.) */
export function matchesKeywords(rule: { keywords?: string[] | undefined }, text: string): boolean {
  const { keys } = prepare(rule)
  if (keys.length === 0) return true
  const tokens = words(fold(text))
  let compact: string | undefined
  return keys.some((k) => {
    if ('compact' in k) return k.compact !== '' && (compact ??= tokens.join('')).includes(k.compact)
    return k.words.length > 0 && containsSequence(tokens, k.words)
  })
}

/** The first comment rule that applies to a comment on `mediaId` saying `text`. */
export function matchCommentRule(rules: readonly CommentRule[], text: string, mediaId: string | undefined): { rule: CommentRule; index: number } | null {
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index]!
    if (rule.media && (!mediaId || !rule.media.includes(mediaId))) continue
    if (matchesKeywords(rule, text)) return { rule, index }
  }
  return null
}

/** The fixed answer of the first DM rule that matches, or null (the assistant answers). */
export function matchDmRule(rules: readonly DmRule[], text: string): { reply: string; index: number } | null {
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index]!
    if (matchesKeywords(rule, text)) return { reply: rule.private_reply, index }
  }
  return null
}

/**
 * One of the public replies, picked by a hash of the comment id: the same comment always gets the
 * same text (a retry never posts a different one), different comments get different ones.
 */
export function pickPublicReply(replies: readonly string[] | undefined, commentId: string): string | undefined {
  if (!replies?.length) return undefined
  // FNV-1a, 32 bits.
  let h = 0x811c9dc5
  for (let i = 0; i < commentId.length; i++) {
    h ^= commentId.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return replies[h % replies.length]
}
