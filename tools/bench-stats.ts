/**
 * The arithmetic of `npm run bench`: percentiles, summaries and budget checks. Pure functions in
 * plain TypeScript (no imports) so the bench runs it straight from Node 22 and the unit tests run
 * it inside workerd.
 */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length)
  return sorted[Math.max(0, rank - 1)]!
}

export interface Summary {
  n: number
  p50: number
  p99: number
  max: number
  mean: number
}

export function summarize(samples: readonly number[]): Summary {
  const n = samples.length
  return {
    n,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: n ? Math.max(...samples) : NaN,
    mean: n ? samples.reduce((a, b) => a + b, 0) / n : NaN,
  }
}

export interface Budget {
  name: string
  measured: number
  limit: number
  unit: string
  pass: boolean
}

/** A budget passes when the measured value is a real number no larger than the limit. */
export function atMost(name: string, measured: number, limit: number, unit: string): Budget {
  return { name, measured, limit, unit, pass: Number.isFinite(measured) && measured <= limit }
}

/** |a - b| relative to b, as a fraction: how far `a` moved from the baseline `b`. */
export function relativeChange(a: number, b: number): number {
  if (!(b > 0)) return NaN
  return Math.abs(a - b) / b
}

/**
 * Replies seen per sender, against the senders that were sent one DM each: how many got exactly
 * one reply, none, or more than one. `lateSenders` are those whose first reply came only after
 * the phase had stopped waiting (a retry from the sender object's alarm): still answered, and
 * counted in `exactlyOnce`/`duplicated` as such, but reported apart from `missing`, which means
 * no reply at all by the end of the run.
 */
export function deliveryCounts(
  senders: readonly string[],
  repliesPerSender: ReadonlyMap<string, number>,
  lateSenders: ReadonlySet<string> = new Set()
): { exactlyOnce: number; missing: number; duplicated: number; late: number } {
  let exactlyOnce = 0
  let missing = 0
  let duplicated = 0
  let late = 0
  for (const s of senders) {
    const n = repliesPerSender.get(s) ?? 0
    if (n === 1) exactlyOnce++
    else if (n === 0) missing++
    else duplicated++
    if (n > 0 && lateSenders.has(s)) late++
  }
  return { exactlyOnce, missing, duplicated, late }
}

/** Formats milliseconds for tables: two decimals below 10, one below 100, none above. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (Math.abs(ms) < 10) return ms.toFixed(2)
  if (Math.abs(ms) < 100) return ms.toFixed(1)
  return ms.toFixed(0)
}
