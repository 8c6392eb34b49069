/**
 * Black-box tests of the webhook core (issue 2, "Done when") through the real `wrangler dev`:
 * a client playing Meta, and nothing of the Worker's internals.
 */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { lifecycle, payloads, signBody, startE2E } from './harness.mjs'

const life = lifecycle(() => startE2E())
let stack
before(async () => {
  stack = await life.start()
})
after(() => life.stop())

const handshake = (query) => fetch(`${stack.workerUrl}/webhook?${new URLSearchParams(query)}`)
const dm = (text = 'Hi! Are you open on Sunday?') =>
  payloads.metaJson(payloads.delivery([payloads.messagingItem({ text })]))

describe('health and handshake', () => {
  test('GET /healthz tells anyone only the status and version, and no secret values', async () => {
    const res = await fetch(`${stack.workerUrl}/healthz`)
    assert.equal(res.status, 200)
    const text = await res.text()
    const body = JSON.parse(text)
    assert.equal(body.status, 'ok')
    assert.deepEqual(Object.keys(body).sort(), ['status', 'version'])
    for (const secret of ['sandbox-app-secret', 'sandbox-verify-token', 'sandbox-ig-token', 'sandbox-openai-key']) {
      assert.ok(!text.includes(secret), `healthz leaks ${secret}`)
    }
  })

  test('the subscription handshake with the right verify token echoes the challenge', async () => {
    const res = await handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': 'sandbox-verify-token', 'hub.challenge': '1158201444' })
    assert.equal(res.status, 200)
    assert.equal(await res.text(), '1158201444')
  })

  test('the handshake is refused with 403 and no challenge for a wrong token, mode or missing token', async () => {
    const cases = [
      { 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong-token', 'hub.challenge': 'c-123' },
      { 'hub.mode': 'unsubscribe', 'hub.verify_token': 'sandbox-verify-token', 'hub.challenge': 'c-123' },
      { 'hub.mode': 'subscribe', 'hub.challenge': 'c-123' },
      { 'hub.mode': 'subscribe', 'hub.verify_token': 'sandbox-verify-tokenX', 'hub.challenge': 'c-123' },
    ]
    for (const q of cases) {
      const res = await handshake(q)
      assert.equal(res.status, 403, JSON.stringify(q))
      assert.ok(!(await res.text()).includes('c-123'))
    }
  })
})

describe('signatures', () => {
  test('an unsigned delivery is refused with 401', async () => {
    const res = await stack.post(dm(), { signature: null })
    assert.equal(res.status, 401)
  })

  test('a delivery signed with another secret is refused with 401', async () => {
    const body = dm()
    const res = await stack.post(body, { signature: signBody(body, 'not-the-app-secret') })
    assert.equal(res.status, 401)
  })

  test('a body changed after signing is refused with 401', async () => {
    const body = dm('original')
    const res = await stack.post(body.replace('original', 'tampered'), { signature: signBody(body, stack.secret) })
    assert.equal(res.status, 401)
  })

  test('a delivery with only the SHA-1 X-Hub-Signature is refused with a 4xx', async () => {
    const body = dm()
    const sha1 = `sha1=${createHmac('sha1', stack.secret).update(body).digest('hex')}`
    const res = await stack.post(body, { signature: null, headers: { 'x-hub-signature': sha1 } })
    assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`)
  })

  test('malformed signature headers are refused with 401', async () => {
    const body = dm()
    const good = signBody(body, stack.secret)
    for (const sig of [good.slice(0, -2), good.replace('sha256=', 'sha1='), good.replace('sha256=', ''), `sha256=${'z'.repeat(64)}`, '']) {
      const res = await stack.post(body, { signature: sig })
      assert.equal(res.status, 401, `header ${JSON.stringify(sig)}`)
    }
  })

  test('a correctly signed real delivery is accepted with 200', async () => {
    const res = await stack.post(dm())
    assert.equal(res.status, 200)
  })
})

describe('size and encoding', () => {
  test('a signed 2 MiB body is refused with 413', async () => {
    const filler = 'x'.repeat(2 * 1024 * 1024)
    const body = payloads.metaJson(payloads.delivery([payloads.messagingItem({ text: filler })]))
    const res = await stack.post(body)
    assert.equal(res.status, 413)
  })

  test('a signed 2 MiB body streamed without Content-Length is refused with 413', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20)
    let sent = 0
    const stream = new ReadableStream({
      pull(controller) {
        if (sent >= 2 * 1024 * 1024) return controller.close()
        sent += chunk.byteLength
        controller.enqueue(chunk)
      },
    })
    const res = await fetch(`${stack.workerUrl}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body: stream,
      duplex: 'half',
    })
    assert.equal(res.status, 413)
  })

  test('signed invalid JSON is refused with 400', async () => {
    for (const body of ['{"object":"instagram",', 'not json', '', '\u00ff\u00fe']) {
      const res = await stack.post(body)
      assert.equal(res.status, 400, `body ${JSON.stringify(body)}`)
    }
  })

  test('signed bytes that are not UTF-8 are refused with 400', async () => {
    const res = await stack.post(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
    assert.equal(res.status, 400)
  })

  test("Meta's escaping (\\u00e4 and \\/) and raw UTF-8 both verify over the exact bytes", async () => {
    const text = 'Grüße / مرحبا / こんにちは 👋🏽'
    const escaped = dm(text)
    assert.ok(escaped.includes('\\u00fc') && escaped.includes('\\/'))
    assert.equal((await stack.post(escaped)).status, 200)
    const raw = JSON.stringify(payloads.delivery([payloads.messagingItem({ text })]))
    assert.equal((await stack.post(raw)).status, 200)
  })
})

describe('hostile but signed shapes never cause a 5xx', () => {
  const item = () => payloads.messagingItem({ text: 'hi' })
  const deep = (n) => '['.repeat(n) + ']'.repeat(n)
  const shapes = {
    'empty object': {},
    null: null,
    'empty array': [],
    'a string': 'instagram',
    'a number': 42,
    'object null': { object: null, entry: [] },
    'entry null': { object: 'instagram', entry: null },
    'entry an object': { object: 'instagram', entry: {} },
    'entry of junk': { object: 'instagram', entry: [null, 1, 'x', [], true] },
    'messaging a string': { object: 'instagram', entry: [{ id: '1', time: 1, messaging: 'x' }] },
    'messaging of empty objects': { object: 'instagram', entry: [{ id: '1', time: 1, messaging: [{}, {}, null] }] },
    'wrong types everywhere': {
      object: 'instagram',
      entry: [{ id: {}, time: 'soon', messaging: [{ sender: { id: [] }, recipient: 5, timestamp: {}, message: { mid: 7, text: { a: 1 } } }] }],
    },
    'negative and huge numbers': {
      object: 'instagram',
      entry: [{ id: -1, time: 1e308, messaging: [{ sender: { id: -5 }, recipient: { id: 1e300 }, timestamp: -1, message: { mid: 'm', text: 'x' } }] }],
    },
    'unknown event kinds': {
      object: 'instagram',
      entry: [{ id: '1', time: 1, messaging: [{ sender: { id: '2' }, recipient: { id: '1' }, timestamp: 1, mystery_event: { a: 1 } }], unknown_list: [{}] }],
    },
    'changes of junk': { object: 'instagram', entry: [{ id: '1', time: 1, changes: [null, { field: 5 }, { field: 'comments', value: 'x' }] }] },
    'object page': { object: 'page', entry: [{ id: '1', time: 1, messaging: [item()] }] },
    'object whatsapp': { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [] }] },
    '300-entry batch': {
      object: 'instagram',
      entry: Array.from({ length: 300 }, (_, i) => ({ id: payloads.DEFAULT_ACCOUNT_ID, time: i, messaging: [payloads.messagingItem({ kind: 'read' })] })),
    },
    '1000 messaging items': { object: 'instagram', entry: [{ id: payloads.DEFAULT_ACCOUNT_ID, time: 1, messaging: Array.from({ length: 1000 }, () => ({ sender: {} })) }] },
    '__proto__ keys': JSON.parse('{"object":"instagram","__proto__":{"x":1},"entry":[{"id":"1","__proto__":{"messaging":[1]},"messaging":[]}]}'),
  }
  for (const [name, value] of Object.entries(shapes)) {
    test(`${name}: 200 or 4xx`, async () => {
      const res = await stack.post(JSON.stringify(value))
      assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `got ${res.status}`)
    })
  }

  test('deeply nested JSON (5000 levels): 200 or 4xx', async () => {
    const res = await stack.post(`{"object":"instagram","entry":${deep(5000)}}`)
    assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `got ${res.status}`)
  })

  test('the Worker is still healthy afterwards', async () => {
    const res = await fetch(`${stack.workerUrl}/healthz`)
    assert.equal(res.status, 200)
  })
})

describe('real Instagram payloads', () => {
  const kinds = [
    'text', 'image', 'video', 'audio', 'file', 'share', 'ig_reel', 'reel', 'ig_post', 'ig_story',
    'story_mention', 'story_reply', 'reply', 'quick_reply', 'unsupported', 'reaction', 'unreact',
    'postback', 'ice_breaker', 'referral', 'read', 'echo', 'unsend', 'edit',
  ]
  for (const kind of kinds) {
    test(`a ${kind} delivery is accepted with 200`, async () => {
      const body = payloads.metaJson(payloads.delivery([payloads.messagingItem({ kind, senderId: '6100000000000001' })]))
      const res = await stack.post(body)
      assert.equal(res.status, 200)
    })
  }

  test('a batch of several entries with every kind is accepted with 200', async () => {
    const items = kinds.map((kind) => payloads.messagingItem({ kind, senderId: '6100000000000002' }))
    const delivery = {
      object: 'instagram',
      entry: [
        { id: payloads.DEFAULT_ACCOUNT_ID, time: Date.now(), messaging: items.slice(0, 12) },
        { id: payloads.DEFAULT_ACCOUNT_ID, time: Date.now(), messaging: items.slice(12) },
        { id: payloads.DEFAULT_ACCOUNT_ID, time: Date.now(), standby: [payloads.messagingItem({ kind: 'text', senderId: '6100000000000002' })] },
        { id: payloads.DEFAULT_ACCOUNT_ID, time: Date.now(), changes: [{ field: 'comments', value: { id: '1', text: 'nice' } }] },
      ],
    }
    const res = await stack.post(payloads.metaJson(delivery))
    assert.equal(res.status, 200)
  })
})
