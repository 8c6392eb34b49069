/**
 * The real pipeline dependencies against the account object: which token a 190 is charged to,
 * what a bare 401 means, and when an invalid mark is lifted (issue 17, findings 2 and 3).
 */
import { env } from 'cloudflare:workers'
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/core/log'
import worker from '../../src/index'
import { createPipelineDeps, forgetCachedToken } from '../../src/conversation/deps'
import { newSender, postItems, testConfig } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
afterEach(() => net?.restore())

const CONFIGURED = 'Bearer test-ig-token'
const rejected190 = () =>
  Response.json({ error: { message: 'Error validating access token: Session has expired', type: 'OAuthException', code: 190, error_subcode: 463 } }, { status: 400 })

let accounts = 0
/** A fresh account object per test (IG_ACCOUNT_ID names it), so token state never leaks between tests. */
function freshAccount() {
  const id = `1784149${String(Date.now()).slice(-6)}${String(++accounts).padStart(3, '0')}`
  forgetCachedToken(id)
  return { id, stub: env.ACCOUNT.getByName(id), config: { ...testConfig(), IG_ACCOUNT_ID: id } }
}

describe('tokens on the send path', () => {
  it('charges a 190 to the token that request carried, so a token the cron stored meanwhile stays valid', async () => {
    const acct = freshAccount()
    let reject = false
    net = installNetwork({ graph: (call) => (reject && call.auth === CONFIGURED ? rejected190() : undefined) })
    const deps = createPipelineDeps(env, acct.config, createLogger(), () => Date.now() + 20_000)
    const sender = newSender()
    // This isolate caches the configured token; then the daily cron rotates it.
    await deps.send.text(sender, 'first')
    expect(await acct.stub.refresh()).toMatchObject({ outcome: 'refreshed' })
    const rotated = await acct.stub.token()
    expect(rotated).toMatch(/^refreshed-token-/)
    // Meta now refuses the old token, which this isolate still has cached (twice: two replies in flight).
    reject = true
    const inFlight = await Promise.allSettled([deps.send.text(sender, 'second'), deps.send.text(sender, 'third')])
    expect(inFlight.map((r) => (r.status === 'rejected' ? (r.reason as { code?: number }).code : 'sent'))).toEqual([190, 190])
    // The cache has expired by the time the failures are reported.
    forgetCachedToken(acct.id)
    await deps.report('token_invalid', { reason: 'token_invalid' })
    await deps.report('token_invalid', { reason: 'token_invalid' })
    expect(await acct.stub.token()).toBe(rotated)
    expect((await acct.stub.status(100)).tokenInvalid).toBeNull()
    // The next send uses the rotated token and goes out.
    await deps.send.text(sender, 'fourth')
    expect(net.graph.at(-1)!.auth).toBe(`Bearer ${rotated}`)
  })

  it('treats a bare 401 (a proxy\'s page, no Graph error code) as a passing failure: the reply goes out, nothing is marked', async () => {
    const acct = freshAccount()
    let n = 0
    net = installNetwork({
      graph: (call) => (!call.body.sender_action && n++ === 0 ? new Response('<html><body>401 Authorization Required</body></html>', { status: 401, headers: { 'content-type': 'text/html' } }) : undefined),
    })
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello?' }], { IG_ACCOUNT_ID: acct.id } as Partial<Env>)
    expect(net.textsTo(sender)).toHaveLength(1)
    const status = await acct.stub.status(100)
    expect(status.tokenInvalid).toBeNull()
    expect(status.token.degraded_reasons).not.toContain('token_invalid')
  })

  it('lifts an invalid mark when a later send with that same token succeeds, and the daily refresh resumes', async () => {
    const acct = freshAccount()
    net = installNetwork()
    expect(await acct.stub.tokenRejected('test-ig-token', 'send_api_190')).toBe('marked')
    expect((await acct.stub.status(100)).tokenInvalid).not.toBeNull()
    expect(await acct.stub.refresh()).toMatchObject({ outcome: 'invalid' })
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'still there?' }], { IG_ACCOUNT_ID: acct.id } as Partial<Env>)
    expect(net.textsTo(sender)).toHaveLength(1)
    expect((await acct.stub.status(100)).tokenInvalid).toBeNull()
    expect(await acct.stub.refresh()).toMatchObject({ outcome: 'refreshed' })
  })
})

describe('throttling (issue 17)', () => {
  const throttled = (headers: Record<string, string> = {}) =>
    new Response(JSON.stringify({ error: { message: '(#4) Application request limit reached', type: 'OAuthException', code: 4, is_transient: true } }), {
      status: 400,
      headers: { 'content-type': 'application/json', ...headers },
    })
  const hour = { 'x-business-use-case-usage': JSON.stringify({ '17841400000000001': [{ type: 'messenger', call_count: 100, estimated_time_to_regain_access: 60 }] }) }
  const texts = () => net.graph.filter((c) => !c.body.sender_action).length

  it('code 4 with an hour\'s hint: a few Send API calls, then none for the account until the pause is over', async () => {
    // The account the sender objects' alarms also see (their env has no per-request override).
    const account = env.ACCOUNT.getByName(testConfig().IG_ACCOUNT_ID)
    net = installNetwork({ graph: (call) => (call.body.sender_action ? undefined : throttled(hour)) })
    const senders = [newSender(), newSender(), newSender()]
    const before = Date.now()
    try {
      await postItems([{ senderId: senders[0]!, text: 'first' }])
      expect(texts()).toBe(1)
      // More DMs, to the same and other senders, and every sender's alarm: no Send API call while paused.
      await postItems(senders.map((s) => ({ senderId: s, text: 'more' })))
      for (const s of senders) await runDurableObjectAlarm(env.SENDER.getByName(`17841400000000001:${s}`))
      expect(texts()).toBe(1)
      expect((await account.status(100)).sendPausedUntil).toBeGreaterThanOrEqual(before + 59 * 60_000)
      // Every job waits for the end of the pause (not seconds, as transient errors do).
      for (const s of senders) {
        await runInDurableObject(env.SENDER.getByName(`17841400000000001:${s}`), (_o, state) => {
          // (Later jobs of a sender wait behind its first, in message order.)
          const first = state.storage.sql.exec<{ next_at: number }>("SELECT next_at FROM jobs WHERE state IN ('pending', 'generated') ORDER BY ts, id LIMIT 1").one()
          expect(first.next_at).toBeGreaterThanOrEqual(before + 59 * 60_000)
        })
      }
    } finally {
      await runInDurableObject(account, (_o, state) => {
        state.storage.sql.exec("DELETE FROM state WHERE k = 'send_paused_until'")
      })
      forgetCachedToken(testConfig().IG_ACCOUNT_ID)
    }
  })

  it('without a hint, pauses the account for minutes, not seconds, and /healthz detail shows the pause', async () => {
    const acct = freshAccount()
    net = installNetwork({ graph: (call) => (call.body.sender_action ? undefined : throttled()) })
    const before = Date.now()
    await postItems([{ senderId: newSender(), text: 'hello' }], { IG_ACCOUNT_ID: acct.id } as Partial<Env>)
    expect(texts()).toBe(1)
    const until = (await acct.stub.status(100)).sendPausedUntil!
    expect(until).toBeGreaterThanOrEqual(before + 4 * 60_000)
    const healthzToken = 'healthz-token-for-the-throttle-test'
    const ctx = createExecutionContext()
    const res = await worker.fetch(
      new Request('https://bot.test/healthz', { headers: { authorization: `Bearer ${healthzToken}` } }) as Request<unknown, IncomingRequestCfProperties>,
      { ...env, IG_ACCOUNT_ID: acct.id, HEALTHZ_TOKEN: healthzToken } as Env,
      ctx
    )
    await waitOnExecutionContext(ctx)
    const body = (await res.json()) as { degraded: string[]; send_paused_until: string | null }
    expect(body.degraded).toContain('send_throttled')
    expect(body.send_paused_until).toBe(new Date(until).toISOString())
  })

  it('HTTP 429 with Retry-After pauses for that long', async () => {
    const acct = freshAccount()
    net = installNetwork({ graph: (call) => (call.body.sender_action ? undefined : new Response('Too Many Requests', { status: 429, headers: { 'retry-after': '1200' } })) })
    const before = Date.now()
    await postItems([{ senderId: newSender(), text: 'hello' }], { IG_ACCOUNT_ID: acct.id } as Partial<Env>)
    expect(texts()).toBe(1)
    const until = (await acct.stub.status(100)).sendPausedUntil!
    expect(until).toBeGreaterThanOrEqual(before + 1_199_000)
    expect(until).toBeLessThan(before + 1_300_000)
  })
})

