/**
 * The Worker's routes end to end in workerd, through `exports.default.fetch`: handshake, the
 * POST /webhook security order (size, signature, JSON, shape), acknowledgement of every real
 * payload kind, configuration errors (503) and /healthz. Assertions stay on status, body and logs.
 */
import { env, exports } from 'cloudflare:workers'
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp, VERSION } from '../../src/http/app'
import { resetLogSampling } from '../../src/core/log'
import { MAX_WEBHOOK_BYTES } from '../../src/http/body'
import { signBody } from '../../src/meta/signature'
import { APP_SECRET, signedRequest } from '../helpers/sign'
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_SENDER_ID,
  delivery,
  messagingItem,
  metaJson,
  type Kind,
  commentChange,
} from '../../tools/payloads'

const BASE = 'https://worker.test'
const VERIFY_TOKEN = 'test-verify-token'
const CHALLENGE = '1158201444'
const TEST_SECRET_VALUES = ['test-app-secret', 'test-verify-token', 'test-ig-token', 'test-openai-key']

const ALL_KINDS: Kind[] = [
  'text', 'image', 'video', 'audio', 'file', 'share', 'ig_reel', 'reel', 'ig_post', 'ig_story',
  'story_mention', 'story_reply', 'reply', 'quick_reply', 'unsupported', 'reaction', 'unreact',
  'postback', 'ice_breaker', 'referral', 'read', 'echo', 'unsend', 'edit',
]

type LogLine = Record<string, unknown> & { level: string; event: string }
let lines: LogLine[]

beforeEach(() => {
  lines = []
  // Each test sees its own rejections logged (they are sampled per isolate and minute).
  resetLogSampling()
  // Capture (and silence) the structured log; every line must be one JSON object.
  for (const method of ['log', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      // Never throw from here: that would turn a log call into a 500 and hide the real failure.
      try {
        lines.push(JSON.parse(String(args[0])) as LogLine)
      } catch {
        lines.push({ level: 'invalid', event: '(not one JSON object)', raw: args.map(String).join(' ') })
      }
    })
  }
})

afterEach(() => {
  vi.restoreAllMocks()
})

const logged = (event: string) => lines.filter((l) => l.event === event)

/** The query Meta sends when the webhook is configured, with `overrides` applied. */
const subscribe = (overrides: Record<string, string> = {}) => ({
  'hub.mode': 'subscribe',
  'hub.verify_token': VERIFY_TOKEN,
  'hub.challenge': CHALLENGE,
  ...overrides,
})

function handshake(params: Record<string, string>): Promise<Response> {
  return exports.default.fetch(`${BASE}/webhook?${new URLSearchParams(params)}`)
}

async function post(body: string | Uint8Array, init?: Parameters<typeof signedRequest>[1]): Promise<Response> {
  return exports.default.fetch(await signedRequest(body, init))
}

function rawPost(body: BodyInit | null, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}/webhook`, { method: 'POST', body, headers }))
}

/** A stream of `total` bytes in 64 KiB chunks that counts how many chunks were pulled. */
function countingStream(total: number) {
  const chunk = new Uint8Array(64 * 1024).fill(0x20)
  const state = { pulled: 0, cancelled: false }
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled * chunk.byteLength >= total) return controller.close()
      state.pulled++
      controller.enqueue(chunk.slice())
    },
    cancel() {
      state.cancelled = true
    },
  })
  return { stream, state, chunks: Math.ceil(total / chunk.byteLength) }
}

describe('GET /webhook (subscription handshake)', () => {
  it('echoes hub.challenge as text/plain when mode is subscribe and the token matches', async () => {
    const res = await handshake(subscribe())
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe(CHALLENGE)
    expect(logged('subscription_verified')).toHaveLength(1)
  })

  it('echoes a non-numeric challenge verbatim', async () => {
    const challenge = 'abc-DEF_123.xyz'
    const res = await handshake(subscribe({ 'hub.challenge': challenge }))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(challenge)
  })

  const forbidden: [string, Record<string, string>][] = [
    ['a wrong token', subscribe({ 'hub.verify_token': 'guess' })],
    ['a token prefix', subscribe({ 'hub.verify_token': 'test-verify-toke' })],
    ['a token with a suffix', subscribe({ 'hub.verify_token': `${VERIFY_TOKEN}x` })],
    ['a token in other case', subscribe({ 'hub.verify_token': VERIFY_TOKEN.toUpperCase() })],
    ['an empty token', subscribe({ 'hub.verify_token': '' })],
    ['no token', { 'hub.mode': 'subscribe', 'hub.challenge': CHALLENGE }],
    ['mode unsubscribe', subscribe({ 'hub.mode': 'unsubscribe' })],
    ['no mode', { 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': CHALLENGE }],
    ['mode in other case', subscribe({ 'hub.mode': 'SUBSCRIBE' })],
    ['underscored parameter names', { hub_mode: 'subscribe', hub_verify_token: VERIFY_TOKEN, hub_challenge: CHALLENGE }],
  ]

  it.each(forbidden)('answers 403 without the challenge for %s', async (_, params) => {
    const res = await handshake(params)
    expect(res.status).toBe(403)
    const body = await res.text()
    expect(body).not.toContain(CHALLENGE)
    expect(body).not.toContain(VERIFY_TOKEN)
  })

  it('answers 403 when the challenge is missing', async () => {
    const res = await handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN })
    expect(res.status).toBe(403)
  })

  it('refuses to echo an oversized challenge', async () => {
    const challenge = '9'.repeat(257)
    const res = await handshake(subscribe({ 'hub.challenge': challenge }))
    expect(res.status).toBe(403)
    expect(await res.text()).not.toContain(challenge)
  })

  it('logs a rejected handshake without the token or the challenge', async () => {
    await handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': 'guessed-token-9', 'hub.challenge': CHALLENGE })
    expect(logged('subscription_rejected')).toEqual([
      expect.objectContaining({ level: 'warn', mode_ok: true, token_ok: false }),
    ])
    expect(JSON.stringify(lines)).not.toContain('guessed-token-9')
    expect(JSON.stringify(lines)).not.toContain(CHALLENGE)
  })
})

describe('POST /webhook signature (401)', () => {
  const body = JSON.stringify(delivery([messagingItem({ kind: 'text' })]))

  it('rejects an unsigned delivery', async () => {
    const res = await rawPost(body, { 'content-type': 'application/json' })
    expect(res.status).toBe(401)
    expect(await res.text()).toBe('Unauthorized')
    expect(logged('signature_rejected')).toEqual([expect.objectContaining({ reason: 'missing_header' })])
  })

  it('rejects a delivery signed with another secret', async () => {
    const res = await post(body, { secret: 'forged-secret' })
    expect(res.status).toBe(401)
    expect(await res.text()).toBe('Unauthorized')
    expect(logged('signature_rejected')).toEqual([expect.objectContaining({ reason: 'mismatch_or_malformed' })])
  })

  it('rejects a body that was changed after signing', async () => {
    const signature = await signBody(body, APP_SECRET)
    const tampered = body.replace('Sunday', 'Monday')
    expect(tampered).not.toBe(body)
    const res = await rawPost(tampered, { 'x-hub-signature-256': signature })
    expect(res.status).toBe(401)
  })

  it('rejects a delivery that carries only a correct SHA-1 X-Hub-Signature', async () => {
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(APP_SECRET),
      { name: 'HMAC', hash: 'SHA-1' },
      false,
      ['sign']
    )
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)))
    const sha1 = `sha1=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`
    const res = await rawPost(body, { 'x-hub-signature': sha1 })
    expect(res.status).toBe(401)
    expect(logged('signature_rejected')).toEqual([expect.objectContaining({ sha1_header_only: true })])
  })

  it.each([
    ['a wrong prefix', async () => (await signBody(body, APP_SECRET)).replace('sha256=', 'sha1=')],
    ['a truncated digest', async () => (await signBody(body, APP_SECRET)).slice(0, -2)],
    ['a non-hex digest', async () => `sha256=${'z'.repeat(64)}`],
  ])('rejects %s', async (_, header) => {
    const res = await rawPost(body, { 'x-hub-signature-256': await header() })
    expect(res.status).toBe(401)
  })

  it('accepts an upper-case hex signature of the right MAC', async () => {
    const signature = await signBody(body, APP_SECRET)
    const res = await rawPost(body, { 'x-hub-signature-256': `sha256=${signature.slice(7).toUpperCase()}` })
    expect(res.status).toBe(200)
  })
})

describe('POST /webhook size cap (413)', () => {
  it('refuses a signed body one byte over 1 MiB', async () => {
    const big = new Uint8Array(MAX_WEBHOOK_BYTES + 1).fill(0x20)
    const res = await post(big)
    expect(res.status).toBe(413)
    expect(logged('webhook_too_large')).toHaveLength(1)
  })

  it('refuses a signed 2 MiB JSON delivery', async () => {
    const text = 'x'.repeat(2 * 1024 * 1024)
    const res = await post(JSON.stringify(delivery([messagingItem({ kind: 'text', text })])))
    expect(res.status).toBe(413)
  })

  it('accepts a signed body of exactly 1 MiB', async () => {
    const head = '{"object":"instagram","entry":[],"pad":"'
    const tail = '"}'
    const exact = head + 'x'.repeat(MAX_WEBHOOK_BYTES - head.length - tail.length) + tail
    expect(new TextEncoder().encode(exact).byteLength).toBe(MAX_WEBHOOK_BYTES)
    const res = await post(exact)
    expect(res.status).toBe(200)
  })

  it('checks size before the signature, so an oversized unsigned body is 413 not 401', async () => {
    const res = await rawPost(new Uint8Array(MAX_WEBHOOK_BYTES + 1))
    expect(res.status).toBe(413)
  })

  it('cuts off a streamed body without Content-Length instead of buffering it whole', async () => {
    const { stream, state, chunks } = countingStream(16 * 1024 * 1024)
    const request = new Request(`${BASE}/webhook`, {
      method: 'POST',
      body: stream,
      headers: { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
    })
    expect(request.headers.get('content-length')).toBeNull()
    const res = await exports.default.fetch(request)
    expect(res.status).toBe(413)
    // 1 MiB is 16 chunks; reading stops soon after, far short of the 256 chunks on offer.
    expect(state.pulled).toBeGreaterThanOrEqual(16)
    expect(state.pulled).toBeLessThan(chunks / 2)
  })

  it('refuses a declared Content-Length over 1 MiB before reading the body', async () => {
    const app = createApp()
    const { stream, state } = countingStream(16 * 1024)
    const request = new Request(`${BASE}/webhook`, {
      method: 'POST',
      body: stream,
      headers: { 'content-length': String(MAX_WEBHOOK_BYTES + 1) },
    })
    const ctx = createExecutionContext()
    const res = await app.request(request, undefined, env, ctx)
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(413)
    expect(state.pulled).toBeLessThanOrEqual(1)
  })
})

describe('POST /webhook parsing (400)', () => {
  it.each([
    ['truncated JSON', '{"object":"instagram","entry":['],
    ['plain text', 'hello'],
    ['an empty body', ''],
    ['JSON with a trailing comma', '{"object":"instagram","entry":[],}'],
  ])('answers 400 to %s behind a valid signature, and logs it', async (_, body) => {
    const res = await post(body)
    expect(res.status).toBe(400)
    expect(await res.text()).toBe('Bad Request')
    expect(logged('webhook_bad_json')).toHaveLength(1)
  })

  it('answers 400 to invalid UTF-8 behind a valid signature', async () => {
    const res = await post(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
    expect(res.status).toBe(400)
  })

  it.each([
    ['{}'],
    ['[]'],
    ['null'],
    ['"instagram"'],
    ['42'],
    ['{"object":"instagram"}'],
    ['{"entry":[]}'],
    ['{"object":"instagram","entry":{}}'],
  ])('answers 400 to valid JSON that is not a webhook envelope: %s', async (body) => {
    const res = await post(body)
    expect(res.status).toBe(400)
    expect(logged('webhook_bad_shape')).toHaveLength(1)
  })
})

describe('POST /webhook acknowledgement (200)', () => {
  it.each(ALL_KINDS)('acknowledges a real %s delivery', async (kind) => {
    const res = await post(metaJson(delivery([messagingItem({ kind })])))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('EVENT_RECEIVED')
    expect(logged('webhook_received')).toEqual([expect.objectContaining({ events: 1, skipped: 0 })])
  })

  it('acknowledges a batch of every kind over several entries and hands on every event', async () => {
    const entry = ['17841400000000001', '17841400000000002'].map((id) => ({
      id,
      time: Date.now(),
      messaging: ALL_KINDS.map((kind) => messagingItem({ kind, accountId: id })),
      standby: [messagingItem({ kind: 'text', accountId: id })],
      changes: [commentChange({ accountId: id, text: 'nice' })],
    }))
    const res = await post(metaJson({ object: 'instagram', entry }))
    expect(res.status).toBe(200)
    expect(logged('webhook_received')).toEqual([
      expect.objectContaining({ events: 2 * (ALL_KINDS.length + 2), skipped: 0 }),
    ])
  })

  it('acknowledges a raw UTF-8 body with emoji, Arabic and CJK', async () => {
    const text = '\u{1F44B}\u{1F3FD} مرحبا 你好 こんにちは'
    const res = await post(JSON.stringify(delivery([messagingItem({ kind: 'text', text })])))
    expect(res.status).toBe(200)
  })

  it('acknowledges object "page" and logs it as not handled', async () => {
    const res = await post(JSON.stringify({ ...delivery([messagingItem({ kind: 'text' })]), object: 'page' }))
    expect(res.status).toBe(200)
    expect(logged('webhook_object_not_handled')).toEqual([expect.objectContaining({ object: 'page' })])
    expect(logged('webhook_received')).toEqual([])
  })

  it('acknowledges a delivery with bad items, logging each skip and keeping the good ones', async () => {
    const body = JSON.stringify({
      object: 'instagram',
      entry: [null, { id: DEFAULT_ACCOUNT_ID, messaging: [null, messagingItem({ kind: 'text' }), { sender: 1 }] }],
    })
    const res = await post(body)
    expect(res.status).toBe(200)
    expect(logged('webhook_item_skipped')).toHaveLength(3)
    expect(logged('webhook_received')).toEqual([expect.objectContaining({ events: 1, skipped: 3 })])
  })

  it.each([
    ['an empty entry list', { object: 'instagram', entry: [] }],
    ['entries of every JSON type', { object: 'instagram', entry: [null, 0, '', [], {}, true] }],
    ['an unknown event kind', delivery([{ sender: { id: '1' }, recipient: { id: '2' }, timestamp: 1, optin: {} }])],
    ['an unknown object', { object: 'whatsapp_business_account', entry: [{}] }],
    [
      'a 300-entry batch',
      {
        object: 'instagram',
        entry: Array.from({ length: 300 }, () => ({
          id: DEFAULT_ACCOUNT_ID,
          messaging: [messagingItem({ kind: 'text' })],
        })),
      },
    ],
  ])('acknowledges hostile but signed %s with 200', async (_, payload) => {
    const res = await post(JSON.stringify(payload))
    expect(res.status).toBe(200)
  })

  it('verifies a Meta-escaped body over its bytes through the route, and refuses it re-serialised', async () => {
    const raw = metaJson(delivery([messagingItem({ kind: 'text', text: 'Öffnungszeiten? https://x.example/ä' })]))
    const signature = await signBody(raw, APP_SECRET)
    expect((await rawPost(raw, { 'x-hub-signature-256': signature })).status).toBe(200)
    const reserialised = JSON.stringify(JSON.parse(raw))
    expect((await rawPost(reserialised, { 'x-hub-signature-256': signature })).status).toBe(401)
  })

  it('never logs the message text, raw Instagram ids or secrets', async () => {
    const app = createApp()
    const ctx = createExecutionContext()
    const text = 'my private question about order 4711'
    const request = await signedRequest(JSON.stringify(delivery([messagingItem({ kind: 'text', text })])))
    const res = await app.request(request, undefined, env, ctx)
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(200)
    const all = JSON.stringify(lines)
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.filter((l) => l.level === 'invalid')).toEqual([])
    expect(all).not.toContain('private question')
    expect(all).not.toContain(DEFAULT_SENDER_ID)
    expect(all).not.toContain(DEFAULT_ACCOUNT_ID)
    for (const value of TEST_SECRET_VALUES) expect(all).not.toContain(value)
  })

  it('uses cf-ray as the request id in its log lines', async () => {
    const body = JSON.stringify(delivery([messagingItem({ kind: 'read' })]))
    await post(body, { headers: { 'cf-ray': '8f00ba4c0ffee-AMS' } })
    expect(logged('webhook_received')).toEqual([expect.objectContaining({ request_id: '8f00ba4c0ffee-AMS' })])
  })
})

describe('secret rotation through the route', () => {
  it('accepts deliveries signed with APP_SECRET_PREVIOUS while it is set, and the current secret too', async () => {
    const app = createApp()
    const rotating = { ...env, APP_SECRET_PREVIOUS: 'the-old-app-secret' }
    const body = JSON.stringify(delivery([messagingItem({ kind: 'text' })]))
    for (const secret of ['the-old-app-secret', APP_SECRET]) {
      const ctx = createExecutionContext()
      const res = await app.request(await signedRequest(body, { secret }), undefined, rotating, ctx)
      await waitOnExecutionContext(ctx)
      expect(res.status).toBe(200)
    }
  })

  it('rejects the old secret once APP_SECRET_PREVIOUS is removed', async () => {
    const body = JSON.stringify(delivery([messagingItem({ kind: 'text' })]))
    const res = await post(body, { secret: 'the-old-app-secret' })
    expect(res.status).toBe(401)
  })
})

describe('missing configuration (503)', () => {
  // Only the non-secret vars from wrangler.toml: what a fresh deploy without `wrangler secret put` sees.
  const unconfigured = () =>
    ({
      IG_ACCOUNT_ID: 'me',
      GRAPH_API_BASE: 'https://graph.instagram.com',
      GRAPH_API_VERSION: 'v25.0',
    }) as unknown as Env

  async function call(path: string, init: RequestInit, bindings: Env) {
    const ctx = createExecutionContext()
    const res = await createApp().request(path, init, bindings, ctx)
    await waitOnExecutionContext(ctx)
    return res
  }

  it('answers a signed delivery with 503 so Meta redelivers, and logs every missing name', async () => {
    const body = JSON.stringify(delivery([messagingItem({ kind: 'text' })]))
    const signature = await signBody(body, APP_SECRET)
    const headers = { 'x-hub-signature-256': signature }
    const res = await call('/webhook', { method: 'POST', body, headers }, unconfigured())
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('Service Unavailable')
    const errors = logged('config_error')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.level).toBe('error')
    for (const name of ['APP_SECRET', 'VERIFY_TOKEN', 'IG_ACCESS_TOKEN', 'OPENAI_API_KEY'])
      expect(String(errors[0]!.message)).toContain(name)
  })

  it('logs the configuration error a few times a minute, not once per request anyone can send', async () => {
    for (let i = 0; i < 40; i++) await call('/webhook?hub.mode=subscribe', {}, unconfigured())
    const errors = logged('config_error')
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.length).toBeLessThanOrEqual(5)
  })

  it('answers the handshake with 503 and never the challenge', async () => {
    const query = new URLSearchParams({ 'hub.mode': 'subscribe', 'hub.verify_token': '', 'hub.challenge': CHALLENGE })
    const res = await call(`/webhook?${query}`, {}, unconfigured())
    expect(res.status).toBe(503)
    expect(await res.text()).not.toContain(CHALLENGE)
  })

  it('names what is missing or invalid without logging any value that is set', async () => {
    const partial = {
      ...unconfigured(),
      APP_SECRET: 'partial-app-secret-value',
      IG_ACCESS_TOKEN: 'partial-ig-token-value',
      GRAPH_API_VERSION: 'partial-bad-version-value',
    } as Env
    const res = await call('/webhook', { method: 'POST', body: '{}' }, partial)
    expect(res.status).toBe(503)
    const message = String(logged('config_error')[0]?.message)
    expect(message).toContain('VERIFY_TOKEN')
    expect(message).toContain('OPENAI_API_KEY')
    expect(message).toContain('GRAPH_API_VERSION')
    expect(message).not.toMatch(/missing:[^;]*APP_SECRET/)
    const all = JSON.stringify(lines)
    for (const value of ['partial-app-secret-value', 'partial-ig-token-value', 'partial-bad-version-value'])
      expect(all).not.toContain(value)
  })

  it('reports the missing names on /healthz, to the holder of HEALTHZ_TOKEN only, without any value', async () => {
    const token = 'healthz-token-for-the-tests-0123456789'
    const partial = { ...unconfigured(), APP_SECRET: 'partial-app-secret-value', HEALTHZ_TOKEN: token } as Env
    const anonymous = await call('/healthz', {}, partial)
    // 503: an uptime monitor must see that this Worker cannot answer anyone.
    expect(anonymous.status).toBe(503)
    expect(await anonymous.json()).toEqual({ status: 'misconfigured', version: VERSION })
    const res = await call('/healthz', { headers: { authorization: `Bearer ${token}` } }, partial)
    expect(res.status).toBe(503)
    const text = await res.text()
    expect(JSON.parse(text)).toMatchObject({
      status: 'misconfigured',
      version: VERSION,
      missing: expect.arrayContaining(['VERIFY_TOKEN', 'IG_ACCESS_TOKEN', 'OPENAI_API_KEY']),
      degraded: ['misconfigured'],
    })
    expect(JSON.parse(text).missing).not.toContain('APP_SECRET')
    expect(text).not.toContain('partial-app-secret-value')
  })
})

describe('GET /healthz', () => {
  it('answers the public {status, version} and no secret values', async () => {
    const res = await exports.default.fetch(`${BASE}/healthz`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ status: 'ok', version: VERSION })
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/)
    for (const value of TEST_SECRET_VALUES) expect(text).not.toContain(value)
  })

  it('gives the holder of HEALTHZ_TOKEN the detail: missing, degraded, counters, budget and token', async () => {
    const token = 'healthz-token-for-the-tests-0123456789'
    const ctx = createExecutionContext()
    const res = await createApp().request('/healthz', { headers: { authorization: `Bearer ${token}` } }, { ...env, HEALTHZ_TOKEN: token } as Env, ctx)
    await waitOnExecutionContext(ctx)
    const text = await res.text()
    const body = JSON.parse(text)
    expect(body).toMatchObject({ status: 'ok', version: VERSION, missing: [], degraded: [], actions: [] })
    expect(Object.keys(body.counters)).toEqual(expect.arrayContaining(['received', 'signature_rejected', 'duplicate', 'replied', 'send_failed', 'leak_blocked']))
    expect(body.token).toMatchObject({ flavour: 'instagram_login', invalid: false, deauthorized: false })
    for (const value of [...TEST_SECRET_VALUES, token]) expect(text).not.toContain(value)
  })
})

describe('other routes', () => {
  it('answers 404 with a generic body for unknown paths', async () => {
    const res = await exports.default.fetch(`${BASE}/admin`)
    expect(res.status).toBe(404)
    expect(await res.text()).toBe('Not Found')
  })
})
