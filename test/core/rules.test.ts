/**
 * COMMENT_RULES and DM_RULES as settings: the example works as written, and every bad
 * rule is refused at startup with one message naming the setting, the rule index and the field
 * (never silently dropped, never printed back).
 */
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../src/core/config'

const secrets = () => ({
  APP_SECRET: 'app-secret-value-1',
  VERIFY_TOKEN: 'verify-token-value-2',
  IG_ACCESS_TOKEN: 'ig-token-value-3',
  OPENAI_API_KEY: 'openai-key-value-4',
})

function config(extra: Record<string, unknown>) {
  const result = readConfig({ ...secrets(), ...extra })
  if (!result.ok) throw new Error(result.message)
  return result.config
}

function refused(extra: Record<string, unknown>): string {
  const result = readConfig({ ...secrets(), ...extra })
  if (result.ok) throw new Error('expected a configuration error')
  return result.message
}

describe('rules settings', () => {
  it("accepts the issue's example exactly as written", () => {
    const c = config({ COMMENT_RULES: '[{"keywords":["price"],"private_reply":"Here is our price list","public_replies":["Sent you a DM!"]}]' })
    expect(c.COMMENT_RULES).toEqual([{ keywords: ['price'], private_reply: 'Here is our price list', public_replies: ['Sent you a DM!'] }])
  })

  it('defaults to no rules when unset or empty, and to 750 private replies per hour', () => {
    for (const v of [undefined, '', '   ']) {
      const c = config({ COMMENT_RULES: v, DM_RULES: v })
      expect(c.COMMENT_RULES).toEqual([])
      expect(c.DM_RULES).toEqual([])
      expect(c.PRIVATE_REPLIES_PER_HOUR).toBe(750)
      expect(c.PRIVATE_REPLY_WINDOW_SECONDS).toBe(3600)
    }
  })

  it('accepts null as private_reply (the assistant answers), media filters and rules without keywords', () => {
    const c = config({ COMMENT_RULES: JSON.stringify([{ keywords: ['menu'], private_reply: null, media: ['17990000000000001', 17990000000001] }, { private_reply: 'Thanks!' }]) })
    expect(c.COMMENT_RULES[0]).toEqual({ keywords: ['menu'], private_reply: null, media: ['17990000000000001', '17990000000001'] })
    expect(c.COMMENT_RULES[1]).toEqual({ private_reply: 'Thanks!' })
  })

  it('accepts rules given as a JSON value (wrangler.toml [vars]) as well as a string', () => {
    const c = config({ DM_RULES: [{ keywords: ['hours'], private_reply: 'Open 9-18' }] })
    expect(c.DM_RULES).toEqual([{ keywords: ['hours'], private_reply: 'Open 9-18' }])
  })

  it.each([
    ['not JSON', 'COMMENT_RULES', '[{keywords:', 'COMMENT_RULES (is not valid JSON'],
    ['an object instead of an array', 'COMMENT_RULES', '{"keywords":["price"]}', 'COMMENT_RULES (must be a JSON array of rules)'],
    ['a missing private_reply', 'COMMENT_RULES', '[{"keywords":["price"]}]', 'COMMENT_RULES (rule 0, field private_reply: private_reply is required'],
    ['a typo in a field name', 'COMMENT_RULES', '[{"keywords":["a"],"private_reply":"x"},{"keywords":["b"],"privat_reply":"y"}]', 'rule 1'],
    ['keywords as a string', 'COMMENT_RULES', '[{"keywords":"price","private_reply":"x"}]', 'rule 0, field keywords: keywords must be a list of words'],
    ['a regex-like keyword with no letters', 'COMMENT_RULES', '[{"keywords":[".*"],"private_reply":"x"}]', 'rule 0, field keywords.0: every keyword needs a letter or a digit'],
    ['an empty private reply', 'DM_RULES', '[{"keywords":["hours"],"private_reply":"  "}]', 'DM_RULES (rule 0, field private_reply: must not be empty'],
    ['a null private reply in a DM rule', 'DM_RULES', '[{"keywords":["hours"],"private_reply":null}]', 'DM_RULES (rule 0, field private_reply: private_reply is required'],
    ['public_replies in a DM rule', 'DM_RULES', '[{"keywords":["hours"],"private_reply":"9-18","public_replies":["x"]}]', 'DM_RULES (rule 0: unknown field "public_replies")'],
    ['a private reply over 1000 bytes', 'COMMENT_RULES', JSON.stringify([{ private_reply: 'é'.repeat(501) }]), 'rule 0, field private_reply: must fit one Instagram message'],
    ['a media id with a path', 'COMMENT_RULES', '[{"media":["../me"],"private_reply":"x"}]', 'rule 0, field media.0: media ids are Graph ids'],
    ['an empty media list', 'COMMENT_RULES', '[{"media":[],"private_reply":"x"}]', 'rule 0, field media: media, when given, lists at least one id'],
    ['101 rules', 'DM_RULES', JSON.stringify(Array.from({ length: 101 }, () => ({ private_reply: 'x' }))), 'DM_RULES (at most 100 rules)'],
    ['a rule that is a string', 'COMMENT_RULES', '["price"]', 'COMMENT_RULES (rule 0:'],
  ])('refuses %s, naming the setting, rule and field', (_, name, value, expected) => {
    const message = refused({ [name]: value })
    expect(message).toContain(expected)
  })

  it('never prints the rule texts back', () => {
    const message = refused({ COMMENT_RULES: '[{"keywords":["sekrit-word"],"private_reply":"","public_replies":["sekrit-answer"]}]' })
    expect(message).toContain('COMMENT_RULES')
    expect(message).not.toContain('sekrit')
  })

  it('reports a bad rule together with the other bad settings', () => {
    const result = readConfig({ ...secrets(), COMMENT_RULES: '[1]', DM_RULES: 'nope', GRAPH_API_VERSION: '25' })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.invalid.sort()).toEqual(['COMMENT_RULES', 'DM_RULES', 'GRAPH_API_VERSION'])
  })

  it('bounds the private-reply pacing settings (never above Meta\'s 750 per hour)', () => {
    expect(refused({ PRIVATE_REPLIES_PER_HOUR: '751' })).toContain('PRIVATE_REPLIES_PER_HOUR')
    expect(refused({ PRIVATE_REPLIES_PER_HOUR: '0' })).toContain('PRIVATE_REPLIES_PER_HOUR')
    expect(refused({ PRIVATE_REPLY_WINDOW_SECONDS: '3601' })).toContain('PRIVATE_REPLY_WINDOW_SECONDS')
  })
})
