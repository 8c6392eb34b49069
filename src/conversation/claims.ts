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

  /** Whether `key` was claimed before (a redelivery). */
  has(key: string): boolean {
    return this.sql.exec('SELECT 1 FROM claims WHERE key = ?', key).toArray().length > 0
  }

  /**
   * Claims `key` with what was decided for it (kept for the operator and the tests, never re-read
   * to decide); false when it was claimed before. The sender object checks `has`, decides and
   * claims in one transaction, so a claim is one row written, not an insert and an update.
   */
  take(key: string, ts: number, now: number, decision: Decision | 'pending' = 'pending'): boolean {
    const taken = this.sql.exec('INSERT OR IGNORE INTO claims (key, ts, claimed_at, decision) VALUES (?, ?, ?, ?)', key, ts, now, decision).rowsWritten > 0
    if (taken && this.oldestAt !== undefined) this.oldestAt = Math.min(this.oldestAt ?? now, now)
    return taken
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
