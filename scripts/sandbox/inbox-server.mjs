/**
 * Serves the sandbox inbox page and its small API: the page asks this server to play Meta
 * (build, sign and post a webhook to the Worker) and listens here (SSE) for what the Worker sends
 * back through the Graph API stand-in. Signing stays on the server, so the page holds no secret.
 */
import { EventEmitter } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDelivery, payloads, postWebhook } from './webhook-client.mjs'

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'inbox')
const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/inbox.css': ['inbox.css', 'text/css; charset=utf-8'],
  '/inbox.js': ['inbox.js', 'text/javascript; charset=utf-8'],
}
const KINDS = new Set(['text', 'image', 'story_mention', 'reaction', 'unsend', 'echo', 'postback', 'ice_breaker', 'share', 'story_reply', 'quick_reply'])
const MAX_TIMELINE = 2000
/** The one post the sandbox page shows, with its comment box. */
const POST_MEDIA_ID = '17990000000000001'

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

async function readJson(req) {
  let raw = ''
  for await (const chunk of req) {
    raw += chunk
    if (raw.length > 64 * 1024) throw new Error('too large')
  }
  try {
    return JSON.parse(raw || '{}')
  } catch {
    return {}
  }
}

/** The Host values this server answers to: its address and the loopback names for it. */
export function ownHosts(host, port) {
  const names = new Set([host, '127.0.0.1', 'localhost', '[::1]'].map((h) => h.toLowerCase()))
  if (host === '0.0.0.0' || host === '::') names.delete(host)
  return new Set([...names].map((h) => `${h}:${port}`))
}

/** The host:port of an Origin header ('null' and junk give ''). */
function originHost(origin) {
  try {
    const u = new URL(origin)
    return u.protocol === 'http:' ? u.host.toLowerCase() : ''
  } catch {
    return ''
  }
}

/**
 * Options: { workerUrl, appSecret, accountId, graph (stand-in or null), mode, host, port }.
 * Returns { url, port, close() }.
 */
export async function startInboxServer(opts) {
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0)
  let seq = 0
  const timeline = []
  const push = (type, data) => {
    seq++
    const item = { seq, type, at: Date.now(), ...data }
    timeline.push(item)
    if (timeline.length > MAX_TIMELINE) timeline.splice(0, timeline.length - MAX_TIMELINE)
    emitter.emit('item', item)
    return item
  }
  const onRecord = (r) => push('outbound', { record: r })
  opts.graph?.events.on('record', onRecord)
  /** After a reset the stack (and its Graph stand-in) are new: listen to the new one. */
  const useGraph = (graph) => {
    opts.graph?.events.off('record', onRecord)
    opts.graph = graph
    opts.graph?.events.on('record', onRecord)
  }

  async function sendKind(body) {
    const kind = KINDS.has(body.kind) ? body.kind : 'text'
    const senderId = /^\d{1,20}$/.test(String(body.senderId ?? '')) ? String(body.senderId) : payloads.DEFAULT_SENDER_ID
    const text = typeof body.text === 'string' ? body.text.slice(0, 2000) : undefined
    const mid = typeof body.mid === 'string' && body.mid ? body.mid : undefined
    const targetMid = typeof body.targetMid === 'string' && body.targetMid ? body.targetMid : undefined
    const copies = Math.min(5, Math.max(1, Number(body.copies) || 1))
    // A tapped quick reply carries the chip's title as text and payload (as the bot sets them).
    const payload = kind === 'quick_reply' ? text : undefined
    const d = buildDelivery({ kind, text, senderId, accountId: opts.accountId, mid, targetMid, payload })
    const statuses = []
    for (let i = 0; i < copies; i++) {
      try {
        const r = await postWebhook(`${opts.workerUrl}/webhook`, d.body, opts.appSecret)
        statuses.push(r.status)
      } catch {
        statuses.push(0)
      }
    }
    const item = push('inbound', { kind, senderId, text: kind === 'text' || kind === 'echo' || kind === 'postback' || kind === 'quick_reply' ? text ?? '' : text, mid: d.mid, targetMid, statuses, duplicate: Boolean(mid) })
    return item
  }

  /** A comment on the sandbox post, by the given sender: the Worker may answer it privately and publicly. */
  async function sendComment(body) {
    const senderId = /^\d{1,20}$/.test(String(body.senderId ?? '')) ? String(body.senderId) : payloads.DEFAULT_SENDER_ID
    const text = typeof body.text === 'string' ? body.text.slice(0, 2200) : ''
    const commentId = payloads.newCommentId()
    // The stand-in learns who wrote it, so the private reply lands in that sender's thread.
    opts.graph?.registerComment(commentId, senderId)
    const d = payloads.metaJson(payloads.commentDelivery([{ text, senderId, commentId, mediaId: POST_MEDIA_ID }], opts.accountId))
    let status = 0
    try {
      status = (await postWebhook(`${opts.workerUrl}/webhook`, d, opts.appSecret)).status
    } catch {
      status = 0
    }
    return push('comment', { senderId, commentId, text, statuses: [status] })
  }

  let own = new Set()
  const server = createServer(async (req, res) => {
    try {
      // Only this page may drive the sandbox: a request whose Host is not this server's (DNS
      // rebinding) or whose Origin is another site (any web page can POST to loopback) is refused.
      if (!own.has(String(req.headers.host ?? '').toLowerCase()) || (req.headers.origin !== undefined && !own.has(originHost(req.headers.origin)))) {
        res.writeHead(403, { 'content-type': 'text/plain' })
        return res.end('Forbidden')
      }
      const url = new URL(req.url ?? '/', 'http://localhost')
      const file = STATIC[url.pathname]
      if (file && req.method === 'GET') {
        const content = await readFile(join(PAGE_DIR, file[0]))
        res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' })
        return res.end(content)
      }
      if (url.pathname === '/api/info' && req.method === 'GET') {
        return json(res, 200, {
          workerUrl: opts.workerUrl,
          accountId: opts.accountId,
          mode: opts.mode ?? {},
          observesReplies: Boolean(opts.graph),
          defaultSenderId: payloads.DEFAULT_SENDER_ID,
          stateReused: Boolean(opts.stateReused),
          ignoredDevVars: opts.ignoredDevVars ?? [],
          // Only the sandbox's own, printed-anyway admin token; never one from .dev.vars.
          adminToken: opts.adminToken ?? null,
          canResume: Boolean(opts.adminToken),
          canReset: Boolean(opts.onReset),
        })
      }
      if (url.pathname === '/api/conversation' || url.pathname === '/api/resume') {
        // The Worker's operator API, with the sandbox's own admin token (never one from .dev.vars).
        const sender = url.searchParams.get('sender') ?? ''
        if (!opts.adminToken || !/^\d{1,20}$/.test(sender)) return json(res, 404, { error: 'not available' })
        const resume = url.pathname === '/api/resume' && req.method === 'POST'
        const r = await fetch(`${opts.workerUrl}/admin/api/conversation${resume ? '/resume' : ''}?account=${opts.accountId}&user=${sender}`, {
          method: resume ? 'POST' : 'GET',
          headers: { authorization: `Bearer ${opts.adminToken}` },
          signal: AbortSignal.timeout(5000),
        })
        return json(res, r.status, await r.json().catch(() => ({})))
      }
      if (url.pathname === '/api/reset' && req.method === 'POST') {
        if (!opts.onReset) return json(res, 404, { error: 'not available' })
        await opts.onReset()
        timeline.length = 0
        push('reset', {})
        return json(res, 200, { ok: true })
      }
      if (url.pathname === '/api/send' && req.method === 'POST') {
        return json(res, 200, await sendKind(await readJson(req)))
      }
      if (url.pathname === '/api/comment' && req.method === 'POST') {
        return json(res, 200, await sendComment(await readJson(req)))
      }
      if (url.pathname === '/api/note' && req.method === 'POST') {
        // Lets `npm run simulate` show what it sent on the page too.
        const b = await readJson(req)
        return json(res, 200, push('inbound', {
          kind: String(b.kind ?? 'text').slice(0, 32),
          senderId: String(b.senderId ?? '').slice(0, 20),
          text: typeof b.text === 'string' ? b.text.slice(0, 2000) : undefined,
          mid: String(b.mid ?? ''),
          statuses: Array.isArray(b.statuses) ? b.statuses.slice(0, 50).map(Number) : [],
          via: 'simulate',
        }))
      }
      if (url.pathname === '/api/health' && req.method === 'GET') {
        try {
          const r = await fetch(`${opts.workerUrl}/healthz`, { signal: AbortSignal.timeout(3000) })
          return json(res, 200, { reachable: true, status: r.status, body: await r.json().catch(() => null) })
        } catch {
          return json(res, 200, { reachable: false })
        }
      }
      if (url.pathname === '/api/events' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
        const since = Number(req.headers['last-event-id'] ?? url.searchParams.get('since') ?? 0)
        const write = (item) => res.write(`id: ${item.seq}\ndata: ${JSON.stringify(item)}\n\n`)
        for (const item of timeline) if (item.seq > since) write(item)
        const ping = setInterval(() => res.write(': ping\n\n'), 15000)
        emitter.on('item', write)
        req.on('close', () => {
          clearInterval(ping)
          emitter.off('item', write)
        })
        return
      }
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('Not Found')
    } catch {
      if (!res.headersSent) json(res, 500, { error: 'sandbox error' })
      else res.end()
    }
  })
  const host = opts.host ?? '127.0.0.1'
  const port = await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => resolve(server.address().port))
  })
  own = ownHosts(host, port)
  return {
    url: `http://${host}:${port}/`,
    port,
    /** Points the page at a restarted stack. */
    setStack({ workerUrl, graph }) {
      opts.workerUrl = workerUrl
      useGraph(graph)
    },
    close: () =>
      new Promise((resolve) => {
        opts.graph?.events.off('record', onRecord)
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}
