/**
 * Connecting an Instagram account, end to end in headless Chromium: the inbox page's Connect
 * button signs in to the Worker's operator page, Connect goes through the stand-in's Instagram
 * consent page, the callback exchanges the code, stores the long-lived token, subscribes the
 * account, and the page shows it; a DM is then answered with the connected token.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startInboxServer } from '../../scripts/sandbox/inbox-server.mjs'
import { launchChromium } from './browser.mjs'
import { lifecycle, newSender, SANDBOX_SECRETS, startE2E } from './harness.mjs'

let stack
let inbox
let browser

const life = lifecycle(async () => {
  const parts = []
  const stop = async () => {
    for (const p of parts.reverse()) await p.stop()
  }
  try {
    const s = await startE2E()
    parts.push({ stop: () => s.stop() })
    const i = await startInboxServer({ workerUrl: s.workerUrl, appSecret: s.secret, accountId: s.accountId, graph: s.graph, mode: s.mode, adminToken: SANDBOX_SECRETS.ADMIN_TOKEN })
    parts.push({ stop: () => i.close() })
    const b = await launchChromium()
    parts.push({ stop: () => b.close() })
    return { stack: s, inbox: i, browser: b, stop }
  } catch (err) {
    await stop()
    throw err
  }
})

before(async () => {
  ;({ stack, inbox, browser } = await life.start())
})
after(() => life.stop())

describe('connect flow', () => {
  test('keeps the operator page closed to a visitor without the admin token', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${stack.workerUrl}/admin`)
    assert.equal(await page.locator('form[action="/admin/login"]').count(), 1)
    assert.equal(await page.locator('#connect').count(), 0)
    await page.fill('#token', 'wrong-token-wrong-token-wrong-token')
    await page.click('button[type=submit]')
    await page.locator('text=That token is not right').waitFor({ timeout: 5000 })
    await page.close()
  })

  test('authorize → callback → token stored → subscription made → page shows the account', async () => {
    const page = await browser.context.newPage()
    await page.goto(inbox.url)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 })
    const [operator] = await Promise.all([browser.context.waitForEvent('page'), page.click('#connect-button')])
    await operator.waitForLoadState()
    await operator.locator('#connect').waitFor({ timeout: 10000 })
    assert.match(await operator.locator('#account').textContent(), /No account connected/)
    await operator.click('#connect')
    // The stand-in's consent page, with the permissions the Worker asked for.
    await operator.locator('#allow').waitFor({ timeout: 10000 })
    assert.match(await operator.textContent('body'), /instagram_business_manage_messages/)
    await operator.click('#allow')
    await operator.locator('#result').waitFor({ timeout: 15000 })
    const result = await operator.textContent('#result')
    assert.match(result, /Connected @sandbox_shop/)
    assert.match(result, /messages, messaging_postbacks, messaging_seen, message_reactions, messaging_referral/)

    const seen = stack.graph.oauth
    assert.equal(seen.codesUsed, 1)
    assert.equal(seen.longTokens.length, 1)
    assert.deepEqual(seen.subscriptions.map((s) => s.fields.join(',')), ['messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral'])

    // Back on the operator page (same site now, so the session cookie goes along).
    await operator.click('text=Open the operator page')
    await operator.locator('#account').waitFor({ timeout: 10000 })
    const account = await operator.textContent('#account')
    assert.match(account, /@sandbox_shop/)
    assert.match(account, /from the Connect button/)
    assert.match(await operator.textContent('#fields'), /messaging_referral/)

    // A DM is answered with the connected (long-lived) token.
    const sender = newSender()
    const since = stack.graph.seq
    const res = await stack.post(JSON.stringify({ object: 'instagram', entry: [{ id: stack.accountId, time: Date.now(), messaging: [{ sender: { id: sender }, recipient: { id: stack.accountId }, timestamp: Date.now(), message: { mid: `m_connect_${sender}`, text: 'Are you open today?' } }] }] }))
    assert.equal(res.status, 200)
    const reply = await stack.graph.waitFor((r) => r.kind === 'message' && r.recipientId === sender, { sinceSeq: since, timeoutMs: 20000 })
    assert.ok(reply, 'the bot answered')
    const call = stack.graph.calls.filter((c) => c.recipientId === sender && c.path.endsWith('/messages')).at(-1)
    assert.equal(call?.viaConnectedToken, true, 'sent with the connected long-lived token')
    await operator.reload()
    assert.match(await operator.textContent('#today'), /\d+DMs answered/)
    await operator.close()
    await page.close()
  })

  test('a declined consent is explained and changes nothing', async () => {
    const before = stack.graph.oauth
    const page = await browser.context.newPage()
    await page.goto(`${stack.workerUrl}/admin`)
    // Signed in already when the previous test ran in this browser; sign in otherwise.
    if (await page.locator('#token').count()) {
      await page.fill('#token', SANDBOX_SECRETS.ADMIN_TOKEN)
      await page.click('button[type=submit]')
    }
    await page.click('#connect')
    await page.click('#deny')
    await page.locator('#result').waitFor({ timeout: 10000 })
    assert.match(await page.textContent('#result'), /declined/)
    assert.equal(stack.graph.oauth.codesUsed, before.codesUsed)
    assert.equal(stack.graph.oauth.subscriptions.length, before.subscriptions.length)
    await page.close()
  })
})
