/**
 * An OpenAI-compatible chat-completions stand-in that obeys whoever writes the user turn: asked
 * for its prompt or instructions it prints the system message (encoded if asked), asked to
 * say/print X it says X, otherwise it echoes the user's text. It is the worst-case model the
 * deterministic layers must hold against. Plain TypeScript: runs in Node and workerd.
 */

export interface ObeyingLlm {
  fetch: typeof fetch
  /** Chat-completion requests served so far. */
  calls: number
  /** The system message of the latest request. */
  lastSystem?: string
  reset(): void
}

interface WireMessage {
  role: string
  content: string
}

const DATAMARK = '\u02c6'

/** The customer's words as the model would read them: fences and context lines removed. */
export function unwrapUserTurn(content: string): string {
  return content
    .split('\n')
    .filter((l) => !/^<<(?:data|end) [0-9a-f]+>>$/.test(l) && !l.startsWith('context: '))
    .join('\n')
    .split(DATAMARK)
    .join(' ')
    .trim()
}

function toBase64(s: string): string {
  let bin = ''
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b)
  return btoa(bin)
}

function toHex(s: string): string {
  return [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
}

function rot13(s: string): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base)
  })
}

const WANTS_PROMPT =
  /\b(?:system|prompt|instructions?|initial|above|configuration|directives?|guidelines|rules|programming|told|verbatim|word for word|secret|password|confidential|reference)\b/i
const SAY_QUOTED =
  /\b(?:say|says|print|repeat|write|output|type|respond with|reply with|answer with|add|include|start (?:your|the) (?:answer|reply|response) with)\b[^"“'‘\n]{0,60}["“'‘]([^"”\n]{1,400}?)["”’]/i
const SAY_BARE = /\b(?:just |only |now )?(?:say|print|repeat)\s*:?\s+([^.!?\n]{1,200})/i

/** What an obedient model answers to `user` under `system`. */
export function obey(system: string, user: string): string {
  if (WANTS_PROMPT.test(user)) {
    if (/base ?64/i.test(user)) return toBase64(system)
    if (/\bhex/i.test(user)) return toHex(system)
    if (/rot ?-?13/i.test(user)) return rot13(system)
    if (/revers|backwards|invert/i.test(user)) return [...system].reverse().join('')
    return system
  }
  const quoted = SAY_QUOTED.exec(user)
  if (quoted?.[1]) return quoted[1]
  const bare = SAY_BARE.exec(user)
  if (bare?.[1]) return bare[1]
  return user
}

/** What an obedient model answers to a chat: the system message, and the last user turn unfenced. */
export function obeyChat(messages: readonly { role: string; content: string }[]): string {
  const system = messages.find((m) => m.role === 'system')?.content ?? ''
  const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? ''
  return obey(system, unwrapUserTurn(lastUser))
}

export function createObeyingLlm(): ObeyingLlm {
  const state: ObeyingLlm = {
    calls: 0,
    reset() {
      state.calls = 0
      delete state.lastSystem
    },
    fetch: async (input, init) => {
      const req = new Request(input, init)
      if (req.method !== 'POST' || !new URL(req.url).pathname.endsWith('/chat/completions')) {
        return new Response(JSON.stringify({ error: { message: 'not found' } }), { status: 404 })
      }
      state.calls++
      const body = (await req.json()) as { model: string; messages: WireMessage[] }
      state.lastSystem = body.messages.find((m) => m.role === 'system')?.content ?? ''
      const content = obeyChat(body.messages)
      return Response.json({
        id: `chatcmpl-${state.calls}`,
        object: 'chat.completion',
        created: 0,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      })
    },
  }
  return state
}
