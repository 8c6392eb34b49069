/**
 * Where the acknowledgement's time goes: one request at a time, the same Worker answers
 * deliveries that stop at successive stages of the ack path (no storage; a redelivery the warm
 * sender object answers as a duplicate; a claim in a warm object; a claim in a brand-new object),
 * next to /healthz.
 */
import { newSender, startE2E } from '../../test/e2e/harness.mjs'
import { summarize } from '../../tools/bench-stats.ts'
import { buildDelivery } from '../sandbox/webhook-client.mjs'

export async function runBreakdown({ n = 60, log = () => {} } = {}) {
  // A slow model keeps reply work out of the way of the acknowledgements being timed.
  const stack = await startE2E({ vars: { RATE_LIMIT_BURST: '1000', RATE_LIMIT_PER_MINUTE: '6000' }, llm: { latencyMs: 60_000 } })
  try {
    const time = async (make) => {
      const ms = []
      for (let i = 0; i < n; i++) {
        const body = make()
        const t = performance.now()
        const res = body === null ? await fetch(`${stack.workerUrl}/healthz`) : await stack.post(body)
        if (res.status !== 200) throw new Error(`breakdown: unexpected status ${res.status} (${body === null ? "healthz" : body.slice(0, 120)})`)
        ms.push(performance.now() - t)
      }
      return summarize(ms)
    }
    await time(() => null)
    const dup = buildDelivery({ text: 'seen before', senderId: newSender() })
    await stack.post(dup.body)
    const known = newSender()
    const rows = [
      ['GET /healthz (the floor)', await time(() => null)],
      ['reaction: verify + parse, no storage', await time(() => buildDelivery({ kind: 'reaction', senderId: newSender() }).body)],
      ['redelivered DM: + claim in a warm object (duplicate)', await time(() => dup.body)],
      ['DM, known sender: + claim in a warm object', await time(() => buildDelivery({ text: 'hello again', senderId: known }).body)],
      ['DM, new sender: + claim in a new object', await time(() => buildDelivery({ text: 'hello', senderId: newSender() }).body)],
    ].map(([stage, s]) => ({ stage, ...s }))
    for (const r of rows) log(`ack stage  ${r.stage.padEnd(56)} p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms`)
    return rows
  } finally {
    await stack.stop()
  }
}
