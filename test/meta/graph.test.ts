import { describe, expect, it } from 'vitest'
import {
  classifyGraphError,
  createGraph,
  GraphError,
  loginFlavour,
  MAX_THROTTLE_HINT_MS,
  throttleHintMs,
  type GraphDeps,
  type GraphErrorCategory,
} from '../../src/meta/graph'

const TOKEN = 'IGAAT0k3n-secret-value'
const IGSID = '1234567890123456'

interface Call {
  url: string
  method: string
  headers: Headers
  body: unknown
  signal: AbortSignal | null
}

/** A fetch stand-in that records every request and answers from a queue. */
function recorder(...responses: Array<Response | Error | (() => Response | Promise<Response>)>) {
  const calls: Call[] = []
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init)
    calls.push({
      url: req.url,
      method: req.method,
      headers: req.headers,
      body: JSON.parse(await req.text()),
      signal: init?.signal ?? null,
    })
    const next = responses.shift() ?? ok()
    if (next instanceof Error) throw next
    return typeof next === 'function' ? next() : next
  }) as typeof globalThis.fetch
  return { fetch, calls }
}

const ok = (messageId = 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw') =>
  Response.json({ recipient_id: IGSID, message_id: messageId })

const metaError = (status: number, error: Record<string, unknown>) =>
  Response.json({ error: { message: 'An error', fbtrace_id: 'AbCdEf123', ...error } }, { status })

function graph(fetch: typeof globalThis.fetch, over: Partial<GraphDeps> = {}) {
  return createGraph({
    fetch,
    base: 'https://graph.instagram.com',
    version: 'v25.0',
    accountId: 'me',
    token: () => TOKEN,
    ...over,
  })
}

async function failure(p: Promise<unknown>): Promise<GraphError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(GraphError)
  return err as GraphError
}

describe('Send API requests', () => {
  const IG = 'https://graph.instagram.com'
  const FB = 'https://graph.facebook.com'
  it.each([
    ['Instagram Login with /me', IG, 'me', `${IG}/v25.0/me/messages`, 'instagram'],
    ['Instagram Login with IG_ACCOUNT_ID', IG, '1784140001', `${IG}/v25.0/1784140001/messages`, 'instagram'],
    ['Facebook Login with /me', FB, 'me', `${FB}/v25.0/me/messages`, 'facebook'],
    ['Facebook Login with a Page id', `${FB}/`, '1020304050', `${FB}/v25.0/1020304050/messages`, 'facebook'],
    ['a loopback stand-in', 'http://127.0.0.1:8788/g', '', 'http://127.0.0.1:8788/g/v25.0/me/messages', 'instagram'],
  ] as const)('posts text for %s to the right URL with a Bearer token', async (...row) => {
    const [, base, accountId, url, flavour] = row
    const { fetch, calls } = recorder()
    const client = graph(fetch, { base, accountId })
    expect(client.flavour).toBe(flavour)
    await client.sendText(IGSID, 'Hello there 👋')
    expect(calls).toHaveLength(1)
    const call = calls[0]!
    expect(call.url).toBe(url)
    expect(call.method).toBe('POST')
    expect(call.headers.get('authorization')).toBe(`Bearer ${TOKEN}`)
    expect(call.headers.get('content-type')).toBe('application/json')
    expect(call.url).not.toContain(TOKEN)
    expect(call.url).not.toContain('access_token')
    expect(JSON.stringify(call.body)).not.toContain(TOKEN)
  })

  it('sends recipient, message text and messaging_type RESPONSE, and no tag', async () => {
    const { fetch, calls } = recorder()
    await graph(fetch).sendText(IGSID, 'Ça marche, à bientôt !')
    expect(calls[0]!.body).toEqual({
      recipient: { id: IGSID },
      messaging_type: 'RESPONSE',
      message: { text: 'Ça marche, à bientôt !' },
    })
  })

  it('attaches quick replies as plain-text chips whose payload is the title', async () => {
    const { fetch, calls } = recorder()
    await graph(fetch).sendText(IGSID, 'Anything else?', { quickReplies: ['Opening hours', 'Talk to a person'] })
    expect(calls[0]!.body).toEqual({
      recipient: { id: IGSID },
      messaging_type: 'RESPONSE',
      message: {
        text: 'Anything else?',
        quick_replies: [
          { content_type: 'text', title: 'Opening hours', payload: 'Opening hours' },
          { content_type: 'text', title: 'Talk to a person', payload: 'Talk to a person' },
        ],
      },
    })
  })

  it.each([
    ['fourteen chips', Array.from({ length: 14 }, (_, i) => `chip ${i}`)],
    ['a title over 20 characters', ['twenty-one characters']],
    ['an empty title', ['  ']],
    ['a bidi override', ['ok\u202Eevil']],
    ['a newline', ['two\nlines']],
  ])('refuses %s without calling fetch', async (_name, quickReplies) => {
    const { fetch, calls } = recorder()
    await expect(graph(fetch).sendText(IGSID, 'hi', { quickReplies })).rejects.toThrow(TypeError)
    expect(calls).toHaveLength(0)
  })

  it('counts emoji as one character each: 20 of them fit a chip', async () => {
    const { fetch, calls } = recorder()
    await graph(fetch).sendText(IGSID, 'hi', { quickReplies: ['👍'.repeat(20)] })
    expect(calls).toHaveLength(1)
  })

  it('returns the message_id of the sent message', async () => {
    const { fetch } = recorder(ok('mid.abc123'))
    await expect(graph(fetch).sendText(IGSID, 'hi')).resolves.toEqual({ messageId: 'mid.abc123' })
  })

  it.each(['typing_on', 'typing_off', 'mark_seen'] as const)(
    'sends %s with only recipient and sender_action',
    async (action) => {
      const { fetch, calls } = recorder(Response.json({ recipient_id: IGSID }))
      await expect(graph(fetch).senderAction(IGSID, action)).resolves.toBeUndefined()
      expect(calls[0]!.url).toBe('https://graph.instagram.com/v25.0/me/messages')
      expect(calls[0]!.headers.get('authorization')).toBe(`Bearer ${TOKEN}`)
      expect(calls[0]!.body).toEqual({ recipient: { id: IGSID }, sender_action: action })
    }
  )

  it('asks the token provider on every request, so a refreshed token is used at once', async () => {
    const tokens = ['first-token', 'second-token']
    const { fetch, calls } = recorder()
    const client = graph(fetch, { token: async () => tokens.shift()! })
    await client.senderAction(IGSID, 'typing_on')
    await client.sendText(IGSID, 'hi')
    expect(calls.map((c) => c.headers.get('authorization'))).toEqual([
      'Bearer first-token',
      'Bearer second-token',
    ])
  })

  it('passes the caller’s abort signal to fetch', async () => {
    const { fetch, calls } = recorder()
    const controller = new AbortController()
    await graph(fetch).sendText(IGSID, 'hi', { signal: controller.signal })
    expect(calls[0]!.signal).toBe(controller.signal)
  })

  it('accepts text of exactly 1000 UTF-8 bytes and refuses 1001 without calling fetch', async () => {
    const { fetch, calls } = recorder()
    const client = graph(fetch)
    await client.sendText(IGSID, 'é'.repeat(500))
    await client.sendText(IGSID, '😀'.repeat(250))
    expect(calls).toHaveLength(2)
    await expect(client.sendText(IGSID, `${'é'.repeat(500)}a`)).rejects.toThrow(TypeError)
    await expect(client.sendText(IGSID, '😀'.repeat(251))).rejects.toThrow(/1004 bytes/)
    expect(calls).toHaveLength(2)
  })

  it('refuses empty text, an empty recipient and unknown sender actions', async () => {
    const { fetch, calls } = recorder()
    const client = graph(fetch)
    await expect(client.sendText(IGSID, '  ')).rejects.toThrow(TypeError)
    await expect(client.sendText('', 'hi')).rejects.toThrow(TypeError)
    await expect(client.senderAction(IGSID, 'react' as 'typing_on')).rejects.toThrow(TypeError)
    expect(calls).toHaveLength(0)
  })

  it('fails closed with token_invalid when no token is available', async () => {
    const { fetch, calls } = recorder()
    const err = await failure(graph(fetch, { token: () => '' }).sendText(IGSID, 'hi'))
    expect(err.category).toBe('token_invalid')
    expect(err.retryable).toBe(false)
    expect(calls).toHaveLength(0)
  })
})

type Row = [
  name: string,
  status: number | undefined,
  body: unknown,
  category: GraphErrorCategory,
  retryable: boolean,
]

const OAUTH = 'OAuthException'
const e = (code: number, extra: Record<string, unknown> = {}, type = 'IGApiException') => ({
  error: { message: `(#${code}) An error`, type, code, fbtrace_id: 'AQp8Xyz', ...extra },
})

const ROWS: Row[] = [
  ['HTTP 500 without a body', 500, undefined, 'transient', true],
  ['HTTP 502 with an HTML body', 502, '<html>Bad Gateway</html>', 'transient', true],
  ['HTTP 503 with a Meta body without code', 503, { error: { message: 'down' } }, 'transient', true],
  ['HTTP 429', 429, undefined, 'rate_limited', true],
  ['code 1 API Unknown', 500, e(1, { is_transient: true }, OAUTH), 'transient', true],
  ['code 2 API Service', 503, e(2, { is_transient: true }, OAUTH), 'transient', true],
  ['code 4 app rate limit', 400, e(4, {}, OAUTH), 'rate_limited', true],
  ['code 17 user rate limit', 400, e(17, {}, OAUTH), 'rate_limited', true],
  ['code 32 page rate limit', 400, e(32, {}, OAUTH), 'rate_limited', true],
  ['code 341 application limit', 400, e(341, {}, OAUTH), 'rate_limited', true],
  ['code 613/2534040 send rate limit', 400, e(613, { error_subcode: 2534040 }), 'rate_limited', true],
  ['code 1200 temporary send failure', 500, e(1200), 'transient', true],
  ['an unknown code with is_transient true', 400, e(9007, { is_transient: true }), 'transient', true],
  ['code 190/463 expired token', 400, e(190, { error_subcode: 463 }, OAUTH), 'token_invalid', false],
  ['code 190 even with is_transient true', 400, e(190, { is_transient: true }, OAUTH), 'token_invalid', false],
  ['code 190 on HTTP 500', 500, e(190, {}, OAUTH), 'token_invalid', false],
  ['code 10/2534022 on HTTP 403', 403, e(10, { error_subcode: 2534022 }), 'outside_window', false],
  ['code 10/2534022 on HTTP 400', 400, e(10, { error_subcode: 2534022 }), 'outside_window', false],
  ['code 10/2018278 (Messenger)', 400, e(10, { error_subcode: 2018278 }), 'outside_window', false],
  ['code 551 user unavailable', 400, e(551), 'user_unavailable', false],
  ['code 551/1545041', 400, e(551, { error_subcode: 1545041 }), 'user_unavailable', false],
  ['code 100 invalid parameter', 400, e(100, {}, OAUTH), 'bad_request', false],
  ['code 100/2534014 no matching user', 400, e(100, { error_subcode: 2534014 }), 'bad_request', false],
  ['code 10 without subcode', 403, e(10, {}, OAUTH), 'permission', false],
  ['code 200 permission', 403, e(200, {}, OAUTH), 'permission', false],
  ['code 200/2534041 messages access disabled', 400, e(200, { error_subcode: 2534041 }), 'permission', false],
  ['code 299 permission', 400, e(299, {}, OAUTH), 'permission', false],
  ['code 368 policy block', 400, e(368, {}, OAUTH), 'policy', false],
  ['code 1/1357046 sent but errored', 500, e(1, { error_subcode: 1357046 }), 'unknown', false],
  // A bare 401 (a proxy's or gateway's page) is not Meta's verdict on the token (issue 17).
  ['HTTP 401 without a body', 401, undefined, 'transient', true],
  ['HTTP 401 with an HTML page', 401, '<html><body>401 Authorization Required</body></html>', 'transient', true],
  ['HTTP 401 with code 190', 401, e(190, {}, OAUTH), 'token_invalid', false],
  ['HTTP 403 without a body', 403, undefined, 'permission', false],
  ['HTTP 400 with an unknown code', 400, e(9999), 'bad_request', false],
  ['HTTP 404 without a body', 404, 'Not Found', 'bad_request', false],
]

describe('classifyGraphError', () => {
  it.each(ROWS)('classifies %s', (_, status, body, category, retryable) => {
    const info = classifyGraphError(status, body)
    expect(info).toMatchObject({ category, retryable })
    expect(info.status).toBe(status)
  })

  it('treats a network error as transient and retryable', () => {
    expect(classifyGraphError(undefined, undefined, true)).toEqual({
      networkError: true,
      retryable: true,
      category: 'transient',
    })
  })

  it('treats a failure without status, body or network error as final unknown', () => {
    expect(classifyGraphError(undefined, undefined)).toEqual({ retryable: false, category: 'unknown' })
  })

  it('keeps Meta’s code, subcode, type, is_transient and fbtrace_id', () => {
    const body = {
      error: {
        message: '(#10) This message is sent outside of allowed window.',
        type: 'IGApiException',
        code: 10,
        error_subcode: 2534022,
        is_transient: false,
        fbtrace_id: 'A1b2C3d4',
      },
    }
    expect(classifyGraphError(403, body)).toEqual({
      status: 403,
      code: 10,
      subcode: 2534022,
      type: 'IGApiException',
      isTransient: false,
      fbtraceId: 'A1b2C3d4',
      metaMessage: '(#10) This message is sent outside of allowed window.',
      retryable: false,
      category: 'outside_window',
    })
  })

  it('reads codes sent as numeric strings and ignores junk', () => {
    expect(classifyGraphError(400, { error: { code: '190' } }).category).toBe('token_invalid')
    expect(classifyGraphError(400, { error: { code: { x: 1 }, error_subcode: 'abc' } })).toEqual({
      status: 400,
      retryable: false,
      category: 'bad_request',
    })
    expect(classifyGraphError(500, { error: 'nope' }).category).toBe('transient')
    expect(classifyGraphError(500, null).category).toBe('transient')
  })
})

describe('Send API errors', () => {
  it.each(ROWS)('throws a GraphError for %s', async (_, status, body, category, retryable) => {
    const res =
      body === undefined
        ? new Response(null, { status })
        : typeof body === 'string'
          ? new Response(body, { status, headers: { 'content-type': 'text/html' } })
          : Response.json(body, { status })
    const { fetch } = recorder(res)
    const err = await failure(graph(fetch).sendText(IGSID, 'hi'))
    expect(err.category).toBe(category)
    expect(err.retryable).toBe(retryable)
    expect(err.status).toBe(status)
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code
    if (typeof code === 'number') expect(err.code).toBe(code)
    expect(err.message).toContain(`HTTP ${status}`)
  })

  it('throws a retryable GraphError when fetch itself fails', async () => {
    const { fetch } = recorder(new TypeError('Network connection lost.'))
    const err = await failure(graph(fetch).sendText(IGSID, 'hi'))
    expect(err).toMatchObject({ category: 'transient', retryable: true, networkError: true })
    expect(err.status).toBeUndefined()
    expect(err.cause).toBeInstanceOf(TypeError)
  })

  it('turns an aborted request into a retryable transient error', async () => {
    const controller = new AbortController()
    const { fetch } = recorder(() => {
      controller.abort(new DOMException('The operation timed out.', 'TimeoutError'))
      throw controller.signal.reason
    })
    const err = await failure(graph(fetch).sendText(IGSID, 'hi', { signal: controller.signal }))
    expect(err).toMatchObject({ category: 'transient', retryable: true, networkError: true })
    expect(err.message).toContain('TimeoutError')
  })

  it('fails a sender action with the same classification', async () => {
    const { fetch } = recorder(metaError(400, { code: 551, type: 'IGApiException' }))
    const err = await failure(graph(fetch).senderAction(IGSID, 'typing_on'))
    expect(err).toMatchObject({ category: 'user_unavailable', retryable: false, code: 551 })
  })

  it('does not retry a success response that lacks a message_id', async () => {
    const { fetch } = recorder(Response.json({ recipient_id: IGSID }))
    const err = await failure(graph(fetch).sendText(IGSID, 'hi'))
    expect(err).toMatchObject({ category: 'unknown', retryable: false, status: 200 })
  })

  it('never puts the token in an error message, even when Meta or fetch echo it', async () => {
    const { fetch } = recorder(
      metaError(400, { code: 190, message: `Invalid OAuth access token - Cannot parse ${TOKEN}` }),
      new TypeError(`connect failed for Bearer ${TOKEN}`)
    )
    const client = graph(fetch)
    const first = await failure(client.sendText(IGSID, 'hi'))
    const second = await failure(client.sendText(IGSID, 'hi'))
    for (const err of [first, second]) {
      expect(err.message).not.toContain(TOKEN)
      expect(err.message).toContain('[redacted]')
      expect(JSON.stringify({ ...err, message: err.message })).not.toContain(TOKEN)
    }
    expect(first.category).toBe('token_invalid')
  })

  it('never puts message text or the recipient id in an error message', async () => {
    const { fetch } = recorder(metaError(400, { code: 100, error_subcode: 2534014 }))
    const err = await failure(graph(fetch).sendText(IGSID, 'my secret order number 4411'))
    expect(err.message).not.toContain('4411')
    expect(err.message).not.toContain(IGSID)
  })
})

describe('loginFlavour', () => {
  it.each([
    ['https://graph.instagram.com', 'instagram'],
    ['https://graph.facebook.com', 'facebook'],
    ['https://GRAPH.FACEBOOK.COM/', 'facebook'],
    ['https://graph.test', 'instagram'],
    ['http://localhost:8788', 'instagram'],
    ['https://graph.facebook.com.evil.test', 'instagram'],
    ['not a url', 'instagram'],
  ] as const)('treats %s as %s Login', (base, flavour) => {
    expect(loginFlavour(base)).toBe(flavour)
  })
})

describe('throttling signals (issue 17)', () => {
  const NOW = Date.UTC(2026, 10, 29, 12, 0, 0)
  const h = (init: Record<string, string>) => new Headers(init)
  const buc = (minutes: unknown) => JSON.stringify({ '17841400000000001': [{ type: 'messenger', call_count: 100, total_cputime: 12, total_time: 30, estimated_time_to_regain_access: minutes }] })

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(throttleHintMs(h({ 'retry-after': '120' }), NOW)).toBe(120_000)
    expect(throttleHintMs(h({ 'retry-after': new Date(NOW + 90_000).toUTCString() }), NOW)).toBe(90_000)
  })

  it('reads estimated_time_to_regain_access (minutes) from X-Business-Use-Case-Usage and X-App-Usage, longest wins', () => {
    expect(throttleHintMs(h({ 'x-business-use-case-usage': buc(60) }), NOW)).toBe(3_600_000)
    expect(throttleHintMs(h({ 'x-app-usage': JSON.stringify({ call_count: 100, estimated_time_to_regain_access: 7 }) }), NOW)).toBe(420_000)
    expect(throttleHintMs(h({ 'retry-after': '30', 'x-business-use-case-usage': buc('15') }), NOW)).toBe(900_000)
  })

  it('ignores hostile or useless values and caps an absurd wait at a day', () => {
    const hostile: Record<string, string>[] = [
      {},
      { 'retry-after': '-5' },
      { 'retry-after': 'soon' },
      { 'retry-after': new Date(NOW - 60_000).toUTCString() },
      { 'x-business-use-case-usage': '{not json' },
      { 'x-business-use-case-usage': buc(0) },
      { 'x-business-use-case-usage': buc(-3) },
      { 'x-business-use-case-usage': buc('1e9') },
      { 'x-app-usage': JSON.stringify({ call_count: 100 }) },
      { 'x-business-use-case-usage': 'x'.repeat(10_000) },
    ]
    for (const headers of hostile) {
      expect(throttleHintMs(h(headers), NOW)).toBeUndefined()
    }
    expect(throttleHintMs(h({ 'x-business-use-case-usage': buc(10_000_000) }), NOW)).toBe(MAX_THROTTLE_HINT_MS)
    expect(throttleHintMs(h({ 'retry-after': '9999999999' }), NOW)).toBe(MAX_THROTTLE_HINT_MS)
  })

  it('classifies codes 4, 17, 32, 613 and the 800xx business use case codes and HTTP 429 as rate_limited', () => {
    for (const code of [4, 17, 32, 613, 80002, 80006]) {
      expect(classifyGraphError(400, { error: { code } })).toMatchObject({ category: 'rate_limited', retryable: true })
    }
    expect(classifyGraphError(429, undefined)).toMatchObject({ category: 'rate_limited', retryable: true })
  })

  it('hands the throttle hint of a rate-limited send to the caller', async () => {
    const { fetch } = recorder(
      new Response(JSON.stringify({ error: { message: '(#4) Application request limit reached', code: 4, is_transient: true } }), {
        status: 400,
        headers: { 'content-type': 'application/json', 'x-business-use-case-usage': buc(60) },
      })
    )
    const err = await graph(fetch).sendText(IGSID, 'hi').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GraphError)
    expect(err).toMatchObject({ category: 'rate_limited', code: 4, retryAfterMs: 3_600_000 })
  })
})

