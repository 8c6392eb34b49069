import { describe, expect, it } from 'vitest'
import { healthStatusCode } from '../../src/http/health-status'

describe('/healthz status code', () => {
  it('is 200 when everything is fine', () => {
    expect(healthStatusCode([])).toBe(200)
  })

  it('stays 200 while degraded but still answering', () => {
    expect(healthStatusCode(['token_expires_within_7_days', 'llm_budget_exhausted'])).toBe(200)
  })

  it('is 503 when no reply can be sent', () => {
    for (const reason of ['misconfigured', 'token_invalid', 'token_expired', 'app_deauthorized', 'account_object_unreachable']) {
      expect(healthStatusCode(['llm_budget_exhausted', reason])).toBe(503)
    }
  })

  it('does not turn an unknown reason into an outage', () => {
    expect(healthStatusCode(['something_new'])).toBe(200)
  })
})
