/**
 * A comment reply waiting for the account's private-reply pacing (PRIVATE_REPLIES_PER_HOUR) may
 * wait an hour: it must not hold the commenter's DMs, and the waiting replies of many senders
 * must not all come back in the same second.
 */
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { commentDelivery, newCommentId } from '../../tools/payloads'
import { newSender, post, postItems, senderStub } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork({ llm: () => 'We are open 9 to 5.' })
})
afterEach(() => net.restore())
const paced = { PRIVATE_REPLIES_PER_HOUR: '1', PRIVATE_REPLY_WINDOW_SECONDS: '3600' } as unknown as Partial<Env>

describe('a comment reply waiting for a private-reply slot', () => {
  it("does not hold the commenter's DM reply or STOP confirmation", async () => {
    // Another commenter takes the only slot of the hour.
    const first = newCommentId()
    await post(commentDelivery([{ senderId: newSender(), commentId: first, text: 'PRICE?' }]), paced)
    expect(net.privateReplies(first)).toHaveLength(1)
    const x = newSender()
    const c = newCommentId()
    await post(commentDelivery([{ senderId: x, commentId: c, text: 'PRICE?' }]), paced)
    expect(net.privateReplies(c)).toHaveLength(0)
    await postItems([{ senderId: x, text: 'hello, are you open today?' }], paced)
    const reply = () => net.graph.filter((g) => g.body.recipient?.id === x && g.body.message).map((g) => g.body.message?.text)
    expect(reply()).toEqual(['We are open 9 to 5.'])
    // The comment reply still waits for its slot.
    expect((await senderStub(x).snapshot()).jobs.find((j) => j.id.startsWith('comment:'))?.state).toBe('pending')
    await postItems([{ senderId: x, text: 'STOP' }], paced)
    expect(reply()).toHaveLength(2)
    // Opted out: the waiting comment reply is dropped, never sent.
    expect((await senderStub(x).snapshot()).jobs.find((j) => j.id.startsWith('comment:'))).toMatchObject({ state: 'cancelled', outcome: 'opted_out' })
    expect(net.privateReplies(c)).toHaveLength(0)
  })

  it('comes back at a time spread over one pacing bucket, not the same second for every sender', async () => {
    const account = env.ACCOUNT.getByName(`jitter-${newSender()}`)
    const t0 = 1_800_000_000_000
    expect(await account.privateReplySlot(1, 3600, t0)).toEqual({ ok: true })
    const times = new Set<number>()
    for (let i = 0; i < 8; i++) {
      const r = await account.privateReplySlot(1, 3600, t0 + 1_000)
      expect(r.ok).toBe(false)
      if (r.ok) return
      // The slot frees an hour after it was taken; the wait ends within the next minute bucket.
      expect(r.retryAt).toBeGreaterThanOrEqual(t0 + 3_600_000)
      expect(r.retryAt).toBeLessThan(t0 + 3_660_000)
      times.add(r.retryAt)
    }
    expect(times.size).toBeGreaterThan(1)
  })
})
