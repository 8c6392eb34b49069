/**
 * A sender's small flags and counters (`state` table: one row per key), shared by the parts of
 * the sender object: rate limit, pause and opt-out, the user's last message time, ids.
 */
export type StateKey =
  | 'account_id'
  | 'user_id'
  | 'bucket_tokens'
  | 'bucket_at'
  | 'notice_at'
  | 'paused_until'
  | 'pause_reason'
  | 'opted_out'
  | 'last_user_at'
  | 'last_reply_at'
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
  constructor(private readonly sql: SqlStorage) {}

  get(k: StateKey): string | undefined {
    return this.sql.exec<{ v: string }>('SELECT v FROM state WHERE k = ?', k).toArray()[0]?.v
  }

  set(k: StateKey, v: string | number | boolean): void {
    this.sql.exec('INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, String(v))
  }

  num(k: StateKey, def = 0): number {
    const v = this.get(k)
    return v === undefined ? def : Number(v)
  }

  delete(...keys: StateKey[]): void {
    for (const k of keys) this.sql.exec('DELETE FROM state WHERE k = ?', k)
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
  }

  all(): Record<string, string> {
    return Object.fromEntries(this.sql.exec<{ k: string; v: string }>('SELECT k, v FROM state').toArray().map((r) => [r.k, r.v]))
  }
}
