/**
 * The sender object's stores over its SQLite tables, opened together, and what concerns all of
 * them: when the object next has work (its alarm) and what it may forget. Some stores keep what
 * they know of their table in memory (state.ts, memory.ts), so whenever the tables change behind
 * their back (a transaction rolled back, storage wiped) the object opens a fresh set, as a new
 * instance would.
 */
import { Bursts } from './burst'
import { Claims, CLAIM_RETENTION_MS } from './claims'
import type { ConversationStores } from './decide'
import { Jobs, type Head } from './jobs'
import { Limits } from './limits'
import { Memory } from './memory'
import { StateStore } from './state'
import { KvSweep } from './sweep'

export interface SenderStores extends ConversationStores {
  claims: Claims
  sweep: KvSweep
}

/** @param wake called when the job queue changed in a way the alarm must hear about */
export function openStores(sql: SqlStorage, kv: KVNamespace, wake: (now: number, heads?: Head[]) => void): SenderStores {
  const state = new StateStore(sql)
  const memory = new Memory(sql)
  return {
    claims: new Claims(sql),
    bursts: new Bursts(sql),
    state,
    memory,
    limits: new Limits(state),
    sweep: new KvSweep(sql, kv),
    jobs: new Jobs(sql, state, memory, wake),
  }
}

/**
 * The earliest moment the object has work (a job retry, memory expiry, claim pruning, a KV
 * sweep), never before `now`; null when it has none. With the queue heads (read unless given).
 */
export function nextWork(s: SenderStores, now: number, memoryTtlMs: number, heads = s.jobs.heads()): { at: number | null; heads: Head[] } {
  const times: number[] = []
  const job = s.jobs.nextRunAt(heads)
  if (job !== null) times.push(job)
  const lastTurn = s.memory.newest()
  if (lastTurn) times.push(Math.min(Math.max(lastTurn, s.state.num('last_user_at')), now) + memoryTtlMs)
  const oldestClaim = s.claims.oldest()
  if (oldestClaim) times.push(oldestClaim + CLAIM_RETENTION_MS)
  const sweep = s.sweep.nextDue()
  if (sweep !== null) times.push(sweep)
  return { at: times.length ? Math.max(Math.min(...times), now) : null, heads }
}

/** Forgets what is no longer needed: silent memory, old claims, finished jobs. */
export function expireStores(s: SenderStores, now: number, memoryTtlMs: number): void {
  // Capped at now, so no stored time from the future keeps memory forever.
  const lastActivity = Math.min(Math.max(s.state.num('last_user_at'), s.memory.newest() ?? 0), now)
  if (now - lastActivity >= memoryTtlMs) s.memory.clear()
  s.claims.expire(now)
  s.jobs.expire(now)
  // Nothing left to do or remember: keep only an opt-out, which must outlive everything else.
  if (s.claims.count() + s.memory.count() + s.jobs.count() === 0) s.state.clearAllButOptOut()
}
