/**
 * The HTTP status of /healthz, for uptime monitors that only look at the code: 503 when the
 * Worker cannot answer DMs at all (misconfigured, or no usable token), 200 otherwise, including
 * "degraded but working" (token expiring soon, LLM budget used up: replies still go out).
 */

/** Degraded reasons under which no reply can be sent. */
export const UNABLE_TO_SEND: ReadonlySet<string> = new Set([
  'misconfigured',
  'token_invalid',
  'token_expired',
  'app_deauthorized',
  'account_object_unreachable',
  'no_account_connected',
])

export function healthStatusCode(degraded: readonly string[]): 200 | 503 {
  return degraded.some((r) => UNABLE_TO_SEND.has(r)) ? 503 : 200
}
