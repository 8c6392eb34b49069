import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { DEFAULT_WORKERS_AI_MODEL, readConfig, type Config } from '../../src/core/config'
import { createChatModel, createLlm, createModerator, createWorkersAi, LlmError, type AiBinding, type ChatMessage } from '../../src/llm/client'
import { deriveCanary } from '../../src/llm/prompt'
import { generateReply } from '../../src/llm/reply'
import { recordingLogger } from '../helpers/recording-log'

function config(over: Record<string, string> = {}): Config {
  // A stand-in binding, so LLM_PROVIDER=workers-ai passes the configuration check.
  const r = readConfig({ ...env, AI: { run: async () => ({}) }, ...over })
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

/** A stand-in for the Workers AI binding: records every call and answers as told. */
function aiStandIn(answer: (signal?: AbortSignal) => Promise<unknown>) {
  const calls: { model: string; inputs: Record<string, unknown>; options?: { gateway?: { id: string }; signal?: AbortSignal } }[] = []
  const ai: AiBinding = {
    run: async (model, inputs, options) => {
      calls.push({ model, inputs, options })
      return answer(options?.signal)
    },
  }
  return { ai, calls }
}

const workersAi = (over: Record<string, string> = {}) => config({ LLM_PROVIDER: 'workers-ai', ...over })

describe('createWorkersAi (LLM_PROVIDER=workers-ai)', () => {
  it('runs the configured model once with the chat messages and max_tokens, no tools, no gateway unless set', async () => {
    const { ai, calls } = aiStandIn(async () => ({ response: 'Hi from Workers AI' }))
    const llm = createChatModel(workersAi({ LLM_MAX_TOKENS: '77' }), { ai })
    expect(await llm.complete(messages)).toBe('Hi from Workers AI')
    expect(calls).toHaveLength(1)
    expect(calls[0]!.model).toBe(DEFAULT_WORKERS_AI_MODEL)
    expect(calls[0]!.inputs).toEqual({ messages, max_tokens: 77 })
    expect(calls[0]!.options?.gateway).toBeUndefined()
    expect(calls[0]!.options?.signal).toBeInstanceOf(AbortSignal)
  })

  it('sends the request through the AI Gateway named by WORKERS_AI_GATEWAY, with the model WORKERS_AI_MODEL', async () => {
    const { ai, calls } = aiStandIn(async () => ({ response: 'ok' }))
    await createChatModel(workersAi({ WORKERS_AI_GATEWAY: 'dm-gateway', WORKERS_AI_MODEL: '@cf/meta/llama-3.3-70b-instruct-fp8-fast' }), { ai }).complete(messages)
    expect(calls[0]).toMatchObject({ model: '@cf/meta/llama-3.3-70b-instruct-fp8-fast', options: { gateway: { id: 'dm-gateway' } } })
  })

  it('reads an answer in the OpenAI choices shape too', async () => {
    const { ai } = aiStandIn(async () => ({ choices: [{ message: { role: 'assistant', content: 'choice text' } }] }))
    expect(await createWorkersAi(workersAi(), ai).complete(messages)).toBe('choice text')
  })

  it('reports a binding that does not answer within LLM_TIMEOUT_MS as LlmError timeout, even if it ignores the signal', async () => {
    const { ai, calls } = aiStandIn(() => new Promise(() => {}))
    const err = await failure(createWorkersAi(workersAi({ LLM_TIMEOUT_MS: '500' }), ai).complete(messages))
    expect(err.reason).toBe('timeout')
    expect(calls).toHaveLength(1)
    expect(calls[0]!.options?.signal?.aborted).toBe(true)
  })

  it("treats the caller's abort signal as a timeout", async () => {
    const { ai } = aiStandIn(() => new Promise(() => {}))
    const ctrl = new AbortController()
    const p = createWorkersAi(workersAi(), ai).complete(messages, { signal: ctrl.signal })
    ctrl.abort()
    expect((await failure(p)).reason).toBe('timeout')
  })

  it.each([[{ response: '' }], [{ response: '  \n' }], [{ response: 42 }], [null], ['plain string'], [{}]])(
    'reports a hostile or empty answer (%j) as LlmError empty',
    async (answer) => {
      const { ai } = aiStandIn(async () => answer)
      expect((await failure(createWorkersAi(workersAi(), ai).complete(messages))).reason).toBe('empty')
    }
  )

  it('reports a binding error as LlmError network, without its message', async () => {
    const { ai } = aiStandIn(async () => {
      throw new Error('InferenceUpstreamError: secret-ish upstream detail')
    })
    const err = await failure(createWorkersAi(workersAi(), ai).complete(messages))
    expect(err.reason).toBe('network')
    expect(err.message).not.toContain('upstream detail')
  })

  it('refuses to build a Workers AI client without a binding (configuration error naming AI)', () => {
    expect(() => createChatModel(workersAi(), {})).toThrow(/configuration error: missing: AI/)
    expect(() => createChatModel(workersAi(), { ai: { run: 'not a function' } })).toThrow(/AI/)
  })

  it('keeps the OpenAI-compatible endpoint as the default provider', async () => {
    const { requests, fetchImpl } = recorder(() => completion('from openai'))
    const { ai, calls } = aiStandIn(async () => ({ response: 'from workers ai' }))
    expect(await createChatModel(config(), { fetch: fetchImpl, ai }).complete(messages)).toBe('from openai')
    expect(requests).toHaveLength(1)
    expect(calls).toHaveLength(0)
  })

  it('gives the fallback reply (and passes the output guard) with Workers AI as with OpenAI', async () => {
    const cfg = workersAi()
    const log = recordingLogger()
    const canary = await deriveCanary(cfg.APP_SECRET)
    const down = aiStandIn(async () => {
      throw new Error('boom')
    })
    const r1 = await generateReply({ config: cfg, llm: createWorkersAi(cfg, down.ai), log, canary }, { text: 'are you open?', memory: [] })
    expect(r1).toMatchObject({ outcome: 'fallback', text: cfg.FALLBACK_REPLY, reason: 'network' })
    const leaky = aiStandIn(async () => ({ response: `Sure, my reference is ${canary}` }))
    const r2 = await generateReply({ config: cfg, llm: createWorkersAi(cfg, leaky.ai), log, canary }, { text: 'hi', memory: [] })
    expect(r2.outcome).toBe('leak_blocked')
    expect(r2.text).not.toContain(canary)
  })
})
