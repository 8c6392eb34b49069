/**
 * `npm start`: the bot on this machine with no credentials and no network. Starts the Graph API
 * and LLM stand-ins, the Worker under `wrangler dev` wired to them, and the inbox page; writes
 * .wrangler/sandbox.json for `npm run simulate`; Ctrl-C stops every process it started.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exampleVars } from './example-rules.mjs'
import { startInboxServer } from './inbox-server.mjs'
import { freePort, parseDotVars, ROOT, SANDBOX_SECRETS, startStack } from './sandbox.mjs'

const STATE_FILE = join(ROOT, '.wrangler', 'sandbox.json')
/** The sandbox's own local data, apart from `npm run dev`'s (.wrangler/state). */
export const SANDBOX_STATE_DIR = join(ROOT, '.wrangler', 'sandbox-state')

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}

const quiet = process.argv.includes('--quiet')
const fresh = process.argv.includes('--fresh')
if (fresh) rmSync(SANDBOX_STATE_DIR, { recursive: true, force: true })
const reused = existsSync(SANDBOX_STATE_DIR) && readdirSync(SANDBOX_STATE_DIR).length > 0
let stack
let inbox
let stopping = false

async function shutdown(code) {
  if (stopping) return
  stopping = true
  rmSync(STATE_FILE, { force: true })
  await inbox?.close().catch(() => {})
  await stack?.stop().catch(() => {})
  process.exit(code)
}
process.on('SIGINT', () => shutdown(0))
process.on('SIGTERM', () => shutdown(0))
process.on('SIGHUP', () => shutdown(0))

let restarting = false

async function launch(port) {
  const s = await startStack({
    port,
    persistTo: SANDBOX_STATE_DIR,
    llm: { latencyMs: Number(arg('llm-latency', 300)) },
    graph: { latencyMs: Number(arg('graph-latency', 50)) },
    // Worker logs stream to this terminal (JSON lines) unless --quiet.
    stdio: quiet ? 'pipe' : 'inherit',
    // Example keyword and comment rules (scripts/sandbox/example-rules.mjs) unless .dev.vars has its own.
    vars: exampleVars(existsSync(join(ROOT, '.dev.vars')) ? parseDotVars(readFileSync(join(ROOT, '.dev.vars'), 'utf8')) : {}),
  })
  s.child.once('exit', (code) => {
    if (!stopping && !restarting) {
      console.error(`wrangler dev exited (code ${code}); stopping the sandbox.`)
      shutdown(1)
    }
  })
  return s
}

/** The inbox page's "Reset sandbox": stop the Worker, delete its local state, start it again empty. */
async function reset() {
  restarting = true
  try {
    const port = Number(new URL(stack.workerUrl).port)
    await stack.stop()
    rmSync(SANDBOX_STATE_DIR, { recursive: true, force: true })
    stack = await launch(port)
    inbox.setStack({ workerUrl: stack.workerUrl, graph: stack.mode.realGraph ? null : stack.graph })
    console.log(`  Sandbox reset: local state deleted, Worker restarted at ${stack.workerUrl}.`)
  } finally {
    restarting = false
  }
}

try {
  console.log('Starting the sandbox: Graph API and LLM stand-ins, then wrangler dev (local mode)…')
  stack = await launch(Number(arg('port', 8787)))
  inbox = await startInboxServer({
    workerUrl: stack.workerUrl,
    appSecret: stack.secrets.APP_SECRET,
    accountId: stack.accountId,
    graph: stack.mode.realGraph ? null : stack.graph,
    mode: stack.mode,
    stateReused: reused,
    ignoredDevVars: stack.ignoredDevVars,
    adminToken: stack.adminIsSandbox ? SANDBOX_SECRETS.ADMIN_TOKEN : null,
    onReset: reset,
    port: await freePort(Number(arg('inbox-port', 8788))),
  })
  mkdirSync(join(ROOT, '.wrangler'), { recursive: true })
  writeFileSync(
    STATE_FILE,
    JSON.stringify(
      {
        pid: process.pid,
        workerUrl: stack.workerUrl,
        inboxUrl: inbox.url,
        graphUrl: stack.mode.realGraph ? null : stack.graph.url,
        llmUrl: stack.mode.realLlm ? null : stack.llm.url,
        accountId: stack.accountId,
        startedAt: new Date().toISOString(),
      },
      null,
      2
    )
  )
  const lines = [
    '',
    stack.mode.realLlm || stack.mode.realGraph
      ? '  Instagram DM bot sandbox is running, with real services from .dev.vars (see below).'
      : '  Instagram DM bot sandbox is running (offline, no credentials).',
    '',
    `  Worker:       ${stack.workerUrl}   (webhook: ${stack.workerUrl}/webhook, health: ${stack.workerUrl}/healthz)`,
    `  Inbox page:   ${inbox.url}`,
    `  LLM:          ${stack.mode.realLlm ? 'REAL — OPENAI_API_KEY from .dev.vars (requests leave this machine)' : `sandbox stand-in at ${stack.llm.baseUrl}`}`,
    `  Graph API:    ${stack.mode.realGraph ? 'REAL — IG_ACCESS_TOKEN and GRAPH_API_BASE from .dev.vars' : `sandbox stand-in at ${stack.graph.url}`}`,
    `  Verify token: ${stack.secrets.VERIFY_TOKEN === 'sandbox-verify-token' ? 'sandbox-verify-token' : '(from .dev.vars)'}`,
    `  Operator:     ${stack.workerUrl}/admin   (admin token: ${stack.adminIsSandbox ? SANDBOX_SECRETS.ADMIN_TOKEN : 'ADMIN_TOKEN from .dev.vars'}; or the Connect button on the inbox page)`,
    '',
    reused
      ? `  State:        REUSED from an earlier run (${SANDBOX_STATE_DIR}): paused or opted-out senders stay so.\n                Start empty with: npm start -- --fresh   (or the Reset sandbox button)`
      : `  State:        new and empty (${SANDBOX_STATE_DIR})`,
    ...(stack.ignoredDevVars.length
      ? ['', '  Ignored from .dev.vars (placeholders, so the sandbox stand-ins are used instead):', ...stack.ignoredDevVars.map((i) => `    ${i.name}: ${i.why}`)]
      : []),
    '',
    '  Try it:  npm run simulate -- --text "Are you open on Sunday?"   (example DM rule, no LLM call)',
    '           npm run simulate -- --text "Do you ship to Portugal?"  (the assistant answers)',
    '           npm run simulate -- --kind comment --text "price?"     (example comment rule)',
    '  The example rules are in scripts/sandbox/example-rules.mjs; DM_RULES/COMMENT_RULES in .dev.vars replace them.',
    '  Stop:    Ctrl-C',
    '',
  ]
  console.log(lines.join('\n'))
} catch (err) {
  console.error(`Could not start the sandbox: ${err instanceof Error ? err.message : err}`)
  await shutdown(1)
}
