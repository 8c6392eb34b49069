import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'

describe('smoke', () => {
  it('serves healthz', async () => {
    const res = await exports.default.fetch('https://worker.test/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', missing: [] })
  })
})
