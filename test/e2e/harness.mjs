/**
 * End-to-end harness: the stand-ins plus the real `wrangler dev` on free ports with a fresh
 * persistence directory and no .dev.vars, and a guarantee that every process it started is
 * killed (process group) when the tests end, pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SANDBOX_SECRETS, startStack } from '../../scripts/sandbox/sandbox.mjs'
import { buildDelivery, payloads, postWebhook, signBody } from '../../scripts/sandbox/webhook-client.mjs'

export { buildDelivery, payloads, postWebhook, signBody, SANDBOX_SECRETS }

const live = new Set()
function killAllSync() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
}
process.once('exit', killAllSync)
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAllSync()
    process.exit(130)
  })
}

/**
 * Starts a stack; `vars` are extra Worker settings (--var); `config`/`script` run another Worker
 * (bench); `args` are more `wrangler dev` arguments (profile). wrangler's local trace collector is
 * off unless `traceCollector` (see startStack): the tests do not read it and the bench must not pay for it. Burst coalescing is off unless `defaults` is set: most tests send several DMs quickly
 * and expect one reply to each.
 */
export async function startE2E({ vars = {}, graph = {}, llm = {}, config, script, args, traceCollector = false, defaults = false } = {}) {
  const persistTo = mkdtempSync(join(tmpdir(), 'igbot-e2e-'))
  const stack = await startStack({
    port: 0,
    useDevVars: false,
    persistTo,
    vars: defaults ? vars : { COALESCE_WINDOW_MS: '0', ...vars },
    graph: { latencyMs: 5, ...graph },
    llm: { latencyMs: 0, ...llm },
    readyTimeoutMs: 90000,
    ...(config ? { config } : {}),
    ...(script ? { script } : {}),
    ...(args ? { args } : {}),
    traceCollector,
  })
  live.add(stack.child)
  return {
    ...stack,
    secret: stack.secrets.APP_SECRET,
    async stop() {
      await stack.stop()
      live.delete(stack.child)
      rmSync(persistTo, { recursive: true, force: true })
    },
    /** Signs with the sandbox secret and posts to /webhook. */
    post(body, options) {
      return postWebhook(`${stack.workerUrl}/webhook`, body, stack.secrets.APP_SECRET, options)
    },
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Waits until the Graph stand-in has seen nothing new for `quietMs` (max `timeoutMs`). */
export async function settle(graph, { quietMs = 1500, timeoutMs = 20000 } = {}) {
  const deadline = Date.now() + timeoutMs
  let last = graph.calls.length
  let since = Date.now()
  while (Date.now() < deadline) {
    await sleep(100)
    if (graph.calls.length !== last) {
      last = graph.calls.length
      since = Date.now()
    } else if (Date.now() - since >= quietMs) return
  }
}

let senderCounter = 0
/** A fresh Instagram-scoped id per test, so tests never see each other's replies. */
export function newSender() {
  senderCounter++
  return `7${String(process.pid % 100000).padStart(5, '0')}${String(Date.now() % 1e6).padStart(6, '0')}${String(senderCounter).padStart(4, '0')}`
}

/**
 * Start-once / stop-once for a file's before/after hooks. `stop` waits for a start in flight:
 * node:test can run `after` without awaiting `before` (seen with --test-name-pattern filtering
 * out a file's tests), and stopping nothing there would leave wrangler dev running.
 */
export function lifecycle(start) {
  let started
  return {
    start: () => (started ??= start()),
    async stop() {
      if (!started) return
      const value = await started.catch(() => null)
      await value?.stop()
    },
  }
}
