/**
 * Known-answer tests for webhook signatures. Every expected MAC here was computed outside this
 * code (Node's crypto.createHmac, GitHub's and RFC 4231's published vectors), so a bug shared by
 * signBody and verifySignature cannot make these tests agree with themselves.
 */
import { describe, expect, it } from 'vitest'
import { parseSignatureHeader, signBody, verifySignature } from '../../src/meta/signature'
import { delivery, messagingItem, metaJson } from '../../tools/payloads'

const bytes = (s: string) => new TextEncoder().encode(s)
const SECRET = 'test-app-secret'
const PREVIOUS = 'test-app-secret-old'

// GitHub's documented webhook example (docs.github.com, "Validating webhook deliveries").
const GITHUB_SECRET = "It's a Secret to Everybody"
const GITHUB_PAYLOAD = 'Hello, World!'
const GITHUB_MAC = '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'

// RFC 4231 test case 2.
const RFC_KEY = 'Jefe'
const RFC_DATA = 'what do ya want for nothing?'
const RFC_MAC = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'

// HMAC-SHA256('test-app-secret', '') from Node.
const EMPTY_MAC = 'a7dfadfa864dba471c925e814eca5ee032a7ded01574b16ac33dd477b5d6d0f7'

// The body exactly as Meta sends it: `äöå` as \u escapes, `/` as `\/`. MAC from Node over these bytes.
const META_ESCAPED_BODY = String.raw`{"object":"instagram","entry":[{"id":"17841400000000001","time":1569262486134,"messaging":[{"sender":{"id":"1234567890123456"},"recipient":{"id":"17841400000000001"},"timestamp":1569262485349,"message":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw","text":"\u00e4\u00f6\u00e5 https:\/\/example.com\/a"}}]}]}`
const META_ESCAPED_MAC = 'f340158b1e2cc42b5e1e7b02b6f36c45ecfac95adca175fe8e86dbd5fe745664'

// Raw UTF-8 text (emoji with skin tones and a ZWJ sequence, Arabic, CJK). MAC from Node over UTF-8.
const UTF8_TEXT =
  '\u{1F44B}\u{1F3FD} \u{1F469}\u{1F3FF}\u200d\u{1F4BB} مرحبا، هل أنتم مفتوحون؟ 你好，周日营业吗？ こんにちは'
const UTF8_BODY = `{"object":"instagram","entry":[{"id":"17841400000000001","time":1569262486134,"messaging":[{"sender":{"id":"1234567890123456"},"recipient":{"id":"17841400000000001"},"timestamp":1569262485349,"message":{"mid":"m_utf8_1","text":"${UTF8_TEXT}"}}]}]}`
const UTF8_MAC = 'a766ce22f1bae1e17f6f31432810e592d26dd94d7b041baf91d9fe8d52dff8a1'

// HMAC-SHA256('test-app-secret-old', '{"object":"instagram","entry":[]}') from Node.
const ROTATION_BODY = '{"object":"instagram","entry":[]}'
const ROTATION_PREVIOUS_MAC = '71b6f03cce56aabf9961eaf3642b16b93bc6823e2fcd57a6382525c7175fe6c9'

describe('known-answer vectors', () => {
  it("accepts GitHub's documented vector", async () => {
    const ok = await verifySignature(bytes(GITHUB_PAYLOAD), `sha256=${GITHUB_MAC}`, [GITHUB_SECRET])
    expect(ok).toBe(true)
  })

  it("signs GitHub's documented vector to the published digest", async () => {
    expect(await signBody(GITHUB_PAYLOAD, GITHUB_SECRET)).toBe(`sha256=${GITHUB_MAC}`)
  })

  it('accepts and reproduces RFC 4231 test case 2', async () => {
    expect(await verifySignature(bytes(RFC_DATA), `sha256=${RFC_MAC}`, [RFC_KEY])).toBe(true)
    expect(await signBody(bytes(RFC_DATA), RFC_KEY)).toBe(`sha256=${RFC_MAC}`)
  })

  it('accepts the correct signature of an empty body', async () => {
    expect(await verifySignature(new Uint8Array(0), `sha256=${EMPTY_MAC}`, [SECRET])).toBe(true)
    expect(await signBody('', SECRET)).toBe(`sha256=${EMPTY_MAC}`)
  })

  it('rejects an empty body carrying the signature of another body', async () => {
    expect(await verifySignature(new Uint8Array(0), `sha256=${GITHUB_MAC}`, [SECRET])).toBe(false)
  })
})

describe('verifySignature', () => {
  const body = bytes(GITHUB_PAYLOAD)
  const header = `sha256=${GITHUB_MAC}`

  it('rejects a body signed with another secret', async () => {
    expect(await verifySignature(body, header, ['not the secret'])).toBe(false)
  })

  it('rejects a body that differs from the signed one by one byte', async () => {
    expect(await verifySignature(bytes('Hello, World?'), header, [GITHUB_SECRET])).toBe(false)
  })

  it('rejects a digest with one flipped bit', async () => {
    const last = parseInt(GITHUB_MAC.slice(-1), 16) ^ 1
    const flipped = `sha256=${GITHUB_MAC.slice(0, -1)}${last.toString(16)}`
    expect(await verifySignature(body, flipped, [GITHUB_SECRET])).toBe(false)
  })

  it('accepts a signature made with the previous secret while it is rotated out', async () => {
    const rotating = [SECRET, PREVIOUS]
    expect(
      await verifySignature(bytes(ROTATION_BODY), `sha256=${ROTATION_PREVIOUS_MAC}`, rotating)
    ).toBe(true)
    expect(await verifySignature(bytes(ROTATION_BODY), await signBody(ROTATION_BODY, SECRET), rotating)).toBe(
      true
    )
  })

  it('rejects the previous secret once it is no longer configured', async () => {
    const ok = await verifySignature(bytes(ROTATION_BODY), `sha256=${ROTATION_PREVIOUS_MAC}`, [SECRET])
    expect(ok).toBe(false)
  })

  it('rejects a signature made with neither the current nor the previous secret', async () => {
    const forged = await signBody(ROTATION_BODY, 'attacker-secret')
    expect(await verifySignature(bytes(ROTATION_BODY), forged, [SECRET, PREVIOUS])).toBe(false)
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['empty', ''],
  ])('rejects a missing header (%s)', async (_, missing) => {
    expect(await verifySignature(body, missing, [GITHUB_SECRET])).toBe(false)
  })

  it('rejects a SHA-1 `sha1=` signature even when it is the correct SHA-1 MAC', async () => {
    const key = await crypto.subtle.importKey(
      'raw',
      bytes(GITHUB_SECRET),
      { name: 'HMAC', hash: 'SHA-1' },
      false,
      ['sign']
    )
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body))
    const sha1 = `sha1=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`
    expect(await verifySignature(body, sha1, [GITHUB_SECRET])).toBe(false)
  })

  it.each([
    ['no prefix', GITHUB_MAC],
    ['sha1 prefix', `sha1=${GITHUB_MAC}`],
    ['sha512 prefix', `sha512=${GITHUB_MAC}`],
    ['upper-case prefix', `SHA256=${GITHUB_MAC}`],
    ['colon separator', `sha256:${GITHUB_MAC}`],
    ['space after =', `sha256= ${GITHUB_MAC}`],
    ['doubled prefix', `sha256=sha256=${GITHUB_MAC}`],
    ['two signatures', `sha256=${GITHUB_MAC},sha256=${GITHUB_MAC}`],
  ])('rejects a wrong prefix or framing (%s)', async (_, bad) => {
    expect(await verifySignature(body, bad, [GITHUB_SECRET])).toBe(false)
  })

  it.each([
    ['one hex digit short', `sha256=${GITHUB_MAC.slice(0, 63)}`],
    ['one byte short', `sha256=${GITHUB_MAC.slice(0, 62)}`],
    ['half length', `sha256=${GITHUB_MAC.slice(0, 32)}`],
    ['prefix only', 'sha256='],
    ['one hex digit too long', `sha256=${GITHUB_MAC}0`],
    ['one byte too long', `sha256=${GITHUB_MAC}00`],
  ])('rejects a truncated or over-long digest (%s)', async (_, bad) => {
    expect(await verifySignature(body, bad, [GITHUB_SECRET])).toBe(false)
  })

  it.each([
    ['g in place of a digit', `sha256=${GITHUB_MAC.slice(0, 10)}g${GITHUB_MAC.slice(11)}`],
    ['inner space', `sha256=${GITHUB_MAC.slice(0, 10)} ${GITHUB_MAC.slice(11)}`],
    ['0x prefix', `sha256=0x${GITHUB_MAC.slice(2)}`],
    ['base64 digest', `sha256=${btoa(String.fromCharCode(...parseSignatureHeader(`sha256=${GITHUB_MAC}`)!))}`],
    ['non-ASCII digit', `sha256=${GITHUB_MAC.slice(0, 10)}\u0661${GITHUB_MAC.slice(11)}`],
  ])('rejects a non-hex digest (%s)', async (_, bad) => {
    expect(await verifySignature(body, bad, [GITHUB_SECRET])).toBe(false)
  })

  it('accepts upper-case hex, since it encodes the same MAC', async () => {
    expect(await verifySignature(body, `sha256=${GITHUB_MAC.toUpperCase()}`, [GITHUB_SECRET])).toBe(true)
  })

  it('throws when no secret is configured, so a missing secret never means "unverified"', async () => {
    await expect(verifySignature(body, header, [])).rejects.toThrow(TypeError)
    await expect(verifySignature(body, header, ['', ''])).rejects.toThrow(TypeError)
  })

  it('skips an empty entry in the secret list and still checks the real secret', async () => {
    // WebCrypto refuses a zero-length HMAC key, so an unfiltered '' would throw on every request.
    expect(await verifySignature(body, header, ['', GITHUB_SECRET])).toBe(true)
    expect(await verifySignature(body, header, [GITHUB_SECRET, ''])).toBe(true)
    expect(await verifySignature(body, `sha256=${RFC_MAC}`, ['', GITHUB_SECRET])).toBe(false)
  })
})

describe('parseSignatureHeader', () => {
  it('decodes a well-formed header into the 32 digest bytes', () => {
    const digest = parseSignatureHeader(`sha256=${GITHUB_MAC}`)
    expect(digest).not.toBeNull()
    expect(digest!.byteLength).toBe(32)
    expect(digest![0]).toBe(0x75)
    expect(digest![31]).toBe(0x17)
  })

  it('returns null for anything that is not sha256= and 64 hex digits', () => {
    expect(parseSignatureHeader(`sha256=${GITHUB_MAC.slice(1)}`)).toBeNull()
    expect(parseSignatureHeader(`sha1=${GITHUB_MAC.slice(0, 40)}`)).toBeNull()
    expect(parseSignatureHeader(undefined)).toBeNull()
  })
})

describe("Meta's escaped-unicode bodies", () => {
  it('verifies a \\u00e4 and \\/ escaped body over its exact bytes', async () => {
    expect(META_ESCAPED_BODY).toContain('\\u00e4')
    expect(META_ESCAPED_BODY).toContain('https:\\/\\/')
    const ok = await verifySignature(bytes(META_ESCAPED_BODY), `sha256=${META_ESCAPED_MAC}`, [SECRET])
    expect(ok).toBe(true)
  })

  it('does not verify the same payload re-serialised with JSON.stringify', async () => {
    const reserialised = JSON.stringify(JSON.parse(META_ESCAPED_BODY))
    // Same data, different bytes: this is why the MAC must be computed before parsing.
    expect(JSON.parse(reserialised)).toEqual(JSON.parse(META_ESCAPED_BODY))
    expect(reserialised).not.toBe(META_ESCAPED_BODY)
    const ok = await verifySignature(bytes(reserialised), `sha256=${META_ESCAPED_MAC}`, [SECRET])
    expect(ok).toBe(false)
  })

  it('verifies a metaJson delivery with umlauts, emoji and URLs, and not its re-serialisation', async () => {
    const payload = delivery([
      messagingItem({ kind: 'text', text: 'Grüße aus Köln 👋🏽 https://shop.example/ä?x=1', mid: 'm_1' }),
    ])
    const raw = metaJson(payload)
    expect(raw).toContain('\\u00fc')
    expect(raw).toContain('\\ud83d\\udc4b')
    expect(raw).toContain('https:\\/\\/shop.example\\/')
    expect(/[^\x00-\x7f]/.test(raw)).toBe(false)
    const header = await signBody(raw, SECRET)
    expect(await verifySignature(bytes(raw), header, [SECRET])).toBe(true)
    const reserialised = JSON.stringify(JSON.parse(raw))
    expect(await verifySignature(bytes(reserialised), header, [SECRET])).toBe(false)
  })

  it('verifies a body with raw UTF-8 emoji, Arabic and CJK text over its exact bytes', async () => {
    const raw = bytes(UTF8_BODY)
    expect(raw.byteLength).toBeGreaterThan(UTF8_BODY.length)
    expect(await verifySignature(raw, `sha256=${UTF8_MAC}`, [SECRET])).toBe(true)
    expect(JSON.parse(UTF8_BODY).entry[0].messaging[0].message.text).toBe(UTF8_TEXT)
  })

  it('does not verify the raw UTF-8 body once its text is escaped the other way', async () => {
    const escaped = metaJson(JSON.parse(UTF8_BODY))
    expect(await verifySignature(bytes(escaped), `sha256=${UTF8_MAC}`, [SECRET])).toBe(false)
  })
})
