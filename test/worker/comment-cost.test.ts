/**
 * What one matching comment costs (issue 13: "measure the cost per comment"): Durable Object
 * requests and SQLite rows written, counted through the Worker's real path. The bounds are the
 * measured numbers, so a change that adds a round trip or a write to every comment fails here.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { commentDelivery, newCommentId } from '../../tools/payloads'
import { counting } from '../helpers/counting'
import { newSender, post, testConfig } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => net.restore())

/** Sums the rows every SQL statement of one object writes from now on. */
async function countRows(stub: DurableObjectStub): Promise<() => Promise<number>> {
  await runInDurableObject(stub, (_o: unknown, state) => {
    const sql = state.storage.sql as SqlStorage & { __rows?: number }
    const exec = sql.exec.bind(sql)
    sql.__rows = 0
    sql.exec = ((query: string, ...bindings: unknown[]) => {
      const cursor = exec(query, ...(bindings as SqlStorageValue[]))
      sql.__rows! += cursor.rowsWritten
      return cursor
    }) as SqlStorage['exec']
  })
  return () => runInDurableObject(stub, (_o: unknown, state) => (state.storage.sql as SqlStorage & { __rows?: number }).__rows ?? 0)
}

describe('cost of one comment', () => {
  it('a matching comment (private + public reply): 6 object requests and at most 32 rows written; an unmatched one: none', async () => {
    const sender = newSender()
    const commentId = newCommentId()
    const senderStub = env.SENDER.getByName(`17841400000000001:${sender}`)
    const accountStub = env.ACCOUNT.getByName(testConfig().IG_ACCOUNT_ID)
    const senderRows = await countRows(senderStub)
    const accountRows = await countRows(accountStub)
    const calls: string[] = []
    const override = { SENDER: counting(env.SENDER, 'sender', calls), ACCOUNT: counting(env.ACCOUNT, 'account', calls) } as unknown as Partial<Env>
    await post(commentDelivery([{ senderId: sender, commentId, text: 'price?' }]), override)
    expect(net.privateReplies(commentId)).toHaveLength(1)
    expect(net.publicReplies(commentId)).toHaveLength(1)
    const rows = { sender: await senderRows(), account: await accountRows() }
    // Lookups an isolate caches or throttles (the token and the connected account, at most once a
    // minute; the health report, every 30 s) are not paid per comment.
    const cached = new Set(['account.sendState', 'account.connectedSendState', 'account.report'])
    expect(calls.filter((c) => !cached.has(c))).toEqual([
      'sender.accept',
      'account.privateReplySlot',
      'sender.saveReply',
      'sender.partSent',
      'sender.beginPart',
      'sender.partSent',
    ])
    // Rows count index entries too: measured 25 in the sender object (first contact), 4 in the
    // account's (its private-reply window and the throttled health report).
    expect(rows.sender + rows.account).toBeLessThanOrEqual(32)

    const unmatched: string[] = []
    await post(commentDelivery([{ senderId: newSender(), text: 'Lovely colours!' }]), { SENDER: counting(env.SENDER, 'sender', unmatched), ACCOUNT: counting(env.ACCOUNT, 'account', unmatched) } as unknown as Partial<Env>)
    expect(unmatched).toEqual([])
  })
})
