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
import { PendingTallies, tallyKeyFor, type Tally } from './tally'
import { forgetAccountHealth } from './health'
import { BudgetLeases } from './budget-lease'

/** Bounds one Send API request; an unanswered request is treated as "maybe delivered". */
const SEND_TIMEOUT_MS = 10_000
/**
 * The account object is asked for the current token at most this often per isolate: a refreshed
 * token takes effect within a minute, and most replies skip a Durable Object round trip.
 */
const TOKEN_CACHE_MS = 60_000
/** Healthz's last-reply time is written at most this often per isolate. */
const REPLIED_REPORT_EVERY_MS = 30_000

/** Which account object a conversation's account uses, and the token to send with. */
interface Route extends SendState {
  /** Name of the account object (budget, numbers, token lifecycle, throttle pause). */
  name: string
  /** Account id in the Send API path. */
  path: string
}

const routeCache = new Map<string, { value: Promise<Route>; at: number; configured: string }>()
const lastRepliedReport = new Map<string, number>()
const pending = new PendingTallies()
/** The daily LLM budget is taken from the account object in blocks, one request per block. */
const leases = new BudgetLeases()
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

/**
 * Forgets this isolate's cached tokens, so a deauthorization, a 190 or a new connection takes
 * effect at once. All routes: these events are rare, and a route depends on two accounts.
 */
export function forgetCachedToken(accountId?: string): void {
  routeCache.clear()
  if (accountId === undefined) return
  // The account object holds the authoritative pause; the next lookup brings it back.
  pausedHere.delete(accountId)
  forgetAccountHealth(accountId)
}

/**
 * `accountId` is the account a conversation belongs to (the webhook's entry.id). An account
 * connected on the connect page sends with its own token; any other uses the configured
 * account (IG_ACCOUNT_ID, IG_ACCESS_TOKEN), as before.
 */
export function createPipelineDeps(env: Env, config: Config, log: Logger, deadline: () => number, accountId?: string): PipelineDeps {
  // The configured account is part of the key: the same conversation account may route
  // differently under another configuration (tests run several in one isolate).
  const key = `${config.IG_ACCOUNT_ID}|${accountId ?? ''}`
  const configuredToken = config.IG_ACCESS_TOKEN ?? ''
  const resolve = async (): Promise<Route> => {
    if (accountId && accountId !== config.IG_ACCOUNT_ID) {
      const connected = await env.ACCOUNT.getByName(accountId).connectedSendState()
      if (connected) return { name: accountId, path: accountId, ...connected }
    }
    // The freshest configured token (refreshed by the cron, emptied by a deauthorization).
    return { name: config.IG_ACCOUNT_ID, path: config.IG_ACCOUNT_ID, ...(await env.ACCOUNT.getByName(config.IG_ACCOUNT_ID).sendState(config.IG_ACCESS_TOKEN)) }
  }
  const sendState = (): Promise<Route> => {
    const hit = routeCache.get(key)
    // A newly configured token is asked about at once (it may end a deauthorization).
    if (hit && Date.now() - hit.at < TOKEN_CACHE_MS && hit.configured === configuredToken) return hit.value
    const value = resolve().catch((): Route => {
      routeCache.delete(key)
      return { name: config.IG_ACCOUNT_ID, path: config.IG_ACCOUNT_ID, token: configuredToken, invalid: false, pausedUntil: 0 }
    })
    routeCache.set(key, { value, at: Date.now(), configured: configuredToken })
    return value
  }
  const account = async () => env.ACCOUNT.getByName((await sendState()).name)
  /**
   * Every Send API call goes through here, so the token a request carried is the one judged by
   * its answer: a 190 reports exactly that token (never a newer one fetched meanwhile), and a
   * success with a token this isolate knows to be marked invalid clears the mark. Successful
   * sends with a valid token cost no extra round trip.
   */
  const pausedUntil = async (): Promise<number> => {
    const state = await sendState()
    return Math.max(state.pausedUntil, pausedHere.get(state.name) ?? 0)
  }
  const viaGraph = async <T>(op: (graph: Graph) => Promise<T>): Promise<T> => {
    const state = await sendState()
    // While Meta throttles the account, no Send API call at all: each one would extend the limit.
    const owner = env.ACCOUNT.getByName(state.name)
    const until = Math.max(state.pausedUntil, pausedHere.get(state.name) ?? 0)
    if (until > Date.now()) {
      throw new GraphError({ retryable: true, category: 'rate_limited', retryAfterMs: until - Date.now(), metaMessage: 'sending paused (throttled)' })
    }
    const graph = createGraph({
      fetch: (input, init) => fetch(input, init),
      base: config.GRAPH_API_BASE,
      version: config.GRAPH_API_VERSION,
      accountId: state.path,
      token: () => state.token,
    })
    let result: T
    try {
      result = await op(graph)
    } catch (err) {
      if (err instanceof GraphError && err.category === 'rate_limited') {
        const hinted = err.retryAfterMs !== undefined
        const wanted = Date.now() + (err.retryAfterMs ?? THROTTLE_DEFAULT_MS)
        pausedHere.set(state.name, Math.max(pausedHere.get(state.name) ?? 0, wanted))
        const until = await owner.pauseSending(wanted).catch(() => wanted)
        pausedHere.set(state.name, Math.max(pausedHere.get(state.name) ?? 0, until))
        forgetAccountHealth(state.name)
        log.warn('send_paused', { pause_s: Math.round((until - Date.now()) / 1000), hinted, ...(err.code !== undefined ? { code: err.code } : {}), ...(err.status !== undefined ? { status: err.status } : {}) })
      }
      if (err instanceof GraphError && err.code === 190) {
        forgetCachedToken(state.name)
        const outcome = await owner.tokenRejected(state.token, 'send_api_190').catch(() => 'unreachable')
        log.warn('token_rejected', { outcome })
      }
      throw err
    }
    if (state.invalid) {
      state.invalid = false
      const outcome = await owner.tokenAccepted(state.token).catch(() => 'unreachable')
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
      slot: async () => (await account()).privateReplySlot(config.PRIVATE_REPLIES_PER_HOUR, config.PRIVATE_REPLY_WINDOW_SECONDS),
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
    spendBudget: async (day) => {
      const name = (await sendState()).name
      return leases.spend(name, day, config.LLM_DAILY_BUDGET, async (want) => {
        // Pending numbers ride along on a call the replies make anyway.
        const tally = pending.take(name)
        try {
          return await (await account()).spend(day, config.LLM_DAILY_BUDGET, Date.now(), tally, want)
        } catch (err) {
          pending.restore(name, tally)
          throw err
        }
      })
    },
    report: async (event, fields) => {
      // A reply's own summary line (reply_sent) says it at info; other stages are rarer news.
      log[event === 'replied' ? 'debug' : 'info'](`stage_${event}`, fields)
      const stage = event === 'token_invalid' ? 'send_failed' : event
      if (stage !== 'refused') count(env, stage)
      let name: string | undefined
      let tally: Tally | undefined
      try {
        // (A 190 was already reported with the token it was given for, in viaGraph.)
        name = (await sendState()).name
        const kind = tallyKeyFor(typeof fields?.outcome === 'string' ? fields.outcome : undefined)
        if (stage === 'replied') pending.add(name, kind, typeof fields?.received === 'number' ? fields.received : undefined)
        if (stage === 'send_failed') pending.add(name, 'failed')
        if (stage === 'replied') {
          // What /healthz shows changed; its per-isolate cache must not hide it.
          forgetAccountHealth(name)
          const now = Date.now()
          // Plain answers are reported at most every 30 s; the rarer handoffs and refusals at once,
          // so the operator page never misses one (they carry the pending answers along).
          if (kind === 'answered' && now - (lastRepliedReport.get(name) ?? 0) < REPLIED_REPORT_EVERY_MS) return
          lastRepliedReport.set(name, now)
        }
        if (stage === 'replied' || stage === 'send_failed') {
          tally = pending.take(name)
          await (await account()).report(stage, { reason: typeof fields?.reason === 'string' ? fields.reason : undefined, tally })
        }
      } catch {
        if (name) pending.restore(name, tally)
        log.warn('account_report_failed')
      }
    },
  }
}
