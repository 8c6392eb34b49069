/**
 * One Durable Object per (Instagram account, sender): the single consistent place that decides
 * what happens to each event of a conversation.
 *
 * - Exactly-once: every message id is claimed with `INSERT OR IGNORE` in SQLite. KV in front of
 *   it is only a cheap fast path; this table is the authority (KV has no compare-and-set).
 * - Rate limit: a token bucket per sender; over the limit, at most one "slow down" notice per
 *   cooldown window.
 * - Memory: the last turns of the conversation, forgotten after MEMORY_TTL_HOURS of silence.
 * - Human takeover: an echo that is not one of the bot's own replies pauses the bot.
 * - Reply jobs: each accepted event that deserves a reply becomes a job. The Worker runs it in
 *   `waitUntil` under a lease; whatever is not finished there is retried from this object's alarm.
 *   Every reply part is recorded as sending/sent before the next one, so no part is sent twice.
 *
 * SQL calls are synchronous and run without interleaving, so each RPC method below is atomic as
 * long as it does not await (none of the state-changing ones do, except `alarm`, which awaits
 * only outside its SQL sections).
 */
import { DurableObject } from 'cloudflare:workers'
import { readConfig, type Config } from './config'
import type { AcceptEvent, Accepted, Decision, JobKind, JobOutcome, LeasedJob, PartGate, Turn } from './decision'
import { createLogger, hashId } from './log'
import { intentWords, matchIntent } from './keywords'
import { ECHO_GRACE_MS, runJob } from './pipeline'
import { createPipelineDeps } from './deps'
import type { InboundEvent } from './webhook'

const HOUR = 3_600_000
const DAY = 24 * HOUR
/** Meta redelivers for up to 36 hours; claims are kept longer than that. */
export const CLAIM_RETENTION_MS = 48 * HOUR
/** The messaging window: automated replies are allowed for 24 hours after the user's message. */
export const WINDOW_MS = 24 * HOUR
/** How long a runner owns a job: inside the 30 s that `waitUntil` gets after the response. */
export const LEASE_MS = 28_000
/** First alarm retry after a runner gave a job back; doubles per attempt, capped. */
/** How long a runner gets to take the next job of a sender before the alarm does. */
const UNBLOCK_GRACE_MS = 3_000
/** Each job run from the alarm gets as long as one in waitUntil would. */
const ALARM_JOB_BUDGET_MS = 25_000
const RETRY_BASE_MS = 5_000
const RETRY_MAX_MS = 15 * 60_000

interface JobRow {
  id: string
  ts: number
  kind: string
  state: string
  parts: string | null
  next_part: number
  attempts: number
  next_at: number
  lease_until: number
  lease_id: string | null
  [k: string]: SqlStorageValue
}

export interface AcceptInput {
  accountId: string
  userId: string
  events: AcceptEvent[]
  now?: number
  /** Lease the first new job to the caller, who will run it at once. */
  leaseFirst?: boolean
}

/** Stable dedup key for an event: Meta's message id, or the envelope for events without one. */
export function eventKey(e: InboundEvent): string {
  if ('mid' in e && typeof e.mid === 'string' && e.mid) {
    // An unsend, edit or reaction carries the id of the message it changes, so it gets its own key.
    if (e.kind === 'unsend' || e.kind === 'edit' || e.kind === 'reaction' || e.kind === 'read')
      return `${e.kind}:${e.mid}:${e.timestamp}`
    return e.mid
  }
  return `${e.kind}:${e.senderId}:${e.timestamp}`
}

async function textHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text.trim()))
  return [...new Uint8Array(digest).slice(0, 12)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

function jobFor(e: InboundEvent, config: Config): JobKind | null {
  switch (e.kind) {
    case 'text':
      return { type: 'llm', text: e.text, context: e.referral?.adTitle ? { adTitle: e.referral.adTitle } : undefined }
    case 'story_reply':
      return { type: 'llm', text: e.text, context: { storyUrl: e.story.url } }
    case 'quick_reply':
      return { type: 'llm', text: e.text || e.payload }
    case 'postback': {
      const words = e.title || e.payload
      return words ? { type: 'llm', text: words } : null
    }
    case 'attachment':
      if (e.text?.trim()) return { type: 'llm', text: e.text, context: { attachmentTypes: e.attachments.map((a) => a.type) } }
      return config.ATTACHMENT_REPLY ? { type: 'fixed', text: config.ATTACHMENT_REPLY, reason: 'attachment' } : null
    case 'unsupported':
      return config.ATTACHMENT_REPLY ? { type: 'fixed', text: config.ATTACHMENT_REPLY, reason: 'unsupported' } : null
    case 'story_mention':
      return config.STORY_MENTION_REPLY ? { type: 'fixed', text: config.STORY_MENTION_REPLY, reason: 'story_mention' } : null
    default:
      return null
  }
}

/** What the user said, as remembered for the next LLM call. */
function memoryText(e: InboundEvent): string | null {
  switch (e.kind) {
    case 'text':
    case 'story_reply':
      return e.text
    case 'quick_reply':
      return e.text || e.payload
    case 'postback':
      return e.title || e.payload || null
    case 'attachment':
      return e.text?.trim() ? e.text : `[sent ${e.attachments.map((a) => a.type).join(', ')}]`
    case 'story_mention':
      return '[mentioned the business in their story]'
    case 'unsupported':
      return '[sent something the app cannot show]'
    default:
      return null
  }
}

export class SenderObject extends DurableObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.migrate()
  }

  private migrate(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, ts INTEGER NOT NULL, claimed_at INTEGER NOT NULL, decision TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, mid TEXT, role TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
        parts TEXT, next_part INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, lease_id TEXT,
        outcome TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS parts (job TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL, out_mid TEXT, at INTEGER NOT NULL, PRIMARY KEY (job, idx));
      CREATE INDEX IF NOT EXISTS parts_hash ON parts (hash);
      CREATE TABLE IF NOT EXISTS own (out_mid TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `)
  }

  private config(): Config {
    const cfg = readConfig(this.env)
    if (!cfg.ok) throw new Error(cfg.message)
    return cfg.config
  }

  private get(k: string): string | undefined {
    const row = this.sql.exec<{ v: string }>('SELECT v FROM state WHERE k = ?', k).toArray()[0]
    return row?.v
  }

  private set(k: string, v: string | number | boolean): void {
    this.sql.exec('INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, String(v))
  }

  private num(k: string, def = 0): number {
    const v = this.get(k)
    return v === undefined ? def : Number(v)
  }

  /** Takes one token from the sender's bucket; false when the bucket is empty. */
  private takeToken(config: Config, now: number): boolean {
    const capacity = config.RATE_LIMIT_BURST
    const perMs = config.RATE_LIMIT_PER_MINUTE / 60_000
    const last = this.get('bucket_at')
    let tokens = last === undefined ? capacity : this.num('bucket_tokens', capacity)
    if (last !== undefined) tokens = Math.min(capacity, tokens + Math.max(0, now - Number(last)) * perMs)
    const ok = tokens >= 1
    if (ok) tokens -= 1
    this.set('bucket_tokens', tokens)
    this.set('bucket_at', now)
    return ok
  }

  /** One slow-down notice per cooldown: a flood never turns into a flood of replies. */
  private takeNotice(config: Config, now: number): boolean {
    const cooldown = Math.max(60_000, 60_000 / config.RATE_LIMIT_PER_MINUTE)
    if (now - this.num('notice_at', -Infinity) < cooldown) return false
    this.set('notice_at', now)
    return true
  }

  private remember(role: Turn['role'], text: string, ts: number, mid: string | null, config: Config): void {
    if (config.MEMORY_TURNS === 0 || config.MEMORY_MAX_CHARS === 0) return
    this.sql.exec('INSERT INTO turns (mid, role, text, ts) VALUES (?, ?, ?, ?)', mid, role, text.slice(0, config.MEMORY_MAX_CHARS), ts)
    this.trimMemory(config)
  }

  private trimMemory(config: Config): void {
    this.sql.exec(
      'DELETE FROM turns WHERE seq NOT IN (SELECT seq FROM turns ORDER BY ts DESC, seq DESC LIMIT ?)',
      config.MEMORY_TURNS
    )
    let total = 0
    for (const row of this.sql.exec<{ seq: number; text: string }>('SELECT seq, text FROM turns ORDER BY ts DESC, seq DESC')) {
      total += row.text.length
      if (total > config.MEMORY_MAX_CHARS) this.sql.exec('DELETE FROM turns WHERE seq = ?', row.seq)
    }
  }

  private memoryBefore(ts: number, excludeMid: string): Turn[] {
    return this.sql
      .exec<{ role: string; text: string }>(
        'SELECT role, text FROM turns WHERE ts <= ? AND (mid IS NULL OR mid != ?) ORDER BY ts, seq',
        ts,
        excludeMid
      )
      .toArray()
      .map((r) => ({ role: r.role === 'assistant' ? 'assistant' : 'user', text: r.text }))
  }

  private createJob(id: string, ts: number, kind: JobKind, now: number): string {
    this.sql.exec(
      'INSERT OR IGNORE INTO jobs (id, ts, kind, state, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      id,
      ts,
      JSON.stringify(kind),
      'pending',
      // The Worker runs the job right away under a lease; this is when the alarm takes over.
      now + LEASE_MS,
      now
    )
    return id
  }

  /**
   * Decides every event of one delivery for this sender, in `timestamp` order (Meta does not
   * guarantee delivery order). Returns one decision per input event, in input order.
   */
  async accept(input: AcceptInput): Promise<Accepted[]> {
    const config = this.config()
    const now = input.now ?? Date.now()
    const order = input.events.map((e, i) => ({ e, i })).sort((a, b) => a.e.timestamp - b.e.timestamp)
    // Hashes of echoed texts, computed before the transaction (it cannot await): an echo whose
    // text matches a part the bot is sending or has sent is the bot's own.
    const echoHashes = new Map<number, string>()
    for (const { e, i } of order) {
      if (e.kind === 'echo' && e.text) echoHashes.set(i, await textHash(e.text))
    }
    const results: Accepted[] = new Array(input.events.length)
    // One transaction: if anything fails, no claim of this batch stands, so Meta's redelivery
    // after our 503 is decided afresh instead of being taken for a duplicate.
    this.ctx.storage.transactionSync(() => {
      if (!this.get('account_id')) {
        this.set('account_id', input.accountId)
        this.set('user_id', input.userId)
      }
      for (const { e, i } of order) results[i] = this.claim(e, now, config, echoHashes.get(i))
      // The Worker runs the first new job right after its 200: hand it the lease now and save
      // it a round trip. (Later jobs of the batch wait behind this one anyway.)
      const first = input.leaseFirst ? order.map(({ i }) => results[i]!).find((r) => r.job) : undefined
      if (first?.job) first.lease = this.takeLease(first.job, now, true) ?? undefined
      this.scheduleAlarm(now, config)
    })
    return results
  }

  private claim(e: InboundEvent, now: number, config: Config, echoHash?: string): Accepted {
    const key = eventKey(e)
    const claimed =
      this.sql.exec('INSERT OR IGNORE INTO claims (key, ts, claimed_at, decision) VALUES (?, ?, ?, ?)', key, e.timestamp, now, 'pending')
        .rowsWritten > 0
    if (!claimed) return { key, kind: e.kind, decision: 'duplicate' }
    const { decision, job } = this.decide(e, key, now, config, echoHash)
    this.sql.exec('UPDATE claims SET decision = ? WHERE key = ?', decision, key)
    return { key, kind: e.kind, decision, ...(job ? { job } : {}) }
  }

  private decide(e: InboundEvent, key: string, now: number, config: Config, echoHash?: string): { decision: Decision; job?: string } {
    if (e.source === 'standby') return { decision: 'ignored' }
    switch (e.kind) {
      case 'echo': {
        if (this.sql.exec('SELECT 1 FROM own WHERE out_mid = ?', e.mid).toArray().length > 0) return { decision: 'own_echo' }
        // An echo with an unknown id may have overtaken the Send API's response (or the response
        // was lost): if its text is that of a part we sent or are sending, it is ours, and it
        // settles the oldest such part still in flight.
        // Parts whose message id is known can only match through `own` above, so a person who
        // happens to type the same words as an earlier reply is still seen as a person.
        const unconfirmed = "hash = ? AND at > ? AND (state = 'sending' OR out_mid IS NULL)"
        if (echoHash !== undefined && this.sql.exec(`SELECT 1 FROM parts WHERE ${unconfirmed}`, echoHash, now - DAY).toArray().length > 0) {
          const settled = this.sql
            .exec<{ r: number; job: string }>("SELECT rowid AS r, job FROM parts WHERE hash = ? AND state = 'sending' ORDER BY at LIMIT 1", echoHash)
            .toArray()[0]
          if (settled) {
            this.sql.exec("UPDATE parts SET state = 'sent', out_mid = ? WHERE rowid = ?", e.mid, settled.r)
            // Its job need not sit out the rest of the echo grace period.
            this.sql.exec('UPDATE jobs SET next_at = MIN(next_at, ?) WHERE id = ? AND lease_until <= ?', now, settled.job, now)
          }
          this.sql.exec('INSERT OR IGNORE INTO own (out_mid, at) VALUES (?, ?)', e.mid, now)
          return { decision: 'own_echo' }
        }
        const until = Math.max(this.num('paused_until'), now + config.HUMAN_TAKEOVER_MINUTES * 60_000)
        this.set('paused_until', until)
        if (e.text) this.remember('assistant', e.text, e.timestamp, e.mid, config)
        return { decision: 'human_echo' }
      }
      case 'unsend':
        this.sql.exec('DELETE FROM turns WHERE mid = ?', e.mid)
        // A reply not generated yet is no longer wanted (a runner generating it will find its
        // job cancelled when it tries to save the reply).
        this.sql.exec("UPDATE jobs SET state = 'cancelled', outcome = 'unsent', kind = 'null' WHERE id = ? AND state = 'pending' AND parts IS NULL", e.mid)
        return { decision: 'unsent' }
      case 'edit':
        if (e.text !== undefined) this.sql.exec("UPDATE turns SET text = ? WHERE mid = ? AND role = 'user'", e.text.slice(0, config.MEMORY_MAX_CHARS), e.mid)
        return { decision: 'edited' }
      case 'reaction':
      case 'read':
      case 'referral':
      case 'unknown':
        return { decision: 'ignored' }
      default:
        break
    }
    if (e.senderId === e.accountId) return { decision: 'self' }
    const said = memoryText(e)
    const mid = 'mid' in e && typeof e.mid === 'string' ? e.mid : null
    const job = jobFor(e, config)
    if (now - e.timestamp > WINDOW_MS) {
      return { decision: 'stale' }
    }
    this.set('last_user_at', Math.max(this.num('last_user_at'), e.timestamp))
    // Opt-out and opt-in are honoured before anything else, and their confirmations are not
    // rate limited: a person must always be able to make the bot stop.
    const intent = job?.type === 'llm' ? matchIntent(job.text, intentWords(config)) : null
    if (intent === 'stop') {
      this.set('opted_out', 1)
      this.sql.exec('DELETE FROM turns')
      return { decision: 'opt_out', job: this.createJob(key, e.timestamp, { type: 'fixed', text: config.OPT_OUT_REPLY, reason: 'opt_out' }, now) }
    }
    if (intent === 'start') {
      this.sql.exec("DELETE FROM state WHERE k IN ('opted_out', 'paused_until')")
      return { decision: 'opt_in', job: this.createJob(key, e.timestamp, { type: 'fixed', text: config.OPT_IN_REPLY, reason: 'opt_in' }, now) }
    }
    // Nothing of an opted-out sender is remembered.
    if (this.get('opted_out')) return { decision: 'opted_out' }
    if (said !== null) this.remember('user', said, e.timestamp, mid, config)
    if (this.num('paused_until') > now) return { decision: 'paused' }
    if (intent === 'handoff') {
      // Meta requires a path to a person: the bot stays quiet for the rest of the messaging
      // window (or until START), and every reply from a person extends the pause.
      this.set('paused_until', now + WINDOW_MS)
      return { decision: 'handoff', job: this.createJob(key, e.timestamp, { type: 'fixed', text: config.HANDOFF_REPLY, reason: 'handoff' }, now) }
    }
    if (!job) return { decision: 'ignored' }
    if (!this.takeToken(config, now)) {
      if (!this.takeNotice(config, now)) return { decision: 'rate_limited' }
      const id = this.createJob(key, e.timestamp, { type: 'fixed', text: config.SLOW_DOWN_REPLY, reason: 'rate_limited' }, now)
      return { decision: 'rate_limited_notice', job: id }
    }
    return { decision: 'new', job: this.createJob(key, e.timestamp, job, now) }
  }

  /**
   * Hands a job to a runner for LEASE_MS. Null when the job is finished, leased by someone else,
   * not due yet, or waiting behind an earlier message of this sender (replies go out in order).
   */
  async lease(jobId: string, opts: { now?: number; force?: boolean } = {}): Promise<LeasedJob | null> {
    return this.takeLease(jobId, opts.now ?? Date.now(), opts.force ?? false)
  }

  private takeLease(jobId: string, now: number, force: boolean): LeasedJob | null {
    const row = this.sql.exec<JobRow>('SELECT * FROM jobs WHERE id = ?', jobId).toArray()[0]
    if (!row || (row.state !== 'pending' && row.state !== 'generated')) return null
    if (row.lease_until > now) return null
    if (!force && row.next_at > now) return null
    const earlier = this.sql
      .exec("SELECT 1 FROM jobs WHERE state IN ('pending', 'generated') AND (ts < ? OR (ts = ? AND id < ?)) LIMIT 1", row.ts, row.ts, row.id)
      .toArray()
    if (earlier.length) return null
    const kind = JSON.parse(row.kind) as JobKind
    const confirmation = kind.type === 'fixed' && ['opt_out', 'opt_in', 'handoff'].includes(kind.reason)
    // A person took over, or the sender opted out, after this reply was queued: drop it unless
    // part of it already went out.
    const silenced = this.get('opted_out') ? 'opted_out' : this.num('paused_until') > now ? 'paused' : null
    if (silenced && !confirmation && row.next_part === 0 && !this.partsStarted(row.id)) {
      this.sql.exec("UPDATE jobs SET state = 'cancelled', outcome = ?, kind = 'null', lease_until = 0 WHERE id = ?", silenced, row.id)
      this.unblock(now, this.config())
      return null
    }
    const leaseId = crypto.randomUUID()
    this.sql.exec('UPDATE jobs SET lease_until = ?, lease_id = ? WHERE id = ?', now + LEASE_MS, leaseId, jobId)
    return {
      id: row.id,
      leaseId,
      userId: this.get('user_id') ?? '',
      accountId: this.get('account_id') ?? '',
      timestamp: row.ts,
      lastUserAt: Math.max(row.ts, this.num('last_user_at')),
      kind,
      parts: row.parts ? (JSON.parse(row.parts) as string[]) : null,
      nextPart: row.next_part,
      attempts: row.attempts,
      memory: this.memoryBefore(row.ts, row.id),
    }
  }

  private partsStarted(jobId: string): boolean {
    return this.sql.exec('SELECT 1 FROM parts WHERE job = ? LIMIT 1', jobId).toArray().length > 0
  }

  private holds(jobId: string, leaseId: string, now: number): boolean {
    return this.sql.exec('SELECT 1 FROM jobs WHERE id = ? AND lease_id = ? AND lease_until > ?', jobId, leaseId, now).toArray().length > 0
  }

  /** Stores the generated reply so a retry never calls the LLM again. */
  async saveReply(jobId: string, leaseId: string, parts: string[], outcome: string, now = Date.now()): Promise<boolean> {
    const firstHash = parts.length ? await textHash(parts[0]!) : ''
    if (!this.holds(jobId, leaseId, now)) return false
    if (parts.length === 0) {
      const done = this.sql.exec("UPDATE jobs SET state = 'done', kind = 'null', outcome = ?, lease_until = 0 WHERE id = ? AND state = 'pending'", outcome, jobId)
      if (done.rowsWritten > 0) this.unblock(now, this.config())
      return done.rowsWritten > 0
    }
    // Only a pending job takes a reply: an unsend may have cancelled it meanwhile.
    const saved = this.sql.exec("UPDATE jobs SET state = 'generated', parts = ?, outcome = ? WHERE id = ? AND state = 'pending'", JSON.stringify(parts), outcome, jobId)
    if (saved.rowsWritten === 0) return false
    // The caller sends part 0 next: record it as in flight now, as beginPart would (one round
    // trip fewer per reply).
    this.sql.exec("INSERT OR REPLACE INTO parts (job, idx, state, hash, at) VALUES (?, 0, 'sending', ?, ?)", jobId, firstHash, now)
    return true
  }

  /** True (and remembered) the first time today this sender is told the budget is spent. */
  async takeBudgetNotice(day: string): Promise<boolean> {
    if (this.get('budget_notice_day') === day) return false
    this.set('budget_notice_day', day)
    return true
  }

  /**
   * Called before sending part `idx`. Records the part as in flight (with a hash of its text, so
   * its echo can be recognised even if the Send API's response is lost).
   */
  async beginPart(jobId: string, leaseId: string, idx: number, text: string, now = Date.now()): Promise<PartGate> {
    const hash = await textHash(text)
    if (!this.holds(jobId, leaseId, now)) return 'lost_lease'
    const part = this.sql.exec<{ state: string; at: number }>('SELECT state, at FROM parts WHERE job = ? AND idx = ?', jobId, idx).toArray()[0]
    if (part?.state === 'sent') return 'already_sent'
    // A previous attempt may have been delivered without us hearing back; its echo settles it.
    if (part?.state === 'sending' && now - part.at < ECHO_GRACE_MS) return 'wait_for_echo'
    this.sql.exec(
      "INSERT INTO parts (job, idx, state, hash, at) VALUES (?, ?, 'sending', ?, ?) ON CONFLICT (job, idx) DO UPDATE SET state = 'sending', at = excluded.at",
      jobId,
      idx,
      hash,
      now
    )
    return 'go'
  }

  /** Records part `idx` as delivered; the last part finishes the job and enters memory. */
  async partSent(jobId: string, idx: number, outMid: string, now = Date.now()): Promise<void> {
    const config = this.config()
    this.sql.exec("UPDATE parts SET state = 'sent', out_mid = COALESCE(NULLIF(?, ''), out_mid), at = ? WHERE job = ? AND idx = ?", outMid, now, jobId, idx)
    if (outMid) this.sql.exec('INSERT OR IGNORE INTO own (out_mid, at) VALUES (?, ?)', outMid, now)
    const row = this.sql.exec<JobRow>("SELECT * FROM jobs WHERE id = ? AND state IN ('pending', 'generated')", jobId).toArray()[0]
    // A runner whose lease ran out may report late, after another runner ended the job.
    if (!row) return
    const parts = row.parts ? (JSON.parse(row.parts) as string[]) : []
    const next = Math.max(row.next_part, idx + 1)
    if (next >= parts.length) {
      // The texts now live in memory only (and expire with it); the job keeps no copy.
      this.sql.exec("UPDATE jobs SET state = 'done', next_part = ?, lease_until = 0, kind = 'null', parts = NULL WHERE id = ?", next, jobId)
      this.remember('assistant', parts.join(' '), Math.max(row.ts, now), outMid || null, config)
      this.set('last_reply_at', now)
      this.unblock(now, config)
    } else {
      this.sql.exec('UPDATE jobs SET next_part = ? WHERE id = ?', next, jobId)
    }
  }

  /** A runner gives a job back unfinished: retry from the alarm with a growing delay. */
  async release(
    jobId: string,
    leaseId: string,
    opts: { final?: string; now?: number; retryAt?: number; notSent?: number } = {}
  ): Promise<JobOutcome | null> {
    const now = opts.now ?? Date.now()
    const config = this.config()
    const row = this.sql.exec<JobRow>('SELECT * FROM jobs WHERE id = ? AND lease_id = ?', jobId, leaseId).toArray()[0]
    if (!row) return null
    // Meta answered with an error, so that part was certainly not delivered: no echo to wait for.
    if (opts.notSent !== undefined) this.sql.exec("DELETE FROM parts WHERE job = ? AND idx = ? AND state = 'sending'", jobId, opts.notSent)
    if (opts.final) {
      this.sql.exec("UPDATE jobs SET state = 'failed', outcome = ?, lease_until = 0, kind = 'null', parts = NULL WHERE id = ?", opts.final, jobId)
      this.unblock(now, config)
      return { state: 'failed', reason: opts.final }
    }
    const attempts = row.attempts + 1
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 20))
    const nextAt = Math.max(opts.retryAt ?? 0, now + delay)
    if (nextAt >= row.ts + WINDOW_MS) {
      this.sql.exec("UPDATE jobs SET state = 'failed', outcome = 'window_closed', attempts = ?, lease_until = 0, kind = 'null', parts = NULL WHERE id = ?", attempts, jobId)
      this.unblock(now, config)
      return { state: 'failed', reason: 'window_closed' }
    }
    this.sql.exec('UPDATE jobs SET attempts = ?, next_at = ?, lease_until = 0 WHERE id = ?', attempts, nextAt, jobId)
    this.scheduleAlarm(now, config)
    return null
  }

  /** Unfinished jobs of this sender, oldest message first. */
  async pendingJobs(): Promise<string[]> {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM jobs WHERE state IN ('pending', 'generated') ORDER BY ts, id")
      .toArray()
      .map((r) => r.id)
  }

  /** The sender's first unfinished job, if it has never been attempted (retries wait for their time). */
  private firstFreshJob(): string | null {
    const row = this.sql
      .exec<{ id: string; attempts: number }>("SELECT id, attempts FROM jobs WHERE state IN ('pending', 'generated') ORDER BY ts, id LIMIT 1")
      .toArray()[0]
    return row && row.attempts === 0 ? row.id : null
  }

  /**
   * Leases the job a Worker runner may take now: the sender's first unfinished job, if it was
   * never attempted and nobody holds it. One call, however long the queue.
   */
  async leaseNextFresh(now = Date.now()): Promise<LeasedJob | null> {
    const id = this.firstFreshJob()
    return id ? this.takeLease(id, now, true) : null
  }

  /**
   * A job finished: messages that waited behind it (replies go out in order) may go. A Worker
   * runner still in its waitUntil usually takes them next; the alarm is the safety net.
   */
  private unblock(now: number, config: Config): void {
    this.sql.exec("UPDATE jobs SET next_at = MIN(next_at, ?) WHERE state IN ('pending', 'generated') AND lease_until <= ?", now + UNBLOCK_GRACE_MS, now)
    this.scheduleAlarm(now, config)
  }

  /** The earliest moment this object has work: a job retry, memory expiry or claim pruning. */
  private scheduleAlarm(now: number, config: Config): void {
    const times: number[] = []
    // Only the first job in message order can run; later ones wait behind it.
    const job = this.sql
      .exec<{ t: number }>("SELECT MAX(next_at, lease_until) AS t FROM jobs WHERE state IN ('pending', 'generated') ORDER BY ts, id LIMIT 1")
      .toArray()[0]?.t
    // A job whose runner dies in waitUntil is picked up once its lease has expired.
    if (job !== null && job !== undefined) times.push(job)
    const lastTurn = this.sql.exec<{ t: number | null }>('SELECT MAX(ts) AS t FROM turns').toArray()[0]?.t
    if (lastTurn) times.push(Math.max(lastTurn, this.num('last_user_at')) + config.MEMORY_TTL_HOURS * HOUR)
    const oldestClaim = this.sql.exec<{ t: number | null }>('SELECT MIN(claimed_at) AS t FROM claims').toArray()[0]?.t
    if (oldestClaim) times.push(oldestClaim + CLAIM_RETENTION_MS)
    if (!times.length) return
    const at = Math.min(...times)
    void this.ctx.storage.setAlarm(Math.max(at, now))
  }

  /** Retries due jobs, then forgets what is no longer needed. */
  override async alarm(): Promise<void> {
    const config = this.config()
    const log = createLogger({ component: 'sender_alarm', sender: await hashId(this.get('user_id') ?? '', config.APP_SECRET) })
    const deps = createPipelineDeps(this.env, config, log, () => Date.now() + ALARM_JOB_BUDGET_MS)
    // Jobs never attempted (queued behind a finished one) run at once; retries at their time.
    for (const id of await this.pendingJobs()) await runJob(deps, this, id, { immediate: id === this.firstFreshJob() })
    this.expire(Date.now(), config)
    this.scheduleAlarm(Date.now(), config)
  }

  private expire(now: number, config: Config): void {
    const lastActivity = Math.max(this.num('last_user_at'), this.sql.exec<{ t: number | null }>('SELECT MAX(ts) AS t FROM turns').toArray()[0]?.t ?? 0)
    if (now - lastActivity >= config.MEMORY_TTL_HOURS * HOUR) this.sql.exec('DELETE FROM turns')
    this.sql.exec('DELETE FROM claims WHERE claimed_at < ?', now - CLAIM_RETENTION_MS)
    this.sql.exec("DELETE FROM jobs WHERE state NOT IN ('pending', 'generated') AND created_at < ?", now - CLAIM_RETENTION_MS)
    this.sql.exec('DELETE FROM parts WHERE job NOT IN (SELECT id FROM jobs)')
    this.sql.exec('DELETE FROM own WHERE at < ?', now - CLAIM_RETENTION_MS)
    // Nothing left to do or remember: keep only an opt-out, which must outlive everything else.
    const left = this.sql.exec<{ n: number }>('SELECT (SELECT COUNT(*) FROM claims) + (SELECT COUNT(*) FROM turns) + (SELECT COUNT(*) FROM jobs) AS n').one().n
    if (left === 0) this.sql.exec("DELETE FROM state WHERE k != 'opted_out'")
  }

  /**
   * Data deletion: erases everything this object stores about the sender (claims, memory,
   * pending replies, flags, its alarm) and returns the dedup keys so the caller can delete
   * them from KV too. Idempotent.
   */
  async forget(): Promise<string[]> {
    const keys = this.sql.exec<{ key: string }>('SELECT key FROM claims').toArray().map((r) => r.key)
    // deleteAll also removes the alarm (compatibility date 2026-02-24 or later).
    await this.ctx.storage.deleteAll()
    this.migrate()
    return keys
  }

  /** Test and data-deletion helper: everything stored about this sender. */
  async snapshot(): Promise<{ claims: number; decisions: Record<string, number>; turns: Turn[]; jobs: { id: string; state: string; outcome: string | null; attempts: number }[]; state: Record<string, string> }> {
    return {
      claims: this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM claims').one().n,
      decisions: Object.fromEntries(
        this.sql.exec<{ decision: string; n: number }>('SELECT decision, COUNT(*) AS n FROM claims GROUP BY decision').toArray().map((r) => [r.decision, r.n])
      ),
      turns: this.sql.exec<{ role: string; text: string }>('SELECT role, text FROM turns ORDER BY ts, seq').toArray().map((r) => ({ role: r.role as Turn['role'], text: r.text })),
      jobs: this.sql.exec<{ id: string; state: string; outcome: string | null; attempts: number }>('SELECT id, state, outcome, attempts FROM jobs ORDER BY ts').toArray().map((r) => ({ ...r })),
      state: Object.fromEntries(this.sql.exec<{ k: string; v: string }>('SELECT k, v FROM state').toArray().map((r) => [r.k, r.v])),
    }
  }
}
