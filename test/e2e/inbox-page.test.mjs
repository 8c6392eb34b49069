/**
 * The sandbox inbox page in headless Chromium against the real `wrangler dev`: a newcomer's
 * first experience. Typing a message must reach the Worker signed and bring the bot's reply back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startInboxServer } from '../../scripts/sandbox/inbox-server.mjs'
import { launchChromium } from './browser.mjs'
import { lifecycle, settle, startE2E } from './harness.mjs'

/** The page's first preset sender. */
const SENDER = '1234567890123456'

let stack
let inbox
let page

// One start and one stop for the stack, the inbox server and Chromium, in that order.
const life = lifecycle(async () => {
  const parts = []
  const stop = async () => {
    for (const p of parts.reverse()) await p.stop()
  }
  try {
    // Default settings (the page shows burst coalescing as a newcomer would see it), and the
    // issue's example comment rule, for the post's comment box.
    const s = await startE2E({
      defaults: true,
      vars: { COMMENT_RULES: '[{"keywords":["price"],"private_reply":"Here is our price list","public_replies":["Sent you a DM!"]}]' },
    })
    parts.push({ stop: () => s.stop() })
    const i = await startInboxServer({
      workerUrl: s.workerUrl,
      appSecret: s.secret,
      accountId: s.accountId,
      graph: s.graph,
      mode: s.mode,
    })
    parts.push({ stop: () => i.close() })
    const b = await launchChromium()
    parts.push({ stop: () => b.close() })
    return { stack: s, inbox: i, browser: b, page: await b.context.newPage(), stop }
  } catch (err) {
    await stop()
    throw err
  }
})

before(async () => {
  ;({ stack, inbox, page } = await life.start())
})
after(() => life.stop())

const metaTexts = () => page.locator('.meta.me').allTextContents()

describe('inbox page', () => {
  test('loads, lists the senders and shows the Worker as healthy', async () => {
    const errors = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(inbox.url)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 })
    await page.locator('#health-text', { hasText: 'Worker ok' }).waitFor({ timeout: 10000 })
    assert.equal(await page.locator('#thread-list li').count(), 3)
    assert.match(await page.locator('#mode-text').textContent(), /LLM: sandbox stand-in/)
    assert.deepEqual(errors, [])
  })

  test("a message typed on the page is delivered signed (HTTP 200) and the bot's reply appears", async () => {
    await page.fill('#text', 'Are you open on Sunday?')
    await page.press('#text', 'Enter')
    await page.locator('.row.me .bubble', { hasText: 'Are you open on Sunday?' }).waitFor({ timeout: 10000 })
    assert.ok((await metaTexts()).some((t) => t.includes('HTTP 200')))
    const reply = page.locator('[data-testid="bot-reply"]', { hasText: '[sandbox] You said:' })
    await reply.waitFor({ timeout: 20000 })
    assert.match(await reply.first().textContent(), /Are you open on Sunday\?/)
  })

  test('the buttons deliver a photo, a story mention, a reaction, an unsend, an agent echo and a duplicate, all accepted', async () => {
    // Each click waits for its own line: counting lines raced with replies arriving late.
    const shows = { image: '📷 Photo', story_mention: 'Mentioned you in their story', reaction: 'You reacted', duplicate: 'Meta redelivered', echo: 'sent from the Instagram app', unsend: 'You unsent a message' }
    for (const [kind, line] of Object.entries(shows)) {
      await page.click(`#actions button[data-kind="${kind}"]`)
      await page.locator('#messages', { hasText: line }).waitFor({ timeout: 10000 })
    }
    // A click's wait can be met by the previous click's late element (a fixed reply reaches the
    // page before the page records the webhook it answers): wait for the last one itself.
    await page.locator('.system', { hasText: 'You unsent a message' }).waitFor({ timeout: 10000 })
    const text = await page.locator('#messages').textContent()
    assert.match(text, /📷 Photo/)
    assert.match(text, /Mentioned you in their story/)
    assert.match(text, /You reacted ❤️ to a message → HTTP 200/)
    assert.match(text, /Meta redelivered your last message \(same mid\) → HTTP 200/)
    assert.match(text, /sent from the Instagram app \(echo\) → HTTP 200/)
    assert.match(text, /You unsent a message → HTTP 200/)
    assert.match(text, /Message unsent/)
    assert.ok(!text.includes('not accepted'))
    // The photo and the story mention are answered; the reaction, the redelivery, the agent's
    // echo and the unsend are not: one text reply + two acknowledgements in the whole thread.
    await page.locator('[data-testid="bot-reply"]', { hasText: 'Thanks for sharing!' }).waitFor({ timeout: 10000 })
    await page.locator('[data-testid="bot-reply"]', { hasText: 'Thank you so much for the mention!' }).waitFor({ timeout: 10000 })
    await settle(stack.graph)
    assert.equal(stack.graph.messages(SENDER).length, 3)
    assert.equal(await page.locator('[data-testid="bot-reply"]').count(), 3)
  })

  test('a comment typed under the post gets the public reply under it and the private reply in the DM thread', async () => {
    await page.click('#thread-list li[data-sender="2234567890123457"]')
    await page.fill('#comment-text', 'What is the PRICE?')
    await page.press('#comment-text', 'Enter')
    await page.locator('#comments li', { hasText: 'What is the PRICE?' }).waitFor({ timeout: 10000 })
    await page.locator('[data-testid="public-reply"]', { hasText: 'Sent you a DM!' }).waitFor({ timeout: 20000 })
    const reply = page.locator('[data-testid="bot-reply"]', { hasText: 'Here is our price list' })
    await reply.waitFor({ timeout: 20000 })
    assert.match(await page.locator('#messages').textContent(), /private reply to your comment/)
    await settle(stack.graph)
    assert.equal(stack.graph.records.filter((r) => r.kind === 'private_reply').length, 1)
    assert.equal(stack.graph.records.filter((r) => r.kind === 'public_reply').length, 1)
  })

  test('three quick messages show one typing indicator and one answer to all three', async () => {
    await page.click('#new-sender')
    const sender = await page.locator('#thread-list li.active').getAttribute('data-sender')
    await page.click('#actions button[data-kind="burst"]')
    const reply = page.locator('[data-testid="bot-reply"]', { hasText: '(3 messages, one answer)' })
    await reply.waitFor({ timeout: 20000 })
    assert.match(await reply.textContent(), /hi \/ quick question \/ do you ship to Austria\?/)
    await page.locator('.tag.burst', { hasText: 'one answer to 3 messages' }).waitFor({ timeout: 5000 })
    await settle(stack.graph)
    assert.equal(stack.graph.messages(sender).length, 1)
    assert.equal(stack.graph.actions(sender, 'typing_on').length, 1)
  })

  test('the quick replies under the newest answer can be tapped and are answered like a message', async () => {
    const chips = page.locator('[data-testid="quick-replies"] .chip')
    await chips.first().waitFor({ timeout: 10000 })
    assert.deepEqual(await chips.allTextContents(), ['Opening hours', 'Talk to a person'])
    await chips.first().click()
    await page.locator('.row.me .bubble', { hasText: 'Opening hours' }).waitFor({ timeout: 10000 })
    await page.locator('[data-testid="bot-reply"]', { hasText: 'You said: Opening hours' }).waitFor({ timeout: 20000 })
    // Only the newest answer carries chips.
    assert.equal(await page.locator('[data-testid="quick-replies"]').count(), 1)
  })
})
