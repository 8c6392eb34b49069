/**
 * The yardstick comparison of `npm run bench` (issue 12): the product and the minimal reference
 * Worker (scripts/bench/yardstick/) each under their own `wrangler dev` with their own loopback
 * stand-ins, started together and measured in alternating phases of the same run, so both see
 * the same machine. Per answered DM: CPU of the whole wrangler dev process group (utime + stime of
 * every process in the group, read from /proc/<pid>/stat before and after the phase, replies
 * included), and the acknowledgement latency at 1 and 5 concurrent. Then, for the product only,
 * a count phase under the instrumented entry (scripts/bench/counted-entry.js): Durable Object
 * requests, SQLite rows written, KV operations and log lines and bytes per DM.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { settle, sleep, startE2E } from '../../test/e2e/harness.mjs'
import { summarize } from '../../tools/bench-stats.ts'
import { ROOT } from '../sandbox/sandbox.mjs'
import { repliesBySender, waitForReplies, webhookPhase } from './load.mjs'

/** The yardstick Worker's wrangler config (its probes run under the same one). */
const YARDSTICK_CONFIG = join(ROOT, 'scripts', 'bench', 'yardstick', 'wrangler.toml')

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU seconds (user + system) used so far by every live process in process group `pgid`, by
 * command name (wrangler's node vs workerd). wrangler dev runs detached as its own group: the
 * wrangler Node process, workerd and helpers.
 */
export function groupCpuByCommand(pgid) {
  const out = {}
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // The command name is in parentheses and may contain spaces; the fields follow it.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(f[2]) !== pgid) continue
    out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK
  }
  return out
}

const diff = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]))

/**
 * One measured phase on one stack: n DMs at concurrency c, replies awaited, CPU of the group.
 * DMs come from new senders, or with `senders` from those (their next DM: a warm object).
 */
export async function phase(stack, { n, c, llmMs, label, senders: from }) {
  stack.llm.configure({ latencyMs: llmMs })
  const pgid = stack.child.pid
  const cpuBefore = groupCpuByCommand(pgid)
  const fetchesBefore = stack.graph.calls.length + stack.llm.requests.length
  const before = repliesBySender(stack.graph)
  const cursor = stack.graph.records.length
  const w = await webhookPhase(stack, n, c, label, from)
  const senders = w.results.filter((r) => r.status === 200).map((r) => r.senderId)
  await waitForReplies(stack, senders, llmMs + 30_000, cursor)
  const cpu = diff(cpuBefore, groupCpuByCommand(pgid))
  const fetches = stack.graph.calls.length + stack.llm.requests.length - fetchesBefore
  const replies = repliesBySender(stack.graph)
  const fresh = (s) => (replies.get(s)?.length ?? 0) - (before.get(s)?.length ?? 0)
  const answered = senders.filter((s) => fresh(s) === 1).length
  const duplicated = senders.filter((s) => fresh(s) > 1).length
  const total = Object.values(cpu).reduce((a, b) => a + b, 0)
  return {
    n,
    concurrency: c,
    ack: summarize(w.results.filter((r) => r.status === 200).map((r) => r.ms)),
    non200: w.results.filter((r) => r.status !== 200).length,
    answered,
    duplicated,
    cpuSeconds: total,
    cpuByCommand: cpu,
    cpuMsPerDm: answered ? (total * 1000) / answered : NaN,
    /** Outbound requests the stand-ins saw (LLM calls and Graph calls), per DM answered. */
    fetchesPerDm: answered ? fetches / answered : NaN,
    senders,
  }
}

/**
 * Variants measured beside the two sides at 5 concurrent: a product feature the yardstick does not
 * have, switched off (mark_seen is one Send API call per reply), and both sides with wrangler's
 * local trace collector on (wrangler dev's default; the comparison runs without it, see startStack).
 */
export const VARIANTS = [
  { name: 'product, MARK_SEEN=false (no mark_seen call)', vars: { MARK_SEEN: 'false' } },
  { name: 'product, wrangler trace collector on', vars: {}, traceCollector: true },
  { name: 'yardstick, wrangler trace collector on', yardstick: true, traceCollector: true },
]

/**
 * Unit probes: the yardstick with k more units of one kind per DM (see yardstick/worker.js),
 * measured in the same rounds at 5 concurrent. (probe − yardstick) / k in each round prices one
 * unit on this machine, so the product's extra CPU can be split by what it spends.
 */
export const PROBES = [
  // k large enough that k units stand out of the noise of one phase (about ±1 ms per DM here).
  { unit: 'doRequest', label: 'Durable Object request', k: 12, vars: { PROBE_DO: '12' } },
  { unit: 'fetch', label: 'outbound fetch (Graph call)', k: 8, vars: { PROBE_FETCH: '8' } },
  { unit: 'sqlStatement', label: 'SQL statement (point read)', k: 200, vars: { PROBE_SQL: '200' } },
  { unit: 'logLine', label: 'log line (≈ 100 B of JSON)', k: 4, vars: { PROBE_LOG: '4' } },
]

/**
 * opts: { llmMs, graphMs, counts: { 1: n, 5: n }, warmup, countN, rounds, variants, log }
 * Returns { product: { c1, c5 }, yardstick: { c1, c5 }, variants: [{ name, c5 }], counts, clkTck, rounds }.
 */
export async function runComparison(opts) {
  const log = opts.log ?? (() => {})
  const common = { graph: { latencyMs: opts.graphMs }, llm: { latencyMs: opts.llmMs } }
  const sides = {
    product: await startE2E({ ...common, vars: { LLM_DAILY_BUDGET: '10000000' } }),
    yardstick: await startE2E({ ...common, config: YARDSTICK_CONFIG }),
  }
  const variants = opts.variants ?? []
  for (const v of variants) {
    sides[v.name] = await startE2E({
      ...common,
      ...(v.yardstick ? { config: YARDSTICK_CONFIG } : { vars: { LLM_DAILY_BUDGET: '10000000', ...v.vars } }),
      ...(v.traceCollector ? { traceCollector: true } : {}),
    })
  }
  const probes = opts.probes ?? []
  const probeName = (p) => `probe ${p.unit}`
  for (const p of probes) sides[probeName(p)] = await startE2E({ ...common, config: YARDSTICK_CONFIG, vars: p.vars })
  const results = { product: {}, yardstick: {}, clkTck: CLK_TCK, llmMs: opts.llmMs, graphMs: opts.graphMs, rounds: opts.rounds }
  try {
    for (const [name, stack] of Object.entries(sides)) {
      await webhookPhase(stack, opts.warmup, 5, 'warm-up').then((w) =>
        waitForReplies(stack, w.results.map((r) => r.senderId), opts.llmMs + 30_000)
      )
      log(`compare ${name} at ${stack.workerUrl} warmed up (${opts.warmup} DMs)`)
    }
    // Alternate the two sides phase by phase (and repeat) so machine noise hits both alike;
    // per side and concurrency the round with the median CPU per DM is kept, all are reported.
    const rounds = Object.fromEntries(Object.keys(sides).map((k) => [k, { 1: [], 5: [], again: [] }]))
    for (let r = 0; r < opts.rounds; r++) {
      for (const c of [1, 5]) {
        const base = r % 2 === 0 ? ['product', 'yardstick'] : ['yardstick', 'product']
        const order = c === 5 ? [...base, ...variants.map((v) => v.name), ...probes.map(probeName)] : base
        for (const name of order) {
          const p = await phase(sides[name], { n: opts.counts[c], c, llmMs: opts.llmMs, label: `${name}-r${r}-c${c}` })
          rounds[name][c].push(p)
          log(
            `compare ${name} c=${c} n=${p.n}: ack p50 ${p.ack.p50.toFixed(1)} p99 ${p.ack.p99.toFixed(1)} ms | ` +
              `CPU ${p.cpuMsPerDm.toFixed(1)} ms/DM (${Object.entries(p.cpuByCommand).map(([k, v]) => `${k} ${((v * 1000) / Math.max(1, p.answered)).toFixed(1)}`).join(', ')}) | ` +
              `answered once ${p.answered}/${p.n}, duplicated ${p.duplicated}`
          )
          if (c === 5 && base.includes(name)) {
            // The same senders' next DM: what a conversation's later messages cost (warm objects).
            const again = await phase(sides[name], { n: p.senders.length, c, llmMs: opts.llmMs, label: `${name}-r${r}-again`, senders: p.senders })
            rounds[name].again.push(again)
            log(`compare ${name} c=5 returning senders: CPU ${again.cpuMsPerDm.toFixed(1)} ms/DM, ack p50 ${again.ack.p50.toFixed(1)} ms, answered once ${again.answered}/${again.n}`)
          }
        }
      }
    }
    const median = (list, key) => [...list].sort((a, b) => key(a) - key(b))[Math.floor((list.length - 1) / 2)]
    for (const name of Object.keys(sides)) {
      for (const c of [1, 5, 'again']) {
        const list = rounds[name][c]
        if (!list.length) continue
        const { senders: _, ...kept } = median(list, (p) => p.cpuMsPerDm)
        results[name] ??= {}
        results[name][c === 'again' ? 'again' : `c${c}`] = {
          ...kept,
          ackP50Median: median(list, (p) => p.ack.p50).ack.p50,
          ackP99Median: median(list, (p) => p.ack.p99).ack.p99,
          rounds: list.map((p) => ({ cpuMsPerDm: p.cpuMsPerDm, ackP50: p.ack.p50, ackP99: p.ack.p99, answered: p.answered, n: p.n })),
        }
      }
    }
  } finally {
    await Promise.all(Object.values(sides).map((s) => s.stop()))
  }
  results.variants = variants.map((v) => ({ name: v.name, vars: v.vars, c5: results[v.name].c5 }))
  for (const v of variants) delete results[v.name]
  results.unitPrices = probes.map((p) => {
    const mine = results[probeName(p)].c5.rounds
    const base = results.yardstick.c5.rounds
    const perRound = mine.map((x, i) => (x.cpuMsPerDm - base[i].cpuMsPerDm) / p.k)
    const sorted = [...perRound].sort((a, b) => a - b)
    return { unit: p.unit, label: p.label, k: p.k, msPerUnit: sorted[Math.floor((sorted.length - 1) / 2)], perRound }
  })
  for (const p of probes) delete results[probeName(p)]
  for (const u of results.unitPrices) log(`compare unit price, ${u.label}: ${u.msPerUnit.toFixed(3)} ms (rounds ${u.perRound.map((v) => v.toFixed(3)).join(', ')})`)
  results.counts = await countPerDm({ n: opts.countN, llmMs: opts.llmMs, graphMs: opts.graphMs, log })
  return results
}

/** One counted phase: n DMs (from `senders`, or new ones), units per DM answered exactly once. */
async function countedPhase(stack, counters, n, label, senders, llmMs) {
  const before = await counters()
  const sinceReplies = new Map([...repliesBySender(stack.graph)].map(([k, v]) => [k, v.length]))
  const w = await webhookPhase(stack, n, 5, label, senders)
  const ok = w.results.filter((r) => r.status === 200).map((r) => r.senderId)
  // Wait (bounded) until each sender has one reply more than before, then for quiet.
  const deadline = Date.now() + llmMs + 30_000
  const fresh = () => {
    const now = repliesBySender(stack.graph)
    return ok.every((s) => (now.get(s)?.length ?? 0) > (sinceReplies.get(s) ?? 0))
  }
  while (!fresh() && Date.now() < deadline) await sleep(50)
  await settle(stack.graph, { quietMs: 1500, timeoutMs: 15_000 })
  const after = await counters()
  const replies = repliesBySender(stack.graph)
  const answered = ok.filter((s) => (replies.get(s)?.length ?? 0) - (sinceReplies.get(s) ?? 0) === 1).length
  const per = (k) => (after[k] - before[k]) / answered
  const perMap = (k) =>
    Object.fromEntries(
      Object.keys(after[k])
        .filter((m) => !m.includes('__miniflare'))
        .map((m) => [m, (after[k][m] - (before[k][m] ?? 0)) / answered])
        .filter(([, v]) => v > 0)
        .sort((a, b) => b[1] - a[1])
    )
  const rowsWrittenByStatement = perMap('rowsWrittenByStatement')
  return {
    senders: ok,
    units: {
      answered,
      invocations: per('invocations'),
      doRequests: per('doRequests'),
      doRequestsByMethod: perMap('doRequestsByMethod'),
      alarms: per('alarms'),
      alarmsSet: per('alarmsSet'),
      // Miniflare's own bookkeeping table (the object's name) is not the product's, nor billed.
      rowsWritten: Object.values(rowsWrittenByStatement).reduce((a, b) => a + b, 0),
      rowsWrittenByStatement,
      sqlStatements: per('sqlStatements'),
      statementsByText: perMap('statementsByText'),
      kvReads: per('kvReads'),
      kvWrites: per('kvWrites'),
      kvDeletes: per('kvDeletes'),
      kvLists: per('kvLists'),
      logLines: per('logLines'),
      logBytes: per('logBytes'),
      logEvents: perMap('logEvents'),
    },
  }
}

/** The product under the instrumented entry: billed units per answered DM. */
export async function countPerDm({ n, llmMs, graphMs, log = () => {} }) {
  const stack = await startE2E({
    vars: { LLM_DAILY_BUDGET: '10000000' },
    graph: { latencyMs: graphMs },
    llm: { latencyMs: llmMs },
    script: join(ROOT, 'scripts', 'bench', 'counted-entry.js'),
  })
  const counters = async () => (await fetch(`${stack.workerUrl}/__bench/counters`)).json()
  try {
    // Warm: the first DM of an isolate pays one-off work (the account registry write, token fetch).
    const warm = await webhookPhase(stack, 10, 5, 'count-warm-up')
    await waitForReplies(stack, warm.results.map((r) => r.senderId), llmMs + 30_000)
    // New senders: one DM each (the bench's load shape; each wakes a new object).
    const first = await countedPhase(stack, counters, n, 'count', null, llmMs)
    // The same senders again: what a conversation's later DMs cost (memory, warm object).
    const second = await countedPhase(stack, counters, n, 'count-again', first.senders, llmMs)
    const out = { n, ...first.units, again: second.units }
    const schema = (m) => Object.entries(m).filter(([k]) => /^CREATE\b/i.test(k)).reduce((a, [, v]) => a + v, 0)
    out.rowsWrittenSchema = schema(first.units.rowsWrittenByStatement)
    out.rowsWrittenWarm = second.units.rowsWritten
    log(
      `count product per answered DM, new senders (${first.units.answered}/${n}): DO requests ${out.doRequests.toFixed(2)}, rows written ${out.rowsWritten.toFixed(2)}, ` +
        `KV reads ${out.kvReads.toFixed(2)} writes ${out.kvWrites.toFixed(2)}, log lines ${out.logLines.toFixed(2)} (${out.logBytes.toFixed(0)} B), alarms set ${out.alarmsSet.toFixed(2)}; ` +
        `second DM: DO requests ${second.units.doRequests.toFixed(2)}, rows written ${second.units.rowsWritten.toFixed(2)}`
    )
    return out
  } finally {
    await stack.stop()
  }
}
