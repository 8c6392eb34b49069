/**
 * DM_RULES in the state machine: a matching DM gets the rule's fixed answer instead of a model
 * call, but only after opt-out, opt-in, pause and handoff had their say, and still rate limited.
 */
import { describe, expect, it } from 'vitest'
import { decideEvent } from '../../src/conversation/decide'
import type { InboundEvent } from '../../src/meta/webhook'
import { testConfig } from '../helpers/deliver'
import { withStores, type TestStores } from './stores'

const NOW = 1_800_000_000_000
let seq = 0
const text = (body: string): InboundEvent =>
  ({ kind: 'text', mid: `dm${++seq}`, text: body, accountId: 'acct', senderId: 'user', recipientId: 'acct', timestamp: NOW, source: 'messaging' }) as InboundEvent

const rules = [
  { keywords: ['hours', 'open'], private_reply: 'We are open Mon-Sat 9:00-18:00.' },
  { keywords: ['stop', 'agent'], private_reply: 'A rule that must never beat the compliance words.' },
]
const config = (over: Record<string, unknown> = {}) => ({ ...testConfig(), DM_RULES: rules, ...over })

function decide(s: TestStores, e: InboundEvent, c = config()) {
  return decideEvent(s, { e, key: (e as { mid: string }).mid, now: NOW, config: c })
}

function jobKind(s: TestStores, id: string | undefined) {
  expect(id).toBeDefined()
  return s.jobs.lease(id!, NOW, true)?.kind
}

describe('DM keyword rules', () => {
  it('answers a matching DM with the fixed text, no model call', async () => {
    await withStores((s) => {
      const d = decide(s, text('Are you OPEN on Sunday?'))
      expect(d.decision).toBe('new')
      expect(jobKind(s, d.job)).toEqual({ type: 'fixed', text: 'We are open Mon-Sat 9:00-18:00.', reason: 'dm_rule' })
    })
  })

  it('leaves a DM that matches no rule to the model', async () => {
    await withStores((s) => {
      const d = decide(s, text('Do you ship to Portugal?'))
      expect(jobKind(s, d.job)).toMatchObject({ type: 'llm', text: 'Do you ship to Portugal?' })
    })
  })

  it('lets opt-out and handoff words win over a rule with the same keyword', async () => {
    await withStores((s) => {
      expect(decide(s, text('can I talk to an agent'))).toMatchObject({ decision: 'handoff' })
    })
    await withStores((s) => {
      const d = decide(s, text('STOP'))
      expect(d.decision).toBe('opt_out')
      expect(jobKind(s, d.job)).toMatchObject({ type: 'fixed', reason: 'opt_out' })
      expect(decide(s, text('what are your hours?'))).toEqual({ decision: 'opted_out' })
    })
  })

  it('stays quiet while a person has taken over', async () => {
    await withStores((s) => {
      s.state.set('paused_until', NOW + 60_000)
      expect(decide(s, text('hours?'))).toEqual({ decision: 'paused' })
    })
  })

  it('is still rate limited', async () => {
    await withStores((s) => {
      const c = config({ RATE_LIMIT_BURST: 1 })
      expect(decide(s, text('hours?'), c).decision).toBe('new')
      expect(decide(s, text('hours??'), c).decision).toMatch(/^rate_limited/)
    })
  })
})
