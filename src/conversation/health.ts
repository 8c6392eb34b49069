/**
 * The account's health as /healthz shows it, cached per isolate for a few seconds: /healthz is
 * public, and without the cache every request (anyone's) would wake the account object that
 * every reply depends on. Whatever this isolate changes (a reply, a deauthorization, a rejected
 * token) drops the cached value at once.
 */
import type { Config } from '../core/config'
import type { AccountStatus } from './account'

/** Long enough that a flood of /healthz costs one object call per isolate every few seconds. */
export const HEALTH_CACHE_MS = 5_000

const cache = new Map<string, { at: number; token: string; value: Promise<AccountStatus | null> }>()

/** The account's status, or null when its object cannot be reached. */
export function accountHealth(env: Env, config: Config, now = Date.now()): Promise<AccountStatus | null> {
  const hit = cache.get(config.IG_ACCOUNT_ID)
  // A newly configured token (which may end a deauthorization) is never answered from the cache.
  if (hit && now - hit.at < HEALTH_CACHE_MS && hit.token === (config.IG_ACCESS_TOKEN ?? '')) return hit.value
  const value = env.ACCOUNT.getByName(config.IG_ACCOUNT_ID)
    .status(config.LLM_DAILY_BUDGET, now, config.IG_ACCESS_TOKEN)
    .catch(() => {
      // An unreachable object is reported, and asked again on the next request.
      cache.delete(config.IG_ACCOUNT_ID)
      return null
    })
  cache.set(config.IG_ACCOUNT_ID, { at: now, token: config.IG_ACCESS_TOKEN ?? '', value })
  return value
}

export function forgetAccountHealth(accountId: string): void {
  cache.delete(accountId)
}
