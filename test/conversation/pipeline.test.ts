import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/core/log'
import { ECHO_GRACE_MS, runJob, type PipelineDeps } from '../../src/conversation/pipeline'
import type { SenderObject } from '../../src/conversation/sender'
import { DEFAULT_ACCOUNT_ID, newMid } from '../../tools/payloads'
import { postItems, senderStub, newSender, testConfig } from '../helpers/deliver'
import { eventually, installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
afterEach(() => net?.restore())

const config = testConfig

/** Accepts one text message directly in the sender's object and returns its job id. */
async function acceptText(sender: string, text = 'hello', now = Date.now()) {
  const [r] = await senderStub(sender).accept({
    accountId: DEFAULT_ACCOUNT_ID,
    userId: sender,
    now,
    events: [{ kind: 'text', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: now, mid: newMid(), text }],
  })
  return r!.job!
}

class FakeClock {
  t = Date.now()
  sleeps: number[] = []
  now = () => this.t
  sleep = async (ms: number) => {
    this.sleeps.push(ms)
    this.t += ms
  }
}

function fakeDeps(over: Partial<PipelineDeps> = {}, clock = new FakeClock()) {
  const sent: string[] = []
  const actions: string[] = []
  // The pipeline's model deadline: it fires only when a test says so.
  const model = new AbortController()
  const deps: PipelineDeps = {
    config: config(),
    log: createLogger({ test: true }),
    now: clock.now,
    sleep: clock.sleep,
    deadline: () => clock.t + 25_000,
    send: {
      text: async (_id, text) => {
        sent.push(text)
        return { messageId: `m_${sent.length}` }
      },
      action: async (_id, a) => {
        actions.push(a)
      },
    },
    // Like the real one: the model is called (and charged) only when admitted.
    generate: async ({ text, admit }) => (admit && !(await admit()) ? { outcome: 'over_budget', text: '' } : { outcome: 'llm', text: `answer to ${text}` }),
    canSend: async () => true,
    split: (t) => (t ? [t] : []),
    classify: (err) => (err as { failure: { retryable: boolean; category: string; ambiguous?: boolean } }).failure,
    spendBudget: async () => true,
    report: async () => {},
    abortAfter: () => model.signal,
    ...over,
  }
  return { deps, sent, actions, clock, modelDeadline: () => model.abort() }
}

const failure = (retryable: boolean, category: string, ambiguous = false) => Object.assign(new Error(category), { failure: { retryable, category, ambiguous } })

describe('the reply pipeline through the Worker', () => {
  beforeEach(() => {
    net = installNetwork()
  })

  it('sends typing_on, calls the LLM once with the memory, replies once and marks the message seen', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'Do you ship to Austria?', timestamp: Date.now() - 5000 }])
    await postItems([{ senderId: sender, text: 'And how long does it take?' }])
    const calls = net.graph.filter((c) => c.body.recipient?.id === sender)
    expect(calls.map((c) => c.body.sender_action ?? 'text')).toEqual(['typing_on', 'text', 'mark_seen', 'typing_on', 'text', 'mark_seen'])
    for (const c of calls) {
      expect(c.path).toBe('/v25.0/me/messages')
      expect(c.auth).toBe('Bearer test-ig-token')
    }
    expect(calls[1]!.body).toMatchObject({ recipient: { id: sender }, message: { text: expect.any(String) } })
    const second = net.llm.at(-1)!.messages.map((m) => m.content).join('\n')
    expect(second).toContain('Do you ship to Austria?')
    expect(second).toContain('And how long does it take?')
    expect(net.llm.at(-1)!.tools).toBeUndefined()
  })

  it('puts the configured quick replies under the last part of an answer and the handoff notice, not under other notices', async () => {
    const sender = newSender()
    const chips = { QUICK_REPLIES: 'Opening hours,Talk to a person' } as Partial<Env>
    const t = Date.now() - 10_000
    await postItems([{ senderId: sender, text: 'Do you ship?', timestamp: t }], chips)
    await postItems([{ senderId: sender, kind: 'image', timestamp: t + 1 }], chips)
    // A tap on a chip arrives as a quick_reply and is handled as any message: here, a handoff.
    await postItems([{ senderId: sender, kind: 'quick_reply', text: 'Talk to a person', payload: 'Talk to a person', timestamp: t + 2 }], chips)
    const texts = net.graph.filter((c) => c.body.recipient?.id === sender && c.body.message)
    expect(texts).toHaveLength(3)
    const titles = (i: number) => (texts[i]!.body.message as { quick_replies?: { title: string; payload: string; content_type: string }[] }).quick_replies
    expect(titles(0)).toEqual([
      { content_type: 'text', title: 'Opening hours', payload: 'Opening hours' },
      { content_type: 'text', title: 'Talk to a person', payload: 'Talk to a person' },
    ])
    expect(titles(1)).toBeUndefined()
    expect(texts[2]!.body.message).toMatchObject({ text: config().HANDOFF_REPLY })
    expect(titles(2)).toHaveLength(2)
  })

  it('sends no quick replies where QUICK_REPLIES_ON leaves them out', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'Do you ship?' }], { QUICK_REPLIES: 'Hours', QUICK_REPLIES_ON: 'handoff' } as Partial<Env>)
    const text = net.graph.find((c) => c.body.recipient?.id === sender && c.body.message)
    expect(text!.body.message).not.toHaveProperty('quick_replies')
  })

  it('posts to the configured account id', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hi' }], { IG_ACCOUNT_ID: '17841400000000001' } as Partial<Env>)
    expect(net.graph.filter((c) => c.body.recipient?.id === sender).every((c) => c.path === '/v25.0/17841400000000001/messages')).toBe(true)
  })

  it('sends exactly one fallback reply when the LLM answers 500', async () => {
    net.restore()
    net = installNetwork({ llm: () => new Response('{"error":{"message":"boom"}}', { status: 500 }) })
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello?' }])
    expect(net.textsTo(sender)).toEqual([config().FALLBACK_REPLY])
    expect(net.llm).toHaveLength(1)
  })

  it('answers stickers, story mentions and postbacks by kind, and reactions and reads not at all', async () => {
    const sender = newSender()
    const t = Date.now() - 20_000
    await postItems([{ senderId: sender, kind: 'image', timestamp: t }])
    await postItems([{ senderId: sender, kind: 'story_mention', timestamp: t + 1 }])
    await postItems([{ senderId: sender, kind: 'postback', text: 'Opening hours', timestamp: t + 2 }])
    await postItems([{ senderId: sender, kind: 'reaction', timestamp: t + 3 }])
    await postItems([{ senderId: sender, kind: 'read', timestamp: t + 4 }])
    const texts = net.textsTo(sender)
    expect(texts[0]).toBe(config().ATTACHMENT_REPLY)
    expect(texts[1]).toBe(config().STORY_MENTION_REPLY)
    expect(texts).toHaveLength(3)
    expect(net.llm.at(-1)!.messages.map((m) => m.content).join('\n')).toContain('Opening hours')
  })

  it('keeps a reply that cannot be sent yet waiting without using up attempts, and charges it once it is sent', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender, 'are you open?')
    let usable = false
    let charged = 0
    const { deps, sent } = fakeDeps({ canSend: async () => usable, spendBudget: async () => (charged++, true) })
    // Many more tries than MAX_ATTEMPTS while the token is unusable (deauthorized or rejected).
    for (let i = 0; i < 25; i++) expect(await runJob(deps, stub, job, { immediate: true })).toBe('deferred')
    expect((await stub.snapshot()).jobs.find((j) => j.id === job)).toMatchObject({ state: 'pending', attempts: 0 })
    usable = true
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('done')
    expect(sent).toEqual(['answer to are you open?'])
    expect(charged).toBe(1)
  })

  it('delivers later from the alarm, exactly once, when the Send API fails beyond the waitUntil budget', async () => {
    let down = true
    net.restore()
    net = installNetwork({
      graph: (call) =>
        down && !call.body.sender_action
          ? Response.json({ error: { message: 'An unexpected error has occurred.', type: 'OAuthException', code: 2, is_transient: true } }, { status: 500 })
          : undefined,
    })
    const sender = newSender()
    const stub = senderStub(sender)
    // A job whose first run could not send: simulate the end of the waitUntil budget directly.
    const job = await acceptText(sender, 'are you there?')
    const clock = new FakeClock()
    const real = (await import('../../src/conversation/deps')).createPipelineDeps(env, config(), createLogger(), () => clock.t + 20_000)
    expect(await runJob({ ...real, now: clock.now, sleep: clock.sleep }, stub, job, { immediate: true })).toBe('deferred')
    expect(net.textsTo(sender)).toHaveLength(0)
    expect(net.llm).toHaveLength(1)
    down = false
    await runInDurableObject(stub, (_o: SenderObject, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_at = 0')
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect(net.textsTo(sender)).toHaveLength(1)
    // The reply generated in the first run is reused: the LLM is not called again.
    expect(net.llm).toHaveLength(1)
    expect((await stub.snapshot()).jobs).toEqual([expect.objectContaining({ id: job, state: 'done' })])
    await runDurableObjectAlarm(stub)
    expect(net.textsTo(sender)).toHaveLength(1)
  })

  it('still replies once when the webhook is redelivered while the reply is being retried', async () => {
    let fails = 3
    net.restore()
    net = installNetwork({
      graph: (call) =>
        !call.body.sender_action && fails-- > 0
          ? Response.json({ error: { message: 'Please retry', type: 'OAuthException', code: 1, is_transient: true } }, { status: 500 })
          : undefined,
    })
    const sender = newSender()
    const mid = newMid()
    await Promise.all([postItems([{ senderId: sender, mid, text: 'hello' }]), postItems([{ senderId: sender, mid, text: 'hello' }])])
    await postItems([{ senderId: sender, mid, text: 'hello' }])
    expect(net.textsTo(sender)).toHaveLength(1)
  })
})

describe('runJob with injected dependencies', () => {
  it('retries transient Send API errors with growing, jittered waits and then records the part once', async () => {
    const sender = newSender()
    const job = await acceptText(sender)
    let n = 0
    const { deps, sent, clock } = fakeDeps()
    deps.send.text = async (_id, text) => {
      if (n++ < 3) throw failure(true, 'transient')
      sent.push(text)
      return { messageId: 'm_ok' }
    }
    expect(await runJob(deps, senderStub(sender), job, { immediate: true })).toBe('done')
    expect(sent).toEqual(['answer to hello'])
    expect(clock.sleeps).toHaveLength(3)
    clock.sleeps.forEach((ms, i) => expect(ms).toBeLessThan(500 * 2 ** i))
  })

  it('does not retry final errors and records the job as failed', async () => {
    for (const category of ['token_invalid', 'outside_window', 'user_unavailable', 'bad_request']) {
      const sender = newSender()
      const job = await acceptText(sender)
      let calls = 0
      const reports: string[] = []
      const { deps } = fakeDeps({ report: async (e) => void reports.push(e) })
      deps.send.text = async () => {
        calls++
        throw failure(false, category)
      }
      expect(await runJob(deps, senderStub(sender), job, { immediate: true })).toBe('failed')
      expect(calls).toBe(1)
      expect((await senderStub(sender).snapshot()).jobs[0]).toMatchObject({ state: 'failed', outcome: category })
      expect(reports).toContain(category === 'token_invalid' ? 'token_invalid' : 'send_failed')
    }
  })

  it('never sends a part twice: an unanswered send waits for its echo instead of resending', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const { deps, sent } = fakeDeps()
    deps.send.text = async (_id, text) => {
      sent.push(text)
      throw failure(true, 'transient', true)
    }
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('deferred')
    expect(sent).toHaveLength(1)
    // The message did go out: its echo arrives and settles the part.
    const now = Date.now()
    await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, events: [{ kind: 'echo', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: DEFAULT_ACCOUNT_ID, recipientId: sender, timestamp: now, mid: 'm_echo', text: sent[0], hasAttachments: false }] })
    // The echo wakes the job: the object's alarm (with the Worker's real dependencies) finishes it,
    // possibly before this test could run it itself, so the test lets the alarm do it and
    // watches the Graph API: nothing may be sent again.
    net = installNetwork()
    await runInDurableObject(stub, (_o: SenderObject, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_at = 0')
      state.storage.sql.exec('UPDATE parts SET at = 0')
    })
    await runDurableObjectAlarm(stub)
    await eventually(async () => (await stub.snapshot()).jobs[0]?.state === 'done')
    expect(net.textsTo(sender)).toHaveLength(0)
    const snap = await stub.snapshot()
    expect(snap.decisions.own_echo).toBe(1)
    // The echo-confirmed part finishes the job, so later messages are not held behind it.
    expect(snap.jobs[0]).toMatchObject({ state: 'done' })
  })

  it('answers a DM whose send got no answer and never reached Meta: late, from the alarm after the echo grace period, once', async () => {
    // What the bench saw under load: a dropped connection on the Send API call (no echo ever
    // comes). The reply is not lost; it waits ECHO_GRACE_MS, then the alarm sends it exactly once.
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const { deps, sent } = fakeDeps()
    deps.send.text = async (_id, text) => {
      sent.push(text)
      throw failure(true, 'transient', true)
    }
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('deferred')
    expect((await stub.snapshot()).jobs[0]).toMatchObject({ state: 'generated', attempts: 1 })
    net = installNetwork()
    // Inside the grace period the alarm sends nothing (the first send may yet echo).
    await runInDurableObject(stub, (_o: SenderObject, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_at = 0')
    })
    await runDurableObjectAlarm(stub)
    expect(net.textsTo(sender)).toHaveLength(0)
    expect((await stub.snapshot()).jobs[0]).toMatchObject({ state: 'generated' })
    // The grace period is over and no echo came: the alarm sends the saved reply, once.
    await runInDurableObject(stub, (_o: SenderObject, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_at = 0')
      state.storage.sql.exec('UPDATE parts SET at = ?', Date.now() - ECHO_GRACE_MS - 1)
    })
    await runDurableObjectAlarm(stub)
    await eventually(async () => (await stub.snapshot()).jobs[0]?.state === 'done')
    await runDurableObjectAlarm(stub)
    expect(net.textsTo(sender)).toEqual([sent[0]])
  })

  it('counts a part Meta may have delivered despite an error as sent, so its echo does not look like a person', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const { deps } = fakeDeps({ split: () => ['first part', 'second part'] })
    const sent: string[] = []
    deps.send.text = async (_id, text) => {
      sent.push(text)
      if (text === 'first part') throw failure(false, 'unknown')
      return { messageId: 'm_2' }
    }
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('done')
    expect(sent).toEqual(['first part', 'second part'])
    const now = Date.now()
    const [echo] = await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, events: [{ kind: 'echo', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: DEFAULT_ACCOUNT_ID, recipientId: sender, timestamp: now, mid: 'm_unknown', text: 'first part', hasAttachments: false }] })
    expect(echo!.decision).toBe('own_echo')
    expect((await stub.snapshot()).state.paused_until).toBeUndefined()
  })

  it('drops a queued reply when a person takes over before it is sent', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const now = Date.now()
    await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, events: [{ kind: 'echo', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: DEFAULT_ACCOUNT_ID, recipientId: sender, timestamp: now, mid: 'm_person', text: 'I am a person', hasAttachments: false }] })
    const { deps, sent } = fakeDeps()
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('skipped')
    expect(sent).toHaveLength(0)
    expect((await stub.snapshot()).jobs[0]).toMatchObject({ state: 'cancelled', outcome: 'paused' })
  })

  it('does not send the reply to a message the user unsent while it was being generated', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const t = Date.now()
    const mid = newMid()
    const [r] = await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now: t, events: [{ kind: 'text', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t, mid, text: 'oops' }] })
    const { deps, sent } = fakeDeps({
      generate: async () => {
        await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, events: [{ kind: 'unsend', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: t + 1, mid }] })
        return { outcome: 'llm', text: 'answer' }
      },
    })
    expect(await runJob(deps, stub, r!.job!, { immediate: true })).toBe('skipped')
    expect(sent).toHaveLength(0)
    expect((await stub.snapshot()).jobs[0]).toMatchObject({ state: 'cancelled', outcome: 'unsent' })
  })

  it('sets the alarm for the first job in message order, not for one waiting behind it', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const t = Date.now() - 1000
    const first = await acceptText(sender, 'first', t)
    const second = await acceptText(sender, 'second', t + 1)
    // The second is overdue, but it must wait for the first: it must not make the alarm fire now.
    await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec('UPDATE jobs SET next_at = 0 WHERE id = ?', second))
    const clock = new FakeClock()
    const { deps } = fakeDeps({ deadline: () => clock.t + 20_000 }, clock)
    deps.send.text = async () => {
      throw failure(true, 'transient')
    }
    expect(await runJob(deps, stub, first, { immediate: true })).toBe('deferred')
    const { alarm, firstNext } = await runInDurableObject(stub, async (_o: SenderObject, state) => ({
      alarm: await state.storage.getAlarm(),
      firstNext: state.storage.sql.exec<{ next_at: number }>('SELECT next_at FROM jobs WHERE id = ?', first).one().next_at,
    }))
    expect(alarm).toBe(firstNext)
    expect(alarm).toBeGreaterThan(Date.now() + 1000)
  })

  it('sends multi-part replies in order and resumes after the last confirmed part', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const clock = new FakeClock()
    const first = fakeDeps({ split: () => ['one', 'two', 'three'], deadline: () => clock.t + 20_000 }, clock)
    first.deps.send.text = async (_id, text) => {
      if (text === 'two') throw failure(true, 'transient')
      first.sent.push(text)
      return { messageId: `m_${text}` }
    }
    // Part two keeps failing until the budget runs out; part one was recorded before it.
    expect(await runJob(first.deps, stub, job, { immediate: true })).toBe('deferred')
    expect(first.sent).toEqual(['one'])
    const parts = await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec<{ idx: number; state: string }>('SELECT idx, state FROM parts ORDER BY idx').toArray())
    expect(parts).toEqual([{ idx: 0, state: 'sent' }])
    await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec('UPDATE jobs SET next_at = 0'))
    const second = fakeDeps({ split: () => ['never', 'used'] })
    expect(await runJob(second.deps, stub, job)).toBe('done')
    expect(second.sent).toEqual(['two', 'three'])
  })

  it('calls the LLM no more than once per job even when sending is retried from the alarm', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    let generated = 0
    const clock = new FakeClock()
    const first = fakeDeps({ generate: async () => ({ outcome: 'llm', text: `reply ${++generated}` }), deadline: () => clock.t + 20_000 }, clock)
    first.deps.send.text = async () => {
      throw failure(true, 'rate_limited')
    }
    expect(await runJob(first.deps, stub, job, { immediate: true })).toBe('deferred')
    await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec('UPDATE jobs SET next_at = 0'))
    const second = fakeDeps({ generate: async () => ({ outcome: 'llm', text: `reply ${++generated}` }) })
    expect(await runJob(second.deps, stub, job)).toBe('done')
    expect(generated).toBe(1)
    expect(second.sent).toEqual(['reply 1'])
  })

  it('records a reply that cannot be sent before the 24-hour window closes as failed', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const t = Date.now() - 23.99 * 3_600_000
    const job = await acceptText(sender, 'late', t)
    const clock = new FakeClock()
    clock.t = t + 24 * 3_600_000
    const { deps, sent } = fakeDeps({}, clock)
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('failed')
    expect(sent).toHaveLength(0)
    expect((await stub.snapshot()).jobs[0]).toMatchObject({ state: 'failed', outcome: 'outside_window' })
  })

  it('leaves no part in flight when the time ran out before the first send attempt', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const clock = new FakeClock()
    const { deps, sent } = fakeDeps(
      {
        deadline: () => clock.t + 20_000,
        // A slow model: by the time the reply is ready the budget is spent.
        generate: async () => {
          clock.t += 30_000
          return { outcome: 'llm', text: 'late answer' }
        },
      },
      clock
    )
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('deferred')
    expect(sent).toHaveLength(0)
    const parts = await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec('SELECT * FROM parts').toArray())
    // Not "maybe delivered": the retry sends it without waiting minutes for an echo.
    expect(parts).toEqual([])
  })

  it('treats a person typing the same words as an earlier, confirmed reply as a person', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    const { deps } = fakeDeps({ generate: async () => ({ outcome: 'llm', text: 'Thanks!' }) })
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('done')
    const now = Date.now()
    const [echo] = await stub.accept({ accountId: DEFAULT_ACCOUNT_ID, userId: sender, now, events: [{ kind: 'echo', source: 'messaging', accountId: DEFAULT_ACCOUNT_ID, senderId: DEFAULT_ACCOUNT_ID, recipientId: sender, timestamp: now, mid: 'm_typed_by_anna', text: 'Thanks!', hasAttachments: false }] })
    expect(echo!.decision).toBe('human_echo')
  })

  it('does not run a job from the alarm before its retry time', async () => {
    const sender = newSender()
    const job = await acceptText(sender)
    const { deps, sent } = fakeDeps()
    expect(await runJob(deps, senderStub(sender), job)).toBe('skipped')
    expect(sent).toHaveLength(0)
  })

  it('hands work back untouched when too little of the budget is left to start', async () => {
    const sender = newSender()
    const job = await acceptText(sender)
    const clock = new FakeClock()
    const { deps, sent } = fakeDeps({ deadline: () => clock.t + 500 }, clock)
    expect(await runJob(deps, senderStub(sender), job, { immediate: true })).toBe('deferred')
    expect(sent).toHaveLength(0)
  })
})

it('eventually helper fails when the condition never holds', async () => {
  await expect(eventually(() => false, 50)).rejects.toThrow('condition not met')
})

describe('every job ends (issue 17)', () => {
  it('through the Worker: a model that sends headers and half a body, then nothing, costs one fallback and the next DM is answered', async () => {
    let stalled = true
    net = installNetwork({
      llm: () => {
        if (!stalled) return 'fine now'
        const half = new TextEncoder().encode('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hel')
        return new Response(new ReadableStream({ start: (c) => c.enqueue(half) }), { headers: { 'content-type': 'application/json' } })
      },
    })
    const sender = newSender()
    const quick = { LLM_TIMEOUT_MS: '500' } as Partial<Env>
    await postItems([{ senderId: sender, text: 'hello?' }], quick)
    expect(net.textsTo(sender)).toEqual([config().FALLBACK_REPLY])
    stalled = false
    await postItems([{ senderId: sender, text: 'anyone there?' }], quick)
    expect(net.textsTo(sender)).toHaveLength(2)
    expect(net.textsTo(sender)[1]).not.toBe(config().FALLBACK_REPLY)
    expect((await senderStub(sender).snapshot()).jobs.map((j) => j.state)).toEqual(['done', 'done'])
  })

  it('answers one fallback when the model call never settles, once the pipeline\'s own deadline passes', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    let signal: AbortSignal | undefined
    const { deps, sent, modelDeadline } = fakeDeps({
      // Headers came, the body never ends, and the call ignores its signal: only abandoning it helps.
      generate: (input) => {
        signal = input.signal
        return new Promise(() => {})
      },
    })
    const run = runJob(deps, stub, job, { immediate: true })
    await eventually(() => signal !== undefined)
    modelDeadline()
    expect(await run).toBe('done')
    expect(signal!.aborted).toBe(true)
    expect(sent).toEqual([config().FALLBACK_REPLY])
    expect((await stub.snapshot()).jobs[0]).toMatchObject({ state: 'done' })
  })

  it('gives the model LLM_TIMEOUT_MS plus moderation\'s share plus a margin, not more', async () => {
    const asked: number[] = []
    const sender = newSender()
    const job = await acceptText(sender)
    const { deps } = fakeDeps({
      config: { ...config(), LLM_TIMEOUT_MS: 4000, MODERATION: true },
      abortAfter: (ms) => {
        asked.push(ms)
        return new AbortController().signal
      },
    })
    expect(await runJob(deps, senderStub(sender), job, { immediate: true })).toBe('done')
    expect(asked).toEqual([4000 + 5000 + 1000])
  })

  it('charges the LLM budget on the first attempt only: a retry after a runner died mid-call is not charged again', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptText(sender)
    // A first runner took the job (and charged it), then died without giving it back.
    expect(await stub.lease(job, { force: true })).not.toBeNull()
    await runInDurableObject(stub, (_o: SenderObject, state) => {
      state.storage.sql.exec('UPDATE jobs SET lease_until = 0, next_at = 0')
    })
    let charged = 0
    const { deps, sent } = fakeDeps({
      spendBudget: async () => {
        charged++
        return true
      },
    })
    expect(await runJob(deps, stub, job)).toBe('done')
    expect(charged).toBe(0)
    expect(sent).toHaveLength(1)
  })
})


describe('a private reply to a comment throttled by Meta', () => {
  /** Accepts one comment matching the fixed-reply rule ('price') and returns its job id. */
  async function acceptComment(sender: string, now = Date.now()) {
    const [r] = await senderStub(sender).accept({
      accountId: DEFAULT_ACCOUNT_ID,
      userId: sender,
      now,
      events: [
        { kind: 'comment', source: 'changes', accountId: DEFAULT_ACCOUNT_ID, senderId: sender, recipientId: DEFAULT_ACCOUNT_ID, timestamp: now, commentId: `c_${sender}`, text: 'PRICE?', live: false, own: false },
      ],
    })
    return r!.job!
  }

  it('is not retried in the runner and waits out the pause without using up an attempt (like a DM)', async () => {
    const sender = newSender()
    const stub = senderStub(sender)
    const job = await acceptComment(sender)
    const clock = new FakeClock()
    const started = clock.t
    let calls = 0
    const { deps } = fakeDeps({}, clock)
    deps.comments = {
      privateReply: async () => {
        calls++
        throw Object.assign(new Error('rate_limited'), { failure: { retryable: true, category: 'rate_limited', retryAfterMs: 600_000 } })
      },
      publicReply: async () => ({ id: 'p1' }),
      slot: async () => ({ ok: true }),
    }
    expect(await runJob(deps, stub, job, { immediate: true })).toBe('deferred')
    expect(calls).toBe(1)
    expect(clock.sleeps).toEqual([])
    const row = await runInDurableObject(stub, (_o: SenderObject, state) => state.storage.sql.exec<{ attempts: number; next_at: number; state: string }>('SELECT attempts, next_at, state FROM jobs').one())
    expect(row).toMatchObject({ attempts: 0, state: 'generated' })
    // Back once Meta's pause (10 minutes here) is over, spread across senders.
    expect(row.next_at).toBeGreaterThanOrEqual(started + 600_000)
    expect(row.next_at).toBeLessThan(started + 600_000 + 60_000)
  })
})
