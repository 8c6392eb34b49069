/**
 * Loopback stand-ins for the two services the Worker calls: Meta's Graph API (Send API, token
 * refresh) and an OpenAI-compatible LLM. Deterministic, in memory, observable and controllable
 * under /__sandbox/, so the sandbox, the end-to-end tests and the bench can play both services.
 */
import { EventEmitter } from 'node:events'
import { createServer } from 'node:http'
import { createOAuthStandin } from './oauth-standin.mjs'

export const SANDBOX_IG_TOKEN = 'sandbox-ig-token'
export const SANDBOX_INSTAGRAM_APP_ID = '1234567890'
export const SANDBOX_INSTAGRAM_APP_SECRET = 'sandbox-instagram-app-secret'
export const TRANSIENT_ERROR = {
  error: {
    message: 'An unexpected error has occurred. Please retry your request later.',
    type: 'OAuthException',
    code: 2,
    is_transient: true,
  },
}
const MAX_TEXT_BYTES = 1000
const MAX_BODY_BYTES = 1024 * 1024

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function fbtrace() {
  return `A${Math.random().toString(36).slice(2, 12)}`
}

function metaError(status, message, code, extra = {}) {
  return { status, body: { error: { message, type: 'OAuthException', code, ...extra, fbtrace_id: fbtrace() } } }
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

async function readBody(req) {
  const chunks = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new Error('body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parseJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Send API bodies arrive as JSON or, as in Meta's curl samples, form-encoded with JSON values. */
function parseSendBody(text, contentType) {
  if (/application\/x-www-form-urlencoded/.test(contentType ?? '')) {
    const out = {}
    for (const [k, v] of new URLSearchParams(text)) out[k] = parseJson(v) ?? v
    return out
  }
  return parseJson(text)
}

function listen(server, host, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server.address().port)
    })
  })
}

function closeServer(server) {
  return new Promise((resolve) => {
    server.closeAllConnections?.()
    server.close(() => resolve())
  })
}

/**
 * Decides failures deterministically: with rate r, exactly floor(n * r) of the first n calls fail,
 * spread evenly, so "half of all calls fail" holds for any n without a random seed.
 */
function failurePlan() {
  let n = 0
  return (rate) => {
    n++
    if (!(rate > 0)) return false
    return Math.floor(n * rate) > Math.floor((n - 1) * rate)
  }
}

/**
 * Graph API stand-in.
 * - POST /:version/:id/messages with `Authorization: Bearer <token>` (or `?access_token=`)
 * - GET /refresh_access_token and /:version/refresh_access_token
 * - GET /:version/me
 * - POST /:version/:comment-id/replies (public replies); private replies go to /messages with
 *   `recipient.comment_id` (one per comment, as Meta enforces)
 * - GET, POST, DELETE /:version/:id/messenger_profile (ice breakers, persistent menu)
 * - /__sandbox/: GET messages?since=&recipient=, GET calls?since=, GET events (SSE),
 *   POST reset, POST config {latencyMs, failRate, failNext, throttleNext, throttleMinutes, token}
 * Options: { token, latencyMs (50), failRate (0), accountId, host, port }
 */
export async function startGraphStandin(opts = {}) {
  const cfg = {
    latencyMs: opts.latencyMs ?? 50,
    failRate: opts.failRate ?? 0,
    failNext: 0,
    // The next this-many Send API calls are throttled (code 4), with this many minutes to wait.
    throttleNext: 0,
    throttleMinutes: 60,
  }
  const tokens = new Set([opts.token ?? SANDBOX_IG_TOKEN])
  const oauth = createOAuthStandin({ appId: opts.appId ?? SANDBOX_INSTAGRAM_APP_ID, appSecret: opts.appSecret ?? SANDBOX_INSTAGRAM_APP_SECRET, tokens })
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0)
  /** Every call, failed or not. */
  let calls = []
  /** Accepted sends (messages and sender actions), in arrival order. */
  let records = []
  let seq = 0
  let messageCounter = 0
  let refreshCounter = 0
  let shouldFail = failurePlan()
  /** Comment id → commenter, told by whoever plays Meta (POST /__sandbox/comments), so replies land in the right thread. */
  const commenters = new Map()
  let privatelyAnswered = new Set()
  let publicCounter = 0
  /** The account's messenger_profile (ice breakers, persistent menu). */
  let profile = {}

  function record(entry) {
    seq++
    const full = { seq, at: Date.now(), ...entry }
    records.push(full)
    emitter.emit('record', full)
    return full
  }

  function bearer(req, url) {
    const h = req.headers.authorization ?? ''
    const m = /^Bearer\s+(.+)$/i.exec(h.trim())
    return m ? m[1].trim() : url.searchParams.get('access_token') ?? ''
  }

  async function handleSend(req, res, url, version, accountId) {
    const raw = await readBody(req)
    const call = { at: Date.now(), method: 'POST', path: url.pathname, status: 0 }
    calls.push(call)
    if (cfg.latencyMs > 0) await sleep(cfg.latencyMs)
    const reply = (r) => {
      call.status = r.status
      send(res, r.status, r.body)
    }
    if (!tokens.has(bearer(req, url))) {
      return reply(metaError(401, 'Invalid OAuth access token - Cannot parse access token', 190))
    }
    // Which token sent it: the one from the connect flow, or the configured one.
    call.viaConnectedToken = oauth.snapshot().longTokens.includes(bearer(req, url))
    if (cfg.throttleNext > 0) {
      // Meta's throttle (§5.x): code 4 with a usage header saying when access comes back.
      cfg.throttleNext--
      call.throttled = true
      call.status = 400
      const usage = { [accountId]: [{ type: 'messenger', call_count: 100, total_cputime: 10, total_time: 10, estimated_time_to_regain_access: cfg.throttleMinutes }] }
      return send(res, 400, metaError(400, '(#4) Application request limit reached', 4, { is_transient: true }).body, {
        'x-business-use-case-usage': JSON.stringify(usage),
      })
    }
    if (cfg.failNext > 0 || shouldFail(cfg.failRate)) {
      if (cfg.failNext > 0) cfg.failNext--
      call.injectedFailure = true
      return reply({ status: 500, body: TRANSIENT_ERROR })
    }
    const body = parseSendBody(raw, req.headers['content-type'])
    if (body?.recipient?.comment_id !== undefined) return privateReply(body, call, reply, version, accountId)
    const recipientId = body?.recipient?.id
    if (typeof recipientId !== 'string' || recipientId === '') {
      return reply(metaError(400, '(#100) The parameter recipient is required', 100))
    }
    const action = body.sender_action
    if (action !== undefined) {
      if (!['typing_on', 'typing_off', 'mark_seen', 'react', 'unreact'].includes(action)) {
        return reply(metaError(400, '(#100) Param sender_action must be one of {TYPING_ON, TYPING_OFF, MARK_SEEN, REACT, UNREACT}', 100))
      }
      if (body.message !== undefined) {
        return reply(metaError(400, '(#100) sender_action must be sent without message', 100))
      }
      call.recipientId = recipientId
      record({ kind: 'sender_action', action, version, accountId, recipientId, body })
      return reply({ status: 200, body: { recipient_id: recipientId } })
    }
    const message = body.message
    if (!message || typeof message !== 'object') {
      return reply(metaError(400, '(#100) The parameter message is required', 100))
    }
    if (typeof message.text === 'string') {
      if (message.text.length === 0) return reply(metaError(400, '(#100) Message text cannot be empty', 100))
      if (Buffer.byteLength(message.text, 'utf8') > MAX_TEXT_BYTES) {
        return reply(metaError(400, '(#100) Length of param message[text] must be less than or equal to 1000', 100))
      }
    } else if (message.attachment === undefined && message.attachments === undefined) {
      return reply(metaError(400, '(#100) Message must contain text or an attachment', 100))
    }
    messageCounter++
    const messageId = `m_${messageCounter}`
    call.recipientId = recipientId
    record({
      kind: 'message',
      text: typeof message.text === 'string' ? message.text : undefined,
      messagingType: body.messaging_type,
      version,
      accountId,
      recipientId,
      messageId,
      body,
    })
    return reply({ status: 200, body: { recipient_id: recipientId, message_id: messageId } })
  }

  function handleRefresh(req, res, url) {
    calls.push({ at: Date.now(), method: 'GET', path: url.pathname, status: 0 })
    const call = calls[calls.length - 1]
    if (url.searchParams.get('grant_type') !== 'ig_refresh_token') {
      call.status = 400
      const e = metaError(400, 'Unsupported grant_type', 100)
      return send(res, e.status, e.body)
    }
    if (!tokens.has(url.searchParams.get('access_token') ?? bearer(req, url))) {
      call.status = 400
      const e = metaError(400, 'Invalid OAuth access token - Cannot parse access token', 190)
      return send(res, e.status, e.body)
    }
    refreshCounter++
    const next = `${opts.token ?? SANDBOX_IG_TOKEN}-refreshed-${refreshCounter}`
    tokens.add(next)
    call.status = 200
    emitter.emit('refresh', { at: Date.now(), token: next })
    return send(res, 200, { access_token: next, token_type: 'bearer', expires_in: 5184000 })
  }

  /** Private replies (§12): one per comment, text as in any message; the commenter, if known. */
  function privateReply(body, call, reply, version, accountId) {
    const commentId = String(body.recipient.comment_id)
    const text = body.message?.text
    if (typeof text !== 'string' || text.length === 0) return reply(metaError(400, '(#100) Message text cannot be empty', 100))
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
      return reply(metaError(400, '(#100) Length of param message[text] must be less than or equal to 1000', 100))
    }
    if (privatelyAnswered.has(commentId)) {
      return reply(metaError(400, '(#10) A private reply has already been sent for this comment', 10, { error_subcode: 2534023 }))
    }
    privatelyAnswered.add(commentId)
    messageCounter++
    const messageId = `m_${messageCounter}`
    const recipientId = commenters.get(commentId)
    call.recipientId = recipientId
    record({ kind: 'private_reply', commentId, text, version, accountId, recipientId, messageId, body })
    return reply({ status: 200, body: { recipient_id: recipientId ?? commentId, message_id: messageId } })
  }

  /** POST /:version/:comment-id/replies with `message` (form or JSON). */
  async function handlePublicReply(req, res, url, version, commentId) {
    const raw = await readBody(req)
    const call = { at: Date.now(), method: 'POST', path: url.pathname, status: 0 }
    calls.push(call)
    if (cfg.latencyMs > 0) await sleep(cfg.latencyMs)
    const reply = (r) => {
      call.status = r.status
      send(res, r.status, r.body)
    }
    if (!tokens.has(bearer(req, url))) return reply(metaError(401, 'Invalid OAuth access token - Cannot parse access token', 190))
    if (cfg.failNext > 0 || shouldFail(cfg.failRate)) {
      if (cfg.failNext > 0) cfg.failNext--
      call.injectedFailure = true
      return reply({ status: 500, body: TRANSIENT_ERROR })
    }
    const body = parseSendBody(raw, req.headers['content-type']) ?? {}
    const text = typeof body.message === 'string' ? body.message : url.searchParams.get('message')
    if (typeof text !== 'string' || text.length === 0) return reply(metaError(400, '(#100) The parameter message is required', 100))
    publicCounter++
    const id = `178${String(publicCounter).padStart(14, '0')}`
    record({ kind: 'public_reply', commentId, text, version, id, recipientId: commenters.get(commentId) })
    return reply({ status: 200, body: { id } })
  }

  /** GET, POST and DELETE /:version/:id/messenger_profile: ice breakers and the persistent menu. */
  async function handleProfile(req, res, url, version, accountId) {
    const raw = req.method === 'GET' ? '' : await readBody(req)
    const call = { at: Date.now(), method: req.method, path: url.pathname, status: 0 }
    calls.push(call)
    const reply = (r) => {
      call.status = r.status
      send(res, r.status, r.body)
    }
    if (!tokens.has(bearer(req, url))) return reply(metaError(401, 'Invalid OAuth access token - Cannot parse access token', 190))
    const body = raw ? parseSendBody(raw, req.headers['content-type']) ?? {} : {}
    record({ kind: 'messenger_profile', method: req.method, version, accountId, body })
    if (req.method === 'GET') {
      const fields = (url.searchParams.get('fields') ?? 'ice_breakers,persistent_menu').split(',')
      const data = {}
      for (const f of fields) if (profile[f] !== undefined) data[f] = profile[f]
      return reply({ status: 200, body: { data: Object.keys(data).length ? [data] : [] } })
    }
    if (req.method === 'DELETE') {
      for (const f of Array.isArray(body.fields) ? body.fields : []) delete profile[f]
      return reply({ status: 200, body: { result: 'success' } })
    }
    if (body.platform !== undefined && body.platform !== 'instagram') return reply(metaError(400, '(#100) Param platform must be instagram', 100))
    for (const f of ['ice_breakers', 'persistent_menu']) if (body[f] !== undefined) profile[f] = body[f]
    return reply({ status: 200, body: { result: 'success' } })
  }

  function handleEvents(req, res, url) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    })
    const since = Number(req.headers['last-event-id'] ?? url.searchParams.get('since') ?? seq)
    const write = (r) => res.write(`id: ${r.seq}\nevent: send\ndata: ${JSON.stringify(r)}\n\n`)
    for (const r of records) if (r.seq > since) write(r)
    const ping = setInterval(() => res.write(': ping\n\n'), 15000)
    emitter.on('record', write)
    req.on('close', () => {
      clearInterval(ping)
      emitter.off('record', write)
    })
  }

  async function handleControl(req, res, url) {
    const route = url.pathname.slice('/__sandbox/'.length)
    if (req.method === 'GET' && route === 'messages') {
      const since = Number(url.searchParams.get('since') ?? 0)
      const recipient = url.searchParams.get('recipient')
      const items = records.filter((r) => r.seq > since && (!recipient || r.recipientId === recipient))
      return send(res, 200, { next: seq, items })
    }
    if (req.method === 'GET' && route === 'calls') {
      const since = Number(url.searchParams.get('since') ?? 0)
      return send(res, 200, { count: calls.length, items: calls.slice(since) })
    }
    if (req.method === 'GET' && route === 'config') return send(res, 200, cfg)
    if (req.method === 'POST' && route === 'comments') {
      const body = parseJson(await readBody(req)) ?? {}
      api.registerComment(String(body.id ?? ''), String(body.from ?? ''))
      return send(res, 200, { ok: true })
    }
    if (req.method === 'GET' && route === 'profile') return send(res, 200, profile)
    if (req.method === 'GET' && route === 'oauth') return send(res, 200, oauth.snapshot())
    if (req.method === 'GET' && route === 'events') return handleEvents(req, res, url)
    if (req.method === 'POST' && route === 'reset') {
      api.reset()
      return send(res, 200, { ok: true })
    }
    if (req.method === 'POST' && route === 'config') {
      const body = parseJson(await readBody(req)) ?? {}
      api.configure(body)
      return send(res, 200, cfg)
    }
    return send(res, 404, { error: 'unknown sandbox route' })
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (url.pathname.startsWith('/__sandbox/')) return await handleControl(req, res, url)
      const sendMatch = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(url.pathname)
      if (sendMatch && req.method === 'POST') return await handleSend(req, res, url, sendMatch[1], sendMatch[2])
      const repliesMatch = /^\/(v\d+\.\d+)\/([0-9A-Za-z_-]+)\/replies$/.exec(url.pathname)
      if (repliesMatch && req.method === 'POST') return await handlePublicReply(req, res, url, repliesMatch[1], repliesMatch[2])
      const profileMatch = /^\/(v\d+\.\d+)\/([^/]+)\/messenger_profile$/.exec(url.pathname)
      if (profileMatch && ['GET', 'POST', 'DELETE'].includes(req.method)) return await handleProfile(req, res, url, profileMatch[1], profileMatch[2])
      if (/^(\/v\d+\.\d+)?\/refresh_access_token$/.test(url.pathname) && req.method === 'GET') {
        return handleRefresh(req, res, url)
      }
      const oauthAnswer = await oauth.handle(req, url, () => readBody(req), opts.accountId ?? '17841400000000001')
      if (oauthAnswer) {
        calls.push({ at: Date.now(), method: req.method, path: url.pathname, status: oauthAnswer.status })
        if (oauthAnswer.redirect) {
          res.writeHead(302, { location: oauthAnswer.redirect, 'cache-control': 'no-store' })
          return res.end()
        }
        if (oauthAnswer.html !== undefined) {
          res.writeHead(oauthAnswer.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          return res.end(oauthAnswer.html)
        }
        return send(res, oauthAnswer.status, oauthAnswer.body)
      }
      if (/^\/v\d+\.\d+\/me$/.test(url.pathname) && req.method === 'GET') {
        if (!tokens.has(bearer(req, url))) {
          const e = metaError(401, 'Invalid OAuth access token - Cannot parse access token', 190)
          return send(res, e.status, e.body)
        }
        const id = opts.accountId ?? '17841400000000001'
        return send(res, 200, { id, user_id: id, username: 'sandbox_shop' })
      }
      const e = metaError(404, 'Unknown path components', 2500)
      return send(res, e.status, e.body)
    } catch (err) {
      if (!res.headersSent) send(res, 400, { error: { message: String(err?.message ?? err), code: 100 } })
      else res.end()
    }
  })
  const port = await listen(server, opts.host ?? '127.0.0.1', opts.port ?? 0)

  const api = {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    events: emitter,
    get records() {
      return records
    },
    get calls() {
      return calls
    },
    get config() {
      return { ...cfg }
    },
    /** Accepted text messages, optionally to one recipient. */
    messages(recipientId) {
      return records.filter((r) => r.kind === 'message' && (!recipientId || r.recipientId === recipientId))
    },
    actions(recipientId, action) {
      return records.filter(
        (r) => r.kind === 'sender_action' && (!recipientId || r.recipientId === recipientId) && (!action || r.action === action)
      )
    },
    /** Private and public replies to comments, optionally to one comment. */
    commentReplies(commentId) {
      return records.filter((r) => (r.kind === 'private_reply' || r.kind === 'public_reply') && (!commentId || r.commentId === commentId))
    },
    registerComment(commentId, from) {
      if (commentId && from) commenters.set(commentId, from)
    },
    get profile() {
      return profile
    },
    /** What the OAuth stand-in saw: codes issued and used, tokens, subscriptions. */
    get oauth() {
      return oauth.snapshot()
    },
    reset() {
      calls = []
      records = []
      privatelyAnswered = new Set()
      profile = {}
      shouldFail = failurePlan()
      cfg.failNext = 0
      cfg.throttleNext = 0
      emitter.emit('reset')
    },
    configure(next = {}) {
      if (Number.isFinite(next.latencyMs)) cfg.latencyMs = Math.max(0, next.latencyMs)
      if (Number.isFinite(next.failRate)) {
        cfg.failRate = Math.min(1, Math.max(0, next.failRate))
        shouldFail = failurePlan()
      }
      if (Number.isFinite(next.failNext)) cfg.failNext = Math.max(0, Math.floor(next.failNext))
      if (Number.isFinite(next.throttleNext)) cfg.throttleNext = Math.max(0, Math.floor(next.throttleNext))
      if (Number.isFinite(next.throttleMinutes)) cfg.throttleMinutes = Math.max(0, next.throttleMinutes)
      if (typeof next.token === 'string' && next.token) tokens.add(next.token)
    },
    /** Resolves with the first record after `sinceSeq` matching `predicate`, or null on timeout. */
    waitFor(predicate, { sinceSeq = 0, timeoutMs = 20000 } = {}) {
      const hit = records.find((r) => r.seq > sinceSeq && predicate(r))
      if (hit) return Promise.resolve(hit)
      return new Promise((resolve) => {
        const onRecord = (r) => {
          if (r.seq > sinceSeq && predicate(r)) done(r)
        }
        const timer = setTimeout(() => done(null), timeoutMs)
        const done = (r) => {
          clearTimeout(timer)
          emitter.off('record', onRecord)
          resolve(r)
        }
        emitter.on('record', onRecord)
      })
    },
    get seq() {
      return seq
    },
    close: () => closeServer(server),
  }
  return api
}

/**
 * Pulls the user's words out of a prompt. Prompt builders wrap untrusted text in spotlighting
 * markers (tags, fences, <<<>>> lines) or datamark it (spaces replaced by a marker character);
 * the stand-in undoes the common forms so its echo reads naturally, and never throws.
 */
export function extractUserText(content) {
  let text = ''
  if (typeof content === 'string') text = content
  else if (Array.isArray(content)) {
    text = content
      .map((p) => (typeof p === 'string' ? p : typeof p?.text === 'string' ? p.text : ''))
      .join('\n')
  } else if (content != null) text = JSON.stringify(content)
  const marker =
    /^\s*(?:<{2,}.*|.*>{2,}|<\/?[A-Za-z][\w:.-]*(?:\s[^>]*)?>|\[\/?[A-Z][A-Z0-9 _:-]*\]|[-=#*~_`^]{3,}.*|«.*|.*»|(?:BEGIN|END)\b.*)\s*$/
  const lines = text.split(/\r?\n/)
  const markerIdx = lines.flatMap((l, i) => (marker.test(l) ? [i] : []))
  let kept
  if (markerIdx.length >= 2) {
    // Take the last delimited block: the newest user message in most prompt layouts.
    const end = markerIdx[markerIdx.length - 1]
    const start = markerIdx[markerIdx.length - 2]
    kept = lines.slice(start + 1, end)
    if (kept.join('').trim() === '') kept = lines.filter((l) => !marker.test(l))
  } else {
    kept = lines.filter((l) => !marker.test(l))
  }
  let out = kept
    .join(' ')
    .replace(/<\/?[A-Za-z][\w:.-]*(?:\s[^>]*)?>/g, ' ')
    .trim()
  // Datamarking: no whitespace, words joined by a marker character.
  if (!/\s/.test(out)) {
    const m = /[\^\u02c6\u2581\u2063\ue000\u00a7]/.exec(out)
    if (m) out = out.split(m[0]).join(' ')
  }
  out = out.replace(/\s+/g, ' ').trim()
  if (out === '') out = text.replace(/\s+/g, ' ').trim()
  return out.length > 300 ? `${out.slice(0, 297)}...` : out
}

/**
 * The deterministic sandbox answer to a chat request. The user turns after the last assistant
 * turn are the messages being answered (a burst, when the Worker coalesced several): the answer
 * says how many it was given, so coalescing is visible in the sandbox.
 */
export function sandboxReply(messages) {
  const list = Array.isArray(messages) ? messages : []
  const lastAssistant = list.findLastIndex((m) => m && m.role === 'assistant')
  const burst = list.slice(lastAssistant + 1).filter((m) => m && m.role === 'user')
  const said = burst.map((m) => extractUserText(m.content)).filter(Boolean)
  if (!said.length) return '[sandbox] Hello! I am the sandbox assistant. What can I do for you?'
  if (said.length === 1) return `[sandbox] You said: ${said[0]}`
  return `[sandbox] You said: ${said.join(' / ')} (${said.length} messages, one answer)`
}

/**
 * OpenAI-compatible chat completions stand-in.
 * POST /v1/chat/completions and /chat/completions; /__sandbox/: GET stats, POST reset,
 * POST config {latencyMs, down, stallNext}. Options: { latencyMs (0), down (false), apiKey, host, port }.
 * With `apiKey` set, other bearer tokens get OpenAI's 401.
 */
export async function startLlmStandin(opts = {}) {
  // stallNext: the next this-many completions send their headers and half a body, then nothing.
  const cfg = { latencyMs: opts.latencyMs ?? 0, down: opts.down ?? false, stallNext: 0 }
  let requests = []
  let counter = 0
  const emitter = new EventEmitter()

  async function handleCompletion(req, res) {
    const raw = await readBody(req)
    const entry = { at: Date.now(), status: 0 }
    requests.push(entry)
    if (cfg.latencyMs > 0) await sleep(cfg.latencyMs)
    const auth = /^Bearer\s+(.+)$/i.exec((req.headers.authorization ?? '').trim())?.[1]
    if (opts.apiKey && auth !== opts.apiKey) {
      entry.status = 401
      return send(res, 401, {
        error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      })
    }
    if (cfg.down) {
      entry.status = 500
      return send(res, 500, {
        error: { message: 'The sandbox LLM is down (injected failure).', type: 'server_error', param: null, code: null },
      })
    }
    const body = parseJson(raw)
    if (!body || typeof body !== 'object') {
      entry.status = 400
      return send(res, 400, {
        error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null },
      })
    }
    entry.messages = Array.isArray(body.messages) ? body.messages : []
    entry.model = typeof body.model === 'string' ? body.model : 'sandbox'
    const content = sandboxReply(entry.messages)
    if (cfg.stallNext > 0) {
      cfg.stallNext--
      entry.status = 200
      entry.stalled = true
      emitter.emit('request', entry)
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      // Half a completion, and the connection stays open with nothing more (closed on stop).
      return res.write(`{"id":"chatcmpl-stalled","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${content.slice(0, 5)}`)
    }
    counter++
    const id = `chatcmpl-sandbox-${counter}`
    const created = Math.floor(Date.now() / 1000)
    const promptTokens = Math.ceil(raw.length / 4)
    const completionTokens = Math.ceil(content.length / 4)
    entry.status = 200
    entry.reply = content
    emitter.emit('request', entry)
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      const chunk = (delta, finish) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: entry.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      res.write(chunk({ role: 'assistant', content }, null))
      res.write(chunk({}, 'stop'))
      return res.end('data: [DONE]\n\n')
    }
    return send(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: entry.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    })
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (req.method === 'POST' && /^(\/v1)?\/chat\/completions$/.test(url.pathname)) {
        return await handleCompletion(req, res)
      }
      if (req.method === 'GET' && /^(\/v1)?\/models$/.test(url.pathname)) {
        return send(res, 200, { object: 'list', data: [{ id: 'sandbox', object: 'model', owned_by: 'sandbox' }] })
      }
      if (url.pathname === '/__sandbox/stats' && req.method === 'GET') {
        return send(res, 200, { requests: requests.length, config: cfg, last: requests[requests.length - 1] ?? null })
      }
      if (url.pathname === '/__sandbox/reset' && req.method === 'POST') {
        api.reset()
        return send(res, 200, { ok: true })
      }
      if (url.pathname === '/__sandbox/config' && req.method === 'POST') {
        api.configure(parseJson(await readBody(req)) ?? {})
        return send(res, 200, cfg)
      }
      return send(res, 404, { error: { message: 'Unknown route', type: 'invalid_request_error' } })
    } catch (err) {
      if (!res.headersSent) send(res, 400, { error: { message: String(err?.message ?? err), type: 'invalid_request_error' } })
      else res.end()
    }
  })
  const port = await listen(server, opts.host ?? '127.0.0.1', opts.port ?? 0)
  const api = {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    /** The value for OPENAI_BASE_URL. */
    baseUrl: `http://${opts.host ?? '127.0.0.1'}:${port}/v1`,
    port,
    events: emitter,
    get requests() {
      return requests
    },
    get config() {
      return { ...cfg }
    },
    reset() {
      requests = []
    },
    configure(next = {}) {
      if (Number.isFinite(next.latencyMs)) cfg.latencyMs = Math.max(0, next.latencyMs)
      if (typeof next.down === 'boolean') cfg.down = next.down
      if (Number.isFinite(next.stallNext)) cfg.stallNext = Math.max(0, Math.floor(next.stallNext))
    },
    close: () => closeServer(server),
  }
  return api
}
