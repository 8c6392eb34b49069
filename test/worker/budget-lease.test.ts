/**
 * The daily LLM budget counted in per-isolate leases, through the Worker's routes: DMs and
 * comment replies take their units from one lease, so the account object sees a request per
 * block, not per model call; over budget behaves as before (one notice per sender per day).
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { FIRST_BLOCK } from '../../src/conversation/budget-lease'
import { obeyChat } from '../../tools/obeying-llm'
import { commentDelivery, newCommentId } from '../../tools/payloads'
import { newSender, post, postItems, testConfig } from '../helpers/deliver'
import { eventually, installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork({ llm: (body) => obeyChat(body.messages) })
})
afterEach(() => net.restore())

const HEALTHZ_TOKEN = 'healthz-token-for-the-lease-tests-0123456789'

let seq = 0
/**
 * Settings for a Worker serving its own account object (a fresh budget, and a lease no earlier
 * test of this isolate holds), whose ACCOUNT binding counts every request by method.
 */
function ownAccount(settings: Record<string, string> = {}) {
  const calls: string[] = []
  const ACCOUNT = {
    getByName(name: string) {
      const stub = env.ACCOUNT.getByName(name) as unknown as Record<string, (...a: unknown[]) => unknown>
      return new Proxy(
        {},
        {
          // Not a thenable: the Worker awaits the stub it gets.
          get: (_t, method: string) =>
            method === 'then'
              ? undefined
              : (...args: unknown[]) => {
                  calls.push(method)
                  return stub[method]!(...args)
                },
        }
      )
    },
  }
  const id = `1784150${String(Date.now()).slice(-6)}${String(++seq).padStart(3, '0')}`
  const over = { IG_ACCOUNT_ID: id, HEALTHZ_TOKEN, ...settings, ACCOUNT } as unknown as Partial<Env>
  return { id, over, calls, budgetRequests: () => calls.filter((m) => m === 'spend').length }
}

async function healthDetail(over: Partial<Env>) {
  const ctx = createExecutionContext()
  const req = new Request('https://worker.test/healthz', { headers: { authorization: `Bearer ${HEALTHZ_TOKEN}` } })
  const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, { ...env, ...over } as Env, ctx)
  await waitOnExecutionContext(ctx)
  return (await res.json()) as { degraded: string[]; counters: Record<string, number>; llm_budget: { used: number; limit: number } }
}

describe('the LLM budget in per-isolate leases, through the Worker', () => {
  it('20 DMs, each answered by the model, take their budget in 2 requests to the account object', async () => {
    const acct = ownAccount()
    const senders = Array.from({ length: 20 }, () => newSender())
    for (const s of senders) await postItems([{ senderId: s, text: 'do you ship to Portugal' }], acct.over)
    expect(senders.map((s) => net.textsTo(s).length)).toEqual(Array(20).fill(1))
    expect(net.llm).toHaveLength(20)
    expect(acct.budgetRequests()).toBeLessThanOrEqual(2)
    // The detail counts units reserved by leases (8 + 16 here), not model calls.
    const budget = (await healthDetail(acct.over)).llm_budget
    expect(budget.used).toBeGreaterThanOrEqual(20)
    expect(budget.used).toBeLessThanOrEqual(FIRST_BLOCK * 3)
  })

  it('a comment the assistant answers takes its unit from the same lease as the DMs (rv1.1)', async () => {
    const acct = ownAccount()
    const commentId = newCommentId()
    await post(commentDelivery([{ senderId: newSender(), commentId, text: 'I have a question about sizes' }]), acct.over)
    await eventually(() => net.privateReplies(commentId).length > 0)
    for (let i = 0; i < 3; i++) await postItems([{ senderId: newSender(), text: 'are you open on Sunday' }], acct.over)
    expect(net.llm).toHaveLength(4)
    expect(acct.budgetRequests()).toBe(1)
    expect((await healthDetail(acct.over)).llm_budget.used).toBe(FIRST_BLOCK)
  })

  it('over budget, a DM still gets its notice once per sender, the stage is counted and /healthz says exhausted', async () => {
    const acct = ownAccount({ LLM_DAILY_BUDGET: '1' })
    const first = newSender()
    await postItems([{ senderId: first, text: 'first question' }], acct.over)
    expect(net.textsTo(first)).toHaveLength(1)
    const before = (await healthDetail(acct.over)).counters.over_budget ?? 0
    const late = newSender()
    await postItems([{ senderId: late, text: 'a question' }], acct.over)
    await postItems([{ senderId: late, text: 'another question' }], acct.over)
    expect(net.textsTo(late)).toEqual([testConfig().BUDGET_REPLY])
    expect(net.llm).toHaveLength(1)
    const health = await healthDetail(acct.over)
    expect(health.counters.over_budget).toBe(before + 2)
    expect(health.llm_budget).toMatchObject({ used: 1, limit: 1 })
    expect(health.degraded).toContain('llm_budget_exhausted')
    // The isolate learnt it once: the second over-budget DM asked the object nothing.
    expect(acct.budgetRequests()).toBe(2)
  })

  it('with LLM_DAILY_BUDGET=0, no model call and no budget request: the sender gets the notice', async () => {
    const acct = ownAccount({ LLM_DAILY_BUDGET: '0' })
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello there' }], acct.over)
    expect(net.textsTo(sender)).toEqual([testConfig().BUDGET_REPLY])
    expect(net.llm).toHaveLength(0)
    expect(acct.budgetRequests()).toBe(0)
  })
})
