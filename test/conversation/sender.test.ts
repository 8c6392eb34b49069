import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LeasedJob } from '../../src/conversation/decision'
import type { SenderObject } from '../../src/conversation/sender'
import type { StateKey, StateStore } from '../../src/conversation/state'
import { DEFAULT_ACCOUNT_ID, delivery, messagingItem, newMid } from '../../tools/payloads'
import { editStorage, post, postItems, senderStub, newSender, testConfig } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => net.restore())


describe('exactly-once acceptance', () => {
  it('accepts exactly one of twelve concurrent deliveries of the same message id, all answered 200', async () => {
    const sender = newSender()
    const mid = newMid()
    const body = delivery([messagingItem({ senderId: sender, mid, text: 'Are you open on Sunday?' })])
    const responses = await Promise.all(Array.from({ length: 12 }, () => post(body)))
    expect(responses.map((r) => r.status)).toEqual(Array(12).fill(200))
    const snap = await senderStub(sender).snapshot()
    expect(snap.claims).toBe(1)
    expect(snap.jobs).toHaveLength(1)
    expect(snap.decisions).toEqual({ new: 1 })
    expect(net.textsTo(sender)).toHaveLength(1)
  })

  it('accepts a redelivery later as a duplicate, and only the new ids of a mixed batch', async () => {
    const sender = newSender()
    const first = newMid()
    expect((await postItems([{ senderId: sender, mid: first }])).status).toBe(200)
    // An hour later: the object still knows the first id.
    const second = newMid()
    const third = newMid()
    const res = await postItems([
      { senderId: sender, mid: first, timestamp: Date.now() - 3_600_000 },
      { senderId: sender, mid: second, text: 'What are your prices?' },
      { senderId: sender, mid: third, text: 'And do you deliver?' },
    ])
    expect(res.status).toBe(200)
    const snap = await senderStub(sender).snapshot()
    expect(snap.claims).toBe(3)
    expect(snap.jobs.map((j) => j.id).sort()).toEqual([first, second, third].sort())
    expect(net.textsTo(sender)).toHaveLength(3)
  })

  it('decides a redelivery in the sender object alone: no KV lookup before the claim, no KV write after it', async () => {
    const sender = newSender()
    const mid = newMid()
    const kv = { get: 0 }
    // The webhook path may only register the account (once per isolate); it must never read.
    const counted = {
      get: (...a: Parameters<KVNamespace['get']>) => (kv.get++, env.DEDUP.get(...a)),
      put: (...a: Parameters<KVNamespace['put']>) => env.DEDUP.put(...a),
    } as unknown as KVNamespace
    expect((await postItems([{ senderId: sender, mid }], { DEDUP: counted })).status).toBe(200)
    expect((await postItems([{ senderId: sender, mid }], { DEDUP: counted })).status).toBe(200)
    expect(await env.DEDUP.get(`seen:${DEFAULT_ACCOUNT_ID}:${mid}`)).toBeNull()
    expect(kv.get).toBe(0)
    const snap = await senderStub(sender).snapshot()
    expect(snap.claims).toBe(1)
    expect(snap.decisions).toEqual({ new: 1 })
    expect(net.textsTo(sender)).toHaveLength(1)
  })

  it('answers 503 and marks nothing as seen when the sender object cannot be reached', async () => {
    const sender = newSender()
    const mid = newMid()
    const broken = {
      getByName: () => ({ accept: () => Promise.reject(new Error('Durable Object unreachable')) }),
    } as unknown as Env['SENDER']
    const res = await postItems([{ senderId: sender, mid }], { SENDER: broken })
    expect(res.status).toBe(503)
    expect(net.textsTo(sender)).toHaveLength(0)
  })
})

describe('leases', () => {
  it('hands the first new job of a delivery to the Worker already leased, and to nobody else', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const now = Date.now()
    const event = (i: number) => ({ kind: 'text' as const, source: 'messaging' as const, accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: now + i, mid: newMid(), text: `m${i}` })
    const results = await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, leaseFirst: true, events: [event(1), event(0)] })
    const first = results[1]!
    expect(first.lease).toMatchObject({ id: first.job, userId: sender, memory: [] })
    expect(results[0]!.lease).toBeUndefined()
    // Neither the alarm nor another runner can take it while the lease lasts, nor the later job.
    expect(await stub.lease(first.job!, { force: true })).toBeNull()
    expect(await stub.lease(results[0]!.job!, { force: true })).toBeNull()
  })

  it('tells the runner, as its job finishes, whether a job nobody has tried waits behind it', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const now = Date.now()
    const event = (i: number) => ({ kind: 'text' as const, source: 'messaging' as const, accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: now + i, mid: newMid(), text: `m${i}` })
    const [a, b] = await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, leaseFirst: true, events: [event(0), event(1)] })
    expect(await stub.saveReply(a!.job!, a!.lease!.leaseId, ['one', 'two'], 'llm')).toBe(true)
    // A part that does not finish the job answers nothing.
    expect(await stub.partSent(a!.job!, 0, 'out-a0')).toBeNull()
    expect(await stub.partSent(a!.job!, 1, 'out-a1')).toEqual({ fresh: true })
    const next = await stub.leaseNextFresh()
    expect(next).toMatchObject({ id: b!.job })
    expect(await stub.saveReply(b!.job!, (next as LeasedJob).leaseId, ['three'], 'llm')).toBe(true)
    expect(await stub.partSent(b!.job!, 0, 'out-b0')).toEqual({ fresh: false })
    expect(await stub.leaseNextFresh()).toBeNull()
    // A late report for a job already finished finishes nothing.
    expect(await stub.partSent(b!.job!, 0, 'out-b0')).toBeNull()
  })
})

describe('rate limiting', () => {
  it('accepts exactly RATE_LIMIT_BURST of 20 concurrent messages and decides at most one slow-down notice', async () => {
    const sender = newSender()
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postItems([{ senderId: sender, text: `message ${i}` }]))
    )
    expect(responses.every((r) => r.status === 200)).toBe(true)
    const snap = await senderStub(sender).snapshot()
    expect(snap.decisions.new).toBe(5)
    expect(snap.decisions.rate_limited_notice ?? 0).toBeLessThanOrEqual(1)
    expect((snap.decisions.rate_limited ?? 0) + (snap.decisions.rate_limited_notice ?? 0)).toBe(15)
    // Five answers and one notice at most: a flood never becomes a flood of replies.
    expect(net.textsTo(sender).length).toBeLessThanOrEqual(6)
    expect(net.textsTo(sender).filter((t) => t.includes('faster than I can answer')).length).toBeLessThanOrEqual(1)
  })

  it('refills tokens with time', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const t0 = Date.now()
    const msg = (dt: number) => ({ ...(messagingItem({ senderId: sender, timestamp: t0 + dt }) as object) })
    const toEvent = (dt: number) => {
      const item = msg(dt) as { sender: { id: string }; recipient: { id: string }; timestamp: number; message: { mid: string; text: string } }
      return { kind: 'text' as const, source: 'messaging' as const, accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: item.timestamp, mid: item.message.mid, text: 'hi' }
    }
    const decide = async (dt: number) => (await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, events: [toEvent(dt)], now: t0 + dt }))[0]!.decision
    for (let i = 0; i < 5; i++) expect(await decide(i)).toBe('new')
    expect(await decide(10)).toBe('rate_limited_notice')
    expect(await decide(20)).toBe('rate_limited')
    // RATE_LIMIT_PER_MINUTE = 6: one token every 10 s.
    expect(await decide(10_000)).toBe('new')
    expect(await decide(10_010)).toBe('rate_limited')
    expect(await decide(30_100)).toBe('new')
  })
})

describe('account budget', () => {
  it('is exact under concurrency across many senders', async () => {
    const account = env.ACCOUNT.getByName('budget-test-account')
    const results = await Promise.all(Array.from({ length: 40 }, () => account.spend('2026-11-28', 17)))
    expect(results.filter(Boolean)).toHaveLength(17)
    const status = await account.status(17, Date.parse('2026-11-28T12:00:00Z'))
    expect(status).toMatchObject({ llmCallsToday: 17, budgetExhausted: true })
  })

  it('sends each sender one notice per day and calls no LLM when the budget is spent', async () => {
    const senders = [newSender(), newSender(), newSender()]
    // A fresh account object, so earlier tests' calls do not count.
    const override = { LLM_DAILY_BUDGET: '1', IG_ACCOUNT_ID: 'budget-notice-account' } as unknown as Partial<Env>
    await postItems([{ senderId: senders[0], text: 'first question' }], override)
    const llmCalls = net.llm.length
    expect(net.textsTo(senders[0]!)).toHaveLength(1)
    for (const s of senders.slice(1)) {
      await postItems([{ senderId: s, text: 'a question' }], override)
      await postItems([{ senderId: s, text: 'another question' }], override)
      expect(net.textsTo(s)).toEqual([expect.stringContaining('resting for today')])
    }
    expect(net.llm.length).toBe(llmCalls)
  })
})

describe('conversation memory', () => {
  it('keeps the last MEMORY_TURNS turns and sends them to the LLM', async () => {
    const sender = newSender()
    const t0 = Date.now() - 60_000
    for (let i = 0; i < 4; i++) await postItems([{ senderId: sender, text: `question ${i}`, timestamp: t0 + i * 1000 }])
    const snap = await senderStub(sender).snapshot()
    expect(snap.turns.filter((t) => t.role === 'user').map((t) => t.text)).toEqual(['question 0', 'question 1', 'question 2', 'question 3'])
    expect(snap.turns.filter((t) => t.role === 'assistant')).toHaveLength(4)
    const lastCall = net.llm.at(-1)!
    const contents = lastCall.messages.map((m) => m.content).join('\n')
    expect(contents).toContain('question 2')
    expect(contents).toContain('question 3')
  })

  it('trims to MEMORY_TURNS turns', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    // Spread out in time so the rate limit lets every message through; from now on rather than
    // in the past, so the object's alarm does not answer them (its replies would be remembered
    // as the newest turns) while the test runs.
    const t0 = Date.now()
    for (let i = 0; i < 14; i++) {
      await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now: t0 + i * 20_000, events: [{ kind: 'text', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t0 + i * 20_000, mid: newMid(), text: `turn ${i}` }] })
    }
    const snap = await stub.snapshot()
    expect(snap.turns).toHaveLength(10)
    const texts = snap.turns.map((t) => t.text)
    expect(texts).toContain('turn 13')
    expect(texts).not.toContain('turn 0')
  })

  it('forgets the conversation after MEMORY_TTL_HOURS of silence, by alarm', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'remember me' }])
    const before = senderStub(sender)
    expect((await before.snapshot()).turns.length).toBeGreaterThan(0)
    const stub = await editStorage(before, (sql) => {
      const old = Date.now() - 25 * 3_600_000
      sql.exec('UPDATE turns SET ts = ?', old)
      sql.exec("UPDATE state SET v = ? WHERE k = 'last_user_at'", String(old))
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect((await stub.snapshot()).turns).toEqual([])
  })

  it('moves its alarm out to memory expiry, counted from the reply, once the reply is sent', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello' }])
    expect(net.textsTo(sender)).toHaveLength(1)
    const { alarm, newest } = await runInDurableObject(senderStub(sender), async (_o: SenderObject, state) => ({
      alarm: await state.storage.getAlarm(),
      newest: state.storage.sql.exec<{ t: number }>("SELECT MAX(ts) AS t FROM turns WHERE role = 'assistant'").one().t,
    }))
    expect(alarm).toBe(newest + testConfig().MEMORY_TTL_HOURS * 3_600_000)
  })

  it('removes an unsent message from memory', async () => {
    const sender = newSender()
    const mid = newMid()
    await postItems([{ senderId: sender, mid, text: 'my card number is 4111' }])
    await postItems([{ senderId: sender, kind: 'unsend', targetMid: mid }])
    const snap = await senderStub(sender).snapshot()
    expect(snap.turns.map((t) => t.text)).not.toContain('my card number is 4111')
    expect(snap.decisions.unsent).toBe(1)
  })
})

describe('echoes and human takeover', () => {
  it('ignores the echo of its own reply (by message_id)', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello' }])
    expect(net.textsTo(sender)).toHaveLength(1)
    const sent = net.graph.find((c) => c.body.recipient?.id === sender && c.messageId)!
    const res = await postItems([{ senderId: sender, kind: 'echo', mid: sent.messageId, text: sent.body.message!.text }])
    expect(res.status).toBe(200)
    const snap = await senderStub(sender).snapshot()
    expect(snap.decisions.own_echo).toBe(1)
    expect(snap.state.paused_until).toBeUndefined()
    expect(net.textsTo(sender)).toHaveLength(1)
  })

  it('pauses for a sender when a person answers from the Instagram app, and resumes after the pause', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    await postItems([{ senderId: sender, kind: 'echo', text: 'Hi, this is Anna from the shop!' }])
    expect((await stub.snapshot()).decisions.human_echo).toBe(1)
    await postItems([{ senderId: sender, text: 'thanks Anna' }])
    expect((await stub.snapshot()).decisions.paused).toBe(1)
    expect(net.textsTo(sender)).toHaveLength(0)
    const later = Date.now() + 31 * 60_000
    const [decision] = await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now: later, events: [{ kind: 'text', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: later, mid: newMid(), text: 'anyone?' }] })
    expect(decision!.decision).toBe('new')
  })

  it('extends the pause with every further human message', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    await postItems([{ senderId: sender, kind: 'echo', text: 'one' }])
    const first = Number((await stub.snapshot()).state.paused_until)
    await new Promise((r) => setTimeout(r, 5))
    await postItems([{ senderId: sender, kind: 'echo', text: 'two' }])
    expect(Number((await stub.snapshot()).state.paused_until)).toBeGreaterThan(first)
  })
})

describe('ordering and staleness', () => {
  it('records but never answers events older than the 24-hour window', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'old', timestamp: Date.now() - 25 * 3_600_000 }])
    const snap = await senderStub(sender).snapshot()
    expect(snap.decisions).toEqual({ stale: 1 })
    expect(net.textsTo(sender)).toHaveLength(0)
  })

  it('answers quick messages from one sender in separate deliveries within the deliveries\' own waitUntil', async () => {
    const sender = newSender()
    const t = Date.now() - 1000
    // Each delivery's runner finds the earlier reply in flight; the one that finishes takes the rest.
    await Promise.all([0, 1, 2].map((i) => postItems([{ senderId: sender, text: `quick ${i}`, timestamp: t + i }])))
    expect(net.textsTo(sender)).toHaveLength(3)
    expect((await senderStub(sender).pendingJobs()).length).toBe(0)
  })

  it('handles a delivery\'s events for one sender in timestamp order', async () => {
    const sender = newSender()
    const t = Date.now() - 10_000
    await postItems([
      { senderId: sender, text: 'third', timestamp: t + 3 },
      { senderId: sender, text: 'first', timestamp: t + 1 },
      { senderId: sender, text: 'second', timestamp: t + 2 },
    ])
    const asked = net.llm.map((b) => b.messages.at(-1)!.content).filter((c) => /first|second|third/.test(c))
    expect(asked.map((c) => ['first', 'second', 'third'].find((w) => c.includes(w)))).toEqual(['first', 'second', 'third'])
  })

  it('answers a DM stamped ten minutes ahead and the sender\'s next DM too, storing no time from the future', async () => {
    const sender = newSender()
    const before = Date.now()
    await postItems([{ senderId: sender, text: 'from the future', timestamp: before + 10 * 60_000 }])
    await postItems([{ senderId: sender, text: 'and now' }])
    expect(net.textsTo(sender)).toHaveLength(2)
    const snap = await senderStub(sender).snapshot()
    expect(Number(snap.state.last_user_at)).toBeLessThanOrEqual(Date.now())
  })

  it('answers a redelivered postback without a message id, stamped ten minutes ahead, once', async () => {
    const sender = newSender()
    const item = { sender: { id: sender }, recipient: { id: DEFAULT_ACCOUNT_ID }, timestamp: Date.now() + 10 * 60_000, postback: { title: 'Menu', payload: 'MENU' } }
    const body = delivery([item])
    await post(body)
    await new Promise((r) => setTimeout(r, 5))
    // Meta redelivers the very same payload; its key must not follow the time of receipt.
    await post(body)
    expect(net.textsTo(sender)).toHaveLength(1)
    expect((await senderStub(sender).snapshot()).claims).toBe(1)
  })

  it('answers the next DM after a message stamped years ahead, which is answered as if sent on receipt', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'far ahead', timestamp: Date.now() + 10 * 365 * 24 * 3_600_000 }])
    await postItems([{ senderId: sender, text: 'hello again' }])
    expect(net.textsTo(sender)).toHaveLength(2)
  })

  it('answers a sender whose stored last-message time already lies in the future (stored before clamping)', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'first' }])
    await editStorage(senderStub(sender), (sql) => {
      sql.exec("UPDATE state SET v = ? WHERE k = 'last_user_at'", String(Date.now() + 365 * 24 * 3_600_000))
    })
    await postItems([{ senderId: sender, text: 'second' }])
    expect(net.textsTo(sender)).toHaveLength(2)
  })
})

/** What the object's state store answers from memory, beside what its table holds. */
async function stateInMemoryAndTable(stub: DurableObjectStub<SenderObject>): Promise<{ memory: Record<string, string>; table: Record<string, string> }> {
  const keys: StateKey[] = ['account_id', 'user_id', 'bucket', 'bucket_tokens', 'bucket_at', 'notice_at', 'paused_until', 'pause_reason', 'opted_out', 'last_user_at', 'budget_notice_day', 'llm_day', 'llm_calls']
  return runInDurableObject(stub, (o: SenderObject, state) => {
    const store = (o as unknown as { s: { state: StateStore } }).s.state
    const memory = Object.fromEntries(keys.flatMap((k) => (store.get(k) === undefined ? [] : [[k, store.get(k)!]])))
    const table = Object.fromEntries(state.storage.sql.exec<{ k: string; v: string }>('SELECT k, v FROM state').toArray().map((r) => [r.k, r.v]))
    return { memory, table }
  })
}

describe('state kept in memory by the sender object', () => {
  it('keeps no opt-out in memory that a failed delivery\'s rolled-back transaction took from the table, and decides the redelivery afresh', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    await postItems([{ senderId: sender, text: 'hello' }])
    // The STOP's confirmation job cannot be stored: the whole delivery's transaction rolls back.
    const mid = newMid()
    const now = Date.now()
    const stopEvent = { kind: 'text' as const, source: 'messaging' as const, accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: now, mid, text: 'STOP' }
    await runInDurableObject(stub, async (o: SenderObject, state) => {
      const sql = state.storage.sql
      const exec = sql.exec
      sql.exec = ((query: string, ...b: SqlStorageValue[]) => {
        if (query.startsWith('INSERT OR IGNORE INTO jobs')) throw new Error('disk full')
        return exec.call(sql, query, ...b)
      }) as SqlStorage['exec']
      try {
        await expect(o.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, leaseFirst: true, events: [stopEvent] })).rejects.toThrow('disk full')
      } finally {
        sql.exec = exec
      }
    })
    const after = await stateInMemoryAndTable(stub)
    expect(after.memory).toEqual(after.table)
    expect(after.table.opted_out).toBeUndefined()
    expect((await stub.conversationState()).optedOut).toBe(false)
    // Meta redelivers after the 503: the STOP is new, and honoured.
    expect((await postItems([{ senderId: sender, mid, text: 'STOP', timestamp: now }])).status).toBe(200)
    expect((await stub.snapshot()).decisions.opt_out).toBe(1)
    expect((await stub.conversationState()).optedOut).toBe(true)
    const settled = await stateInMemoryAndTable(stub)
    expect(settled.memory).toEqual(settled.table)
  })

  it('answers an erased sender as a new one: no opt-out, pause or counter survives in memory', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    await postItems([{ senderId: sender, text: 'hello' }])
    await postItems([{ senderId: sender, text: 'STOP' }])
    expect((await stub.conversationState()).optedOut).toBe(true)
    await stub.forget(DEFAULT_ACCOUNT_ID)
    expect(await stateInMemoryAndTable(stub)).toEqual({ memory: {}, table: {} })
    expect(await stub.conversationState()).toEqual({ optedOut: false, pausedUntil: null, pauseReason: null })
    const before = net.textsTo(sender).length
    await postItems([{ senderId: sender, text: 'hello again' }])
    expect(net.textsTo(sender)).toHaveLength(before + 1)
  })

  it('gives a new instance of the object the same answers the old one had in memory', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    await postItems([{ senderId: sender, text: 'hello' }])
    await postItems([{ senderId: sender, kind: 'echo', text: 'a person answers' }])
    const old = await stateInMemoryAndTable(stub)
    const oldAnswer = await stub.conversationState()
    expect(oldAnswer.pauseReason).toBe('person_answered')
    expect(old.memory).toEqual(old.table)
    const restarted = await editStorage(stub, () => {})
    const fresh = await stateInMemoryAndTable(restarted)
    expect(fresh).toEqual(old)
    expect(await restarted.conversationState()).toEqual(oldAnswer)
  })
})

describe('objects made by earlier versions', () => {
  it('keeps a reply part in flight through the rebuild of its tables: not sent again, settled by its echo', async () => {
    const sender = newSender()
    const mid = newMid()
    const now = Date.now()
    const stub = senderStub(sender)
    await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, events: [{ kind: 'text', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: now, mid, text: 'hi there' }] })
    const lease = await stub.lease(mid, { now, force: true })
    expect(await stub.saveReply(mid, lease!.leaseId, ['First part.', 'Second part.'], 'answered', now)).toBe(true)
    expect(await stub.partSent(mid, 0, 'out-0', now)).toBeNull()
    expect(await stub.beginPart(mid, lease!.leaseId, 1, 'Second part.', now)).toBe('go')
    // The second part went to Meta and the runner died before hearing back. The tables go back to
    // the shape earlier versions made (turns with AUTOINCREMENT, parts a rowid table), and the
    // next instance rebuilds them (schema.ts).
    const restarted = await editStorage(stub, (sql) => {
      sql.exec('ALTER TABLE turns RENAME TO turns_new')
      sql.exec('CREATE TABLE turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, mid TEXT, role TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)')
      sql.exec('INSERT INTO turns SELECT * FROM turns_new')
      sql.exec('DROP TABLE turns_new')
      sql.exec('ALTER TABLE parts RENAME TO parts_new')
      sql.exec('CREATE TABLE parts (job TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL, out_mid TEXT, at INTEGER NOT NULL, PRIMARY KEY (job, idx))')
      sql.exec('INSERT INTO parts SELECT * FROM parts_new')
      sql.exec('DROP TABLE parts_new')
      sql.exec('CREATE INDEX parts_hash ON parts (hash)')
      sql.exec('UPDATE jobs SET lease_until = 0, next_at = 0 WHERE id = ?', mid)
    })
    const made = await runInDurableObject(restarted, (_o: SenderObject, state) =>
      Object.fromEntries(state.storage.sql.exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE name IN ('turns', 'parts')").toArray().map((r) => [r.name, r.sql]))
    )
    expect(made.parts).toMatch(/WITHOUT ROWID$/)
    expect(made.turns).not.toMatch(/AUTOINCREMENT/)
    // Within the echo grace period the part in flight is not sent again.
    await runDurableObjectAlarm(restarted)
    expect(net.textsTo(sender)).toEqual([])
    // Its echo (with an id the object never heard) is recognised by the text's hash as the bot's own.
    await postItems([{ senderId: sender, kind: 'echo', text: 'Second part.' }])
    expect((await restarted.conversationState()).pauseReason).toBeNull()
    await runInDurableObject(restarted, (_o: SenderObject, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_at = 0 WHERE id = ?', mid)
    })
    await runDurableObjectAlarm(restarted)
    expect(net.textsTo(sender)).toEqual([])
    const snap = await restarted.snapshot()
    expect(snap.jobs).toMatchObject([{ id: mid, state: 'done' }])
    expect(snap.turns.map((t) => [t.role, t.text])).toEqual([
      ['user', 'hi there'],
      ['assistant', 'First part. Second part.'],
    ])
  })
})
