import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { foldText, lettersAndDigits } from '../../src/llm/fold'
import { CONFUSABLES } from '../../src/llm/unicode-data'

const table = new Map<string, string>()
for (const group of CONFUSABLES.split(';')) {
  const colon = group.indexOf(':')
  let cp = 0
  for (const d of group.slice(colon + 1).split(',')) {
    cp += parseInt(d, 36)
    table.set(String.fromCodePoint(cp), group.slice(0, colon))
  }
}

/** The definition, one code point at a time, as fold.ts's comment states it. */
function foldByDefinition(s: string): string {
  const ascii: Record<string, string> = { i: 'l', '1': 'l', '0': 'o', m: 'rn' }
  let out = ''
  for (const c of s.normalize('NFKC')) {
    if (c.charCodeAt(0) < 0x80) out += ascii[c.toLowerCase()] ?? c.toLowerCase()
    else if (!/\p{Default_Ignorable_Code_Point}/u.test(c)) out += table.get(c) ?? c.toLowerCase()
  }
  return out
}

// Look-alikes, ignorables, compatibility forms, combining marks, astral letters and lone surrogates.
const PICKS = [
  'I', 'i', 'l', '1', '0', 'O', 'm', 'M', 'rn', ' ', '\n', 'Ж', 'а', 'е', 'о', 'ο', 'і', 'ɑ', 'Ａ', 'ｍ', '𝐀', '𝐦',
  '\u200b', '\u200d', '\u00ad', '\ufe0f', '\u0301', 'e\u0301', 'ﬁ', 'Ⅻ', '①', 'ß', 'İ', 'ǅ', '😀', '\ud800', '\udc00', 'ˆ',
]
const text = fc.array(fc.oneof(fc.constantFrom(...PICKS), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 40 }).map((a) => a.join(''))

describe('foldText', () => {
  it('folds every code point as the per-code-point definition does', () => {
    fc.assert(fc.property(text, (s) => foldText(s) === foldByDefinition(s)), { numRuns: 2000 })
  })

  it.each([
    ['ASCII look-alikes and case', 'Ignore ALL 10 Mm', 'lgnore all lo rnrn'],
    ['Cyrillic and full-width letters', 'Іgnоrе Ａll', 'lgnore all'],
    ['zero-width characters dropped', 'ign\u200bore', 'lgnore'],
    ['mathematical letters', '𝐈𝐠𝐧𝐨𝐫𝐞', 'lgnore'],
  ])('known answer: %s', (_what, input, folded) => {
    expect(foldText(input)).toBe(folded)
  })
})

describe('lettersAndDigits', () => {
  it('removes exactly what is neither a letter nor a digit', () => {
    fc.assert(fc.property(text, (s) => lettersAndDigits(s) === s.replace(/[^\p{L}\p{N}]+/gu, '')), { numRuns: 2000 })
  })

  it('keeps letters and digits of any script and drops punctuation, marks, emoji and lone surrogates', () => {
    expect(lettersAndDigits('Ig-nore, ALL 10! Привет ١٢ 𝐀 e\u0301 😀 \ud800 ˆ')).toBe('IgnoreALL10Привет١٢𝐀eˆ')
  })
})
