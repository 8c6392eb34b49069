/**
 * What happens to an authentic, parsed delivery before and after Meta gets its 200.
 *
 * Before: every event that matters is claimed by its sender's Durable Object, the one authority
 * on what was seen. Meta gets 200 only when every claim is durable; if an object cannot be
 * reached the whole delivery gets 503 and Meta redelivers (claims already made turn into
 * duplicates then, and their jobs are still run by the object's alarm, so nothing is lost).
 * After (in waitUntil): the reply jobs run.
 *
 * No KV lookup in front of the claim: a miss (every new message) proved nothing and the object
 * decided anyway, so it only added a KV read to every acknowledgement and a KV write to every
 * DM (the Free plan allows 1,000 a day) to spare the object the rare redelivery. Seen ids that
 * older versions wrote to KV expire by themselves and are still erased with a user's data.
 */
import type { Config } from '../core/config'
import type { Accepted, Finished } from './decision'
import { createPipelineDeps } from './deps'
import { eventKey, rememberAccount, senderObjectName } from './names'
import { hashId, type Logger } from '../core/log'
import { count } from '../core/metrics'
import { runJob, type JobStore, type RunResult } from './pipeline'
import { commentSkip } from './comments'
import { MODERATION_TIMEOUT_MS } from '../llm/client'
import { clampFutureTimestamps, type InboundEvent, type WebhookEvent } from '../meta/webhook'

/** How many of a sender's waiting jobs one runner takes after its own. */
const MAX_DRAIN_JOBS = 10
/**
 * Fan-out bounds. Claims go to at most this many sender objects at once, so a delivery with
 * hundreds of senders is acknowledged without a burst of hundreds of simultaneous calls.
 */
export const CLAIM_CONCURRENCY = 8
/**
 * Outgoing requests (Graph and LLM) one invocation may make for replies: the Free plan allows 50
 * subrequests per invocation, and some are kept in reserve. Reply work beyond it is handed to
 * each sender's alarm, which runs in its own invocation with its own limits.
 */
export const REPLY_FETCH_BUDGET = 40

/** Outgoing requests one LLM reply may need: typing, model, moderation, every part, mark_seen. */
export function replyFetchCost(config: Config): number {
  return 2 + (config.MODERATION ? 1 : 0) + config.MAX_REPLY_PARTS + (config.MARK_SEEN ? 1 : 0)
}
/** Everything after the 200 must finish inside waitUntil's 30 s; keep a margin. */
const WAIT_UNTIL_BUDGET_MS = 25_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface DeliveryDeps {
  env: Env
  config: Config
  log: Logger
  waitUntil(promise: Promise<unknown>): void
}

export interface DeliveryOutcome {
  ok: boolean
  counts: Record<string, number>
}

/** Kinds that never need the sender's object: nothing to claim, remember or answer. */
const STATELESS = new Set<WebhookEvent['kind']>(['reaction', 'read', 'referral', 'unknown', 'change'])

/** The Instagram user a conversation belongs to: for echoes that is the recipient. */
export function conversationUser(e: InboundEvent): string {
  return e.kind === 'echo' ? e.recipientId : e.senderId
}

interface Group {
  accountId: string
  userId: string
  events: InboundEvent[]
}

export async function handleDelivery(deps: DeliveryDeps, received: WebhookEvent[]): Promise<DeliveryOutcome> {
  const receivedAt = Date.now()
  // A stamp from the future would hold the sender's window and memory expiry (see webhook.ts).
  const { events, clamped, maxAheadMs } = clampFutureTimestamps(received, receivedAt)
  if (clamped) deps.log.warn('timestamp_clamped', { events: clamped, max_ahead_s: Math.round(maxAheadMs / 1000) })
  const counts: Record<string, number> = {}
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1)
  const groups = new Map<string, Group>()
  for (const e of events) {
    // Standby events belong to a conversation another app owns (handover): never ours to answer.
    if (e.kind === 'change' || STATELESS.has(e.kind) || e.source === 'standby') {
      bump('ignored')
      continue
    }
    // Comments that can get nothing (own, too old, no rule) never wake an object.
    if (e.kind === 'comment' && commentSkip(e, deps.config, receivedAt)) {
      bump('ignored')
      continue
    }
    const userId = conversationUser(e)
    const name = senderObjectName(e.accountId, userId)
    let g = groups.get(name)
    if (!g) groups.set(name, (g = { accountId: e.accountId, userId, events: [] }))
    g.events.push(e)
  }

  // The first senders' replies run in this invocation, as many as its request budget affords;
  // the rest go to their objects' alarms right away.
  const runHere = Math.floor(REPLY_FETCH_BUDGET / replyFetchCost(deps.config))
  const settled = await mapSettled([...groups.entries()], CLAIM_CONCURRENCY, ([name, g], i) => acceptGroup(deps, name, g, i >= runHere))
  const accepted: { name: string; group: Group; results: Accepted[]; handOff: boolean }[] = []
  let ok = true
  for (const s of settled) {
    if (s.status === 'rejected') {
      ok = false
      deps.log.error('claim_failed', { error: s.reason instanceof Error ? s.reason.name : 'unknown' })
      continue
    }
    accepted.push(s.value)
    for (const r of s.value.results) bump(r.decision)
  }
  count(deps.env, 'duplicate', counts.duplicate ?? 0)
  count(deps.env, 'rate_limited', (counts.rate_limited ?? 0) + (counts.rate_limited_notice ?? 0))
  count(deps.env, 'paused', (counts.paused ?? 0) + (counts.opted_out ?? 0))
  // Claims already made stay valid: their jobs run (here or from the alarm) even if this
  // delivery is answered with 503, and Meta's redelivery will see them as duplicates.
  // waitUntil's 30 s start when the response goes out, that is after the claims (which for a
  // delivery with many senders take a while), not when the request came in.
  deps.waitUntil(afterAck(deps, accepted, Date.now() + WAIT_UNTIL_BUDGET_MS))
  return { ok, counts }
}

/** Like Promise.allSettled over `items.map(fn)`, with at most `limit` calls in flight. */
export async function mapSettled<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i]!, i) }
      } catch (reason) {
        out[i] = { status: 'rejected', reason }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

async function acceptGroup(deps: DeliveryDeps, name: string, g: Group, handOff: boolean): Promise<{ name: string; group: Group; results: Accepted[]; handOff: boolean }> {
  const stub = deps.env.SENDER.getByName(name)
  const results = await stub.accept({ accountId: g.accountId, userId: g.userId, events: g.events, ...(handOff ? { handOff } : { leaseFirst: true }) })
  return { name, group: g, results, handOff }
}

/**
 * The sender's stub as a runner's job store that keeps what the object answered when the job
 * `run` ran finished: whether a fresh job waits. Unknown (undefined) unless that job ended done
 * through its last part, so a runner asks the queue whenever it does not know.
 */
export function watching(stub: JobStore): JobStore & { fresh?: boolean; run(job: () => Promise<RunResult>): Promise<RunResult> } {
  const w = {
    fresh: undefined as boolean | undefined,
    async run(job: () => Promise<RunResult>): Promise<RunResult> {
      w.fresh = undefined
      const result = await job()
      if (result !== 'done') w.fresh = undefined
      return result
    },
    lease: (jobId: string, opts?: { now?: number; force?: boolean }) => stub.lease(jobId, opts),
    saveReply: (jobId: string, leaseId: string, parts: string[], outcome: string) => stub.saveReply(jobId, leaseId, parts, outcome),
    takeBudgetNotice: (day: string) => stub.takeBudgetNotice(day),
    beginPart: (jobId: string, leaseId: string, idx: number, text: string) => stub.beginPart(jobId, leaseId, idx, text),
    async partSent(jobId: string, idx: number, outMid: string): Promise<Finished | null> {
      const r = await stub.partSent(jobId, idx, outMid)
      if (r) w.fresh = r.fresh
      return r
    },
    release: (jobId: string, leaseId: string, opts?: Parameters<JobStore['release']>[2]) => stub.release(jobId, leaseId, opts),
  }
  return w
}

async function afterAck(
  deps: DeliveryDeps,
  accepted: { name: string; group: Group; results: Accepted[]; handOff: boolean }[],
  deadline: number
): Promise<void> {
  const { env, config } = deps
  const cost = replyFetchCost(config)
  // What is left of this invocation's request budget once every sender run here has had its
  // first reply; further replies and drains take from it, the rest waits for the alarm.
  let spare = REPLY_FETCH_BUDGET - accepted.filter((a) => !a.handOff && a.results.some((r) => r.job)).length * cost
  const handedOff = accepted.filter((a) => a.handOff && a.results.some((r) => r.job)).length
  if (handedOff) deps.log.info('replies_handed_to_alarm', { senders: handedOff })
  await Promise.all(
    accepted.map(async ({ name, group, results, handOff }) => {
      const log = deps.log.child({ sender: await hashId(group.userId, config.APP_SECRET) })
      for (const r of results) log.debug('event_accepted', { kind: r.kind, decision: r.decision })
      // Not awaited before the jobs start (one KV write per isolate and account, for erasure).
      const registered = rememberAccount(env.DEDUP, group.accountId)
      const when = new Map(group.events.map((e) => [eventKey(e), e.timestamp]))
      const jobs = results
        .filter((r) => r.job)
        .sort((a, b) => (when.get(a.key) ?? 0) - (when.get(b.key) ?? 0))
      if (!jobs.length || handOff) {
        await registered
        return
      }
      const stub = env.SENDER.getByName(name)
      const store = watching(stub)
      const pipeline = createPipelineDeps(env, config, log, () => deadline, group.accountId)
      // A burst waits for its quiet window here, in waitUntil, rather than in an alarm: no
      // extra invocation, and the model is asked as soon as the window closes. If a newer
      // message of the burst came meanwhile, its own runner takes the job instead (the lease
      // then finds it not yet due).
      const waitFor = async (dueAt: number, margin = 0): Promise<boolean> => {
        if (dueAt > deadline - margin) return false
        if (dueAt > Date.now()) await sleep(dueAt - Date.now())
        return true
      }
      // A burst's window ends at most COALESCE_WINDOW_MS after its newest message: the runner of
      // that message always waits for it (runJob then checks the model call still fits). Another
      // runner's burst is waited for only if the model call fits after it; else the alarm runs it.
      const modelMargin = config.LLM_TIMEOUT_MS + (config.MODERATION ? MODERATION_TIMEOUT_MS : 0) + 2_000
      // One sender's replies go out one after another, in message order. Then this runner takes
      // the sender's other new jobs too: ones that were waiting behind a reply in flight in
      // another delivery would otherwise wait for the alarm.
      let ran = false
      for (const [n, r] of jobs.entries()) {
        // The first reply was budgeted above; a later one only if the budget still allows.
        if (n > 0 && (spare -= cost) < 0) break
        // Best effort: the indicator must not hold up or cost the reply.
        if (r.typing) await pipeline.send.action(group.userId, 'typing_on').catch(() => {})
        if (r.dueAt && !(await waitFor(r.dueAt))) continue
        ran = (await store.run(() => runJob(pipeline, store, r.job!, { immediate: true, leased: r.lease }))) !== 'skipped' || ran
      }
      // A runner whose every job was skipped (taken by another runner, or merged into a newer
      // message's burst) leaves the queue to the runner that holds it: it drains after its job.
      // The object said, as the last job finished, whether a fresh one waits: if none does, the
      // queue is not asked again (a message arriving later has its own runner).
      for (let round = 0; ran && store.fresh !== false && round < MAX_DRAIN_JOBS && Date.now() < deadline && (spare -= cost) >= 0; round++) {
        const next = await stub.leaseNextFresh()
        if (next && 'dueAt' in next) {
          if (await waitFor(next.dueAt, modelMargin)) continue
          break
        }
        if (!next || (await store.run(() => runJob(pipeline, store, next.id, { leased: next }))) !== 'done') break
      }
      await registered
    })
  ).catch((err) => deps.log.error('after_ack_failed', { error: err instanceof Error ? err.name : 'unknown' }))
}
