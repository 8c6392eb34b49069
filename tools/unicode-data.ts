/**
 * The three tables the output guard needs (src/llm/unicode-data.ts), cut from maintained packages
 * (devDependencies) down to what the guard uses, because the packages' own data would cost the
 * Worker bundle 5 to 30 KiB gzip each:
 *
 * - TLDS: every IANA top-level domain (package `tlds`), internationalised ones in their punycode
 *   form (ASCII, so the bundle does not carry them as \u escapes), sorted and front-coded.
 * - CONFUSABLES: the Unicode confusables (UTS #39, package `unhomoglyph`, confusables.txt) whose
 *   prototype is ASCII letters or digits, for code points that NFKC leaves alone (NFKC runs first),
 *   as `prototype:code points` groups with the code points delta-coded in base 36.
 * - ENTITIES: the HTML named character references (package `character-entities`) that decode to
 *   something the leak check reads: a letter or digit, ASCII punctuation or a space (any width).
 *   Letters are stored already folded (as src/llm/fold.ts folds).
 *
 * - ENTITY_RULE_EXCEPTIONS: names src/llm/entity-rule.ts must not decode by rule.
 *
 * Pure: the package data is passed in, so test/llm/unicode-data.test.ts can rebuild the tables
 * in the Workers runtime and fail when the committed file and the installed packages disagree.
 * `npm run unicode-data` (scripts/unicode-data.ts) writes the file.
 */

import { ENTITY_RULE, ruleEntity } from '../src/llm/entity-rule'

export interface SourceData {
  tlds: readonly string[]
  /** confusables.txt as source → prototype. */
  confusables: Record<string, string>
  /** HTML named character references, name (no & or ;) → value. */
  entities: Record<string, string>
}

/** ASCII folding shared with src/llm/fold.ts: case, and the ASCII look-alikes of confusables.txt. */
const ASCII_FOLD: Record<string, string> = { i: 'l', 1: 'l', 0: 'o', m: 'rn' }
const foldAscii = (s: string) => [...s.toLowerCase()].map((c) => ASCII_FOLD[c] ?? c).join('')
const isAsciiAlnum = (s: string) => /^[A-Za-z0-9]+$/.test(s)

/** Front-coded: each entry is one char (prefix length shared with the previous entry, '0'+n) and the rest. */
export function encodeTlds(list: readonly string[]): string {
  const ascii = list.map((t) => new URL(`http://${t.toLowerCase()}/`).hostname)
  const sorted = [...new Set(ascii)].sort()
  let prev = ''
  const out: string[] = []
  for (const t of sorted) {
    let n = 0
    while (n < prev.length && n < t.length && n < 9 && prev[n] === t[n]) n++
    out.push(String(n) + t.slice(n))
    prev = t
  }
  return out.join(' ')
}

/** Non-ASCII code point → folded ASCII prototype. */
export function confusableMap(confusables: Record<string, string>): Map<string, string> {
  const toAscii = (c: string) => {
    const v = confusables[c]
    return v !== undefined && isAsciiAlnum(v) ? foldAscii(v) : undefined
  }
  // Candidates: the sources and their other cases, in code point order.
  const candidates = new Set<string>()
  for (const k of Object.keys(confusables)) for (const c of [k, k.toLowerCase(), k.toUpperCase()]) candidates.add(c)
  const ordered = [...candidates]
    .filter((c) => [...c].length === 1 && c.codePointAt(0)! >= 0x80)
    .sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)
  const map = new Map<string, string>()
  for (const c of ordered) {
    if (c.normalize('NFKC') !== c) continue // the runtime sees NFKC's output, never c
    // Its own prototype first, then its other case's: a capital whose small letter is confusable
    // with a Latin letter (Cyrillic Н, н) folds like it, so a change of case does not escape.
    const v = toAscii(c) ?? toAscii(c.toLowerCase()) ?? toAscii(c.toUpperCase())
    if (v !== undefined && v !== foldAscii(c.toLowerCase())) map.set(c, v)
  }
  return map
}

/** `prototype:d1,d2,…` groups joined by ';', each d the base-36 distance from the previous code point. */
export function encodeConfusables(map: Map<string, string>): string {
  const groups = new Map<string, number[]>()
  for (const [c, v] of map) groups.set(v, [...(groups.get(v) ?? []), c.codePointAt(0)!])
  const out: string[] = []
  for (const [v, cps] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let prev = 0
    const deltas = cps.sort((x, y) => x - y).map((cp) => {
      const d = (cp - prev).toString(36)
      prev = cp
      return d
    })
    out.push(`${v}:${deltas.join(',')}`)
  }
  return out.join(';')
}

function foldLetters(s: string, map: Map<string, string>): string {
  return [...s.normalize('NFKC')].map((c) => (c.charCodeAt(0) < 0x80 ? foldAscii(c) : (map.get(c) ?? c.toLowerCase()))).join('')
}

/**
 * The entities worth decoding for the leak check, as [name, value]: those whose value folds to
 * ASCII letters or digits (stored folded), ASCII punctuation, and spaces of any width (stored as
 * ' '). Others (arrows, symbols, letters with no Latin look-alike) stay undecoded.
 */
export function entityTable(entities: Record<string, string>, map: Map<string, string>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const [name, value] of Object.entries(entities).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (byRule(name, value, map)) continue
    const folded = foldLetters(value, map)
    if (/^[a-z0-9]+$/.test(folded)) out.push([name, folded])
    else if (/^[\x20-\x7e\t\n]+$/.test(value)) out.push([name, value])
    else if (/^\s+$/.test(value)) out.push([name, ' '])
  }
  return out
}

/** Does src/llm/entity-rule.ts decode `name` right (its value, once folded)? */
function byRule(name: string, value: string, map: Map<string, string>): boolean {
  const r = ruleEntity(name)
  return r !== undefined && foldLetters(r, map) === foldLetters(value, map)
}

/** Names the rule's pattern matches that mean something else (&odot; ⊙): never decoded by rule. */
export function ruleExceptions(entities: Record<string, string>, map: Map<string, string>): string[] {
  return Object.entries(entities)
    .filter(([name, value]) => ENTITY_RULE.test(name) && !byRule(name, value, map))
    .map(([name]) => name)
    .sort()
}

/** name=value pairs joined by '&'; the value '&' itself (amp, AMP) is written empty. */
export function encodeEntities(pairs: Array<[string, string]>): string {
  return pairs.map(([n, v]) => `${n}=${v === '&' ? '' : v}`).join('&')
}

export function buildTables(data: SourceData) {
  const map = confusableMap(data.confusables)
  return {
    TLDS: encodeTlds(data.tlds),
    CONFUSABLES: encodeConfusables(map),
    ENTITIES: encodeEntities(entityTable(data.entities, map)),
    ENTITY_RULE_EXCEPTIONS: ruleExceptions(data.entities, map).join(' '),
  }
}

export function renderTables(data: SourceData): string {
  const t = buildTables(data)
  // Letters stay readable; marks, spaces, controls and unpaired surrogates are written escaped.
  const esc = (s: string) =>
    JSON.stringify(s).replace(/[\p{M}\p{Z}\p{C}]/gu, (c) => (c === ' ' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`))
  return [
    '// Generated by scripts/unicode-data.ts (tools/unicode-data.ts) from the packages tlds,',
    '// unhomoglyph (Unicode confusables.txt) and character-entities. Do not edit; run `npm run unicode-data`.',
    `export const TLDS = ${esc(t.TLDS)}`,
    `export const CONFUSABLES = ${esc(t.CONFUSABLES)}`,
    `export const ENTITIES = ${esc(t.ENTITIES)}`,
    `export const ENTITY_RULE_EXCEPTIONS = ${esc(t.ENTITY_RULE_EXCEPTIONS)}`,
    '',
  ].join('\n')
}
