/**
 * Per-stage counters: received → signature_rejected / duplicate / rate_limited / over_budget /
 * paused → replied / send_failed / leak_blocked. Written to Workers Analytics Engine when the
 * METRICS binding is configured; always kept for this isolate (shown on /healthz) and summarised
 * in the logs once a minute, so "did Meta deliver it?" can be answered without a dashboard.
 */
import { createLogger } from './log'

export const STAGES = [
  'received',
  'signature_rejected',
  'duplicate',
  'rate_limited',
  'over_budget',
  'paused',
  'replied',
  'send_failed',
  'leak_blocked',
] as const
export type Stage = (typeof STAGES)[number]

const counters = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>
const SUMMARY_EVERY_MS = 60_000
let lastSummary = Date.now()

/** The optional binding, declared in wrangler.toml only by those who want it. */
function dataset(env: object): AnalyticsEngineDataset | undefined {
  const m = (env as { METRICS?: AnalyticsEngineDataset }).METRICS
  return m && typeof m.writeDataPoint === 'function' ? m : undefined
}

export function count(env: object, stage: Stage, n = 1): void {
  if (n <= 0) return
  counters[stage] += n
  // writeDataPoint is non-blocking and needs no await (Analytics Engine docs).
  dataset(env)?.writeDataPoint({ blobs: [stage], doubles: [n], indexes: [stage] })
  const now = Date.now()
  if (now - lastSummary >= SUMMARY_EVERY_MS) {
    lastSummary = now
    createLogger().info('metrics_summary', { ...counters })
  }
}

/** This isolate's counters since it started. */
export function counterSnapshot(): Record<Stage, number> {
  return { ...counters }
}
