/**
 * Rule matching: whole words, case- and accent-insensitive, punctuation ignored, keywords never
 * treated as patterns; media filters; first rule wins; public replies picked per comment.
 */
import { describe, expect, it } from 'vitest'
import type { CommentRule } from '../../src/core/rules'
import { matchCommentRule, matchDmRule, matchesKeywords, pickPublicReply } from '../../src/conversation/rules'

const kw = (...keywords: string[]) => ({ keywords })

describe('matchesKeywords', () => {
  it.each([
    ['PRICE', 'price'],
    ['price?', 'price'],
    ['What is the Price!!', 'price'],
    ['Précio por favor', 'precio'],
    ['precio por favor', 'Précio'],
    ['ＰＲＩＣＥ', 'price'],
    ['Café ouvert ?', 'cafe'],
    ['what are your opening   hours?', 'opening hours'],
    ['#price', 'price'],
    ['price🔥', 'price'],
    ['營業時間是什麼時候', '營業時間'],
    ['İSTANBUL', 'istanbul'],
  ])('"%s" matches keyword "%s"', (text, keyword) => {
    expect(matchesKeywords(kw(keyword), text)).toBe(true)
  })

  it.each([
    ['priceless', 'price'],
    ['prices', 'price'],
    ['opening times and hours', 'opening hours'],
    ['spr ice', 'price'],
    ['', 'price'],
  ])('"%s" does not match keyword "%s"', (text, keyword) => {
    expect(matchesKeywords(kw(keyword), text)).toBe(false)
  })

  it('treats regex-like keywords as words, never as patterns', () => {
    expect(matchesKeywords(kw('(a|b)*'), 'c')).toBe(false)
    expect(matchesKeywords(kw('(a|b)*'), 'a b')).toBe(true)
    expect(matchesKeywords(kw('price.*'), 'priceless')).toBe(false)
    expect(matchesKeywords(kw('[^x]'), 'anything')).toBe(false)
    expect(matchesKeywords(kw('a{1000000}'), 'a')).toBe(false)
  })

  it('matches every text when keywords are absent or empty', () => {
    expect(matchesKeywords({}, 'anything at all')).toBe(true)
    expect(matchesKeywords(kw(), '')).toBe(true)
  })

  it('reads a huge text only up to a cap and stays linear', () => {
    const huge = 'word '.repeat(50_000) + 'price'
    expect(matchesKeywords(kw('price'), huge)).toBe(false)
    expect(matchesKeywords(kw('word'), huge)).toBe(true)
  })
})

describe('matchCommentRule', () => {
  const rules: CommentRule[] = [
    { keywords: ['price'], media: ['111'], private_reply: 'Reel price' },
    { keywords: ['price', 'cost'], private_reply: 'Price list' },
    { private_reply: null },
  ]

  it('applies the first matching rule, honouring media filters', () => {
    expect(matchCommentRule(rules, 'price?', '111')).toMatchObject({ index: 0 })
    expect(matchCommentRule(rules, 'price?', '222')).toMatchObject({ index: 1 })
    expect(matchCommentRule(rules, 'price?', undefined)).toMatchObject({ index: 1 })
    expect(matchCommentRule(rules, 'Nice post', '111')).toMatchObject({ index: 2 })
    expect(matchCommentRule(rules.slice(0, 2), 'Nice post', '111')).toBeNull()
    expect(matchCommentRule([], 'price', '111')).toBeNull()
  })
})

describe('matchDmRule', () => {
  it('returns the fixed answer of the first matching rule, or null', () => {
    const rules = [
      { keywords: ['hours', 'open'], private_reply: 'Mon-Sat 9-18' },
      { keywords: ['address', 'where'], private_reply: 'Main St 1' },
    ]
    expect(matchDmRule(rules, 'Are you OPEN on sunday?')).toEqual({ reply: 'Mon-Sat 9-18', index: 0 })
    expect(matchDmRule(rules, "What's your address?")).toEqual({ reply: 'Main St 1', index: 1 })
    expect(matchDmRule(rules, 'Do you ship to Portugal?')).toBeNull()
  })
})

describe('pickPublicReply', () => {
  const replies = ['Sent you a DM!', 'Check your DMs 📩', 'Just messaged you!']

  it('is stable for one comment and varies across comments', () => {
    expect(pickPublicReply(replies, '17865799348089039')).toBe(pickPublicReply(replies, '17865799348089039'))
    const picked = new Set(Array.from({ length: 30 }, (_, i) => pickPublicReply(replies, `1786579934808${9000 + i}`)))
    expect(picked.size).toBe(3)
  })

  it('returns nothing without replies', () => {
    expect(pickPublicReply(undefined, '1')).toBeUndefined()
    expect(pickPublicReply([], '1')).toBeUndefined()
  })
})
