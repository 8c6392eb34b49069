/**
 * Misbehaving upstreams through the real `wrangler dev` (issue 17, "Done when"): a model whose
 * body never ends, a DM stamped in the future, and Meta throttling the account. The throttle test
 * comes last: it pauses this stack's account for an hour.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { lifecycle, newSender, payloads, settle, sleep, startE2E } from './harness.mjs'

const FALLBACK = "Sorry, I can't answer right now. Please try again in a little while."
const LLM_TIMEOUT_MS = 1000

const life = lifecycle(() => startE2E({ vars: { LLM_TIMEOUT_MS: String(LLM_TIMEOUT_MS) } }))
let stack
before(async () => {
  stack = await life.start()
})
after(() => life.stop())

const dm = (senderId, text, extra = {}) => stack.post(payloads.metaJson(payloads.delivery([payloads.messagingItem({ senderId, text, ...extra })])))
const replyTo = (sender, sinceSeq = 0, timeoutMs = 15000) =>
  stack.graph.waitFor((r) => r.kind === 'message' && r.recipientId === sender, { timeoutMs, sinceSeq })

describe('misbehaving upstreams through wrangler dev', () => {
  test('a model that sends headers and half a body and then nothing: one fallback within about two timeouts, and the next DM gets an answer', async () => {
    const sender = newSender()
    stack.llm.configure({ stallNext: 1 })
    const started = Date.now()
    assert.equal((await dm(sender, 'Are you open today?')).status, 200)
    const first = await replyTo(sender)
    assert.ok(first, 'no reply at all')
    assert.equal(first.text, FALLBACK)
    assert.ok(Date.now() - started < 2 * LLM_TIMEOUT_MS + 4000, `fallback after ${Date.now() - started} ms`)
    assert.equal((await dm(sender, 'Hello again?')).status, 200)
    const second = await replyTo(sender, first.seq)
    assert.ok(second, 'the next DM got no reply')
    assert.match(second.text, /^\[sandbox\] You said: .*Hello again\?/)
    await settle(stack.graph, { quietMs: 800 })
    assert.equal(stack.graph.messages(sender).length, 2)
  })

  test('a DM stamped ten minutes ahead is answered and does not silence the sender\'s next DM', async () => {
    const sender = newSender()
    assert.equal((await dm(sender, 'Hello from the future', { timestamp: Date.now() + 10 * 60_000 })).status, 200)
    const first = await replyTo(sender)
    assert.ok(first, 'the future-stamped DM got no reply')
    assert.equal((await dm(sender, 'And now?')).status, 200)
    const second = await replyTo(sender, first.seq)
    assert.ok(second, 'the next DM got no reply')
    assert.match(second.text, /And now\?/)
  })

  test('one message met with code 4 and an hour\'s throttle hint: a few Send API calls, not dozens', async () => {
    const sendCalls = () => stack.graph.calls.filter((c) => c.method === 'POST' && /\/messages$/.test(c.path)).length
    const before = sendCalls()
    stack.graph.configure({ throttleNext: 1000, throttleMinutes: 60 })
    try {
      const sender = newSender()
      assert.equal((await dm(sender, 'Anyone there?')).status, 200)
      // The runner's 25 s and the first alarms (5, 10 s) are where the retry storm used to be.
      await sleep(12_000)
      // More DMs meanwhile, from the same and another sender: still no Send API calls.
      assert.equal((await dm(sender, 'Hello?')).status, 200)
      assert.equal((await dm(newSender(), 'Hi')).status, 200)
      await sleep(3_000)
      const made = sendCalls() - before
      assert.ok(made >= 1 && made <= 3, `${made} Send API calls`)
      assert.ok(stack.graph.calls.slice(-made).every((c) => c.throttled), 'every call was a throttled one')
    } finally {
      stack.graph.configure({ throttleNext: 0 })
    }
  })
})
