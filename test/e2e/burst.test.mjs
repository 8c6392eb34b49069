/**
 * Burst coalescing end to end, through `wrangler dev` with the default settings (issue 14,
 * "Done when"): DMs typed in a burst get one answer from one model call that saw them all, and a
 * message sent while that answer is being generated is answered once, afterwards.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildDelivery, lifecycle, newSender, settle, sleep, startE2E } from './harness.mjs'

const life = lifecycle(() => startE2E({ defaults: true }))
let stack
before(async () => {
  stack = await life.start()
})
after(() => life.stop())

/** The texts of the user turns a model call was given after its last assistant turn. */
const burstOf = (request) => {
  const msgs = request.messages
  const last = msgs.findLastIndex((m) => m.role === 'assistant')
  return msgs.slice(last + 1).filter((m) => m.role === 'user').map((m) => m.content)
}

describe('burst coalescing through wrangler dev (default settings)', () => {
  test('three DMs in separate deliveries 300 ms apart get one reply from one model call that saw all three', async () => {
    const sender = newSender()
    const llmBefore = stack.llm.requests.length
    const words = ['hi', 'quick question', 'are you open on Sunday?']
    for (const [i, text] of words.entries()) {
      if (i) await sleep(300)
      assert.equal((await stack.post(buildDelivery({ text, senderId: sender }).body)).status, 200)
    }
    const reply = await stack.graph.waitFor((r) => r.kind === 'message' && r.recipientId === sender, { timeoutMs: 20000 })
    assert.ok(reply, 'no reply within 20 s')
    await settle(stack.graph, { quietMs: 2500 })
    assert.equal(stack.graph.messages(sender).length, 1)
    const calls = stack.llm.requests.slice(llmBefore)
    assert.equal(calls.length, 1)
    const burst = burstOf(calls[0])
    assert.equal(burst.length, 3)
    burst.forEach((turn, i) => assert.ok(turn.includes(words[i]) && turn.startsWith('<<data '), `turn ${i} is the fenced message`))
    assert.match(reply.text, /\(3 messages, one answer\)$/)
    assert.equal(stack.graph.actions(sender, 'typing_on').length, 1)
  })

  test('a message sent while the burst is being answered is answered once, afterwards', async () => {
    const sender = newSender()
    const llmBefore = stack.llm.requests.length
    stack.llm.configure({ latencyMs: 2500 })
    try {
      assert.equal((await stack.post(buildDelivery({ text: 'do you deliver?', senderId: sender }).body)).status, 200)
      const deadline = Date.now() + 10000
      while (stack.llm.requests.length === llmBefore && Date.now() < deadline) await sleep(50)
      assert.equal(stack.llm.requests.length - llmBefore, 1, 'the model is being asked')
      assert.equal((await stack.post(buildDelivery({ text: 'to Vienna', senderId: sender }).body)).status, 200)
      const second = await stack.graph.waitFor((r) => r.kind === 'message' && r.recipientId === sender && r.text.includes('to Vienna'), { timeoutMs: 40000 })
      assert.ok(second, 'the later message was answered')
    } finally {
      stack.llm.configure({ latencyMs: 0 })
    }
    await settle(stack.graph, { quietMs: 2500 })
    const texts = stack.graph.messages(sender).map((m) => m.text)
    assert.equal(texts.length, 2, texts.join(' | '))
    assert.match(texts[0], /You said: do you deliver\?$/)
    // Its own answer, in a second model call (which may also see the first question: memory
    // holds what was said before the message, and the first answer went out after it).
    assert.match(texts[1], /to Vienna/)
    assert.equal(stack.llm.requests.length - llmBefore, 2)
  })
})
