import { describe, expect, it } from 'vitest'
import { PendingTallies, sanitizeTally, tallyKeyFor } from '../../src/conversation/tally'

describe("today's numbers", () => {
  it('count a reply under the outcome it had', () => {
    expect(tallyKeyFor('handoff')).toBe('handed_off')
    for (const o of ['refused', 'leak_blocked', 'output_blocked']) expect(tallyKeyFor(o)).toBe('refused')
    for (const o of ['llm', 'fallback', 'attachment', undefined]) expect(tallyKeyFor(o)).toBe('answered')
  })

  it('are handed over once and put back when the call carrying them failed', () => {
    const p = new PendingTallies()
    p.add('a', 'answered', 5)
    p.add('a', 'answered', 3)
    p.add('b', 'failed')
    const t = p.take('a')
    expect(t).toEqual({ answered: 2, refused: 0, handed_off: 0, failed: 0, lastReceivedAt: 5 })
    expect(p.take('a')).toBeUndefined()
    p.restore('a', t)
    p.add('a', 'refused')
    expect(p.take('a')).toEqual({ answered: 2, refused: 1, handed_off: 0, failed: 0, lastReceivedAt: 5 })
  })

  it('ignore hostile values from an RPC argument', () => {
    expect(sanitizeTally(null)).toBeNull()
    expect(sanitizeTally({ answered: -1, refused: 1.5, handed_off: 'x', failed: 1e12, lastReceivedAt: Infinity })).toEqual({ answered: 0, refused: 0, handed_off: 0, failed: 0, lastReceivedAt: 0 })
  })
})
