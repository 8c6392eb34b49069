/**
 * The one way a reply is asked of the model, for DMs and for comments alike: the per-sender daily
 * cap, the account budget charged only when the model is really called (after input screening)
 * and only on a job's first attempt, and a hard deadline on the whole call.
 */
import type { Config } from '../core/config'
import type { Logger } from '../core/log'
import { MODERATION_TIMEOUT_MS } from '../llm/client'
import type { PromptContext } from '../llm/prompt'
import type { LeasedJob, Turn } from './decision'

export interface GeneratedReply {
  outcome: string
  text: string
  rule?: string
  reason?: string
}

/** What a model call needs of the pipeline's dependencies (PipelineDeps fits). */
export interface ModelDeps {
  config: Config
  log: Logger
  now(): number
  /**
   * `admit` is called right before the model would be called (after input screening): false
   * means over budget, and the model is not called.
   */
  generate(input: { text: string; memory: Turn[]; context?: PromptContext; admit?: () => Promise<boolean>; signal?: AbortSignal }): Promise<GeneratedReply>
  /** A signal that aborts after `ms` (AbortSignal.timeout in production; controlled in tests). */
  abortAfter(ms: number): AbortSignal
  /** Daily LLM budget of the account: true when one more call is allowed (and counted). */
  spendBudget(day: string): Promise<boolean>
  report(event: 'over_budget' | 'leak_blocked' | 'refused', fields?: Record<string, string | number>): Promise<void>
}

/** What of the sender object a model call uses (JobStore fits). */
export interface NoticeStore {
  takeBudgetNotice(day: string): Promise<boolean>
}

/** What the pipeline's own model deadline adds to the model's timeouts before abandoning it. */
const MODEL_DEADLINE_MARGIN_MS = 1_000

/** How long the whole model call may take (the runner needs at least this much time left). */
export function modelMs(config: Config): number {
  return config.LLM_TIMEOUT_MS + (config.MODERATION ? MODERATION_TIMEOUT_MS : 0)
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/**
 * Asks the model for the reply to `input` (the job's message or comment). `onAdmit` runs once
 * the call is admitted (the DM path shows a typing indicator then); it must not throw.
 */
export async function modelReply(
  deps: ModelDeps,
  store: NoticeStore,
  job: Pick<LeasedJob, 'attempts' | 'memory' | 'llmCallsToday'>,
  input: { text: string; context?: PromptContext; earlier?: { text: string; context?: PromptContext }[] },
  onAdmit?: () => Promise<void>
): Promise<GeneratedReply> {
  const day = utcDay(deps.now())
  const overBudget = async (outcome: 'over_budget' | 'over_sender_cap'): Promise<GeneratedReply> => {
    await deps.report('over_budget', { scope: outcome === 'over_budget' ? 'account' : 'sender' })
    const notice = await store.takeBudgetNotice(day)
    return { outcome, text: notice ? deps.config.BUDGET_REPLY : '' }
  }
  // One sender cannot use up everyone's budget: a daily cap per sender, counted by the sender
  // object for every reply the model was actually called for.
  if (job.llmCallsToday >= deps.config.LLM_DAILY_PER_SENDER) return overBudget('over_sender_cap')
  // Every LLM reply is generated once (it is saved before sending), so it is charged once, and
  // only when the model is about to be called: a refused message costs no budget. A later
  // attempt that still has no reply is one whose runner died or was cut off: not charged again.
  let admitted: Promise<void> = Promise.resolve()
  const admit = async () => {
    if (job.attempts <= 1 && !(await deps.spendBudget(day))) return false
    admitted = onAdmit?.() ?? Promise.resolve()
    return true
  }
  const reply = await withModelDeadline(deps, (signal) => deps.generate({ ...input, memory: job.memory, admit, signal }))
  await admitted
  if (reply.outcome === 'over_budget') return overBudget('over_budget')
  if (reply.outcome === 'leak_blocked') await deps.report('leak_blocked')
  if (reply.outcome === 'refused') await deps.report('refused')
  return reply
}

/**
 * The whole model call (headers, body, moderation) gets LLM_TIMEOUT_MS plus moderation's share
 * and a small margin, enforced here and not only by the SDK (whose timeout ends once headers
 * arrive): the call is told to abort, and if it does not, its answer is abandoned. Either way the
 * sender gets the fallback reply instead of a job that never ends.
 */
async function withModelDeadline(deps: ModelDeps, call: (signal: AbortSignal) => Promise<GeneratedReply>): Promise<GeneratedReply> {
  const { config } = deps
  const signal = deps.abortAfter(modelMs(config) + MODEL_DEADLINE_MARGIN_MS)
  let onAbort = () => {}
  const abandoned = new Promise<GeneratedReply>((resolve) => {
    onAbort = () => resolve({ outcome: 'fallback', text: config.FALLBACK_REPLY, reason: 'model_deadline' })
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    const reply = await Promise.race([call(signal), abandoned])
    if (reply.reason === 'model_deadline') deps.log.warn('model_deadline')
    return reply
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
