/**
 * Exactly-once: every event a sender object sees is claimed by its dedup key (Meta's message id,
 * see names.ts) with `INSERT OR IGNORE`. This table is the only authority: a key already here is
 * a redelivery, whatever the Worker or KV believe. Keys are kept past Meta's redelivery horizon.
 */
import type { Decision } from './decision'

/** Meta redelivers for up to 36 hours; claims are kept longer than that. */
export const CLAIM_RETENTION_MS = 48 * 3_600_000

export class Claims {
  constructor(private readonly sql: SqlStorage) {}

  /** Claims `key`; false when it was claimed before (a redelivery). */
  take(key: string, ts: number, now: number): boolean {
    return this.sql.exec('INSERT OR IGNORE INTO claims (key, ts, claimed_at, decision) VALUES (?, ?, ?, ?)', key, ts, now, 'pending').rowsWritten > 0
  }

  /** What was decided for a claimed key (kept for the operator and the tests, never re-read to decide). */
  record(key: string, decision: Decision): void {
    this.sql.exec('UPDATE claims SET decision = ? WHERE key = ?', decision, key)
  }

  /** When the oldest claim was made, or null when there is none. */
  oldest(): number | null {
    return this.sql.exec<{ t: number | null }>('SELECT MIN(claimed_at) AS t FROM claims').toArray()[0]?.t ?? null
  }

  expire(now: number): void {
    this.sql.exec('DELETE FROM claims WHERE claimed_at < ?', now - CLAIM_RETENTION_MS)
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
