import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readConfig, type Config } from '../../src/core/config'
import { createLlm, createModerator, LlmError, type ChatMessage } from '../../src/llm/client'

function config(over: Record<string, string> = {}): Config {
  const r = readConfig({ ...env, ...over })
  if (!r.ok) throw new Error(r.message)
  return r.config
}

const completion = (content: unknown) =>
  Response.json({
    id: 'c1',
    object: 'chat.completion',
    created: 0,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  })

function recorder(respond: (req: Request) => Response | Promise<Response>) {
  const requests: Request[] = []
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init)
    requests.push(req.clone())
    return respond(req)
  }) as typeof fetch
  return { requests, fetchImpl }
}

const messages: ChatMessage[] = [
  { role: 'system', content: 'sys' },
  { role: 'user', content: 'hello' },
]

async function failure(p: Promise<unknown>): Promise<LlmError> {
  try {
    await p
  } catch (err) {
    if (err instanceof LlmError) return err
    throw err
  }
  throw new Error('expected an LlmError')
}

describe('createLlm', () => {
  it('posts one chat completion to the configured base URL with key, model and max_tokens, no tools', async () => {
    const { requests, fetchImpl } = recorder(() => completion('Hi there'))
    const llm = createLlm(config({ OPENAI_MODEL: 'gpt-test', LLM_MAX_TOKENS: '123' }), fetchImpl)
    expect(await llm.complete(messages)).toBe('Hi there')
    expect(requests).toHaveLength(1)
    const req = requests[0]!
    expect(req.method).toBe('POST')
    expect(req.url).toBe('https://llm.test/v1/chat/completions')
    expect(req.headers.get('authorization')).toBe('Bearer test-openai-key')
    const body = (await req.json()) as Record<string, unknown>
    expect(body).toMatchObject({ model: 'gpt-test', max_tokens: 123, messages })
    for (const key of ['tools', 'tool_choice', 'functions', 'function_call', 'stream']) {
      expect(body).not.toHaveProperty(key)
    }
  })

  it('reports a timeout as LlmError timeout after exactly one attempt', async () => {
    const { requests, fetchImpl } = recorder(
      (req) =>
        new Promise<Response>((_, reject) => {
          req.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
        })
    )
    const llm = createLlm(config({ LLM_TIMEOUT_MS: '500' }), fetchImpl)
    const err = await failure(llm.complete(messages))
    expect(err.reason).toBe('timeout')
    expect(requests).toHaveLength(1)
  })

  it.each([500, 503, 429, 401])('reports HTTP %i as LlmError http with the status, without retrying', async (status) => {
    const { requests, fetchImpl } = recorder(() =>
      Response.json({ error: { message: 'nope' } }, { status, headers: { 'retry-after': '0' } })
    )
    const err = await failure(createLlm(config(), fetchImpl).complete(messages))
    expect(err).toMatchObject({ reason: 'http', status })
    expect(err.message).not.toContain('nope')
    expect(requests).toHaveLength(1)
  })

  it.each([[''], ['   \n '], [null]])('reports an empty answer (%j) as LlmError empty', async (content) => {
    const { fetchImpl } = recorder(() => completion(content))
    expect((await failure(createLlm(config(), fetchImpl).complete(messages))).reason).toBe('empty')
  })

  it('reports a connection failure as LlmError network', async () => {
    const fetchImpl = (async () => {
      throw new TypeError('connection refused')
    }) as typeof fetch
    expect((await failure(createLlm(config(), fetchImpl).complete(messages))).reason).toBe('network')
  })

  it("treats the caller's abort signal as a timeout", async () => {
    const { fetchImpl } = recorder(
      (req) =>
        new Promise<Response>((_, reject) => {
          req.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
        })
    )
    const ctrl = new AbortController()
    const p = createLlm(config(), fetchImpl).complete(messages, { signal: ctrl.signal })
    ctrl.abort()
    expect((await failure(p)).reason).toBe('timeout')
  })
})

describe('createModerator', () => {
  it('posts the text to /moderations and reports whether it was flagged', async () => {
    for (const flagged of [true, false]) {
      const { requests, fetchImpl } = recorder(() =>
        Response.json({ id: 'm', model: 'omni-moderation-latest', results: [{ flagged, categories: {}, category_scores: {} }] })
      )
      expect(await createModerator(config(), fetchImpl)('some reply')).toBe(flagged)
      expect(requests[0]!.url).toBe('https://llm.test/v1/moderations')
      expect(await requests[0]!.json()).toMatchObject({ input: 'some reply' })
    }
  })

  it('throws LlmError when the check fails', async () => {
    const { fetchImpl } = recorder(() => new Response('x', { status: 502 }))
    expect(await failure(createModerator(config(), fetchImpl)('x'))).toMatchObject({ reason: 'http', status: 502 })
  })
})
