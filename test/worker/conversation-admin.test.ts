/** The operator's view of one conversation (paused, why, opted out) and resuming the bot. */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { DEFAULT_ACCOUNT_ID } from '../../tools/payloads'
import { newSender, postItems, testConfig } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

const ADMIN = 'admin-token-for-tests-0123456789'
const over = { ADMIN_TOKEN: ADMIN } as Partial<Env>
let net: ReturnType<typeof installNetwork>
beforeEach(() => (net = installNetwork()))
afterEach(() => net.restore())

async function call(path: string, init: RequestInit = {}, o: Partial<Env> = over) {
  const ctx = createExecutionContext()
  const res = await worker.fetch(new Request(`https://bot.test${path}`, init) as Request<unknown, IncomingRequestCfProperties>, { ...env, ...o } as Env, ctx)
  await waitOnExecutionContext(ctx)
  return res
}
const auth = { authorization: `Bearer ${ADMIN}` }
const state = async (user: string) => (await (await call(`/admin/api/conversation?account=${DEFAULT_ACCOUNT_ID}&user=${user}`, { headers: auth })).json()) as { optedOut: boolean; pausedUntil: number | null; pauseReason: string | null }

describe('conversation state for the operator', () => {
  it('says why the bot is quiet, and resuming lets it answer again', async () => {
    const sender = newSender()
    const t = Date.now() - 10_000
    expect(await state(sender)).toEqual({ optedOut: false, pausedUntil: null, pauseReason: null })
    await postItems([{ senderId: sender, text: 'can I talk to a person please', timestamp: t }])
    const paused = await state(sender)
    expect(paused.pauseReason).toBe('handoff')
    expect(paused.pausedUntil).toBeGreaterThan(Date.now())
    const res = await call(`/admin/api/conversation/resume?account=${DEFAULT_ACCOUNT_ID}&user=${sender}`, { method: 'POST', headers: auth })
    expect(await res.json()).toEqual({ optedOut: false, pausedUntil: null, pauseReason: null })
    await postItems([{ senderId: sender, text: 'what are your prices?', timestamp: t + 1 }])
    expect(net.textsTo(sender)).toHaveLength(2)
  })

  it('tells a person answering from the app from a handoff, and keeps an opt-out through a resume', async () => {
    const sender = newSender()
    const t = Date.now() - 10_000
    await postItems([{ kind: 'echo', senderId: sender, text: 'Hi, this is Anna from the shop', timestamp: t }])
    expect((await state(sender)).pauseReason).toBe('person_answered')
    const other = newSender()
    await postItems([{ senderId: other, text: 'STOP', timestamp: t }])
    await call(`/admin/api/conversation/resume?account=${DEFAULT_ACCOUNT_ID}&user=${other}`, { method: 'POST', headers: auth })
    expect((await state(other)).optedOut).toBe(true)
    expect(net.textsTo(other)).toEqual([testConfig().OPT_OUT_REPLY])
  })

  it('is closed without ADMIN_TOKEN, refuses other callers and hostile ids', async () => {
    expect((await call('/admin/api/conversation?user=1', { headers: auth }, {})).status).toBe(404)
    expect((await call('/admin/api/conversation?user=1')).status).toBe(401)
    expect((await call('/admin/api/conversation/resume?user=1', { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
    for (const q of ['user=../1', 'user=', 'user=1&account=me%3A1', `user=${'1'.repeat(40)}`]) {
      expect((await call(`/admin/api/conversation?${q}`, { headers: auth })).status).toBe(400)
    }
  })
})
