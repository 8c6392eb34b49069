import { describe, expect, it } from 'vitest'
import { DEFAULT_SYSTEM_PROMPT } from '../../src/core/config'
import { capRaw, checkReply, LINK_REMOVED, MAX_RAW_REPLY_CHARS } from '../../src/llm/output-guard'

const ctx = { canary: 'ref-5f1c0a9e77d24b3a8c6e0f12', systemPrompt: DEFAULT_SYSTEM_PROMPT, allowedDomains: ['shop.example'] }
const N = 100_000
const fill = (unit: string) => unit.repeat(Math.ceil(N / unit.length)).slice(0, N)

// Shapes that made the old regexes backtrack (cubic on `[a](`, quadratic on `a.`), and the
// worst cases of every scan that replaced them. No timing here (that is `npm run bench`): run
// under vitest's 5 s test timeout, a super-linear guard on 100k characters fails by timing out.
const SHAPES: Array<[string, string]> = [
  ['markdown link openers `[a](`', fill('[a](')],
  ['`a.` repeated', fill('a.')],
  ['`http://` repeated', fill('http://')],
  ['a run of dots', fill('.')],
  ['a run of digits', fill('7')],
  ['a run of letters and digits without spaces', fill('a1B2')],
  ['nested brackets', '['.repeat(N / 2) + ']'.repeat(N / 2)],
  ['`&#` repeated', fill('&#')],
  ['`%` repeated', fill('%')],
  ['`%4` repeated', fill('%4')],
  ['image openers `![`', fill('![')],
  ['`a@` repeated', fill('a@')],
  ['`1:` repeated (IPv6-like)', fill('1:')],
  ['`www.` repeated', fill('www.')],
  ['`[a](b ` repeated', fill('[a](b ')],
  ['`&amp` without semicolons', fill('&amp')],
  ['`onx ` repeated', fill('onx ')],
  ['digits and dots (IPv4-like)', fill('1.')],
  ['Chinese text running into domains', fill('访a.com')],
  ['Chinese text running into dotted Latin', fill('访a.')],
]

describe('output guard on hostile model output (issue 17, finding 6)', () => {
  it.each(SHAPES)('checks 100k characters of %s', (_name, raw) => {
    expect(raw.length).toBe(N)
    const r = checkReply(raw, ctx)
    if (r.ok) expect(new TextEncoder().encode(r.text).byteLength).toBeLessThanOrEqual(3000)
    else expect(['leak', 'forbidden', 'empty']).toContain(r.reason)
  })

  it('caps raw output before any check: only the first MAX_RAW_REPLY_CHARS characters are read', () => {
    const unit = 'see evil.lol ' // 13 characters, one link
    const raw = fill(unit)
    const r = checkReply(raw, { ...ctx, maxBytes: 100_000 })
    const inPrefix = raw.slice(0, MAX_RAW_REPLY_CHARS).split('evil.lol').length - 1
    expect(inPrefix).toBeLessThan(raw.split('evil.lol').length - 1)
    expect(r).toMatchObject({ ok: true, truncated: true, linksRemoved: inPrefix })
    // Past the cap nothing is looked at: a canary there is neither found nor sent.
    const late = `${'Hello. '.repeat(MAX_RAW_REPLY_CHARS / 7 + 1)}${ctx.canary}`
    expect(checkReply(late, { ...ctx, maxBytes: 100_000 })).toMatchObject({ ok: true, truncated: true })
  })

  it('never cuts the cap inside a surrogate pair', () => {
    const raw = `${'a'.repeat(MAX_RAW_REPLY_CHARS - 1)}😀${'b'.repeat(10)}`
    expect(capRaw(raw)).toBe('a'.repeat(MAX_RAW_REPLY_CHARS - 1))
    expect(capRaw('short')).toBe('short')
    expect(MAX_RAW_REPLY_CHARS).toBeGreaterThanOrEqual(10 * 1000) // what MAX_REPLY_PARTS=10 can send
  })

  it('still removes a link inside a long hostile run', () => {
    const r = checkReply(`${fill('[a](').slice(0, 5000)} evil.lol/x ok`, { ...ctx, maxBytes: 100_000 })
    expect(r.ok && r.text.includes(LINK_REMOVED) && !r.text.includes('evil')).toBe(true)
  })
})
