/**
 * The load half of `npm run bench`: the real Worker under `wrangler dev` with the loopback
 * stand-ins (via the e2e harness), driven with signed one-DM-per-sender webhooks at fixed
 * concurrencies, with GET /healthz measured the same way in the same run as the floor.
 */
import { newSender, settle, sleep, startE2E } from '../../test/e2e/harness.mjs'
import { deliveryCounts, summarize } from '../../tools/bench-stats.ts'
import { buildDelivery } from '../sandbox/webhook-client.mjs'

/**
 * The stand-ins' own share of webhook-to-reply time: typing_on runs alongside the LLM call, then
 * the message is sent (mark_seen comes after the reply), so max(LLM, Graph) + Graph.
 */
export function standinLatency(llmMs, graphMs) {
  return Math.max(llmMs, graphMs) + graphMs
}

/**
 * Runs `count` tasks with at most `concurrency` in flight; returns results in task order and the
 * wall time. Every task is awaited once; nothing loops beyond `count`.
 */
export async function runPool(count, concurrency, task) {
  const results = new Array(count)
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < count) {
      const i = next++
      results[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return { results, wallMs: performance.now() - started }
}

async function timedGet(url) {
  const t = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) })
  await res.text()
  return { status: res.status, ms: performance.now() - t }
}

export function repliesBySender(graph) {
  const map = new Map()
  for (const r of graph.records) {
    if (r.kind !== 'message') continue
    const list = map.get(r.recipientId)
    if (list) list.push(r)
    else map.set(r.recipientId, [r])
  }
  return map
}

function typingBySender(graph) {
  const map = new Map()
  for (const r of graph.records) {
    if (r.kind === 'sender_action' && r.action === 'typing_on') map.set(r.recipientId, (map.get(r.recipientId) ?? 0) + 1)
  }
  return map
}

/**
 * How long the run waits at its end for replies the phases stopped waiting for. A reply whose
 * Send API call failed without an answer (a dropped connection under load) is sent again only
 * after the echo grace period (pipeline.ts ECHO_GRACE_MS, 3 minutes: the Send API has no
 * idempotency key, so the bot first waits for an echo of a send that may have gone out), plus
 * the lease and retry delay before the object's alarm takes it: such a reply is late, not lost.
 */
export const LATE_WAIT_MS = 4 * 60_000

/** Senders with at least one reply among the Graph stand-in's records from index `from` on. */
function repliedSince(graph, from, into) {
  for (let i = from; i < graph.records.length; i++) {
    const r = graph.records[i]
    if (r.kind === 'message') into.add(r.recipientId)
  }
  return graph.records.length
}

/**
 * Waits (bounded) until every sender has a reply, then until the Graph stand-in goes quiet.
 * `from`: the stand-in's record index before these senders' DMs were posted. Returns the senders
 * still without a reply.
 */
export async function waitForReplies(stack, senders, timeoutMs, from = 0) {
  const deadline = Date.now() + timeoutMs
  const replied = new Set()
  let cursor = from
  const pending = () => senders.filter((s) => !replied.has(s))
  while (Date.now() < deadline) {
    cursor = repliedSince(stack.graph, cursor, replied)
    if (!pending().length) break
    await sleep(50)
  }
  await settle(stack.graph, { quietMs: 1500, timeoutMs: 15_000 })
  repliedSince(stack.graph, cursor, replied)
  return pending()
}

function healthzPhase(stack, n, c) {
  return runPool(n, c, () => timedGet(`${stack.workerUrl}/healthz`))
}

export async function webhookPhase(stack, n, c, label, senders) {
  const deliveries = Array.from({ length: n }, (_, i) => {
    const senderId = senders?.[i] ?? newSender()
    const text = `Hi! Are you open on Sunday, and do you ship to Lisbon? (${label} #${i + 1})`
    return { senderId, body: buildDelivery({ text, senderId }).body }
  })
  return runPool(n, c, async (i) => {
    const d = deliveries[i]
    const sentAt = Date.now()
    try {
      const r = await stack.post(d.body)
      return { senderId: d.senderId, sentAt, status: r.status, ms: r.ms }
    } catch (err) {
      return { senderId: d.senderId, sentAt, status: 0, ms: NaN, error: err?.name ?? 'error' }
    }
  })
}

/**
 * opts: { llmLatencies: number[], graphMs, concurrencies: number[], counts: {[c]: n}, warmup, log, lateWaitMs?, beforePhase? }
 * Returns { phases: [{ llmMs, concurrency, healthz, ack, acksPerSec, healthzPerSec, delivery, late, e2e, overhead }],
 *           final: { senders, exactlyOnce, missing, duplicated, late, lateWaitMs, outstanding }, harness }
 * `delivery` counts replies at the end of the run (late ones included, as `late` too); `late` is
 * { senders, e2e } for the DMs first answered after the phase stopped waiting; `e2e` and
 * `overhead` cover only the replies that came within the phase's wait.
 */
export async function runLoad(opts) {
  const log = opts.log ?? (() => {})
  const graphMs = opts.graphMs
  const stack = await startE2E({
    // One DM per sender keeps per-sender rate limits out of the way; the account's daily LLM
    // budget (default 2000) would otherwise cut a full run short.
    vars: { LLM_DAILY_BUDGET: '10000000' },
    graph: { latencyMs: graphMs },
    llm: { latencyMs: opts.llmLatencies[0] ?? 0 },
  })
  const allSenders = []
  const phases = []
  try {
    log(`load wrangler dev at ${stack.workerUrl}; graph ${graphMs} ms; warm-up ${opts.warmup} webhooks + ${opts.warmup} healthz`)
    await healthzPhase(stack, opts.warmup, 5)
    const warm = await webhookPhase(stack, opts.warmup, 5, 'warm-up')
    await waitForReplies(stack, warm.results.map((r) => r.senderId), 30_000 + (opts.llmLatencies[0] ?? 0))

    for (const llmMs of opts.llmLatencies) {
      stack.llm.configure({ latencyMs: llmMs })
      for (const c of opts.concurrencies) {
        const n = opts.counts[c]
        const h = await healthzPhase(stack, n, c)
        // A seam for checking the bench itself (e.g. a throttle that makes replies late).
        await opts.beforePhase?.({ stack, llmMs, concurrency: c })
        const from = stack.graph.records.length
        const w = await webhookPhase(stack, n, c, `llm${llmMs}-c${c}`)
        const senders = w.results.filter((r) => r.status === 200).map((r) => r.senderId)
        allSenders.push(...senders)
        const notYet = await waitForReplies(stack, senders, llmMs + 30_000, from)
        const missingAfterWait = notYet.length
        const replies = repliesBySender(stack.graph)
        const typing = typingBySender(stack.graph)
        const counts = new Map([...replies].map(([k, v]) => [k, v.length]))
        const e2e = []
        let llmReplies = 0
        let typingOnce = 0
        for (const r of w.results) {
          const first = replies.get(r.senderId)?.[0]
          if (r.status !== 200 || !first) continue
          e2e.push(first.at - r.sentAt)
          if (first.text?.startsWith('[sandbox]')) llmReplies++
          if (typing.get(r.senderId) === 1) typingOnce++
        }
        const onPath = standinLatency(llmMs, graphMs)
        const phase = {
          llmMs,
          concurrency: c,
          n,
          healthz: summarize(h.results.map((r) => r.ms)),
          healthzErrors: h.results.filter((r) => r.status !== 200).length,
          healthzPerSec: (n / h.wallMs) * 1000,
          ack: summarize(w.results.filter((r) => r.status === 200).map((r) => r.ms)),
          ackErrors: w.results.filter((r) => r.status !== 200).length,
          acksPerSec: (n / w.wallMs) * 1000,
          delivery: { ...deliveryCounts(senders, counts), accepted: senders.length, llmReplies, typingOnce, missingAfterWait },
          // Resolved after the last phase (see below): which senders came late, and when.
          late: { senders: notYet, accepted: senders, sent: w.results },
          e2e: summarize(e2e),
          standinMs: onPath,
          overhead: summarize(e2e.map((ms) => ms - onPath)),
        }
        phases.push(phase)
        log(
          `load llm ${String(llmMs).padStart(4)} ms c=${String(c).padStart(2)} n=${n}: healthz p50 ${phase.healthz.p50.toFixed(1)} ` +
            `p99 ${phase.healthz.p99.toFixed(1)} | ack p50 ${phase.ack.p50.toFixed(1)} p99 ${phase.ack.p99.toFixed(1)} ` +
            `max ${phase.ack.max.toFixed(1)} ms, ${phase.acksPerSec.toFixed(0)}/s | replies ${phase.delivery.exactlyOnce}/${senders.length} ` +
            `exactly once${missingAfterWait ? ` (${missingAfterWait} not yet: waited for at the end)` : ''} | overhead p50 ${phase.overhead.p50.toFixed(0)} p99 ${phase.overhead.p99.toFixed(0)} ms`
        )
      }
    }
    // Replies a phase stopped waiting for may still come from the sender objects' alarms (see
    // LATE_WAIT_MS): wait for them, bounded, so a late reply is reported as late and not as lost.
    const outstanding = phases.flatMap((p) => p.late.senders)
    const lateWaitStarted = Date.now()
    const stillMissing = outstanding.length ? await waitForReplies(stack, outstanding, opts.lateWaitMs ?? LATE_WAIT_MS) : []
    if (outstanding.length) log(`load: ${outstanding.length} DMs had no reply when their phase stopped waiting; ${outstanding.length - stillMissing.length} came within ${((Date.now() - lateWaitStarted) / 1000).toFixed(0)} s more`)
    // Late duplicates would show up only after the last phase: count every sender once more.
    await settle(stack.graph, { quietMs: 2000, timeoutMs: 15_000 })
    const byS = repliesBySender(stack.graph)
    const finalCounts = new Map([...byS].map(([k, v]) => [k, v.length]))
    const lateSet = new Set(outstanding)
    for (const p of phases) {
      // Each phase as it ends up: late replies counted (exactly once or not), and their latency.
      const sentAt = new Map(p.late.sent.map((r) => [r.senderId, r.sentAt]))
      const lateE2e = p.late.senders.map((s) => byS.get(s)?.[0]?.at - sentAt.get(s)).filter((ms) => Number.isFinite(ms))
      p.delivery = { ...p.delivery, ...deliveryCounts(p.late.accepted, finalCounts, lateSet) }
      p.late = { senders: p.late.senders.length, e2e: summarize(lateE2e) }
    }
    const final = { senders: allSenders.length, ...deliveryCounts(allSenders, finalCounts, lateSet), lateWaitMs: opts.lateWaitMs ?? LATE_WAIT_MS, outstanding: outstanding.length }
    return { phases, final, harness: 'wrangler dev' }
  } finally {
    await stack.stop()
  }
}
