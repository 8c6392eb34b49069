/**
 * The one place that talks to the chat model, through the official `openai` SDK against any
 * OpenAI-compatible endpoint. Plain chat completion only: no tools, no functions, no streaming,
 * so a fooled model can produce text and nothing else. Failures surface as a typed LlmError.
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
    apiKey: config.OPENAI_API_KEY,
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
      let content: string | null | undefined
      try {
        const res = await client.chat.completions.create(
          {
            model: config.OPENAI_MODEL,
            messages,
            max_tokens: config.LLM_MAX_TOKENS,
            n: 1,
          },
          opts?.signal ? { signal: opts.signal } : undefined
        )
        content = res.choices[0]?.message?.content
      } catch (err) {
        throw toLlmError(err)
      }
      if (typeof content !== 'string' || content.trim() === '') throw new LlmError('empty')
      return content
    },
  }
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
): (text: string) => Promise<boolean> {
  const client = new OpenAI({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    timeout: Math.min(config.LLM_TIMEOUT_MS, MODERATION_TIMEOUT_MS),
    maxRetries: 0,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
  return async (text) => {
    try {
      const res = await client.moderations.create({ model: 'omni-moderation-latest', input: text })
      return res.results.some((r) => r.flagged)
    } catch (err) {
      throw toLlmError(err)
    }
  }
}
