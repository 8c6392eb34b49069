/**
 * Opt-out, opt-in and handoff requests recognised in a user's message, as pure functions over
 * the configured word lists (STOP_WORDS, START_WORDS, HANDOFF_WORDS). Matching errs towards
 * the literal: an opt-out silences the bot, so it must never fire on ordinary sentences.
 */
import type { Config } from '../core/config'

export type Intent = 'stop' | 'start' | 'handoff'

export interface IntentWords {
  stop: readonly string[]
  start: readonly string[]
  handoff: readonly string[]
}

/**
 * A single handoff word ("human", "agent") counts only in a message of at most this many words:
 * "can I talk to a human please" asks for a person, "I'm a travel agent planning a group trip
 * for twelve people in May" does not. Multi-word phrases ("talk to a person") are specific
 * enough to count anywhere.
 */
export const SHORT_MESSAGE_WORDS = 10
/** The same limit for scripts written without spaces, counted in characters. */
export const SHORT_MESSAGE_CHARS = 30

// Punctuation, symbols (emoji included), separators, controls, variation selectors, emoji ZWJ
// and keycaps at either end are ignored: "STOP!!", "stop 🙏", "¡alto!", "«стоп»".
const EDGE = /^[\p{P}\p{S}\p{Z}\p{Cc}\p{Cf}\uFE00-\uFE0F\u20E3]+|[\p{P}\p{S}\p{Z}\p{Cc}\p{Cf}\uFE00-\uFE0F\u20E3]+$/gu
const WORD_SPLIT = /[^\p{L}\p{N}\p{M}]+/u
const NO_SPACE_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u

/** NFKC (full-width and compatibility forms), lower case, single spaces, edges stripped. */
export function normalizeForMatch(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').replace(EDGE, '')
}

function words(normalized: string): string[] {
  return normalized.split(WORD_SPLIT).filter(Boolean)
}

function containsSequence(haystack: string[], needle: string[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

function isWholeMessage(normalized: string, list: readonly string[]): boolean {
  return list.some((w) => {
    const k = normalizeForMatch(w)
    return k !== '' && k === normalized
  })
}

function mentionsHandoff(normalized: string, list: readonly string[]): boolean {
  const tokens = words(normalized)
  const compact = normalized.replace(/\s+/gu, '')
  for (const phrase of list) {
    const p = normalizeForMatch(phrase)
    if (p === '') continue
    if (NO_SPACE_SCRIPT.test(p)) {
      // No word boundaries to rely on; short messages only, so 人工 does not fire inside a
      // paragraph about 人工智能.
      if (compact.length <= SHORT_MESSAGE_CHARS && compact.includes(p.replace(/\s+/gu, ''))) return true
      continue
    }
    const needle = words(p)
    if (needle.length === 0) continue
    if (needle.length === 1 && tokens.length > SHORT_MESSAGE_WORDS) continue
    if (containsSequence(tokens, needle)) return true
  }
  return false
}

/**
 * 'stop' / 'start' only when the whole message is one of the keywords ("STOP", "stop!", "Stopp 🙏"),
 * never for "don't stop the music" or "can I stop my order?". 'handoff' when a configured phrase
 * appears as whole words (so "humanity" and "agents" do not match "human" and "agent"), with
 * single words limited to short messages. Stop wins over start, and both over handoff, so a
 * misconfigured overlap errs towards silence. Negation ("no human please") is not understood.
 */
export function matchIntent(text: string, list: IntentWords): Intent | null {
  const normalized = normalizeForMatch(text)
  if (normalized === '') return null
  if (isWholeMessage(normalized, list.stop)) return 'stop'
  if (isWholeMessage(normalized, list.start)) return 'start'
  if (mentionsHandoff(normalized, list.handoff)) return 'handoff'
  return null
}

export function intentWords(config: Pick<Config, 'STOP_WORDS' | 'START_WORDS' | 'HANDOFF_WORDS'>): IntentWords {
  return { stop: config.STOP_WORDS, start: config.START_WORDS, handoff: config.HANDOFF_WORDS }
}
