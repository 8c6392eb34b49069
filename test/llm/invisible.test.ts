import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../src/core/config'
import { checkReply, LINK_REMOVED } from '../../src/llm/output-guard'
import { generateReply } from '../../src/llm/reply'
import { recordingLogger } from '../helpers/recording-log'

const ctx = { canary: 'ref-5f1c0a9e77d24b3a8c6e0f12', systemPrompt: 'You are a shop assistant.', allowedDomains: [] as string[] }

describe('invisible output (issue 17, finding 7)', () => {
  it.each([
    ['zero-width spaces and joiners', '\u200B\u200C\u200D\u2060\uFEFF'],
    ['Hangul fillers', '\u3164\u115F\u1160\uFFA0'],
    ['bidi controls', '\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061C'],
    ['a mix with spaces and a soft hyphen', ' \u3164 \u200B\u00AD\n\u202E '],
    ['a Braille blank and variation selectors', '\u2800\uFE0F\u{E0100}'],
    ['tag characters (hidden ASCII)', '\u{E0068}\u{E0069}'],
  ])('refuses a reply made only of %s as empty', (_kind, reply) => {
    expect(checkReply(reply, ctx)).toMatchObject({ ok: false, reason: 'empty' })
  })

  it('strips a right-to-left override so the customer sees what was checked', () => {
    const r = checkReply('ok \u202Egnp.exe', ctx)
    expect(r).toEqual({ ok: true, text: 'ok gnp.exe' })
  })

  it.each([
    ['zero-width characters', 'Hel\u200Blo, we\u200Dre open\uFEFF!', 'Hello, were open!'],
    ['bidi isolates and marks', 'Price \u2066100\u2069 \u200Feuro', 'Price 100 euro'],
    ['hidden tag characters', 'Thanks!\u{E0049}\u{E0047}\u{E004E}', 'Thanks!'],
    ['a Hangul filler posing as a space', 'see\u3164you', 'seeyou'],
  ])('removes %s from an otherwise visible reply', (_kind, reply, text) => {
    expect(checkReply(reply, ctx)).toEqual({ ok: true, text })
  })

  it('keeps emoji sequences whole: ZWJ sequences, variation selectors, keycaps, subdivision flags', () => {
    const text = 'Team 👩‍💻👨‍👩‍👧 ❤️ 1️⃣ 🏴󠁧󠁢󠁥󠁮󠁧󠁿 ok'
    expect(checkReply(text, ctx)).toEqual({ ok: true, text })
  })

  it('sees a link split by invisible characters', () => {
    const r = checkReply('Go to evil\u200B.\u2060lol/x now', ctx)
    expect(r).toEqual({ ok: true, text: `Go to ${LINK_REMOVED} now`, linksRemoved: 1 })
  })

  it('an invisible-only model answer never reaches the customer: the pipeline answers with the fixed text', async () => {
    const r0 = readConfig({ ...env })
    if (!r0.ok) throw new Error(r0.message)
    const config = r0.config
    const log = recordingLogger()
    const llm = { complete: async () => '\u200B\u3164\u202E\u2066 \u200F' }
    const r = await generateReply({ config, llm, log, canary: ctx.canary }, { text: 'hi', memory: [] })
    expect(r).toEqual({ outcome: 'output_blocked', text: config.REFUSAL_REPLY, reason: 'empty' })
    expect(log.lines.find((l) => l.event === 'output_blocked')?.fields).toEqual({ reason: 'empty', rule: 'invisible' })
  })
})
