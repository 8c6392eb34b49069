/**
 * The account's daily LLM budget, counted in per-isolate leases. One account object counts the
 * budget for every sender of an account, and a Durable Object serves about 1,000 requests/s, so
 * one request per model call caps an account well below what a campaign can bring. Instead an
 * isolate takes a block of units in one request (the grant is atomic in the object, so the
 * isolates together never get more than LLM_DAILY_BUDGET units a day) and spends them locally.
 *
 * Fail closed: units an isolate never uses (it went quiet, or was evicted) are lost for the day,
 * never handed out twice. Block sizing bounds that loss:
 * - an isolate asks for FIRST_BLOCK units, then twice its last block each time a block lasted
 *   less than GROW_WITHIN_MS (a busy isolate makes ever fewer requests), at most MAX_BLOCK; a
 *   block that lasted longer sends it back to FIRST_BLOCK (a slow trickle holds little);
 * - the object grants at most 1/REMAINING_SHARE of what remains of the day, and at least 1, so
 *   near the limit the blocks shrink: a block of 2 or more needs 2 × REMAINING_SHARE units left,
 *   and the day's last 2 × REMAINING_SHARE − 1 units are granted one by one, each to the model
 *   call that asked for it.
 * Worst case (units reserved but never used): each isolate that stops getting DMs holds at most
 * its last block less the unit its request was made for: at most FIRST_BLOCK − 1 = 7 after a slow
 * trickle, MAX_BLOCK − 1 = 31 after a busy minute, so k quiet isolates strand at most 31·k units;
 * the last 31 units of a day are never stranded.
 */

export const FIRST_BLOCK = 8
export const MAX_BLOCK = 32
export const REMAINING_SHARE = 16
export const GROW_WITHIN_MS = 60_000

/** The block an isolate asks for, given its last block (0: none yet) and how long that lasted. */
export function wantedBlock(previous: number, lastedMs: number): number {
  if (previous <= 0 || lastedMs >= GROW_WITHIN_MS) return FIRST_BLOCK
  return Math.min(MAX_BLOCK, Math.max(FIRST_BLOCK, previous * 2))
}

/**
 * What the object grants of `wanted` (an RPC argument: anything but an integer 1..MAX_BLOCK
 * counts as 1) when `remaining` units of the day are left.
 */
export function grantedBlock(remaining: number, wanted: unknown): number {
  if (!(remaining >= 1)) return 0
  const want = typeof wanted === 'number' && Number.isInteger(wanted) && wanted >= 1 && wanted <= MAX_BLOCK ? wanted : 1
  return Math.min(want, Math.max(1, Math.floor(remaining / REMAINING_SHARE)))
}

interface Lease {
  day: string
  limit: number
  left: number
  /** Size of the last grant, and when it came (for the next block's size). */
  block: number
  grantedAt: number
  /** The object granted nothing: over budget for the rest of this day and limit. */
  exhausted: boolean
  asking?: Promise<void>
}

/**
 * One isolate's leases, by account object name. `ask(want)` requests a block from the object and
 * resolves to the units granted (0: over budget); concurrent model calls share one request.
 */
export class BudgetLeases {
  /** Per account, the newest day's lease and the day before's (newest first). */
  private readonly byAccount = new Map<string, Lease[]>()

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** True when one model call is allowed (and counted) for `account` on `day`. */
  async spend(account: string, day: string, limit: number, ask: (want: number) => Promise<number>): Promise<boolean> {
    // LLM_DAILY_BUDGET=0: no model calls, and no request to learn it.
    if (!(limit >= 1)) return false
    // A new day (or a new limit) starts a new lease: yesterday's leftover is never spent today.
    // The day before's lease is kept beside it: the day is taken before the call gets here, so
    // around midnight calls dated either day interleave, and each must not start the other's
    // lease over (stranding its units).
    const held = this.byAccount.get(account) ?? []
    let lease = held.find((l) => l.day === day && l.limit === limit)
    if (!lease) {
      lease = { day, limit, left: 0, block: 0, grantedAt: 0, exhausted: false }
      const byDay = [lease, ...held.filter((l) => l.day !== day)].sort((a, b) => (a.day < b.day ? 1 : a.day > b.day ? -1 : 0))
      this.byAccount.set(account, byDay.slice(0, 2))
    }
    for (;;) {
      if (lease.left > 0) {
        lease.left--
        return true
      }
      if (lease.exhausted) return false
      lease.asking ??= this.refill(lease, ask)
      await lease.asking
    }
  }

  private async refill(lease: Lease, ask: (want: number) => Promise<number>): Promise<void> {
    const want = wantedBlock(lease.block, this.now() - lease.grantedAt)
    try {
      const granted = await ask(want)
      // Never more than was asked for, whatever the answer.
      const n = Math.min(want, Math.max(0, Math.trunc(Number(granted)) || 0))
      if (n === 0) lease.exhausted = true
      lease.left += n
      lease.block = n || lease.block
      lease.grantedAt = this.now()
    } finally {
      lease.asking = undefined
    }
  }
}
