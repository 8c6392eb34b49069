/**
 * A sender's small flags and counters (`state` table: one row per key), shared by the parts of
 * the sender object: rate limit, pause and opt-out, the user's last message time, ids.
 *
 * The object is the table's only writer, so the rows are read once per object instance (one
 * SELECT) and kept in memory, written through on every change: a DM reads a dozen of these keys,
 * which would otherwise be a dozen statements. A write that changes nothing is not made (no row
 * billed). Whoever changes the table behind the store's back (a rolled-back transaction, a
 * storage wipe) must drop the store and open a new one (see sender.ts).
 */
export type StateKey =
  | 'account_id'
  | 'user_id'
  | 'bucket'
  /** The bucket as objects made before kept it (limits.ts reads and removes them). */
  | 'bucket_tokens'
  | 'bucket_at'
  | 'notice_at'
  | 'paused_until'
  | 'pause_reason'
  | 'opted_out'
  | 'last_user_at'
  | 'budget_notice_day'
  | 'llm_day'
  | 'llm_calls'

/** Whether the bot answers a sender now, and if not why (for the operator). */
export interface ConversationState {
  optedOut: boolean
  pausedUntil: number | null
  pauseReason: 'handoff' | 'person_answered' | null
}

export class StateStore {
  /** The table as this store last read or wrote it; null until first needed. */
  private rows: Map<string, string> | null = null
  /** Inside batch(): the values set, written together when it ends. */
  private pending: Map<string, string> | null = null

  constructor(private readonly sql: SqlStorage) {}

  private cached(): Map<string, string> {
    return (this.rows ??= new Map(this.sql.exec<{ k: string; v: string }>('SELECT k, v FROM state').toArray().map((r) => [r.k, r.v])))
  }

  get(k: StateKey): string | undefined {
    return this.cached().get(k)
  }

  set(k: StateKey, v: string | number | boolean): void {
    const rows = this.cached()
    const s = String(v)
    if (rows.get(k) === s) return
    if (this.pending) this.pending.set(k, s)
    else this.sql.exec('INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, s)
    rows.set(k, s)
  }

  /**
   * Runs `fn` with the values it sets written in one statement when it ends (a DM sets several).
   * If `fn` or the write throws, nothing it set is written and the copy in memory is dropped (read
   * again when next needed); the caller's transaction rolls back whatever else it wrote.
   */
  batch<T>(fn: () => T): T {
    if (this.pending) return fn()
    this.pending = new Map()
    try {
      const out = fn()
      const entries = [...this.pending]
      if (entries.length) {
        this.sql.exec(`INSERT INTO state (k, v) VALUES ${entries.map(() => '(?, ?)').join(', ')} ON CONFLICT (k) DO UPDATE SET v = excluded.v`, ...entries.flat())
      }
      return out
    } catch (err) {
      this.rows = null
      throw err
    } finally {
      this.pending = null
    }
  }

  num(k: StateKey, def = 0): number {
    const v = this.get(k)
    return v === undefined ? def : Number(v)
  }

  delete(...keys: StateKey[]): void {
    const rows = this.cached()
    for (const k of keys) {
      if (!rows.has(k)) continue
      this.pending?.delete(k)
      this.sql.exec('DELETE FROM state WHERE k = ?', k)
      rows.delete(k)
    }
  }

  conversation(now: number): ConversationState {
    const until = this.num('paused_until')
    return {
      optedOut: this.get('opted_out') !== undefined,
      pausedUntil: until > now ? until : null,
      pauseReason: until > now ? (this.get('pause_reason') === 'handoff' ? 'handoff' : 'person_answered') : null,
    }
  }

  /** Drops everything but the opt-out, which must outlive all other state. */
  clearAllButOptOut(): void {
    this.sql.exec("DELETE FROM state WHERE k != 'opted_out'")
    for (const k of this.pending?.keys() ?? []) if (k !== 'opted_out') this.pending!.delete(k)
    const optOut = this.rows?.get('opted_out')
    this.rows = this.rows && new Map(optOut === undefined ? [] : [['opted_out', optOut]])
  }

  /** The table itself (not the copy in memory): what is stored about the sender. */
  all(): Record<string, string> {
    return Object.fromEntries(this.sql.exec<{ k: string; v: string }>('SELECT k, v FROM state').toArray().map((r) => [r.k, r.v]))
  }
}
