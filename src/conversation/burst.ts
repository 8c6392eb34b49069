/**
 * Burst coalescing. People type DMs in bursts ("hi" — "quick question" — "are you open on
 * Sunday?"), each its own webhook. With COALESCE_WINDOW_MS > 0 a sender's text messages that
 * arrive close together share one reply job: the job waits until no new message has come for the
 * window (at most COALESCE_MAX_MS after the burst opened), then one model call sees every message
 * of the burst, in order, and one reply answers them all.
 *
 * A burst is an ordinary job row whose `kind.burst` lists its messages and whose `due_at` says
 * when it may be leased. A new message joins it by rewriting that row in place (one row write,
 * no rate-limit token); the runner that waited for the old `due_at` finds the job not due and
 * steps aside for the newest message's runner. Once a runner leases the job (the model is about
 * to be asked), the burst is closed: later messages open the next one.
 */
import type { Config } from '../core/config'
import type { BurstMessage, JobKind } from './decision'
import { LEASE_MS } from './jobs'

type LlmKind = Extract<JobKind, { type: 'llm' }>

/** Beyond this many messages a burst takes no more (its prompt stays bounded). */
export const MAX_BURST_MESSAGES = 10

/** When a burst that opened at `since` may be answered, its newest message having come at `now`. */
export function burstDueAt(since: number, now: number, config: Pick<Config, 'COALESCE_WINDOW_MS' | 'COALESCE_MAX_MS'>): number {
  return Math.min(now + config.COALESCE_WINDOW_MS, since + Math.max(config.COALESCE_MAX_MS, config.COALESCE_WINDOW_MS))
}

/** A burst's job kind: the newest message (by its timestamp) in front, all of them in `burst`. */
export function burstKind(messages: BurstMessage[], since: number): LlmKind {
  const burst = [...messages].sort((a, b) => a.ts - b.ts)
  const last = burst.at(-1)!
  return { type: 'llm', text: last.text, ...(last.context ? { context: last.context } : {}), burst, since }
}

/** A burst nobody has leased yet (still open to new messages, or edits and unsends). */
const WAITING = "state = 'pending' AND parts IS NULL AND attempts = 0 AND due_at > 0 AND lease_until <= ?"

interface WaitingRow {
  id: string
  ts: number
  kind: string
  [k: string]: SqlStorageValue
}

export class Bursts {
  constructor(private readonly sql: SqlStorage) {}

  private waiting(now: number): { id: string; ts: number; kind: LlmKind }[] {
    return this.sql
      .exec<WaitingRow>(`SELECT id, ts, kind FROM jobs WHERE ${WAITING} ORDER BY ts`, now)
      .toArray()
      .map((r) => ({ id: r.id, ts: r.ts, kind: JSON.parse(r.kind) as LlmKind }))
      .filter((r) => r.kind.type === 'llm' && Array.isArray(r.kind.burst))
  }

  /** Adds a message to the sender's waiting burst; the job's id, or null when none can take it. */
  join(msg: BurstMessage, now: number, config: Config): { job: string; dueAt: number } | null {
    const open = this.waiting(now).at(-1)
    if (!open || open.kind.burst!.length >= MAX_BURST_MESSAGES) return null
    const since = open.kind.since ?? now
    const kind = burstKind([...open.kind.burst!, msg], since)
    const dueAt = burstDueAt(since, now, config)
    this.write(open.id, kind, dueAt)
    return { job: open.id, dueAt }
  }

  private write(id: string, kind: LlmKind, dueAt: number): void {
    const ts = kind.burst!.at(-1)!.ts
    this.sql.exec('UPDATE jobs SET kind = ?, ts = MAX(ts, ?), due_at = ?, next_at = ? WHERE id = ?', JSON.stringify(kind), ts, dueAt, dueAt + LEASE_MS, id)
  }

  /** An unsent message leaves its waiting burst; a burst left empty is cancelled. True if found. */
  unsend(mid: string, now: number): boolean {
    for (const b of this.waiting(now)) {
      const rest = b.kind.burst!.filter((m) => m.mid !== mid)
      if (rest.length === b.kind.burst!.length) continue
      if (rest.length === 0) this.sql.exec("UPDATE jobs SET state = 'cancelled', outcome = 'unsent', kind = 'null' WHERE id = ?", b.id)
      else this.sql.exec('UPDATE jobs SET kind = ? WHERE id = ?', JSON.stringify(burstKind(rest, b.kind.since ?? now)), b.id)
      return true
    }
    return false
  }

  /** An edited message's new text replaces the old one in its waiting burst. */
  edit(mid: string, text: string, now: number): void {
    for (const b of this.waiting(now)) {
      if (!b.kind.burst!.some((m) => m.mid === mid)) continue
      const burst = b.kind.burst!.map((m) => (m.mid === mid ? { ...m, text } : m))
      this.sql.exec('UPDATE jobs SET kind = ? WHERE id = ?', JSON.stringify(burstKind(burst, b.kind.since ?? now)), b.id)
      return
    }
  }

  /**
   * The sender opted out, asked for a person, or a person took over: a burst still waiting is
   * not answered, and its cancellation now keeps it from holding back the confirmation.
   */
  cancelWaiting(reason: string, now: number): void {
    for (const b of this.waiting(now)) this.sql.exec("UPDATE jobs SET state = 'cancelled', outcome = ?, kind = 'null' WHERE id = ?", reason, b.id)
  }
}
