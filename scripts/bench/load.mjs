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

/** Waits (bounded) until every sender has a reply, then until the Graph stand-in goes quiet. */
export async function waitForReplies(stack, senders, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  const pending = new Set(senders)
  while (pending.size && Date.now() < deadline) {
    for (const r of stack.graph.records.slice(-4 * senders.length)) if (r.kind === 'message') pending.delete(r.recipientId)
    if (pending.size) await sleep(50)
  }
  await settle(stack.graph, { quietMs: 1500, timeoutMs: 15_000 })
  return pending.size
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
 * opts: { llmLatencies: number[], graphMs, concurrencies: number[], counts: {[c]: n}, warmup, log }
 * Returns { phases: [{ llmMs, concurrency, healthz, ack, acksPerSec, healthzPerSec, delivery, e2e, overhead }],
 *           final: { senders, exactlyOnce, missing, duplicated }, harness }
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
        const w = await webhookPhase(stack, n, c, `llm${llmMs}-c${c}`)
        const senders = w.results.filter((r) => r.status === 200).map((r) => r.senderId)
        allSenders.push(...senders)
        const missingAfterWait = await waitForReplies(stack, senders, llmMs + 30_000)
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
          e2e: summarize(e2e),
          standinMs: onPath,
          overhead: summarize(e2e.map((ms) => ms - onPath)),
        }
        phases.push(phase)
        log(
          `load llm ${String(llmMs).padStart(4)} ms c=${String(c).padStart(2)} n=${n}: healthz p50 ${phase.healthz.p50.toFixed(1)} ` +
            `p99 ${phase.healthz.p99.toFixed(1)} | ack p50 ${phase.ack.p50.toFixed(1)} p99 ${phase.ack.p99.toFixed(1)} ` +
            `max ${phase.ack.max.toFixed(1)} ms, ${phase.acksPerSec.toFixed(0)}/s | replies ${phase.delivery.exactlyOnce}/${senders.length} ` +
            `exactly once | overhead p50 ${phase.overhead.p50.toFixed(0)} p99 ${phase.overhead.p99.toFixed(0)} ms`
        )
      }
    }
    // Late duplicates would show up only after the last phase: count every sender once more.
    await settle(stack.graph, { quietMs: 2000, timeoutMs: 15_000 })
    const finalCounts = new Map([...repliesBySender(stack.graph)].map(([k, v]) => [k, v.length]))
    const final = { senders: allSenders.length, ...deliveryCounts(allSenders, finalCounts) }
    return { phases, final, harness: 'wrangler dev' }
  } finally {
    await stack.stop()
  }
}
