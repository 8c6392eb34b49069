import { env, exports } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { signSignedRequest } from '../../src/meta/signed-request'
import { DEFAULT_ACCOUNT_ID, newMid } from '../../tools/payloads'
import { postItems, senderStub, newSender } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'
import { APP_SECRET } from '../helpers/sign'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => net.restore())


async function callback(path: string, payload: unknown, secret = APP_SECRET): Promise<Response> {
  const signed = await signSignedRequest(payload, secret)
  return exports.default.fetch(`https://worker.test${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ signed_request: signed }).toString(),
  })
}

const now = () => Math.floor(Date.now() / 1000)

describe('data deletion callback', () => {
  it('erases every stored trace of the user and answers {url, confirmation_code}', async () => {
    const sender = newSender()
    const mid = newMid()
    await postItems([{ senderId: sender, mid, text: 'my address is 1 Main St' }])
    expect((await senderStub(sender).snapshot()).turns.length).toBeGreaterThan(0)
    // Seen ids were written to KV by versions before issue 12; erasure still removes them.
    await env.DEDUP.put(`seen:${DEFAULT_ACCOUNT_ID}:${mid}`, '1')

    const res = await callback('/meta/data-deletion', { algorithm: 'HMAC-SHA256', issued_at: now(), user_id: sender })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { url: string; confirmation_code: string }
    expect(body.confirmation_code).toMatch(/^[A-Za-z0-9]{16,}$/)
    expect(body.url).toBe(`https://worker.test/meta/data-deletion/status?code=${body.confirmation_code}`)

    const snap = await senderStub(sender).snapshot()
    expect(snap).toEqual({ claims: 0, decisions: {}, turns: [], jobs: [], state: {} })
    expect(await env.DEDUP.get(`seen:${DEFAULT_ACCOUNT_ID}:${mid}`)).toBeNull()

    const status = await exports.default.fetch(body.url)
    expect(status.status).toBe(200)
    expect(await status.json()).toMatchObject({ confirmation_code: body.confirmation_code, status: 'completed' })
  })

  it('refuses a forged request with 4xx and erases nothing', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello' }])
    const res = await callback('/meta/data-deletion', { algorithm: 'HMAC-SHA256', issued_at: now(), user_id: sender }, 'not-the-app-secret')
    expect(res.status).toBe(401)
    expect((await senderStub(sender).snapshot()).turns.length).toBeGreaterThan(0)
  })

  it('answers 404 for an unknown confirmation code', async () => {
    const res = await exports.default.fetch('https://worker.test/meta/data-deletion/status?code=AAAAAAAAAAAAAAAAAAAAAA')
    expect(res.status).toBe(404)
  })
})

describe('deauthorize callback', () => {
  it('stops using the token of the account that removed the app', async () => {
    const acct = { IG_ACCOUNT_ID: 'deauth-account' } as Partial<Env>
    // The signed user is the served account (IG_ACCOUNT_ID of the test bindings); any other
    // user id is only acknowledged (test/worker/adversary.test.ts).
    const res = await exports.default.fetch('https://worker.test/meta/deauthorize', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ signed_request: await signSignedRequest({ algorithm: 'HMAC-SHA256', issued_at: now(), user_id: 'me' }, APP_SECRET) }).toString(),
    })
    expect(res.status).toBe(200)
    // The default account (IG_ACCOUNT_ID=me) was deauthorized: sends carry no token any more.
    expect(await env.ACCOUNT.getByName('me').token()).toBe('')
    const healthRes = await exports.default.fetch('https://worker.test/healthz')
    // Without a token nothing can be sent: an uptime monitor sees 503.
    expect(healthRes.status).toBe(503)
    const health = (await healthRes.json()) as { status: string }
    expect(health.status).toBe('degraded')
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hi' }])
    expect(net.textsTo(sender)).toEqual([])
    expect(net.graph.filter((c) => c.body.recipient?.id === sender && c.auth === 'Bearer test-ig-token')).toEqual([])
    // Another account in the same Worker (separate config) is unaffected.
    expect(await env.ACCOUNT.getByName(acct.IG_ACCOUNT_ID!).token()).toBe('test-ig-token')
  })
})
