/**
 * One Durable Object per (Instagram account, sender): the single consistent place that decides
 * what happens to each event of a conversation. This file is the object's face: its RPC methods,
 * its transactions and its alarm. The work is done by the stores it holds:
 *
 * - `claims.ts`: exactly-once; every event's key claimed once, the only dedup authority.
 * - `decide.ts`: what a claimed event means (echo, opt-out, takeover, handoff, reply).
 * - `limits.ts`: the sender's token bucket and notices.
 * - `memory.ts`: the last turns of the conversation.
 * - `jobs.ts`: reply jobs, leases and reply parts, retried from the alarm.
 * - `burst.ts`: messages close together coalesced into one reply job.
 * - `stores.ts`: opens them together; `state.ts` keeps its table in memory, so whatever changes
 *   the tables behind the stores' back (a rolled-back transaction, a wipe) opens fresh ones.
 *
 * SQL calls are synchronous and run without interleaving, so each RPC method below is atomic as
 * long as it does not await between SQL statements (hashes are computed first).
 */
import { DurableObject } from 'cloudflare:workers'
import { readConfig, type Config } from '../core/config'
import { createLogger, hashId } from '../core/log'
import { decideEvent } from './decide'
import type { AcceptEvent, Accepted, AcceptInput, Finished, JobOutcome, LeasedJob, PartGate, Turn } from './decision'
import { createPipelineDeps } from './deps'
import { textHash, type Head } from './jobs'
import { eventKey, seenKey } from './names'
import { runJob } from './pipeline'
import { MODEL_CALLED } from '../llm/reply'
import type { ConversationState } from './state'
import { expireStores, nextWork, openStores, type SenderStores } from './stores'
import { migrate, SCHEMA } from './schema'
import { KV_SWEEP_DELAY_MS } from './sweep'
import { clampFutureTimestamps } from '../meta/webhook'

const HOUR = 3_600_000
/** Each job run from the alarm gets as long as one in waitUntil would. */
const ALARM_JOB_BUDGET_MS = 25_000

export class SenderObject extends DurableObject<Env> {
  private readonly sql: SqlStorage
  private s!: SenderStores
  /** The alarm time this instance last set (null: none, or it has fired, or it may be gone). */
  private alarmAt: number | null = null
  /** The queue heads the last alarm scheduling read (what partSent reports from). */
  private woken: Head[] | null = null

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    ctx.storage.transactionSync(() => {
      this.sql.exec(SCHEMA)
      migrate(this.sql)
    })
    this.open()
  }

  /** Fresh stores over the tables as they are now (see stores.ts). */
  private open(): void {
    this.s = openStores(this.sql, this.env.DEDUP, (now, heads) => this.scheduleAlarm(now, this.config(), heads))
    this.alarmAt = null
  }

  private config(): Config {
    const cfg = readConfig(this.env)
    if (!cfg.ok) throw new Error(cfg.message)
    return cfg.config
  }

  /**
   * Decides every event of one delivery for this sender, in `timestamp` order (Meta does not
   * guarantee delivery order). Returns one decision per input event, in input order.
   */
  async accept(input: AcceptInput): Promise<Accepted[]> {
    const config = this.config()
    const now = input.now ?? Date.now()
    // The Worker clamped already; the object does too, as the one place every event passes.
    const events = clampFutureTimestamps(input.events, now).events
    const order = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.timestamp - b.e.timestamp)
    // Hashes of echoed texts, computed before the transaction (it cannot await): an echo whose
    // text matches a part the bot is sending or has sent is the bot's own.
    const echoHashes = new Map<number, string>()
    for (const { e, i } of order) {
      if (e.kind === 'echo' && e.text) echoHashes.set(i, await textHash(e.text))
    }
    const results: Accepted[] = new Array(events.length)
    // One transaction: if anything fails, no claim of this batch stands, so Meta's redelivery
    // after our 503 is decided afresh instead of being taken for a duplicate.
    this.atomically(() => {
      if (!this.s.state.get('account_id')) {
        this.s.state.set('account_id', input.accountId)
        this.s.state.set('user_id', input.userId)
      }
      for (const { e, i } of order) results[i] = this.claim(e, now, config, echoHashes.get(i))
      // Messages of one delivery can share a burst: its job goes to the runner once, with the
      // burst's final due time and the typing indicator if the burst opened here.
      const byJob = new Map<string, Accepted>()
      for (const { i } of order) {
        const r = results[i]!
        if (!r.job) continue
        const prev = byJob.get(r.job)
        if (prev) {
          r.typing ||= prev.typing
          delete prev.job
          delete prev.dueAt
          delete prev.typing
        }
        byJob.set(r.job, r)
      }
      for (const [job, r] of byJob) if (r.dueAt) r.dueAt = this.s.jobs.waitingUntil(job)
      // The Worker runs the first new job right after its 200: hand it the lease now and save
      // it a round trip. (Later jobs of the batch wait behind this one anyway; a burst waits
      // for its quiet window and is leased when it ends.)
      const first = input.leaseFirst ? order.map(({ i }) => results[i]!).find((r) => r.job) : undefined
      if (first?.job && !first.dueAt) first.lease = this.s.jobs.lease(first.job, now, true) ?? undefined
      if (input.handOff) for (const r of results) if (r.job) this.s.jobs.dueAt(r.job, now)
      this.scheduleAlarm(now, config)
    })
    return results
  }

  /**
   * Runs `fn` in one SQL transaction, its state writes in one statement. If it throws, SQLite
   * rolls back but the stores' copies in memory would keep what it wrote: fresh stores replace them.
   */
  private atomically(fn: () => void): void {
    try {
      this.ctx.storage.transactionSync(() => this.s.state.batch(fn))
    } catch (err) {
      this.open()
      throw err
    }
  }

  private claim(e: AcceptEvent, now: number, config: Config, echoHash?: string): Accepted {
    const key = eventKey(e)
    if (this.s.claims.has(key)) return { key, kind: e.kind, decision: 'duplicate' }
    const { decision, job, dueAt } = decideEvent(this.s, { e, key, now, config, echoHash })
    this.s.claims.take(key, e.timestamp, now, decision)
    return { key, kind: e.kind, decision, ...(job ? { job } : {}), ...(dueAt ? { dueAt, typing: decision === 'new' } : {}) }
  }

  /**
   * Hands a job to a runner. Null when the job is finished, leased by someone else, not due yet,
   * or waiting behind an earlier message of this sender (replies go out in order).
   */
  async lease(jobId: string, opts: { now?: number; force?: boolean } = {}): Promise<LeasedJob | null> {
    return this.s.jobs.lease(jobId, opts.now ?? Date.now(), opts.force ?? false)
  }

  /**
   * Stores the generated reply so a retry never calls the LLM again, and counts a model call
   * against the sender's daily cap (in the same call: no extra round trip per reply).
   */
  async saveReply(jobId: string, leaseId: string, parts: string[], outcome: string, now = Date.now()): Promise<boolean> {
    const firstHash = parts.length ? await textHash(parts[0]!) : ''
    const saved = this.s.jobs.saveReply(jobId, leaseId, parts, outcome, firstHash, now)
    if (saved && MODEL_CALLED.has(outcome)) this.s.state.batch(() => this.s.limits.chargeLlm(new Date(now).toISOString().slice(0, 10)))
    return saved
  }

  /** True (and remembered) the first time today this sender is told the budget is spent. */
  async takeBudgetNotice(day: string): Promise<boolean> {
    return this.s.limits.takeBudgetNotice(day)
  }

  /**
   * Called before sending part `idx`. Records the part as in flight (with a hash of its text, so
   * its echo can be recognised even if the Send API's response is lost).
   */
  async beginPart(jobId: string, leaseId: string, idx: number, text: string, now = Date.now()): Promise<PartGate> {
    const hash = await textHash(text)
    return this.s.jobs.beginPart(jobId, leaseId, idx, hash, now)
  }

  /**
   * Records part `idx` as delivered; the last part finishes the job, enters memory, and the
   * answer tells the runner whether a fresh job waits (see Finished).
   */
  async partSent(jobId: string, idx: number, outMid: string, now = Date.now()): Promise<Finished | null> {
    const config = this.config()
    this.woken = null
    const finished = this.s.jobs.partSent(jobId, idx, outMid, now, (text, ts) => this.s.memory.remember('assistant', text, ts, outMid || null, config))
    // Finishing a job reschedules the alarm, which read the queue heads just now.
    return finished && { fresh: this.s.jobs.freshHeads(this.woken ?? this.s.jobs.heads()).length > 0 }
  }

  /** A runner gives a job back unfinished: retry from the alarm with a growing delay. */
  async release(jobId: string, leaseId: string, opts: { final?: string; now?: number; retryAt?: number; notSent?: number; paced?: boolean; untried?: boolean } = {}): Promise<JobOutcome | null> {
    return this.s.jobs.release(jobId, leaseId, { ...opts, now: opts.now ?? Date.now() })
  }

  /** Unfinished jobs of this sender, oldest message first. */
  async pendingJobs(): Promise<string[]> {
    return this.s.jobs.pending()
  }

  /**
   * Leases the job a Worker runner may take now: the first unfinished job of a queue (DMs first),
   * if it was never attempted and nobody holds it. One call, however long the queue. A burst still
   * in its quiet window is not leased; its due time comes back instead, so the runner can wait for it.
   */
  async leaseNextFresh(now = Date.now()): Promise<LeasedJob | { dueAt: number } | null> {
    for (const id of this.s.jobs.freshHeads()) {
      const dueAt = this.s.jobs.waitingUntil(id)
      const leased = dueAt > now ? { dueAt } : this.s.jobs.lease(id, now, true)
      if (leased) return leased
    }
    return null
  }

  /** Sets the alarm to the earliest moment this object has work (see nextWork). */
  private scheduleAlarm(now: number, config: Config, known?: Head[]): void {
    const { at, heads } = nextWork(this.s, now, config.MEMORY_TTL_HOURS * HOUR, known)
    this.woken = heads
    // None, or unchanged since this instance set it (setting it again would only cost a write).
    if (at === null || at === this.alarmAt) return
    void this.ctx.storage.setAlarm(at)
    this.alarmAt = at
  }

  /** Retries due jobs, then forgets what is no longer needed. */
  override async alarm(): Promise<void> {
    this.alarmAt = null
    const config = this.config()
    const log = createLogger({ component: 'sender_alarm', sender: await hashId(this.s.state.get('user_id') ?? '', config.APP_SECRET) })
    const deps = createPipelineDeps(this.env, config, log, () => Date.now() + ALARM_JOB_BUDGET_MS, this.s.state.get('account_id') ?? undefined)
    // Jobs never attempted (queued behind a finished one) run at once; retries at their time.
    for (const id of this.s.jobs.pending()) await runJob(deps, this, id, { immediate: this.s.jobs.freshHeads().includes(id) })
    await this.s.sweep.run(Date.now())
    expireStores(this.s, Date.now(), config.MEMORY_TTL_HOURS * HOUR)
    this.scheduleAlarm(Date.now(), config)
  }

  /**
   * Data deletion: erases everything this object stores about the sender (claims, memory,
   * pending replies, flags, its alarm) and returns the dedup keys so the caller can delete
   * them from KV too. With `accountId`, it deletes those KV keys once more a minute later
   * (see sweep.ts), so a seen-key written after the erase does not outlive it. Idempotent.
   */
  async forget(accountId?: string, now = Date.now()): Promise<string[]> {
    const keys = this.s.claims.keys()
    const pending = this.sql.exec<{ kv_key: string }>('SELECT kv_key FROM kv_sweep').toArray().map((r) => r.kv_key)
    // deleteAll also removes the alarm (compatibility date 2026-02-24 or later).
    await this.ctx.storage.deleteAll()
    this.sql.exec(SCHEMA)
    this.open()
    const again = [...pending, ...(accountId ? keys.map((k) => seenKey(accountId, k)) : [])]
    if (again.length) {
      this.s.sweep.schedule(again, now + KV_SWEEP_DELAY_MS)
      void this.ctx.storage.setAlarm(now + KV_SWEEP_DELAY_MS)
    }
    return keys
  }

  /** Test seam: runs the KV sweep as the alarm would at `now`. */
  async sweepKv(now = Date.now()): Promise<number> {
    return this.s.sweep.run(now)
  }

  /** Whether the bot answers this sender now, and if not why (for the operator). */
  async conversationState(now = Date.now()): Promise<ConversationState> {
    return this.s.state.conversation(now)
  }

  /** The operator lets the bot answer again after a pause. An opt-out stays: only the customer's START ends it. */
  async resume(): Promise<ConversationState> {
    this.s.state.delete('paused_until', 'pause_reason')
    return this.s.state.conversation(Date.now())
  }

  /** Test and data-deletion helper: everything stored about this sender. */
  async snapshot(): Promise<{
    claims: number
    decisions: Record<string, number>
    turns: Turn[]
    jobs: { id: string; state: string; outcome: string | null; attempts: number }[]
    state: Record<string, string>
  }> {
    return {
      claims: this.s.claims.count(),
      decisions: this.s.claims.decisions(),
      turns: this.s.memory.all(),
      jobs: this.s.jobs.summary(),
      state: this.s.state.all(),
    }
  }
}
