import { Hono } from 'hono'
import { flatRecordingLogger } from '../helpers/recording-log'
import { beforeEach, describe, expect, it } from 'vitest'
import { hashId, resetLogSampling } from '../../src/core/log'
import { confirmationCode, createMetaCallbacks, type DeletionRecord, type MetaCallbackDeps } from '../../src/http/meta-callbacks'
import { signSignedRequest } from '../../src/meta/signed-request'

const SECRET = 'test-app-secret'
const PREVIOUS = 'previous-app-secret'
const USER = '17841400000000042'
const NOW = Date.UTC(2026, 3, 1, 9, 30, 0)
const ORIGIN = 'https://worker.test'

// Rejections are logged sampled per isolate and minute; each test sees its own.
beforeEach(() => resetLogSampling())

function memoryDeps(overrides: Partial<MetaCallbackDeps> = {}) {
  const log = flatRecordingLogger()
  const lines = log.lines
  const erased: string[] = []
  const deauthorized: string[] = []
  const deletions = new Map<string, DeletionRecord>()
  const saves: Array<[string, DeletionRecord]> = []
  let lookups = 0
  const deps: MetaCallbackDeps = {
    secrets: [SECRET, PREVIOUS],
    now: () => NOW,
    log,
    hashKey: SECRET,
    eraseUser: async (id) => {
      erased.push(id)
    },
    isServedAccount: (id) => id === USER,
    deauthorize: async (id) => {
      deauthorized.push(id)
    },
    saveDeletion: async (code, rec) => {
      saves.push([code, { ...rec }])
      deletions.set(code, { ...rec })
    },
    getDeletion: async (code) => {
      lookups++
      return deletions.get(code) ?? null
    },
    ...overrides,
  }
  return { deps, lines, erased, deauthorized, deletions, saves, lookups: () => lookups }
}

const claims = (extra: Record<string, unknown> = {}) => ({
  algorithm: 'HMAC-SHA256',
  issued_at: Math.floor(NOW / 1000) - 5,
  user_id: USER,
  ...extra,
})

async function form(path: string, signedRequest: string | null, init: { headers?: Record<string, string> } = {}) {
  const body = signedRequest === null ? 'other=1' : new URLSearchParams({ signed_request: signedRequest }).toString()
  return new Request(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...init.headers },
    body,
  })
}

describe('POST /meta/data-deletion', () => {
  it('erases the user and answers with a status URL and an unguessable confirmation code', async () => {
    const m = memoryDeps()
    const app = createMetaCallbacks(m.deps)
    const res = await app.request(await form('/meta/data-deletion', await signSignedRequest(claims(), SECRET)))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { url: string; confirmation_code: string }
    expect(Object.keys(body).sort()).toEqual(['confirmation_code', 'url'])
    expect(body.confirmation_code).toMatch(/^[A-Za-z0-9]{22}$/)
    expect(body.url).toBe(`${ORIGIN}/meta/data-deletion/status?code=${body.confirmation_code}`)
    expect(m.erased).toEqual([USER])
    expect(m.saves).toEqual([
      [body.confirmation_code, { status: 'pending', at: NOW }],
      [body.confirmation_code, { status: 'completed', at: NOW }],
    ])
  })

  it('logs a hashed user id, never the raw one', async () => {
    const m = memoryDeps()
    await createMetaCallbacks(m.deps).request(await form('/meta/data-deletion', await signSignedRequest(claims(), SECRET)))
    expect(m.lines).toContainEqual(
      expect.objectContaining({ event: 'data_deletion', outcome: 'completed', user: await hashId(USER, SECRET) })
    )
    expect(JSON.stringify(m.lines)).not.toContain(USER)
  })

  it('accepts a request signed with the previous secret', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/data-deletion', await signSignedRequest(claims(), PREVIOUS))
    )
    expect(res.status).toBe(200)
    expect(m.erased).toEqual([USER])
  })

  it('uses the configured public origin for the status URL', async () => {
    const m = memoryDeps({ publicOrigin: 'https://bot.example.com/' })
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/data-deletion', await signSignedRequest(claims(), SECRET))
    )
    const body = (await res.json()) as { url: string }
    expect(body.url).toMatch(/^https:\/\/bot\.example\.com\/meta\/data-deletion\/status\?code=[A-Za-z0-9]{22}$/)
  })

  it('answers each request with a new code', async () => {
    const m = memoryDeps()
    const app = createMetaCallbacks(m.deps)
    const sr = await signSignedRequest(claims(), SECRET)
    const a = (await (await app.request(await form('/meta/data-deletion', sr))).json()) as { confirmation_code: string }
    const b = (await (await app.request(await form('/meta/data-deletion', sr))).json()) as { confirmation_code: string }
    expect(a.confirmation_code).not.toBe(b.confirmation_code)
    expect(m.erased).toEqual([USER, USER])
  })

  it('reads the field from a multipart form too', async () => {
    const m = memoryDeps()
    const fd = new FormData()
    fd.set('signed_request', await signSignedRequest(claims(), SECRET))
    const res = await createMetaCallbacks(m.deps).request(`${ORIGIN}/meta/data-deletion`, { method: 'POST', body: fd })
    expect(res.status).toBe(200)
    expect(m.erased).toEqual([USER])
  })

  it('refuses a forged request with 401 and erases nothing', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/data-deletion', await signSignedRequest(claims(), 'attacker-secret'))
    )
    expect(res.status).toBe(401)
    expect(await res.text()).toBe('Unauthorized')
    expect(m.erased).toEqual([])
    expect(m.saves).toEqual([])
    expect(m.lines).toContainEqual(expect.objectContaining({ event: 'data_deletion', outcome: 'rejected', reason: 'bad_signature' }))
  })

  it('refuses stale and future requests with 401', async () => {
    const m = memoryDeps()
    const app = createMetaCallbacks(m.deps)
    const old = await signSignedRequest(claims({ issued_at: Math.floor(NOW / 1000) - 3601 }), SECRET)
    const future = await signSignedRequest(claims({ issued_at: Math.floor(NOW / 1000) + 301 }), SECRET)
    expect((await app.request(await form('/meta/data-deletion', old))).status).toBe(401)
    expect((await app.request(await form('/meta/data-deletion', future))).status).toBe(401)
    expect(m.erased).toEqual([])
  })

  it('refuses malformed requests with 400 and a generic body', async () => {
    const m = memoryDeps()
    const app = createMetaCallbacks(m.deps)
    const valid = await signSignedRequest(claims(), SECRET)
    const cases: Array<string | null> = [
      null,
      '',
      `${valid}=`,
      valid.replace('.', ''),
      `${valid}.x`,
      await signSignedRequest(claims({ algorithm: 'HMAC-SHA1' }), SECRET),
      await signSignedRequest(claims({ user_id: undefined }), SECRET),
      await signSignedRequest(['not', 'an', 'object'], SECRET),
    ]
    for (const sr of cases) {
      const res = await app.request(await form('/meta/data-deletion', sr))
      expect(res.status).toBe(400)
      expect(await res.text()).toBe('Bad Request')
    }
    const json = await app.request(`${ORIGIN}/meta/data-deletion`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ signed_request: valid }),
    })
    expect(json.status).toBe(400)
    expect(m.erased).toEqual([])
  })

  it('refuses an oversized body with 413 before verifying', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(`${ORIGIN}/meta/data-deletion`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `signed_request=${'a'.repeat(20_000)}`,
    })
    expect(res.status).toBe(413)
  })

  it('answers 500 when erasure fails, leaving the code pending', async () => {
    const m = memoryDeps({
      eraseUser: async () => {
        throw new Error(`storage down for ${USER}`)
      },
    })
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/data-deletion', await signSignedRequest(claims(), SECRET))
    )
    expect(res.status).toBe(500)
    expect(await res.text()).toBe('Internal Server Error')
    expect([...m.deletions.values()]).toEqual([{ status: 'pending', at: NOW }])
    expect(JSON.stringify(m.lines)).not.toContain(USER)
  })

  it('answers 503 when the dependencies cannot be built', async () => {
    const app = createMetaCallbacks(() => null)
    const res = await app.request(await form('/meta/data-deletion', await signSignedRequest(claims(), SECRET)))
    expect(res.status).toBe(503)
  })
})

describe('GET /meta/data-deletion/status', () => {
  async function deleted() {
    const m = memoryDeps()
    const app = createMetaCallbacks(m.deps)
    const res = await app.request(await form('/meta/data-deletion', await signSignedRequest(claims(), SECRET)))
    const { confirmation_code } = (await res.json()) as { confirmation_code: string }
    return { m, app, code: confirmation_code }
  }

  it('reports a completed deletion without personal data', async () => {
    const { app, code } = await deleted()
    const res = await app.request(`${ORIGIN}/meta/data-deletion/status?code=${code}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ confirmation_code: code, status: 'completed', updated_at: new Date(NOW).toISOString() })
    expect(text).not.toContain(USER)
  })

  it('serves a small HTML page to browsers', async () => {
    const { app, code } = await deleted()
    const res = await app.request(`${ORIGIN}/meta/data-deletion/status?code=${code}`, {
      headers: { accept: 'text/html,application/xhtml+xml' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'")
    const html = await res.text()
    expect(html).toContain(code)
    expect(html).toContain('has been deleted')
    expect(html).not.toContain(USER)
  })

  it('answers 404 for an unknown code', async () => {
    const { app } = await deleted()
    const res = await app.request(`${ORIGIN}/meta/data-deletion/status?code=${'A'.repeat(22)}`)
    expect(res.status).toBe(404)
  })

  it('answers 404 for a missing or malformed code without looking it up', async () => {
    const { m, app } = await deleted()
    for (const q of ['', '?code=', '?code=short', `?code=${'A'.repeat(21)}%27`, `?code=${'a'.repeat(65)}`]) {
      expect((await app.request(`${ORIGIN}/meta/data-deletion/status${q}`)).status).toBe(404)
    }
    expect(m.lookups()).toBe(0)
  })
})

describe('POST /meta/deauthorize', () => {
  it('verifies the request, deauthorizes the user and logs a hashed id', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/deauthorize', await signSignedRequest(claims({ profile_id: '1', user: { country: 'de', locale: 'de_DE' } }), SECRET))
    )
    expect(res.status).toBe(200)
    expect(m.deauthorized).toEqual([USER])
    expect(m.erased).toEqual([])
    expect(m.lines).toContainEqual(
      expect.objectContaining({ event: 'deauthorize', outcome: 'completed', user: await hashId(USER, SECRET) })
    )
    expect(JSON.stringify(m.lines)).not.toContain(USER)
  })

  it('acknowledges the removal by any other user and deauthorizes nothing', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/deauthorize', await signSignedRequest(claims({ user_id: '17841400000000099' }), SECRET))
    )
    expect(res.status).toBe(200)
    expect(m.deauthorized).toEqual([])
    expect(m.lines).toContainEqual(expect.objectContaining({ event: 'deauthorize', outcome: 'ignored_other_user' }))
    expect(JSON.stringify(m.lines)).not.toContain('17841400000000099')
  })

  it('refuses a forged request and deauthorizes nobody', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(
      await form('/meta/deauthorize', await signSignedRequest(claims(), 'attacker-secret'))
    )
    expect(res.status).toBe(401)
    expect(m.deauthorized).toEqual([])
  })

  it('refuses a malformed request with 400', async () => {
    const m = memoryDeps()
    const res = await createMetaCallbacks(m.deps).request(await form('/meta/deauthorize', 'not-a-signed-request'))
    expect(res.status).toBe(400)
    expect(m.deauthorized).toEqual([])
  })
})

describe('mounting', () => {
  it('builds its dependencies from the parent app context', async () => {
    const m = memoryDeps()
    type E = { Bindings: { SECRET: string } }
    const parent = new Hono<E>()
    parent.route('/', createMetaCallbacks<E>((c) => ({ ...m.deps, secrets: [c.env.SECRET] })))
    const req = await form('/meta/deauthorize', await signSignedRequest(claims(), 'secret-from-env'))
    expect((await parent.request(req, undefined, { SECRET: 'secret-from-env' })).status).toBe(200)
    expect(m.deauthorized).toEqual([USER])
  })
})

describe('confirmationCode', () => {
  it('is 22 alphanumeric characters and does not repeat', () => {
    const codes = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const code = confirmationCode()
      expect(code).toMatch(/^[A-Za-z0-9]{22}$/)
      codes.add(code)
    }
    expect(codes.size).toBe(500)
  })

  it('uses the whole alphabet', () => {
    const seen = new Set(Array.from({ length: 200 }, () => confirmationCode()).join(''))
    expect(seen.size).toBe(62)
  })
})
