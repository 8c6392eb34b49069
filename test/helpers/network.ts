/**
 * Loopback-free stand-ins for Meta's Graph API and an OpenAI-compatible LLM inside workerd:
 * `globalThis.fetch` is replaced for the hosts the test bindings point at (graph.test, llm.test),
 * every request is recorded, and anything else is refused, so no test can reach a real service.
 */
import { vi } from 'vitest'

export interface GraphCall {
  /** The message_id the stand-in answered with, for text messages. */
  messageId?: string
  path: string
  /** graph.test, or a name under it (`here.graph.test`) a test gave one Worker invocation. */
  host: string
  auth: string | null
  body: { recipient?: { id?: string; comment_id?: string }; message?: { text?: string }; sender_action?: string; form?: Record<string, string>; [k: string]: unknown }
}

export interface NetworkOptions {
  /** Answers a Send API call; return a Response to override the default success. */
  graph?: (call: GraphCall, n: number) => Response | Promise<Response> | undefined
  /** Answers GET /refresh_access_token; the default grants a new 60-day token. */
  refresh?: (url: URL) => Response | Promise<Response> | undefined
  /** Answers GET /me (which account a token belongs to). */
  me?: (req: Request) => Response | Promise<Response> | undefined
  /** The LLM's answer text for a request, or a Response to override. */
  llm?: (body: { messages: { role: string; content: string }[]; [k: string]: unknown }, n: number) => string | Response | Promise<string | Response>
}

export function installNetwork(opts: NetworkOptions = {}) {
  const graph: GraphCall[] = []
  const refreshes: URL[] = []
  const llm: { messages: { role: string; content: string }[]; [k: string]: unknown }[] = []
  /** The host each LLM request went to (llm.test, or a name under it), in order. */
  const llmHosts: string[] = []
  let messageCounter = 0
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input as RequestInfo, init)
    const url = new URL(req.url)
    const isGraph = url.host === 'graph.test' || url.host.endsWith('.graph.test')
    const isLlm = url.host === 'llm.test' || url.host.endsWith('.llm.test')
    if (isGraph && url.pathname.endsWith('/refresh_access_token')) {
      refreshes.push(url)
      const custom = await opts.refresh?.(url)
      if (custom) return custom
      return Response.json({ access_token: `refreshed-token-${refreshes.length}`, token_type: 'bearer', expires_in: 5_184_000 })
    }
    if (isGraph && req.method === 'GET' && url.pathname.endsWith('/me')) {
      // Identifies a refreshed token; every token belongs to the test account unless told otherwise.
      return (await opts.me?.(req)) ?? Response.json({ id: '17841400000000001', user_id: '17841400000000001' })
    }
    if (isGraph) {
      // Bytes, not .text(): workerd warns when .text() reads a form-encoded body.
      const raw = new TextDecoder().decode(await req.arrayBuffer())
      // JSON for the Send API; form-encoded for public replies (POST /<comment-id>/replies).
      const body = /x-www-form-urlencoded/.test(req.headers.get('content-type') ?? '') ? { form: Object.fromEntries(new URLSearchParams(raw)) } : JSON.parse(raw)
      const call: GraphCall = { path: url.pathname, host: url.host, auth: req.headers.get('authorization'), body: body as GraphCall['body'] }
      graph.push(call)
      const custom = await opts.graph?.(call, graph.length)
      if (custom) return custom
      if (call.body.sender_action) return Response.json({ recipient_id: call.body.recipient?.id })
      call.messageId = `m_${++messageCounter}`
      return Response.json({ recipient_id: call.body.recipient?.id, message_id: call.messageId })
    }
    if (isLlm) {
      const body = (await req.json()) as (typeof llm)[number]
      llm.push(body)
      llmHosts.push(url.host)
      const answer = (await opts.llm?.(body, llm.length)) ?? `[sandbox] ${body.messages.at(-1)?.content.slice(0, 50) ?? ''}`
      if (answer instanceof Response) return answer
      return Response.json({
        id: `chatcmpl-${llm.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: String(body.model ?? 'test'),
        choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      })
    }
    throw new TypeError(`network access to ${url.host} is not allowed in tests`)
  })
  return {
    graph,
    llm,
    llmHosts,
    refreshes,
    /** Texts the Send API accepted, in order (failed attempts are in `graph` only). */
    texts: () => graph.filter((c) => c.messageId && c.body.recipient?.id).map((c) => messageText(c)),
    /** Texts sent to one recipient, in order (alarms of other tests may send to others). */
    textsTo: (userId: string) =>
      graph.filter((c) => c.body.recipient?.id === userId && c.messageId).map((c) => messageText(c)),
    /** Private replies (Send API with recipient.comment_id) and public replies, per comment. */
    privateReplies: (commentId: string) => graph.filter((c) => c.body.recipient?.comment_id === commentId && c.messageId).map((c) => messageText(c)),
    publicReplies: (commentId: string) => graph.filter((c) => c.path.endsWith(`/${commentId}/replies`)).map((c) => c.body.form?.message ?? ''),
    actions: () => graph.filter((c) => c.body.sender_action).map((c) => c.body.sender_action!),
    restore: () => spy.mockRestore(),
  }
}

function messageText(c: GraphCall): string {
  return c.body.message!.text!
}

/** Waits until `check` holds (for work that finishes in waitUntil or an alarm). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}
