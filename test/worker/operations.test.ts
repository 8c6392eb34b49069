import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { postItems, senderStub, newSender, testConfig } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
afterEach(() => net.restore())

const config = testConfig

async function runCron(envOverride: Partial<Env> = {}) {
  const ctx = createExecutionContext()
  await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: '17 4 * * *' }), { ...env, ...envOverride } as Env, ctx)
  await waitOnExecutionContext(ctx)
}

const HEALTHZ_TOKEN = 'healthz-token-for-the-tests-0123456789'

/** The operator's /healthz detail (behind HEALTHZ_TOKEN). */
async function health(envOverride: Partial<Env> = {}) {
  const ctx = createExecutionContext()
  const req = new Request('https://worker.test/healthz', { headers: { authorization: `Bearer ${HEALTHZ_TOKEN}` } })
  const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, { ...env, HEALTHZ_TOKEN, ...envOverride } as Env, ctx)
  return { code: res.status, ...((await res.json()) as { status: string; degraded: string[]; token: { days_until_expiry: number | null; invalid: boolean } }) }
}

describe('token refresh by the daily cron', () => {
  it('refreshes the configured token, stores it with its expiry, and the send path uses it', async () => {
    net = installNetwork()
    const acct = { IG_ACCOUNT_ID: 'refresh-account' } as Partial<Env>
    await runCron(acct)
    expect(net.refreshes).toHaveLength(1)
    expect(net.refreshes[0]!.searchParams.get('grant_type')).toBe('ig_refresh_token')
    expect(net.refreshes[0]!.searchParams.get('access_token')).toBe('test-ig-token')
    const h = await health(acct)
    expect(h.token.days_until_expiry).toBe(59)
    expect(h.code).toBe(200)
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hi' }], acct)
    const calls = net.graph.filter((c) => c.body.recipient?.id === sender)
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.every((c) => c.auth === 'Bearer refreshed-token-1')).toBe(true)
    // Not due again the next day: a fresh 60-day token is left alone.
    await runCron(acct)
    expect(net.refreshes).toHaveLength(1)
  })

  it('keeps the old token and logs the reason when the refresh fails', async () => {
    net = installNetwork({ refresh: () => new Response('{"error":{"message":"Service temporarily unavailable","code":2}}', { status: 503 }) })
    const acct = { IG_ACCOUNT_ID: 'refresh-fails-account' } as Partial<Env>
    await runCron(acct)
    expect(net.refreshes).toHaveLength(1)
    expect(await env.ACCOUNT.getByName('refresh-fails-account').token()).toBe('test-ig-token')
    expect((await health(acct)).token.invalid).toBe(false)
  })

  it('marks the token invalid on error 190 from the Send API and reports it on /healthz', async () => {
    net = installNetwork({
      graph: (call) =>
        call.body.message
          ? Response.json({ error: { message: 'Error validating access token: Session has expired', type: 'OAuthException', code: 190, error_subcode: 463 } }, { status: 400 })
          : undefined,
    })
    const acct = { IG_ACCOUNT_ID: 'expired-account' } as Partial<Env>
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello' }], acct)
    expect(net.graph.filter((c) => c.body.message && c.body.recipient?.id === sender)).toHaveLength(1)
    const h = await health(acct)
    expect(h.status).toBe('degraded')
    expect(h.code).toBe(503)
    expect(h.degraded).toContain('token_invalid')
    expect(h.token.invalid).toBe(true)
  })
})

describe('opt-out and handoff', () => {
  beforeEach(() => {
    net = installNetwork()
  })

  it('silences the bot after STOP until START, surviving in the object\'s storage', async () => {
    const sender = newSender()
    const t = Date.now() - 10_000
    await postItems([{ senderId: sender, text: 'STOP', timestamp: t }])
    await postItems([{ senderId: sender, text: 'what are your prices?', timestamp: t + 1 }])
    expect(net.textsTo(sender)).toEqual([config().OPT_OUT_REPLY])
    expect((await senderStub(sender).snapshot()).state.opted_out).toBe('1')
    await postItems([{ senderId: sender, text: 'start', timestamp: t + 2 }])
    await postItems([{ senderId: sender, text: 'what are your prices?', timestamp: t + 3 }])
    const texts = net.textsTo(sender)
    expect(texts.slice(0, 2)).toEqual([config().OPT_OUT_REPLY, config().OPT_IN_REPLY])
    expect(texts).toHaveLength(3)
  })

  it('does not opt out on sentences that merely contain a stop word', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'can I stop my order?' }])
    expect(net.textsTo(sender)).toHaveLength(1)
    expect(net.textsTo(sender)[0]).not.toBe(config().OPT_OUT_REPLY)
  })

  it('hands off to a person: one notice, then the bot stays quiet for that sender', async () => {
    const sender = newSender()
    const t = Date.now() - 10_000
    await postItems([{ senderId: sender, text: 'can I talk to a person please', timestamp: t }])
    await postItems([{ senderId: sender, text: 'hello?', timestamp: t + 1 }])
    expect(net.textsTo(sender)).toEqual([config().HANDOFF_REPLY])
    const snap = await senderStub(sender).snapshot()
    expect(snap.decisions).toMatchObject({ handoff: 1, paused: 1 })
    expect(Number(snap.state.paused_until)).toBeGreaterThan(Date.now() + 23 * 3_600_000)
  })
})

it('exposes per-stage counters on /healthz', async () => {
  net = installNetwork()
  const before = ((await health()) as unknown as { counters: Record<string, number> }).counters
  const sender = newSender()
  await postItems([{ senderId: sender, text: 'hi' }])
  const after = (await health()) as unknown as { counters: Record<string, number>; last_reply_at: string | null }
  expect(after.counters.received).toBe(before.received! + 1)
  expect(after.counters.replied).toBe(before.replied! + 1)
  expect(after.last_reply_at).not.toBeNull()
})
