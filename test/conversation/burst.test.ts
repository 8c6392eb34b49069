/**
 * Burst coalescing in the sender's object: messages close together share one reply job, one
 * rate-limit token, one model call that sees them all, and one answer. The tests' bindings turn
 * coalescing off (COALESCE_WINDOW_MS=0); these tests turn it on for their own sender objects.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { burstDueAt } from '../../src/conversation/burst'
import type { AcceptEvent } from '../../src/conversation/decision'
import type { SenderObject } from '../../src/conversation/sender'
import { DEFAULT_ACCOUNT_ID, newMid } from '../../tools/payloads'
import { postItems, senderStub, newSender } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => net.restore())

const WINDOW = 1500
const CAP = 8000

/** A sender whose object runs with coalescing on (and any other settings given). */
async function coalescingSender(over: Record<string, string> = {}) {
  const sender = newSender()
  const stub = senderStub(sender)
  await runInDurableObject(stub, (o: SenderObject) => {
    // The object reads its settings from its env on every call: give this one its own.
    Object.defineProperty(o, 'env', { value: { ...env, COALESCE_WINDOW_MS: String(WINDOW), COALESCE_MAX_MS: String(CAP), ...over }, configurable: true })
  })
  return { sender, stub }
}

const text = (sender: string, t: number, words: string, mid = newMid()): AcceptEvent => ({
  kind: 'text',
  source: 'messaging',
  accountId: DEFAULT_ACCOUNT_ID,
  senderId: sender,
  recipientId: DEFAULT_ACCOUNT_ID,
  timestamp: t,
  mid,
  text: words,
})

async function accept(stub: ReturnType<typeof senderStub>, sender: string, now: number, events: AcceptEvent[]) {
  return stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, events, leaseFirst: true })
}

/** The user turns of the model's last call, fences and all. */
const userTurns = () => net.llm.at(-1)!.messages.filter((m) => m.role === 'user').map((m) => m.content)

describe('burst coalescing in the sender object', () => {
  it('gives three messages inside the window one job, one token and a due time that follows the newest', async () => {
    const { sender, stub } = await coalescingSender({ RATE_LIMIT_BURST: '1', RATE_LIMIT_PER_MINUTE: '1' })
    const t = Date.now()
    const [a] = await accept(stub, sender, t, [text(sender, t, 'hi')])
    const [b] = await accept(stub, sender, t + 300, [text(sender, t + 300, 'quick question')])
    const [c] = await accept(stub, sender, t + 600, [text(sender, t + 600, 'are you open on Sunday?')])
    expect(a).toMatchObject({ decision: 'new', dueAt: t + WINDOW, typing: true })
    expect(a!.lease).toBeUndefined()
    // A burst costs one token: with a bucket of one, the later messages are not rate limited.
    expect(b).toMatchObject({ decision: 'burst', job: a!.job, dueAt: t + 300 + WINDOW })
    expect(c).toMatchObject({ decision: 'burst', job: a!.job, dueAt: t + 600 + WINDOW })
    expect(b!.typing).toBeFalsy()
    const snap = await stub.snapshot()
    expect(snap.jobs).toHaveLength(1)
    expect(snap.decisions).toEqual({ new: 1, burst: 2 })
    // Every message is remembered.
    expect(snap.turns.map((x) => x.text)).toEqual(['hi', 'quick question', 'are you open on Sunday?'])
  })

  it('does not lease a burst before its window has closed, even to a runner that asks with force', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    const [a] = await accept(stub, sender, t, [text(sender, t, 'hi')])
    expect(await stub.lease(a!.job!, { now: t + WINDOW - 1, force: true })).toBeNull()
    await accept(stub, sender, t + 1000, [text(sender, t + 1000, 'there?')])
    // The first message's runner wakes at its old due time and steps aside.
    expect(await stub.lease(a!.job!, { now: t + WINDOW, force: true })).toBeNull()
    const lease = await stub.lease(a!.job!, { now: t + 1000 + WINDOW, force: true })
    expect(lease!.kind).toMatchObject({ type: 'llm', text: 'there?', burst: [{ text: 'hi' }, { text: 'there?' }] })
    // The burst's own messages are not repeated as memory.
    expect(lease!.memory).toEqual([])
  })

  it('answers a non-stop typist by COALESCE_MAX_MS after the first message', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    let last
    for (let i = 0; i < 10; i++) [last] = await accept(stub, sender, t + i * 1000, [text(sender, t + i * 1000, `part ${i}`)])
    expect(last!.dueAt).toBe(t + CAP)
    expect(burstDueAt(t, t + 7000, { COALESCE_WINDOW_MS: WINDOW, COALESCE_MAX_MS: CAP })).toBe(t + CAP)
    expect(burstDueAt(t, t + 100, { COALESCE_WINDOW_MS: WINDOW, COALESCE_MAX_MS: CAP })).toBe(t + 100 + WINDOW)
    // Once a runner holds it, the burst is closed: the next message opens a new one.
    expect(await stub.lease(last!.job!, { now: t + CAP, force: true })).not.toBeNull()
    const [next] = await accept(stub, sender, t + CAP + 10, [text(sender, t + CAP + 10, 'hello??')])
    expect(next).toMatchObject({ decision: 'new', typing: true })
    expect(next!.job).not.toBe(last!.job)
  })

  it('removes an unsent message from its burst, and cancels a burst left empty', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    const first = newMid()
    const second = newMid()
    const [a] = await accept(stub, sender, t, [text(sender, t, 'hi', first)])
    await accept(stub, sender, t + 200, [text(sender, t + 200, 'oops wrong chat', second)])
    await accept(stub, sender, t + 400, [{ kind: 'unsend', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t + 400, mid: second }])
    const lease = await stub.lease(a!.job!, { now: t + 200 + WINDOW, force: true })
    expect(lease!.kind).toMatchObject({ text: 'hi', burst: [{ mid: first, text: 'hi' }] })
    await stub.release(a!.job!, lease!.leaseId, { now: t + 200 + WINDOW })

    const other = await coalescingSender()
    const only = newMid()
    const [b] = await accept(other.stub, other.sender, t, [text(other.sender, t, 'hi', only)])
    await accept(other.stub, other.sender, t + 100, [{ kind: 'unsend', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: other.sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t + 100, mid: only }])
    expect((await other.stub.snapshot()).jobs).toEqual([expect.objectContaining({ id: b!.job, state: 'cancelled', outcome: 'unsent' })])
  })

  it('replaces an edited message in its burst', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    const mid = newMid()
    const [a] = await accept(stub, sender, t, [text(sender, t, 'are you open on Sundy?', mid)])
    await accept(stub, sender, t + 100, [text(sender, t + 100, 'and Monday')])
    await accept(stub, sender, t + 200, [{ kind: 'edit', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t + 200, mid, text: 'are you open on Sunday?' }])
    const lease = await stub.lease(a!.job!, { now: t + 100 + WINDOW, force: true })
    expect(lease!.kind).toMatchObject({ text: 'and Monday', burst: [{ text: 'are you open on Sunday?' }, { text: 'and Monday' }] })
  })

  it('cancels a waiting burst on an opt-out, whose confirmation goes out at once', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    const [a] = await accept(stub, sender, t, [text(sender, t, 'hi')])
    const [stop] = await accept(stub, sender, t + 300, [text(sender, t + 300, 'STOP')])
    expect(stop).toMatchObject({ decision: 'opt_out' })
    // A fixed reply is not delayed: leased right away, inside the burst's window.
    expect(stop!.lease).toMatchObject({ kind: { type: 'fixed', reason: 'opt_out' } })
    const jobs = (await stub.snapshot()).jobs
    expect(jobs.find((j) => j.id === a!.job)).toMatchObject({ state: 'cancelled', outcome: 'opted_out' })
  })

  it('cancels a waiting burst when a person replies from the Instagram app', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    const [a] = await accept(stub, sender, t, [text(sender, t, 'hi')])
    const [echo] = await accept(stub, sender, t + 300, [
      { kind: 'echo', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: DEFAULT_ACCOUNT_ID, recipientId: sender, timestamp: t + 300, mid: newMid(), text: 'Hi, Anna here!', hasAttachments: false },
    ])
    expect(echo!.decision).toBe('human_echo')
    expect((await stub.snapshot()).jobs).toEqual([expect.objectContaining({ id: a!.job, state: 'cancelled', outcome: 'paused' })])
    const [later] = await accept(stub, sender, t + 600, [text(sender, t + 600, 'hello?')])
    expect(later!.decision).toBe('paused')
  })

  it('does not hold a fixed reply back behind a waiting burst', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    await accept(stub, sender, t, [text(sender, t, 'look at this')])
    const [photo] = await accept(stub, sender, t + 200, [
      { kind: 'attachment', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t + 200, mid: newMid(), attachments: [{ type: 'image', url: 'https://lookaside.fbsbx.com/x' }] } as AcceptEvent,
    ])
    expect(photo!.dueAt).toBeUndefined()
    expect(photo!.lease).toMatchObject({ kind: { type: 'fixed', reason: 'attachment' } })
  })

  it('keeps every message its own job with COALESCE_WINDOW_MS=0, as before', async () => {
    const { sender, stub } = await coalescingSender({ COALESCE_WINDOW_MS: '0' })
    const t = Date.now()
    const results = []
    for (let i = 0; i < 3; i++) results.push((await accept(stub, sender, t + i * 300, [text(sender, t + i * 300, `m${i}`)]))[0]!)
    expect(results.map((r) => r.decision)).toEqual(['new', 'new', 'new'])
    expect(new Set(results.map((r) => r.job)).size).toBe(3)
    expect(results.every((r) => r.dueAt === undefined)).toBe(true)
  })

  it('gives a burst delivered in one batch to the runner once', async () => {
    const { sender, stub } = await coalescingSender()
    const t = Date.now()
    const results = await accept(stub, sender, t, [text(sender, t, 'a'), text(sender, t + 1, 'b'), text(sender, t + 2, 'c')])
    expect(results.map((r) => r.decision)).toEqual(['new', 'burst', 'burst'])
    expect(results.filter((r) => r.job)).toEqual([expect.objectContaining({ decision: 'burst', typing: true, dueAt: t + WINDOW })])
  })
})

describe('burst coalescing through the Worker', () => {
  it('answers three deliveries 300 ms apart once, from one model call that saw all three in order, each fenced', async () => {
    const { sender, stub } = await coalescingSender()
    const words = ['hi', 'quick question', 'are you open on Sunday?']
    const posts: Promise<Response>[] = []
    for (const w of words) {
      posts.push(postItems([{ senderId: sender, text: w }]))
      await new Promise((r) => setTimeout(r, 300))
    }
    expect((await Promise.all(posts)).map((r) => r.status)).toEqual([200, 200, 200])
    expect(net.textsTo(sender)).toHaveLength(1)
    expect(net.llm).toHaveLength(1)
    const turns = userTurns()
    expect(turns).toHaveLength(3)
    turns.forEach((turn, i) => {
      expect(turn).toMatch(/^<<data [0-9a-f]{16}>>\n/)
      expect(turn).toContain(words[i])
    })
    // One typing indicator, when the burst opened.
    const actions = net.graph.filter((c) => c.body.recipient?.id === sender).map((c) => c.body.sender_action ?? 'text')
    expect(actions).toEqual(['typing_on', 'text', 'mark_seen'])
    expect((await stub.snapshot()).jobs).toEqual([expect.objectContaining({ state: 'done' })])
  })

  it('answers a message sent while the burst is being generated once, afterwards', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    net.restore()
    net = installNetwork({
      llm: async (body, n) => {
        if (n === 1) await gate
        return `answer ${n} to ${body.messages.filter((m) => m.role === 'user').length} messages`
      },
    })
    const { sender, stub } = await coalescingSender({ COALESCE_WINDOW_MS: '200', COALESCE_MAX_MS: '1000' })
    const first = postItems([{ senderId: sender, text: 'hi' }])
    // Wait until the model is being asked for the first burst, then write again.
    while (net.llm.length === 0) await new Promise((r) => setTimeout(r, 20))
    const second = postItems([{ senderId: sender, text: 'one more thing' }])
    await new Promise((r) => setTimeout(r, 400))
    release()
    await Promise.all([first, second])
    // The second message is answered from the alarm if no runner was left to take it.
    for (let i = 0; i < 5 && net.textsTo(sender).length < 2; i++) {
      await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec("UPDATE jobs SET next_at = 0 WHERE state = 'pending'"))
      await runDurableObjectAlarm(stub)
    }
    expect(net.textsTo(sender)).toEqual(['answer 1 to 1 messages', 'answer 2 to 2 messages'])
    const jobs = (await stub.snapshot()).jobs
    expect(jobs.map((j) => j.state)).toEqual(['done', 'done'])
  })

  it('runs a burst whose runner is gone from the alarm, once, with all its messages', async () => {
    const { sender, stub } = await coalescingSender()
    // The burst's window closed a few seconds ago; the alarm that stands in for its runner is due later.
    const t = Date.now() - 5_000
    for (const [i, w] of ['hi', 'do you ship', 'to Austria?'].entries()) await accept(stub, sender, t + i * 300, [text(sender, t + i * 300, w)])
    await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec('UPDATE jobs SET next_at = 0'))
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect(net.textsTo(sender)).toHaveLength(1)
    expect(net.llm).toHaveLength(1)
    expect(userTurns().map((u) => u.split('\n')[1])).toEqual(['hi', 'do you ship', 'to Austria?'])
    await runDurableObjectAlarm(stub)
    expect(net.textsTo(sender)).toHaveLength(1)
  })
})
