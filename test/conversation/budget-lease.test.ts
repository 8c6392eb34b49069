/**
 * The daily LLM budget counted in per-isolate leases (src/conversation/budget-lease.ts): block
 * sizes, and isolates' lease caches against the real account object (its SQLite storage).
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { BudgetLeases, FIRST_BLOCK, grantedBlock, GROW_WITHIN_MS, MAX_BLOCK, REMAINING_SHARE, wantedBlock } from '../../src/conversation/budget-lease'

let seq = 0
/** A fresh account object per test: no test sees another's budget. */
const freshAccount = () => {
  const name = `lease-test-${Date.now()}-${++seq}`
  return { name, stub: env.ACCOUNT.getByName(name) }
}
type Stub = ReturnType<typeof freshAccount>['stub']

/** One isolate's lease cache asking `stub` (as deps.ts does), counting its requests. */
function isolate(stub: Stub, limit: number, clock = { now: 0 }) {
  const leases = new BudgetLeases(() => clock.now)
  const asked: number[] = []
  const granted: number[] = []
  const spend = (account: string, day: string) =>
    leases.spend(account, day, limit, async (want) => {
      asked.push(want)
      const n = await stub.spend(day, limit, Date.parse(`${day}T12:00:00Z`), undefined, want)
      granted.push(n)
      return n
    })
  return { spend, asked, granted, clock }
}

describe('block sizes', () => {
  it('start at the first block, double while blocks are used up within a minute, and stop at the largest', () => {
    expect(wantedBlock(0, 0)).toBe(FIRST_BLOCK)
    const sizes = [FIRST_BLOCK]
    for (let i = 0; i < 5; i++) sizes.push(wantedBlock(sizes.at(-1)!, GROW_WITHIN_MS - 1))
    expect(sizes).toEqual([8, 16, 32, 32, 32, 32])
    expect(Math.max(...sizes)).toBe(MAX_BLOCK)
  })

  it('go back to the first block after a block that lasted a minute or more (a slow isolate holds little)', () => {
    expect(wantedBlock(MAX_BLOCK, GROW_WITHIN_MS)).toBe(FIRST_BLOCK)
    // A block the object shrank near the limit grows again from the first size, not from 1.
    expect(wantedBlock(1, 10)).toBe(FIRST_BLOCK)
  })

  it('are granted in full while plenty remains, shrink to a share of what remains near the limit, and end at 1', () => {
    expect(grantedBlock(2000, 32)).toBe(32)
    expect(grantedBlock(160, 32)).toBe(160 / REMAINING_SHARE)
    expect(grantedBlock(2 * REMAINING_SHARE, 32)).toBe(2)
    for (const remaining of [2 * REMAINING_SHARE - 1, REMAINING_SHARE, 2, 1]) expect(grantedBlock(remaining, 32)).toBe(1)
    for (const remaining of [0, -5, NaN]) expect(grantedBlock(remaining, 32)).toBe(0)
  })

  it('count a hostile wanted size (from an RPC argument) as 1', () => {
    for (const wanted of [MAX_BLOCK + 1, 1e9, 0, -8, 2.5, NaN, Infinity, '8', null, undefined, { valueOf: () => 8 }]) expect(grantedBlock(2000, wanted)).toBe(1)
  })
})

describe('isolates leasing the budget from one account object', () => {
  it('never make more model calls than the limit across several independent isolates, and strand only their last blocks', async () => {
    const { name, stub } = freshAccount()
    const limit = 1000
    const isolates = Array.from({ length: 5 }, () => isolate(stub, limit))
    const day = '2026-11-28'
    // Uneven traffic: isolate i gets i+1 of every 15 calls, all at once.
    const calls = Array.from({ length: 1200 }, (_, k) => isolates[[0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4][k % 15]!]!)
    const results = await Promise.all(calls.map((i) => i.spend(name, day)))
    const allowed = results.filter(Boolean).length
    const status = await stub.status(limit, Date.parse(`${day}T12:00:00Z`))
    expect(status).toMatchObject({ llmCallsToday: limit, budgetExhausted: true })
    expect(allowed).toBeLessThanOrEqual(limit)
    // What was granted but not used is at most each isolate's last block less one unit.
    const stranded = limit - allowed
    expect(stranded).toBeLessThanOrEqual(isolates.reduce((sum, i) => sum + ((i.granted.filter((n) => n > 0).at(-1) ?? 1) - 1), 0))
    // A fraction of a request per model call, the day's one-by-one tail included.
    expect(isolates.reduce((sum, i) => sum + i.asked.length, 0)).toBeLessThan(allowed / 5)
  })

  it('grants the last units one by one, so none of them is stranded in an idle isolate', async () => {
    const { name, stub } = freshAccount()
    const limit = 100
    const busy = isolate(stub, limit)
    const day = '2026-11-28'
    let allowed = 0
    while (await busy.spend(name, day)) allowed++
    expect(allowed).toBe(limit)
    expect(busy.granted.reduce((a, b) => a + b, 0)).toBe(limit)
    // Every grant is at most a 1/REMAINING_SHARE of what remained; the last 2×REMAINING_SHARE−1 are single units.
    let remaining = limit
    for (const n of busy.granted.filter((g) => g > 0)) {
      expect(n).toBeLessThanOrEqual(Math.max(1, Math.floor(remaining / REMAINING_SHARE)))
      if (remaining < 2 * REMAINING_SHARE) expect(n).toBe(1)
      remaining -= n
    }
    expect(busy.granted.at(-1)).toBe(0)
    // An isolate arriving when the budget is spent gets nothing.
    expect(await isolate(stub, limit).spend(name, day)).toBe(false)
  })

  it('starts a new lease on a new UTC day: yesterday\'s leftover units are not spent today', async () => {
    const { name, stub } = freshAccount()
    const i = isolate(stub, 2000)
    expect(await i.spend(name, '2026-11-28')).toBe(true)
    expect(i.asked).toEqual([FIRST_BLOCK])
    expect(await i.spend(name, '2026-11-29')).toBe(true)
    expect(i.asked).toEqual([FIRST_BLOCK, FIRST_BLOCK])
    expect((await stub.status(2000, Date.parse('2026-11-29T12:00:00Z'))).llmCallsToday).toBe(FIRST_BLOCK)
    expect((await stub.status(2000, Date.parse('2026-11-28T12:00:00Z'))).llmCallsToday).toBe(FIRST_BLOCK)
  })

  it('keeps today\'s lease while model calls dated yesterday still come in after midnight: no unit of today is thrown away', async () => {
    const { name, stub } = freshAccount()
    const i = isolate(stub, 2000)
    const [yesterday, today] = ['2026-11-28', '2026-11-29']
    expect(await i.spend(name, yesterday)).toBe(true)
    // The day is taken before the request for the unit is made, so around midnight calls dated
    // either day interleave in one isolate.
    for (let k = 0; k < 4; k++) {
      expect(await i.spend(name, today)).toBe(true)
      expect(await i.spend(name, yesterday)).toBe(true)
    }
    // One block each day, the calls of each day taken from it.
    expect(i.asked).toEqual([FIRST_BLOCK, FIRST_BLOCK])
    expect((await stub.status(2000, Date.parse(`${today}T12:00:00Z`))).llmCallsToday).toBe(FIRST_BLOCK)
    expect((await stub.status(2000, Date.parse(`${yesterday}T12:00:00Z`))).llmCallsToday).toBe(FIRST_BLOCK)
  })

  it('with a budget of 0 allows no model call and makes no request', async () => {
    const { name, stub } = freshAccount()
    const i = isolate(stub, 0)
    expect(await i.spend(name, '2026-11-28')).toBe(false)
    expect(i.asked).toEqual([])
    // The object itself grants nothing either, whatever is asked for.
    expect(await stub.spend('2026-11-28', 0, Date.now(), undefined, MAX_BLOCK)).toBe(0)
  })

  it('once over budget, asks no more that day; a higher limit (a new deployment) asks again', async () => {
    const { name, stub } = freshAccount()
    const i = isolate(stub, 2)
    expect([await i.spend(name, '2026-11-28'), await i.spend(name, '2026-11-28'), await i.spend(name, '2026-11-28'), await i.spend(name, '2026-11-28')]).toEqual([true, true, false, false])
    expect(i.granted).toEqual([1, 1, 0])
    const raised = isolate(stub, 3)
    expect(await raised.spend(name, '2026-11-28')).toBe(true)
    expect(await raised.spend(name, '2026-11-28')).toBe(false)
  })

  it('shares one request among concurrent model calls, and grows the next block when the last went fast', async () => {
    const { name, stub } = freshAccount()
    const i = isolate(stub, 2000)
    expect(await Promise.all(Array.from({ length: FIRST_BLOCK }, () => i.spend(name, '2026-11-28')))).toEqual(Array(FIRST_BLOCK).fill(true))
    expect(i.asked).toEqual([FIRST_BLOCK])
    i.clock.now += GROW_WITHIN_MS - 1
    await i.spend(name, '2026-11-28')
    expect(i.asked).toEqual([FIRST_BLOCK, 2 * FIRST_BLOCK])
  })

  it('counts nothing locally when the request fails, and asks again on the next call', async () => {
    const leases = new BudgetLeases(() => 0)
    let fail = true
    const ask = async (want: number) => {
      if (fail) throw new Error('object unreachable')
      return want
    }
    await expect(leases.spend('a', '2026-11-28', 10, ask)).rejects.toThrow('object unreachable')
    fail = false
    expect(await leases.spend('a', '2026-11-28', 10, ask)).toBe(true)
  })

  it('never spends more than it asked for, whatever the object answers', async () => {
    const leases = new BudgetLeases(() => 0)
    let asks = 0
    const greedy = async () => (++asks, 1e6)
    for (let k = 0; k < FIRST_BLOCK; k++) expect(await leases.spend('a', '2026-11-28', 2000, greedy)).toBe(true)
    expect(asks).toBe(1)
    await leases.spend('a', '2026-11-28', 2000, greedy)
    expect(asks).toBe(2)
  })
})
