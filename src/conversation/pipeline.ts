/**
 * Turns one accepted event into a reply, exactly once.
 *
 * Runs twice over: first in the Worker's `waitUntil` right after Meta has its 200, and again
 * from the sender's Durable Object alarm for whatever could not finish there. Both talk to the
 * same per-sender object through `JobStore`, which leases the job, keeps the generated reply (the
 * LLM is never called twice for one job) and records every part as sending/sent before the next.
 */
import type { Config } from '../core/config'
import type { Finished, JobOutcome, LeasedJob, PartGate, Turn } from './decision'
import type { Logger } from '../core/log'
import { replyPolicy } from '../meta/window'
import type { PromptContext } from '../llm/prompt'
import { runCommentJob, type CommentSender } from './comment-job'
import { modelMs as modelCallMs, modelReply, type GeneratedReply } from './model-call'
import { sendWithRetry } from './send-retry'

/** The per-sender object's job methods (a Durable Object stub, or the object itself). */
export interface JobStore {
  lease(jobId: string, opts?: { now?: number; force?: boolean }): Promise<LeasedJob | null>
  /** Stores the reply and records part 0 as in flight (the caller sends it next). */
  saveReply(jobId: string, leaseId: string, parts: string[], outcome: string): Promise<boolean>
  takeBudgetNotice(day: string): Promise<boolean>
  beginPart(jobId: string, leaseId: string, idx: number, text: string): Promise<PartGate>
  /** Non-null when this part finished the job. */
  partSent(jobId: string, idx: number, outMid: string): Promise<Finished | null>
  release(jobId: string, leaseId: string, opts?: { final?: string; retryAt?: number; notSent?: number; paced?: boolean; untried?: boolean }): Promise<JobOutcome | null>
}

export type { GeneratedReply } from './model-call'

export interface SendFailure {
  retryable: boolean
  category: string
  /** No HTTP answer (network error, timeout): the message may or may not have been delivered. */
  ambiguous?: boolean
  /** For rate limits: how long the account's sending is paused from now. */
  retryAfterMs?: number
}

export interface PipelineDeps {
  config: Config
  log: Logger
  now(): number
  sleep(ms: number): Promise<void>
  /** When this runner must hand unfinished work back (inside waitUntil's 30 s, or the alarm's). */
  deadline(): number
  send: {
    text(recipientId: string, text: string, quickReplies?: readonly string[]): Promise<{ messageId: string }>
    action(recipientId: string, action: 'typing_on' | 'mark_seen'): Promise<void>
  }
  /**
   * `admit` is called right before the model would be called (after input screening): false
   * means over budget, and the model is not called.
   */
  generate(input: {
    text: string
    memory: Turn[]
    context?: PromptContext
    /** Earlier messages of the same burst, oldest first. */
    earlier?: { text: string; context?: PromptContext }[]
    admit?: () => Promise<boolean>
    signal?: AbortSignal
  }): Promise<GeneratedReply>
  /**
   * False while nothing can be sent (app deauthorized, token rejected): no LLM call then. A
   * token marked invalid is probed with a typing indicator first (a send that works lifts the mark).
   */
  canSend(userId: string): Promise<boolean>
  /** A signal that aborts after `ms` (AbortSignal.timeout in production; controlled in tests). */
  abortAfter(ms: number): AbortSignal
  /** Until when Meta has throttled the account (0 or past: not paused); cheap, cached per isolate. */
  sendPausedUntil?(): Promise<number>
  split(text: string): string[]
  classify(err: unknown): SendFailure
  /** Private and public replies to comments (absent: comment jobs fail closed). */
  comments?: CommentSender
  /** Daily LLM budget of the account: true when one more call is allowed (and counted). */
  spendBudget(day: string): Promise<boolean>
  /** Outcome reporting for /healthz and counters. */
  report(event: 'replied' | 'send_failed' | 'token_invalid' | 'over_budget' | 'leak_blocked' | 'refused', fields?: Record<string, string | number>): Promise<void>
}

export type RunResult = 'done' | 'deferred' | 'failed' | 'skipped'

/** Without a hint from Meta, a throttled account pauses this long: minutes, not seconds. */
export const THROTTLE_DEFAULT_MS = 5 * 60_000
/** Jobs waiting out a throttle pause come back spread over this much time. */
const PAUSE_SPREAD_MS = 30_000
/** Below this much time left a runner does not start a job. */
const MIN_START_MS = 2_000
/** While nothing can be sent (deauthorized, token rejected), how often a reply is tried again. */
const CANNOT_SEND_RETRY_MS = 15 * 60_000
/** Meta turns a typing indicator off after about 20 s; a burst's is renewed after this long. */
const TYPING_SHOWS_MS = 15_000
/** After a send whose outcome is unknown, how long to wait for its echo before sending again. */
export const ECHO_GRACE_MS = 3 * 60_000

/**
 * The quick-reply chips under a job's last part: QUICK_REPLIES, on the kinds of message
 * QUICK_REPLIES_ON names (the bot's answers, the handoff notice). A tap comes back as an
 * ordinary `quick_reply` message.
 */
export function quickRepliesFor(kind: LeasedJob['kind'], config: Config): readonly string[] {
  if (!config.QUICK_REPLIES.length) return []
  const place = kind.type === 'llm' ? 'answers' : kind.type === 'fixed' && kind.reason === 'handoff' ? 'handoff' : null
  return place && config.QUICK_REPLIES_ON.includes(place) ? config.QUICK_REPLIES : []
}

/**
 * Runs one job as far as it can before `deps.deadline()`. Never throws: every failure is either
 * final (recorded as failed) or handed back to the object for a later alarm.
 */
export async function runJob(
  deps: PipelineDeps,
  store: JobStore,
  jobId: string,
  opts: { immediate?: boolean; leased?: LeasedJob } = {}
): Promise<RunResult> {
  const { config, log } = deps
  const started = deps.now()
  const deadline = deps.deadline()
  // Too late to start: the job stays with the object, whose alarm runs it.
  if (deadline - started < MIN_START_MS) return 'deferred'
  let job: LeasedJob | null
  try {
    // Right after acceptance the job is due at once; from the alarm only when its retry time came.
    job = opts.leased ?? (await store.lease(jobId, { force: opts.immediate }))
  } catch (err) {
    log.error('job_lease_failed', { error: errorName(err) })
    return 'skipped'
  }
  if (!job) return 'skipped'
  const jl = log.child({ job_kind: job.kind.type, attempt: job.attempts })
  // Meta throttled the account: no model call and no Send API call until the pause ends; the job
  // waits for it (not counted as an attempt), spread out so the senders do not return at once.
  const pausedUntil = (await deps.sendPausedUntil?.().catch(() => 0)) ?? 0
  if (pausedUntil > deps.now()) {
    await store.release(job.id, job.leaseId, { retryAt: afterPause(pausedUntil), paced: true })
    jl.debug('reply_paused', { wait_s: Math.round((pausedUntil - deps.now()) / 1000) })
    return 'deferred'
  }
  // Comments have their own limits (7 days, account pacing, one private reply ever).
  if (job.kind.type === 'comment') {
    return runCommentJob(deps, store, job, job.kind, jl, deadline, {
      echoGraceMs: ECHO_GRACE_MS,
      modelMs: modelCallMs(config),
      minStartMs: MIN_START_MS,
      cannotSendRetryMs: CANNOT_SEND_RETRY_MS,
      throttledRetryAt: (retryAfterMs) => afterPause(deps.now() + (retryAfterMs ?? THROTTLE_DEFAULT_MS)),
    })
  }
  try {
    let outcome: string | undefined
    let parts = job.parts
    let firstBegun = false
    if (!parts && job.kind.type === 'llm' && deadline - deps.now() < modelCallMs(config) + MIN_START_MS) {
      // Not enough time left for the model: give it back now rather than lose the lease mid-call.
      await store.release(job.id, job.leaseId, { retryAt: deps.now(), untried: true })
      return 'deferred'
    }
    if (!parts && job.kind.type === 'llm' && !(await deps.canSend(job.userId))) {
      // A reply that cannot be sent is not worth a model call or budget; the alarm tries again
      // later, so the bot answers within the window once the token is usable again.
      // Paced: waiting for a usable token is no failed attempt, or MAX_ATTEMPTS would end the job
      // (and leave its model call uncharged) hours before its window closes.
      await store.release(job.id, job.leaseId, { retryAt: deps.now() + CANNOT_SEND_RETRY_MS, paced: true })
      jl.warn('reply_deferred', { reason: 'cannot_send' })
      return 'deferred'
    }
    if (!parts) {
      const generated = await generate(deps, store, job)
      outcome = generated.outcome
      parts = deps.split(generated.text)
      if (!(await store.saveReply(job.id, job.leaseId, parts, generated.outcome))) return 'skipped'
      firstBegun = parts.length > 0
      jl.debug('reply_generated', { outcome: generated.outcome, parts: parts.length, ms: deps.now() - started, ...(generated.rule ? { rule: generated.rule } : {}) })
    }
    for (let idx = job.nextPart; idx < parts.length; idx++) {
      const policy = replyPolicy({ now: deps.now(), lastUserMessageAt: job.lastUserAt, kind: 'automated' })
      if (!policy.allowed) {
        // A bot may not write outside the messaging window; the HUMAN_AGENT tag is for people.
        await store.release(job.id, job.leaseId, { final: 'outside_window', ...(firstBegun && idx === 0 ? { notSent: 0 } : {}) })
        jl.warn('reply_not_sent', { reason: policy.reason })
        await deps.report('send_failed', { reason: 'outside_window' })
        return 'failed'
      }
      const gate = firstBegun && idx === 0 ? 'go' : await store.beginPart(job.id, job.leaseId, idx, parts[idx]!)
      if (gate === 'already_sent') {
        // Its echo proved it delivered: record it like any sent part (this may finish the job).
        await store.partSent(job.id, idx, '')
        continue
      }
      if (gate === 'lost_lease') return 'skipped'
      if (gate === 'wait_for_echo') {
        await store.release(job.id, job.leaseId, { retryAt: deps.now() + ECHO_GRACE_MS })
        return 'deferred'
      }
      const chips = idx === parts.length - 1 ? quickRepliesFor(job.kind, config) : []
      const text = parts[idx]!
      const sent = await sendWithRetry(deps, deadline, () => (chips.length ? deps.send.text(job.userId, text, chips) : deps.send.text(job.userId, text)))
      if (sent.ok) {
        await store.partSent(job.id, idx, sent.value.messageId)
        continue
      }
      if (sent.final && sent.category === 'unknown') {
        // Meta may have delivered it (for example code 1/1357046, or a 2xx without an id):
        // count it as sent rather than risk a double message, and go on with the next part.
        jl.warn('reply_part_maybe_delivered', { part: idx })
        await store.partSent(job.id, idx, '')
        continue
      }
      if (sent.final) {
        await store.release(job.id, job.leaseId, { final: sent.category, notSent: idx })
        jl.error('reply_failed', { reason: sent.category, part: idx })
        await deps.report(sent.category === 'token_invalid' ? 'token_invalid' : 'send_failed', { reason: sent.category })
        return 'failed'
      }
      if (sent.category === 'rate_limited') {
        // Throttled: the account is paused (see deps); this job comes back once the pause is over.
        const until = deps.now() + (sent.retryAfterMs ?? THROTTLE_DEFAULT_MS)
        await store.release(job.id, job.leaseId, { retryAt: afterPause(until), paced: true, notSent: idx })
        jl.warn('reply_deferred', { reason: 'rate_limited', part: idx, wait_s: Math.round((until - deps.now()) / 1000) })
        return 'deferred'
      }
      const outcome = await store.release(job.id, job.leaseId, sent.ambiguous ? { retryAt: deps.now() + ECHO_GRACE_MS } : { notSent: idx })
      jl.warn('reply_deferred', { reason: sent.category, part: idx, ms: deps.now() - started })
      if (outcome?.state === 'failed') {
        await deps.report('send_failed', { reason: outcome.reason })
        return 'failed'
      }
      return 'deferred'
    }
    if (parts.length) {
      if (config.MARK_SEEN) await deps.send.action(job.userId, 'mark_seen').catch(() => {})
      // A job resumed with saved parts counts under its fixed reason, or as answered.
      const kindOutcome = job.kind.type === 'fixed' ? job.kind.reason : 'llm'
      await deps.report('replied', { ms: deps.now() - started, outcome: outcome ?? kindOutcome, received: job.timestamp })
      jl.debug('reply_sent', { parts: parts.length, ms: deps.now() - started, latency_ms: deps.now() - job.timestamp })
    }
    return 'done'
  } catch (err) {
    // Storage or programming errors: give the job back so the alarm tries again.
    jl.error('job_error', { error: errorName(err) })
    await store.release(job.id, job.leaseId).catch(() => {})
    return 'deferred'
  }
}

async function generate(deps: PipelineDeps, store: JobStore, job: LeasedJob): Promise<GeneratedReply> {
  if (job.kind.type !== 'llm') return job.kind.type === 'fixed' ? { outcome: job.kind.reason, text: job.kind.text } : { outcome: 'none', text: '' }
  const { text, context, since, burst } = job.kind
  // A burst's earlier messages go to the model one by one, each fenced as data like the newest.
  const earlier = burst?.slice(0, -1).map((m) => ({ text: m.text, ...(m.context ? { context: m.context } : {}) }))
  // A burst showed the typing indicator when it opened; that one still shows unless it ran long.
  const shown = since !== undefined && deps.now() - since < TYPING_SHOWS_MS
  // Best effort, alongside the LLM call: a slow or failed typing indicator must not cost the reply.
  const typing = shown ? undefined : () => deps.send.action(job.userId, 'typing_on').catch(() => {})
  return modelReply(deps, store, job, { text, ...(context ? { context } : {}), ...(earlier?.length ? { earlier } : {}) }, typing)
}

/** A retry time just after a throttle pause, spread over PAUSE_SPREAD_MS across senders. */
function afterPause(until: number): number {
  return until + Math.floor(Math.random() * PAUSE_SPREAD_MS)
}

function errorName(err: unknown): string {
  // The name only: messages of third-party errors may carry request details.
  return err instanceof Error ? err.name : 'unknown'
}
