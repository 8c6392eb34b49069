/**
 * KV seen-keys that must not outlive an erasure. A delivery accepted just before an erase writes
 * its seen-keys to KV after Meta's 200, inside its waitUntil (at most 30 s later), so it can
 * write them after the erase deleted them. The sender object therefore keeps the names of the
 * erased keys (Meta's message ids, nothing else) for a minute and deletes them once more from its
 * alarm, after every such write has landed.
 */

/** Longer than waitUntil's 30 s after any response, so every late write has landed. */
export const KV_SWEEP_DELAY_MS = 60_000

export const SWEEP_SCHEMA = 'CREATE TABLE IF NOT EXISTS kv_sweep (kv_key TEXT PRIMARY KEY, due INTEGER NOT NULL) WITHOUT ROWID;'

export class KvSweep {
  /** The earliest due time, as far as this store knows (undefined: read it when needed). */
  private due: number | null | undefined

  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: KVNamespace
  ) {}

  /** Remembers KV keys to delete again at `due`. */
  schedule(kvKeys: string[], due: number): void {
    for (const k of kvKeys) this.sql.exec('INSERT OR REPLACE INTO kv_sweep (kv_key, due) VALUES (?, ?)', k, due)
    // A replaced key's earlier time may have been the earliest: read it again when needed.
    this.due = undefined
  }

  /** When the next sweep is due; null when none is. */
  nextDue(): number | null {
    if (this.due === undefined) this.due = this.sql.exec<{ t: number | null }>('SELECT MIN(due) AS t FROM kv_sweep').toArray()[0]?.t ?? null
    return this.due
  }

  /** Deletes the keys that are due (again) from KV; returns how many. */
  async run(now: number): Promise<number> {
    const due = this.sql.exec<{ kv_key: string }>('SELECT kv_key FROM kv_sweep WHERE due <= ?', now).toArray().map((r) => r.kv_key)
    await Promise.all(due.map((k) => this.kv.delete(k)))
    for (const k of due) this.sql.exec('DELETE FROM kv_sweep WHERE kv_key = ?', k)
    if (due.length) this.due = undefined
    return due.length
  }
}
