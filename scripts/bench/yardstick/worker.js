/**
 * The bench's yardstick (issue 12), NOT part of the product: the least a correct Worker must do
 * per DM. Raw-byte HMAC with a key imported once per isolate, JSON parse, one INSERT OR IGNORE
 * claim in the sender's SQLite Durable Object before the 200; then, in waitUntil, one LLM call,
 * one Send API call and one durable "sent" mark. No logs, no config validation, no defences:
 * what the product pays on top of this is the price of its guarantees and features.
 *
 * Unit probes: with PROBE_DO, PROBE_FETCH, PROBE_SQL or PROBE_LOG set to k (all 0 by default, as
 * the comparison runs it), each DM also makes k more of one kind of unit, so the bench can price
 * one unit of each kind in the same run and say where the product's extra CPU goes.
 */
import { DurableObject } from 'cloudflare:workers'

export class YardstickSender extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env)
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS msgs (mid TEXT PRIMARY KEY, sent INTEGER NOT NULL DEFAULT 0)')
  }

  claim(mid) {
    // Probe: k point reads like the product's, inside the claim (so before the 200).
    for (let i = probe(this.env, 'PROBE_SQL'); i > 0; i--) this.ctx.storage.sql.exec('SELECT sent FROM msgs WHERE mid = ?', `probe-${i}`).toArray()
    return this.ctx.storage.sql.exec('INSERT OR IGNORE INTO msgs (mid) VALUES (?)', mid).rowsWritten > 0
  }

  markSent(mid) {
    this.ctx.storage.sql.exec('UPDATE msgs SET sent = 1 WHERE mid = ?', mid)
  }

  /** Probe: one more Durable Object request with a point read. */
  probe(mid) {
    return this.ctx.storage.sql.exec('SELECT sent FROM msgs WHERE mid = ?', mid).toArray().length
  }
}

function probe(env, name) {
  const k = Number(env[name] ?? 0)
  return Number.isInteger(k) && k > 0 ? Math.min(k, 500) : 0
}

const keys = new Map()
function hmacKey(secret) {
  let k = keys.get(secret)
  if (!k) {
    k = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    keys.set(secret, k)
  }
  return k
}

function hexBytes(hex) {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return null
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

async function reply(env, stub, senderId, mid, text) {
  const graphUrl = `${env.GRAPH_API_BASE}/${env.GRAPH_API_VERSION}/${env.IG_ACCOUNT_ID}/messages`
  const graphHeaders = { authorization: `Bearer ${env.IG_ACCESS_TOKEN}`, 'content-type': 'application/json' }
  // Probes: k typing indicators (outbound fetches), k object requests.
  // (The typing indicators go out together, so k of them do not delay the reply k times.)
  await Promise.all(
    Array.from({ length: probe(env, 'PROBE_FETCH') }, async () => {
      const r = await fetch(graphUrl, { method: 'POST', headers: graphHeaders, body: JSON.stringify({ recipient: { id: senderId }, sender_action: 'typing_on' }) })
      await r.arrayBuffer()
    })
  )
  for (let i = probe(env, 'PROBE_DO'); i > 0; i--) await stub.probe(mid)
  const llm = await fetch(`${env.OPENAI_BASE_URL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.OPENAI_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: env.OPENAI_MODEL, messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: text }], max_tokens: 400 }),
  })
  const answer = (await llm.json()).choices?.[0]?.message?.content
  if (!answer) return
  const sent = await fetch(graphUrl, {
    method: 'POST',
    headers: graphHeaders,
    body: JSON.stringify({ recipient: { id: senderId }, message: { text: answer } }),
  })
  await sent.arrayBuffer()
  if (sent.ok) await stub.markSent(mid)
  // Probe: k structured log lines of the product's size (about 100 bytes).
  for (let i = probe(env, 'PROBE_LOG'); i > 0; i--) {
    console.log(JSON.stringify({ level: 'info', event: 'webhook_received', component: 'webhook', events: 1, new: 1, ms: 3, probe: i }))
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/healthz') return Response.json({ status: 'ok' })
    if (url.pathname !== '/webhook' || request.method !== 'POST') return new Response('Not Found', { status: 404 })
    const body = new Uint8Array(await request.arrayBuffer())
    const sig = hexBytes((request.headers.get('x-hub-signature-256') ?? '').replace(/^sha256=/, ''))
    if (!sig || !(await crypto.subtle.verify('HMAC', await hmacKey(env.APP_SECRET), sig, body))) {
      return new Response('Unauthorized', { status: 401 })
    }
    const json = JSON.parse(new TextDecoder().decode(body))
    for (const entry of json.entry ?? []) {
      for (const m of entry.messaging ?? []) {
        const mid = m.message?.mid
        const text = m.message?.text
        if (!mid || !text || m.message.is_echo) continue
        const senderId = m.sender.id
        const stub = env.SENDER.getByName(`${entry.id}:${senderId}`)
        if (await stub.claim(mid)) ctx.waitUntil(reply(env, stub, senderId, mid, text))
      }
    }
    return new Response('EVENT_RECEIVED')
  },
}
