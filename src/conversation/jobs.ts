/**
 * A sender's reply jobs (`jobs`, `parts` and `own` tables): each accepted event that deserves a
 * reply becomes a job. A runner (the Worker in `waitUntil`, or the object's alarm) takes a job
 * under a lease; every reply part is recorded as sending, then sent, before the next one, so no
 * part is ever sent twice; what a runner cannot finish is given back and retried with a growing
 * delay, in message order (DM replies and comment replies each in their own queue), until it is
 * delivered or its messaging window closes.
 */
import type { Memory } from './memory'
import type { StateStore } from './state'
import type { JobKind, JobOutcome, LeasedJob, PartGate } from './decision'
import {
  answeredMids,
  COMMENT,
  DAY,
  FINISHED_RETENTION_MS,
  HELD,
  isCommentRow,
  isConfirmation,
  LEASE_MS,
  MAX_ATTEMPTS,
  OPEN,
  queueOf,
  retryDelayMs,
  UNBLOCK_GRACE_MS,
  WAITING_BURST,
  WINDOW_MS,
  type Head,
  type JobRow,
} from './job-rules'
import { ECHO_GRACE_MS } from './pipeline'
import { COMMENT_REPLY_MS } from './comment-job'
import { llmCallsOn } from './limits'

export { answeredMids, LEASE_MS, MAX_ATTEMPTS, retryDelayMs, textHash, WINDOW_MS, type Head } from './job-rules'

export class Jobs {
  /**
   * @param wake called whenever the queue changed in a way the alarm must hear about (the
   *   sender object reschedules it), with the queue heads when they were just read
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly state: StateStore,
    private readonly memory: Memory,
    private readonly wake: (now: number, heads?: Head[]) => void
  ) {}

  /** `dueAt` > 0 makes a burst that may not be leased before then (burst.ts). */
  create(id: string, ts: number, kind: JobKind, now: number, dueAt = 0): string {
    this.sql.exec(
      'INSERT OR IGNORE INTO jobs (id, ts, kind, state, next_at, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      id,
      ts,
      JSON.stringify(kind),
      'pending',
      // The Worker runs the job right away (or when its burst is due) under a lease; this is when
      // the alarm takes over.
      Math.max(now, dueAt) + LEASE_MS,
      now,
      dueAt
    )
    return id
  }

  /** When a waiting burst may be leased; 0 for other jobs. */
  waitingUntil(jobId: string): number {
    return this.sql.exec<{ d: number }>('SELECT due_at AS d FROM jobs WHERE id = ?', jobId).toArray()[0]?.d ?? 0
  }

  /**
   * Hands a job to a runner for LEASE_MS. Null when the job is finished, leased by someone else,
   * not due yet (unless `force`), or waiting behind an earlier message of its queue (replies go
   * out in order).
   */
  lease(jobId: string, now: number, force: boolean): LeasedJob | null {
    // The job and whether an earlier message of its queue still waits for its reply, in one read.
    const row = this.sql
      .exec<JobRow & { blocked: number }>(
        `SELECT *, EXISTS (SELECT 1 FROM jobs WHERE ${OPEN} AND (${COMMENT}) = (j.kind LIKE '{"type":"comment"%') AND (ts < j.ts OR (ts = j.ts AND id < j.id)) AND NOT (${WAITING_BURST})) AS blocked FROM jobs AS j WHERE j.id = ?`,
        now,
        now,
        jobId
      )
      .toArray()[0]
    if (!row || (row.state !== 'pending' && row.state !== 'generated')) return null
    if (row.lease_until > now) return null
    // A burst's quiet window holds even for `force`: the runner that waited for an earlier end
    // of it steps aside for the newest message's runner.
    if (row.due_at > now) return null
    if (!force && row.next_at > now) return null
    if (row.blocked) return null
    // A job that can no longer succeed ends here, whoever finds it: past its window, or taken
    // MAX_ATTEMPTS times (each lease counts, so a runner that dies mid-job still uses one up).
    const closesAt = row.ts + (isCommentRow(row) ? COMMENT_REPLY_MS : WINDOW_MS)
    if (now >= closesAt || row.attempts >= MAX_ATTEMPTS) {
      this.fail(row.id, now >= closesAt ? 'window_closed' : 'attempts_exhausted', row.attempts, now)
      return null
    }
    const kind = JSON.parse(row.kind) as JobKind
    // A person took over, or the sender opted out, after this reply was queued: drop it unless
    // part of it already went out.
    const silenced = this.state.get('opted_out') ? 'opted_out' : this.state.num('paused_until') > now ? 'paused' : null
    if (silenced && !isConfirmation(kind) && row.next_part === 0 && !this.partsStarted(row.id)) {
      this.sql.exec("UPDATE jobs SET state = 'cancelled', outcome = ?, kind = 'null', lease_until = 0 WHERE id = ?", silenced, row.id)
      this.unblock(now)
      return null
    }
    const leaseId = crypto.randomUUID()
    const attempts = row.attempts + 1
    // If this runner never comes back, the alarm retries after the lease plus a growing delay.
    this.sql.exec(
      'UPDATE jobs SET lease_until = ?, lease_id = ?, attempts = ?, next_at = ? WHERE id = ?',
      now + LEASE_MS,
      leaseId,
      attempts,
      now + LEASE_MS + retryDelayMs(attempts),
      jobId
    )
    return {
      id: row.id,
      leaseId,
      userId: this.state.get('user_id') ?? '',
      accountId: this.state.get('account_id') ?? '',
      timestamp: row.ts,
      // Capped at now: a future stamp stored before timestamps were clamped must not shut the window.
      lastUserAt: Math.min(Math.max(row.ts, this.state.num('last_user_at')), now),
      kind,
      parts: row.parts ? (JSON.parse(row.parts) as string[]) : null,
      nextPart: row.next_part,
      attempts,
      memory: this.memory.before(row.ts, answeredMids(row.id, kind)),
      llmCallsToday: llmCallsOn(this.state, new Date(now).toISOString().slice(0, 10)),
    }
  }

  private partsStarted(jobId: string): boolean {
    return this.sql.exec('SELECT 1 FROM parts WHERE job = ? LIMIT 1', jobId).toArray().length > 0
  }

  holds(jobId: string, leaseId: string, now: number): boolean {
    return this.sql.exec(`SELECT 1 FROM jobs WHERE ${HELD}`, jobId, leaseId, now).toArray().length > 0
  }

  /**
   * Stores the generated reply so a retry never calls the LLM again, and records part 0 as in
   * flight (the caller sends it next; one round trip fewer per reply). An empty reply ends the job.
   */
  saveReply(jobId: string, leaseId: string, parts: string[], outcome: string, firstHash: string, now: number): boolean {
    // Only the lease holder saves, and only into a pending job: an unsend may have cancelled it.
    if (parts.length === 0) {
      const done = this.sql.exec(`UPDATE jobs SET state = 'done', kind = 'null', outcome = ?, lease_until = 0 WHERE ${HELD} AND state = 'pending'`, outcome, jobId, leaseId, now)
      if (done.rowsWritten > 0) this.unblock(now)
      return done.rowsWritten > 0
    }
    const saved = this.sql.exec(`UPDATE jobs SET state = 'generated', parts = ?, outcome = ? WHERE ${HELD} AND state = 'pending'`, JSON.stringify(parts), outcome, jobId, leaseId, now)
    if (saved.rowsWritten === 0) return false
    this.sql.exec("INSERT OR REPLACE INTO parts (job, idx, state, hash, at) VALUES (?, 0, 'sending', ?, ?)", jobId, firstHash, now)
    return true
  }

  /** Called before sending part `idx`: records it as in flight, with the hash of its text. */
  beginPart(jobId: string, leaseId: string, idx: number, hash: string, now: number): PartGate {
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

  /**
   * Records part `idx` as delivered. When it was the last, the job ends and its text is returned
   * (the caller remembers it); null otherwise.
   */
  partSent(jobId: string, idx: number, outMid: string, now: number, onFinish?: (text: string, ts: number) => void): { text: string; ts: number } | null {
    this.sql.exec("UPDATE parts SET state = 'sent', out_mid = COALESCE(NULLIF(?, ''), out_mid), at = ? WHERE job = ? AND idx = ?", outMid, now, jobId, idx)
    if (outMid) this.sql.exec('INSERT OR IGNORE INTO own (out_mid, at) VALUES (?, ?)', outMid, now)
    const row = this.sql.exec<JobRow>(`SELECT * FROM jobs WHERE id = ? AND ${OPEN}`, jobId).toArray()[0]
    // A runner whose lease ran out may report late, after another runner ended the job.
    if (!row) return null
    const parts = row.parts ? (JSON.parse(row.parts) as string[]) : []
    const next = Math.max(row.next_part, idx + 1)
    if (next < parts.length) {
      this.sql.exec('UPDATE jobs SET next_part = ? WHERE id = ?', next, jobId)
      return null
    }
    // The texts now live in memory only (and expire with it); the job keeps no copy.
    this.sql.exec("UPDATE jobs SET state = 'done', next_part = ?, lease_until = 0, kind = 'null', parts = NULL WHERE id = ?", next, jobId)
    // A comment job's memory is its private reply; the public one went under the post.
    const finished = { text: isCommentRow(row) ? (parts[0] ?? '') : parts.join(' '), ts: Math.max(row.ts, now) }
    // Remembered before the alarm is rescheduled, so memory's expiry counts from this reply.
    onFinish?.(finished.text, finished.ts)
    this.unblock(now)
    return finished
  }

  /** A runner gives a job back unfinished: retried from the alarm with a growing delay, or failed. */
  release(jobId: string, leaseId: string, opts: { final?: string; now: number; retryAt?: number; notSent?: number; paced?: boolean; untried?: boolean }): JobOutcome | null {
    const { now } = opts
    const row = this.sql.exec<JobRow>('SELECT * FROM jobs WHERE id = ? AND lease_id = ?', jobId, leaseId).toArray()[0]
    if (!row) return null
    // Meta answered with an error, so that part was certainly not delivered: no echo to wait for.
    if (opts.notSent !== undefined) this.sql.exec("DELETE FROM parts WHERE job = ? AND idx = ? AND state = 'sending'", jobId, opts.notSent)
    if (opts.final) {
      this.fail(jobId, opts.final, row.attempts, now)
      return { state: 'failed', reason: opts.final }
    }
    // The lease counted the attempt. One given back untried (no time left for the model) or
    // paced (waiting for the account's pacing or pause: no backoff, just the free slot) does not
    // use one up.
    const attempts = opts.paced || opts.untried ? Math.max(row.attempts - 1, 0) : row.attempts
    const nextAt = opts.paced ? Math.max(opts.retryAt ?? now, now) : Math.max(opts.retryAt ?? 0, now + retryDelayMs(attempts))
    // A private reply to a comment may go out for 7 days; every other reply only in the window.
    if (nextAt >= row.ts + (isCommentRow(row) ? COMMENT_REPLY_MS : WINDOW_MS)) {
      this.fail(jobId, 'window_closed', attempts, now)
      return { state: 'failed', reason: 'window_closed' }
    }
    this.sql.exec('UPDATE jobs SET attempts = ?, next_at = ?, lease_until = 0 WHERE id = ?', attempts, nextAt, jobId)
    this.wake(now)
    return null
  }

  private fail(jobId: string, reason: string, attempts: number, now: number): void {
    this.sql.exec("UPDATE jobs SET state = 'failed', outcome = ?, attempts = ?, lease_until = 0, kind = 'null', parts = NULL WHERE id = ?", reason, attempts, jobId)
    this.unblock(now)
  }

  /** Makes an unleased job due at `at` (the alarm runs it), e.g. when no Worker runner will. */
  dueAt(jobId: string, at: number): void {
    this.sql.exec(`UPDATE jobs SET next_at = MIN(next_at, ?) WHERE id = ? AND ${OPEN} AND lease_until <= ?`, at, jobId, at)
  }

  /** The user unsent the message: a reply not generated yet is no longer wanted. */
  cancelUnsent(mid: string): void {
    const row = this.sql.exec<{ kind: string }>("SELECT kind FROM jobs WHERE id = ? AND state = 'pending' AND parts IS NULL", mid).toArray()[0]
    // A burst already being generated answers its other messages too: it goes out.
    if (!row || answeredMids(mid, JSON.parse(row.kind) as JobKind).length > 1) return
    // A runner generating it will find its job cancelled when it tries to save the reply.
    this.sql.exec("UPDATE jobs SET state = 'cancelled', outcome = 'unsent', kind = 'null' WHERE id = ?", mid)
  }

  /** Unfinished jobs, oldest message first. */
  pending(): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM jobs WHERE ${OPEN} ORDER BY ts, id`)
      .toArray()
      .map((r) => r.id)
  }

  /**
   * The first unfinished job of each queue, DMs first: the only ones that may run now. `t` is when
   * it may (a job whose runner died in waitUntil is picked up once its lease has expired).
   */
  heads(): Head[] {
    const head = (q: number, comment: boolean) =>
      `SELECT * FROM (SELECT ${q} AS q, id, attempts, MAX(next_at, lease_until, due_at) AS t FROM jobs WHERE ${OPEN} AND ${queueOf(comment)} ORDER BY ts, id LIMIT 1)`
    return this.sql
      .exec<Head & { q: number }>(`${head(0, false)} UNION ALL ${head(1, true)} ORDER BY q`)
      .toArray()
      .map(({ id, attempts, t }) => ({ id, attempts, t }))
  }

  /** The queue heads never attempted, DMs first (retries wait for their time). */
  freshHeads(heads = this.heads()): string[] {
    return heads.flatMap((h) => (h.attempts === 0 ? [h.id] : []))
  }

  /** When the first job of either queue may run (later ones wait behind it); null when none. */
  nextRunAt(heads = this.heads()): number | null {
    const times = heads.map((h) => h.t)
    return times.length ? Math.min(...times) : null
  }

  /**
   * A job finished: messages that waited behind it may go. A Worker runner still in its
   * waitUntil usually takes them next; the alarm is the safety net.
   */
  private unblock(now: number): void {
    // Usually nothing else is open: then there is nothing to unblock, and the alarm is told so.
    const heads = this.heads()
    if (!heads.length) {
      this.wake(now, heads)
      return
    }
    this.sql.exec(`UPDATE jobs SET next_at = MIN(next_at, ?) WHERE ${OPEN} AND lease_until <= ?`, now + UNBLOCK_GRACE_MS, now)
    this.wake(now)
  }

  /** Is `mid` the id of a message the bot sent? */
  isOwn(mid: string): boolean {
    return this.sql.exec('SELECT 1 FROM own WHERE out_mid = ?', mid).toArray().length > 0
  }

  /**
   * An echo with an unknown id may have overtaken the Send API's response (or the response was
   * lost): if its text is that of a part in flight or unconfirmed, it is the bot's own, and it
   * settles the oldest such part. Parts whose message id is known only match through `isOwn`, so
   * a person who happens to type the words of an earlier reply is still seen as a person.
   */
  claimEcho(hash: string, mid: string, now: number): boolean {
    const unconfirmed = "hash = ? AND at > ? AND (state = 'sending' OR out_mid IS NULL)"
    if (this.sql.exec(`SELECT 1 FROM parts WHERE ${unconfirmed}`, hash, now - DAY).toArray().length === 0) return false
    const settled = this.sql
      .exec<{ job: string; idx: number }>("SELECT job, idx FROM parts WHERE hash = ? AND state = 'sending' ORDER BY at LIMIT 1", hash)
      .toArray()[0]
    if (settled) {
      this.sql.exec("UPDATE parts SET state = 'sent', out_mid = ? WHERE job = ? AND idx = ?", mid, settled.job, settled.idx)
      // Its job need not sit out the rest of the echo grace period.
      this.sql.exec('UPDATE jobs SET next_at = MIN(next_at, ?) WHERE id = ? AND lease_until <= ?', now, settled.job, now)
    }
    this.sql.exec('INSERT OR IGNORE INTO own (out_mid, at) VALUES (?, ?)', mid, now)
    return true
  }

  /** Forgets finished jobs, their parts and old own ids. */
  expire(now: number): void {
    // Unfinished jobs whose window has closed can never be sent: they end as failed (and are
    // forgotten with the other finished jobs), so nothing waits behind them.
    const stale = this.sql.exec(
      `UPDATE jobs SET state = 'failed', outcome = 'window_closed', lease_until = 0, kind = 'null', parts = NULL WHERE ${OPEN} AND lease_until <= ? AND ts + CASE WHEN kind LIKE '{"type":"comment"%' THEN ? ELSE ? END <= ?`,
      now,
      COMMENT_REPLY_MS,
      WINDOW_MS,
      now
    )
    if (stale.rowsWritten > 0) this.unblock(now)
    this.sql.exec(`DELETE FROM jobs WHERE NOT ${OPEN} AND created_at < ?`, now - FINISHED_RETENTION_MS)
    this.sql.exec('DELETE FROM parts WHERE job NOT IN (SELECT id FROM jobs)')
    this.sql.exec('DELETE FROM own WHERE at < ?', now - FINISHED_RETENTION_MS)
  }

  count(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM jobs').one().n
  }

  summary(): { id: string; state: string; outcome: string | null; attempts: number }[] {
    return this.sql
      .exec<{ id: string; state: string; outcome: string | null; attempts: number }>('SELECT id, state, outcome, attempts FROM jobs ORDER BY ts')
      .toArray()
      .map((r) => ({ ...r }))
  }
}
