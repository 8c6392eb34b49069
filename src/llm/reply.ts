/**
 * What the bot says for one inbound text: screen the input, build the spotlighted prompt, ask
 * the model, check the answer. Returns text and an outcome; it never splits or sends (the
 * reply pipeline does). Every decision is logged with the rule that fired, never with text.
 */
import type { Config } from '../core/config'
import { screenInput } from './guard'
import { LlmError, type LlmClient } from './client'
import type { Logger } from '../core/log'
import { checkReply } from './output-guard'
import { buildPrompt, type PromptContext, type Turn } from './prompt'

export interface ReplyDeps {
  config: Config
  llm: LlmClient
  log: Logger
  canary: string
  /**
   * Called once the input has passed screening, right before the model: false means the call is
   * not allowed (budget spent), so a refused message never costs budget.
   */
  admit?: () => Promise<boolean>
  /** Resolves true when the text must not be sent (MODERATION=on); may throw. */
  moderate?: (text: string, signal?: AbortSignal) => Promise<boolean>
}

export interface ReplyInput {
  text: string
  memory: Turn[]
  context?: PromptContext
  /** Aborts the model and moderation calls when the caller stops waiting. */
  signal?: AbortSignal
  /** Earlier messages of the same burst, oldest first, answered together with `text`. */
  earlier?: { text: string; context?: PromptContext }[]
}

export type ReplyResult =
  | { outcome: 'llm'; text: string }
  | { outcome: 'refused'; text: string; rule: string }
  | { outcome: 'leak_blocked'; text: string }
  | { outcome: 'output_blocked'; text: string; reason: string }
  | { outcome: 'fallback'; text: string; reason: string }
  | { outcome: 'over_budget'; text: string }

/** Outcomes for which the model was called (and so count against a sender's daily cap). */
export const MODEL_CALLED: ReadonlySet<string> = new Set(['llm', 'leak_blocked', 'output_blocked', 'fallback'])

// Instagram shows at most MAX_REPLY_PARTS messages of 1000 bytes each per reply.
const IG_MESSAGE_BYTES = 1000

/**
 * The operator text a reply must never repeat: the persona/policy part of the system message.
 * Business facts are excluded because quoting them is the assistant's job.
 */
function leakReference(system: string, facts: string | undefined): string {
  const f = facts?.trim()
  return f ? system.split(f).join('\n') : system
}

export async function generateReply(deps: ReplyDeps, input: ReplyInput): Promise<ReplyResult> {
  const { config, log } = deps
  const started = Date.now()
  const done = (result: ReplyResult, fields: Record<string, string | number | boolean> = {}) => {
    log[result.outcome === 'llm' ? 'debug' : 'warn']('reply_decision', { outcome: result.outcome, ms: Date.now() - started, ...fields })
    return result
  }

  // Every message of a burst is screened: one hostile message flags the whole answer.
  const screen = [...(input.earlier ?? []).map((m) => m.text), input.text].map(screenInput).find((s) => s.flagged) ?? { flagged: false as const }
  if (screen.flagged) {
    const rule = screen.rule ?? 'unknown'
    log.warn('injection_flagged', { rule, score: screen.score ?? 0, action: config.INJECTION_ACTION })
    if (config.INJECTION_ACTION === 'refuse') {
      // The refusal is fixed text: echoing or paraphrasing the attack would hand it a channel.
      return done({ outcome: 'refused', text: config.REFUSAL_REPLY, rule }, { rule })
    }
  }

  if (deps.admit && !(await deps.admit())) return done({ outcome: 'over_budget', text: '' })

  const { messages, boundary } = buildPrompt({
    systemPrompt: config.SYSTEM_PROMPT,
    ...(config.BUSINESS_FACTS ? { businessFacts: config.BUSINESS_FACTS } : {}),
    canary: deps.canary,
    memory: input.memory,
    text: input.text,
    ...(input.context ? { context: input.context } : {}),
    ...(input.earlier?.length ? { earlier: input.earlier } : {}),
  })

  let raw: string
  try {
    raw = await deps.llm.complete(messages, input.signal ? { signal: input.signal } : undefined)
  } catch (err) {
    const reason = err instanceof LlmError ? err.reason : 'error'
    const fields: Record<string, string | number> = { reason }
    if (err instanceof LlmError && err.status !== undefined) fields.status = err.status
    log.warn('llm_failed', fields)
    return done({ outcome: 'fallback', text: config.FALLBACK_REPLY, reason }, fields)
  }

  const checked = checkReply(raw, {
    canary: deps.canary,
    systemPrompt: leakReference(messages[0]!.content, config.BUSINESS_FACTS),
    volatile: boundary,
    allowedDomains: config.ALLOWED_LINK_DOMAINS,
    maxBytes: config.MAX_REPLY_PARTS * IG_MESSAGE_BYTES,
  })
  if (!checked.ok) {
    if (checked.reason === 'leak') {
      log.error('leak_blocked', { rule: checked.rule })
      return done({ outcome: 'leak_blocked', text: config.REFUSAL_REPLY }, { rule: checked.rule })
    }
    log.warn('output_blocked', { reason: checked.reason, rule: checked.rule })
    return done(
      { outcome: 'output_blocked', text: config.REFUSAL_REPLY, reason: checked.reason },
      { reason: checked.reason, rule: checked.rule }
    )
  }
  if (checked.linksRemoved) log.info('links_removed', { count: checked.linksRemoved })
  if (checked.truncated) log.info('reply_truncated')

  if (config.MODERATION && deps.moderate) {
    let flagged: boolean
    try {
      flagged = await deps.moderate(checked.text, input.signal)
    } catch (err) {
      // Fail closed: with moderation switched on, an unchecked reply is not sent.
      const reason = err instanceof LlmError ? `moderation_${err.reason}` : 'moderation_error'
      log.warn('moderation_failed', { reason })
      return done({ outcome: 'fallback', text: config.FALLBACK_REPLY, reason }, { reason })
    }
    if (flagged) {
      log.warn('output_blocked', { reason: 'moderation', rule: 'moderation' })
      return done(
        { outcome: 'output_blocked', text: config.REFUSAL_REPLY, reason: 'moderation' },
        { reason: 'moderation' }
      )
    }
  }
  return done({ outcome: 'llm', text: checked.text }, { bytes: new TextEncoder().encode(checked.text).byteLength })
}
