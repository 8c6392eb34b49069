/**
 * Undoes the encodings a model can wrap a leak or markup in: HTML character references (numeric,
 * and the named ones that spell letters, digits or ASCII punctuation) and percent-encoding.
 * Hand-written scans: each position is looked at a bounded number of times, whatever the input.
 */
import { ruleEntity } from './entity-rule'
import { ENTITIES, ENTITY_RULE_EXCEPTIONS } from './unicode-data'

let named: Map<string, string> | undefined
let notByRule: Set<string> | undefined

function exceptions(): Set<string> {
  notByRule ??= new Set(ENTITY_RULE_EXCEPTIONS.split(' '))
  return notByRule
}

function entities(): Map<string, string> {
  if (named) return named
  const map = new Map<string, string>()
  for (const pair of ENTITIES.split('&')) {
    const eq = pair.indexOf('=')
    map.set(pair.slice(0, eq), pair.slice(eq + 1) || '&')
  }
  named = map
  return map
}

function namedEntity(name: string): string | undefined {
  const hit = entities().get(name)
  if (hit !== undefined) return hit
  return exceptions().has(name) ? undefined : ruleEntity(name)
}

const isDigit = (c: number) => c >= 48 && c <= 57
const hexVal = (c: number) => (isDigit(c) ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1)
const isAlnum = (c: number) => isDigit(c) || ((c | 32) >= 97 && (c | 32) <= 122)

function codePoint(n: number): string {
  return n > 0 && n <= 0x10ffff && (n < 0xd800 || n > 0xdfff) ? String.fromCodePoint(n) : '\uFFFD'
}

/** `&#65;`, `&#x41;` (semicolon optional, as browsers accept) and named references with a semicolon. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s
  let out = ''
  let last = 0
  let i = s.indexOf('&')
  while (i >= 0) {
    let end = -1
    let value = ''
    if (s.charCodeAt(i + 1) === 35 /* # */) {
      const hex = (s.charCodeAt(i + 2) | 32) === 120 /* x */
      let j = i + (hex ? 3 : 2)
      let n = 0
      const start = j
      // Leading zeros are legal; once out of range the value stops growing (and the scan goes on).
      while (j < s.length) {
        const d = hex ? hexVal(s.charCodeAt(j)) : isDigit(s.charCodeAt(j)) ? s.charCodeAt(j) - 48 : -1
        if (d < 0) break
        n = n > 0x10ffff ? n : n * (hex ? 16 : 10) + d
        j++
      }
      if (j > start) {
        end = s.charCodeAt(j) === 59 /* ; */ ? j + 1 : j
        value = codePoint(n)
      }
    } else {
      let j = i + 1
      while (j < s.length && j - i <= 32 && isAlnum(s.charCodeAt(j))) j++
      if (j > i + 1 && s.charCodeAt(j) === 59) {
        const v = namedEntity(s.slice(i + 1, j))
        if (v !== undefined) {
          end = j + 1
          value = v
        }
      }
    }
    if (end > 0) {
      out += s.slice(last, i) + value
      last = end
    }
    i = s.indexOf('&', Math.max(end, i + 1))
  }
  return out + s.slice(last)
}

const utf8 = new TextDecoder()

/** `%XX` runs decoded as UTF-8 (invalid sequences become U+FFFD); a lone `%` stays. */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s
  let out = ''
  let last = 0
  let i = s.indexOf('%')
  while (i >= 0) {
    const bytes: number[] = []
    let j = i
    while (s.charCodeAt(j) === 37) {
      const hi = hexVal(s.charCodeAt(j + 1))
      const lo = hexVal(s.charCodeAt(j + 2))
      if (hi < 0 || lo < 0) break
      bytes.push(hi * 16 + lo)
      j += 3
    }
    if (bytes.length > 0) {
      out += s.slice(last, i) + utf8.decode(new Uint8Array(bytes))
      last = j
    }
    i = s.indexOf('%', Math.max(j, i + 1))
  }
  return out + s.slice(last)
}

/** Entities and percent-encoding, nested up to three deep (`%26%2397%3B`, `&#37;41`). */
export function decodeText(s: string): string {
  let cur = s
  for (let round = 0; round < 3; round++) {
    const next = percentDecode(decodeEntities(cur))
    if (next === cur) break
    cur = next
  }
  return cur
}
