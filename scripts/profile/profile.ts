/**
 * `npm run profile -- --url <GRAPH_API_BASE> [--dry-run] [--check] [--account ID] [--version v25.0]`
 * Applies the conversation starters (ICE_BREAKERS, PERSISTENT_MENU) to the Instagram account with
 * the messenger_profile edge. Settings come from the environment, then .dev.vars. `--dry-run`
 * prints the request and sends nothing; `--check` shows what differs from what Meta returns.
 * The token is sent as a bearer header and never printed.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { iceBreakersSchema, jsonSetting, persistentMenuSchema, profileDiff, profileRequests, type Profile } from '../../src/core/profile.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const USAGE = 'Usage: npm run profile -- --url <GRAPH_API_BASE> [--dry-run] [--check] [--account IG_ACCOUNT_ID] [--version v25.0]'

function fail(message: string): never {
  console.error(message)
  process.exit(1)
}

/** KEY=value lines, optional quotes, # comments (the subset .dev.vars uses). */
function parseDotVars(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line)
    if (!m || line.trim().startsWith('#')) continue
    let v = m[2]!
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1)
    out[m[1]!] = v
  }
  return out
}

let args: { url?: string; 'dry-run'?: boolean; check?: boolean; account?: string; version?: string; help?: boolean }
try {
  args = parseArgs({
    options: {
      url: { type: 'string' },
      'dry-run': { type: 'boolean' },
      check: { type: 'boolean' },
      account: { type: 'string' },
      version: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`)
}
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
if (!args.url || !/^https?:\/\//.test(args.url)) fail(`--url must be the Graph API base, e.g. https://graph.instagram.com\n${USAGE}`)

const devVarsPath = join(ROOT, '.dev.vars')
const settings: Record<string, string | undefined> = {
  ...(existsSync(devVarsPath) ? parseDotVars(readFileSync(devVarsPath, 'utf8')) : {}),
  ...Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== '')),
}

const problems: string[] = []
const read = <T>(name: string, schema: Parameters<typeof jsonSetting>[0]): T | undefined => {
  const r = jsonSetting(schema).safeParse(settings[name])
  if (!r.success) {
    problems.push(`${name} (${r.error.issues[0]?.message ?? 'invalid'})`)
    return undefined
  }
  return r.data as T | undefined
}
const profile: Profile = {}
const iceBreakers = read<Profile['iceBreakers']>('ICE_BREAKERS', iceBreakersSchema)
const menu = read<Profile['persistentMenu']>('PERSISTENT_MENU', persistentMenuSchema)
if (iceBreakers) profile.iceBreakers = iceBreakers
if (menu) profile.persistentMenu = menu
if (problems.length) fail(`configuration error: invalid: ${problems.join(', ')}`)
if (!profile.iceBreakers && !profile.persistentMenu) fail('Nothing to apply: set ICE_BREAKERS and/or PERSISTENT_MENU (README "Conversation starters").')

let requests: ReturnType<typeof profileRequests>
try {
  requests = profileRequests(profile, {
    base: args.url,
    version: args.version ?? settings.GRAPH_API_VERSION ?? 'v25.0',
    accountId: args.account ?? settings.IG_ACCOUNT_ID ?? 'me',
  })
} catch (err) {
  fail((err as Error).message)
}

if (args['dry-run']) {
  console.log(`${requests.apply.method} ${requests.apply.url}`)
  console.log(JSON.stringify(requests.apply.body, null, 2))
  process.exit(0)
}

const token = settings.IG_ACCESS_TOKEN
if (!token) fail('IG_ACCESS_TOKEN is not set (environment or .dev.vars).')
const headers = { authorization: `Bearer ${token}`, accept: 'application/json' }

async function call(req: { method: string; url: string; body?: unknown }): Promise<unknown> {
  const res = await fetch(req.url, {
    method: req.method,
    headers: req.body ? { ...headers, 'content-type': 'application/json' } : headers,
    ...(req.body ? { body: JSON.stringify(req.body) } : {}),
    signal: AbortSignal.timeout(15_000),
  })
  const text = await res.text()
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    data = undefined
  }
  if (!res.ok) {
    const e = (data as { error?: { message?: unknown; code?: unknown } } | undefined)?.error
    const message = typeof e?.message === 'string' ? e.message.split(token!).join('[redacted]').slice(0, 300) : `HTTP ${res.status}`
    fail(`${req.method} messenger_profile failed: ${message}${e?.code !== undefined ? ` (code ${String(e.code)})` : ''}`)
  }
  return data
}

if (args.check) {
  const diff = profileDiff(profile, await call(requests.read))
  if (!diff.length) console.log('In sync: Meta has the configured ice breakers and menu.')
  else for (const line of diff) console.log(line)
  process.exit(diff.length ? 2 : 0)
}

await call(requests.apply)
console.log(`Applied: ${[profile.iceBreakers ? 'ice breakers' : '', profile.persistentMenu ? 'persistent menu' : ''].filter(Boolean).join(' and ')}.`)
