/**
 * The one place that talks to the chat model: through the official `openai` SDK against any
 * OpenAI-compatible endpoint (LLM_PROVIDER=openai), or through the Worker's Workers AI binding
 * (LLM_PROVIDER=workers-ai). Plain chat completion only: no tools, no functions, no streaming,
 * so a fooled model can produce text and nothing else. Failures surface as a typed LlmError,
 * the same for both providers, so fallback and logging do not care which one answered.
 */
// The package root on purpose: measured with `wrangler deploy --dry-run --minify`, the narrower
// 'openai/client' entry saves 26 bytes gzipped (esbuild already drops Azure/Bedrock), because the
// client class itself constructs every API resource. The SDK costs about 38.5 KB gzipped.
import OpenAI, { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai'
import type { Config } from '../core/config'

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

export interface LlmClient {
  complete(messages: ChatMessage[], opts?: { signal?: AbortSignal }): Promise<string>
}

export type LlmFailure = 'timeout' | 'http' | 'empty' | 'network'

export class LlmError extends Error {
  readonly reason: LlmFailure
  readonly status?: number

  constructor(reason: LlmFailure, status?: number) {
    // The message names the class of failure only: SDK messages can quote the response body.
    super(status === undefined ? `llm ${reason}` : `llm ${reason} ${status}`)
    this.name = 'LlmError'
    this.reason = reason
    if (status !== undefined) this.status = status
  }
}

type LlmConfig = Pick<
  Config,
  'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'OPENAI_MODEL' | 'LLM_TIMEOUT_MS' | 'LLM_MAX_TOKENS'
>

export function createLlm(config: LlmConfig, fetchImpl?: typeof fetch): LlmClient {
  const client = new OpenAI({
    // readConfig requires the key whenever this provider is configured.
    apiKey: config.OPENAI_API_KEY ?? '',
    baseURL: config.OPENAI_BASE_URL,
    timeout: config.LLM_TIMEOUT_MS,
    // No SDK retries: the reply runs inside waitUntil, which gets about 30 s after the webhook
    // response. Two SDK retries with back-off on top of a 15 s timeout would outlive it and
    // could double-bill a completion the user never sees; the pipeline decides what to retry.
    maxRetries: 0,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
  return {
    async complete(messages, opts) {
      // The SDK's timeout stops once the headers are in; this signal (which the SDK hands to
      // fetch, so it also cuts the body) and the race bound the whole call, body included.
      const timeout = AbortSignal.timeout(config.LLM_TIMEOUT_MS)
      const signal = opts?.signal ? AbortSignal.any([timeout, opts.signal]) : timeout
      let content: string | null | undefined
      try {
        const res = await Promise.race([
          client.chat.completions.create({ model: config.OPENAI_MODEL, messages, max_tokens: config.LLM_MAX_TOKENS, n: 1 }, { signal }),
          aborted(signal),
        ])
        content = res.choices[0]?.message?.content
      } catch (err) {
        if (signal.aborted) throw new LlmError('timeout')
        throw toLlmError(err)
      }
      if (typeof content !== 'string' || content.trim() === '') throw new LlmError('empty')
      return content
    },
  }
}

/**
 * The Workers AI binding as this code uses it: `env.AI.run(model, inputs, options)`. Declared
 * here, narrowly, because the binding is commented out in wrangler.toml by default (it has no
 * local simulator), so the generated Env type does not know it, and tests pass a stand-in.
 */
export interface AiBinding {
  run(
    model: string,
    inputs: { messages: ChatMessage[]; max_tokens: number },
    options?: { gateway?: { id: string }; signal?: AbortSignal }
  ): Promise<unknown>
}

type WorkersAiConfig = Pick<Config, 'WORKERS_AI_MODEL' | 'WORKERS_AI_GATEWAY' | 'LLM_TIMEOUT_MS' | 'LLM_MAX_TOKENS'>

/** Chat completion on Workers AI through the `AI` binding, optionally through an AI Gateway. */
export function createWorkersAi(config: WorkersAiConfig, ai: AiBinding): LlmClient {
  return {
    async complete(messages, opts) {
      const timeout = AbortSignal.timeout(config.LLM_TIMEOUT_MS)
      const signal = opts?.signal ? AbortSignal.any([timeout, opts.signal]) : timeout
      let res: unknown
      try {
        // The binding is given the signal, and the race makes the timeout hold even where a
        // binding (or a stand-in) does not honour it.
        res = await Promise.race([
          ai.run(
            config.WORKERS_AI_MODEL,
            { messages, max_tokens: config.LLM_MAX_TOKENS },
            { signal, ...(config.WORKERS_AI_GATEWAY ? { gateway: { id: config.WORKERS_AI_GATEWAY } } : {}) }
          ),
          aborted(signal),
        ])
      } catch (err) {
        if (signal.aborted) throw new LlmError('timeout')
        throw toLlmError(err)
      }
      const content = workersAiText(res)
      if (content === undefined || content.trim() === '') throw new LlmError('empty')
      return content
    },
  }
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(new LlmError('timeout'))
    signal.addEventListener('abort', () => reject(new LlmError('timeout')), { once: true })
  })
}

/** Text models answer `{ response }`; some newer ones answer in the OpenAI `choices` shape. */
function workersAiText(res: unknown): string | undefined {
  if (typeof res !== 'object' || res === null) return undefined
  const r = res as { response?: unknown; choices?: { message?: { content?: unknown } }[] }
  if (typeof r.response === 'string') return r.response
  const content = Array.isArray(r.choices) ? r.choices[0]?.message?.content : undefined
  return typeof content === 'string' ? content : undefined
}

/**
 * The configured provider's client. A missing binding is a configuration error that readConfig
 * already reports; this check only keeps a wiring mistake from failing silently.
 */
export function createChatModel(config: LlmConfig & WorkersAiConfig & Pick<Config, 'LLM_PROVIDER'>, io: { fetch?: typeof fetch; ai?: unknown }): LlmClient {
  if (config.LLM_PROVIDER === 'workers-ai') {
    const ai = io.ai as AiBinding | undefined
    if (typeof ai?.run !== 'function') throw new Error('configuration error: missing: AI')
    return createWorkersAi(config, ai)
  }
  return createLlm(config, io.fetch)
}

function toLlmError(err: unknown): LlmError {
  if (err instanceof LlmError) return err
  if (err instanceof APIConnectionTimeoutError) return new LlmError('timeout')
  // A caller's abort is the caller's deadline running out, so it is reported as a timeout.
  if (err instanceof APIUserAbortError) return new LlmError('timeout')
  if (err instanceof APIError && typeof err.status === 'number') return new LlmError('http', err.status)
  if (err instanceof Error && err.name === 'AbortError') return new LlmError('timeout')
  // Connection failures, unparsable bodies and anything else the SDK throws.
  return new LlmError('network')
}

/** The moderation call's own timeout: it must not eat the reply's time budget. */
export const MODERATION_TIMEOUT_MS = 5_000

/**
 * The OpenAI moderation endpoint as a yes/no check for MODERATION=on. Resolves true when the
 * text is flagged; throws LlmError when the check itself fails, so the caller can fail closed.
 */
export function createModerator(
  config: Pick<Config, 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'LLM_TIMEOUT_MS'>,
  fetchImpl?: typeof fetch
): (text: string, signal?: AbortSignal) => Promise<boolean> {
  const client = new OpenAI({
    // readConfig requires the key whenever MODERATION is on.
    apiKey: config.OPENAI_API_KEY ?? '',
    baseURL: config.OPENAI_BASE_URL,
    timeout: Math.min(config.LLM_TIMEOUT_MS, MODERATION_TIMEOUT_MS),
    maxRetries: 0,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
  return async (text, callerSignal) => {
    // Bounds the body as well as the headers (see complete above).
    const timeout = AbortSignal.timeout(Math.min(config.LLM_TIMEOUT_MS, MODERATION_TIMEOUT_MS))
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout
    try {
      const res = await Promise.race([client.moderations.create({ model: 'omni-moderation-latest', input: text }, { signal }), aborted(signal)])
      return res.results.some((r) => r.flagged)
    } catch (err) {
      if (signal.aborted) throw new LlmError('timeout')
      throw toLlmError(err)
    }
  }
}
