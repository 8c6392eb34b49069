/**
 * Free-plan invocation CPU (issue 12): what one webhook invocation of the product spends in the
 * Worker itself for a one-DM delivery, the fetch handler plus all of its waitUntil work (KV,
 * sender-object claim, LLM call, Send API call, the reply's bookkeeping calls), without the
 * Durable Objects' own CPU, which Cloudflare bills to the objects, not to the invocation.
 *
 * The Worker's entry (src/index.ts) is bundled by esbuild as wrangler would, with zod jitless as
 * in workerd, and run in Node with in-memory bindings: a Map for KV, Durable Object stubs that
 * answer at once like a fresh sender and a generous account, and a fetch that answers like the
 * LLM and the Graph API. process.cpuUsage() (user + system of this process) around each
 * invocation, after a warm-up, is the measure; the first (cold) invocation is reported apart.
 */
import { build } from 'esbuild'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { summarize } from '../../tools/bench-stats.ts'
import { buildDelivery, payloads, signBody } from '../sandbox/webhook-client.mjs'
import { ROOT } from '../sandbox/sandbox.mjs'

const SECRETS = { APP_SECRET: 'bench-app-secret', VERIFY_TOKEN: 'bench-verify', IG_ACCESS_TOKEN: 'bench-token', OPENAI_API_KEY: 'bench-key' }

async function loadWorker() {
  const dir = mkdtempSync(join(tmpdir(), 'igbot-invocation-'))
  const outfile = join(dir, 'worker.mjs')
  try {
    await build({
      stdin: {
        contents: ["import * as z from 'zod'", 'z.config({ jitless: true })', "export { default } from './src/index'"].join('\n'),
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['workerd', 'worker', 'browser'],
      outfile,
      logLevel: 'error',
      plugins: [
        {
          // Only the Durable Object base class comes from the runtime; the objects are faked below.
          name: 'cloudflare-workers-shim',
          setup(b) {
            b.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: 'cloudflare:workers', namespace: 'shim' }))
            b.onLoad({ filter: /.*/, namespace: 'shim' }, () => ({
              contents: 'export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env } }',
              loader: 'js',
            }))
          },
        },
      ],
    })
    return (await import(pathToFileURL(outfile).href)).default
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function memoryKv() {
  const m = new Map()
  return {
    get: async (k) => m.get(k) ?? null,
    put: async (k, v) => void m.set(k, v),
    delete: async (k) => void m.delete(k),
    list: async () => ({ keys: [], list_complete: true }),
  }
}

/** A sender object that claims everything as new and hands the job over leased. */
function fakeSender(name) {
  const userId = name.split(':')[1]
  return {
    accept: async ({ accountId, events }) =>
      events.map((e, i) => {
        const key = e.mid
        return {
          key,
          kind: e.kind,
          decision: 'new',
          job: key,
          ...(i === 0
            ? { lease: { id: key, leaseId: 'lease', userId, accountId, timestamp: e.timestamp, lastUserAt: e.timestamp, kind: { type: 'llm', text: e.text }, parts: null, nextPart: 0, attempts: 0, memory: [], llmCallsToday: 0 } }
            : {}),
        }
      }),
    saveReply: async () => true,
    beginPart: async () => 'go',
    partSent: async () => ({ fresh: false }),
    release: async () => null,
    lease: async () => null,
    leaseNextFresh: async () => null,
    takeBudgetNotice: async () => false,
  }
}

const fakeAccount = {
  // Grants every unit asked for, as a fresh day with a large budget does (per-isolate leases).
  spend: async (_day, _limit, _now, _tally, want = 1) => want,
  sendState: async () => ({ token: SECRETS.IG_ACCESS_TOKEN, invalid: false, pausedUntil: 0 }),
  token: async () => SECRETS.IG_ACCESS_TOKEN,
  report: async () => {},
  tokenRejected: async () => {},
  tokenAccepted: async () => {},
  privateReplySlot: async () => true,
}

let sent = 0
let promptChars = 0
const json = (body) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
async function fakeFetch(input, init) {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  if (url.includes('/chat/completions')) {
    const req = JSON.parse(typeof init?.body === 'string' ? init.body : '{}')
    promptChars = (req.messages ?? []).reduce((a, m) => a + String(m.content ?? '').length, 0)
    return json({ id: 'c', object: 'chat.completion', created: 0, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'We are open on Sunday from 10 to 16, and yes, we ship to Lisbon.' }, finish_reason: 'stop' }] })
  }
  if (/\/messages$/.test(url)) {
    const body = JSON.parse(typeof init?.body === 'string' ? init.body : '{}')
    return json(body.sender_action ? { recipient_id: body.recipient.id } : { recipient_id: body.recipient?.id, message_id: `m_${++sent}` })
  }
  return new Response('not found', { status: 404 })
}

/**
 * opts: { iterations, warmup, log }. Returns { cold, warm: summary (ms), logLinesPerInvocation }.
 */
export async function runInvocationCpu({ iterations = 300, warmup = 50, log = () => {} } = {}) {
  const worker = await loadWorker()
  const env = {
    ...SECRETS,
    // The deliveries' account (entry.id), as the sandbox configures it: the configured account's
    // route, not a connected account's, which this stand-in does not play.
    IG_ACCOUNT_ID: payloads.DEFAULT_ACCOUNT_ID,
    GRAPH_API_BASE: 'https://graph.instagram.com',
    GRAPH_API_VERSION: 'v25.0',
    OPENAI_MODEL: 'gpt-4o-mini',
    DEDUP: memoryKv(),
    SENDER: { getByName: (name) => fakeSender(name) },
    ACCOUNT: { getByName: () => fakeAccount },
  }
  const realFetch = globalThis.fetch
  const realLog = { log: console.log, warn: console.warn, error: console.error }
  let lines = 0
  // Logs are formatted as the product formats them; writing them out is the runtime's work.
  console.log = console.warn = console.error = () => void lines++
  globalThis.fetch = fakeFetch
  let n = 0
  const once = async () => {
    n++
    const delivery = buildDelivery({ text: `Hi! Are you open on Sunday, and do you ship to Lisbon? (#${n})`, senderId: `7${String(100000000000000 + n)}` })
    const bytes = new TextEncoder().encode(delivery.body)
    const request = new Request('https://worker.example/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(bytes, SECRETS.APP_SECRET) },
      body: bytes,
    })
    const pending = []
    const ctx = { waitUntil: (p) => pending.push(p), passThroughOnException: () => {}, props: {} }
    const before = process.cpuUsage()
    const res = await worker.fetch(request, env, ctx)
    await res.text()
    await Promise.all(pending)
    const used = process.cpuUsage(before)
    if (res.status !== 200) throw new Error(`invocation: status ${res.status}`)
    return (used.user + used.system) / 1000
  }
  try {
    const linesBefore = lines
    const sentBefore = sent
    const cold = await once()
    const coldLines = lines - linesBefore
    if (sent - sentBefore < 1) throw new Error('invocation: the reply was not sent')
    for (let i = 0; i < warmup; i++) await once()
    const ms = []
    const l0 = lines
    for (let i = 0; i < iterations; i++) ms.push(await once())
    const warm = summarize(ms)
    const out = { cold, coldLines, warm, logLinesPerInvocation: (lines - l0) / iterations, iterations, promptChars }
    log(`invocation CPU (fetch + waitUntil, no Durable Objects): cold ${cold.toFixed(2)} ms, warm p50 ${warm.p50.toFixed(2)} p99 ${warm.p99.toFixed(2)} mean ${warm.mean.toFixed(2)} ms (n=${iterations})`)
    return out
  } finally {
    globalThis.fetch = realFetch
    Object.assign(console, realLog)
  }
}
