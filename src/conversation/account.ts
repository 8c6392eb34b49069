/**
 * One Durable Object per Instagram account: what must be consistent across all of its senders.
 * The daily LLM budget (against unbounded cost, OWASP LLM10), the access token's lifecycle
 * (refresh, invalidation, deauthorization; one object serialises them, so refreshes are
 * single-flight), and the delivery health that /healthz reports.
 */
import { DurableObject } from 'cloudflare:workers'
import { readConfig } from '../core/config'
import { createLogger } from '../core/log'
import {
  clearInvalidToken,
  effectiveRecord,
  flavour,
  refreshToken,
  reportInvalidToken,
  tokenHealth,
  type RefreshOutcome,
  type TokenRecord,
  type TokenStore,
} from '../meta/token'
import type { ConnectedAccount } from '../meta/connect'
import { sanitizeTally, TALLY_KEYS, type Tally } from './tally'
import { grantedBlock } from './budget-lease'

export interface SendState {
  token: string
  invalid: boolean
  /** Meta throttled this account: no Send API call before this time (epoch ms; 0: none). */
  pausedUntil: number
}

export interface AccountStatus {
  day: string
  /** Units granted to isolates' leases today (reserved, not all used yet); exhausted when all are. */
  llmCallsToday: number
  budget: number
  budgetExhausted: boolean
  lastReplyAt: number | null
  sendFailed: number
  tokenInvalid: { at: number; reason: string } | null
  /** Sending paused after Meta throttled the account, until then (epoch ms), or null. */
  sendPausedUntil: number | null
  deauthorized: boolean
  token: { flavour: string; days_until_expiry: number | null; degraded_reasons: string[] }
  /** Accounts connected through this (configured) account's operator page. */
  connections: { userId: string; username: string }[]
}

/** What the connect page stored: the account, its subscription, and when. */
export interface Connection {
  userId: string
  username: string
  permissions: string[]
  fields: string[]
  connectedAt: number
}

export interface DayNumbers {
  day: string
  answered: number
  refused: number
  handed_off: number
  failed: number
}

export interface AccountOverview extends AccountStatus {
  connection: Connection | null
  tokenSource: TokenRecord['source'] | null
  tokenExpiresAt: number | null
  lastReceivedAt: number | null
  today: DayNumbers
}

/** SHA-256 of a token: enough to recognise it again, useless to send with. */
async function fingerprint(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

export class AccountObject extends DurableObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS budget (day TEXT PRIMARY KEY, used INTEGER NOT NULL, exhausted_at INTEGER) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS private_replies (bucket INTEGER PRIMARY KEY, n INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS stats (day TEXT PRIMARY KEY, answered INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0, handed_off INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS connections (user_id TEXT PRIMARY KEY, username TEXT NOT NULL, at INTEGER NOT NULL);
    `)
  }

  /** The token record lives in this object's storage (see PRIVACY.md). */
  private readonly tokens: TokenStore = {
    get: async () => {
      const v = this.get('token')
      return v ? (JSON.parse(v) as TokenRecord) : null
    },
    put: async (r) => this.set('token', JSON.stringify(r)),
    markInvalid: async (reason, at) => {
      const v = this.get('token')
      if (!v) return
      this.set('token', JSON.stringify({ ...(JSON.parse(v) as TokenRecord), invalid: { at, reason } }))
    },
  }

  /**
   * The configured IG_ACCESS_TOKEN. A caller may pass its own (the Worker's env holds the same
   * secret in production; tests give the Worker a different one than this object's bindings).
   */
  private configuredToken(fromCaller?: string): string {
    if (fromCaller) return fromCaller
    const cfg = readConfig(this.env)
    if (!cfg.ok) throw new Error(cfg.message)
    return cfg.config.IG_ACCESS_TOKEN ?? ''
  }

  /** The token sends should use now, or '' once the account owner has removed the app. */
  async token(configured?: string): Promise<string> {
    return (await this.sendState(configured)).token
  }

  /**
   * What a sender needs before a Send API call, in one round trip (cached per isolate): the token
   * ('' while the account owner has removed the app), and whether it is marked invalid (so the
   * isolate clears the mark when a send with it works). The reply pipeline makes no LLM call and
   * spends no budget while the token is '' or marked invalid.
   */
  async sendState(configured?: string): Promise<SendState> {
    const record = effectiveRecord(await this.tokens.get(), this.configuredToken(configured))
    if (this.get('deauthorized_at')) {
      // A token other than the revoked ones means the owner connected the account again.
      if (this.revoked().includes(await fingerprint(record.token))) return { token: '', invalid: false, pausedUntil: 0 }
      this.sql.exec("DELETE FROM state WHERE k IN ('deauthorized_at', 'revoked')")
      createLogger({ component: 'account' }).info('deauthorize', { outcome: 'recovered' })
    }
    return { token: record.token, invalid: record.invalid !== undefined, pausedUntil: Number(this.get('send_paused_until') ?? 0) }
  }

  private revoked(): string[] {
    const v = this.get('revoked')
    return v ? (JSON.parse(v) as string[]) : []
  }

  /**
   * Meta throttled a send: every sender of this account stops calling the Send API until `until`
   * (the longest pause asked for wins; at most a day). Runners learn it with the token lookup.
   */
  async pauseSending(until: number, now = Date.now()): Promise<number> {
    const current = Number(this.get('send_paused_until') ?? 0)
    const next = Math.max(current, Math.min(until, now + 24 * 3_600_000))
    if (next !== current) this.set('send_paused_until', next)
    return next
  }

  /** Meta answered 190 to a request that carried `token`: mark it invalid if it is still ours. */
  async tokenRejected(token: string, reason: string, now = Date.now()): Promise<'marked' | 'stale'> {
    return reportInvalidToken(this.tokens, token, reason, now, this.configuredToken())
  }

  /** A send with `token` succeeded: an invalid mark on it was wrong and is cleared. */
  async tokenAccepted(token: string): Promise<'cleared' | 'unchanged'> {
    return clearInvalidToken(this.tokens, token)
  }

  /**
   * A connected account's send state (token and whether it is marked invalid), or null when
   * this account was never connected on the connect page (or was removed since): the send path
   * then uses the configured account.
   */
  async connectedSendState(): Promise<SendState | null> {
    if (this.get('deauthorized_at') || !this.get('connection')) return null
    const stored = await this.tokens.get()
    return stored && stored.source !== 'configured' ? { token: stored.token, invalid: stored.invalid !== undefined, pausedUntil: Number(this.get('send_paused_until') ?? 0) } : null
  }

  /** Stores what the connect flow obtained, all at once (nothing before every step succeeded). */
  async storeConnection(account: ConnectedAccount): Promise<void> {
    const connection: Connection = {
      userId: account.userId,
      username: account.username,
      permissions: account.permissions,
      fields: account.fields,
      connectedAt: account.obtainedAt,
    }
    this.ctx.storage.transactionSync(() => {
      this.set('token', JSON.stringify({ token: account.token, obtainedAt: account.obtainedAt, expiresAt: account.expiresAt, source: 'connected' } satisfies TokenRecord))
      this.set('connection', JSON.stringify(connection))
      this.sql.exec("DELETE FROM state WHERE k = 'deauthorized_at'")
    })
  }

  /** The configured account's object keeps the list of connected accounts (for the page and the cron). */
  async registerConnection(userId: string, username: string, now = Date.now()): Promise<void> {
    this.sql.exec('INSERT INTO connections (user_id, username, at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, at = excluded.at', userId, username, now)
  }

  async connections(): Promise<{ userId: string; username: string }[]> {
    return this.sql.exec<{ user_id: string; username: string }>('SELECT user_id, username FROM connections ORDER BY at DESC').toArray().map((r) => ({ userId: r.user_id, username: r.username }))
  }

  /** The daily cron: refresh the Instagram Login token when it is due. */
  async refresh(now = Date.now()): Promise<RefreshOutcome> {
    const cfg = readConfig(this.env)
    if (!cfg.ok) throw new Error(cfg.message)
    if (this.get('deauthorized_at') && !(await this.sendState()).token) return { outcome: 'not_due', reason: 'deauthorized' }
    if (flavour(cfg.config.GRAPH_API_BASE) === 'facebook_login') return { outcome: 'skipped_page_token' }
    return refreshToken({
      fetch: (input, init) => fetch(input, init),
      now: () => now,
      base: cfg.config.GRAPH_API_BASE,
      configuredToken: cfg.config.IG_ACCESS_TOKEN ?? '',
      // A connected account's token must stay that account's; otherwise the configured one's.
      accountId: this.connectedId() ?? cfg.config.IG_ACCOUNT_ID,
      version: cfg.config.GRAPH_API_VERSION,
      store: this.tokens,
      log: createLogger({ component: 'token_refresh' }),
    })
  }

  /**
   * The account owner removed the app: forget its token and never send with it again. Only
   * fingerprints of the revoked tokens are kept, so a new token can be told apart from them.
   */
  async deauthorize(now = Date.now(), configured?: string): Promise<void> {
    const revoked = new Set(this.revoked())
    const stored = await this.tokens.get()
    if (stored) revoked.add(await fingerprint(stored.token))
    revoked.add(await fingerprint(this.configuredToken(configured)))
    this.sql.exec("DELETE FROM state WHERE k = 'token'")
    this.set('revoked', JSON.stringify([...revoked]))
    this.set('deauthorized_at', now)
  }

  private connectedId(): string | undefined {
    const conn = this.get('connection')
    return conn ? (JSON.parse(conn) as Connection).userId : undefined
  }

  private get(k: string): string | undefined {
    return this.sql.exec<{ v: string }>('SELECT v FROM state WHERE k = ?', k).toArray()[0]?.v
  }

  private set(k: string, v: string | number): void {
    this.sql.exec('INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, String(v))
  }

  /**
   * Grants up to `want` units of today's LLM budget to an isolate's lease (budget-lease.ts): how
   * many (0: over budget). Atomic (synchronous SQL, one thread): never more than `limit` a day.
   */
  async spend(day: string, limit: number, now = Date.now(), tally?: Tally, want: unknown = 1): Promise<number> {
    this.addTally(tally, now)
    const used = this.sql.exec<{ used: number }>('SELECT used FROM budget WHERE day = ?', day).toArray()[0]?.used ?? 0
    const granted = grantedBlock(limit - used, want)
    if (granted === 0) {
      this.sql.exec('INSERT INTO budget (day, used, exhausted_at) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE SET exhausted_at = COALESCE(exhausted_at, excluded.exhausted_at)', day, used, now)
      return 0
    }
    this.sql.exec('INSERT INTO budget (day, used) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET used = used + excluded.used', day, granted)
    // Days older than a week are of no further use.
    this.sql.exec('DELETE FROM budget WHERE day < ?', new Date(Date.parse(day) - 7 * 86_400_000).toISOString().slice(0, 10))
    return granted
  }

  /**
   * Takes one of the account's private replies (Meta: 750 per hour per account), counted over a
   * sliding window of 60 buckets (one row written per reply, at most 60 kept). A window shorter
   * than an hour scales the limit down with it, so the hourly rate is never exceeded. When the
   * window is full, says when the oldest bucket leaves it: the reply waits until then.
   */
  async privateReplySlot(perHour: number, windowSeconds: number, now = Date.now()): Promise<{ ok: true } | { ok: false; retryAt: number }> {
    const windowMs = windowSeconds * 1000
    const cap = Math.max(1, Math.floor((perHour * windowSeconds) / 3600))
    const bucketMs = Math.ceil(windowMs / 60)
    const bucket = Math.floor(now / bucketMs)
    const first = bucket - 59
    this.sql.exec('DELETE FROM private_replies WHERE bucket < ?', first)
    const rows = this.sql.exec<{ bucket: number; n: number }>('SELECT bucket, n FROM private_replies ORDER BY bucket').toArray()
    const used = rows.reduce((sum, r) => sum + r.n, 0)
    // Spread over one bucket: every waiting comment reply of every sender would otherwise come
    // back in the same second, and all but one find the slot taken again.
    if (used >= cap) return { ok: false, retryAt: (rows[0]!.bucket + 60) * bucketMs + Math.floor(Math.random() * bucketMs) }
    this.sql.exec('INSERT INTO private_replies (bucket, n) VALUES (?, 1) ON CONFLICT (bucket) DO UPDATE SET n = n + 1', bucket)
    return { ok: true }
  }

  async report(event: 'replied' | 'send_failed', fields: { reason?: string; now?: number; tally?: Tally } = {}): Promise<void> {
    const now = fields.now ?? Date.now()
    this.addTally(fields.tally, now)
    if (event === 'replied') this.set('last_reply_at', now)
    if (event === 'send_failed') this.set('send_failed', Number(this.get('send_failed') ?? 0) + 1)
  }

  /** Adds an isolate's pending numbers to today's (one row write; nothing for an empty tally). */
  private addTally(raw: unknown, now: number): void {
    const t = sanitizeTally(raw)
    if (!t) return
    const day = new Date(now).toISOString().slice(0, 10)
    this.sql.exec(
      'INSERT INTO stats (day, answered, refused, handed_off, failed) VALUES (?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET answered = answered + excluded.answered, refused = refused + excluded.refused, handed_off = handed_off + excluded.handed_off, failed = failed + excluded.failed',
      day,
      ...TALLY_KEYS.map((k) => t[k])
    )
    this.sql.exec('DELETE FROM stats WHERE day < ?', new Date(now - 7 * 86_400_000).toISOString().slice(0, 10))
    if (t.lastReceivedAt > Number(this.get('last_received_at') ?? 0)) this.set('last_received_at', t.lastReceivedAt)
  }

  /** Everything the operator page shows about this account. */
  async overview(limit: number, now = Date.now()): Promise<AccountOverview> {
    const status = await this.status(limit, now)
    const stored = await this.tokens.get()
    const conn = this.get('connection')
    const row = this.sql.exec<Omit<DayNumbers, 'day'>>('SELECT answered, refused, handed_off, failed FROM stats WHERE day = ?', status.day).toArray()[0]
    const received = this.get('last_received_at')
    return {
      ...status,
      connection: conn && !status.deauthorized ? (JSON.parse(conn) as Connection) : null,
      tokenSource: stored?.source ?? null,
      tokenExpiresAt: stored?.expiresAt ?? null,
      lastReceivedAt: received ? Number(received) : null,
      today: { day: status.day, answered: row?.answered ?? 0, refused: row?.refused ?? 0, handed_off: row?.handed_off ?? 0, failed: row?.failed ?? 0 },
    }
  }

  async status(limit: number, now = Date.now(), configured?: string): Promise<AccountStatus> {
    const cfg = readConfig(this.env)
    const base = cfg.ok ? cfg.config.GRAPH_API_BASE : 'https://graph.instagram.com'
    const kind = flavour(base)
    const stored = await this.tokens.get()
    const configuredToken = configured ?? (cfg.ok ? cfg.config.IG_ACCESS_TOKEN : undefined)
    const record = configuredToken ? effectiveRecord(stored, configuredToken) : stored
    const health = tokenHealth(record, kind, now)
    // A newly configured token ends a deauthorization here too, so /healthz never lags.
    if (configuredToken && this.get('deauthorized_at')) await this.sendState(configuredToken)
    const deauthorized = this.get('deauthorized_at') !== undefined
    if (deauthorized) health.degraded_reasons.push('app_deauthorized')
    const day = new Date(now).toISOString().slice(0, 10)
    const used = this.sql.exec<{ used: number }>('SELECT used FROM budget WHERE day = ?', day).toArray()[0]?.used ?? 0
    const last = this.get('last_reply_at')
    return {
      day,
      llmCallsToday: used,
      budget: limit,
      budgetExhausted: used >= limit,
      lastReplyAt: last ? Number(last) : null,
      sendFailed: Number(this.get('send_failed') ?? 0),
      tokenInvalid: record?.invalid ?? null,
      sendPausedUntil: Number(this.get('send_paused_until') ?? 0) > now ? Number(this.get('send_paused_until')) : null,
      deauthorized,
      token: { flavour: kind, ...health },
      connections: await this.connections(),
    }
  }
}
