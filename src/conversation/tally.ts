/**
 * Today's numbers for the operator page: DMs answered, refused, handed off to a person, failed.
 * Each isolate adds up its outcomes here and hands them to the account object on a call the
 * pipeline makes anyway (a budget lease request, or the delivery report: at once for handoffs,
 * refusals and failures, at most 30 s late for answers), so the object holds the Worker's totals
 * without a Durable Object round trip per DM.
 */

export interface Tally {
  answered: number
  refused: number
  handed_off: number
  failed: number
  /** Newest user message among the tallied replies (ms), 0 for none. */
  lastReceivedAt: number
}

export const TALLY_KEYS = ['answered', 'refused', 'handed_off', 'failed'] as const
export type TallyKey = (typeof TALLY_KEYS)[number]

export function emptyTally(): Tally {
  return { answered: 0, refused: 0, handed_off: 0, failed: 0, lastReceivedAt: 0 }
}

/** Which number a sent reply counts under, by the outcome the pipeline recorded. */
export function tallyKeyFor(outcome: string | undefined): TallyKey {
  if (outcome === 'handoff') return 'handed_off'
  if (outcome === 'refused' || outcome === 'leak_blocked' || outcome === 'output_blocked') return 'refused'
  return 'answered'
}

export function isEmpty(t: Tally): boolean {
  return TALLY_KEYS.every((k) => t[k] === 0) && t.lastReceivedAt === 0
}

/** A tally from outside the object (an RPC argument): only small non-negative integers count. */
export function sanitizeTally(t: unknown): Tally | null {
  if (typeof t !== 'object' || t === null) return null
  const r = t as Record<string, unknown>
  const out = emptyTally()
  for (const k of TALLY_KEYS) {
    const v = r[k]
    out[k] = typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1_000_000 ? v : 0
  }
  const at = r.lastReceivedAt
  out.lastReceivedAt = typeof at === 'number' && Number.isFinite(at) && at > 0 ? at : 0
  return out
}

/** Per-isolate pending tallies, by account object name. */
export class PendingTallies {
  private readonly byAccount = new Map<string, Tally>()

  add(account: string, key: TallyKey, receivedAt?: number): void {
    let t = this.byAccount.get(account)
    if (!t) this.byAccount.set(account, (t = emptyTally()))
    t[key]++
    if (receivedAt && receivedAt > t.lastReceivedAt) t.lastReceivedAt = receivedAt
  }

  /** Takes what is pending for `account` (the caller sends it along), or undefined. */
  take(account: string): Tally | undefined {
    const t = this.byAccount.get(account)
    this.byAccount.delete(account)
    return t && !isEmpty(t) ? t : undefined
  }

  /** Puts a tally back after the call carrying it failed. */
  restore(account: string, t: Tally | undefined): void {
    if (!t) return
    const cur = this.byAccount.get(account) ?? emptyTally()
    for (const k of TALLY_KEYS) cur[k] += t[k]
    cur.lastReceivedAt = Math.max(cur.lastReceivedAt, t.lastReceivedAt)
    this.byAccount.set(account, cur)
  }
}
