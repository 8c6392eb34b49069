/**
 * Comment automation end to end (issue 13, "Done when"): Meta delivers comments to the real
 * `wrangler dev`, configured with the example rule, and the Worker answers through the
 * Graph API stand-in. Exactly one private reply (recipient.comment_id) and one public reply per
 * matching comment, even when delivered twice; nothing for unmatched, own or week-old comments;
 * a flood is paced under the hourly limit and none is lost.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { lifecycle, newSender, payloads, settle, sleep, startE2E } from './harness.mjs'

const EXAMPLE = '[{"keywords":["price"],"private_reply":"Here is our price list","public_replies":["Sent you a DM!"]}]'
// 600 per hour over a 6-second window: one private reply per 6 seconds (the same hourly rate).
const WINDOW_S = 6

const life = lifecycle(() =>
  startE2E({ vars: { COMMENT_RULES: EXAMPLE, PRIVATE_REPLIES_PER_HOUR: '600', PRIVATE_REPLY_WINDOW_SECONDS: String(WINDOW_S) } })
)
let stack
before(async () => {
  stack = await life.start()
})
after(() => life.stop())

function comment(opts = {}) {
  const c = { senderId: newSender(), commentId: payloads.newCommentId(), text: 'PRICE?', ...opts }
  return { ...c, body: payloads.metaJson(payloads.commentDelivery([c], stack.accountId)) }
}

const privateReplies = (commentId) => stack.graph.records.filter((r) => r.kind === 'private_reply' && r.commentId === commentId)
const publicReplies = (commentId) => stack.graph.records.filter((r) => r.kind === 'public_reply' && r.commentId === commentId)
const waitForPrivate = (commentId, timeoutMs = 20000) =>
  stack.graph.waitFor((r) => r.kind === 'private_reply' && r.commentId === commentId, { timeoutMs })

describe('comment automation through wrangler dev', () => {
  test('"PRICE" gets exactly one private reply with recipient.comment_id and one public reply, also when delivered twice', async () => {
    // The pacing window may still hold a reply from another test.
    await sleep(WINDOW_S * 1000)
    const c = comment({ text: 'What is the PRICE?' })
    const [a, b] = await Promise.all([stack.post(c.body), stack.post(c.body)])
    assert.equal(a.status, 200)
    assert.equal(b.status, 200)
    const reply = await waitForPrivate(c.commentId)
    assert.ok(reply, 'no private reply within 20 s')
    assert.deepEqual(reply.body, { recipient: { comment_id: c.commentId }, message: { text: 'Here is our price list' } })
    assert.ok(await stack.graph.waitFor((r) => r.kind === 'public_reply' && r.commentId === c.commentId), 'no public reply')
    assert.equal((await stack.post(c.body)).status, 200)
    await settle(stack.graph)
    assert.equal(privateReplies(c.commentId).length, 1)
    assert.equal(publicReplies(c.commentId).length, 1)
    assert.equal(publicReplies(c.commentId)[0].text, 'Sent you a DM!')
  })

  test('a comment matching no rule, the account\'s own comment and a comment older than 7 days get nothing', async () => {
    const plain = comment({ text: 'Lovely colours!' })
    const own = comment({ senderId: stack.accountId, text: 'Price list in our bio' })
    const old = comment({ timestamp: Date.now() - 7 * 86_400_000 - 60_000 })
    for (const c of [plain, own, old]) assert.equal((await stack.post(c.body)).status, 200)
    await settle(stack.graph, { quietMs: 2000 })
    for (const c of [plain, own, old]) {
      assert.equal(privateReplies(c.commentId).length, 0)
      assert.equal(publicReplies(c.commentId).length, 0)
    }
  })

  test('a flood of matching comments is paced under the hourly limit, with none lost', async () => {
    await sleep(WINDOW_S * 1000)
    const flood = Array.from({ length: 4 }, () => comment({ text: 'price please' }))
    const started = Date.now()
    const results = await Promise.all(flood.map((c) => stack.post(c.body)))
    for (const r of results) assert.equal(r.status, 200)
    for (const c of flood) assert.ok(await waitForPrivate(c.commentId, 60000), 'a comment never got its private reply')
    const times = flood.map((c) => privateReplies(c.commentId)[0].at).sort((x, y) => x - y)
    // One per window: slots are counted in 100 ms buckets and the stand-in stamps a reply when it
    // arrives, so allow a second of jitter between taking a slot and the request landing.
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= WINDOW_S * 1000 - 1000, `replies ${i - 1} and ${i} were ${times[i] - times[i - 1]} ms apart`)
    assert.ok(Date.now() - started < 60000)
    await settle(stack.graph)
    for (const c of flood) assert.equal(privateReplies(c.commentId).length, 1)
  })
})
