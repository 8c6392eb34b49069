import fc from 'fast-check'
import tlds from 'tlds'
import { describe, expect, it } from 'vitest'
import { checkReply, LINK_REMOVED } from '../../src/llm/output-guard'
import { isTld, stripLinks } from '../../src/llm/links'

const ctx = { canary: 'ref-5f1c0a9e77d24b3a8c6e0f12', systemPrompt: 'You are a shop assistant.', allowedDomains: [] as string[] }
const shop = { ...ctx, allowedDomains: ['shop.example'] }

function reply(text: string, allowedDomains: string[] = []) {
  const r = checkReply(text, { ...ctx, allowedDomains })
  if (!r.ok) throw new Error(`refused: ${r.reason}/${r.rule}`)
  return r
}

describe('links: anything a client would link is removed unless allowed (issue 11, finding 3)', () => {
  it.each([
    ['a bare domain on .lol', 'Claim it at free-gift.lol now', 'free-gift'],
    ['a bare domain on .pw', 'Login: secure-login.pw/verify', 'secure-login'],
    ['a bare domain on .party', 'Join us at promo.party', 'promo'],
    ['an ideographic full stop', 'Visit evil。com today', 'evil'],
    ['a full-width full stop', 'Visit evil．com today', 'evil'],
    ['a half-width ideographic full stop', 'Visit evil｡com today', 'evil'],
    ['full-width letters', 'Visit ｅｖｉｌ．ｃｏｍ today', 'ｅｖｉｌ'],
    ['a bare IPv4 address with a path', 'Pay at 203.0.113.7/pay please', '203.0.113'],
    ['a bare IPv4 address with a port', 'Go to 198.51.100.2:8080 please', '198.51.100'],
    ['a bracketed IPv6 address with a path', 'Go to [2001:db8::7]/x please', '2001:db8'],
    ['a bare IPv6 address', 'Host fe80::1ff:fe23:4567:890a here', 'fe80'],
    ['an IPv6 URL', 'See http://[2001:db8::1]:8080/a here', '2001'],
    ['a shortener on .gy', 'Short: rb.gy/x7k2 ok', 'rb.gy'],
    ['a shortener on .gd', 'Short: is.gd/abc ok', 'is.gd'],
    ['an IDN domain on an IDN TLD', 'Сайт: пример.рф/акция', 'пример'],
    ['a punycode TLD', 'Site: xn--e1afmkfd.xn--p1ai/x', 'xn--'],
    ['a punycode domain', 'Site: xn--80ak6aa92e.com', 'xn--'],
    ['an internationalised domain on .com', 'Site: bücher-sale.com', 'bücher'],
    ['a www. form on an unknown TLD', 'See www.evil.internal for more', 'evil'],
    ['a scheme with any host', 'Open http://localhost:3000/x now', 'localhost'],
    ['a decimal-IP URL', 'Open http://2130706433/ now', '2130706433'],
    ['a non-http scheme', 'Get ftp://files.example.net/a', 'files'],
    ['an email on a new TLD', 'Write to boss@evil.lol today', 'evil'],
    ['user@host in a URL', 'Open https://shop.example@evil.lol/x', 'evil'],
    ['an upper-case domain', 'Visit EVIL.SHOP now', 'EVIL'],
    ['a trailing-dot domain', 'Visit evil.com. now', 'evil'],
    ['a domain inside Chinese text without spaces', '请访问evil.com获取优惠', 'evil'],
    ['a full-width domain inside Japanese text', 'こちらｅｖｉｌ．ｃｏｍへ', 'ｅｖｉｌ'],
    ['a domain with a path inside Thai text', 'รับส่วนลด ไปที่evil.lol/xเพื่อรับ', 'evil'],
  ])('removes %s', (_name, text, gone) => {
    const r = reply(text)
    expect(r.text).not.toContain(gone)
    expect(r.text).toContain(LINK_REMOVED)
    expect(r.linksRemoved).toBeGreaterThanOrEqual(1)
  })

  it('keeps the rest of the answer around a removed link', () => {
    expect(reply('Our sale: deals.lol/today. See you soon!').text).toBe(`Our sale: ${LINK_REMOVED}. See you soon!`)
    expect(reply('请访问evil.com获取优惠，谢谢').text).toBe(`请访问${LINK_REMOVED}获取优惠，谢谢`)
  })

  it('keeps an allowed domain inside text without spaces', () => {
    expect(checkReply('请访问shop.example获取', shop)).toEqual({ ok: true, text: '请访问shop.example获取' })
  })

  it.each([
    'https://shop.example/faq?x=1#top',
    'shop.example/faq',
    'help.shop.example',
    'http://help.shop.example:8443/a',
    'orders@shop.example',
    'SHOP.EXAMPLE/Sale',
  ])('keeps the allowed %s', (link) => {
    const r = checkReply(`See ${link} for details.`, shop)
    expect(r).toEqual({ ok: true, text: `See ${link} for details.` })
  })

  it.each([
    ['a look-alike of the allowed domain', 'myshop.c0m.lol'],
    ['a digit for a letter', 'mysh0p.com'],
    ['the allowed domain as a label of another', 'myshop.com.evil.lol'],
    ['a suffix without a dot', 'evilmyshop.com'],
    ['the allowed host in Cyrillic', 'myshоp.com'],
    ['the allowed domain on a non-http scheme', 'ftp://myshop.com/a'],
  ])('removes %s', (_name, link) => {
    expect(reply(`Go to ${link} now`, ['myshop.com']).text).toBe(`Go to ${LINK_REMOVED} now`)
  })

  it.each([
    'e.g. the blue one, i.e. size M',
    'Open 9.30am to 5.30pm, Mon.–Fri.',
    'Use file.txt or Node.js 20.11, version 1.2.3',
    'Price: 12.99 EUR, 3.5 kg',
    'Call at 10:30 or 12:30:45',
    'Ratio 2:1, see section 4.2.1',
  ])('leaves text that no client links: %j', (text) => {
    expect(reply(text)).toEqual({ ok: true, text })
  })

  it('carries every IANA TLD of the maintained list, IDN ones included', () => {
    const punycode = (t: string) => new URL(`http://${t}/`).hostname
    for (const t of tlds) {
      expect([t, isTld(t), isTld(t.toUpperCase()), isTld(punycode(t))]).toEqual([t, true, true, true])
    }
    expect(tlds.filter((t) => /[^a-z0-9-]/.test(t)).length).toBeGreaterThan(100) // IDN TLDs are there
    for (const notTld of ['txt', 'js', 'exe', 'example', 'localhost', 'xn--zzzzzz', 'com-', 'рфф']) expect(isTld(notTld)).toBe(false)
  })

  it('property: random hosts on random real TLDs never survive, allowed hosts do', () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/)
    const tld = fc.constantFrom(...tlds)
    const dot = fc.constantFrom('.', '。', '．', '｡')
    const shape = fc.constantFrom('bare', 'path', 'https', 'www', 'email', 'upper', 'sentence')
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 3 }), tld, dot, shape, (labels, t, d, kind) => {
        const host = [...labels, t].join(d)
        const link = {
          bare: host,
          path: `${host}/p?q=1`,
          https: `https://${host}/`,
          www: `www.${host}`,
          email: `me@${host}`,
          upper: host.toUpperCase(),
          sentence: `${host}.`,
        }[kind]
        const { text, removed } = stripLinks(`Hi, see ${link} now`, ['shop.example'])
        expect(removed).toBe(1)
        expect(text).toBe(`Hi, see ${LINK_REMOVED}${kind === 'sentence' ? '.' : ''} now`)
      }),
      { numRuns: 400 }
    )
    fc.assert(
      fc.property(fc.array(label, { maxLength: 2 }), fc.constantFrom('', '/faq', ':443/a?b=c'), (labels, path) => {
        const link = `https://${[...labels, 'shop', 'example'].join('.')}${path}`
        expect(stripLinks(`Hi, see ${link} now`, ['shop.example'])).toEqual({ text: `Hi, see ${link} now`, removed: 0 })
      }),
      { numRuns: 200 }
    )
  })
})
