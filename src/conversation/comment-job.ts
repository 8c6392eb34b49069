/**
 * Runs a comment job: one private reply (Send API, `recipient: {comment_id}`), then, if the rule
 * has them, one public reply under the comment. Same exactly-once machinery as DM replies (the
 * job is leased, the text saved before sending, every part recorded as sending/sent), with the
 * limits Meta sets for comments instead of the 24-hour window:
 *
 * - at most one private reply per comment, ever (a failed one is never replaced by a second);
 * - only within 7 days of the comment;
 * - at most PRIVATE_REPLIES_PER_HOUR per account: a reply over the limit waits (retried from the
 *   sender's alarm when a slot frees up), it is not dropped, until the 7 days are over.
 *
 * The public reply has no echo to confirm it, so it is never sent twice: an unanswered attempt
 * counts as posted, and a refusal by Meta (no permission, a hidden comment) just ends the job.
 */
import type { Config } from '../core/config'
import type { Logger } from '../core/log'
import type { CommentJob, JobOutcome, LeasedJob, PartGate } from './decision'
import { modelReply, type ModelDeps } from './model-call'
import { sendWithRetry } from './send-retry'

/** Meta allows a private reply within 7 days of the comment. */
export const COMMENT_REPLY_MS = 7 * 24 * 3_600_000

/** The Graph calls and the account-wide pacing a comment job needs. */
export interface CommentSender {
  privateReply(commentId: string, text: string): Promise<{ messageId: string }>
  publicReply(commentId: string, text: string): Promise<{ id: string }>
  /** Takes one of the account's private replies for this hour, or says when one frees up. */
  slot(): Promise<{ ok: true } | { ok: false; retryAt: number }>
}

/** What a comment job uses of the pipeline's dependencies (PipelineDeps fits). */
export interface CommentDeps extends ModelDeps {
  config: Config
  now(): number
  sleep(ms: number): Promise<void>
  comments?: CommentSender
  /** False while nothing can be sent (app deauthorized, token rejected): no model call then. */
  canSend(userId: string): Promise<boolean>
  split(text: string): string[]
  classify(err: unknown): { retryable: boolean; category: string; ambiguous?: boolean; retryAfterMs?: number }
  report(event: 'replied' | 'send_failed' | 'over_budget' | 'leak_blocked' | 'refused', fields?: Record<string, string | number>): Promise<void>
}

/** What a comment job uses of the sender object (JobStore fits). */
export interface CommentStore {
  takeBudgetNotice(day: string): Promise<boolean>
  saveReply(jobId: string, leaseId: string, parts: string[], outcome: string): Promise<boolean>
  beginPart(jobId: string, leaseId: string, idx: number, text: string): Promise<PartGate>
  partSent(jobId: string, idx: number, outMid: string): Promise<unknown>
  release(jobId: string, leaseId: string, opts?: { final?: string; retryAt?: number; notSent?: number; paced?: boolean; untried?: boolean }): Promise<JobOutcome | null>
}

type Result = 'done' | 'deferred' | 'failed' | 'skipped'

export async function runCommentJob(
  deps: CommentDeps,
  store: CommentStore,
  job: LeasedJob,
  kind: CommentJob,
  log: Logger,
  deadline: number,
  opts: {
    echoGraceMs: number
    modelMs: number
    minStartMs: number
    cannotSendRetryMs: number
    /** When a job throttled by Meta comes back (after the account's pause, spread across senders). */
    throttledRetryAt(retryAfterMs?: number): number
  }
): Promise<Result> {
  const started = deps.now()
  const comments = deps.comments
  const fail = async (reason: string, notSent?: number) => {
    await store.release(job.id, job.leaseId, { final: reason, ...(notSent !== undefined ? { notSent } : {}) })
    log.warn('comment_reply_not_sent', { reason, rule: kind.rule })
    return 'failed' as const
  }
  if (!comments) return fail('comments_unavailable')
  let parts = job.parts
  let firstBegun = false
  if (!parts) {
    if (started - job.timestamp >= COMMENT_REPLY_MS) return fail('comment_too_old')
    if (kind.reply === null && deadline - started < opts.modelMs + opts.minStartMs) {
      await store.release(job.id, job.leaseId, { retryAt: started, untried: true })
      return 'deferred'
    }
    if (kind.reply === null && !(await deps.canSend(job.userId))) {
      // No model call (nor budget, nor one of the hour's slots) for a reply that cannot be sent.
      // Paced: waiting for the token is not a failed attempt, so the first real one is charged.
      const outcome = await store.release(job.id, job.leaseId, { retryAt: deps.now() + opts.cannotSendRetryMs, paced: true })
      log.warn('comment_reply_deferred', { reason: 'cannot_send', rule: kind.rule })
      return outcome?.state === 'failed' ? 'failed' : 'deferred'
    }
    const slot = await comments.slot()
    if (!slot.ok) {
      // Over the account's hourly limit: wait for a free slot (the job fails once 7 days are over).
      const outcome = await store.release(job.id, job.leaseId, { retryAt: slot.retryAt, paced: true })
      log.info('comment_reply_paced', { wait_ms: slot.retryAt - started, rule: kind.rule })
      return outcome?.state === 'failed' ? 'failed' : 'deferred'
    }
    const generated = await privateText(deps, store, job, kind)
    const privateParts = deps.split(generated.text)
    // One private reply per comment: a long answer is cut to its first message.
    parts = privateParts.length ? [privateParts[0]!, ...(kind.publicReply ? [kind.publicReply] : [])] : []
    if (!(await store.saveReply(job.id, job.leaseId, parts, generated.outcome))) return 'skipped'
    firstBegun = parts.length > 0
    log.debug('reply_generated', { outcome: generated.outcome, parts: parts.length, rule: kind.rule, ms: deps.now() - started })
  }
  for (let idx = job.nextPart; idx < parts.length; idx++) {
    const isPrivate = idx === 0
    if (isPrivate && deps.now() - job.timestamp >= COMMENT_REPLY_MS) return fail('comment_too_old', firstBegun ? 0 : undefined)
    const gate = firstBegun && isPrivate ? 'go' : await store.beginPart(job.id, job.leaseId, idx, parts[idx]!)
    if (gate === 'lost_lease') return 'skipped'
    if (gate === 'already_sent' || (gate === 'wait_for_echo' && !isPrivate)) {
      // Delivered (its echo said so), or a public reply whose earlier attempt went unanswered.
      await store.partSent(job.id, idx, '')
      continue
    }
    if (gate === 'wait_for_echo') {
      await store.release(job.id, job.leaseId, { retryAt: deps.now() + opts.echoGraceMs })
      return 'deferred'
    }
    const sent = await sendWithRetry(deps, deadline, () =>
      isPrivate ? comments.privateReply(kind.commentId, parts[idx]!).then((r) => r.messageId) : comments.publicReply(kind.commentId, parts[idx]!).then((r) => r.id)
    )
    if (sent.ok) {
      await store.partSent(job.id, idx, isPrivate ? sent.value : '')
      continue
    }
    if (!isPrivate && (sent.final || sent.ambiguous)) {
      // Never twice in public: an unanswered attempt counts as posted; a refusal ends it.
      if (sent.final) log.warn('public_reply_failed', { reason: sent.category, rule: kind.rule })
      await store.partSent(job.id, idx, '')
      continue
    }
    if (sent.final && sent.category === 'unknown') {
      await store.partSent(job.id, idx, '')
      continue
    }
    if (sent.final) {
      await deps.report('send_failed', { reason: sent.category })
      return fail(sent.category, idx)
    }
    if (sent.category === 'rate_limited') {
      // Throttled, like a DM: the account is paused; the job waits it out without using an attempt.
      const outcome = await store.release(job.id, job.leaseId, { retryAt: opts.throttledRetryAt(sent.retryAfterMs), paced: true, notSent: idx })
      log.warn('reply_deferred', { reason: 'rate_limited', part: idx })
      return outcome?.state === 'failed' ? 'failed' : 'deferred'
    }
    const outcome = await store.release(job.id, job.leaseId, sent.ambiguous ? { retryAt: deps.now() + opts.echoGraceMs } : { notSent: idx })
    log.warn('reply_deferred', { reason: sent.category, part: idx, ms: deps.now() - started })
    if (outcome?.state === 'failed') return 'failed'
    return 'deferred'
  }
  if (parts.length) {
    await deps.report('replied', { ms: deps.now() - started })
    log.debug('comment_replied', { rule: kind.rule, public: parts.length > 1, latency_ms: deps.now() - job.timestamp })
  }
  return 'done'
}

/** The private reply's text: the rule's fixed text, or the assistant's answer (the DM path's model call). */
async function privateText(deps: CommentDeps, store: CommentStore, job: LeasedJob, kind: CommentJob): Promise<{ outcome: string; text: string }> {
  if (kind.reply !== null) return { outcome: 'comment_rule', text: kind.reply }
  const context = { comment: { ...(kind.context?.mediaProductType ? { mediaProductType: kind.context.mediaProductType } : {}) }, ...(kind.context?.adTitle ? { adTitle: kind.context.adTitle } : {}) }
  return modelReply(deps, store, job, { text: kind.text, context })
}

