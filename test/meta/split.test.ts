import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { splitMessage, utf8Length } from '../../src/meta/split'

const bytes = (s: string) => new TextEncoder().encode(s).byteLength
const graphemes = (s: string) =>
  [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)].map((g) => g.segment)
const noSpace = (s: string) => s.replace(/\s+/g, '')
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * Checks that every part sits, in order, at grapheme boundaries of the original, with only
 * whitespace graphemes between parts; returns the original's unconsumed rest.
 */
function expectWholeGraphemes(original: string, parts: string[]): string {
  const text = original.replace(LONE_SURROGATE, '\uFFFD')
  const boundaries = new Set<number>([0])
  let off = 0
  for (const g of graphemes(text)) boundaries.add((off += g.length))
  let cursor = 0
  const skipBlank = () => {
    while (cursor < text.length) {
      const g = graphemes(text.slice(cursor))[0]!
      if (!/^\s+$/.test(g)) break
      cursor += g.length
    }
  }
  parts.forEach((part, i) => {
    skipBlank()
    // The last part of a truncated reply carries an ellipsis that is not in the original.
    const truncated = i === parts.length - 1 && part.endsWith('…') && !text.startsWith(part, cursor)
    const body = truncated ? part.slice(0, -1) : part
    expect(boundaries.has(cursor)).toBe(true)
    expect(text.startsWith(body, cursor)).toBe(true)
    cursor += body.length
    expect(boundaries.has(cursor)).toBe(true)
  })
  skipBlank()
  return text.slice(cursor)
}

function expectWithinLimit(parts: string[], maxBytes = 1000) {
  for (const p of parts) {
    expect(p.length).toBeGreaterThan(0)
    expect(bytes(p)).toBeLessThanOrEqual(maxBytes)
    expect(p).toBe(p.trim())
  }
}

describe('splitMessage', () => {
  it('returns no parts for empty or whitespace-only text', () => {
    expect(splitMessage('')).toEqual([])
    expect(splitMessage(' \n\t \u00a0 ')).toEqual([])
  })

  it('returns a short reply as one trimmed part, keeping inner newlines', () => {
    expect(splitMessage('  Hello!\n\nHow can I help?  ')).toEqual(['Hello!\n\nHow can I help?'])
  })

  it('keeps ASCII of exactly 1000 bytes in one part', () => {
    const words = Array.from({ length: 100 }, (_, i) => `word${String(i).padStart(4, '0')}`)
    const text = words.join(' ') + '.'.repeat(1000 - words.join(' ').length)
    expect(bytes(text)).toBe(1000)
    expect(splitMessage(text)).toEqual([text])
    expect(splitMessage('x'.repeat(1000))).toEqual(['x'.repeat(1000)])
  })

  it('splits ASCII of 1001 bytes at the last word boundary', () => {
    const words = Array.from({ length: 100 }, (_, i) => `word${String(i).padStart(5, '0')}`)
    const text = `${words.join(' ')}z`
    expect(bytes(text)).toBe(1000)
    expect(splitMessage(text)).toEqual([text])
    const parts = splitMessage(`${text}y`)
    expect(parts).toEqual([words.slice(0, 99).join(' '), 'word00099zy'])
  })

  it('splits a single word of 1001 bytes on a grapheme boundary', () => {
    expect(splitMessage('x'.repeat(1001))).toEqual(['x'.repeat(1000), 'x'])
  })

  it.each([
    ['woman technologist with skin tone', '👩🏽‍💻', 15],
    ['family ZWJ sequence', '👨‍👩‍👧‍👦', 25],
    ['flag', '🇩🇪', 8],
    ['keycap', '1️⃣', 7],
  ])('never splits a %s repeated across the 1000-byte boundary', (_, emoji, size) => {
    expect(bytes(emoji)).toBe(size)
    for (let shift = 0; shift < size; shift++) {
      const text = 'a'.repeat(shift) + emoji.repeat(Math.ceil(2500 / size))
      const parts = splitMessage(text, { maxParts: 10 })
      expectWithinLimit(parts)
      expect(parts.join('')).toBe(text)
      for (const p of parts.slice(1)) expect(p.replaceAll(emoji, '')).toBe('')
      // Greedy on graphemes: a part is short of the limit by less than one emoji.
      expect(bytes(parts[0]!)).toBeGreaterThan(1000 - size)
    }
  })

  it('never splits a mixed emoji run, spaced or not', () => {
    const run = '👩🏽‍💻👨‍👩‍👧‍👦🇩🇪🏳️‍🌈👍🏿'
    for (const sep of ['', ' ']) {
      const text = Array.from({ length: 60 }, () => run).join(sep)
      const parts = splitMessage(text, { maxParts: 10 })
      expectWithinLimit(parts)
      expect(expectWholeGraphemes(text, parts)).toBe('')
    }
  })

  it('splits Arabic with diacritics between words, never before a mark', () => {
    const sentence = 'مَرْحَبًا بِكُمْ فِي مَتْجَرِنَا، كَيْفَ يُمْكِنُنِي مُسَاعَدَتُكُمُ الْيَوْمَ'
    const text = Array.from({ length: 20 }, () => sentence).join(' ')
    expect(bytes(text)).toBeGreaterThan(2000)
    const parts = splitMessage(text, { maxParts: 10 })
    expectWithinLimit(parts)
    expect(parts.length).toBeGreaterThan(2)
    for (const p of parts) expect(p).not.toMatch(/^\p{M}/u)
    expect(noSpace(parts.join(''))).toBe(noSpace(text))
    expect(expectWholeGraphemes(text, parts)).toBe('')
  })

  it('splits CJK without spaces on sentence and word boundaries', () => {
    const noPunct = '我们今天下午去公园散步然后一起吃晚饭'.repeat(30)
    const withPunct = '我们今天下午去公园散步。然后一起吃晚饭！'.repeat(30)
    for (const text of [noPunct, withPunct]) {
      const parts = splitMessage(text, { maxParts: 10 })
      expectWithinLimit(parts)
      expect(parts.join('')).toBe(text)
      expect(parts.length).toBeGreaterThan(1)
    }
    for (const p of splitMessage(withPunct, { maxParts: 10 }).slice(0, -1)) {
      expect(p).toMatch(/[。！]$/)
    }
  })

  it('splits Hindi at danda sentence ends, never inside a conjunct', () => {
    const text = 'नमस्ते, आपका स्वागत है। क्या मैं आपकी सहायता कर सकता हूँ? '.repeat(25)
    const parts = splitMessage(text, { maxParts: 10 })
    expectWithinLimit(parts)
    for (const p of parts) {
      expect(p).not.toMatch(/^[\p{M}\u094d]/u)
      expect(p).toMatch(/[।?]$/)
    }
    expect(expectWholeGraphemes(text, parts)).toBe('')
  })

  it('keeps sentences whole when they fit in a part', () => {
    const sentences = Array.from(
      { length: 12 },
      (_, i) => `Sentence ${i} ${'is long and has many words '.repeat(9).trim()}${'!?.'[i % 3]}`
    )
    const text = sentences.join(' ')
    const parts = splitMessage(text, { maxParts: 10 })
    expectWithinLimit(parts)
    expect(parts.length).toBeGreaterThan(3)
    for (const s of sentences) expect(parts.filter((p) => p.includes(s))).toHaveLength(1)
    for (const p of parts) expect(p).toMatch(/[.!?]$/)
  })

  it('puts a sentence that fits on its own into the next part instead of cutting it', () => {
    const first = `${'Short words here. '.repeat(16).trim()}`
    const second = `${'another long clause '.repeat(45).trim()}.`
    expect(bytes(first)).toBeLessThan(500)
    expect(bytes(second)).toBeLessThan(1000)
    expect(bytes(first) + bytes(second)).toBeGreaterThan(1000)
    const parts = splitMessage(`${first} ${second}`)
    expect(parts).toHaveLength(2)
    expect(parts[0]).toMatch(/^(Short words here\. ?)+$/)
    expect(parts[1]).toMatch(/^(Short words here\. )*another long clause/)
    expect(parts[1]!.endsWith(second)).toBe(true)
  })

  it('fills a part with words when the next sentence cannot fit in any part', () => {
    const long = `${'this sentence goes on and on '.repeat(100).trim()}.`
    const parts = splitMessage(`Sure. ${long}`, { maxParts: 10 })
    expectWithinLimit(parts)
    expect(parts[0]!.startsWith('Sure. this sentence')).toBe(true)
    expect(bytes(parts[0]!)).toBeGreaterThan(990)
    expect(noSpace(parts.join(''))).toBe(noSpace(`Sure. ${long}`))
  })

  it('cuts a single 3000-byte word into full parts', () => {
    const word = 'a'.repeat(3000)
    const full = 'a'.repeat(1000)
    expect(splitMessage(word, { maxParts: 5 })).toEqual([full, full, full])
    expect(splitMessage(word)).toEqual([full, full, full])
    expect(splitMessage(`${word}b`)).toEqual([full, full, `${'a'.repeat(997)}…`])
  })

  it('ends the last allowed part with an ellipsis within the byte limit', () => {
    const text = 'The quick brown fox jumps over the lazy dog again and again '.repeat(80)
    const parts = splitMessage(text)
    expect(parts).toHaveLength(3)
    expectWithinLimit(parts)
    const last = parts[2]!
    expect(last.endsWith('…')).toBe(true)
    expect(last).not.toMatch(/\s…$/)
    expect(bytes(last)).toBeGreaterThan(1000 - 3 - 'again '.length - 1)
    expect(text.includes(last.slice(0, -1))).toBe(true)
    const one = splitMessage(text, { maxParts: 1 })
    expect(one).toHaveLength(1)
    expect(one[0]).toMatch(/\w…$/)
    expect(bytes(one[0]!)).toBeLessThanOrEqual(1000)
  })

  it('truncates emoji before the ellipsis on a grapheme boundary', () => {
    const text = '👨‍👩‍👧‍👦'.repeat(200)
    const parts = splitMessage(text, { maxParts: 2 })
    expect(parts).toHaveLength(2)
    expectWithinLimit(parts)
    expect(parts[1]!.slice(0, -1).replaceAll('👨‍👩‍👧‍👦', '')).toBe('')
    expect(parts[1]!.endsWith('…')).toBe(true)
    expect(bytes(parts[1]!)).toBe(39 * 25 + 3)
  })

  it('re-joins to the original modulo whitespace when under the part limit', () => {
    const text = 'First line.\n\nSecond paragraph with 😀 and العربية and 中文。\t' + 'word '.repeat(500)
    const parts = splitMessage(text, { maxParts: 5 })
    expect(parts.length).toBeLessThanOrEqual(5)
    expect(parts.at(-1)!.endsWith('…')).toBe(false)
    expect(noSpace(parts.join(''))).toBe(noSpace(text))
  })

  it('cuts a grapheme bigger than a whole part instead of exceeding the limit', () => {
    const zalgo = 'a' + '\u0301'.repeat(600)
    const parts = splitMessage(`${zalgo} ok`)
    expectWithinLimit(parts)
    expect(parts[0]!.startsWith('a\u0301')).toBe(true)
    expect(parts.at(-1)).toBe('ok')
  })

  it('counts a lone surrogate as the replacement character it is sent as', () => {
    const parts = splitMessage('\uD800'.repeat(400), { maxParts: 5 })
    expect(parts.map(bytes)).toEqual([999, 201])
    expect(parts.join('')).toBe('\uFFFD'.repeat(400))
  })

  it('rejects option values that cannot produce a valid part', () => {
    expect(() => splitMessage('hi', { maxBytes: 6 })).toThrow(RangeError)
    expect(() => splitMessage('hi', { maxBytes: 10.5 })).toThrow(RangeError)
    expect(() => splitMessage('hi', { maxParts: 0 })).toThrow(RangeError)
  })

  it('counts UTF-8 bytes like TextEncoder', () => {
    for (const s of ['', 'a', 'é', '€', '😀', '👩🏽‍💻', 'مَرْحَبًا', '\uD800x', 'x\uDC00']) {
      expect(utf8Length(s)).toBe(bytes(s))
    }
  })
})

describe('splitMessage properties', () => {
  const pieces = fc.oneof(
    fc.constantFrom(' ', '  ', '\n', '\n\n', '. ', '! ', '? ', '。', '।', ', ', '\u00a0'),
    fc.constantFrom('👩🏽‍💻', '👨‍👩‍👧‍👦', '🇩🇪', '🇯🇵', '🏳️‍🌈', '1️⃣', '👍🏿', 'é', 'e\u0301'),
    fc.constantFrom('مَرْحَبًا', 'بِكُمْ', '你好世界', 'नमस्ते', 'क्षत्रिय', 'สวัสดีครับ', 'Ελληνικά', '한국어'),
    fc.stringMatching(/^[a-z]{1,12}$/),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.string({ unit: 'binary', maxLength: 6 })
  )
  const texts = fc.array(pieces, { maxLength: 120 }).map((a) => a.join(''))
  const sizes = fc.integer({ min: 24, max: 200 })
  const counts = fc.integer({ min: 1, max: 6 })

  it('keeps every part within maxBytes and made of whole graphemes', () => {
    fc.assert(
      fc.property(texts, sizes, counts, (text, maxBytes, maxParts) => {
        const biggest = Math.max(0, ...graphemes(text.replace(LONE_SURROGATE, '\uFFFD')).map(bytes))
        fc.pre(biggest <= maxBytes - 3)
        const parts = splitMessage(text, { maxBytes, maxParts })
        expect(parts.length).toBeLessThanOrEqual(maxParts)
        for (const p of parts) {
          expect(bytes(p)).toBeLessThanOrEqual(maxBytes)
          const gs = graphemes(p)
          expect(gs.length).toBeGreaterThan(0)
          expect(gs[0]).not.toMatch(/^\s+$/)
          expect(gs.at(-1)).not.toMatch(/^\s+$/)
        }
        const rest = expectWholeGraphemes(text, parts)
        const last = parts.at(-1)
        const truncated = parts.length === maxParts && !!last?.endsWith('…') && rest.trim() !== ''
        if (!truncated) {
          expect(rest.trim()).toBe('')
          expect(noSpace(parts.join(''))).toBe(noSpace(text.replace(LONE_SURROGATE, '\uFFFD')))
        }
      }),
      { numRuns: 400 }
    )
  })

  it('gives a text that fits in one part the same part as the segmenters do', () => {
    // A line break at either end is a grapheme of its own, so the padded text goes the long way
    // (segmented, its blank edges trimmed) and must come back as the unpadded text does.
    fc.assert(
      fc.property(texts, (text) => {
        const t = text.replace(LONE_SURROGATE, '\uFFFD')
        fc.pre(t.length > 0 && !/\s/.test(t[0]!) && !/\s/.test(t.at(-1)!))
        const maxBytes = Math.max(7, utf8Length(t) + 2)
        expect(splitMessage(text, { maxBytes })).toEqual(splitMessage(`\n${text}\n`, { maxBytes }))
        expect(splitMessage(text, { maxBytes })).toEqual([t])
      }),
      { numRuns: 400 }
    )
  })
})
