/**
 * The bot's main job end to end: Meta delivers a DM to the real `wrangler dev`, the Worker calls
 * the LLM stand-in and answers through the Graph API stand-in. Exactly one reply per message,
 * whatever Meta, the network or the services do (issues 4 and 6, "Done when").
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildDelivery, lifecycle, newSender, settle, signBody, sleep, startE2E } from './harness.mjs'

const BURST = 5
const FALLBACK = "Sorry, I can't answer right now. Please try again in a little while."

const life = lifecycle(() => startE2E({ vars: { RATE_LIMIT_BURST: String(BURST) } }))
let stack
before(async () => {
  stack = await life.start()
})
after(() => life.stop())

const replyTo = (sender, timeoutMs = 20000, sinceSeq = 0) =>
  stack.graph.waitFor((r) => r.kind === 'message' && r.recipientId === sender, { timeoutMs, sinceSeq })

describe('replies through wrangler dev', () => {
  test('a DM gets exactly one reply, after typing_on, with the sandbox token and messaging_type RESPONSE', async () => {
    const sender = newSender()
    const llmBefore = stack.llm.requests.length
    const d = buildDelivery({ text: 'Are you open on Sunday?', senderId: sender })
    const res = await stack.post(d.body)
    assert.equal(res.status, 200)
    const reply = await replyTo(sender)
    assert.ok(reply, 'no reply within 20 s')
    assert.match(reply.text, /^\[sandbox\] You said: .*Are you open on Sunday\?/)
    assert.equal(reply.body.messaging_type, 'RESPONSE')
    assert.equal(reply.accountId, stack.accountId)
    await settle(stack.graph)
    assert.equal(stack.graph.messages(sender).length, 1)
    const typing = stack.graph.actions(sender, 'typing_on')
    assert.equal(typing.length, 1)
    assert.ok(typing[0].seq < reply.seq, 'typing_on comes before the reply')
    assert.equal(stack.llm.requests.length - llmBefore, 1)
    const rejected = stack.graph.calls.filter((c) => c.status === 401)
    assert.equal(rejected.length, 0, 'every Send API call carried the right bearer token')
  })

  test('a duplicate delivery (the same mid twice, then again after the reply) still gets one reply', async () => {
    const sender = newSender()
    const d = buildDelivery({ text: 'Do you ship to Portugal?', senderId: sender })
    const [a, b] = await Promise.all([stack.post(d.body), stack.post(d.body)])
    assert.equal(a.status, 200)
    assert.equal(b.status, 200)
    assert.ok(await replyTo(sender), 'no reply within 20 s')
    assert.equal((await stack.post(d.body)).status, 200)
    await settle(stack.graph)
    assert.equal(stack.graph.messages(sender).length, 1)
  })

  test('a batch holding DMs from four senders gets four replies, one each', async () => {
    const senders = [newSender(), newSender(), newSender(), newSender()]
    const { payloads } = await import('./harness.mjs')
    const items = senders.map((s, i) => payloads.messagingItem({ senderId: s, text: `Question ${i}` }))
    const res = await stack.post(payloads.metaJson(payloads.delivery(items)))
    assert.equal(res.status, 200)
    for (const s of senders) assert.ok(await replyTo(s), 'no reply within 20 s')
    await settle(stack.graph)
    for (const s of senders) assert.equal(stack.graph.messages(s).length, 1)
  })

  test('echoes get no reply: the echo of its own message is ignored, a human agent\'s echo pauses the bot', async () => {
    const sender = newSender()
    const first = buildDelivery({ text: 'Hello there', senderId: sender })
    assert.equal((await stack.post(first.body)).status, 200)
    const reply = await replyTo(sender)
    assert.ok(reply, 'no reply within 20 s')
    await settle(stack.graph)
    const own = buildDelivery({ kind: 'echo', text: reply.text, senderId: sender, mid: reply.messageId })
    assert.equal((await stack.post(own.body)).status, 200)
    const human = buildDelivery({ kind: 'echo', text: 'Hi, Anna here from the shop', senderId: sender })
    assert.equal((await stack.post(human.body)).status, 200)
    const after = buildDelivery({ text: 'Thanks Anna!', senderId: sender })
    assert.equal((await stack.post(after.body)).status, 200)
    await settle(stack.graph, { quietMs: 2000 })
    assert.equal(stack.graph.messages(sender).length, 1)
  })

  test('a forged signature gets 401 and no reply, and the LLM is not called', async () => {
    const sender = newSender()
    const llmBefore = stack.llm.requests.length
    const d = buildDelivery({ text: 'Forged hello', senderId: sender })
    const res = await stack.post(d.body, { signature: signBody(d.body, 'forged-secret') })
    assert.equal(res.status, 401)
    await settle(stack.graph, { quietMs: 2000 })
    assert.equal(stack.graph.records.filter((r) => r.recipientId === sender).length, 0)
    assert.equal(stack.llm.requests.length, llmBefore)
  })

  test(`a burst of 15 quick messages from one sender gets at most burst + 1 (${BURST + 1}) replies`, async () => {
    const sender = newSender()
    const llmBefore = stack.llm.requests.length
    for (let i = 0; i < 15; i++) {
      const res = await stack.post(buildDelivery({ text: `message ${i + 1}`, senderId: sender }).body)
      assert.equal(res.status, 200)
    }
    assert.ok(await replyTo(sender), 'no reply within 20 s')
    await settle(stack.graph, { quietMs: 2500, timeoutMs: 30000 })
    const replies = stack.graph.messages(sender)
    assert.ok(replies.length >= 1 && replies.length <= BURST + 1, `${replies.length} replies`)
    assert.ok(stack.llm.requests.length - llmBefore <= BURST, 'the LLM is not called beyond the burst')
  })

  test('with COALESCE_WINDOW_MS=0, three DMs in separate deliveries 300 ms apart get three replies', async () => {
    const sender = newSender()
    const llmBefore = stack.llm.requests.length
    for (const [i, text] of ['hi', 'quick question', 'are you open on Sunday?'].entries()) {
      if (i) await sleep(300)
      assert.equal((await stack.post(buildDelivery({ text, senderId: sender }).body)).status, 200)
    }
    assert.ok(await replyTo(sender), 'no reply within 20 s')
    await settle(stack.graph, { quietMs: 2000 })
    assert.equal(stack.graph.messages(sender).length, 3)
    assert.equal(stack.llm.requests.length - llmBefore, 3)
  })

  test("the webhook's 200 does not wait for the LLM or the Send API", async () => {
    const sender = newSender()
    stack.llm.configure({ latencyMs: 3000 })
    stack.graph.configure({ latencyMs: 1000 })
    try {
      const res = await stack.post(buildDelivery({ text: 'Quick ack please', senderId: sender }).body)
      assert.equal(res.status, 200)
      assert.ok(res.ms < 1000, `ack took ${Math.round(res.ms)} ms`)
      assert.ok(await replyTo(sender, 25000), 'no reply within 25 s')
    } finally {
      stack.llm.configure({ latencyMs: 0 })
      stack.graph.configure({ latencyMs: 5 })
    }
  })

  test('with half of all Send API calls failing with a transient 500, twelve senders each get exactly one reply', async () => {
    const senders = Array.from({ length: 12 }, () => newSender())
    stack.graph.configure({ failRate: 0.5 })
    try {
      for (const sender of senders) {
        const res = await stack.post(buildDelivery({ text: 'Hello from a flaky network', senderId: sender }).body)
        assert.equal(res.status, 200)
      }
      const deadline = Date.now() + 60000
      while (Date.now() < deadline && !senders.every((s) => stack.graph.messages(s).length >= 1)) {
        await new Promise((r) => setTimeout(r, 250))
      }
      await settle(stack.graph, { quietMs: 2000 })
      for (const sender of senders) assert.equal(stack.graph.messages(sender).length, 1, `sender ${sender}`)
      assert.ok(stack.graph.calls.some((c) => c.injectedFailure), 'failures were injected')
    } finally {
      stack.graph.configure({ failRate: 0 })
    }
  })

  test('with the LLM down, five DMs each get exactly one fallback reply', async () => {
    const senders = Array.from({ length: 5 }, () => newSender())
    stack.llm.configure({ down: true })
    try {
      for (const sender of senders) {
        const res = await stack.post(buildDelivery({ text: 'Is anyone there?', senderId: sender }).body)
        assert.equal(res.status, 200)
      }
      for (const sender of senders) assert.ok(await replyTo(sender, 30000), `no reply for ${sender}`)
      await settle(stack.graph, { quietMs: 2000 })
      for (const sender of senders) {
        const replies = stack.graph.messages(sender)
        assert.equal(replies.length, 1)
        assert.equal(replies[0].text, FALLBACK)
      }
    } finally {
      stack.llm.configure({ down: false })
    }
  })
})
