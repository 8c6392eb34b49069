/**
 * Exactly-once: every event a sender object sees is claimed by its dedup key (Meta's message id,
 * see names.ts) with `INSERT OR IGNORE`. This table is the only authority: a key already here is
 * a redelivery, whatever the Worker or KV believe. Keys are kept past Meta's redelivery horizon.
 */
import type { Decision } from './decision'

/** Meta redelivers for up to 36 hours; claims are kept longer than that. */
export const CLAIM_RETENTION_MS = 48 * 3_600_000

export class Claims {
  /** When the oldest claim was made, as far as this store knows (undefined: read it when needed). */
  private oldestAt: number | null | undefined

  constructor(private readonly sql: SqlStorage) {}

  /** Claims `key`; false when it was claimed before (a redelivery). */
  take(key: string, ts: number, now: number): boolean {
    const taken = this.sql.exec('INSERT OR IGNORE INTO claims (key, ts, claimed_at, decision) VALUES (?, ?, ?, ?)', key, ts, now, 'pending').rowsWritten > 0
    if (taken && this.oldestAt !== undefined) this.oldestAt = Math.min(this.oldestAt ?? now, now)
    return taken
  }

  /** What was decided for a claimed key (kept for the operator and the tests, never re-read to decide). */
  record(key: string, decision: Decision): void {
    this.sql.exec('UPDATE claims SET decision = ? WHERE key = ?', decision, key)
  }

  /** When the oldest claim was made, or null when there is none. */
  oldest(): number | null {
    if (this.oldestAt === undefined) this.oldestAt = this.sql.exec<{ t: number | null }>('SELECT MIN(claimed_at) AS t FROM claims').toArray()[0]?.t ?? null
    return this.oldestAt
  }

  expire(now: number): void {
    if (this.sql.exec('DELETE FROM claims WHERE claimed_at < ?', now - CLAIM_RETENTION_MS).rowsWritten > 0) this.oldestAt = undefined
  }

  count(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM claims').one().n
  }

  keys(): string[] {
    return this.sql.exec<{ key: string }>('SELECT key FROM claims').toArray().map((r) => r.key)
  }

  decisions(): Record<string, number> {
    return Object.fromEntries(
      this.sql.exec<{ decision: string; n: number }>('SELECT decision, COUNT(*) AS n FROM claims GROUP BY decision').toArray().map((r) => [r.decision, r.n])
    )
  }
}
