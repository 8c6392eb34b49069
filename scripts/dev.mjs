/**
 * `npm run dev`: plain `wrangler dev` (real services, settings from .dev.vars), preceded by a
 * check of the settings it would start with, so a missing one is named at startup rather than
 * by the first webhook's 503. Names only, never values. Uses wrangler's default local state
 * (.wrangler/state), which `npm start` does not touch.
 * The check is the Worker's own: src/core/config.ts, bundled with esbuild (wrangler's bundler)
 * into .wrangler/tmp for Node.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildSync } from 'esbuild'
import { parseDotVars, readDevVars, ROOT } from './sandbox/sandbox.mjs'

async function loadReadConfig() {
  const outfile = join(ROOT, '.wrangler', 'tmp', 'dev-config.mjs')
  buildSync({ entryPoints: [join(ROOT, 'src', 'core', 'config.ts')], bundle: true, format: 'esm', platform: 'node', outfile, logLevel: 'silent' })
  return (await import(pathToFileURL(outfile).href)).readConfig
}

/** The [vars] table of wrangler.toml: KEY = "value" lines (all this project uses). */
export function tomlVars(text) {
  const out = {}
  let inVars = false
  for (const line of text.split(/\r?\n/)) {
    const header = /^\s*\[+([^\]]+)\]+\s*$/.exec(line)
    if (header) {
      inVars = header[1].trim() === 'vars'
      continue
    }
    if (inVars) Object.assign(out, parseDotVars(line.replace(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/, '$1=')))
  }
  return out
}

export async function settingsReport(env) {
  const cfg = (await loadReadConfig())(env)
  if (cfg.ok) return { ok: true, lines: ['Settings: all required settings are present.'] }
  const lines = []
  if (cfg.missing.length) lines.push(`Missing settings: ${cfg.missing.join(', ')}`)
  if (cfg.invalid.length) lines.push(`Invalid settings: ${cfg.invalid.join(', ')}`)
  lines.push(
    existsSync(join(ROOT, '.dev.vars'))
      ? 'Add them to .dev.vars (every setting is described in .dev.vars.example). Until then webhooks get 503 and /healthz names them.'
      : 'No .dev.vars yet: copy .dev.vars.example to .dev.vars and fill it in. Until then webhooks get 503 and /healthz names them.'
  )
  lines.push('For a sandbox that needs no credentials, run `npm start` instead.')
  return { ok: false, lines }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const env = { ...tomlVars(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')), ...readDevVars() }
  const report = await settingsReport(env)
  for (const line of report.lines) (report.ok ? console.log : console.warn)(line)
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'dev', ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
}
