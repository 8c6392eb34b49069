/**
 * Property tests: whatever Meta (or someone holding the app secret) signs, POST /webhook answers
 * 200 or 4xx, never 5xx; and no signature that was not made with the secret is ever accepted.
 */
import { exports } from 'cloudflare:workers'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseWebhook } from '../../src/meta/webhook'
import { signBody, verifySignature } from '../../src/meta/signature'
import { signedRequest } from '../helpers/sign'
import { messagingItem, metaJson, type Kind } from '../../tools/payloads'

const RUNS = 150
const SECRET = 'test-app-secret'

beforeEach(() => {
  // Hundreds of requests: keep their log lines out of the test output.
  for (const method of ['log', 'warn', 'error'] as const) vi.spyOn(console, method).mockImplementation(() => {})
})

afterEach(() => {
  vi.restoreAllMocks()
})

async function status(body: string | Uint8Array): Promise<number> {
  const res = await exports.default.fetch(await signedRequest(body))
  await res.arrayBuffer()
  return res.status
}

const KINDS: Kind[] = ['text', 'image', 'story_mention', 'story_reply', 'reply', 'quick_reply', 'reaction', 'unreact',
  'postback', 'referral', 'read', 'echo', 'unsend', 'edit', 'unsupported']

/** JSON values biased towards the fields the parser looks at, so the schema's branches get exercised. */
const field = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('instagram', 'page', '', '1569262485349', '2021-09-08T06:34:04+0000', -1, 0, 1.5, 1e21, true, null)
)
/** Mostly the well-formed value, sometimes a hostile one, so deep branches are reached. */
const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 5 }, { arbitrary: field, weight: 1 })
const realItem = fc.constantFrom(...KINDS).map((kind) => messagingItem({ kind }))
const itemKeys = [
  'sender', 'recipient', 'timestamp', 'message', 'reaction', 'postback', 'read', 'referral', 'message_edit',
]
const messageKeys = ['mid', 'text', 'attachments', 'is_echo', 'is_deleted', 'quick_reply', 'reply_to', 'referral']
const mutatedItem = fc
  .tuple(realItem, fc.constantFrom(...itemKeys), field)
  .map(([item, key, value]) => ({ ...item, [key]: value }))
const mutatedMessage = fc
  .tuple(realItem, fc.constantFrom(...messageKeys), field)
  .map(([item, key, value]) => ({ ...item, message: { ...(item.message as object), [key]: value } }))
const item = fc.oneof(
  { arbitrary: realItem, weight: 3 },
  { arbitrary: mutatedItem, weight: 2 },
  { arbitrary: mutatedMessage, weight: 2 },
  { arbitrary: field, weight: 1 }
)
const change = mostly(fc.record({ field: mostly(fc.constantFrom('comments', 'mentions')), value: field }))
const entry = mostly(
  fc.record(
    {
      id: mostly(fc.constant('17841400000000001')),
      time: mostly(fc.integer({ min: 1_500_000_000, max: 1_900_000_000_000 })),
      messaging: mostly(fc.array(item, { maxLength: 6 })),
      standby: mostly(fc.array(item, { maxLength: 3 })),
      changes: mostly(fc.array(change, { maxLength: 3 })),
    },
    { requiredKeys: ['id'] }
  )
)
const envelope = fc.record({
  object: mostly(fc.constant('instagram')),
  entry: mostly(fc.array(entry, { maxLength: 5 })),
})

describe('POST /webhook never answers 5xx to a validly signed body', () => {
  it('for arbitrary JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.json({ maxDepth: 4 }), async (body) => {
        const code = await status(body)
        expect([200, 400]).toContain(code)
      }),
      { numRuns: RUNS }
    )
  })

  it('for arbitrary serialised JavaScript values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything({ maxDepth: 3 }), async (value) => {
        // fc.anything without bigint or cycles always serialises; undefined becomes invalid JSON.
        const body = JSON.stringify(value) ?? 'undefined'
        const code = await status(body)
        expect([200, 400]).toContain(code)
      }),
      { numRuns: RUNS }
    )
  })

  it('for webhook-shaped bodies with hostile fields, in Meta escaping and plain JSON', async () => {
    await fc.assert(
      fc.asyncProperty(envelope, fc.boolean(), async (payload, escape) => {
        const json = JSON.stringify(payload)
        const body = escape ? metaJson(payload) : json
        const code = await status(body)
        expect([200, 400]).toContain(code)
        // A well-formed instagram envelope is always acknowledged, whatever is inside it.
        const parsed = parseWebhook(JSON.parse(json))
        if (parsed.ok) expect(code).toBe(200)
      }),
      { numRuns: RUNS }
    )
  })

  it('for random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const code = await status(bytes)
        expect(code).toBeGreaterThanOrEqual(200)
        expect(code).toBeLessThan(500)
      }),
      { numRuns: RUNS }
    )
  })
})

describe('verifySignature never accepts a signature not made with the secret', () => {
  const hexDigit = fc.constantFrom(...'0123456789abcdefABCDEF')
  const body = fc.uint8Array({ maxLength: 512 })
  const header = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => `sha256=${s}`))

  it('for random 64-digit hex digests', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.string({ unit: hexDigit, minLength: 64, maxLength: 64 }), async (bytes, hex) => {
        expect(await verifySignature(bytes, `sha256=${hex}`, [SECRET])).toBe(false)
      }),
      { numRuns: RUNS }
    )
  })

  it('for arbitrary header strings', async () => {
    await fc.assert(
      fc.asyncProperty(body, header, async (bytes, value) => {
        expect(await verifySignature(bytes, value, [SECRET])).toBe(false)
      }),
      { numRuns: RUNS }
    )
  })

  it('for the right signature with any single hex digit changed', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.nat({ max: 63 }), fc.integer({ min: 1, max: 15 }), async (bytes, position, delta) => {
        const good = await signBody(bytes, SECRET)
        const hex = good.slice(7)
        const digit = ((parseInt(hex[position]!, 16) + delta) % 16).toString(16)
        const bad = `sha256=${hex.slice(0, position)}${digit}${hex.slice(position + 1)}`
        expect(await verifySignature(bytes, good, [SECRET])).toBe(true)
        expect(await verifySignature(bytes, bad, [SECRET])).toBe(false)
      }),
      { numRuns: RUNS }
    )
  })

  it('for the right signature of a different body', async () => {
    await fc.assert(
      fc.asyncProperty(body, body, async (signed, sent) => {
        fc.pre(signed.length !== sent.length || signed.some((b, i) => b !== sent[i]))
        expect(await verifySignature(sent, await signBody(signed, SECRET), [SECRET])).toBe(false)
      }),
      { numRuns: RUNS }
    )
  })

  it('for signatures made with any other secret', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.string({ minLength: 1 }), async (bytes, other) => {
        fc.pre(other !== SECRET)
        expect(await verifySignature(bytes, await signBody(bytes, other), [SECRET])).toBe(false)
      }),
      { numRuns: RUNS }
    )
  })
})
