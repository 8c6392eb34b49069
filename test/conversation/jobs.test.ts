import { describe, expect, it } from 'vitest'
import { Jobs, LEASE_MS, MAX_ATTEMPTS, retryDelayMs, textHash, WINDOW_MS, type Head } from '../../src/conversation/jobs'
import { ECHO_GRACE_MS } from '../../src/conversation/pipeline'
import { withStores } from './stores'

const fixed = (text: string) => ({ type: 'fixed' as const, text, reason: 'test' })
const T = 1_800_000_000_000

describe('retry delays', () => {
  it('start at 5 s, double per attempt and stop at 15 minutes', () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([5_000, 10_000, 20_000, 40_000])
    expect(retryDelayMs(30)).toBe(15 * 60_000)
  })
})

describe('reply text hashes', () => {
  it('ignore surrounding white space and differ for different texts', async () => {
    expect(await textHash(' hello ')).toBe(await textHash('hello'))
    expect(await textHash('hello')).not.toBe(await textHash('hello!'))
    expect(await textHash('hello')).toMatch(/^[0-9a-f]{24}$/)
  })
})

describe('reply jobs', () => {
  it('leases a job to one runner at a time, until the lease runs out', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('hi'), T)
      const a = jobs.lease('m1', T, true)
      expect(a?.kind).toEqual(fixed('hi'))
      expect(jobs.lease('m1', T + 1, true)).toBeNull()
      expect(jobs.lease('m1', T + LEASE_MS + 1, true)?.leaseId).not.toBe(a?.leaseId)
    })
  })

  it('keeps a later message waiting until the earlier one is finished', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m2', T + 5, fixed('second'), T)
      jobs.create('m1', T, fixed('first'), T)
      expect(jobs.lease('m2', T, true)).toBeNull()
      const first = jobs.lease('m1', T, true)!
      expect(jobs.saveReply('m1', first.leaseId, ['first'], 'fixed', 'h', T)).toBe(true)
      expect(jobs.partSent('m1', 0, 'out1', T + 1)).toEqual({ text: 'first', ts: T + 1 })
      expect(jobs.lease('m2', T + 2, true)?.id).toBe('m2')
    })
  })

  it('finishes the last open job without an unblock write, handing the alarm the empty queue it read', async () => {
    await withStores(({ sql, state, memory }) => {
      const woken: (Head[] | undefined)[] = []
      const jobs = new Jobs(sql, state, memory, (_now, heads) => woken.push(heads))
      const exec = sql.exec
      const seen: string[] = []
      sql.exec = ((q: string, ...b: SqlStorageValue[]) => (seen.push(q), exec.call(sql, q, ...b))) as SqlStorage['exec']
      try {
        jobs.create('m1', T, fixed('first'), T)
        jobs.create('m2', T + 5, fixed('second'), T)
        const first = jobs.lease('m1', T, true)!
        jobs.saveReply('m1', first.leaseId, ['first'], 'fixed', 'h', T)
        seen.length = 0
        jobs.partSent('m1', 0, 'out1', T + 1)
        // m2 waited behind m1: it is made due now, and the alarm reads the queue itself.
        expect(seen.filter((q) => q.startsWith('UPDATE jobs SET next_at = MIN'))).toHaveLength(1)
        expect(woken.at(-1)).toBeUndefined()
        const second = jobs.lease('m2', T + 2, true)!
        jobs.saveReply('m2', second.leaseId, ['second'], 'fixed', 'h2', T + 2)
        seen.length = 0
        jobs.partSent('m2', 0, 'out2', T + 3)
        expect(seen.filter((q) => q.startsWith('UPDATE jobs SET next_at = MIN'))).toEqual([])
        expect(woken.at(-1)).toEqual([])
      } finally {
        sql.exec = exec
      }
    })
  })

  it('records each part before the next and ends the job with the last', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('x'), T)
      const l = jobs.lease('m1', T, true)!
      jobs.saveReply('m1', l.leaseId, ['a', 'b'], 'llm', 'ha', T)
      expect(jobs.beginPart('m1', l.leaseId, 0, 'ha', T)).toBe('wait_for_echo')
      expect(jobs.partSent('m1', 0, 'o1', T)).toBeNull()
      expect(jobs.beginPart('m1', l.leaseId, 0, 'ha', T)).toBe('already_sent')
      expect(jobs.beginPart('m1', l.leaseId, 1, 'hb', T)).toBe('go')
      expect(jobs.partSent('m1', 1, 'o2', T)).toEqual({ text: 'a b', ts: T })
      expect(jobs.isOwn('o1') && jobs.isOwn('o2')).toBe(true)
      expect(jobs.pending()).toEqual([])
    })
  })

  it('lets a part whose send went unanswered go again only after the echo grace period', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('x'), T)
      const l = jobs.lease('m1', T, true)!
      jobs.saveReply('m1', l.leaseId, ['a'], 'llm', 'ha', T)
      expect(jobs.beginPart('m1', l.leaseId, 0, 'ha', T + 1)).toBe('wait_for_echo')
      // The grace period outlasts a lease: a later runner asks again.
      const late = T + ECHO_GRACE_MS - 1
      const l2 = jobs.lease('m1', late, true)!
      expect(jobs.beginPart('m1', l2.leaseId, 0, 'ha', late)).toBe('wait_for_echo')
      const l3 = jobs.lease('m1', late + LEASE_MS, true)!
      expect(jobs.beginPart('m1', l3.leaseId, 0, 'ha', late + LEASE_MS)).toBe('go')
    })
  })

  it('refuses a reply or a part from a runner that lost its lease', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('x'), T)
      const l = jobs.lease('m1', T, true)!
      expect(jobs.saveReply('m1', 'someone-else', ['a'], 'llm', 'h', T)).toBe(false)
      expect(jobs.saveReply('m1', 'someone-else', [], 'none', '', T)).toBe(false)
      // The lease ran out: even its holder can no longer save.
      expect(jobs.saveReply('m1', l.leaseId, ['a'], 'llm', 'h', T + LEASE_MS)).toBe(false)
      expect(jobs.saveReply('m1', l.leaseId, [], 'none', '', T + LEASE_MS)).toBe(false)
      expect(jobs.beginPart('m1', l.leaseId, 0, 'h', T + LEASE_MS)).toBe('lost_lease')
      expect(jobs.summary()).toEqual([{ id: 'm1', state: 'pending', outcome: null, attempts: 1 }])
      expect(jobs.saveReply('m1', l.leaseId, ['a'], 'llm', 'h', T + LEASE_MS - 1)).toBe(true)
    })
  })

  it('gives the queue heads, DMs first, in one read', async () => {
    await withStores(({ jobs }) => {
      expect(jobs.heads()).toEqual([])
      jobs.create('c1', T, { type: 'comment', commentId: 'c1', reply: 'hi', text: 'price?', rule: 0 }, T)
      jobs.create('m2', T + 2, fixed('b'), T)
      jobs.create('m1', T + 1, fixed('a'), T)
      expect(jobs.heads().map((h) => h.id)).toEqual(['m1', 'c1'])
      jobs.lease('m1', T, true)
      expect(jobs.freshHeads()).toEqual(['c1'])
    })
  })

  it('retries a given-back job later with a growing delay and asks for the alarm', async () => {
    await withStores(({ jobs, wakes }) => {
      jobs.create('m1', T, fixed('x'), T)
      const l1 = jobs.lease('m1', T, true)!
      expect(jobs.release('m1', l1.leaseId, { now: T })).toBeNull()
      expect(wakes).toContain(T)
      expect(jobs.nextRunAt()).toBe(T + 5_000)
      expect(jobs.lease('m1', T + 4_999, false)).toBeNull()
      const l2 = jobs.lease('m1', T + 5_000, false)!
      // Attempts are counted when a job is leased: this is the second.
      expect(l2.attempts).toBe(2)
      jobs.release('m1', l2.leaseId, { now: T + 5_000 })
      expect(jobs.nextRunAt()).toBe(T + 15_000)
    })
  })

  it('fails a job whose retry would fall after its messaging window, and lets the next go', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('x'), T)
      jobs.create('m2', T + 1, fixed('y'), T)
      const l = jobs.lease('m1', T + WINDOW_MS - 1_000, true)!
      expect(jobs.release('m1', l.leaseId, { now: T + WINDOW_MS - 1_000 })).toEqual({ state: 'failed', reason: 'window_closed' })
      expect(jobs.pending()).toEqual(['m2'])
    })
  })

  it('cancels a queued reply when the sender is opted out or paused, but not a confirmation', async () => {
    await withStores(({ jobs, state }) => {
      jobs.create('m1', T, { type: 'llm', text: 'hi' }, T)
      jobs.create('m2', T + 1, { type: 'fixed', text: 'bye', reason: 'opt_out' }, T)
      state.set('opted_out', 1)
      expect(jobs.lease('m1', T, true)).toBeNull()
      expect(jobs.summary()[0]).toMatchObject({ id: 'm1', state: 'cancelled', outcome: 'opted_out' })
      expect(jobs.lease('m2', T, true)?.kind).toMatchObject({ reason: 'opt_out' })
    })
  })

  it('cancels a reply to an unsent message unless it was already generated', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('x'), T)
      jobs.create('m2', T + 1, fixed('y'), T)
      const l = jobs.lease('m1', T, true)!
      jobs.saveReply('m1', l.leaseId, ['x'], 'fixed', 'h', T)
      jobs.cancelUnsent('m1')
      jobs.cancelUnsent('m2')
      expect(jobs.summary().map((j) => j.state)).toEqual(['generated', 'cancelled'])
    })
  })

  it('takes an echo of a part in flight as the bot\'s own and settles that part', async () => {
    await withStores(async ({ jobs }) => {
      jobs.create('m1', T, fixed('x'), T)
      const l = jobs.lease('m1', T, true)!
      const h = await textHash('hello there')
      jobs.saveReply('m1', l.leaseId, ['hello there'], 'llm', h, T)
      expect(jobs.claimEcho(await textHash('someone else'), 'e0', T)).toBe(false)
      expect(jobs.claimEcho(h, 'e1', T + 10)).toBe(true)
      expect(jobs.isOwn('e1')).toBe(true)
      expect(jobs.beginPart('m1', l.leaseId, 0, h, T + 20)).toBe('already_sent')
    })
  })

  it('forgets finished jobs after the retention time but never an open one', async () => {
    await withStores(({ jobs }) => {
      jobs.create('done', T, fixed('x'), T)
      // Still inside its messaging window when expire() runs (one past it ends: see below).
      jobs.create('open', T + 48 * 3_600_000, fixed('y'), T + 48 * 3_600_000)
      const l = jobs.lease('done', T, true)!
      jobs.release('done', l.leaseId, { now: T, final: 'policy' })
      jobs.expire(T + 49 * 3_600_000)
      expect(jobs.summary().map((j) => j.id)).toEqual(['open'])
    })
  })
})

describe('every job ends', () => {
  const state = (jobs: { summary(): { id: string; state: string; outcome: string | null; attempts: number }[] }, id: string) => jobs.summary().find((j) => j.id === id)

  it('counts an attempt when a job is leased, so a runner that dies without releasing still uses one up', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('hi'), T)
      let t = T
      for (let i = 1; i <= 3; i++) {
        expect(jobs.lease('m1', t, true)?.attempts).toBe(i)
        t += LEASE_MS + 1
      }
      expect(state(jobs, 'm1')).toMatchObject({ state: 'pending', attempts: 3 })
    })
  })

  it('a job leased MAX_ATTEMPTS times without finishing ends as failed, and the next message goes ahead', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('stuck'), T)
      jobs.create('m2', T + 1, fixed('next'), T)
      let t = T
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        expect(jobs.lease('m1', t, true)).not.toBeNull()
        t += LEASE_MS + 1
      }
      expect(jobs.lease('m1', t, true)).toBeNull()
      expect(state(jobs, 'm1')).toMatchObject({ state: 'failed', outcome: 'attempts_exhausted' })
      expect(jobs.lease('m2', t, true)?.id).toBe('m2')
    })
  })

  it('ends a job found past its messaging window at lease, without handing it out, and frees the queue', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('late'), T)
      jobs.create('m2', T + WINDOW_MS - 60_000, fixed('fresh'), T + WINDOW_MS - 60_000)
      expect(jobs.lease('m1', T + WINDOW_MS, true)).toBeNull()
      expect(state(jobs, 'm1')).toMatchObject({ state: 'failed', outcome: 'window_closed' })
      expect(jobs.lease('m2', T + WINDOW_MS, true)?.id).toBe('m2')
    })
  })

  it('expire() ends pending jobs whose window has closed (a leased one only once its lease ran out)', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('never leased'), T)
      jobs.create('m2', T + 10, fixed('leased'), T)
      jobs.create('m3', T + WINDOW_MS, fixed('in its window'), T + WINDOW_MS)
      jobs.expire(T + WINDOW_MS + 20)
      expect(state(jobs, 'm1')).toMatchObject({ state: 'failed', outcome: 'window_closed' })
      expect(state(jobs, 'm2')).toMatchObject({ state: 'failed', outcome: 'window_closed' })
      expect(state(jobs, 'm3')).toMatchObject({ state: 'pending' })
      expect(jobs.pending()).toEqual(['m3'])
    })
  })

  it('does not count a job given back untried (no time left, paced, account paused)', async () => {
    await withStores(({ jobs }) => {
      jobs.create('m1', T, fixed('hi'), T)
      const l = jobs.lease('m1', T, true)!
      expect(jobs.release('m1', l.leaseId, { now: T, retryAt: T, untried: true })).toBeNull()
      expect(state(jobs, 'm1')).toMatchObject({ attempts: 0 })
      expect(jobs.freshHeads()).toEqual(['m1'])
    })
  })
})


describe('comment replies and DM replies are separate queues', () => {
  const comment = (commentId: string) => ({ type: 'comment' as const, commentId, reply: 'Prices in your DMs', text: 'PRICE?', rule: 0 })
  const HOUR = 3_600_000

  it('a DM reply and a STOP confirmation do not wait behind a comment reply paced for an hour', async () => {
    await withStores(({ jobs }) => {
      jobs.create('c1', T, comment('c1'), T)
      const c = jobs.lease('c1', T, true)!
      jobs.release('c1', c.leaseId, { now: T, retryAt: T + HOUR, paced: true })
      jobs.create('m1', T + 1_000, fixed('open 9 to 5'), T + 1_000)
      jobs.create('m2', T + 2_000, { type: 'fixed', text: 'You will get no more messages', reason: 'opt_out' }, T + 2_000)
      const m1 = jobs.lease('m1', T + 1_000, true)!
      expect(m1.id).toBe('m1')
      // DMs keep their order: the confirmation waits for the DM reply, not for the comment.
      expect(jobs.lease('m2', T + 2_000, true)).toBeNull()
      expect(jobs.saveReply('m1', m1.leaseId, ['open 9 to 5'], 'test', 'h', T + 2_000)).toBe(true)
      jobs.partSent('m1', 0, 'out1', T + 2_000)
      expect(jobs.lease('m2', T + 2_000, true)?.id).toBe('m2')
      expect(jobs.lease('c1', T + 2_000, false)).toBeNull()
    })
  })

  it('DM replies keep their order among themselves, comment replies among themselves', async () => {
    await withStores(({ jobs }) => {
      jobs.create('c1', T, comment('c1'), T)
      jobs.create('m1', T + 1, fixed('first'), T)
      jobs.create('c2', T + 2, comment('c2'), T)
      jobs.create('m2', T + 3, fixed('second'), T)
      expect(jobs.lease('m2', T, true)).toBeNull()
      expect(jobs.lease('c2', T, true)).toBeNull()
      expect(jobs.lease('m1', T, true)?.id).toBe('m1')
      expect(jobs.lease('c1', T, true)?.id).toBe('c1')
    })
  })

  it('both queue heads are fresh, DMs first, and the alarm is due for the earlier of the two', async () => {
    await withStores(({ jobs }) => {
      jobs.create('c1', T, comment('c1'), T)
      const c = jobs.lease('c1', T, true)!
      jobs.release('c1', c.leaseId, { now: T, retryAt: T + HOUR, paced: true })
      expect(jobs.nextRunAt()).toBe(T + HOUR)
      jobs.create('m1', T + 1_000, fixed('hi'), T + 1_000)
      expect(jobs.freshHeads()).toEqual(['m1', 'c1'])
      expect(jobs.nextRunAt()).toBe(T + 1_000 + LEASE_MS)
    })
  })
})
