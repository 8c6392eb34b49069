/**
 * Builds the reply pipeline's dependencies from the Worker's env: the one place where the real
 * Send API client, LLM client and defence layers are wired together.
 */
import type { Config } from '../core/config'
import { classifyGraphError, createGraph, GraphError, type Graph } from '../meta/graph'
import type { SendState } from './account'
import { createChatModel, createModerator } from '../llm/client'
import type { Logger } from '../core/log'
import { count } from '../core/metrics'
import { THROTTLE_DEFAULT_MS, type PipelineDeps, type SendFailure } from './pipeline'
import { deriveCanary } from '../llm/prompt'
import { generateReply } from '../llm/reply'
import { splitMessage } from '../meta/split'
import { forgetAccountHealth } from './health'

/** Bounds one Send API request; an unanswered request is treated as "maybe delivered". */
const SEND_TIMEOUT_MS = 10_000
/**
 * The account object is asked for the current token at most this often per isolate: a refreshed
 * token takes effect within a minute, and most replies skip a Durable Object round trip.
 */
const TOKEN_CACHE_MS = 60_000
/** Healthz's last-reply time is written at most this often per isolate. */
const REPLIED_REPORT_EVERY_MS = 30_000

const stateCache = new Map<string, { value: Promise<SendState>; at: number; configured: string }>()
const lastRepliedReport = new Map<string, number>()
/**
 * Throttle pauses this isolate has heard of first-hand: the next send stops at once, before the
 * account object's pause reaches this isolate's cached token lookup (at most TOKEN_CACHE_MS).
 */
const pausedHere = new Map<string, number>()

/**
 * The model clients of one configuration, built once per isolate rather than per delivery: an
 * openai client is not free to construct, and it holds no request's I/O (it calls the global
 * fetch per request). The configuration object itself is parsed once per env.
 */
const models = new WeakMap<Config, { llm: ReturnType<typeof createChatModel>; moderate: ReturnType<typeof createModerator> | undefined }>()

function modelsFor(env: Env, config: Config) {
  let m = models.get(config)
  if (!m) {
    m = {
      llm: createChatModel(config, { fetch: (input, init) => fetch(input, init), ai: (env as { AI?: unknown }).AI }),
      moderate: config.MODERATION ? createModerator(config, (input, init) => fetch(input, init)) : undefined,
    }
    models.set(config, m)
  }
  return m
}

/** Forgets this isolate's cached token, so a deauthorization or a 190 takes effect at once. */
export function forgetCachedToken(accountId: string): void {
  stateCache.delete(accountId)
  // The account object holds the authoritative pause; the next lookup brings it back.
  pausedHere.delete(accountId)
  forgetAccountHealth(accountId)
}

export function createPipelineDeps(env: Env, config: Config, log: Logger, deadline: () => number): PipelineDeps {
  // One Worker serves the one Instagram account its token belongs to.
  const account = () => env.ACCOUNT.getByName(config.IG_ACCOUNT_ID)
  // The freshest token (refreshed by the cron, emptied by a deauthorization).
  const sendState = (): Promise<SendState> => {
    const hit = stateCache.get(config.IG_ACCOUNT_ID)
    // A newly configured token is asked about at once (it may end a deauthorization).
    if (hit && Date.now() - hit.at < TOKEN_CACHE_MS && hit.configured === config.IG_ACCESS_TOKEN) return hit.value
    const value = account()
      .sendState(config.IG_ACCESS_TOKEN)
      .catch((): SendState => {
        stateCache.delete(config.IG_ACCOUNT_ID)
        return { token: config.IG_ACCESS_TOKEN, invalid: false, pausedUntil: 0 }
      })
    stateCache.set(config.IG_ACCOUNT_ID, { value, at: Date.now(), configured: config.IG_ACCESS_TOKEN })
    return value
  }
  /**
   * Every Send API call goes through here, so the token a request carried is the one judged by
   * its answer: a 190 reports exactly that token (never a newer one fetched meanwhile), and a
   * success with a token this isolate knows to be marked invalid clears the mark. Successful
   * sends with a valid token cost no extra round trip.
   */
  const pausedUntil = async (): Promise<number> => Math.max((await sendState()).pausedUntil, pausedHere.get(config.IG_ACCOUNT_ID) ?? 0)
  const viaGraph = async <T>(op: (graph: Graph) => Promise<T>): Promise<T> => {
    const state = await sendState()
    // While Meta throttles the account, no Send API call at all: each one would extend the limit.
    const until = Math.max(state.pausedUntil, pausedHere.get(config.IG_ACCOUNT_ID) ?? 0)
    if (until > Date.now()) {
      throw new GraphError({ retryable: true, category: 'rate_limited', retryAfterMs: until - Date.now(), metaMessage: 'sending paused (throttled)' })
    }
    const graph = createGraph({
      fetch: (input, init) => fetch(input, init),
      base: config.GRAPH_API_BASE,
      version: config.GRAPH_API_VERSION,
      accountId: config.IG_ACCOUNT_ID,
      token: () => state.token,
    })
    let result: T
    try {
      result = await op(graph)
    } catch (err) {
      if (err instanceof GraphError && err.category === 'rate_limited') {
        const hinted = err.retryAfterMs !== undefined
        const wanted = Date.now() + (err.retryAfterMs ?? THROTTLE_DEFAULT_MS)
        pausedHere.set(config.IG_ACCOUNT_ID, Math.max(pausedHere.get(config.IG_ACCOUNT_ID) ?? 0, wanted))
        const until = await account()
          .pauseSending(wanted)
          .catch(() => wanted)
        pausedHere.set(config.IG_ACCOUNT_ID, Math.max(pausedHere.get(config.IG_ACCOUNT_ID) ?? 0, until))
        forgetAccountHealth(config.IG_ACCOUNT_ID)
        log.warn('send_paused', { pause_s: Math.round((until - Date.now()) / 1000), hinted, ...(err.code !== undefined ? { code: err.code } : {}), ...(err.status !== undefined ? { status: err.status } : {}) })
      }
      if (err instanceof GraphError && err.code === 190) {
        forgetCachedToken(config.IG_ACCOUNT_ID)
        const outcome = await account()
          .tokenRejected(state.token, 'send_api_190')
          .catch(() => 'unreachable')
        log.warn('token_rejected', { outcome })
      }
      throw err
    }
    if (state.invalid) {
      state.invalid = false
      const outcome = await account()
        .tokenAccepted(state.token)
        .catch(() => 'unreachable')
      log.info('token_accepted', { outcome })
    }
    return result
  }
  const { llm, moderate } = modelsFor(env, config)
  let canary: Promise<string> | undefined
  return {
    config,
    log,
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    deadline,
    send: {
      text: (recipientId, text, quickReplies) =>
        viaGraph((graph) =>
          graph.sendText(recipientId, text, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS), ...(quickReplies?.length ? { quickReplies } : {}) })
        ),
      action: (recipientId, action) => viaGraph((graph) => graph.senderAction(recipientId, action, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })),
    },
    comments: {
      privateReply: (commentId, text) => viaGraph((graph) => graph.privateReply(commentId, text, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })),
      publicReply: (commentId, text) => viaGraph((graph) => graph.publicReply(commentId, text, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })),
      slot: () => account().privateReplySlot(config.PRIVATE_REPLIES_PER_HOUR, config.PRIVATE_REPLY_WINDOW_SECONDS),
    },
    canSend: async (userId) => {
      const state = await sendState()
      if (!state.token) return false
      if (!state.invalid) return true
      // Marked invalid: one typing indicator tells (a success lifts the mark in viaGraph).
      return viaGraph((graph) => graph.senderAction(userId, 'typing_on', { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })).then(
        () => true,
        () => false
      )
    },
    generate: async (input) => {
      canary ??= deriveCanary(config.APP_SECRET)
      const { admit, ...reply } = input
      return generateReply({ config, llm, log, canary: await canary, moderate, admit }, reply)
    },
    abortAfter: (ms) => AbortSignal.timeout(ms),
    sendPausedUntil: pausedUntil,
    split: (text) => splitMessage(text, { maxParts: config.MAX_REPLY_PARTS }),
    classify: (err): SendFailure => {
      if (err instanceof GraphError)
        return { retryable: err.retryable, category: err.category, ambiguous: err.networkError, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) }
      const info = classifyGraphError(undefined, undefined, true)
      return { retryable: info.retryable, category: info.category, ambiguous: true }
    },
    spendBudget: (day) => account().spend(day, config.LLM_DAILY_BUDGET),
    report: async (event, fields) => {
      // A reply's own summary line (reply_sent) says it at info; other stages are rarer news.
      log[event === 'replied' ? 'debug' : 'info'](`stage_${event}`, fields)
      const stage = event === 'token_invalid' ? 'send_failed' : event
      if (stage !== 'refused') count(env, stage)
      try {
        // (A 190 was already reported with the token it was given for, in viaGraph.)
        if (stage === 'replied') {
          // What /healthz shows changed; its per-isolate cache must not hide it.
          forgetAccountHealth(config.IG_ACCOUNT_ID)
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
