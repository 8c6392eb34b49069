/**
 * LLM calls per DM for a bursty conversation, before and after burst coalescing (issue 14):
 * the real Worker under `wrangler dev` with the loopback stand-ins, once with
 * COALESCE_WINDOW_MS=0 (every DM answered on its own, as before) and once with the default
 * settings. Each sender types BURSTS bursts of PER_BURST DMs, GAP_MS apart, each DM its own
 * signed delivery, with PAUSE_MS between bursts. Part of `npm run bench` (renders a section of
 * BENCHMARKS.md); run alone it prints that section:
 *
 *   node scripts/bench/bursty.mjs [--senders 8] [--bursts 3] [--per-burst 3] [--gap 300] [--pause 4000]
 */
import { fileURLToPath } from 'node:url'
import { newSender, settle, sleep, startE2E } from '../../test/e2e/harness.mjs'
import { buildDelivery } from '../sandbox/webhook-client.mjs'

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : def
}
const standalone = process.argv[1] === fileURLToPath(import.meta.url)
const SENDERS = standalone ? arg('senders', 8) : 8
const BURSTS = standalone ? arg('bursts', 3) : 3
const PER_BURST = standalone ? arg('per-burst', 3) : 3
const GAP_MS = standalone ? arg('gap', 300) : 300
const PAUSE_MS = standalone ? arg('pause', 4000) : 4000

/** One sender's conversation; returns when each burst's last DM was acknowledged. */
async function conversation(stack, sender) {
  const lastSent = []
  for (let b = 0; b < BURSTS; b++) {
    if (b) await sleep(PAUSE_MS)
    for (let m = 0; m < PER_BURST; m++) {
      if (m) await sleep(GAP_MS)
      const res = await stack.post(buildDelivery({ text: `burst ${b + 1} message ${m + 1}`, senderId: sender }).body)
      if (res.status !== 200) throw new Error(`delivery answered ${res.status}`)
    }
    lastSent.push(Date.now())
  }
  return lastSent
}

/** Time from a burst's last DM to the first reply after it, per burst (ms). */
function burstLatencies(stack, sender, lastSent) {
  const replies = stack.graph.messages(sender)
  return lastSent.map((t) => replies.find((r) => r.at >= t)?.at - t).filter((v) => Number.isFinite(v))
}

async function measure(label, options) {
  const stack = await startE2E(options)
  try {
    const llmBefore = stack.llm.requests.length
    const senders = Array.from({ length: SENDERS }, () => newSender())
    const lastSent = new Map()
    await Promise.all(
      senders.map(async (s, i) => {
        await sleep(i * 97)
        lastSent.set(s, await conversation(stack, s))
      })
    )
    await settle(stack.graph, { quietMs: 4000, timeoutMs: 60000 })
    const dms = SENDERS * BURSTS * PER_BURST
    const llmCalls = stack.llm.requests.length - llmBefore
    const replies = senders.reduce((n, s) => n + stack.graph.messages(s).length, 0)
    const typing = senders.reduce((n, s) => n + stack.graph.actions(s, 'typing_on').length, 0)
    const lat = senders.flatMap((s) => burstLatencies(stack, s, lastSent.get(s))).sort((a, b) => a - b)
    const p50 = lat[Math.floor(lat.length / 2)] ?? NaN
    return { label, dms, llmCalls, replies, typing, p50 }
  } finally {
    await stack.stop()
  }
}

/** Measures both settings in one run; returns the Markdown section. */
export async function runBursty() {
  const before = await measure('before (COALESCE_WINDOW_MS=0)', { defaults: false })
  const after = await measure('after (defaults: COALESCE_WINDOW_MS=1500, COALESCE_MAX_MS=8000)', { defaults: true })
  return renderBursty(before, after)
}

function renderBursty(before, after) {
const row = (r) =>
  `| ${r.label} | ${r.dms} | ${r.llmCalls} | ${(r.llmCalls / r.dms).toFixed(2)} | ${r.replies} | ${r.replies - r.llmCalls} | ${r.typing} | ${Math.round(r.p50)} |`
return `## Bursty conversations: LLM calls per DM

\`node scripts/bench/bursty.mjs --senders ${SENDERS} --bursts ${BURSTS} --per-burst ${PER_BURST} --gap ${GAP_MS} --pause ${PAUSE_MS}\`:
${SENDERS} senders each type ${BURSTS} bursts of ${PER_BURST} DMs ${GAP_MS} ms apart (each DM its own signed
delivery), ${PAUSE_MS} ms between bursts, through \`wrangler dev\` with the loopback stand-ins (LLM 0 ms,
Graph 5 ms) and the default rate limit (5 at once, 6 a minute): without coalescing every DM
takes a token, so part of each sender's nine DMs only gets the slow-down notice (fixed text, no
LLM call); a burst takes one. Latency is from a burst's last DM to the first reply after it; with
coalescing it includes the quiet window by design.

| Settings | DMs | LLM calls | LLM calls per DM | Replies | of them fixed notices | typing_on | Last DM → reply p50 (ms) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${row(before)}
${row(after)}
`
}

if (standalone) console.log(await runBursty())
