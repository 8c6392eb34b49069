/**
 * What keeps one sender from turning the bot into a flood: a token bucket for replies, at most
 * one "slow down" notice per cooldown, one "budget spent" notice per day, and the count of
 * model calls against the per-sender daily cap (LLM_DAILY_PER_SENDER).
 */
import type { Config } from '../core/config'
import type { StateStore } from './state'

export interface Bucket {
  tokens: number
  at: number
}

/**
 * The bucket at `now`: refilled at `perMinute` since `at`, never above `capacity`. A sender never
 * seen before starts full. Pure, so the arithmetic is tested on its own.
 */
export function refill(bucket: Bucket | null, now: number, capacity: number, perMinute: number): Bucket {
  if (!bucket) return { tokens: capacity, at: now }
  const tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.at) * (perMinute / 60_000))
  return { tokens, at: now }
}

/** The shortest time between two slow-down notices to one sender. */
export function noticeCooldownMs(perMinute: number): number {
  return Math.max(60_000, 60_000 / perMinute)
}

/** How many replies the model was called for for this sender on `day` (UTC, YYYY-MM-DD). */
export function llmCallsOn(state: StateStore, day: string): number {
  return state.get('llm_day') === day ? state.num('llm_calls') : 0
}

export class Limits {
  constructor(private readonly state: StateStore) {}

  /** Takes one token from the sender's bucket; false when the bucket is empty. */
  takeToken(config: Config, now: number): boolean {
    const bucket = refill(this.bucket(config), now, config.RATE_LIMIT_BURST, config.RATE_LIMIT_PER_MINUTE)
    const ok = bucket.tokens >= 1
    // One key, so a DM writes one row for the bucket, not two; the two keys of objects made
    // before go (a no-op once gone).
    this.state.set('bucket', `${ok ? bucket.tokens - 1 : bucket.tokens}@${now}`)
    this.state.delete('bucket_tokens', 'bucket_at')
    return ok
  }

  /** The stored bucket ("tokens@at"), or the two keys of objects made before; null when none. */
  private bucket(config: Config): Bucket | null {
    const v = this.state.get('bucket')
    if (v !== undefined) {
      const [tokens, at] = v.split('@').map(Number)
      return { tokens: tokens!, at: at! }
    }
    const at = this.state.get('bucket_at')
    return at === undefined ? null : { tokens: this.state.num('bucket_tokens', config.RATE_LIMIT_BURST), at: Number(at) }
  }

  /** One slow-down notice per cooldown: a flood never turns into a flood of replies. */
  takeNotice(config: Config, now: number): boolean {
    if (now - this.state.num('notice_at', -Infinity) < noticeCooldownMs(config.RATE_LIMIT_PER_MINUTE)) return false
    this.state.set('notice_at', now)
    return true
  }

  /** Counts one model call for this sender on `day` (the per-sender daily cap). */
  chargeLlm(day: string): void {
    this.state.set('llm_calls', llmCallsOn(this.state, day) + 1)
    this.state.set('llm_day', day)
  }

  /** True (and remembered) the first time on `day` that this sender is told the budget is spent. */
  takeBudgetNotice(day: string): boolean {
    if (this.state.get('budget_notice_day') === day) return false
    this.state.set('budget_notice_day', day)
    return true
  }
}
