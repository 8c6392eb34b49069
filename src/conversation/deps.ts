/**
 * Builds the reply pipeline's dependencies from the Worker's env: the one place where the real
 * Send API client, LLM client and defence layers are wired together.
 */
import type { Config } from '../core/config'
import { classifyGraphError, createGraph, GraphError } from '../meta/graph'
import { createChatModel, createModerator } from '../llm/client'
import type { Logger } from '../core/log'
import { count } from '../core/metrics'
import type { PipelineDeps, SendFailure } from './pipeline'
import { deriveCanary } from '../llm/prompt'
import { generateReply } from '../llm/reply'
import { splitMessage } from '../meta/split'

/** Bounds one Send API request; an unanswered request is treated as "maybe delivered". */
const SEND_TIMEOUT_MS = 10_000
/**
 * The account object is asked for the current token at most this often per isolate: a refreshed
 * token takes effect within a minute, and most replies skip a Durable Object round trip.
 */
const TOKEN_CACHE_MS = 60_000
/** Healthz's last-reply time is written at most this often per isolate. */
const REPLIED_REPORT_EVERY_MS = 30_000

const tokenCache = new Map<string, { value: Promise<string>; at: number }>()
const lastRepliedReport = new Map<string, number>()

/** Forgets this isolate's cached token, so a deauthorization or a 190 takes effect at once. */
export function forgetCachedToken(accountId: string): void {
  tokenCache.delete(accountId)
}

export function createPipelineDeps(env: Env, config: Config, log: Logger, deadline: () => number): PipelineDeps {
  // One Worker serves the one Instagram account its token belongs to.
  const account = () => env.ACCOUNT.getByName(config.IG_ACCOUNT_ID)
  // The freshest token (refreshed by the cron, emptied by a deauthorization).
  const currentToken = (): Promise<string> => {
    const hit = tokenCache.get(config.IG_ACCOUNT_ID)
    if (hit && Date.now() - hit.at < TOKEN_CACHE_MS) return hit.value
    const value = account()
      .token()
      .catch(() => {
        tokenCache.delete(config.IG_ACCOUNT_ID)
        return config.IG_ACCESS_TOKEN
      })
    tokenCache.set(config.IG_ACCOUNT_ID, { value, at: Date.now() })
    return value
  }
  const graph = createGraph({
    fetch: (input, init) => fetch(input, init),
    base: config.GRAPH_API_BASE,
    version: config.GRAPH_API_VERSION,
    accountId: config.IG_ACCOUNT_ID,
    token: currentToken,
  })
  const llm = createChatModel(config, { fetch: (input, init) => fetch(input, init), ai: (env as { AI?: unknown }).AI })
  const moderate = config.MODERATION ? createModerator(config, (input, init) => fetch(input, init)) : undefined
  let canary: Promise<string> | undefined
  return {
    config,
    log,
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    deadline,
    send: {
      text: (recipientId, text, quickReplies) =>
        graph.sendText(recipientId, text, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS), ...(quickReplies?.length ? { quickReplies } : {}) }),
      action: (recipientId, action) => graph.senderAction(recipientId, action, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) }),
    },
    comments: {
      privateReply: (commentId, text) => graph.privateReply(commentId, text, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) }),
      publicReply: (commentId, text) => graph.publicReply(commentId, text, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) }),
      slot: () => account().privateReplySlot(config.PRIVATE_REPLIES_PER_HOUR, config.PRIVATE_REPLY_WINDOW_SECONDS),
    },
    generate: async (input) => {
      canary ??= deriveCanary(config.APP_SECRET)
      return generateReply({ config, llm, log, canary: await canary, moderate }, input)
    },
    split: (text) => splitMessage(text, { maxParts: config.MAX_REPLY_PARTS }),
    classify: (err): SendFailure => {
      if (err instanceof GraphError) return { retryable: err.retryable, category: err.category, ambiguous: err.networkError }
      const info = classifyGraphError(undefined, undefined, true)
      return { retryable: info.retryable, category: info.category, ambiguous: true }
    },
    spendBudget: (day) => account().spend(day, config.LLM_DAILY_BUDGET),
    report: async (event, fields) => {
      log.info(`stage_${event}`, fields)
      const stage = event === 'token_invalid' ? 'send_failed' : event
      if (stage !== 'refused') count(env, stage)
      try {
        if (event === 'token_invalid') {
          await account().tokenRejected(await currentToken(), 'send_api_190')
          forgetCachedToken(config.IG_ACCOUNT_ID)
        }
        if (stage === 'replied') {
          const now = Date.now()
          if (now - (lastRepliedReport.get(config.IG_ACCOUNT_ID) ?? 0) < REPLIED_REPORT_EVERY_MS) return
          lastRepliedReport.set(config.IG_ACCOUNT_ID, now)
        }
        if (stage === 'replied' || stage === 'send_failed')
          await account().report(stage, { reason: typeof fields?.reason === 'string' ? fields.reason : undefined })
      } catch {
        log.warn('account_report_failed')
      }
    },
  }
}
