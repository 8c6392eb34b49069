/**
 * CPU per webhook: the synchronous hot path of POST /webhook (HMAC verify, UTF-8 decode + JSON
 * parse, parseWebhook normalize) timed in Node on the Worker's own modules, bundled on the fly by
 * esbuild. zod runs jitless, as in workerd (which forbids `new Function`), so the figure is not
 * flattered by zod's eval-compiled fast path.
 */
import { build } from 'esbuild'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { summarize } from '../../tools/bench-stats.ts'
import { payloads, signBody } from '../sandbox/webhook-client.mjs'
import { ROOT } from '../sandbox/sandbox.mjs'

const SECRET = 'bench-app-secret'

const HOT_PATH = [
  "import * as z from 'zod'",
  "export { verifySignature } from './src/meta/signature'",
  "export { parseWebhook } from './src/meta/webhook'",
  'z.config({ jitless: true })',
]

async function loadHotPath(lines = HOT_PATH) {
  const dir = mkdtempSync(join(tmpdir(), 'igbot-cpu-'))
  const outfile = join(dir, 'hot-path.mjs')
  try {
    await build({
      stdin: {
        contents: lines.join('\n'),
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
    })
    return await import(pathToFileURL(outfile).href)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Realistic bodies, serialised like Meta (escaped non-ASCII and slashes) and signed. */
export function hotPathBodies() {
  const account = payloads.DEFAULT_ACCOUNT_ID
  const sender = (i) => `17${String(8400000000000 + i).padStart(14, '0')}`
  const sentence = 'Hi! Do you have the blue linen shirt in size M, and can it reach Lisbon by Friday? Ça va? '
  // ~1 KB: one DM with a typical question (a few accented characters, escaped as \uXXXX).
  let oneText = sentence
  const one = () =>
    payloads.metaJson(payloads.delivery([payloads.messagingItem({ text: oneText, senderId: sender(1) })], account))
  while (Buffer.byteLength(one()) < 1024 - sentence.length) oneText += sentence
  // ~50 KB: one delivery of 40 items of mixed kinds with long texts and signed CDN URLs.
  const cdn = `https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=${'1'.repeat(18)}&signature=${'A'.repeat(180)}`
  const kinds = ['text', 'image', 'story_reply', 'reply', 'share', 'quick_reply', 'postback', 'reaction']
  const bigItems = []
  let big = ''
  for (let i = 0; Buffer.byteLength(big) < 50 * 1024; i++) {
    const kind = kinds[i % kinds.length]
    bigItems.push(payloads.messagingItem({ kind, text: sentence.repeat(8), senderId: sender(i), url: cdn }))
    big = payloads.metaJson(payloads.delivery(bigItems, account))
  }
  // A 100-item batch: 100 short DMs from 100 senders in one delivery.
  const batch = payloads.metaJson(
    payloads.delivery(
      Array.from({ length: 100 }, (_, i) => payloads.messagingItem({ text: sentence, senderId: sender(i) })),
      account
    )
  )
  const make = (name, text, items) => {
    const bytes = new Uint8Array(Buffer.from(text, 'utf8'))
    return { name, bytes, items, header: signBody(bytes, SECRET) }
  }
  return [make('1 KB DM', one(), 1), make('50 KB delivery', big, bigItems.length), make('100-item batch', batch, 100)]
}

/**
 * Times each body `iterations` times (bounded by `maxMs` per body) after a warm-up, stage by
 * stage and whole. Returns per-body summaries in microseconds.
 */
export async function runCpuBench({ iterations = 2000, maxMs = 8000, log = () => {} } = {}) {
  const { verifySignature, parseWebhook } = await loadHotPath()
  const secrets = [SECRET]
  const results = []
  for (const body of hotPathBodies()) {
    const once = async (stages) => {
      const t0 = performance.now()
      if (!(await verifySignature(body.bytes, body.header, secrets))) throw new Error('signature rejected')
      const t1 = performance.now()
      const json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body.bytes))
      const t2 = performance.now()
      const parsed = parseWebhook(json)
      const t3 = performance.now()
      if (!parsed.ok || parsed.webhook.events.length !== body.items) throw new Error(`${body.name}: parse failed`)
      if (stages) {
        stages.verify.push((t1 - t0) * 1000)
        stages.parse.push((t2 - t1) * 1000)
        stages.normalize.push((t3 - t2) * 1000)
        stages.total.push((t3 - t0) * 1000)
      }
    }
    const warm = Math.min(200, iterations)
    for (let i = 0; i < warm; i++) await once(null)
    const stages = { verify: [], parse: [], normalize: [], total: [] }
    const deadline = performance.now() + maxMs
    for (let i = 0; i < iterations && performance.now() < deadline; i++) await once(stages)
    const r = {
      name: body.name,
      bytes: body.bytes.byteLength,
      items: body.items,
      verify: summarize(stages.verify),
      parse: summarize(stages.parse),
      normalize: summarize(stages.normalize),
      total: summarize(stages.total),
    }
    log(`cpu  ${r.name.padEnd(15)} ${String(r.bytes).padStart(6)} B  total p50 ${r.total.p50.toFixed(1)} µs  mean ${r.total.mean.toFixed(1)} µs  (n=${r.total.n})`)
    results.push(r)
  }
  return results
}

/** Hostile model answers (issue 17): the shapes that made the old output-guard regexes backtrack. */
export const GUARD_SHAPES = {
  '[a]( repeated': '[a](',
  'a. repeated': 'a.',
  'http:// repeated': 'http://',
  'dots': '.',
  'digits': '7',
  'alnum run': 'a1B2',
  '&# repeated': '&#',
  '% repeated': '%',
  '1: repeated': '1:',
  'prose with links': 'See evil.lol/x and www.a.example, ok. ',
}

/**
 * checkReply on 100k characters of each hostile shape (the guard reads the first 16 KiB), in Node
 * on the Worker's own module. Milliseconds per call; the old regexes took seconds to minutes.
 */
export async function runGuardBench({ iterations = 20, chars = 100_000, log = () => {} } = {}) {
  const { checkReply, DEFAULT_SYSTEM_PROMPT } = await loadHotPath([
    "export { checkReply } from './src/llm/output-guard'",
    "export { DEFAULT_SYSTEM_PROMPT } from './src/core/config'",
  ])
  const ctx = { canary: 'ref-5f1c0a9e77d24b3a8c6e0f12', systemPrompt: DEFAULT_SYSTEM_PROMPT, allowedDomains: ['shop.example'] }
  const results = []
  for (const [name, unit] of Object.entries(GUARD_SHAPES)) {
    const text = unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars)
    checkReply(text, ctx) // warm-up
    const ms = []
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now()
      checkReply(text, ctx)
      ms.push(performance.now() - t0)
    }
    const r = { name, chars, ms: summarize(ms) }
    log(`guard ${name.padEnd(18)} ${chars} chars  p50 ${r.ms.p50.toFixed(2)} ms  max ${r.ms.max.toFixed(2)} ms`)
    results.push(r)
  }
  return results
}
