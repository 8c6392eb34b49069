/**
 * Starts the whole offline stack: the Graph API and LLM stand-ins on loopback, the real Worker
 * under `wrangler dev` (local mode, its own process group) wired to them with `--var`, and
 * optionally the inbox page. Shared by `npm start` and the end-to-end tests, so both run the same way.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGraphStandin, startLlmStandin, SANDBOX_IG_TOKEN, SANDBOX_INSTAGRAM_APP_ID, SANDBOX_INSTAGRAM_APP_SECRET } from './standins.mjs'
import { screenDevVars } from './dev-vars.mjs'
import { payloads } from './webhook-client.mjs'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Sandbox values for the secrets; they protect nothing and are printed freely. */
export const SANDBOX_SECRETS = {
  APP_SECRET: 'sandbox-app-secret',
  VERIFY_TOKEN: 'sandbox-verify-token',
  IG_ACCESS_TOKEN: SANDBOX_IG_TOKEN,
  OPENAI_API_KEY: 'sandbox-openai-key',
  ADMIN_TOKEN: 'sandbox-admin-token-not-a-secret',
}

const NAMES_FROM_PROCESS_ENV = [
  ...Object.keys(SANDBOX_SECRETS),
  'APP_SECRET_PREVIOUS', 'GRAPH_API_BASE', 'GRAPH_API_VERSION', 'OPENAI_BASE_URL', 'OPENAI_MODEL', 'IG_ACCOUNT_ID',
  'INSTAGRAM_APP_ID', 'INSTAGRAM_APP_SECRET', 'INSTAGRAM_AUTHORIZE_URL', 'INSTAGRAM_TOKEN_URL', 'HEALTHZ_TOKEN', 'LLM_PROVIDER',
]

/** Quick replies under the sandbox bot's answers (a tap on the second one asks for a person). */
export const SANDBOX_QUICK_REPLIES = 'Opening hours,Talk to a person'

/** Parses a .dev.vars / .env file: KEY=value lines, optional quotes, # comments. */
export function parseDotVars(text) {
  const out = {}
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line)
    if (!m) continue
    let v = m[2]
    if (/^(['"]).*\1$/.test(v)) v = v.slice(1, -1)
    else v = v.replace(/\s+#.*$/, '')
    out[m[1]] = v
  }
  return out
}

export function readDevVars(root = ROOT) {
  const p = join(root, '.dev.vars')
  if (!existsSync(p)) return {}
  const vars = parseDotVars(readFileSync(p, 'utf8'))
  for (const k of Object.keys(vars)) if (vars[k].trim() === '') delete vars[k]
  return vars
}

/**
 * A private env file holding these secrets: wrangler binds its keys as secrets (like .dev.vars),
 * and since it is the only env file given, no .dev.vars or .env on disk is read.
 */
function secretsEnvFile(secrets) {
  const dir = mkdtempSync(join(tmpdir(), 'igbot-env-'))
  const file = join(dir, 'secrets.env')
  const lines = Object.entries(secrets).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 })
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Names whose values are secrets: they never go on a command line. */
export function isSecretName(name) {
  return /SECRET|TOKEN|KEY|PASSWORD|CREDENTIAL/i.test(name)
}

/**
 * Splits the Worker's settings into what goes into the private env file (every secret: the
 * sandbox's own, those from .dev.vars, and secret-named --var values, which win) and the plain
 * settings that may go on the command line as --var.
 */
export function splitSecrets({ devVars, secretValues, vars }) {
  const fileValues = {}
  for (const [k, v] of Object.entries(devVars)) if (isSecretName(k)) fileValues[k] = v
  Object.assign(fileValues, secretValues)
  const cliVars = {}
  for (const [k, v] of Object.entries(vars)) {
    if (isSecretName(k)) fileValues[k] = v
    else cliVars[k] = v
  }
  return { fileValues, cliVars }
}

/** A free loopback TCP port (preferred one when it is free). */
export async function freePort(preferred = 0) {
  const tryPort = (port) =>
    new Promise((resolve) => {
      const srv = createServer()
      srv.once('error', () => resolve(null))
      srv.listen(port, '127.0.0.1', () => {
        const got = srv.address().port
        srv.close(() => resolve(got))
      })
    })
  if (preferred) {
    for (let p = preferred; p < preferred + 20; p++) {
      const got = await tryPort(p)
      if (got) return got
    }
  }
  return tryPort(0)
}

function killGroup(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      /* already gone */
    }
  }
}

/** Stops a detached child and everything in its process group; resolves when it has exited. */
export function stopProcessGroup(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      // workerd may outlive wrangler for a moment; make sure the group is gone.
      killGroup(child, 'SIGKILL')
      resolve()
    })
    killGroup(child, 'SIGTERM')
  })
}

async function waitForHealth(url, child, timeoutMs, output) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited early (code ${child.exitCode}):\n${output().slice(-4000)}`)
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
      // 503 with a JSON body is an answer too: the Worker is up but cannot send (the banner says why).
      if (res.status === 200 || res.status === 503) return await res.json()
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`wrangler dev did not answer /healthz within ${timeoutMs} ms:\n${output().slice(-4000)}`)
}

/**
 * Starts stand-ins + wrangler dev. Options:
 *  port (8787 preferred; 0 = any free), persistTo (dir), vars (extra --var values, e.g. RATE_LIMIT_BURST),
 *  which override everything else,
 *  useDevVars (true: honour .dev.vars for real LLM/Graph; false: ignore it completely, for tests),
 *  graph {latencyMs, failRate}, llm {latencyMs}, stdio ('inherit' | 'pipe'), readyTimeoutMs,
 *  config (another wrangler config file), script (another entry point for wrangler.toml),
 *  args (more `wrangler dev` arguments, e.g. `--minify=false` for a readable profile),
 *  traceCollector (false: without wrangler's local trace collector, see below).
 * Returns { workerUrl, inspectorPort, graph, llm, secrets, mode, child, output(), stop() }.
 */
export async function startStack(opts = {}) {
  const major = Number(process.versions.node.split('.')[0])
  if (major < 22) {
    throw new Error(
      `wrangler needs Node 22 or newer, this is ${process.version}. Run through npm (npm start / npm test), ` +
        'which uses the Node 22 in node_modules/.bin.'
    )
  }
  const root = opts.root ?? ROOT
  const screened = screenDevVars(opts.useDevVars === false ? {} : readDevVars(root))
  const devVars = screened.kept
  const realLlm = Boolean(devVars.OPENAI_API_KEY)
  const realGraph = Boolean(devVars.IG_ACCESS_TOKEN && devVars.GRAPH_API_BASE)
  const started = []
  const stopAll = async () => {
    for (const s of started.reverse()) await s().catch(() => {})
  }
  try {
    const accountId = (realGraph ? devVars.IG_ACCOUNT_ID : undefined) ?? payloads.DEFAULT_ACCOUNT_ID
    const graph = await startGraphStandin({ latencyMs: 50, accountId, ...opts.graph })
    started.push(() => graph.close())
    const llm = await startLlmStandin({ latencyMs: 0, ...opts.llm })
    started.push(() => llm.close())

    // Everything from .dev.vars, and the sandbox's own secrets, go to wrangler in one private env
    // file (bound like .dev.vars, which wrangler then does not read itself), never on a command
    // line. Only the sandbox's wiring to its stand-ins goes in --var (which takes precedence).
    const fileValues = { ...devVars }
    for (const [name, value] of Object.entries(SANDBOX_SECRETS)) if (!fileValues[name]) fileValues[name] = value
    const vars = {}
    // Chips the inbox page can show and tap, unless .dev.vars configures its own.
    if (!devVars.QUICK_REPLIES) fileValues.QUICK_REPLIES = SANDBOX_QUICK_REPLIES
    if (!realLlm) {
      fileValues.OPENAI_API_KEY = SANDBOX_SECRETS.OPENAI_API_KEY
      vars.OPENAI_BASE_URL = llm.baseUrl
      vars.OPENAI_MODEL = 'sandbox'
      vars.LLM_PROVIDER = 'openai'
    }
    if (!realGraph) {
      fileValues.IG_ACCESS_TOKEN = SANDBOX_SECRETS.IG_ACCESS_TOKEN
      // The connect page goes through the stand-in's Instagram Login too.
      fileValues.INSTAGRAM_APP_ID = SANDBOX_INSTAGRAM_APP_ID
      fileValues.INSTAGRAM_APP_SECRET = SANDBOX_INSTAGRAM_APP_SECRET
      vars.GRAPH_API_BASE = graph.url
      vars.IG_ACCOUNT_ID = accountId
      vars.INSTAGRAM_AUTHORIZE_URL = `${graph.url}/oauth/authorize`
      vars.INSTAGRAM_TOKEN_URL = `${graph.url}/oauth/access_token`
    }
    Object.assign(vars, opts.vars)
    const secrets = {
      APP_SECRET: vars.APP_SECRET ?? fileValues.APP_SECRET,
      VERIFY_TOKEN: vars.VERIFY_TOKEN ?? fileValues.VERIFY_TOKEN,
      ADMIN_TOKEN: vars.ADMIN_TOKEN ?? fileValues.ADMIN_TOKEN,
    }

    const port = opts.port === 0 ? await freePort() : await freePort(opts.port ?? 8787)
    const inspectorPort = await freePort()
    const args = [
      join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js'),
      'dev',
      '--local',
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--inspector-port', String(inspectorPort),
      '--show-interactive-dev-session=false',
      '--persist-to', opts.persistTo ?? join(root, '.wrangler', 'state'),
    ]
    // The bench runs other Workers (its yardstick, an instrumented entry) the same way.
    if (opts.config) args.push('--config', opts.config)
    if (opts.script) args.splice(2, 0, opts.script)
    if (opts.args) args.push(...opts.args)
    const env = { ...process.env }
    for (const k of NAMES_FROM_PROCESS_ENV) delete env[k]
    // Every secret goes in through the private env file, never as an argument (a command line
    // is visible to every user of the machine in `ps`): secret-named --var values too.
    const split = splitSecrets({ devVars: {}, secretValues: fileValues, vars })
    const envFile = secretsEnvFile(split.fileValues)
    started.push(async () => envFile.remove())
    args.push('--env-file', envFile.file)
    for (const [k, v] of Object.entries(split.cliVars)) args.push('--var', `${k}:${v}`)
    // wrangler dev attaches a local trace collector to the Worker (for its local explorer): every
    // span (each fetch, object call and SQL statement) is written to the collector's own SQLite
    // object inside the same workerd. Tests and the bench turn it off: its CPU grows with every
    // unit the Worker uses, and on Cloudflare tracing is not the Worker's CPU.
    if (opts.traceCollector === false) env.X_LOCAL_OBSERVABILITY = 'false'
    Object.assign(env, {
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    })
    const child = spawn(process.execPath, args, {
      cwd: root,
      env,
      detached: true,
      stdio: opts.stdio === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const onData = (d) => {
      out += d.toString()
      if (out.length > 200_000) out = out.slice(-100_000)
      opts.onOutput?.(d.toString())
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    started.push(() => stopProcessGroup(child))
    const workerUrl = `http://127.0.0.1:${port}`
    const health = await waitForHealth(workerUrl, child, opts.readyTimeoutMs ?? 60000, () => out)
    return {
      workerUrl,
      webhookUrl: `${workerUrl}/webhook`,
      inspectorPort,
      graph,
      llm,
      secrets,
      accountId,
      health,
      mode: { realLlm, realGraph },
      ignoredDevVars: screened.ignored,
      adminIsSandbox: secrets.ADMIN_TOKEN === SANDBOX_SECRETS.ADMIN_TOKEN,
      child,
      output: () => out,
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
