/**
 * Conversation starters as configuration: validation (≤ 4 ice breakers per locale, a default
 * locale, https menu links), the messenger_profile request and the difference --check reports.
 */
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../src/core/config'
import { profileBody, profileDiff, profileRequests, type Profile } from '../../src/core/profile'

const secrets = { APP_SECRET: 'a', VERIFY_TOKEN: 'b', IG_ACCESS_TOKEN: 'c', OPENAI_API_KEY: 'd' }

function refused(extra: Record<string, unknown>): string {
  const r = readConfig({ ...secrets, ...extra })
  if (r.ok) throw new Error('expected a configuration error')
  return r.message
}

const q = (n: number) => Array.from({ length: n }, (_, i) => ({ question: `Question ${i}?`, payload: `Q${i}` }))
const profile: Profile = {
  iceBreakers: { es_ES: q(1), default: q(2) },
  persistentMenu: { default: [{ type: 'postback', title: 'Prices', payload: 'PRICES' }, { type: 'web_url', title: 'Shop', url: 'https://shop.example' }] },
}

describe('conversation starter settings', () => {
  it('accepts ice breakers per locale and a persistent menu', () => {
    const r = readConfig({ ...secrets, ICE_BREAKERS: JSON.stringify({ default: q(4) }), PERSISTENT_MENU: JSON.stringify(profile.persistentMenu) })
    if (!r.ok) throw new Error(r.message)
    expect(r.config.ICE_BREAKERS?.default).toHaveLength(4)
    expect(r.config.PERSISTENT_MENU?.default).toHaveLength(2)
  })

  it.each([
    ['five ice breakers in a locale', { ICE_BREAKERS: JSON.stringify({ default: q(5) }) }, 'ICE_BREAKERS (default: at most 4 ice breakers per locale)'],
    ['no default locale', { ICE_BREAKERS: JSON.stringify({ en_US: q(1) }) }, 'ICE_BREAKERS (a "default" locale is required)'],
    ['a made-up locale', { ICE_BREAKERS: JSON.stringify({ default: q(1), '../x': q(1) }) }, 'ICE_BREAKERS (../x: '],
    ['a question without payload', { ICE_BREAKERS: JSON.stringify({ default: [{ question: 'Hi?' }] }) }, 'ICE_BREAKERS (default.0.payload'],
    ['not JSON', { ICE_BREAKERS: '{default:' }, 'ICE_BREAKERS (is not valid JSON)'],
    ['an http menu link', { PERSISTENT_MENU: JSON.stringify({ default: [{ type: 'web_url', title: 'Shop', url: 'http://shop.example' }] }) }, 'a menu link must be https'],
    ['a javascript: menu link', { PERSISTENT_MENU: JSON.stringify({ default: [{ type: 'web_url', title: 'Shop', url: 'javascript:alert(1)' }] }) }, 'PERSISTENT_MENU'],
    ['an unknown menu item type', { PERSISTENT_MENU: JSON.stringify({ default: [{ type: 'call', title: 'Call', payload: '1' }] }) }, 'PERSISTENT_MENU'],
  ])('refuses %s, naming the setting', (_, extra, expected) => {
    expect(refused(extra)).toContain(expected)
  })
})

describe('messenger_profile requests', () => {
  it('builds Meta\'s body with the default locale first', () => {
    expect(profileBody(profile)).toEqual({
      platform: 'instagram',
      ice_breakers: [
        { locale: 'default', call_to_actions: q(2) },
        { locale: 'es_ES', call_to_actions: q(1) },
      ],
      persistent_menu: [{ locale: 'default', composer_input_disabled: false, call_to_actions: profile.persistentMenu!.default }],
    })
  })

  it('posts to and reads from the account\'s messenger_profile edge', () => {
    const r = profileRequests(profile, { base: 'https://graph.instagram.com/', version: 'v25.0', accountId: '17841400000000001' })
    expect(r.apply).toMatchObject({ method: 'POST', url: 'https://graph.instagram.com/v25.0/17841400000000001/messenger_profile' })
    expect(r.read).toEqual({ method: 'GET', url: 'https://graph.instagram.com/v25.0/17841400000000001/messenger_profile?platform=instagram&fields=ice_breakers,persistent_menu' })
  })

  it('refuses an account id or version that would change the path', () => {
    expect(() => profileRequests(profile, { base: 'https://g', version: 'v25.0', accountId: '../me' })).toThrow()
    expect(() => profileRequests(profile, { base: 'https://g', version: '../v1', accountId: 'me' })).toThrow()
  })
})

describe('--check', () => {
  const returned = (body: Record<string, unknown>) => ({ data: [body] })

  it('reports nothing when Meta has what is configured (key order aside)', () => {
    const body = profileBody(profile)
    const reordered = (body.ice_breakers as { locale: string; call_to_actions: { question: string; payload: string }[] }[]).map((l) => ({
      call_to_actions: l.call_to_actions.map((a) => ({ payload: a.payload, question: a.question })),
      locale: l.locale,
    }))
    expect(profileDiff(profile, returned({ ...body, ice_breakers: reordered }))).toEqual([])
  })

  it('names each field and locale that differs, is missing or is extra', () => {
    const body = profileBody({ iceBreakers: { default: q(1), fr_FR: q(1) } })
    expect(profileDiff(profile, returned(body))).toEqual([
      'ice_breakers default: differs',
      'ice_breakers es_ES: configured, missing at Meta',
      'ice_breakers fr_FR: at Meta, not configured',
      'persistent_menu default: configured, missing at Meta',
    ])
    expect(profileDiff({ iceBreakers: { default: q(1) } }, returned(profileBody(profile)))).toEqual(['ice_breakers default: differs', 'ice_breakers es_ES: at Meta, not configured', 'persistent_menu: set at Meta (default) but not configured'])
  })

  it('treats a hostile or empty answer as "nothing set"', () => {
    for (const answer of [null, 'x', { data: 'x' }, { data: [null] }, { data: [{ ice_breakers: 'x' }] }]) {
      expect(profileDiff({ iceBreakers: { default: q(1) } }, answer)).toEqual(['ice_breakers default: configured, missing at Meta'])
    }
  })
})
