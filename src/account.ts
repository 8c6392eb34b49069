/**
 * One Durable Object per Instagram account: what must be consistent across all of its senders.
 * The daily LLM budget (against unbounded cost, OWASP LLM10), and the account's delivery health
 * (last reply, failures, token problems) that /healthz reports.
 */
import { DurableObject } from 'cloudflare:workers'

export interface AccountStatus {
  day: string
  llmCallsToday: number
  budget: number
  budgetExhausted: boolean
  lastReplyAt: number | null
  sendFailed: number
  tokenInvalid: { at: number; reason: string } | null
}

export class AccountObject extends DurableObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS budget (day TEXT PRIMARY KEY, used INTEGER NOT NULL, exhausted_at INTEGER);
      CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    `)
  }

  private get(k: string): string | undefined {
    return this.sql.exec<{ v: string }>('SELECT v FROM state WHERE k = ?', k).toArray()[0]?.v
  }

  private set(k: string, v: string | number): void {
    this.sql.exec('INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, String(v))
  }

  /**
   * Counts one LLM call against today's budget. Atomic (synchronous SQL in a single-threaded
   * object), so concurrent senders can never overshoot the limit.
   */
  async spend(day: string, limit: number, now = Date.now()): Promise<boolean> {
    const used = this.sql.exec<{ used: number }>('SELECT used FROM budget WHERE day = ?', day).toArray()[0]?.used ?? 0
    if (used >= limit) {
      this.sql.exec('INSERT INTO budget (day, used, exhausted_at) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE SET exhausted_at = COALESCE(exhausted_at, excluded.exhausted_at)', day, used, now)
      return false
    }
    this.sql.exec('INSERT INTO budget (day, used) VALUES (?, 1) ON CONFLICT (day) DO UPDATE SET used = used + 1', day)
    // Days older than a week are of no further use.
    this.sql.exec('DELETE FROM budget WHERE day < ?', new Date(Date.parse(day) - 7 * 86_400_000).toISOString().slice(0, 10))
    return true
  }

  async report(event: 'replied' | 'send_failed' | 'token_invalid', fields: { reason?: string; now?: number } = {}): Promise<void> {
    const now = fields.now ?? Date.now()
    if (event === 'replied') this.set('last_reply_at', now)
    if (event === 'send_failed') this.set('send_failed', Number(this.get('send_failed') ?? 0) + 1)
    if (event === 'token_invalid') this.set('token_invalid', JSON.stringify({ at: now, reason: fields.reason ?? 'token_invalid' }))
  }

  async status(limit: number, now = Date.now()): Promise<AccountStatus> {
    const day = new Date(now).toISOString().slice(0, 10)
    const used = this.sql.exec<{ used: number }>('SELECT used FROM budget WHERE day = ?', day).toArray()[0]?.used ?? 0
    const last = this.get('last_reply_at')
    const invalid = this.get('token_invalid')
    return {
      day,
      llmCallsToday: used,
      budget: limit,
      budgetExhausted: used >= limit,
      lastReplyAt: last ? Number(last) : null,
      sendFailed: Number(this.get('send_failed') ?? 0),
      tokenInvalid: invalid ? (JSON.parse(invalid) as { at: number; reason: string }) : null,
    }
  }
}
